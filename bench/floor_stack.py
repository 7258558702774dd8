"""The floor for a cold synth: one resource on the same provider bindings as TapStack.

    python -m bench.floor_stack <outdir>

Importing cdktf_cdktf_provider_aws loads the provider's whole jsii assembly, so this
costs what every synth of this project pays before its first construct.
"""

import sys

from lib.toolchain import load_bindings


def main(outdir: str) -> int:
    load_bindings()  # as main.py does, so the floor pays what every synth pays
    from cdktf import App, TerraformStack  # noqa: PLC0415 - jsii must start on the supported Node
    from cdktf_cdktf_provider_aws.provider import AwsProvider  # noqa: PLC0415
    from cdktf_cdktf_provider_aws.vpc import Vpc  # noqa: PLC0415

    app = App(outdir=outdir)
    stack = TerraformStack(app, "Floor")
    AwsProvider(stack, "aws", region="us-east-1")
    Vpc(stack, "vpc", cidr_block="10.0.0.0/16")
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
