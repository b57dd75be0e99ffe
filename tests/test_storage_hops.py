"""Harvesting staged through storage: chains from a read into SQLite, preferences, files and static
fields, and from there, by the name both sides use, to an upload elsewhere (analysis/stores.py)."""

from __future__ import annotations

import json

import pytest

from appaudit.analysis import store_names, stores
from appaudit.analysis.taint import Seeds, analyse
from appaudit.api import scan
from appaudit.report import render
from appaudit.report.json_v1 import to_dict
from appaudit.report.json_v1_read import from_dict
from appaudit.ruleset.flows import StoreSpec
from conftest import contacts_chains, fixture_apk, report_json, report_schema_validator

F = "com.example.fixture."
UPLOAD_SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
HARVEST = ("Harvester.harvest", 54)  # the Phone CONTENT_URI query


def _via(kind: str, name: str | None, matched_by: str = "name") -> list[dict[str, object]]:
    return [{"kind": kind, "name": name, "matched_by": matched_by}]


def test_sqlite_store_and_forward_by_a_scheduled_worker() -> None:
    # onCreate inserts the contacts into contacts_cache (+56: SQLiteDatabase.insert); the worker that
    # App.onCreate schedules queries contacts_cache (+96 in doWork: the call to Uploader.upload)
    assert contacts_chains("stage_sqlite_worker") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 56), ("UploadWorker.doWork", 96), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            _via("sqlite", "contacts_cache"),
        )
    ]
    entry = report_json("stage_sqlite_worker")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_room_dao_store_and_forward() -> None:
    # ContactDao_Impl.insert stores through its EntityInsertionAdapter (+4), whose class's createQuery()
    # is INSERT OR REPLACE INTO `contacts_cache`; getAll()'s RoomSQLiteQuery.acquire("SELECT * FROM
    # contacts_cache") (+6) reads it back, and the worker uploads what getAll returns
    assert contacts_chains("stage_room_worker") == [
        (
            "network",
            "confirmed",
            [
                HARVEST,
                ("MainActivity.onCreate", 26),
                ("ContactDao_Impl.insert", 4),
                ("ContactDao_Impl.getAll", 6),
                ("UploadWorker.doWork", 20),
                ("Uploader.upload", 44),
            ],
            UPLOAD_SINK,
            _via("sqlite", "contacts_cache"),
        )
    ]


def test_shared_preferences_cache_uploaded_on_a_later_click() -> None:
    # putString("contacts", …) at +40 in onCreate; the click listener's getString("contacts", "") is read
    assert contacts_chains("stage_prefs_click") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 40), ("MainActivity$Upload.onClick", 34), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            _via("shared_prefs", "contacts"),
        )
    ]


def test_file_staging_uploaded_by_a_job() -> None:
    # FileWriter(new File(getFilesDir(), "contacts.txt")).write(…) at +46; the JobService uploads
    # RequestBody.create(MediaType, new File(getFilesDir(), "contacts.txt")) with OkHttp (+90: newCall)
    assert contacts_chains("stage_file_job") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 46), ("UploadJob.onStartJob", 90)],
            "Lokhttp3/OkHttpClient;->newCall(Lokhttp3/Request;)Lokhttp3/Call;",
            _via("file", "contacts.txt"),
        )
    ]


def test_static_field_cache_read_by_a_receiver() -> None:
    # sput-object Cache.contacts at +14; NetReceiver.onReceive reads it (sget at +4 leads to the upload)
    assert contacts_chains("stage_static_cache") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 14), ("NetReceiver.onReceive", 4), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            _via("static_field", F + "Cache.contacts"),
        )
    ]


@pytest.mark.parametrize("name", ["stage_sqlite_other", "stage_file_other"])
def test_another_table_or_file_is_no_chain(name: str) -> None:
    # the upload reads a table ("settings") or a file ("report.txt") other than the one written
    entry = report_json(name)["data_classes"]["contacts"]
    assert (entry["chains"], entry["level"], entry["bulk"], entry["exfiltrated"]) == ([], "bulk", True, [])


def test_a_key_not_resolved_is_a_type_only_hop_and_unconfirmed() -> None:
    # the click listener's key is the clicked view's tag: only the kind links store and read
    assert contacts_chains("stage_prefs_dynamic") == [
        (
            "network",
            "unconfirmed",
            [HARVEST, ("MainActivity.onCreate", 40), ("MainActivity$Upload.onClick", 46), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            _via("shared_prefs", "contacts", "type"),
        )
    ]


def test_no_type_only_hop_when_the_kind_has_more_reads_than_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # with more candidate reads than MAX_TYPE_ONLY, which one reads the data back would be a guess
    monkeypatch.setattr(stores, "MAX_TYPE_ONLY", 0)
    doc = to_dict(scan(fixture_apk("stage_prefs_dynamic")))
    assert doc["data_classes"]["contacts"]["chains"] == []


@pytest.mark.parametrize(
    ("kind", "text", "name"),
    [
        ("sqlite", "INSERT OR REPLACE INTO `contacts_cache` (name, phone) VALUES (?, ?)", "contacts_cache"),
        ("sqlite", "select * from Contacts_Cache where sent = 0", "contacts_cache"),
        ("sqlite", "UPDATE contacts_cache SET sent = 1", "contacts_cache"),
        ("sqlite", "UPDATE OR ABORT `contacts_cache` SET `row` = ?", "contacts_cache"),
        ("sqlite", "Contacts_Cache", "contacts_cache"),
        ("sqlite", "VACUUM", "vacuum"),
        ("sqlite", "PRAGMA user_version = 3", None),
        ("file", "/sdcard/.cache/contacts.txt", "contacts.txt"),
        ("file", "contacts.txt", "contacts.txt"),
        ("shared_prefs", "Contacts", "Contacts"),
    ],
)
def test_names_as_both_sides_match_them(kind: str, text: str, name: str | None) -> None:
    # SQL names its table (case-insensitive); a file is matched by its last path component; keys as written
    spec = StoreSpec(kind=kind, put=(), get=(), sql=kind == "sqlite")
    assert store_names.normalised(spec, text) == name


def test_via_in_every_format() -> None:
    report = scan(fixture_apk("stage_sqlite_worker"))
    line = "via storage: sqlite table contacts_cache"
    assert f"    {line}\n" in render(report, "text")
    assert f"   - Through: {line}\n" in render(report, "markdown")
    assert f"<th>Through</th><td>{line}</td>" in render(report, "html")
    assert "   - 经由：经本地存储：SQLite 表 contacts_cache\n" in render(report, "markdown", lang="zh")
    flows = [f for r in json.loads(render(report, "sarif"))["runs"][0]["results"] for f in r.get("codeFlows", [])]
    assert {json.dumps(f["properties"], sort_keys=True) for f in flows} == {
        json.dumps(
            {"channel": "network", "dataflow": "confirmed", "via": _via("sqlite", "contacts_cache")}, sort_keys=True
        )
    }


def test_type_only_hop_says_so_in_the_formats() -> None:
    report = scan(fixture_apk("stage_prefs_dynamic"))
    line = "via storage: SharedPreferences key contacts (matched by type only, no shared name: weighs less)"
    assert f"   - Through: {line}\n" in render(report, "markdown")


@pytest.mark.parametrize(
    "name", ["stage_sqlite_worker", "stage_prefs_click", "stage_prefs_dynamic", "stage_file_job", "stage_static_cache"]
)
def test_reports_valid_and_read_back(name: str) -> None:
    doc = report_json(name)
    assert list(report_schema_validator().iter_errors(doc)) == []
    assert json.loads(json.dumps(to_dict(from_dict(doc)))) == doc


def test_a_static_field_is_a_store_only_when_the_data_itself_is_written() -> None:
    # v1 = data (a seeded result at +0); Cache.SENDER.send(v1) taints the singleton the field holds,
    # but only the sput of v1 into Cache.LAST stores the data
    from test_taint import method

    sender = "Lcom/x/Cache;->SENDER:Lcom/x/Sender;"
    last = "Lcom/x/Cache;->LAST:Ljava/lang/String;"
    body = method(
        (0, "invoke-static", (), "Lcom/x/Src;->data()Ljava/lang/String;"),
        (6, "move-result-object", (1,)),
        (8, "sget-object", (2,), sender),
        (12, "invoke-virtual", (2, 1), "Lcom/x/Sender;->send(Ljava/lang/String;)V"),
        (18, "sput-object", (1,), last),
        (22, "return-void", ()),
    )
    flow = analyse(body, Seeds(sites={0: (True, frozenset())}))
    assert (flow.static_puts, {sender, last} <= flow.fields) == (frozenset({18}), True)


def _built(first: str, last: str | None, call: str) -> tuple[StoreSpec, object, object]:
    """A method that builds ``first + <unknown> [+ last]`` in a StringBuilder and hands it to ``call``."""
    from test_taint import method

    steps = [
        (0, "new-instance", (0,), "Ljava/lang/StringBuilder;"),
        (4, "const-string", (1,), first),
        (8, "invoke-direct", (0, 1), "Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V"),
        (
            14,
            "invoke-virtual",
            (0, 2),
            "Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;",
        ),
        (20, "move-result-object", (0,)),
    ]
    if last is not None:
        steps += [
            (22, "const-string", (1,), last),
            (
                26,
                "invoke-virtual",
                (0, 1),
                "Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;",
            ),
            (32, "move-result-object", (0,)),
        ]
    steps += [
        (34, "invoke-virtual", (0,), "Ljava/lang/StringBuilder;->toString()Ljava/lang/String;"),
        (40, "move-result-object", (3,)),
        (42, "invoke-virtual", (4, 3), call),
    ]
    body = method(*steps, static=False, ins=3)
    kind = "file" if "File" in call else "sqlite"
    return StoreSpec(kind=kind, put=(), get=(), sql=kind == "sqlite"), body, body.insns[-1]


EXEC_SQL = "Landroid/database/sqlite/SQLiteDatabase;->execSQL(Ljava/lang/String;)V"


@pytest.mark.parametrize(
    ("first", "last", "call", "name"),
    [
        # the table is in the known start of concatenated SQL
        ("INSERT INTO contacts_cache VALUES('", "')", EXEC_SQL, "contacts_cache"),
        # the table itself is the unknown part: not resolved
        ("INSERT INTO ", None, EXEC_SQL, None),
        # a path built on an unknown directory, ending in a known file name
        ("", "/Android/contacts.txt", "Ljava/io/FileOutputStream;-><init>(Ljava/lang/String;)V", "contacts.txt"),
        ("/sdcard/", None, "Ljava/io/FileOutputStream;-><init>(Ljava/lang/String;)V", None),
    ],
)
def test_names_of_built_strings(first: str, last: str | None, call: str, name: str | None) -> None:
    spec, body, ins = _built(first, last, call)
    assert store_names.call_name(spec, body, ins) == (3, name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "stores_rows"),
    [
        ("INSERT INTO t VALUES('", True),
        ("UPDATE t SET a = '", True),
        ("CREATE TABLE ", False),
        ("DELETE FROM t ", False),
    ],
)
def test_only_storing_sql_is_a_store(first: str, stores_rows: bool) -> None:
    _spec, body, _ins = _built(first, "')", EXEC_SQL)
    assert store_names.stores_rows(body, 42, 3) is stores_rows  # type: ignore[arg-type]
