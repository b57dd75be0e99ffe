"""docs/ci.md: its YAML parses and its scan command works as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, fixture_apk, run_cli

CI_DOC = ROOT / "docs" / "ci.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", CI_DOC.read_text(), flags=re.S)


def test_every_yaml_block_parses() -> None:
    blocks = _yaml_blocks()
    assert len(blocks) == 4
    for block in blocks:
        yaml.safe_load(block)


def test_github_workflow_scans_uploads_and_gates() -> None:
    workflow = yaml.safe_load(_yaml_blocks()[0])
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["audit"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert "github/codeql-action/upload-sarif@v3" in uses
    upload = steps[uses.index("github/codeql-action/upload-sarif@v3")]
    assert upload["with"]["sarif_file"] == "appaudit.sarif"
    gate = next(s for s in steps if s.get("name") == "Gate")
    assert "1) " in gate["run"] and "exit 1" in gate["run"]


@pytest.mark.parametrize("which", [0, 2])
def test_the_documented_scan_command_runs(
    which: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _yaml_blocks()[which]
    command = re.search(r"(appaudit scan .*?)(?:\n\s*echo|\n\s*artifacts:)", block, flags=re.S)
    assert command is not None
    args = shlex.split(command.group(1).replace("\\\n", " ").replace('"$APK"', fixture_apk("contacts_const")))
    monkeypatch.chdir(tmp_path)
    assert run_cli(["baseline", fixture_apk("contacts_const"), "-o", ".appaudit-baseline.yaml"], capsys).code == 0
    res = run_cli(args[1:], capsys)
    assert res.code == 0, res.err
    assert "Verdict: HARVESTS" in res.out
    assert json.loads((tmp_path / "appaudit.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((tmp_path / "appaudit.json").read_text())["findings"][0]["suppressed"] is True
