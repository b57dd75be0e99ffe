"""Reads, deletes and writes are different effects (issue #12 item 2)."""

from __future__ import annotations

from appaudit.api import scan
from appaudit.model import Effect
from appaudit.report import render
from appaudit.report.json_v1_read import from_dict
from conftest import fixture_apk, report_json

CLEANER = "com.example.fixture.Cleaner"
DELETE = "Landroid/content/ContentResolver;->delete(Landroid/net/Uri;Ljava/lang/String;[Ljava/lang/String;)I"
CALLS = "Landroid/provider/CallLog$Calls;->CONTENT_URI:Landroid/net/Uri;"


def _finding(name: str, rule_id: str) -> dict:
    (finding,) = [f for f in report_json(name)["findings"] if f["rule_id"] == rule_id]
    return finding


def _writes(name: str, dc: str) -> list[tuple[str, str, str, str, str, int]]:
    return [
        (w["operation"], w["uri"], w["how"], w["site"]["class"], w["site"]["method"].split("(")[0], w["site"]["offset"])
        for w in report_json(name)["data_classes"][dc]["provider_writes"]
    ]


def test_deleting_the_call_log_is_its_own_finding_not_a_read() -> None:
    finding = _finding("bulk_delete", "AA-CLG-014")
    assert (finding["effect"], finding["severity"], finding["dormant"]) == ("deletes", "high", False)
    assert [
        (e["kind"], e["class"], e["method"].split("(")[0], e["offset"], e["value"]) for e in finding["evidence"]
    ] == [("invoke", CLEANER, "hideCalls", 28, DELETE)]
    entry = report_json("bulk_delete")["data_classes"]["call_log"]
    # the CallLog.Calls.CONTENT_URI load serves the delete only: no AA-CLG-002, no read, no provider access
    assert (entry["read"], entry["level"], entry["providers"]) == (False, "declared", [])
    assert entry["rule_ids"] == ["AA-CLG-001", "AA-CLG-014"]
    assert _writes("bulk_delete", "call_log") == [("delete", CALLS, "constant", CLEANER, "hideCalls", 28)]


def test_deleting_sms_after_looking_through_the_inbox_is_a_read_and_a_delete() -> None:
    finding = _finding("bulk_delete", "AA-SMS-014")
    assert [(e["class"], e["method"].split("(")[0], e["offset"]) for e in finding["evidence"]] == [
        (CLEANER, "hideSms", 136)
    ]
    entry = report_json("bulk_delete")["data_classes"]["sms"]
    # the same method queries the inbox: its URI strings stay evidence of the read
    assert (entry["read"], entry["bulk"], entry["level"]) == (True, False, "read")
    assert [e["value"] for e in _finding("bulk_delete", "AA-SMS-003")["evidence"]] == [
        "content://sms/inbox",
        "content://sms",
    ]
    assert _writes("bulk_delete", "sms") == [("delete", "content://sms", "built", CLEANER, "hideSms", 136)]
    assert report_json("bulk_delete")["verdict"] == "at_risk"  # the SMS read; a delete alone reads nothing


def test_a_read_without_a_delete_has_no_writes() -> None:
    assert _writes("calllog", "call_log") == []
    assert "AA-CLG-014" not in {f["rule_id"] for f in report_json("calllog")["findings"]}
    assert "AA-CLG-002" in {f["rule_id"] for f in report_json("calllog")["findings"]}


def test_writes_shown_in_every_format_and_read_back() -> None:
    report = scan(fixture_apk("bulk_delete"))
    text = render(report, "text")
    assert "  sms deletes or changes: delete content://sms at\n    com.example.fixture.Cleaner.hideSms() +136\n" in text
    assert (
        "  call_log deletes or changes: delete android.provider.CallLog$Calls.CONTENT_URI\n"
        "    at com.example.fixture.Cleaner.hideCalls() +28\n"
    ) in text
    html = render(report, "html")
    assert (
        "<tr><th>Deletes or changes</th><td>delete content://sms at "
        "com.example.fixture.Cleaner.hideSms() +136</td></tr>" in html
    )
    markdown = render(report, "markdown")
    assert "| **Deletes or changes** | delete content://sms at com.example.fixture.Cleaner.hideSms() +136 |" in markdown
    back = from_dict(report_json("bulk_delete"))
    (write,) = back.data_classes["call_log"].writes
    assert (write.operation, write.uri, write.evidence.offset) == ("delete", CALLS, 28)
    assert {f.rule_id: f.effect for f in back.findings}["AA-CLG-014"] is Effect.DELETES
    (access,) = back.data_classes["sms"].accesses
    assert access.bulk_reason.value == "rows_not_kept"
