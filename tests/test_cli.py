"""The exit-code contract and output options, end to end through the CLI."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from conftest import fixture_apk, run_cli, run_process


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["scan", "--help"], capsys)
    assert res.code == 0
    flat = " ".join(res.out.split())
    assert "4 rule or configuration error" in flat and "3 input error" in flat


@pytest.mark.parametrize(
    ("name", "fail_on", "code"),
    [
        ("contacts_const", None, 1),  # default --fail-on high; bulk upload of contacts is critical
        ("contacts_const", "critical", 1),
        ("contacts_uri", "never", 0),
        ("picker", "info", 0),
        ("contacts_const", "never", 0),
        ("benign", None, 0),
        ("benign", "info", 0),
        ("permission_only", None, 0),  # declarations are medium
        ("permission_only", "medium", 1),
        ("dormant_contacts", None, 0),  # dormant code is low: it cannot run
        ("dormant_contacts", "low", 1),
        ("neighbours", "info", 1),
        ("neighbours", None, 0),
    ],
)
def test_fail_on_exit_codes(name: str, fail_on: str | None, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["scan", fixture_apk(name), "--format", "json"]
    if fail_on:
        args += ["--fail-on", fail_on]
    assert run_cli(args, capsys).code == code


def test_missing_file_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(["scan", str(tmp_path / "nope.apk")], capsys)
    assert res.code == 3
    assert res.err == f"appaudit: error: {tmp_path / 'nope.apk'}: no such file\n"


def test_directory_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(["scan", str(tmp_path)], capsys)
    assert (res.code, res.err) == (
        3,
        f"appaudit: error: {tmp_path}: is a directory, not an APK file (to scan the APKs in it: "
        f"appaudit batch {tmp_path})\n",
    )


def test_empty_file_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.apk"
    empty.write_bytes(b"")
    for args in (["scan", str(empty)], ["diff", str(empty), fixture_apk("benign")], ["baseline", str(empty)]):
        res = run_cli(args, capsys)
        assert (res.code, res.out, res.err) == (3, "", f"appaudit: error: {empty}: empty file (0 bytes), not an APK\n")


def test_not_a_zip_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.apk"
    bad.write_bytes(b"this is not a zip file at all")
    res = run_cli(["scan", str(bad)], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {bad}: not a zip archive (an APK is a zip file)\n")


def test_zip_without_manifest_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "nomanifest.apk"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("classes.dex", b"dex\n035\0")
    res = run_cli(["scan", str(bad)], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {bad}: zip has no AndroidManifest.xml: not an APK\n")


def test_truncated_zip_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "trunc.apk"
    bad.write_bytes(Path(fixture_apk("contacts_const")).read_bytes()[:200])
    res = run_cli(["scan", str(bad)], capsys)
    assert res.code == 3
    assert res.err.startswith(f"appaudit: error: {bad}: ") and res.err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "locked.apk"
    bad.write_bytes(Path(fixture_apk("benign")).read_bytes())
    bad.chmod(0)
    res = run_cli(["scan", str(bad)], capsys)
    assert res.code == 3 and "cannot be read" in res.err


def test_unreadable_path_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A path through a regular file cannot be opened by anyone, root included.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli(["scan", str(blocker / "app.apk")], capsys)
    assert res.code == 3 and res.err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["scan"],
        ["scan", "x.apk", "--format", "yaml"],
        ["scan", "x.apk", "--fail-on", "severe"],
        ["scan", "x.apk", "--no-such-option"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(args, capsys).code == 2


def test_bad_rules_dir_exit_4(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: AA-XXX-001\nname: bad\n")
    res = run_cli(["scan", fixture_apk("benign"), "--rules", str(tmp_path)], capsys)
    assert res.code == 4
    assert res.err.startswith(f"appaudit: error: {tmp_path.name}/bad.yaml: (top level): 'title' is a required property")


def test_internal_error_exit_5(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import appaudit.api

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(appaudit.api, "scan", boom)
    res = run_cli(["scan", fixture_apk("benign")], capsys)
    assert res.code == 5
    assert res.err.startswith("appaudit: error: internal error: RuntimeError: kaboom")
    assert "Traceback" not in res.err


def test_output_file_written_after_render(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "-o", str(out)], capsys)
    assert (res.code, res.out) == (1, "")
    assert json.loads(out.read_text())["verdict"] == "harvests"


def test_output_not_created_when_render_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import appaudit.report.json_v1
    import appaudit.report.sarif

    def broken(*_a: object, **_k: object) -> str:
        raise ValueError("cannot render")

    monkeypatch.setattr(appaudit.report.json_v1, "render", broken)
    out = tmp_path / "r.json"
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "-o", str(out)], capsys)
    assert res.code == 5 and not out.exists()


def test_text_is_plain_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["scan", fixture_apk("contacts_const")], capsys)
    assert "\x1b[" not in res.out
    assert "Verdict: HARVESTS" in res.out
    assert max(len(line) for line in res.out.splitlines()) <= 80


def test_real_process_and_module_entry_point() -> None:
    proc = run_process(["scan", fixture_apk("sms_inbox"), "--format", "json"])
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["data_classes"]["sms"]["read"] is True
    assert proc.stderr == ""
    proc = run_process(["--version"])
    assert (proc.returncode, proc.stdout.startswith("appaudit ")) == (0, True)


# --- several outputs from one scan ----------------------------------------------------------


def test_several_formats_from_one_scan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sarif, report = tmp_path / "out.sarif", tmp_path / "out.json"
    res = run_cli(
        [
            "scan",
            fixture_apk("contacts_const"),
            "--format",
            "text",
            "--format",
            f"sarif:{sarif}",
            "-f",
            f"json:{report}",
        ],
        capsys,
    )
    assert res.code == 1 and res.err == ""
    assert "Verdict: HARVESTS" in res.out
    assert json.loads(report.read_text())["verdict"] == "harvests"
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.sarif"]  # no temporary files left


def test_only_files_nothing_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(["scan", fixture_apk("benign"), "-f", f"json:{tmp_path / 'a.json'}"], capsys)
    assert (res.code, res.out, res.err) == (0, "", "")


def test_output_applies_to_the_format_without_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(
        ["scan", fixture_apk("benign"), "-f", "sarif", "-f", f"json:{tmp_path / 'a.json'}", "-o", str(tmp_path / "b")],
        capsys,
    )
    assert (res.code, res.out) == (0, "")
    assert json.loads((tmp_path / "b").read_text())["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        (["json", "sarif"], "only one format can go to standard output"),
        (["json:"], "no file after ':'"),
        (["yaml:x.yaml"], "unknown format 'yaml'"),
        (["json:same", "sarif:same"], "two formats would write the same file"),
        (["json:a", "-o", "b"], "--output names the file of the one format given without a path"),
    ],
)
def test_bad_output_combinations_exit_2(
    formats: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["scan", fixture_apk("benign")]
    for value in formats:
        args += [value] if value.startswith("-") or args[-1] == "-o" else ["-f", value]
    res = run_cli(args, capsys)
    assert res.code == 2 and message in " ".join(res.err.replace("│", " ").split())
    assert list(tmp_path.iterdir()) == []


def test_no_file_written_when_one_format_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import appaudit.report.json_v1
    import appaudit.report.sarif

    def broken(*_a: object, **_k: object) -> str:
        raise ValueError("cannot render")

    monkeypatch.setattr(appaudit.report.sarif, "render", broken)
    res = run_cli(
        ["scan", fixture_apk("contacts_const"), "-f", f"json:{tmp_path / 'a.json'}", "-f", f"sarif:{tmp_path / 'b'}"],
        capsys,
    )
    assert (res.code, res.out) == (5, "")
    assert list(tmp_path.iterdir()) == []


def test_no_file_written_when_one_cannot_be(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli(
        [
            "scan",
            fixture_apk("benign"),
            "-f",
            f"json:{tmp_path / 'a.json'}",
            "-f",
            f"sarif:{blocker / 'b.sarif'}",
            "-f",
            "text",
        ],
        capsys,
    )
    assert res.code == 4 and res.out == ""
    assert res.err.startswith(f"appaudit: error: cannot write sarif output {blocker / 'b.sarif'}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# ---------------------------------------------------------------- the gate and its closing line (issue 14)
HOSTILE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            [],
            1,
            "appaudit: inconclusive (fails the gate; --allow-inconclusive passes it); "
            "0 findings at or above --fail-on high: exit 1",
        ),
        (
            ["--allow-inconclusive"],
            0,
            "appaudit: inconclusive, allowed (--allow-inconclusive); "
            "0 findings at or above --fail-on high: exit 0",
        ),
        (["--fail-on", "never"], 0, "appaudit: inconclusive; 1 finding (--fail-on never): exit 0"),
    ],
)
def test_inconclusive_fails_the_default_gate(
    args: list[str], code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    res = run_cli(["scan", str(HOSTILE / "packer_stub.apk"), *args], capsys)
    assert (res.code, res.out.splitlines()[-1], res.err) == (code, line, "")


@pytest.mark.parametrize(
    ("name", "args", "code", "line"),
    [
        ("contacts_const", [], 1, "appaudit: harvests; 5 findings at or above --fail-on high: exit 1"),
        (
            "contacts_const",
            ["--fail-on", "critical"],
            1,
            "appaudit: harvests; 1 finding at or above --fail-on critical: exit 1",
        ),
        ("benign", [], 0, "appaudit: no_evidence; 0 findings at or above --fail-on high: exit 0"),
        (
            "permission_only",
            ["--fail-on", "medium"],
            1,
            "appaudit: declared_only; 3 findings at or above --fail-on medium: exit 1",
        ),
    ],
)
def test_closing_line_says_why_the_exit_code(
    name: str, args: list[str], code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    res = run_cli(["scan", fixture_apk(name), *args], capsys)
    assert (res.code, res.out.splitlines()[-1]) == (code, line)


@pytest.mark.parametrize("fmt", ["json", "sarif", "html", "markdown"])
def test_closing_line_only_after_text(fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", fmt], capsys)
    assert res.code == 1 and "appaudit: verdict" not in res.out
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", f"text:{tmp_path / 'r.txt'}"], capsys)
    assert (res.code, res.out) == (1, "")
    assert "appaudit: verdict" not in (tmp_path / "r.txt").read_text()


# ---------------------------------------------------------------- CLI polish (issue 14, item 7)
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["scan"], "appaudit: error: Missing argument 'PATH'. (see 'appaudit scan --help')\n"),
        (
            ["scan", "x.apk", "--fail-on", "bad"],
            "appaudit: error: Invalid value for '--fail-on': 'bad' is not one of 'info', 'low', 'medium', "
            "'high', 'critical', 'never'. (see 'appaudit scan --help')\n",
        ),
        (
            ["scan", "x.apk", "--frmat", "json"],
            "appaudit: error: No such option: --frmat (Possible options: --format) (see 'appaudit scan --help')\n",
        ),
        (
            ["scan", "x.apk", "-f", "pdf"],
            "appaudit: error: Invalid value for '--format' / '--output': unknown format 'pdf' "
            "(choose from text, json, sarif, html, markdown) (see 'appaudit scan --help')\n",
        ),
        (
            ["scan", "x.apk", "-f", "pdf:out.pdf"],
            "appaudit: error: Invalid value for '--format' / '--output': unknown format 'pdf' in 'pdf:out.pdf' "
            "(choose from text, json, sarif, html, markdown) (see 'appaudit scan --help')\n",
        ),
    ]
    for args, err in cases:
        res = run_cli(args, capsys)
        assert (res.code, res.out, res.err) == (2, "", err)
    bare = run_cli([], capsys)
    assert bare.code == 2 and bare.out.startswith("Usage: appaudit [OPTIONS] COMMAND [ARGS]...\n")


@pytest.mark.parametrize("command", ["scan", "batch", "diff", "baseline", "batch-export", "rules show"])
def test_help_at_80_columns(command: str) -> None:
    res = run_process([*command.split(), "--help"], env={"COLUMNS": "80"})
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for bad in ("╭", "│", "{", "<str>", "<path>", "<int", "<float", " .\n", "cr itical"):
        assert bad not in res.stdout, (bad, command)
    if command in ("scan", "batch", "diff"):
        assert "<info|low|medium|high|critical|never>" in res.stdout
    if command == "batch":
        assert "Worker processes (default: the CPU count)." in res.stdout
        assert lines[0] == "Usage: appaudit batch [OPTIONS] PATH..."
