"""Does a call site call one of a rule's API targets (``rules/flows.yaml``: sinks, publishers...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from appaudit.ruleset.flows import ApiTarget

_K = TypeVar("_K")

#: Target lists whose prefix sets are kept (a ruleset has a few dozen; more means lists made per call).
MAX_TARGET_LISTS = 256
#: id(targets) -> (targets, their prefixes): by identity, since hashing a tuple of targets on every one
#: of the hundreds of thousands of call sites a scan classifies cost more than the lookup itself. The
#: list is kept in the entry so that its id cannot be reused while the entry exists.
_PREFIXES: dict[int, tuple[tuple[ApiTarget, ...], frozenset[str]]] = {}


def calls_target(targets: tuple[ApiTarget, ...], ref: str) -> bool:
    """The method ``ref`` (``Lc;->m(p)r``) is one of ``targets`` (by class and name, any prototype)."""
    return ref[: ref.find("(") + 1] in _prefixes(targets)


def _prefixes(targets: tuple[ApiTarget, ...]) -> frozenset[str]:
    """``Lc;->name(`` of every target: a call site is classified by one slice and one set lookup."""
    entry = _PREFIXES.get(id(targets))
    if entry is not None and entry[0] is targets:
        return entry[1]
    if len(_PREFIXES) >= MAX_TARGET_LISTS:
        _PREFIXES.clear()
    prefixes = frozenset(f"{t.class_desc}->{name}(" for t in targets for name in t.names)
    _PREFIXES[id(targets)] = (targets, prefixes)
    return prefixes


def target_for(targets: tuple[ApiTarget, ...], ref: str) -> ApiTarget | None:
    """The first of ``targets`` the method ``ref`` is (by class and name, any prototype), or None."""
    owner, _, rest = ref.partition("->")
    name = rest.split("(", 1)[0]
    return next((t for t in targets if t.class_desc == owner and name in t.names), None)


def call_prefix(ref: str) -> str:
    """``Lc;->name(`` of the method ``ref``: what :func:`calls_target` looks up."""
    return ref[: ref.find("(") + 1]


def by_prefix(lists: Iterable[tuple[_K, tuple[ApiTarget, ...]]]) -> dict[str, list[tuple[_K, tuple[ApiTarget, ...]]]]:
    """``Lc;->name(`` -> the (key, targets) of ``lists`` that name it, in their order: one look-up
    classifies a call site against every list (``calls_target(targets, ref)`` is true exactly for the
    lists under ``call_prefix(ref)``)."""
    table: dict[str, list[tuple[_K, tuple[ApiTarget, ...]]]] = {}
    for key, targets in lists:
        for prefix in sorted(_prefixes(targets)):
            table.setdefault(prefix, []).append((key, targets))
    return table
