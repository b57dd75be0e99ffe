"""Start-up of the command line: a run builds only the command it runs, a ruleset is read once per
process, and the ruleset cache is safe where it cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from appaudit.cli.app import click_command
from appaudit.ruleset import load_ruleset
from appaudit.ruleset import loader as ruleset_loader
from conftest import FIXTURES, ROOT, run_cli

COMMANDS = ["baseline", "batch", "batch-export", "browse", "diff", "families", "policies", "rules", "scan", "show"]


def _help(group: Any, path: list[str]) -> str:
    """The help text of the command at ``path`` under ``group``, as ``appaudit PATH... --help`` prints it."""
    ctx = click.Context(group, info_name="appaudit")
    cmd = group
    for name in path:
        cmd = cmd.commands[name]
        ctx = click.Context(cmd, info_name=name, parent=ctx)
    return str(cmd.get_help(ctx))


def _paths(group: Any, prefix: list[str]) -> list[list[str]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append([*prefix, name])
        if isinstance(cmd, click.Group):
            out.extend(_paths(cmd, [*prefix, name]))
    return out


def test_the_whole_group_holds_every_command() -> None:
    assert sorted(click_command([]).commands) == COMMANDS
    assert sorted(click_command(["--version"]).commands) == COMMANDS
    assert sorted(click_command(["scna"]).commands) == COMMANDS  # a typo: click suggests from all of them


@pytest.mark.parametrize("name", COMMANDS)
def test_a_run_builds_only_its_command_with_the_same_help(name: str) -> None:
    full = click_command([])
    only = click_command([name, "--help"])
    assert list(only.commands) == [name]
    paths = _paths(only, [])
    assert paths == [p for p in _paths(full, []) if p[0] == name]
    for path in paths:  # the command and, for a group (rules, policies), each subcommand
        assert _help(only, path) == _help(full, path), path


def test_usage_errors_are_the_same_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    typo = run_cli(["scna", "x.apk"], capsys)
    assert (typo.code, typo.err) == (
        2,
        "appaudit: error: No such command 'scna'. Did you mean 'scan'? (see 'appaudit --help')\n",
    )
    bad = run_cli(["scan", str(FIXTURES / "benign.apk"), "--fail-on", "severe"], capsys)
    assert bad.code == 2
    assert bad.err.startswith("appaudit: error: Invalid value for '--fail-on': 'severe' is not one of")
    assert bad.err.endswith(" (see 'appaudit scan --help')\n")


def test_group_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["--help"], capsys)
    assert done.code == 0
    listed = [line.split()[0] for line in done.out.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert sorted(listed) == COMMANDS


def test_a_ruleset_is_read_once_per_process_and_again_when_a_file_changes(tmp_path: Path) -> None:
    assert load_ruleset() is load_ruleset()
    extra = tmp_path / "extra"
    extra.mkdir()
    rule = (ROOT / "rules" / "contacts" / "contacts-permission.yaml").read_text()
    (extra / "x.yaml").write_text(rule.replace("AA-CON-001", "AA-XTR-001"))
    first = load_ruleset([extra])
    assert load_ruleset([extra]) is first
    (extra / "x.yaml").write_text(rule.replace("AA-CON-001", "AA-XTR-002"))
    second = load_ruleset([extra])
    assert (
        first.by_id("AA-XTR-001") is not None,
        second.by_id("AA-XTR-001"),
        second.by_id("AA-XTR-002") is not None,
    ) == (
        True,
        None,
        True,
    )


def test_the_process_remembers_a_bounded_number_of_rulesets(tmp_path: Path) -> None:
    rule = (ROOT / "rules" / "contacts" / "contacts-permission.yaml").read_text()
    for i in range(ruleset_loader.MAX_LOADED + 3):
        d = tmp_path / f"r{i}"
        d.mkdir()
        (d / "x.yaml").write_text(rule.replace("AA-CON-001", f"AA-XTR-{i:03d}"))
        load_ruleset([d], bundled=False)
    assert len(ruleset_loader._LOADED) == ruleset_loader.MAX_LOADED


def _load_in_child(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    probe = "from appaudit.ruleset import load_ruleset\nr = load_ruleset()\nprint(len(r.rules), r.sha256)\n"
    return subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        check=True,
    )


def test_the_ruleset_cache_is_written_once_and_read_back(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _load_in_child({"APPAUDIT_CACHE_DIR": str(cache)})
    (written,) = cache.glob("ruleset-*.pickle")
    again = _load_in_child({"APPAUDIT_CACHE_DIR": str(cache)})
    assert again.stdout == first.stdout == f"{len(load_ruleset().rules)} {load_ruleset().sha256}\n"
    assert list(cache.iterdir()) == [written]


def test_an_unwritable_cache_only_means_validating_again(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be made below a file, whoever runs the test (root included)
    done = _load_in_child({"APPAUDIT_CACHE_DIR": str(blocker / "cache")})
    assert done.stdout == f"{len(load_ruleset().rules)} {load_ruleset().sha256}\n"
    assert done.stderr == ""
    off = _load_in_child({"APPAUDIT_NO_CACHE": "1", "APPAUDIT_CACHE_DIR": str(tmp_path / "unused")})
    assert off.stdout == done.stdout and not (tmp_path / "unused").exists()


def test_only_the_process_own_run_freezes_the_collector() -> None:
    probe = (
        "import gc, sys\nfrom appaudit.cli import main\n"
        "def run(argv):\n    try:\n        main(argv)\n    except SystemExit as exc:\n        return exc.code\n"
        f"code = run(['scan', {str(FIXTURES / 'benign.apk')!r}, '--format', 'json', '-o', '/dev/null'])\n"
        "print(code, gc.get_freeze_count())\n"
        f"sys.argv = ['appaudit', 'scan', {str(FIXTURES / 'benign.apk')!r}, '--format', 'json', '-o', '/dev/null']\n"
        "code = run(None)\nprint(code, gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout == "0 0\n0 True\n"
