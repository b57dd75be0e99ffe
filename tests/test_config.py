"""The CI configuration file: found like ruff's, schema-checked, and always overridden by the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, fixture_apk, run_cli

PACKED = str(ROOT / "fixtures" / "hostile" / "packer_stub.apk")
KNOWN = "fail-on, allow-inconclusive, baseline, policies, rules, format, output"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory, the current directory of the test."""
    root = tmp_path.resolve() / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def test_no_configuration_means_the_defaults(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no [tool.appaudit]: not a config
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", "json"], capsys).code == 1


def test_appaudit_toml_sets_the_gate_and_the_command_line_wins(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "appaudit.toml").write_text('fail-on = "never"\n')
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", "json"], capsys).code == 0
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "--fail-on", "high"], capsys).code == 1
    (project / "appaudit.toml").write_text("allow-inconclusive = true\n")
    res = run_cli(["scan", PACKED], capsys)
    assert res.code == 0 and res.out.endswith("at or above --fail-on high: exit 0\n")
    assert run_cli(["scan", PACKED, "--no-allow-inconclusive"], capsys).code == 1
    assert run_cli(["batch", PACKED, "--db", str(project / "r.sqlite")], capsys).code == 0


def test_pyproject_table_is_found_from_a_subdirectory(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.appaudit]\nfail-on = "critical"\n')
    deep = project / "app" / "build"
    deep.mkdir(parents=True)
    (project / "app" / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # skipped: no table
    monkeypatch.chdir(deep)
    # permission_only's findings are medium: below critical
    assert run_cli(["scan", fixture_apk("permission_only"), "-f", "json"], capsys).code == 0
    # appaudit.toml wins over pyproject.toml in the same directory
    (project / "appaudit.toml").write_text('fail-on = "medium"\n')
    assert run_cli(["scan", fixture_apk("permission_only"), "-f", "json"], capsys).code == 1


def test_paths_formats_policies_and_rules_relative_to_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["baseline", fixture_apk("contacts_const"), "-o", str(project / "accepted.yaml")], capsys).code == 0
    (project / "extra-rules").mkdir()
    (project / "appaudit.toml").write_text(
        'baseline = "accepted.yaml"\npolicies = ["china"]\nrules = ["extra-rules"]\n'
        'format = ["text", "json:out/report.json"]\n'
    )
    (project / "out").mkdir()
    sub = project / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    res = run_cli(["scan", fixture_apk("contacts_const")], capsys)
    assert res.code == 0  # every finding is in the baseline
    assert "6 suppressed" in res.out
    doc = json.loads((project / "out" / "report.json").read_text())
    assert [p["id"] for p in doc["policies"]] == ["china"]
    assert doc["scan_options"]["rules_dirs"] == [str(project / "extra-rules")]
    assert all(f["suppressed"] for f in doc["findings"])
    # --format on the command line replaces the file's formats (and its files)
    (project / "out" / "report.json").unlink()
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", "json"], capsys)
    assert json.loads(res.out)["policies"][0]["id"] == "china"
    assert not (project / "out" / "report.json").exists()
    # --policy on the command line replaces the file's list
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "--policy", "india"], capsys)
    assert [p["id"] for p in json.loads(res.out)["policies"]] == ["india"]


def test_explicit_config_file(tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    named = tmp_path / "ci.toml"
    named.write_text('fail-on = "never"\n')
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "--config", str(named)], capsys).code == 0
    res = run_cli(["scan", fixture_apk("benign"), "--config", str(tmp_path / "nope.toml")], capsys)
    assert (res.code, res.err) == (
        4,
        f"appaudit: error: {tmp_path / 'nope.toml'}: cannot read the configuration: no such file\n",
    )
    bare = tmp_path / "pyproject.toml"
    bare.write_text('[project]\nname = "x"\n')
    res = run_cli(["diff", fixture_apk("benign"), fixture_apk("benign"), "--config", str(bare)], capsys)
    assert (res.code, res.err) == (4, f"appaudit: error: {bare}: no [tool.appaudit] table\n")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("appaudit.toml", 'fail_on = "high"\n', f"fail_on: unknown key (known: {KNOWN})"),
        (
            "pyproject.toml",
            '[tool.appaudit]\nfail-on = "severe"\n',
            "tool.appaudit.fail-on: 'severe' is not one of ['info', 'low', 'medium', 'high', 'critical', 'never']",
        ),
        ("appaudit.toml", "allow-inconclusive = 1\n", "allow-inconclusive: 1 is not of type 'boolean'"),
        (
            "appaudit.toml",
            'format = ["pdf"]\n',
            "format.0: 'pdf' does not match '^(text|json|sarif|html|markdown)(:.+)?$'",
        ),
        ("appaudit.toml", 'rules = "x"\n', "rules: 'x' is not of type 'array'"),
        ("appaudit.toml", "fail-on = \n", "invalid TOML: Invalid value (at line 1, column 11)"),
        ("pyproject.toml", '[tool]\nappaudit = "x"\n', "tool.appaudit: must be a table"),
    ],
)
def test_a_bad_configuration_is_exit_4_naming_file_and_key(
    name: str, text: str, message: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / name).write_text(text)
    for command in (["scan", fixture_apk("benign")], ["batch", fixture_apk("benign")]):
        res = run_cli(command, capsys)
        assert (res.code, res.out, res.err) == (4, "", f"appaudit: error: {project / name}: {message}\n")


def test_readme_example_is_a_valid_configuration(tmp_path: Path) -> None:
    from appaudit.config import load_config

    readme = (ROOT / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```\n", 1)[0]
    (tmp_path / "appaudit.toml").write_text(block)
    config = load_config(tmp_path / "appaudit.toml")
    assert (config.fail_on, config.allow_inconclusive, config.policies) == ("high", False, ("google-play", "india"))
    assert config.formats == ("text", f"sarif:{tmp_path / 'appaudit.sarif'}", f"json:{tmp_path / 'appaudit.json'}")
    assert config.baseline == tmp_path / ".appaudit-baseline.yaml"
