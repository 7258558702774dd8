"""Synthesizes each settings profile once per test session and hands out the parsed JSON.

Loading the provider's jsii assembly dominates synth time, so every profile, and every
construct test's bare stack, is synthesized in this one process (the assembly loads once).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.config import load_settings
from lib.toolchain import load_bindings
from tests.unit.profiles import PROFILES, VALIDATED_PROFILES
from tests.unit.validation import VALIDATION, start_validation
from tools.scan_profiles import profile_environment

# As main.py does, before anything imports cdktf (tests.unit.stacks and .synthesized do): jsii must start on
# the supported Node, and the bindings load fastest with the collector paused.
load_bindings()

from cdktf import TerraformStack, Testing  # noqa: E402 - after load_bindings

from tests.unit.stacks import DECLARED, VariantStack  # noqa: E402 - after load_bindings
from tests.unit.synthesized import Synthesized  # noqa: E402 - after load_bindings

Testing.__test__ = False  # cdktf's Testing helpers are not a pytest test class


def synthesize(outdir: Path, environ: dict[str, str]) -> tuple[TerraformStack, Path]:
    """Synthesizes the app for one set of environment values; returns the stack and its folder."""
    from cdktf import App  # noqa: PLC0415 - jsii must start on the supported Node

    from lib.tap_stack import TapStack  # noqa: PLC0415

    settings = load_settings(environ)
    outdir.mkdir(parents=True, exist_ok=True)
    app = App(outdir=str(outdir))
    stack = TapStack(app, settings.stack_name, settings=settings)
    app.synth()
    return stack, outdir / "stacks" / settings.stack_name


@pytest.fixture(scope="session")
def synth_all(request, tmp_path_factory) -> dict[str, Synthesized]:
    root = tmp_path_factory.mktemp("synth")

    def synthesized(names):
        return {name: Synthesized.from_stack_dir(*synthesize(root / name, PROFILES[name])) for name in names}

    validated = synthesized(VALIDATED_PROFILES)
    if any("validation" in item.fixturenames for item in request.session.items):
        # Validation is mostly terraform loading the provider schema in its own process: started as soon as
        # its profiles are synthesized, it overlaps the rest of the suite; the `validation` fixture awaits it.
        request.config.stash[VALIDATION] = start_validation(
            synthesized=validated, root=tmp_path_factory.mktemp("validate")
        )
    every = {**validated, **synthesized(name for name in PROFILES if name not in validated)}
    return {name: every[name] for name in PROFILES}


@pytest.fixture(scope="session")
def construct_variants() -> VariantStack:
    """Every variant set the collected test modules declared, built in one stack and synthesized once."""
    return VariantStack(DECLARED)


@pytest.fixture(scope="session")
def dev(synth_all) -> Synthesized:
    return synth_all["dev"]


@pytest.fixture(scope="session")
def prod(synth_all) -> Synthesized:
    return synth_all["prod"]


@pytest.fixture(scope="session")
def https(synth_all) -> Synthesized:
    return synth_all["https"]


@pytest.fixture(scope="session")
def scan_prod(tmp_path_factory) -> Synthesized:
    """The prod profile `make scan` judges (tools/scan_profiles.py): TARGET=aws with a certificate and the
    client CA bundle, as a real account deploys it."""
    environ = profile_environment("scanprod", base={})
    return Synthesized.from_stack_dir(*synthesize(tmp_path_factory.mktemp("synth") / "scanprod", environ))
