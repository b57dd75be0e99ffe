"""A cooperative per-scan time cap (``appaudit scan --timeout``).

``api.scan`` opens a :func:`time_cap`; the loops whose length depends on the
input (DEX reference searches, instruction walks, class-data parsing, nested
payload extraction, the harvest-chain and start-up searches) call
:func:`check`, which raises :class:`ScanTimeout` once the cap has passed. The
code that catches it keeps what was found so far and calls :func:`note`; the
scan asks the :class:`TimeCap` it opened what stopped (:meth:`TimeCap.stopped`)
and reports coverage reason ``timeout``. Each step between two checks is
bounded by the size limits (``apk.limits``), so a scan overruns its cap by at
most one such step. Nothing here uses signals or threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from appaudit.errors import AppAuditError


class ScanTimeout(AppAuditError):
    """The scan's time cap has passed (always caught inside the library)."""


@dataclass(slots=True)
class _Clock:
    hard: float
    soft: float
    hits: list[str] = field(default_factory=list)


_CLOCK: ContextVar[_Clock | None] = ContextVar("appaudit_scan_clock", default=None)


@dataclass(frozen=True, slots=True)
class TimeCap:
    """The cap one :func:`time_cap` opened, for its opener to ask what stopped early."""

    seconds: float | None
    """The cap (None: none)."""
    _clock: _Clock | None

    def stopped(self) -> tuple[str, ...]:
        """What stopped early under this cap, in the order it happened."""
        return tuple(self._clock.hits) if self._clock is not None else ()


@contextmanager
def time_cap(seconds: float | None) -> Iterator[TimeCap]:
    """Run the body under a cap of ``seconds`` (None: no cap)."""
    clock = None
    if seconds is not None:
        end = time.monotonic() + seconds
        clock = _Clock(hard=end, soft=end)
    token = _CLOCK.set(clock)
    try:
        yield TimeCap(seconds, clock)
    finally:
        _CLOCK.reset(token)


@contextmanager
def phase(share: float) -> Iterator[None]:
    """Give the body at most ``share`` (0-1) of the time left, so later phases keep the rest."""
    clock = _CLOCK.get()
    if clock is None:
        yield
        return
    saved = clock.soft
    now = time.monotonic()
    clock.soft = min(saved, now + max(0.0, clock.hard - now) * share)
    try:
        yield
    finally:
        clock.soft = saved


def check() -> None:
    """Raise ScanTimeout when the current cap (or phase share) has passed."""
    clock = _CLOCK.get()
    if clock is not None and time.monotonic() > clock.soft:
        raise ScanTimeout("the scan's time cap has passed")


def note(where: str) -> None:
    """Record that ``where`` stopped early because of the cap."""
    clock = _CLOCK.get()
    if clock is not None and where not in clock.hits:
        clock.hits.append(where)
