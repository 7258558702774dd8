"""Version guard: the patches are written for moto 5.2.5 exactly, and say which internals they use.

Each patch is declared with `@moto_patch(requires=..., adds=...)` beside its code:
`requires` maps the dotted path of every moto internal it relies on to what it must still be
(PROPERTY, CLASS, or the parameter names a callable must still take); `adds` names what the
patch creates, which must not exist in moto yet (it would shadow moto's own). `check_moto`
checks all of them before anything is patched or served, and refuses with every problem found.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.local_aws.common import EmulatorError

MOTO_VERSION = "5.2.5"
PROPERTY, CLASS = "property", "class"


@dataclass(frozen=True)
class Assigns:
    """The class at the path still sets these instance attributes in its __init__."""

    attributes: tuple[str, ...]


def assigns(*attributes: str) -> Assigns:
    return Assigns(attributes)


Expectation = Any  # PROPERTY, CLASS, Assigns, or a tuple of parameter names a callable takes


@dataclass(frozen=True)
class MotoPatch:
    """A runtime patch of moto and the internals it relies on."""

    apply: Callable[[], None]
    requires: Mapping[str, Expectation]
    adds: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.apply.__name__

    def problems(self) -> list[str]:
        found = [p for dotted, expected in self.requires.items() if (p := _internal_problem(dotted, expected))]
        return found + [f"{dotted} already exists" for dotted in self.adds if _internal_problem(dotted, ()) is None]


def moto_patch(
    *, requires: Mapping[str, Expectation], adds: Iterable[str] = ()
) -> Callable[[Callable[[], None]], MotoPatch]:
    def declare(apply: Callable[[], None]) -> MotoPatch:
        return MotoPatch(apply=apply, requires=dict(requires), adds=tuple(adds))

    return declare


def _resolve(dotted: str) -> Any:
    """The object at `dotted` (module path, then attributes), looked up without running descriptors."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = inspect.getattr_static(found, name)
        return found
    raise ImportError(dotted)


def _internal_problem(dotted: str, expected: Expectation) -> str | None:
    try:
        found = _resolve(dotted)
    except (ImportError, AttributeError):
        return f"{dotted} is missing"
    if expected == PROPERTY and not isinstance(found, property):
        return f"{dotted} is no longer a property"
    if expected == CLASS and not inspect.isclass(found):
        return f"{dotted} is no longer a class"
    if isinstance(expected, Assigns):
        return _assignment_problem(dotted, found, expected.attributes)
    if isinstance(expected, tuple) and expected:
        if not callable(found):
            return f"{dotted} is no longer callable"
        missing = [p for p in expected if p not in inspect.signature(found).parameters]
        if missing:
            return f"{dotted} no longer takes {', '.join(missing)}"
    return None


def _assignment_problem(dotted: str, found: Any, attributes: tuple[str, ...]) -> str | None:
    if not inspect.isclass(found):
        return f"{dotted} is no longer a class"
    source = inspect.getsource(found.__init__)
    missing = [name for name in attributes if not re.search(rf"self\.{name}\b\s*(:[^=\n]*)?=", source)]
    return f"{dotted}.__init__ no longer sets {', '.join(missing)}" if missing else None


def moto_uses(name: str, requires: Mapping[str, Expectation]) -> MotoPatch:
    """Internals a module reads without patching them, checked like a patch's."""

    def nothing_to_patch() -> None:
        """Reading is all this module does with them."""

    nothing_to_patch.__name__ = name
    return MotoPatch(apply=nothing_to_patch, requires=dict(requires))


def installed_moto_version() -> str:
    return importlib.metadata.version("moto")


def check_moto(
    patches: Iterable[MotoPatch], version: str | None = None, also_requires: Mapping[str, Expectation] | None = None
) -> None:
    """Raise EmulatorError unless moto is exactly MOTO_VERSION with every internal the patches (and
    `also_requires`, internals used without patching them) rely on in place."""
    version = version if version is not None else installed_moto_version()
    if version != MOTO_VERSION:
        raise EmulatorError(
            f"local AWS emulator refuses to start: moto {version} is installed, but its "
            f"runtime patches are written for moto {MOTO_VERSION} exactly "
            f"(install moto[server]=={MOTO_VERSION} as pinned in the Pipfile)."
        )
    uses = [*patches, moto_uses("check_moto", also_requires or {})]
    problems = [problem for patch in uses for problem in patch.problems()]
    if problems:
        raise EmulatorError(
            "local AWS emulator refuses to start: moto internals are not where its "
            "runtime patches expect them: " + "; ".join(problems) + "."
        )
