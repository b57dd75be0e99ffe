"""The garbage collector around a scan (appaudit.pipeline.collection): paused during it, restored after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from appaudit import api
from appaudit.model import Verdict
from appaudit.pipeline import stages
from appaudit.pipeline.collection import collection_paused

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "apks"


class _Cycle:
    """An object that refers to itself: freed only by the collector, never by reference counting."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_a_scan_runs_with_the_collector_paused_and_turns_it_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def load(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return stages_load(*args, **kwargs)

    stages_load = stages.load
    monkeypatch.setattr(stages, "load", load)
    report = api.scan(str(FIXTURES / "benign.apk"), api.ScanOptions(deterministic=True))
    assert seen == [False]
    assert gc.isenabled() is True
    assert report.verdict == Verdict.NO_EVIDENCE


@pytest.mark.usefixtures("collector_on")
def test_the_cycles_made_in_the_block_are_freed_when_it_ends() -> None:
    with collection_paused():
        assert gc.isenabled() is False
        ref = weakref.ref(_Cycle())
        assert ref() is not None  # nothing collects it while paused
    assert ref() is None
    assert gc.isenabled() is True


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_turned_back_on_when_the_scan_fails() -> None:
    with pytest.raises(ZeroDivisionError), collection_paused():
        raise ZeroDivisionError
    assert gc.isenabled() is True


def test_a_caller_that_turned_the_collector_off_keeps_it_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            ref = weakref.ref(_Cycle())
        assert gc.isenabled() is False
        assert ref() is not None  # the caller's choice: nothing collected behind its back
        api.scan(str(FIXTURES / "benign.apk"), api.ScanOptions(deterministic=True))
        assert gc.isenabled() is False
    finally:
        gc.collect()
        if was:
            gc.enable()


@pytest.mark.parametrize(
    "name", ["benign.apk", "startup_harvest.apk", "msg_handler_upload.apk", "chain_async_helper.apk"]
)
def test_nothing_of_a_scan_waits_for_the_collector(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code index (and so every DEX table and decoded method) is freed by reference counting when the
    scan returns: no reference cycle holds it (pipeline/collection.py's one young pass stays cheap)."""
    held: list[weakref.ref[object]] = []

    def load(*args: object, **kwargs: object) -> stages.Loaded:
        loaded = stages_load(*args, **kwargs)  # type: ignore[arg-type]
        held.append(weakref.ref(loaded.code))
        return loaded

    stages_load = stages.load
    monkeypatch.setattr(stages, "load", load)
    was = gc.isenabled()
    gc.disable()
    try:
        api.scan(str(FIXTURES / name), api.ScanOptions(deterministic=True))
        assert len(held) == 1
        assert held[0]() is None
    finally:
        if was:
            gc.enable()
