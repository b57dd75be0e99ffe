"""Bad declaration input: one line and exit 3, an unknown row warned about, user phrase lists, the layer rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from appaudit.analysis.facts import HarvestChain
from appaudit.declarations.compare import Declared, contradictions
from appaudit.declarations.form import form_to_data_safety
from appaudit.declarations.limits import MAX_DECLARATION_BYTES
from appaudit.declarations.play_csv import HEADER
from appaudit.model import DATA_CLASSES, Evidence, Level
from appaudit.report.model import DataClassResult
from appaudit.ruleset import load_ruleset
from conftest import ROOT, fixture_apk, run_cli

APK = fixture_apk("contacts_const")


def _one_line_error(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    result = run_cli(["scan", APK, "-f", "json", *args], capsys)
    assert result.code == 3
    assert result.out == ""
    assert result.err == f"appaudit: error: {expected}\n"


def test_csv_that_is_not_a_data_safety_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "sales.csv"
    bad.write_text("date,amount\n2026-01-01,3\n")
    _one_line_error(
        capsys,
        ["--data-safety", str(bad)],
        f"{bad}: not a Google Play Data safety CSV (the header must be: {','.join(HEADER)})",
    )


def test_csv_with_a_row_of_too_many_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "ds.csv"
    bad.write_text(",".join(HEADER) + "\nPSL_DATA_TYPES_CONTACTS,PSL_CONTACTS,true,MULTIPLE_CHOICE,Contacts,extra\n")
    _one_line_error(capsys, ["--data-safety", str(bad)], f"{bad}: line 2: 6 columns, a Data safety CSV has 5")


def test_oversized_declaration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "ds.csv"
    big.write_bytes(b"x" * (MAX_DECLARATION_BYTES + 1))
    _one_line_error(
        capsys,
        ["--data-safety", str(big)],
        f"{big}: Data safety CSV: {MAX_DECLARATION_BYTES + 1} bytes, "
        f"more than the limit of {MAX_DECLARATION_BYTES} bytes",
    )


def test_missing_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = tmp_path / "nope.txt"
    expected = f"{gone}: privacy policy: cannot be read: No such file or directory"
    _one_line_error(capsys, ["--privacy-policy", str(gone)], expected)


def test_form_that_breaks_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "ds.yaml"
    bad.write_text("declaration: 1\ndata:\n  contacts: {shared: true}\n")
    expected = f"{bad}: declaration form: data.contacts: 'collected' is a required property"
    _one_line_error(capsys, ["--data-safety", str(bad)], expected)


def test_form_with_yaml_aliases_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "ds.yaml"
    bad.write_text("declaration: 1\ndata:\n  contacts: &c {collected: true}\n  sms: *c\n")
    _one_line_error(capsys, ["--data-safety", str(bad)], f"{bad}: declaration form: YAML aliases are not allowed")


def test_damaged_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "policy.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    result = run_cli(["scan", APK, "-f", "json", "--privacy-policy", str(bad)], capsys)
    assert result.code == 3 and result.out == ""
    assert result.err.startswith(f"appaudit: error: {bad}: privacy policy: not a readable PDF (")
    assert result.err.count("\n") == 1


def test_unknown_question_id_is_warned_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds.csv"
    ds.write_text(
        ",".join(HEADER)
        + "\nPSL_DATA_COLLECTION_COLLECTS_PERSONAL_DATA,,true,REQUIRED,Collects?"
        + "\nPSL_NEW_QUESTION_2027,,true,REQUIRED,A question added later"
        + "\nPSL_DATA_TYPES_CONTACTS,PSL_CONTACTS,,MULTIPLE_CHOICE,Contacts\n"
    )
    result = run_cli(["scan", APK, "-f", "json", "--data-safety", str(ds), "--fail-on", "never"], capsys)
    assert result.code == 0
    assert result.err == f"appaudit: warning: {ds}:3: unknown question id 'PSL_NEW_QUESTION_2027' (skipped)\n"
    assert '"rule_id": "AA-DEC-001"' in result.out


def _result(level: Level, chains: tuple[HarvestChain, ...] = ()) -> DataClassResult:
    return DataClassResult(
        declared=True,
        permissions=("android.permission.READ_SMS",),
        read=True,
        dormant=False,
        level=level,
        severity=None,
        rule_ids=(),
        bulk=True,
        exfiltrated=tuple(sorted({c.channel for c in chains})),
        chains=chains,
    )


def test_ephemeral_but_stored() -> None:
    body = "Landroid/telephony/SmsMessage;->getMessageBody()Ljava/lang/String;"
    read = Evidence(kind="invoke", value=body, class_name="a.R", method="r()V")
    sink = Evidence(kind="invoke", value="Ljava/io/FileOutputStream;->write([B)V", class_name="a.W", method="w()V")
    chain = HarvestChain(data_class="sms", read=read, steps=(), channel="storage", sink=sink, dataflow="confirmed")
    classes = {dc: _result(Level.NONE) for dc in DATA_CLASSES}
    classes["sms"] = _result(Level.EXFILTRATED, (chain,))
    ds = form_to_data_safety({"declaration": 1, "data": {"sms": {"collected": True, "ephemeral": True}}}, "f.yaml")
    rules = load_ruleset().declaration_rules
    found, rows = contradictions(rules, Declared(data_safety=ds, policy=None), classes, (), frozenset())
    assert [(f.rule_id, f.data_class, f.severity.label) for f in found] == [("AA-DEC-004", "sms", "medium")]
    assert [e.kind for e in found[0].evidence] == ["declaration", "invoke", "sink"]
    assert found[0].evidence[2].text == "storage: Ljava/io/FileOutputStream;->write([B)V"
    # stored but declared as not ephemeral: no contradiction
    ds2 = form_to_data_safety({"declaration": 1, "data": {"sms": {"collected": True, "ephemeral": False}}}, "f.yaml")
    assert contradictions(rules, Declared(data_safety=ds2, policy=None), classes, (), frozenset())[0] == ()


def test_user_phrase_list_extends_a_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "myrules"
    (rules / "declarations" / "phrases").mkdir(parents=True)
    (rules / "declarations" / "phrases" / "en.yaml").write_text(
        "language: en\nname: English\nword_boundaries: true\nclasses:\n  contacts: [people you know]\n"
        "collected: []\nshared: []\ndenials: []\n"
    )
    policy = tmp_path / "p.txt"
    policy.write_text("We upload the names of people you know.\n")
    base = ["scan", APK, "-f", "json", "--fail-on", "never", "--privacy-policy", str(policy)]
    assert '"rule_id": "AA-DEC-006"' in run_cli(base, capsys).out
    assert '"rule_id": "AA-DEC-006"' not in run_cli([*base, "--rules", str(rules)], capsys).out
    rs = load_ruleset([rules])
    (en,) = [p for p in rs.policy_phrases if p.language == "en"]
    assert dict(en.classes)["contacts"][-1] == "people you know"


def test_declaration_rule_outside_its_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "r"
    rules.mkdir()
    text = (ROOT / "rules" / "declarations" / "rules" / "policy-silent.yaml").read_text()
    text = text.replace("AA-DEC-006", "AA-DEC-900")
    (rules / "x.yaml").write_text(text)
    result = run_cli(["scan", APK, "--rules", str(rules)], capsys)
    assert result.code == 4
    assert result.err == "appaudit: error: r/x.yaml: match: declaration rules belong in declarations/rules/\n"


def test_batch_finds_declarations_by_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shutil

    from appaudit.batch import BatchOptions, export_lines, run_batch

    decl = tmp_path / "decl"
    decl.mkdir()
    shutil.copy(
        ROOT / "tests" / "declarations" / "console_hides_contacts.csv", decl / "com.example.fixture.contacts_const.csv"
    )
    shutil.copy(
        ROOT / "tests" / "declarations" / "policy_zh_denies.html",
        decl / "com.example.fixture.startup_harvest.policy.html",
    )
    apks = [fixture_apk("contacts_const"), fixture_apk("startup_harvest"), fixture_apk("benign")]
    db = tmp_path / "r.sqlite"
    result = run_batch(apks, BatchOptions(db=db, workers=1, declarations_dir=decl))
    got = {Path(o.path).stem: sorted(r for r in o.rule_ids if r.startswith("AA-DEC-")) for o in result.outcomes}
    assert got == {"contacts_const": ["AA-DEC-001"], "startup_harvest": ["AA-DEC-007"], "benign": []}
    docs = {Path(d["path"]).stem: d["report"] for d in map(json.loads, export_lines(db, "jsonl"))}
    assert docs["contacts_const"]["declarations"]["classes"]["contacts"]["declared"] == "not collected"
    assert "declarations" not in docs["benign"]
    # an edited declaration is another store key: the app is scanned again
    (decl / "com.example.fixture.contacts_const.csv").unlink()
    again = run_batch(apks, BatchOptions(db=db, workers=1, declarations_dir=decl))
    assert {Path(o.path).stem: [r for r in o.rule_ids if r.startswith("AA-DEC-")] for o in again.outcomes} == {
        "contacts_const": [],
        "startup_harvest": ["AA-DEC-007"],
        "benign": [],
    }
    cli = run_cli(
        ["batch", fixture_apk("benign"), "--db", str(tmp_path / "c.sqlite"), "--declarations", str(decl)], capsys
    )
    assert cli.code == 0
