"""A SQLite table's rows are read back where the app reads its database's whole file
(analysis/db_files.py): the data search hops from the insert to the file read (``database_file``)."""

from __future__ import annotations

import json

from appaudit.analysis.db_files import DatabaseFiles, file_name_key, read_names
from appaudit.analysis.graph import CallGraph
from appaudit.api import scan
from appaudit.apk import load_apk
from appaudit.model import MethodId
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import contacts_chains, fixture_apk, report_json

F = "com.example.fixture."
SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
INSERT = "Landroid/database/sqlite/SQLiteDatabase;->insert("
READ = "Ljava/io/FileInputStream;-><init>(Ljava/io/File;)V"
HOP = [{"kind": "database_file", "name": "harvest.db", "matched_by": "name"}]


def _names(fixture: str, cls: str, method: str, call: str) -> list[tuple[int, tuple[str, ...]]]:
    """(offset, names) of each ``call`` in ``cls.method``: the database an insert writes (``INSERT``),
    or the database files a file read reads."""
    code = load_apk(fixture_apk(fixture)).code
    body = code.method_code(F + cls, method)
    assert body is not None
    graph = CallGraph(code, load_ruleset().flows)
    node = MethodId(class_name=F + cls, method=method)
    return [
        (i.offset, DatabaseFiles(graph).database_of(node, body, i) if call == INSERT else read_names(body, i))
        for i in body.insns
        if i.ref and i.ref.startswith(call)
    ]


def test_the_database_an_open_helper_writes_is_its_constructors_name() -> None:
    assert _names("dbf_dbfile", "Store", "save(Ljava/lang/String;)V", INSERT) == [(34, ("harvest.db",))]


def test_a_file_read_names_the_database_of_its_path() -> None:
    # getDatabasePath("harvest.db"); a path built on the data directory with a name chosen on a switch
    assert _names("dbf_dbfile", "Sync", "send(Landroid/content/Context;)V", READ) == [(16, ("harvest.db",))]
    assert _names("dbf_dbpath", "Sync", "upload(Landroid/content/Context;I)V", READ) == [
        (90, ("settings.db", "harvest.db"))
    ]
    assert _names("dbf_otherfile", "Sync", "send(Landroid/content/Context;)V", READ) == [(16, ("settings.db",))]
    # a file that is no database's: the shared uploader reads none
    assert _names("dbf_dbfile", "Uploader", "upload(Ljava/lang/String;)V", READ) == []


def test_file_names_match_by_last_component_without_case() -> None:
    assert [file_name_key(n) for n in ("harvest.db", "/data/x/databases/Harvest.DB", "dir/")] == [
        "harvest.db",
        "harvest.db",
        "dir",
    ]


def test_rows_uploaded_as_the_database_file_are_confirmed() -> None:
    steps = [("Harvester.harvest", 54), ("MainActivity.onCreate", 24), ("Store.save", 34)]
    assert contacts_chains("dbf_dbfile") == [
        ("network", "confirmed", [*steps, ("Sync.send", 50), ("Uploader.upload", 44)], SINK, HOP)
    ]
    assert contacts_chains("dbf_dbpath") == [
        ("network", "confirmed", [*steps, ("Sync.upload", 124), ("Uploader.upload", 44)], SINK, HOP)
    ]
    entry = report_json("dbf_dbfile")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"], report_json("dbf_dbfile")["verdict"]) == (
        "harvested",
        ["network"],
        "harvests",
    )


def test_another_database_file_uploaded_is_no_hop() -> None:
    # the upload is reached by calls alone; it counts only because the rows went into storage
    assert contacts_chains("dbf_otherfile") == [
        (
            "network",
            "unconfirmed",
            [("Harvester.harvest", 54), ("MainActivity.onCreate", 30), ("Sync.send", 50), ("Uploader.upload", 44)],
            SINK,
            [],
        )
    ]


def test_database_file_hop_in_every_format() -> None:
    report = scan(fixture_apk("dbf_dbfile"))
    line = "via storage: database file harvest.db"
    assert f"    {line}\n" in render(report, "text")
    assert f"   - Through: {line}\n" in render(report, "markdown")
    assert f"<th>Through</th><td>{line}</td>" in render(report, "html")
    assert "   - 经由：经本地存储：数据库文件 harvest.db\n" in render(report, "markdown", lang="zh")
    flows = [f for r in json.loads(render(report, "sarif"))["runs"][0]["results"] for f in r.get("codeFlows", [])]
    assert {json.dumps(f["properties"], sort_keys=True) for f in flows} == {
        json.dumps({"channel": "network", "dataflow": "confirmed", "via": HOP}, sort_keys=True)
    }
