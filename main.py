"""Entry point for `cdktf synth` / `make synth`: settings -> TapStack -> app.synth()."""

import sys
from datetime import date
from pathlib import Path

from lib.config import ConfigError, load_settings, version_warnings
from lib.toolchain import load_bindings


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in version_warnings(settings, date.today()):
        print(warning, file=sys.stderr)
    load_bindings()
    from cdktf import App  # noqa: PLC0415 - jsii must start on the supported Node

    from lib.tap_stack import TapStack  # noqa: PLC0415
    from tools.terraform import install_provider_lock  # noqa: PLC0415

    app = App()
    TapStack(app, settings.stack_name, settings=settings)
    app.synth()
    install_provider_lock(Path(app.outdir) / "stacks" / settings.stack_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
