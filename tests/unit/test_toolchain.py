"""lib/toolchain.py: the bindings load with the collector paused and end up frozen out of it; their type
checks evaluate each stub's annotations once."""

import gc
import typing

from lib.toolchain import JSII_TYPE_STUB_PREFIX, _remembering, load_bindings, supported_node_path


def test_the_bindings_are_frozen_and_the_collector_runs_again():
    # conftest.py called load_bindings() before collection, as main.py does before it builds the stack.
    assert gc.isenabled(), "load_bindings() must leave the collector running"
    assert gc.get_freeze_count() > 100_000, "the bindings' objects should sit in the permanent generation"


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        load_bindings()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_bindings_type_checks_get_each_stub_s_hints_once_and_the_same_hints():
    # conftest.py's load_bindings() installed it, as main.py's does.
    from cdktf_cdktf_provider_aws.vpc import Vpc  # noqa: PLC0415

    module_globals = Vpc.__init__.__globals__  # the stubs are private to the module (jsii's `publication`)
    [stub, *_] = [value for name, value in sorted(module_globals.items()) if name.startswith(JSII_TYPE_STUB_PREFIX)]
    assert typing.get_type_hints.remembers_jsii_stubs  # type: ignore[attr-defined]
    assert typing.get_type_hints(stub) is typing.get_type_hints(stub)
    assert typing.get_type_hints(stub) == typing.get_type_hints(stub, include_extras=True) != {}


def test_a_jsii_stub_is_asked_once_and_anything_else_every_time():
    calls = []

    def counting(obj, globalns=None, localns=None, include_extras=False):
        calls.append(obj)
        return {"value": int}

    remembering = _remembering(counting)

    def _typecheckingstub__example(value: int) -> None: ...

    def ordinary(value: int) -> None: ...

    assert remembering(_typecheckingstub__example) is remembering(_typecheckingstub__example)
    assert remembering(ordinary) == remembering(ordinary) == {"value": int}
    assert remembering(_typecheckingstub__example, include_extras=True) == {"value": int}
    assert calls == [_typecheckingstub__example, ordinary, ordinary, _typecheckingstub__example]


def test_the_suite_runs_jsii_on_the_supported_node():
    # conftest.py loads the bindings before anything imports cdktf; the kernel starts on the first import.
    from jsii import kernel  # noqa: PLC0415

    node = kernel.provider._process._process.args[0]  # type: ignore[attr-defined]  # the running kernel
    assert node == str(supported_node_path()), f"jsii runs on {node}: cdktf was imported before load_bindings()"
