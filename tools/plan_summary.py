"""Summarise a Terraform plan as Markdown for pull-request review.

Usage:
    terraform show -json tfplan > plan.json
    python -m tools.plan_summary --plan-json plan.json \\
        [--synth-json cdktf.out/stacks/TapStackdev/cdk.tf.json] --out plan-summary.md

The summary has the totals per action, one table per cdktf construct with the
attributes each resource changes, and a DANGER section for every stateful or
traffic-carrying resource that the plan deletes or replaces (creates are never DANGER). A changed
attribute shows old -> new when both are known scalars; values of sensitive attributes (Terraform's
before_sensitive/after_sensitive, or a secret-like name) are never written.

`--note TEXT` adds a line under the title (repeatable); `--accept-danger REASON`
keeps the DANGER section, says who accepted it, and exits 0.

Exit codes:
    0  summary written, no stateful or traffic resource is deleted or replaced (or DANGER accepted)
    2  bad input: missing or unreadable file, not a `terraform show -json` plan
    3  summary written, and it has a DANGER section
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_DANGER = 3

# Resource types whose delete or replace loses data or state that a re-create cannot
# give back, or interrupts the API or the replication (each line says which).
# Left out on purpose: aws_dms_replication_subnet_group (network placement only).
STATEFUL_RESOURCE_TYPES = frozenset(
    {
        "aws_rds_cluster",  # the database
        "aws_rds_cluster_instance",  # replacing the writer fails over: an outage for the API
        "aws_db_instance",  # a non-Aurora database
        "aws_dms_replication_instance",  # its storage holds cached changes and task logs
        "aws_dms_replication_task",  # holds the full-load progress and CDC checkpoint
        "aws_dms_endpoint",  # replacing one stops the task that uses it
        "aws_kms_key",  # data encrypted under a deleted key can never be read again
        "aws_secretsmanager_secret",  # the credentials themselves
        "aws_route53_zone",  # a new zone gets new name servers; records outside Terraform are lost
        "aws_s3_bucket",  # the objects
        "aws_cloudwatch_log_group",  # the logs, including audit trails
        "aws_ssm_parameter",  # the cutover state: a re-create writes the first state again, whatever the routing
    }
)

# Resource types that carry the API's traffic: deleting or replacing one drops requests, or undoes the
# routing the cutover set at run time (weights, the write rule's target; docs/cutover.md), while it is
# gone or re-created from its Terraform value. Creating one is safe: nothing routes through it yet.
TRAFFIC_RESOURCE_TYPES = frozenset(
    {
        "aws_route53_record",  # the weighted records clients resolve
        "aws_route53_health_check",  # the legacy health check (alerts)
        "aws_lb",
        "aws_alb",  # a new load balancer has a new DNS name: the alias and clients lose it
        "aws_lb_listener",
        "aws_alb_listener",  # the port clients connect to
        "aws_lb_listener_rule",
        "aws_alb_listener_rule",  # the write rule: writes go to the current writer
        "aws_lb_target_group",
        "aws_alb_target_group",  # the API's and the legacy system's targets
        "aws_lb_target_group_attachment",
        "aws_alb_target_group_attachment",  # the targets themselves
    }
)
DANGER_STATEFUL = "stateful"
DANGER_TRAFFIC = "traffic"

ACTION_CREATE = "create"
ACTION_UPDATE = "update"
ACTION_REPLACE = "replace"
ACTION_DELETE = "delete"
ACTION_FORGET = "forget"
ACTION_NO_OP = "no-op/read"
ACTIONS_IN_REPORT_ORDER = (
    ACTION_CREATE,
    ACTION_UPDATE,
    ACTION_REPLACE,
    ACTION_DELETE,
    ACTION_FORGET,
    ACTION_NO_OP,
)

_ACTION_BY_TERRAFORM_ACTIONS = {
    ("create",): ACTION_CREATE,
    ("update",): ACTION_UPDATE,
    ("delete", "create"): ACTION_REPLACE,
    ("create", "delete"): ACTION_REPLACE,
    ("delete",): ACTION_DELETE,
    ("forget",): ACTION_FORGET,
    ("no-op",): ACTION_NO_OP,
    ("read",): ACTION_NO_OP,
}

TOP_LEVEL_GROUP = "(top level)"
# Attribute names whose values are never written, whatever the plan marks sensitive.
SECRET_NAME = re.compile(r"password|secret|token|private_key|passphrase|credential|key_material|psk", re.IGNORECASE)
MAX_VALUE_CHARS = 60


class PlanInputError(Exception):
    """The input is not something this tool can summarise."""


@dataclass(frozen=True)
class AttributeChange:
    name: str
    forces_replacement: bool
    known_after_apply: bool
    sensitive: bool = False
    old: str | None = None  # rendered value, only for a known, non-sensitive scalar
    new: str | None = None


@dataclass(frozen=True)
class ResourceChange:
    address: str
    mode: str
    resource_type: str
    name: str
    module_address: str | None
    action: str
    attributes: tuple[AttributeChange, ...]
    action_reason: str | None

    @property
    def danger(self) -> str | None:
        """Why deleting or replacing it is DANGER (stateful, traffic), or None."""
        if self.action not in (ACTION_REPLACE, ACTION_DELETE):
            return None
        if self.resource_type in STATEFUL_RESOURCE_TYPES:
            return DANGER_STATEFUL
        if self.resource_type in TRAFFIC_RESOURCE_TYPES:
            return DANGER_TRAFFIC
        return None

    @property
    def is_dangerous(self) -> bool:
        return self.danger is not None


# ---------------------------------------------------------------- parsing


def load_json_file(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PlanInputError(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanInputError(f"{what} {path} is not valid JSON: {error}") from None


def classify_actions(actions: Iterable[str]) -> str:
    key = tuple(actions)
    if key not in _ACTION_BY_TERRAFORM_ACTIONS:
        raise PlanInputError(f"unknown Terraform actions {list(key)}")
    return _ACTION_BY_TERRAFORM_ACTIONS[key]


def _contains_unknown(after_unknown_value: Any) -> bool:
    """after_unknown mirrors the value's shape, with true at each unknown leaf."""
    if after_unknown_value is True:
        return True
    if isinstance(after_unknown_value, Mapping):
        return any(_contains_unknown(v) for v in after_unknown_value.values())
    if isinstance(after_unknown_value, list):
        return any(_contains_unknown(v) for v in after_unknown_value)
    return False


def _as_object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _marks_sensitive(mask: Any, key: str) -> bool:
    """before_sensitive/after_sensitive: true for a wholly sensitive value, else the value's shape."""
    if mask is True:
        return True
    return _contains_unknown(_as_object(mask).get(key))  # same shape rule: any true leaf


def is_sensitive(change: Mapping[str, Any], key: str) -> bool:
    return bool(SECRET_NAME.search(key)) or any(
        _marks_sensitive(change.get(side), key) for side in ("before_sensitive", "after_sensitive")
    )


def render_value(value: Any) -> str | None:
    """A scalar as it reads in Terraform (JSON), shortened; None for lists, maps and blocks."""
    if isinstance(value, (list, dict)):
        return None
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _old_and_new(
    before: Mapping[str, Any], after: Mapping[str, Any], key: str, hidden: bool
) -> tuple[str | None, str | None]:
    if hidden:
        return None, None
    old = render_value(before.get(key))
    new = render_value(after.get(key))
    return (old, new) if old is not None and new is not None else (None, None)


def attribute_changes(change: Mapping[str, Any]) -> tuple[AttributeChange, ...]:
    """Top-level attributes whose value differs, is unknown, or forces replacement."""
    before = _as_object(change.get("before"))
    after = _as_object(change.get("after"))
    unknown = {key for key, value in _as_object(change.get("after_unknown")).items() if _contains_unknown(value)}
    replacing = {path[0] for path in change.get("replace_paths") or [] if path and isinstance(path[0], str)}
    differing = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    changes = []
    for key in sorted(differing | unknown | replacing):
        sensitive = is_sensitive(change, key)
        old, new = _old_and_new(before, after, key, hidden=sensitive or key in unknown)
        changes.append(
            AttributeChange(
                name=key,
                forces_replacement=key in replacing,
                known_after_apply=key in unknown,
                sensitive=sensitive,
                old=old,
                new=new,
            )
        )
    return tuple(changes)


def _require(entry: Mapping[str, Any], key: str, index: int) -> Any:
    if key not in entry:
        raise PlanInputError(f"resource_changes[{index}] has no '{key}'")
    return entry[key]


def parse_resource_change(entry: Any, index: int) -> ResourceChange:
    if not isinstance(entry, Mapping):
        raise PlanInputError(f"resource_changes[{index}] is not an object")
    change = _require(entry, "change", index)
    if not isinstance(change, Mapping) or not isinstance(change.get("actions"), list):
        raise PlanInputError(f"resource_changes[{index}].change has no 'actions' list")
    return ResourceChange(
        address=_require(entry, "address", index),
        mode=entry.get("mode", "managed"),
        resource_type=_require(entry, "type", index),
        name=_require(entry, "name", index),
        module_address=entry.get("module_address"),
        action=classify_actions(change["actions"]),
        attributes=attribute_changes(change),
        action_reason=entry.get("action_reason"),
    )


def parse_plan(plan: Any) -> list[ResourceChange]:
    # A state file from `terraform show -json` also has format_version, but
    # neither of these keys; an empty plan has planned_values only.
    if not isinstance(plan, Mapping) or "format_version" not in plan:
        raise PlanInputError("not a `terraform show -json` document (no format_version)")
    if "planned_values" not in plan and "resource_changes" not in plan:
        raise PlanInputError("not a plan: `terraform show -json` was given a state, not a plan file")
    entries = plan.get("resource_changes") or []
    if not isinstance(entries, list):
        raise PlanInputError("resource_changes is not a list")
    changes = [parse_resource_change(entry, index) for index, entry in enumerate(entries)]
    return sorted(changes, key=lambda c: c.address)


# ---------------------------------------------------------- construct groups

ConstructIndex = Mapping[tuple[str, str, str], str]
_SYNTH_SECTIONS = {"resource": "managed", "data": "data"}


def construct_from_path(construct_path: str) -> str:
    """'TapStackdev/network/vpc' -> 'network'; a resource right in the stack -> top level."""
    segments = construct_path.split("/")
    return segments[1] if len(segments) > 2 else TOP_LEVEL_GROUP


def construct_index_from_synth(synth: Any) -> dict[tuple[str, str, str], str]:
    """Maps (mode, type, name) to the construct from cdktf's `//` metadata."""
    if not isinstance(synth, Mapping):
        raise PlanInputError("synth JSON is not an object")
    index: dict[tuple[str, str, str], str] = {}
    for section, mode in _SYNTH_SECTIONS.items():
        for resource_type, resources in _as_object(synth.get(section)).items():
            for name, body in _as_object(resources).items():
                metadata = _as_object(_as_object(_as_object(body).get("//")).get("metadata"))
                if isinstance(metadata.get("path"), str):
                    index[(mode, resource_type, name)] = construct_from_path(metadata["path"])
    return index


def construct_from_name(name: str) -> str:
    """cdktf names look like 'network_vpc_1A2B3C4D'; the part before '_' is the construct."""
    prefix, separator, _ = name.partition("_")
    return prefix if separator else TOP_LEVEL_GROUP


def construct_of(change: ResourceChange, index: ConstructIndex) -> str:
    key = (change.mode, change.resource_type, change.name)
    if key in index:
        return index[key]
    if change.module_address:
        return change.module_address
    return construct_from_name(change.name)


# ---------------------------------------------------------------- rendering


def count_actions(changes: Iterable[ResourceChange]) -> dict[str, int]:
    counts = Counter(change.action for change in changes)
    return {action: counts.get(action, 0) for action in ACTIONS_IN_REPORT_ORDER}


def has_changes(changes: Iterable[ResourceChange]) -> bool:
    return any(change.action != ACTION_NO_OP for change in changes)


def dangerous_changes(changes: Iterable[ResourceChange]) -> list[ResourceChange]:
    return sorted((c for c in changes if c.is_dangerous), key=lambda c: c.address)


def group_by_construct(changes: Iterable[ResourceChange], index: ConstructIndex) -> dict[str, list[ResourceChange]]:
    groups: dict[str, list[ResourceChange]] = {}
    for change in changes:
        if change.action != ACTION_NO_OP:
            groups.setdefault(construct_of(change, index), []).append(change)
    return {group: sorted(groups[group], key=lambda c: c.address) for group in sorted(groups)}


def _code(text: str) -> str:
    # A backtick would end the code span early; values are shown, so they may hold one.
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_attribute(attribute: AttributeChange) -> str:
    notes = []
    if attribute.forces_replacement:
        notes.append("forces replacement")
    if attribute.known_after_apply:
        notes.append("known after apply")
    if attribute.sensitive:
        notes.append("sensitive, value hidden")
    text = _code(attribute.name)
    if attribute.old is not None and attribute.new is not None:
        text += f": {_code(attribute.old)} → {_code(attribute.new)}"
    return text + (f" ({', '.join(notes)})" if notes else "")


def render_attributes_cell(change: ResourceChange) -> str:
    # Every attribute of a created or deleted resource changes; listing them is noise.
    if change.action == ACTION_CREATE:
        return "all (new resource)"
    if change.action == ACTION_DELETE:
        return "all (resource destroyed)"
    if not change.attributes:
        return "—"
    return ", ".join(render_attribute(attribute) for attribute in change.attributes)


def render_totals(changes: list[ResourceChange]) -> list[str]:
    lines = ["## Totals", "", "| Action | Count |", "| --- | ---: |"]
    lines += [f"| {action} | {count} |" for action, count in count_actions(changes).items()]
    return lines


def render_danger(danger: list[ResourceChange]) -> list[str]:
    lines = [
        "## DANGER: stateful or traffic-carrying resources deleted or replaced",
        "",
        "These resources hold data (stateful) or carry the API's traffic (traffic); the plan destroys them. "
        "Check that this is intended.",
        "",
    ]
    for change in danger:
        reason = ", ".join(_code(a.name) for a in change.attributes if a.forces_replacement)
        detail = f"forced by {reason}" if reason else (change.action_reason or "")
        lines.append(
            f"- **{change.action}** ({change.danger}) {_code(change.address)}" + (f" ({detail})" if detail else "")
        )
    return lines


def render_construct_tables(groups: Mapping[str, list[ResourceChange]]) -> list[str]:
    lines = ["## Changes by construct"]
    for group, changes in groups.items():
        lines += [
            "",
            f"### {_code(group)}",
            "",
            "| Address | Action | Changed attributes |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {_code(c.address)} | {c.action} | {render_attributes_cell(c)} |" for c in changes]
    return lines


def render_summary(
    changes: list[ResourceChange],
    index: ConstructIndex,
    terraform_version: str,
    *,
    notes: Iterable[str] = (),
    danger_accepted_by: str | None = None,
) -> str:
    lines = ["# Terraform plan summary", "", f"Terraform {terraform_version}", ""]
    lines += [line for note in notes for line in (note, "")]
    danger = dangerous_changes(changes)
    if danger:
        lines += render_danger(danger)
        if danger_accepted_by:
            lines += ["", f"**Accepted**: {danger_accepted_by}."]
        lines += [""]
    lines += render_totals(changes)
    if not has_changes(changes):
        return "\n".join(lines + ["", "No changes.", ""])
    lines += [""] + render_construct_tables(group_by_construct(changes, index))
    return "\n".join(lines + [""])


# ---------------------------------------------------------------------- CLI


def build_argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_summary",
        description="Write a Markdown summary of a Terraform plan (terraform show -json).",
        epilog="exit codes:\n  0  no stateful or traffic resource is deleted or replaced\n  2  bad input\n"
        "  3  a stateful or traffic resource is deleted or replaced (see the DANGER section)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plan-json", required=True, type=Path, help="output of `terraform show -json PLANFILE`")
    parser.add_argument("--synth-json", type=Path, help="cdktf's cdk.tf.json, to group resources by construct")
    parser.add_argument("--out", required=True, type=Path, help="Markdown file to write")
    parser.add_argument("--note", action="append", default=[], help="a line under the title (repeatable)")
    parser.add_argument(
        "--accept-danger",
        metavar="REASON",
        help="keep the DANGER section, record who accepted it, and exit 0",
    )
    return parser


def summarise(
    plan_path: Path,
    synth_path: Path | None,
    out_path: Path,
    *,
    notes: Iterable[str] = (),
    danger_accepted_by: str | None = None,
) -> int:
    """Writes the summary; EXIT_DANGER when it has a DANGER section nobody accepted."""
    plan = load_json_file(plan_path, "plan JSON")
    changes = parse_plan(plan)
    index = construct_index_from_synth(load_json_file(synth_path, "synth JSON")) if synth_path else {}
    markdown = render_summary(
        changes,
        index,
        str(plan.get("terraform_version", "unknown")),
        notes=notes,
        danger_accepted_by=danger_accepted_by,
    )
    try:
        out_path.write_text(markdown, encoding="utf-8")
    except OSError as error:
        raise PlanInputError(f"cannot write {out_path}: {error.strerror or error}") from None
    return EXIT_DANGER if dangerous_changes(changes) and not danger_accepted_by else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments = build_argument_parser().parse_args(argv)
    try:
        exit_code = summarise(
            arguments.plan_json,
            arguments.synth_json,
            arguments.out,
            notes=arguments.note,
            danger_accepted_by=arguments.accept_danger,
        )
    except PlanInputError as error:
        print(f"plan_summary: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if exit_code == EXIT_DANGER:
        print(
            f"plan_summary: DANGER: stateful or traffic resources deleted or replaced, see {arguments.out}",
            file=sys.stderr,
        )
    elif arguments.accept_danger and "## DANGER" in arguments.out.read_text(encoding="utf-8"):
        print(f"plan_summary: DANGER accepted ({arguments.accept_danger})", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
