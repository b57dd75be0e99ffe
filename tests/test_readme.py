"""The README's two set-up commands exist and the scan one works."""

from __future__ import annotations

import re
import shlex

from conftest import ROOT, run_process


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[1] == "python3 -m pip install -e '.[test]' && python3 -m pytest"


def test_scan_setup_command_runs() -> None:
    install, scan = _setup_commands()[0].split(" && ")
    assert install == "python3 -m pip install ."
    args = shlex.split(scan)
    assert args[0] == "appaudit"
    proc = run_process(args[1:])
    assert proc.returncode == 0, proc.stderr
    assert "Verdict: HARVESTS" in proc.stdout
