"""appaudit families: exact families of the fixture store, scoring, the store migration, outputs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from appaudit.families.group import group, score
from appaudit.families.model import AppNode, Key, Reason
from appaudit.families.render import render_html
from conftest import fixture_apk, run_cli

STORE_APPS = ("family_a", "family_b", "family_obfuscated", "family_same_host", "sms_inbox")
FAMILY = ["com.example.fixture.family_a", "com.example.fixture.family_b", "com.example.fixture.family_obfuscated"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from appaudit.batch import BatchOptions
    from appaudit.batch.runner import run_batch

    db = tmp_path_factory.mktemp("families") / "results.sqlite"
    run_batch([fixture_apk(n) for n in STORE_APPS], BatchOptions(db=db, workers=1))
    return db


def _families(doc: dict) -> list[list[str]]:
    return [[a["package"] for a in sorted(f["apps"], key=lambda a: a["package"])] for f in doc["families"]]


def test_default_threshold_groups_the_shared_routine(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["families", "--db", str(store), "--format", "json"], capsys)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert _families(doc) == [FAMILY]
    assert (doc["apps_total"], doc["apps_without_keys"], doc["common_keys"]) == (5, 0, 0)
    family = doc["families"][0]
    assert [(x["score"], x["reasons"]) for x in family["links"]] == [(1.0, ["chain", "read", "endpoint"])] * 3
    assert [(s["reason"], s["value"], s["apps"]) for s in family["shared"]][2:] == [
        ("endpoint", "api.dana-kilat.invalid/v1/contacts/{n}", 3),
        ("host", "api.dana-kilat.invalid", 3),
    ]


def test_a_shared_host_alone_joins_at_its_weight(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(run_cli(["families", "--db", str(store), "-f", "json", "--min-score", "0.4"], capsys).out)
    assert _families(doc) == [[*FAMILY, "com.example.fixture.family_same_host"]]
    assert sorted(x["score"] for x in doc["families"][0]["links"]) == [0.4, 0.4, 0.4, 1.0, 1.0, 1.0]
    # every key is shared by more apps than 2 allows: nothing links
    doc = json.loads(run_cli(["families", "--db", str(store), "-f", "json", "--max-shared", "2"], capsys).out)
    assert (doc["families"], doc["common_keys"]) == ([], 4)


def test_text_output(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(["families", "--db", str(store)], capsys).out.splitlines()
    assert out[0] == (
        "1 family among 5 apps (links scoring at least 0.5; keys shared by more than 200 apps ignored: 0; "
        "apps with no linking key: 0)"
    )
    assert out[2] == "family 1: 3 apps"
    assert out[6].endswith("score 1: same chain code, same read code, same endpoint")
    assert out[-1] == "  shared same endpoint host: api.dana-kilat.invalid in 3 apps"


def test_one_apk_against_the_store(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # contacts_const is not in the store: it links to sms_inbox by their shared upload endpoint
    doc = json.loads(run_cli(["families", fixture_apk("contacts_const"), "--db", str(store), "-f", "json"], capsys).out)
    assert _families(doc) == [["com.example.fixture.contacts_const", "com.example.fixture.sms_inbox"]]
    assert [x["reasons"] for x in doc["families"][0]["links"]] == [["endpoint"]]
    # an APK already in the store is matched by its hash
    doc = json.loads(run_cli(["families", fixture_apk("family_b"), "--db", str(store), "-f", "json"], capsys).out)
    assert (_families(doc), doc["apps_total"]) == ([FAMILY], 5)
    doc = json.loads(run_cli(["families", fixture_apk("benign"), "--db", str(store), "-f", "json"], capsys).out)
    assert _families(doc) == [["com.example.fixture.benign"]] and doc["families"][0]["links"] == []


def test_html_is_one_escaped_page() -> None:
    apps = [
        AppNode(sha256="a" * 64, package="<script>alert(1)</script>", path="/x/&.apk", verdict="harvests"),
        AppNode(sha256="b" * 64, package="b", path="b", verdict="harvests"),
    ]
    keys = [(Key(reason=Reason.ENDPOINT, value='h.invalid/"><img'), i) for i in (0, 1)]
    page = render_html(group(apps, keys, min_score=0.5, max_shared=200), report_url="http://127.0.0.1:8001/r/")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/x/&amp;.apk" in page and "h.invalid/&quot;&gt;&lt;img" in page
    assert f'href="http://127.0.0.1:8001/r/{"a" * 64}"' in page and page.startswith("<!DOCTYPE html>")


def test_scoring_signer_and_sdk_set() -> None:
    assert score([Reason.READ, Reason.ENDPOINT]) == 0.88 and score([Reason.HOST]) == 0.4
    apps = [AppNode(sha256=c * 64, package=c, path=c, verdict="") for c in "abcd"]
    sdk = Key(reason=Reason.SDK_SET, value="s")
    keys = [(sdk, i) for i in range(4)]  # an SDK set alone links nothing
    keys += [(Key(reason=Reason.HOST, value="h"), 0), (Key(reason=Reason.HOST, value="h"), 1)]
    keys += [(Key(reason=Reason.SIGNER, value="k"), 2), (Key(reason=Reason.SIGNER, value="k"), 3)]
    result = group(apps, keys, min_score=0.45, max_shared=200)
    assert [[a.package for a in f.apps] for f in result.families] == [["a", "b"], ["c", "d"]]
    assert [(x.score, x.reasons) for f in result.families for x in f.links] == [
        (0.46, (Reason.HOST, Reason.SDK_SET)),
        (0.82, (Reason.SIGNER, Reason.SDK_SET)),
    ]
    assert result.apps_without_keys == 0


def _downgrade_to_v3(db: Path) -> None:
    con = sqlite3.connect(db)
    con.executescript(
        "DROP VIEW apps; DROP TABLE fingerprints; DROP TABLE endpoints; DROP TABLE family_members;"
        "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
    )
    con.close()


def test_schema_3_store_is_refused_read_only_and_migrated_by_a_writer(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.sqlite"
    shutil.copy(store, old)
    _downgrade_to_v3(old)
    res = run_cli(["families", "--db", str(old)], capsys)
    assert res.code == 4
    assert "results schema version 3 has no fingerprint tables; migrate it once with `appaudit families --db" in res.err
    expected = run_cli(["families", "--db", str(store), "-f", "json"], capsys).out
    res = run_cli(["families", "--db", str(old), "-f", "json", "--save"], capsys)
    assert (res.code, res.out) == (0, expected)  # back-filled from the stored reports
    con = sqlite3.connect(old)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
        rows = con.execute(
            "SELECT package, family, family_size FROM apps WHERE family IS NOT NULL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(p, 1, 3) for p in FAMILY]


def test_older_store_is_refused(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "v2.sqlite"
    shutil.copy(store, old)
    con = sqlite3.connect(old)
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    res = run_cli(["families", "--db", str(old), "--save"], capsys)
    assert res.code == 4
    assert (
        "results schema version 2, this appaudit uses 4 (and migrates only version 3): scan into a new --db" in res.err
    )
    assert run_cli(["families", "--db", str(tmp_path / "none.sqlite")], capsys).code == 3
    assert run_cli(["families", fixture_apk("benign"), "--db", str(store), "--save"], capsys).code == 2


def test_streamed_json_is_the_document(store: Path) -> None:
    from appaudit.families.api import store_families
    from appaudit.families.render import iter_json, render_json, to_dict

    for min_score in (0.5, 1.0, 0.4):
        result = store_families(store, min_score=min_score)
        assert json.loads(render_json(result)) == to_dict(result)
    empty = store_families(store, max_shared=2)
    assert json.loads("".join(iter_json(empty)))["families"] == [] == to_dict(empty)["families"]
