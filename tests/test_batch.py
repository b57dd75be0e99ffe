"""appaudit batch: the store holds exactly the single-scan reports; resume, rescan, inputs, export, CLI."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from appaudit.batch import BatchOptions, Planned, Scanned, export_lines, run_batch
from appaudit.batch.inputs import collect_inputs
from appaudit.errors import InputError
from appaudit.model import DATA_CLASSES
from batch_helpers import content, report_without_run, rows, scans
from conftest import ALL_FIXTURES, FIXTURES, fixture_apk, report_json, run_cli


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], Any]:
    """One batch over every fixture APK, two workers."""
    db = tmp_path_factory.mktemp("batch") / "results.sqlite"
    events: list[Any] = []
    result = run_batch([str(FIXTURES)], BatchOptions(db=db, workers=2), on_event=events.append)
    return db, events, result


def test_store_holds_the_single_scan_report_of_every_fixture(fixture_run: tuple[Path, list[Any], Any]) -> None:
    db, _events, _result = fixture_run
    stored = scans(db)
    assert sorted(stored) == [f"{n}.apk" for n in ALL_FIXTURES]
    for name in ALL_FIXTURES:
        row, report = stored[f"{name}.apk"], report_json(name)
        assert row["report"] == report_without_run(report), name
        worst = max((f["severity"] for f in report["findings"]), key=_rank, default=None)
        assert (row["status"], row["verdict"], row["error"]) == ("ok", report["verdict"], None)
        assert (row["apk_sha256"], row["package"], row["coverage"]) == (
            report["app"]["sha256"],
            report["app"]["package"],
            report["coverage"]["status"],
        )
        assert (row["max_severity"], row["max_severity_rank"]) == (worst, _rank(worst) if worst else None)


def _rank(severity: str) -> int:
    return ["info", "low", "medium", "high", "critical"].index(severity)


def test_findings_and_data_class_rows_follow_the_report(fixture_run: tuple[Path, list[Any], Any]) -> None:
    db, _events, _result = fixture_run
    findings = rows(db, "findings", "rowid")
    classes = rows(db, "data_classes", "rowid")
    for name in ALL_FIXTURES:
        report = report_json(name)
        sha = report["app"]["sha256"]
        expected = [
            (f["rule_id"], f["severity"], f["data_class"], f["effect"], int(f["dormant"]))
            + ((e["kind"], e["class"], e["method"], e["offset"], e["value"]) if e else (None,) * 5)
            for f in report["findings"]
            for e in (f["evidence"] or [None])
        ]
        got = [
            (r["rule_id"], r["severity"], r["data_class"], r["effect"], r["dormant"])
            + (r["kind"], r["class"], r["method"], r["insn_offset"], r["value"])
            for r in findings
            if r["apk_sha256"] == sha
        ]
        assert got == expected, name
        levels = [(r["data_class"], r["level"], r["exfiltrated"]) for r in classes if r["apk_sha256"] == sha]
        assert levels == [
            (dc, report["data_classes"][dc]["level"], ",".join(report["data_classes"][dc]["exfiltrated"]))
            for dc in DATA_CLASSES
        ]


def test_chains_rows_follow_the_report(fixture_run: tuple[Path, list[Any], Any]) -> None:
    db, _events, _result = fixture_run
    chains = rows(db, "chains", "rowid")
    report = report_json("contacts_const")
    sha = report["app"]["sha256"]
    expected = [
        (dc, c["channel"], c["read"]["class"], c["read"]["method"], c["sink"]["class"], c["sink"]["value"], c["urls"])
        for dc, r in report["data_classes"].items()
        for c in r["chains"]
    ]
    got = [
        (r["data_class"], r["channel"], r["read_class"], r["read_method"], r["sink_class"], r["sink"])
        + (json.loads(r["urls"]),)
        for r in chains
        if r["apk_sha256"] == sha
    ]
    assert expected and got == expected


def test_events_and_summary(fixture_run: tuple[Path, list[Any], Any]) -> None:
    _db, events, result = fixture_run
    n = len(ALL_FIXTURES)
    assert events[0] == Planned(inputs=n, to_scan=n, cached=0, duplicates=0, missing=0)
    scanned = events[1:]
    assert [e.done for e in scanned] == list(range(1, n + 1))
    assert all(isinstance(e, Scanned) and e.total == n and e.status == "ok" for e in scanned)
    s = result.summary
    verdicts: dict[str, int] = {}
    for name in ALL_FIXTURES:
        verdicts[report_json(name)["verdict"]] = verdicts.get(report_json(name)["verdict"], 0) + 1
    assert (s.inputs, s.scanned, s.cached, s.duplicates, s.by_status) == (n, n, 0, 0, {"ok": n})
    assert s.by_verdict == {v: verdicts[v] for v in s.by_verdict} and sum(s.by_verdict.values()) == n
    contacts = [report_json(name)["data_classes"]["contacts"]["level"] for name in ALL_FIXTURES]
    assert s.levels["contacts"] == {lv: contacts.count(lv) for lv in s.levels["contacts"]}
    assert sum(s.levels["contacts"].values()) == n
    rule_apks = [r for name in ALL_FIXTURES for r in {f["rule_id"] for f in report_json(name)["findings"]}]
    top = sorted({r: rule_apks.count(r) for r in rule_apks}.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert s.top_rules == tuple(top)
    assert s.failures == ()


def test_rerun_skips_everything_and_rescan_redoes_it(fixture_run: tuple[Path, list[Any], Any], tmp_path: Path) -> None:
    db, _events, first = fixture_run
    copy = tmp_path / "copy.sqlite"
    shutil.copy(db, copy)
    before = rows(copy, "scans", "path")
    events: list[Any] = []
    again = run_batch([str(FIXTURES)], BatchOptions(db=copy, workers=2), on_event=events.append)
    n = len(ALL_FIXTURES)
    assert events == [Planned(inputs=n, to_scan=0, cached=n, duplicates=0, missing=0)]
    assert rows(copy, "scans", "path") == before  # not even scanned_at changed
    assert again.outcomes == tuple(o.__class__(**{**_fields(o), "cached": True}) for o in first.outcomes)
    assert (again.summary.scanned, again.summary.cached) == (0, n)
    assert again.summary.by_verdict == first.summary.by_verdict
    assert again.summary.levels == first.summary.levels and again.summary.top_rules == first.summary.top_rules

    events.clear()
    run_batch([fixture_apk("benign")], BatchOptions(db=copy, workers=1, rescan=True), on_event=events.append)
    assert events[0] == Planned(inputs=1, to_scan=1, cached=0, duplicates=0, missing=0)
    assert content(copy) == content(db)


def _fields(o: Any) -> dict[str, Any]:
    return {name: getattr(o, name) for name in o.__slots__}


def test_another_ruleset_is_another_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    src = next((FIXTURES.parent.parent / "rules" / "contacts").glob("*.yaml"))
    text = src.read_text()
    old_id = re.search(r"^id: (\S+)", text, re.M)
    assert old_id
    (rules / "extra.yaml").write_text(text.replace(old_id.group(1), "AA-TST-900"))
    db = tmp_path / "r.sqlite"
    run_batch([fixture_apk("benign")], BatchOptions(db=db, workers=1))
    run_batch([fixture_apk("benign")], BatchOptions(db=db, workers=1, rules_dirs=(rules,)))
    keys = {(r["apk_sha256"], r["ruleset_sha256"]) for r in rows(db, "scans", "path")}
    assert len(keys) == 2 and len({sha for sha, _ in keys}) == 1


def test_inputs_directories_lists_and_duplicates(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    shutil.copy(fixture_apk("benign"), tree / "a" / "b" / "one.APK")
    shutil.copy(fixture_apk("picker"), tree / "a" / "two.xapk")
    shutil.copy(fixture_apk("picker"), tree / "same_as_two.apks")
    shutil.copy(fixture_apk("sms_receiver"), tree / "a" / "b" / "three.apkm")  # a split bundle's suffix
    (tree / "notes.txt").write_text("not an apk")
    (tree / "link").symlink_to(tree / "a", target_is_directory=True)  # not followed
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my apks\n\n{fixture_apk('sms_const')}\nmissing.apk\ntree/a/b/one.APK\n")
    noext = tmp_path / "noext"
    shutil.copy(fixture_apk("calllog"), noext)  # an APK without a suffix, sniffed as a zip

    found = collect_inputs([str(tree), str(listing), str(noext)])
    assert found.files == (
        str(tree / "a" / "b" / "one.APK"),
        str(tree / "a" / "b" / "three.apkm"),
        str(tree / "a" / "two.xapk"),
        str(tree / "same_as_two.apks"),
        fixture_apk("sms_const"),
        str(noext),
    )
    assert [(p.path, p.reason) for p in found.problems] == [(str(tmp_path / "missing.apk"), "no such file")]

    events: list[Any] = []
    result = run_batch(
        [str(tree), str(listing), str(noext)], BatchOptions(db=tmp_path / "r.sqlite", workers=2), events.append
    )
    assert events[0] == Planned(inputs=7, to_scan=5, cached=0, duplicates=1, missing=1)
    got = {Path(o.path).name: (o.status, o.verdict, o.error) for o in result.outcomes}
    assert got == {
        "one.APK": ("ok", report_json("benign")["verdict"], None),
        "three.apkm": ("ok", report_json("sms_receiver")["verdict"], None),
        "two.xapk": ("ok", report_json("picker")["verdict"], None),
        "same_as_two.apks": ("ok", report_json("picker")["verdict"], None),
        "sms_const.apk": ("ok", report_json("sms_const")["verdict"], None),
        "noext": ("ok", report_json("calllog")["verdict"], None),
        "missing.apk": ("missing", None, "no such file"),
    }
    assert len(scans(tmp_path / "r.sqlite")) == 5


def test_missing_path_and_empty_directory_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        run_batch([str(tmp_path / "nope")], BatchOptions(db=tmp_path / "r.sqlite"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no APK found \(looked for \*\.apk, \*\.apks, \*\.xapk, \*\.apkm\)"):
        run_batch([str(tmp_path / "empty")], BatchOptions(db=tmp_path / "r.sqlite"))
    binary = tmp_path / "blob"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="neither an APK"):
        run_batch([str(binary)], BatchOptions(db=tmp_path / "r.sqlite"))


def test_export_jsonl_and_csv(fixture_run: tuple[Path, list[Any], Any]) -> None:
    db, _events, _result = fixture_run
    lines = list(export_lines(db, "jsonl"))
    assert len(lines) == len(ALL_FIXTURES) and all(line.endswith("\n") for line in lines)
    docs = [json.loads(line) for line in lines]
    assert [Path(d["path"]).name for d in docs] == [f"{n}.apk" for n in ALL_FIXTURES]
    for name, doc in zip(ALL_FIXTURES, docs, strict=True):
        assert report_without_run(doc["report"]) == report_without_run(report_json(name))
        assert (doc["status"], doc["verdict"]) == ("ok", report_json(name)["verdict"])

    table = list(csv.DictReader(io.StringIO("".join(export_lines(db, "csv")))))
    assert len(table) == len(ALL_FIXTURES)
    first = table[0]
    assert list(first)[:4] == ["apk_sha256", "ruleset_sha256", "path", "status"]
    assert list(first)[-1] == "rule_ids" and "report_json" not in first
    report = report_json(ALL_FIXTURES[0])
    assert first["rule_ids"] == " ".join(sorted({f["rule_id"] for f in report["findings"]}))
    assert all(first[f"level_{dc}"] == report["data_classes"][dc]["level"] for dc in DATA_CLASSES)


def _normalize(text: str) -> str:
    return re.sub(r"\d+\.\d+ (s|APKs/s)", r"T \1", text)


def test_cli_plain_progress_summary_and_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.apk"
    garbage.write_bytes(b"not a zip")
    db = tmp_path / "r.sqlite"
    args = ["batch", fixture_apk("benign"), fixture_apk("dormant_contacts"), str(garbage), "--workers", "1"]
    res = run_cli([*args, "--db", str(db)], capsys)
    assert res.code == 0, res.err  # dormant code is low, below the default --fail-on high
    benign, dormant = report_json("benign"), report_json("dormant_contacts")
    levels = ("harvested", "exfiltrated", "bulk", "read", "dormant", "declared")
    width = max(len(dc) for dc in DATA_CLASSES)
    table = "".join(
        f"  {dc:<{width}}"
        + "".join(
            f"  {sum(r['data_classes'][dc]['level'] == lv for r in (benign, dormant)):>{len(lv)}}" for lv in levels
        )
        + "\n"
        for dc in DATA_CLASSES
    )
    rules = sorted({f["rule_id"] for r in (benign, dormant) for f in r["findings"]})
    assert _normalize(res.out) == _normalize(
        "3 inputs: 3 to scan, 0 already in the store, 0 duplicates, 0 unreadable\n"
        f"[1/3] ok {fixture_apk('benign')}: no_evidence (0.01 s)\n"
        f"[2/3] ok {fixture_apk('dormant_contacts')}: dormant_code (0.01 s)\n"
        f"[3/3] error {garbage}: not a zip archive (an APK is a zip file) (0.00 s)\n"
        "3 inputs: 3 scanned, 0 from the store, 0 duplicates; 0.5 s, 3.00 APKs/s\n"
        f"results: {db} (ruleset {rows(db, 'scans', 'path')[0]['ruleset_sha256'][:12]})\n"
        "status: ok 2, error 1\n"
        "verdict: dormant_code 1, no_evidence 1\n"
        "data class levels (APKs):\n"
        "                     harvested  exfiltrated  bulk  read  dormant  declared\n"
        + table
        + "top rules (APKs):\n"
        + "".join(f"  {rule:<14}     1\n" for rule in rules)
        + "failed (1):\n"
        f"  error {garbage}: not a zip archive (an APK is a zip file)\n"
        "appaudit: 2 APKs; 0 with a finding at or above --fail-on high: exit 0\n"
    )
    assert run_cli([*args, "--db", str(db), "--fail-on", "low"], capsys).code == 1
    assert run_cli([*args, "--db", str(db), "--fail-on", "never"], capsys).code == 0
    only_bad = run_cli(["batch", str(garbage), "--db", str(db)], capsys)
    assert only_bad.code == 3 and "status: error 1\n" in only_bad.out
    assert only_bad.out.endswith("appaudit: no input could be scanned: exit 3\n")


def test_batch_inconclusive_fails_the_default_gate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from conftest import ROOT

    packed = str(ROOT / "fixtures" / "hostile" / "packer_stub.apk")
    args = ["batch", packed, fixture_apk("benign"), "--workers", "1", "--db", str(tmp_path / "r.sqlite")]
    res = run_cli(args, capsys)
    assert res.code == 1
    assert res.out.endswith(
        "appaudit: 2 APKs; 0 with a finding at or above --fail-on high; "
        "1 inconclusive (fails the gate; --allow-inconclusive passes it): exit 1\n"
    )
    res = run_cli([*args, "--allow-inconclusive"], capsys)
    assert res.code == 0
    assert res.out.endswith(
        "appaudit: 2 APKs; 0 with a finding at or above --fail-on high; "
        "1 inconclusive, allowed (--allow-inconclusive): exit 0\n"
    )
    assert run_cli([*args, "--fail-on", "never"], capsys).code == 0


def test_cli_usage_and_input_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = ["--db", str(tmp_path / "r.sqlite")]
    assert run_cli(["batch", fixture_apk("benign"), "--executor", "dask", *db], capsys).code == 2
    assert run_cli(["batch", fixture_apk("benign"), "--scheduler", "tcp://127.0.0.1:1", *db], capsys).code == 2
    assert run_cli(["batch", fixture_apk("benign"), "--workers", "0", *db], capsys).code == 2
    missing = run_cli(["batch", str(tmp_path / "nope"), *db], capsys)
    assert (missing.code, missing.err) == (3, f"appaudit: error: {tmp_path / 'nope'}: no such file or directory\n")
    no_db = run_cli(["batch-export", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert (no_db.code, no_db.err) == (3, f"appaudit: error: {tmp_path / 'none.sqlite'}: no such results database\n")
    (tmp_path / "bad.sqlite").write_text("not a database")
    bad = run_cli(["batch", fixture_apk("benign"), "--db", str(tmp_path / "bad.sqlite")], capsys)
    assert bad.code == 4 and bad.err.startswith(f"appaudit: error: cannot use results database {tmp_path}")


def test_cli_export_to_file(
    fixture_run: tuple[Path, list[Any], Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db, _events, _result = fixture_run
    out = tmp_path / "export.jsonl"
    res = run_cli(["batch-export", "--db", str(db), "--format", "jsonl", "--output", str(out)], capsys)
    assert (res.code, res.out) == (0, "")
    assert out.read_text() == "".join(export_lines(db, "jsonl"))
    res = run_cli(["batch-export", "--db", str(db), "--format", "csv"], capsys)
    assert res.code == 0 and res.out == "".join(export_lines(db, "csv"))


def test_store_is_wal_and_schema_versioned(fixture_run: tuple[Path, list[Any], Any]) -> None:
    db, _events, _result = fixture_run
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
    finally:
        con.close()


def test_store_records_components_and_summary_top_sdks(tmp_path: Path) -> None:
    import sqlite3

    from appaudit.batch import BatchOptions
    from appaudit.batch.runner import run_batch

    db = tmp_path / "r.sqlite"
    result = run_batch(
        [fixture_apk("sdk_harvest"), fixture_apk("sdk_api_baiqishi"), fixture_apk("contacts_const")],
        BatchOptions(db=db, workers=1),
    )
    assert result.summary.top_sdks == (("baiqishi", 1), ("lenddo", 1))
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT DISTINCT component FROM findings WHERE rule_id = 'AA-CON-010' ORDER BY component"
        ).fetchall()
    assert rows == [("first_party",), ("sdk:lenddo",)]


def test_store_records_chain_dataflow_and_recovered_payloads(tmp_path: Path) -> None:
    import sqlite3

    from appaudit.batch import BatchOptions
    from appaudit.batch.runner import run_batch

    db = tmp_path / "r.sqlite"
    encrypted = str(FIXTURES.parent / "hostile" / "encrypted_payloads.apk")
    run_batch(
        [fixture_apk("chain_unrelated_upload"), fixture_apk("contacts_const"), encrypted],
        BatchOptions(db=db, workers=1),
    )
    with sqlite3.connect(db) as con:
        chains = con.execute(
            "SELECT s.package, c.data_class, c.channel, c.dataflow FROM chains c JOIN scans s "
            "USING (apk_sha256, ruleset_sha256) ORDER BY s.package, c.data_class, c.channel"
        ).fetchall()
        recovered = con.execute("SELECT r.entry, r.steps, r.size FROM recovered_payloads r ORDER BY r.entry").fetchall()
    assert chains == [
        ("com.example.fixture.chain_unrelated_upload", "sms", "network", "unconfirmed"),
        ("com.example.fixture.contacts_const", "contacts", "network", "confirmed"),
        # (the SMS payload repeats contacts_const's class names: the first DEX defining a class wins)
        ("com.example.hostile.crypt", "contacts", "network", "confirmed"),
    ]
    assert [(e, json.loads(s)[0].split(" key ")[0]) for e, s, _ in recovered] == [
        ("assets/config.json", "rc4"),
        ("assets/update.bin", "rc4 after a 4-byte length,"),
    ]
    assert recovered[0][2] == 2640


def test_every_sql_example_of_the_batch_docs_runs(fixture_run: tuple[Path, list[Any], Any]) -> None:
    import re
    import sqlite3

    from conftest import ROOT

    db, _events, _result = fixture_run
    examples = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "batch.md").read_text(), re.S)
    assert len(examples) >= 8
    with sqlite3.connect(db) as con:
        for block in examples:
            for statement in filter(str.strip, block.split(";")):
                con.execute(statement).fetchall()  # raises on a column or table the store lacks


def test_batch_gate_line_counts_inconclusive_in_the_plural() -> None:
    from appaudit.gate import Gate, batch_gate
    from appaudit.model import Severity

    result = batch_gate([("inconclusive", None), ("inconclusive", 1), ("harvests", 4)], Gate(fail_on=Severity.HIGH))
    assert (result.failed, result.line) == (
        True,
        "appaudit: 3 APKs; 1 with a finding at or above --fail-on high; "
        "2 inconclusive (fail the gate; --allow-inconclusive passes them): exit 1",
    )
    assert batch_gate([], Gate(fail_on=None)).line == "appaudit: no input could be scanned: exit 3"
