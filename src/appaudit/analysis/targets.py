"""Does a call site call one of a rule's API targets (``rules/flows.yaml``: sinks, publishers...)."""

from __future__ import annotations

from functools import lru_cache

from appaudit.ruleset.flows import ApiTarget


def calls_target(targets: tuple[ApiTarget, ...], ref: str) -> bool:
    """The method ``ref`` (``Lc;->m(p)r``) is one of ``targets`` (by class and name, any prototype)."""
    owner, _, rest = ref.partition("->")
    return (owner, rest.split("(", 1)[0]) in _method_set(targets)


@lru_cache(maxsize=256)
def _method_set(targets: tuple[ApiTarget, ...]) -> frozenset[tuple[str, str]]:
    """(class descriptor, method name) of every target, for one set lookup per call site."""
    return frozenset((t.class_desc, name) for t in targets for name in t.names)


def target_for(targets: tuple[ApiTarget, ...], ref: str) -> ApiTarget | None:
    """The first of ``targets`` the method ``ref`` is (by class and name, any prototype), or None."""
    owner, _, rest = ref.partition("->")
    name = rest.split("(", 1)[0]
    return next((t for t in targets if t.class_desc == owner and name in t.names), None)
