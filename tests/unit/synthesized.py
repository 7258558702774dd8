"""A read-only view of one synthesized stack (cdk.tf.json) for assertions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cdktf import (
    DefaultTokenResolver,
    StringConcat,
    TerraformDataSource,
    TerraformResource,
    TerraformStack,
    Tokenization,
)
from constructs import Construct


class Synthesized:
    """The parsed JSON and its text, the stack object that produced it, and (for a whole-stack
    synth) the stack folder with the assets."""

    def __init__(self, text: str, stack: TerraformStack, stack_dir: Path | None = None):
        self._text: str | None = text
        self.json = json.loads(text)
        self.stack = stack
        self.stack_dir = stack_dir

    @classmethod
    def from_blocks(cls, blocks: dict, stack: TerraformStack, stack_dir: Path | None = None) -> Synthesized:
        """Already parsed JSON; its text is written only when asked for."""
        synthesized = cls.__new__(cls)
        synthesized._text, synthesized.json, synthesized.stack, synthesized.stack_dir = None, blocks, stack, stack_dir
        return synthesized

    @classmethod
    def from_stack_dir(cls, stack: TerraformStack, stack_dir: Path) -> Synthesized:
        return cls((stack_dir / "cdk.tf.json").read_text(), stack, stack_dir)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.json, indent=2)
        return self._text

    def top_level_owners(self) -> dict[tuple[str, str, str], str]:
        """(section, type, logical id) -> the id of the stack's child that holds the block, from the
        stack's own Terraform JSON, which (unlike Testing.synth's) carries each block's construct path."""
        owners = {}
        full = self.stack.to_terraform()
        for section in ("resource", "data"):
            for block_type, blocks in full.get(section, {}).items():
                for name, block in blocks.items():
                    owners[(section, block_type, name)] = block["//"]["metadata"]["path"].split("/")[1]
        return owners

    def without(self, construct_ids: Iterable[str], owners: dict[tuple[str, str, str], str]) -> Synthesized:
        """This synth without the resources and data sources held by the stack's children of these ids
        (owners: from top_level_owners). The same stack object, so `body`, `ref` and `address` still work
        for what is left."""
        left_out = set(construct_ids)
        kept = dict(self.json)
        for section in ("resource", "data"):
            kept_section = {}
            for block_type, blocks in self.json.get(section, {}).items():
                kept_blocks = {
                    name: block for name, block in blocks.items() if owners[(section, block_type, name)] not in left_out
                }
                if kept_blocks:
                    kept_section[block_type] = kept_blocks
            if section in kept:
                kept[section] = kept_section
        return Synthesized.from_blocks(kept, self.stack, self.stack_dir)

    def resources(self, resource_type: str) -> dict[str, dict]:
        return self.json.get("resource", {}).get(resource_type, {})

    def one(self, resource_type: str) -> dict:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def body(self, element: TerraformResource | TerraformDataSource) -> dict:
        """The synthesized block of a resource (or data source) built in this stack."""
        section = "data" if isinstance(element, TerraformDataSource) else "resource"
        return self.json[section][element.terraform_resource_type][self.stack.get_logical_id(element)]

    def of(self, construct: Construct, resource_type: str) -> list[dict]:
        """The synthesized blocks of every resource of that type inside construct."""
        return [
            self.body(element)
            for element in construct.node.find_all()
            if isinstance(element, TerraformResource | TerraformDataSource)
            and element.terraform_resource_type == resource_type
        ]

    def address(self, element: TerraformResource | TerraformDataSource) -> str:
        """`type.logical_id`, as depends_on and moved blocks name a resource."""
        return f"{element.terraform_resource_type}.{self.stack.get_logical_id(element)}"

    def one_of(self, construct: Construct, resource_type: str) -> dict:
        found = self.of(construct, resource_type)
        assert len(found) == 1, f"expected one {resource_type} in {construct.node.path}, found {len(found)}"
        return found[0]

    def ref(self, value: object) -> object:
        """A value holding tokens (e.g. `network.vpc.id`) as the synthesized JSON writes it: `${aws_vpc.<name>.id}`."""
        return Tokenization.resolve(
            value, scope=self.stack, resolver=DefaultTokenResolver(StringConcat()), preparing=False
        )

    def data(self, data_type: str) -> dict[str, dict]:
        return self.json.get("data", {}).get(data_type, {})

    def principal_ref(self, service: str, attribute: str = "name") -> str:
        """The interpolation of the aws_service_principal data source for service."""
        [name] = [key for key, body in self.data("aws_service_principal").items() if body["service_name"] == service]
        return f"${{data.aws_service_principal.{name}.{attribute}}}"

    @property
    def outputs(self) -> dict[str, dict]:
        return self.json.get("output", {})

    def output(self, name: str) -> object:
        return self.outputs[name]["value"]
