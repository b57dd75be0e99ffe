"""Shared test helpers: paths, the fixture APKs, running the CLI in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "apks"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
CORPUS_CACHE = ROOT / ".cache" / "corpus"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test sources shadowed by compiled extensions: a wheel build cut short can leave mypyc's
    in-place products in src/ (hatch_build.py removes them when it ends), and Python imports an extension
    before the ``.py`` beside it, so the tests would run code built from older sources."""
    stale = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.so"))
    if stale:
        raise pytest.UsageError(
            f"compiled extensions in the sources shadow them: {', '.join(stale[:3])}... "
            "(remove them: git clean -fX src)"
        )


def fixture_apk(name: str) -> str:
    """Path of a committed fixture APK, e.g. ``contacts_const``."""
    path = FIXTURES / f"{name}.apk"
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


ALL_FIXTURES = sorted(p.stem for p in FIXTURES.glob("*.apk"))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """Run ``appaudit ARGS`` in-process and capture its exit code and output."""
    from appaudit.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    code = exc.value.code
    return CliResult(code=code if isinstance(code, int) else 0, out=captured.out, err=captured.err)


def run_process(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m appaudit ARGS`` as a real process (``env``: variables added to the current ones)."""
    return subprocess.run(
        [sys.executable, "-m", "appaudit", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@cache
def report_json(name: str) -> dict:
    """The JSON report of a fixture (scanned once per test session)."""
    from appaudit.api import scan
    from appaudit.report import render

    return json.loads(render(scan(fixture_apk(name)), "json"))


def contacts_chains(name: str) -> list[tuple[str, str, list[tuple[str, int | None]], str, list[dict[str, object]]]]:
    """(channel, dataflow, [(Cls.method, offset)], sink call, via) of each contacts chain of fixture ``name``
    (fixture classes named without their ``com.example.fixture.`` package)."""
    return [
        (
            c["channel"],
            c["dataflow"],
            [
                (s["class"].removeprefix("com.example.fixture.") + "." + s["method"].split("(")[0], s["offset"])
                for s in c["steps"]
            ],
            c["sink"]["value"],
            c["via"],
        )
        for c in report_json(name)["data_classes"]["contacts"]["chains"]
    ]


@cache
def report_schema_validator():  # type: ignore[no-untyped-def]
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "report-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def corpus_samples() -> Path:
    """Extract the corpus (once) into the git-ignored cache and return the folder."""
    if not (CORPUS / "samples").is_dir():
        pytest.skip(f"corpus not available at {CORPUS}")
    if len(list(CORPUS_CACHE.glob("*.apk"))) < len(list((CORPUS / "samples").glob("*.zip"))):
        subprocess.run(["bash", str(CORPUS / "extract.sh"), str(CORPUS_CACHE)], check=True, capture_output=True)
    return CORPUS_CACHE


def corpus_labels() -> list[dict]:
    if not (CORPUS / "labels.jsonl").is_file():
        pytest.skip(f"corpus labels not available at {CORPUS}")
    return [json.loads(line) for line in (CORPUS / "labels.jsonl").read_text().splitlines() if line.strip()]
