"""Handler messages and AsyncTask stages carry only what was put in them (analysis/handoff_seeds.py), and the
taint rules they need: a reply, a row id or a size is not the data (``fresh_results``), a class named
only to lock on it is no component hand-off, a Context-typed field holds no data."""

from __future__ import annotations

from appaudit.analysis.graph import is_lock
from appaudit.analysis.taint import Seeds, analyse
from appaudit.api import scan
from appaudit.report import render
from conftest import contacts_chains as _chains
from conftest import report_json, report_schema_validator
from test_taint import method

UPLOAD_SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
HARVEST = ("Harvester.harvest", 54)
F = "com.example.fixture."
MSG = ["msg_handler_upload", "msg_handler_stored", "msg_task_upload", "msg_task_reply_sms"]
INTENT = "Landroid/content/Intent;-><init>(Landroid/content/Context;Ljava/lang/Class;)V"


def _exfiltrated(name: str) -> list[str]:
    return list(report_json(name)["data_classes"]["contacts"]["exfiltrated"])


def test_handler_message_carrying_the_rows_to_an_upload() -> None:
    # Message.obtain(h, 1, rows) (+14 in onCreate: the sendMessage after it) -> handleMessage's msg.obj (+8)
    assert _chains("msg_handler_upload") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 14), ("UploadHandler.handleMessage", 8), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            [{"kind": "handler_message", "name": F + "UploadHandler", "matched_by": "name"}],
        )
    ]
    assert _exfiltrated("msg_handler_upload") == ["network"]
    assert report_json("msg_handler_upload")["verdict"] == "harvests"


def test_handler_message_with_the_row_id_of_stored_rows_is_no_upload_of_them() -> None:
    # the rows go to SQLite; the Handler is sent the row id (not the data: fresh_results) and uploads a
    # status. Only calls link the read to that upload: unconfirmed, counted because the rows were stored.
    assert _chains("msg_handler_stored") == [
        (
            "network",
            "unconfirmed",
            [HARVEST, ("MainActivity.onCreate", 62), ("StatusHandler.handleMessage", 38), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            [],
        )
    ]


def test_async_task_result_to_on_post_execute() -> None:
    # doInBackground returns the rows (+12: its return-object); the framework hands them to onPostExecute
    assert _chains("msg_task_upload") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("HarvestTask.doInBackground", 12), ("HarvestTask.onPostExecute", 6), ("Uploader.upload", 44)],
            UPLOAD_SINK,
            [{"kind": "async_task", "name": F + "HarvestTask", "matched_by": "name"}],
        )
    ]
    assert _exfiltrated("msg_task_upload") == ["network"]


def test_async_task_texting_the_servers_reply_is_no_sms_channel() -> None:
    # execute(rows) -> doInBackground uploads them (+58: getInputStream on the URL holding them); the
    # reply it returns is not the rows, so onPostExecute's sendTextMessage is linked by calls alone
    assert _chains("msg_task_reply_sms") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 14), ("PostTask.doInBackground", 58)],
            "Ljava/net/URLConnection;->getInputStream()Ljava/io/InputStream;",
            [{"kind": "async_task", "name": F + "PostTask", "matched_by": "name"}],
        ),
        (
            "sms",
            "unconfirmed",
            [HARVEST, ("MainActivity.onCreate", 14), ("PostTask.onPostExecute", 24)],
            "Landroid/telephony/SmsManager;->sendTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;"
            "Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V",
            [],
        ),
    ]
    assert _exfiltrated("msg_task_reply_sms") == ["network"]


def test_the_hand_offs_are_worded_in_every_format() -> None:
    from conftest import fixture_apk

    for name, what in (
        ("msg_handler_upload", "Handler message to com.example.fixture.UploadHandler"),
        ("msg_task_upload", "AsyncTask com.example.fixture.HarvestTask"),
    ):
        report = scan(fixture_apk(name))
        assert f"   - Through: via hand-off: {what}\n" in render(report, "markdown"), name
        assert f"    via hand-off: {what}\n" in render(report, "text"), name
        assert f"via hand-off: {what}" in render(report, "html"), name
    zh = render(scan(fixture_apk("msg_handler_upload")), "markdown", lang="zh")
    assert "Handler 消息，发往 com.example.fixture.UploadHandler" in zh


def test_msg_reports_are_valid() -> None:
    for name in MSG:
        assert list(report_schema_validator().iter_errors(report_json(name))) == [], name


# --- the taint rules the hand-offs need -------------------------------------------------------------

CONN = "Ljava/net/URLConnection;->getInputStream()Ljava/io/InputStream;"
SIZE = "Ljava/util/List;->size()I"


def _fresh(ref: str) -> bool:
    return ref in (CONN, SIZE)


def test_a_fresh_result_is_not_tainted_by_what_went_in() -> None:
    # v0 (the connection holding the data) -> getInputStream(): the reply, returned
    body = method((0, "invoke-virtual", (0,), CONN), (6, "move-result-object", (1,)), (8, "return-object", (1,)), ins=8)
    assert analyse(body, Seeds(params=frozenset({0})), fresh=_fresh).returns is False
    # without the rule the reply inherits the request's taint (the behaviour before fresh_results)
    assert analyse(body, Seeds(params=frozenset({0}))).returns is True
    # the call still had the data handed to it (its receiver): the sink in this method counts
    assert analyse(body, Seeds(params=frozenset({0})), fresh=_fresh).calls == {0: frozenset({0})}


def test_a_size_of_the_rows_is_not_a_row() -> None:
    # list.size() indexes another list: the item picked is not tainted by the rows' count
    get = "Ljava/util/List;->get(I)Ljava/lang/Object;"
    body = method(
        (0, "invoke-interface", (0,), SIZE),
        (6, "move-result", (2,)),
        (8, "invoke-interface", (1, 2), get),
        (14, "move-result-object", (3,)),
        (16, "return-object", (3,)),
        ins=8,
    )
    assert analyse(body, Seeds(params=frozenset({0})), fresh=_fresh).returns is False


def test_context_typed_fields_hold_no_data() -> None:
    ctx_field = "Lcom/x/A;->context:Landroid/content/Context;"
    other = "Lcom/x/A;->name:Ljava/lang/String;"
    body = method(
        (0, "sput-object", (0,), ctx_field),
        (4, "sput-object", (0,), other),
        (8, "sget-object", (1,), ctx_field),
        (12, "return-object", (1,)),
        ins=8,
    )
    opaque = "Landroid/content/Context;".__eq__
    flow = analyse(body, Seeds(params=frozenset({0})), opaque=opaque)
    assert (flow.fields, flow.returns) == (frozenset({other}), False)


def test_a_class_named_to_lock_on_it_is_no_hand_off() -> None:
    lock = method(
        (0, "const-class", (7,), "Lcom/x/Receiver;"),
        (4, "monitor-enter", (7,)),
        (6, "return-void", ()),
    )
    intent = method(
        (0, "const-class", (1,), "Lcom/x/Service;"),
        (4, "invoke-direct", (0, 2, 1), INTENT),
        (10, "return-void", ()),
    )
    assert (is_lock(lock, 0), is_lock(intent, 0)) == (True, False)
