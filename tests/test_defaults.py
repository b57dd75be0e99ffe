"""Defaults that several commands share exist once: a test fails the moment one of them drifts."""

from __future__ import annotations

from pathlib import Path

import pytest

import appaudit.api
from appaudit.analysis.depth import CHAIN_DEPTH
from conftest import fixture_apk, run_cli


@pytest.fixture
def seen_depths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The chain depth of every scan the library runs while the test does."""
    depths: list[int] = []
    real = appaudit.api.scan

    def spy(path: str, options: appaudit.api.ScanOptions | None = None, **kw: object) -> object:
        depths.append((options or appaudit.api.ScanOptions()).chain_depth)
        return real(path, options, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(appaudit.api, "scan", spy)
    return depths


def test_library_default_is_the_shared_one() -> None:
    assert CHAIN_DEPTH == 4
    assert appaudit.api.ScanOptions().chain_depth == CHAIN_DEPTH


def test_scan_command_uses_the_shared_default(seen_depths: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["scan", fixture_apk("benign"), "--format", "json", "--fail-on", "never"], capsys)
    assert result.code == 0
    assert seen_depths == [CHAIN_DEPTH]
    assert f'"chain_depth": {CHAIN_DEPTH}' in result.out


def test_diff_and_baseline_use_the_shared_default(
    seen_depths: list[int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(["diff", fixture_apk("benign"), fixture_apk("contacts_const"), "--fail-on", "never"], capsys)
    run_cli(["baseline", fixture_apk("benign"), "--output", str(tmp_path / "b.json")], capsys)
    assert seen_depths == [CHAIN_DEPTH] * 3


def test_batch_worker_uses_the_shared_default(seen_depths: list[int]) -> None:
    from appaudit.batch.records import ScanTask
    from appaudit.batch.worker import scan_task
    from appaudit.ruleset import load_ruleset

    path = fixture_apk("benign")
    task = ScanTask(path=path, apk_sha256="0" * 64)
    record, _ = scan_task(task, load_ruleset(), 0)
    assert seen_depths == [CHAIN_DEPTH]
    assert record.status == "ok"
