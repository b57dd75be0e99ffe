"""`appaudit rules list|show|validate|docs`, and docs/rules kept in step with the rule YAML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appaudit.ruleset import load_ruleset
from appaudit.ruleset.docs import GENERATED_NOTE, stale_docs
from conftest import ROOT, run_cli

DOCS = ROOT / "docs" / "rules"


def test_docs_rules_is_up_to_date() -> None:
    stale = stale_docs(load_ruleset().every_rule, DOCS)
    assert stale == [], f"docs/rules is stale ({', '.join(stale)}): run `appaudit rules docs docs/rules`"


def test_every_rule_has_a_page_with_every_section() -> None:
    for rule in load_ruleset().every_rule:
        page = (DOCS / f"{rule.id}.md").read_text()
        assert page.startswith(f"# {rule.id}: {rule.title}\n{GENERATED_NOTE}\n")
        for heading in ("## What it finds", "## Why it matters", "## Example", "## What a compliant app does"):
            assert f"\n{heading}\n" in page
        assert all(f"- [{ref.title}]({ref.url})" in page for ref in rule.references)
    index = (DOCS / "README.md").read_text()
    assert index.count("\n| [AA-") == len(load_ruleset().every_rule)


def test_rules_docs_check_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(["rules", "docs", str(DOCS), "--check"], capsys).code == 0
    out = tmp_path / "docs"
    res = run_cli(["rules", "docs", str(out)], capsys)
    n = len(load_ruleset().every_rule)
    assert (res.code, res.out) == (0, f"{out}: {n} rules, {n + 1} files updated\n")
    assert run_cli(["rules", "docs", str(out), "--check"], capsys).code == 0
    (out / "AA-CON-001.md").write_text((out / "AA-CON-001.md").read_text() + "edited\n")
    (out / "AA-OLD-001.md").write_text(f"# old\n{GENERATED_NOTE}\n")  # a rule that no longer exists
    (out / "notes.md").write_text("hand-written, not generated\n")
    res = run_cli(["rules", "docs", str(out), "--check"], capsys)
    assert res.code == 1
    assert res.err == (
        f"appaudit: stale: {out / 'AA-CON-001.md'}\n"
        f"appaudit: stale: {out / 'AA-OLD-001.md'}\n"
        "appaudit: run `appaudit rules docs docs/rules` to update\n"
    )
    res = run_cli(["rules", "docs", str(out)], capsys)
    assert res.out == f"{out}: {n} rules, 2 files updated\n"
    assert not (out / "AA-OLD-001.md").exists() and (out / "notes.md").is_file()
    assert run_cli(["rules", "docs", str(out), "--check"], capsys).code == 0


def test_rules_list(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["rules", "list"], capsys)
    lines = res.out.splitlines()
    assert res.code == 0 and len(lines) == len(load_ruleset().every_rule)
    assert "AA-CON-002  high      contacts           Code reads a contacts provider URI constant" in lines


def test_rules_show(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["rules", "show", "aa-con-002"], capsys)
    assert res.code == 0
    assert res.out == (DOCS / "AA-CON-002.md").read_text().replace(f"{GENERATED_NOTE}\n", "")
    res = run_cli(["rules", "show", "AA-XXX-999"], capsys)
    assert res.code == 2 and "no rule 'AA-XXX-999'" in res.err


def test_rules_show_extra_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = ROOT / "rules" / "contacts" / "contacts-permission.yaml"
    (tmp_path / "mine.yaml").write_text(src.read_text().replace("AA-CON-001", "AA-ZZZ-001"))
    assert run_cli(["rules", "show", "AA-ZZZ-001"], capsys).code == 2
    res = run_cli(["rules", "show", "AA-ZZZ-001", "--rules", str(tmp_path)], capsys)
    assert res.code == 0 and res.out.startswith("# AA-ZZZ-001: Declares READ_CONTACTS\n")


# --- rules validate: the exit-code table ------------------------------------------------------


def test_validate_bundled_pack(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["rules", "validate", str(ROOT / "rules")], capsys)
    assert (res.code, res.out) == (0, f"{ROOT / 'rules'}: {len(load_ruleset().every_rule)} rules valid\n")


def test_validate_own_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = ROOT / "rules" / "contacts" / "contacts-permission.yaml"
    (tmp_path / "mine.yaml").write_text(src.read_text().replace("AA-CON-001", "AA-ZZZ-001"))
    res = run_cli(["rules", "validate", str(tmp_path)], capsys)
    assert (res.code, res.out) == (0, f"{tmp_path}: 1 rules valid\n")


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"bad.yaml": "id: AA-XXX-001\nname: bad\n"}, "{d}/bad.yaml: (top level): 'title' is a required property"),
        ({"bad.yaml": "id: [\n"}, "{d}/bad.yaml: line 2: invalid YAML"),
        ({}, "{p}: (directory): no rule files (*.yaml, *.yml) found"),
        ({"dup.yaml": "SAME_AS_BUNDLED"}, "{d}/dup.yaml: id: duplicate rule id AA-CON-001 (also in rules/contacts/"),
    ],
)
def test_validate_invalid_exit_4(
    files: dict[str, str], error: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = (ROOT / "rules" / "contacts" / "contacts-permission.yaml").read_text()
    for name, text in files.items():
        (tmp_path / name).write_text(src if text == "SAME_AS_BUNDLED" else text)
    res = run_cli(["rules", "validate", str(tmp_path)], capsys)
    assert res.code == 4 and res.out == ""
    assert res.err.startswith("appaudit: error: " + error.format(d=tmp_path.name, p=tmp_path))


def test_validate_one_bad_rule_in_a_copy_of_the_pack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "rules", pack)
    target = pack / "sms" / "sms-permission.yaml"
    target.write_text(target.read_text().replace("severity: medium", "severity: severe"))
    res = run_cli(["rules", "validate", str(pack)], capsys)
    assert res.code == 4
    assert res.err.startswith("appaudit: error: pack/sms/sms-permission.yaml: severity: 'severe' is not one of")


def test_validate_usage_and_missing_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(["rules", "validate"], capsys).code == 2
    assert run_cli(["rules"], capsys).code == 2  # no sub-command: help, as a usage error
    res = run_cli(["rules", "validate", str(tmp_path / "nope")], capsys)
    assert (res.code, res.err) == (
        4,
        f"appaudit: error: {tmp_path / 'nope'}: (directory): rule directory does not exist\n",
    )
