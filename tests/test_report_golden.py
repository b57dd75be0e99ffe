"""Golden files and determinism of what the user sees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from appaudit.api import scan
from appaudit.report import render
from conftest import ROOT, fixture_apk

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("APPAUDIT_UPDATE_GOLDEN") == "1"


def _without_run(text: str) -> dict:
    doc = json.loads(text)
    doc.pop("run")
    return doc


def _check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    assert path.read_text() == actual, f"{name} changed; rerun with APPAUDIT_UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize("name", ["contacts_const", "sms_receiver", "dormant_contacts"])
def test_json_golden(name: str) -> None:
    doc = _without_run(render(scan(fixture_apk(name)), "json"))
    _check(f"{name}.json", json.dumps(doc, indent=2) + "\n")


TEXT_GOLDEN = ["contacts_const", "sms_receiver", "startup_harvest"]


@pytest.mark.parametrize("name", TEXT_GOLDEN)
def test_text_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.cells import cell_len

    from appaudit.model import DATA_CLASSES

    monkeypatch.chdir(ROOT)
    text = render(scan(f"fixtures/apks/{name}.apk"), "text")
    _check(f"{name}.txt", text)
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    # a wrapped line is indented under its item: after the table, only an item's first line is at column 0
    after_table = lines[lines.index("Harvest chains") :]
    starts = (*DATA_CLASSES, "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "Harvest", "Findings", "Policy", "Coverage")
    assert [line for line in after_table if line[:1] not in ("", " ") and not line.startswith(starts)] == []
    assert "->" not in "\n".join(after_table)  # one arrow, →, for data flow; "calls" for start-up paths


def test_sarif_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    _check("contacts_const.sarif", render(scan("fixtures/apks/contacts_const.apk"), "sarif"))


def test_sarif_byte_identical_across_runs() -> None:
    assert render(scan(fixture_apk("neighbours")), "sarif") == render(scan(fixture_apk("neighbours")), "sarif")


def test_json_identical_apart_from_run() -> None:
    first = render(scan(fixture_apk("neighbours")), "json")
    second = render(scan(fixture_apk("neighbours")), "json")
    assert _without_run(first) == _without_run(second)
    # byte-identical once the run block is removed
    strip = lambda t: t.split('  "run": ')[0]  # noqa: E731
    assert strip(first) == strip(second)
    assert list(json.loads(first)) == [
        "schema_version",
        "tool",
        "ruleset",
        "scan_options",
        "app",
        "data_classes",
        "verdict",
        "findings",
        "coverage",
        "policies",
        "errors",
        "fingerprints",
        "run",
    ]


def test_deterministic_runs_are_byte_identical(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import run_cli

    first = run_cli(["scan", fixture_apk("sms_blast"), "-f", "json", "--deterministic"], capsys).out
    second = run_cli(["scan", fixture_apk("sms_blast"), "-f", "json", "--deterministic"], capsys).out
    assert first == second and json.loads(first)["run"] is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert run_cli(["scan", fixture_apk("sms_blast"), "-f", "json"], capsys).out == first


@pytest.mark.parametrize(("fmt", "ext"), [("html", "html"), ("markdown", "md")])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_markdown_golden(fmt: str, ext: str, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    monkeypatch.chdir(ROOT)
    report = dataclasses.replace(scan("fixtures/apks/contacts_const.apk"), run=None)  # no wall-clock time
    _check(f"contacts_const.{lang}.{ext}", render(report, fmt, lang=lang))
