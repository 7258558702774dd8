"""lib/toolchain.py: the bindings load with the collector paused and end up frozen out of it."""

import gc

from lib.toolchain import load_bindings


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
