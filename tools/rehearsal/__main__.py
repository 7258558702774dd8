"""python -m tools.rehearsal [--reuse] [--bench] [options]: see tools/rehearsal/__init__.py.

Exit codes: 0 every invariant held; 1 an invariant failed; 2 the rehearsal could not be carried out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from tools.rehearsal import deployment as deployments
from tools.rehearsal import ledger, report
from tools.rehearsal.drive import RehearsalError
from tools.rehearsal.run import Options, Rehearsal
from tools.stack import PROJECT_ROOT

BENCH = Options(rate=40.0, clients=8, aurora_dwell=10.0, legacy_dwell=10.0, throughput_seconds=30.0)


def log(message: str) -> None:
    print(f"rehearsal: {message}", flush=True)


def parse(argv: list[str]) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="rehearse on the deployment the environment names (e2e's), and leave it deployed",
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="the long rehearsal of `make bench`: more load, and the throughput through the ALB",
    )
    parser.add_argument("--rate", type=float, help="requests per second of all clients together")
    parser.add_argument("--clients", type=int, help="client threads, each with its own resolver")
    parser.add_argument(
        "--seed-rows",
        type=int,
        default=2000,
        help="legacy payments the on-premises stand-in starts with (fresh deployment only)",
    )
    parser.add_argument("--report-dir", type=Path, default=PROJECT_ROOT / "rehearsal")
    arguments = parser.parse_args(argv)
    options = dataclasses.replace(BENCH if arguments.bench else Options(), report_dir=arguments.report_dir)
    if arguments.rate is not None:
        options = dataclasses.replace(options, rate=arguments.rate)
    if arguments.clients is not None:
        options = dataclasses.replace(options, clients=arguments.clients)
    if options.rate <= 0 or options.clients < 1:
        parser.error("--rate must be above 0 and --clients at least 1")
    return arguments, options


def finish(rehearsal: Rehearsal, options: Options, settings: dict) -> report.Figures:
    """The ledger against both databases, the figures and the report."""
    legacy = ledger.legacy_rows(rehearsal.legacy.connect)
    aurora = rehearsal.aurora_rows()
    record = rehearsal.record
    missing_at_end = ledger.missing(record.ledger, legacy)
    duplicates = ledger.duplicate_charges(legacy, aurora)
    twice = ledger.acknowledged_twice(record.ledger)
    figures = report.figures(
        record,
        rehearsal.transitions,
        duplicates=duplicates,
        twice=twice,
        missing_at_end=missing_at_end,
        throughput=rehearsal.throughput,
    )
    problems = (
        rehearsal.problems
        + [f"missing after {t.name}: {m}" for t in rehearsal.transitions for m in t.missing_after]
        + [f"missing from legacy at the end: {m}" for m in missing_at_end]
        + [f"duplicate charge: {d}" for d in duplicates]
        + [f"acknowledged twice: {t}" for t in twice]
        + [f"failed after retries: {f.method} {f.detail}" for f in record.failures]
    )
    options.report_dir.mkdir(parents=True, exist_ok=True)
    chart = None
    try:
        report.render_chart(
            options.report_dir / report.CHART_NAME,
            rehearsal.samples,
            record.attempts,
            rehearsal.events,
            rehearsal.transitions,
        )
        chart = report.CHART_NAME
    except Exception as error:  # the figures stand without the picture
        problems.append(f"chart not drawn: {type(error).__name__}: {error}")
    (options.report_dir / "figures.json").write_text(
        json.dumps(
            {
                **dataclasses.asdict(figures),
                "passed": figures.passed,
                "invariants": [
                    {"name": name, "measured": measured, "held": held} for name, measured, held in figures.invariants()
                ],
            },
            indent=2,
        )
        + "\n"
    )
    (options.report_dir / "report.md").write_text(
        report.render_markdown(
            figures=figures,
            transitions=rehearsal.transitions,
            events=rehearsal.events,
            settings=settings,
            problems=problems,
            chart=chart,
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    arguments, options = parse(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    deployment = None
    try:
        deployment = deployments.existing() if arguments.reuse else deployments.deploy_fresh(arguments.seed_rows)
    except deployments.DeployFailed as failed:
        deployments.tear_down(failed.deployment)
        log("the deployment failed; nothing was rehearsed")
        return 2
    rehearsal = None
    exit_code = 2
    try:
        rehearsal = Rehearsal(deployment, options, log)
        try:
            rehearsal.run()
        except RehearsalError as error:
            rehearsal.problems.append(f"the rehearsal stopped early: {error}")
            log(f"stopped early: {error}")
        settings = {
            **{
                field.name: getattr(options, field.name)
                for field in dataclasses.fields(options)
                if field.name != "report_dir"
            },
            "deployment": "reused (e2e)" if arguments.reuse else f"fresh, {arguments.seed_rows} seed rows",
            "stack": deployment.settings.stack_name,
        }
        figures = finish(rehearsal, options, settings)
        stopped_early = any(problem.startswith("the rehearsal stopped early") for problem in rehearsal.problems)
        for line in report.summary_lines(figures):
            log(line)
        for name, measured, held in figures.invariants():
            log(f"{'PASS' if held else 'FAIL'}  {name}: {measured}")
        exit_code = 2 if stopped_early else 0 if figures.passed else 1
        report_file = options.report_dir / "report.md"
        shown = report_file.relative_to(PROJECT_ROOT) if report_file.is_relative_to(PROJECT_ROOT) else report_file
        log(f"report: {shown}")
    except RehearsalError as error:
        log(f"could not rehearse: {error}")
    finally:
        if rehearsal is not None:
            rehearsal.close()
        if deployment.fresh and not deployments.tear_down(deployment):
            log("tearing the rehearsal's deployment down failed")
            exit_code = exit_code or 2
    log(f"{['passed', 'FAILED', 'could not finish'][min(exit_code, 2)]} in {time.monotonic() - started:.0f} s")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
