"""Sinks that really leave the device (issue 12 item 3): in-app look-alikes, per-argument sink roles,
messages sent to the people read, and the channel of a bulk read whose data never reaches the upload."""

from __future__ import annotations

from dataclasses import replace

from appaudit.analysis.facts import HarvestChain, HarvestFacts, ProviderAccess, counted_chains
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.prefixes import string_prefixes
from appaudit.analysis.sinks import data_positions
from appaudit.apk.dex.types import Insn
from appaudit.apk.loader import load_apk
from appaudit.model import Channel, Dataflow, Evidence, EvidenceKind, MethodId
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk, report_json
from test_taint import POST, method, read_then, seeded

F = "com.example.fixture."
SB = "Ljava/lang/StringBuilder;"
SEND_TEXT = (
    "Landroid/telephony/SmsManager;->sendTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;"
    "Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V"
)
QUERY = (
    "Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;"
    "[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;"
)


def _dc(name: str, dc: str) -> dict:
    return report_json(name)["data_classes"][dc]


def _steps(chain: dict) -> list[str]:
    return [s["class"].removeprefix(F) + "." + s["method"].split("(")[0] for s in chain["steps"]]


def _evidence(name: str, rule_id: str) -> list[tuple[str, str | None, str | None, int | None, str]]:
    (finding,) = [f for f in report_json(name)["findings"] if f["rule_id"] == rule_id]
    return [(e["kind"], e["class"], e["method"], e["offset"], e["value"]) for e in finding["evidence"]]


# ------------------------------------------------------------------ WebView
def test_javascript_url_and_evaluate_javascript_stay_in_the_app() -> None:
    entry = _dc("sink_webview_js", "contacts")
    assert (entry["level"], entry["chains"], entry["exfiltrated"]) == ("bulk", [], [])
    assert sorted(entry["rule_ids"]) == ["AA-CON-001", "AA-CON-002", "AA-CON-012", "AA-CON-013"]


def test_data_in_a_remote_url_leaves_by_the_network() -> None:
    entry = _dc("sink_webview_remote", "contacts")
    (chain,) = entry["chains"]
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == (
        "network",
        "confirmed",
        ["Harvester.names", "MainActivity.onCreate"],
    )
    assert chain["sink"]["value"] == "Landroid/webkit/WebView;->loadUrl(Ljava/lang/String;)V"
    assert chain["urls"] == ["https://collector.invalid/c?d="]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_data_in_a_post_body_leaves_by_the_network() -> None:
    entry = _dc("sink_webview_post", "contacts")
    (chain,) = entry["chains"]
    assert (chain["channel"], chain["dataflow"]) == ("network", "confirmed")
    assert chain["sink"]["value"] == "Landroid/webkit/WebView;->postUrl(Ljava/lang/String;[B)V"
    assert chain["urls"] == ["https://collector.invalid/c"]
    assert entry["exfiltrated"] == ["network"]


# ------------------------------------------------------------------ SMS
def test_sms_to_every_contact_is_messaging_not_exfiltration() -> None:
    entry = _dc("sms_blast", "contacts")
    assert (entry["level"], entry["chains"], entry["exfiltrated"]) == ("bulk", [], [])
    assert "AA-CON-011" not in entry["rule_ids"]
    assert _evidence("sms_blast", "AA-CON-020") == [
        ("invoke", F + "Harvester", "blast(Landroid/content/Context;)V", 34, QUERY),
        ("sink", F + "Harvester", "blast(Landroid/content/Context;)V", 86, "sms: " + SEND_TEXT),
    ]


def test_contacts_in_the_sms_text_leave_by_sms() -> None:
    entry = _dc("sink_sms_body", "contacts")
    (chain,) = entry["chains"]
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == ("sms", "confirmed", ["Harvester.forward"])
    assert chain["sink"]["value"] == SEND_TEXT
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["sms"])
    assert "AA-CON-011" in entry["rule_ids"] and "AA-CON-020" not in entry["rule_ids"]


# ------------------------------------------------------------------ unrelated upload
def test_call_log_on_screen_beside_an_unrelated_upload_stays_on_the_device() -> None:
    entry = _dc("sink_calllog_screen", "call_log")
    (chain,) = entry["chains"]  # the upload is linked by calls only: evidence, not the data's channel
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == (
        "network",
        "unconfirmed",
        ["Harvester.numbers", "MainActivity.onCreate", "Uploader.upload"],
    )
    assert (entry["level"], entry["bulk"], entry["exfiltrated"]) == ("bulk", True, [])
    assert "AA-CLG-011" not in entry["rule_ids"] and "AA-CLG-010" not in entry["rule_ids"]
    assert report_json("sink_calllog_screen")["verdict"] == "at_risk"


def _facts(dataflow: Dataflow, untracked: tuple[str, ...]) -> HarvestFacts:
    read = Evidence(kind=EvidenceKind.INVOKE, value=QUERY, class_name="com.x.A", method="m()V", offset=4)
    sink = Evidence(kind=EvidenceKind.INVOKE, value=POST, class_name="com.x.B", method="n()V", offset=8)
    chain = HarvestChain(
        data_class="call_log", read=read, steps=(), channel=Channel.NETWORK, sink=sink, dataflow=dataflow
    )
    access = ProviderAccess(data_class="call_log", uri="content://call_log/calls", how="string", evidence=read)
    return HarvestFacts(accesses=(access,), chains=(chain,), untracked=untracked)


def test_calls_only_chain_of_a_bulk_read_counts_only_when_the_data_was_lost() -> None:
    assert counted_chains(_facts(Dataflow.UNCONFIRMED, ()), "call_log") == ()
    lost = _facts(Dataflow.UNCONFIRMED, ("call_log",))
    assert counted_chains(lost, "call_log") == lost.chains
    confirmed = _facts(Dataflow.CONFIRMED, ())
    assert counted_chains(confirmed, "call_log") == confirmed.chains


# ------------------------------------------------------------------ units
def test_string_prefixes_through_builders_and_concat() -> None:
    body = method(
        (0, "const-string", (0,), "javascript:show("),
        (4, "new-instance", (1,), SB),
        (8, "invoke-direct", (1, 0), SB[:-1] + ";-><init>(Ljava/lang/String;)V"),
        (14, "invoke-virtual", (1, 5), SB + "->append(Ljava/lang/String;)Ljava/lang/StringBuilder;"),
        (20, "invoke-virtual", (1,), SB + "->toString()Ljava/lang/String;"),
        (26, "move-result-object", (2,)),
        (28, "const-string", (3,), "https://x.invalid/"),
        (32, "invoke-virtual", (3, 5), "Ljava/lang/String;->concat(Ljava/lang/String;)Ljava/lang/String;"),
        (38, "move-result-object", (4,)),
        (40, "return-void", ()),
    )
    js, web = "javascript:show(", "https://x.invalid/"
    assert string_prefixes(body, 40) == {0: js, 1: js, 2: js, 3: web, 4: web}


def test_data_positions_count_the_receiver_and_wide_parameters() -> None:
    send_data = Insn(
        offset=0,
        op="invoke-virtual/range",
        opcode=0x74,
        length=3,
        regs=(0, 1, 2, 3, 4, 5, 6),
        ref="Landroid/telephony/SmsManager;->sendDataMessage(Ljava/lang/String;Ljava/lang/String;S[B"
        "Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V",
    )
    assert data_positions(send_data, (3,)) == frozenset({4})
    wide = replace(send_data, op="invoke-static", ref="Lc;->m(JLjava/lang/String;)V", regs=(0, 1, 2))
    assert data_positions(wide, (0,)) == frozenset({0, 1}) and data_positions(wide, (1,)) == frozenset({2})
    assert data_positions(send_data, None) is None


def test_a_catch_handler_starts_from_its_try_block_not_from_everything_seen() -> None:
    # the read's value (v2) is overwritten before the try; the handler's call gets nothing tainted
    body = read_then(
        (16, "const/4", (2,)),
        (18, "invoke-static", (3,), POST),
        (24, "return-void", ()),
        (26, "invoke-static", (2,), POST),
        (32, "return-void", ()),
    )
    assert 26 in seeded(body).calls  # no try table: the handler is entered from everything seen
    assert 26 not in seeded(replace(body, handlers=((18, 24, 26),))).calls
    # a try covering the read itself does carry the data into the handler
    assert seeded(replace(body, handlers=((8, 16, 26),))).calls[26] == frozenset({0})


def test_a_switch_case_starts_from_its_switch() -> None:
    body = read_then(
        (16, "const/4", (2,)),
        (18, "packed-switch", (0,), None, 40),
        (24, "return-void", ()),
        (26, "invoke-static", (2,), POST),
        (32, "return-void", ()),
    )
    assert 26 in seeded(body).calls  # the case's switch unknown: everything seen
    assert 26 not in seeded(replace(body, cases=((18, 26),))).calls


def test_super_call_is_not_dispatched_to_subclasses() -> None:
    # ``super.onCreate()`` in MainActivity calls Activity.onCreate (the framework's), never an app
    # class's onCreate: before, it was resolved like a virtual call to every app Activity's onCreate.
    loaded = load_apk(fixture_apk("contacts_const"))
    graph = CallGraph(loaded.code, load_ruleset().flows)
    on_create = MethodId(class_name=F + "MainActivity", method="onCreate(Landroid/os/Bundle;)V")
    assert graph.down(on_create) == [
        (6, MethodId(class_name=F + "Harvester", method="harvest(Landroid/content/Context;)Ljava/lang/String;")),
        (14, MethodId(class_name=F + "Uploader", method="upload(Ljava/lang/String;)V")),
    ]


def test_storing_data_in_an_object_loaded_from_a_field_taints_that_field_only() -> None:
    # ``this$0.rows = x``: field ``rows`` holds the data; ``this$0`` itself does not become tainted
    outer = "Lcom/x/A$1;->this$0:Lcom/x/A;"
    rows = "Lcom/x/A;->rows:Ljava/lang/String;"
    other = "Lcom/x/A;->other:Ljava/lang/String;"
    body = read_then(
        (16, "iget-object", (3, 0), outer),
        (20, "iput-object", (2, 3), rows),
        (24, "iget-object", (4, 0), outer),
        (28, "iget-object", (5, 4), other),
        (32, "invoke-static", (5,), POST),
        (38, "return-void", ()),
    )
    flow = seeded(body)
    assert rows in flow.fields and outer not in flow.fields and 32 not in flow.calls
