"""Bulk decided from the query itself (issue #12 item 1): every provider access's bulk and bulk_reason."""

from __future__ import annotations

import pytest

from appaudit.analysis.query_shape import (
    RUNTIME,
    Const,
    projection_is_narrow,
    selection_binds_rows,
    sort_limit,
    uri_shape,
)
from conftest import report_json

F = "com.example.fixture."
PHONE = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
CONTACTS = "Landroid/provider/ContactsContract$Contacts;->CONTENT_URI:Landroid/net/Uri;"


def _accesses(name: str, dc: str) -> list[tuple[str, str, str, bool, str]]:
    """(method name, uri, how, bulk, bulk_reason) of every provider access of ``dc``."""
    return [
        (p["site"]["method"].split("(")[0], p["uri"], p["how"], p["bulk"], p["bulk_reason"])
        for p in report_json(name)["data_classes"][dc]["providers"]
    ]


def test_single_item_lookups_are_never_bulk() -> None:
    assert _accesses("bulk_lookups", "contacts") == [
        ("accounts", "Landroid/provider/ContactsContract$RawContacts;->CONTENT_URI:Landroid/net/Uri;", "constant",
         False, "narrow_projection"),
        ("byContactId", PHONE, "constant", False, "selection_bound"),
        ("byNumbers", PHONE, "constant", False, "selection_bound"),
        ("count", CONTACTS, "constant", False, "count_only"),
        ("favourites", CONTACTS, "constant", False, "limited"),
        ("filter", "Landroid/provider/ContactsContract$PhoneLookup;->CONTENT_FILTER_URI:Landroid/net/Uri;/*", "built",
         False, "filter_uri"),
        ("firstMatch", PHONE, "constant", False, "first_row_only"),
        ("one", CONTACTS + "/#", "built", False, "appended_id"),
    ]  # fmt: skip
    entry = report_json("bulk_lookups")["data_classes"]["contacts"]
    assert (entry["read"], entry["bulk"], entry["level"]) == (True, False, "read")
    assert report_json("bulk_lookups")["verdict"] == "at_risk"
    assert not any(f["rule_id"] in ("AA-CON-010", "AA-CON-012") for f in report_json("bulk_lookups")["findings"])


def test_their_twins_that_read_every_row_are_bulk() -> None:
    # a selection restricting nothing, a loop with a break at a blank row, a caller's null selection
    assert _accesses("bulk_all_rows", "contacts") == [
        ("allPhones", PHONE, "constant", True, "all_rows"),
        ("rows", PHONE, "constant", True, "all_rows"),
        ("untilBlank", PHONE, "constant", True, "all_rows"),
    ]
    # a window of dates over the whole call log, newest first
    assert _accesses("bulk_all_rows", "call_log") == [
        ("recentCalls", "Landroid/provider/CallLog$Calls;->CONTENT_URI:Landroid/net/Uri;", "constant", True, "all_rows")
    ]
    rule_ids = {f["rule_id"] for f in report_json("bulk_all_rows")["findings"]}
    assert {"AA-CON-012", "AA-CLG-012"} <= rule_ids


def test_rows_only_tested_before_a_delete_are_not_kept() -> None:
    assert _accesses("bulk_delete", "sms") == [
        ("hideSms", "content://sms/inbox", "built", False, "rows_not_kept"),
    ]


def test_bulk_reason_is_shown_in_text_html_and_markdown() -> None:
    from appaudit.api import scan
    from appaudit.report import render
    from conftest import fixture_apk

    report = scan(fixture_apk("bulk_lookups"))
    text = render(report, "text")
    assert (
        "  contacts, why bulk or not: a filter or lookup URI ×1; one row by its id ×1;\n"
        "    rows picked by a bound selection ×2; only id, count or account columns ×1; a\n"
        "    few rows (a sort order's LIMIT) ×1; the loop only counts ×1; the loop stops\n"
        "    at the first match ×1\n"
    ) in text
    html = render(report, "html")
    assert "(constant; rows picked by a bound selection) at" in html
    assert "Why, per read: a filter or lookup URI ×1; one row by its id ×1;" in html
    markdown = render(report, "markdown")
    assert "(constant; the loop stops at the first match) at" in markdown


def _incoming(name: str) -> list[tuple[str, bool, str, int]]:
    return [
        (i["reason"], i["bulk"], i["site"]["method"].split("(")[0], i["site"]["offset"])
        for i in report_json(name)["data_classes"]["sms"]["incoming_sms"]
    ]


def test_a_receiver_waiting_for_one_expected_sms_does_not_read_every_message() -> None:
    assert _incoming("bulk_sms_expected") == [("content_test", False, "onReceive", 34)]
    entry = report_json("bulk_sms_expected")["data_classes"]["sms"]
    # the sender of the matching message is uploaded: it leaves the device, but it is one message
    assert (entry["bulk"], entry["exfiltrated"], entry["level"]) == (False, ["network"], "exfiltrated")
    assert [c["dataflow"] for c in entry["chains"]] == ["confirmed"]


def test_every_incoming_sms_passed_on_or_handed_to_native_code_is_bulk() -> None:
    assert _incoming("sms_receiver") == [("passed_on", True, "onReceive", 58)]
    assert _incoming("bulk_sms_native") == [("to_native", True, "onReceive", 34)]
    entry = report_json("bulk_sms_native")["data_classes"]["sms"]
    assert (entry["bulk"], entry["exfiltrated"], entry["level"]) == (True, [], "bulk")
    assert "AA-SMS-012" in entry["rule_ids"]
    # an OTP receiver that keeps a code in memory: not followed anywhere
    assert _incoming("otp_receiver_code_only") == [("not_followed", False, "onReceive", 48)]


@pytest.mark.parametrize(
    ("selection", "binds"),
    [
        (Const("null"), False),
        (Const("string", "1=1"), False),
        (Const("string", "has_phone_number = 1"), False),
        (Const("string", "date > ? AND type = 1"), False),
        (Const("string", "mimetype = ?"), False),
        (Const("string", "_id > ?"), False),  # every row after the last one seen: a delta sync still harvests
        (Const("string", "_id = ?"), True),
        (Const("string", "contact_id = " + RUNTIME), True),
        (Const("string", "data1 IN (?,?)"), True),
        (Const("string", "(deleted = 0) AND (lookup = ?)"), True),
        (Const("string", "Data.CONTACT_ID=?".lower()), True),
        (Const("string", RUNTIME), None),
        (Const("unknown"), None),
        (Const("param", "1"), None),
    ],
)
def test_selection_binds_rows(selection: Const, binds: bool | None) -> None:
    assert selection_binds_rows(selection) is binds


@pytest.mark.parametrize(
    ("order", "limit"),
    [
        (Const("string", "date DESC LIMIT 3"), 3),
        (Const("string", "date desc limit 500"), 500),
        (Const("string", "_id LIMIT 1 OFFSET 2"), 1),
        (Const("string", "date DESC"), None),
        (Const("null"), None),
        (Const("string", "date DESC LIMIT " + RUNTIME), None),
    ],
)
def test_sort_limit(order: Const, limit: int | None) -> None:
    assert sort_limit(order) == limit


@pytest.mark.parametrize(
    ("projection", "narrow"),
    [
        (Const("array", items=("_id",)), True),
        (Const("array", items=("_id", "account_name", "account_type", "sync1")), True),
        (Const("array", items=("_count",)), True),
        (Const("array", items=("_id", "display_name")), False),
        (Const("array", items=("_id", None)), False),  # an element not known: not narrow
        (Const("null"), False),  # every column
        (Const("unknown"), False),
    ],
)
def test_projection_is_narrow(projection: Const, narrow: bool) -> None:
    assert projection_is_narrow(projection) is narrow


@pytest.mark.parametrize(
    ("uri", "shape"),
    [
        (PHONE, "table"),
        ("Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_FILTER_URI:Landroid/net/Uri;/*", "filter"),
        ("Landroid/provider/ContactsContract$PhoneLookup;->CONTENT_FILTER_URI:Landroid/net/Uri;", "filter"),
        ("Landroid/provider/ContactsContract$Contacts;->CONTENT_LOOKUP_URI:Landroid/net/Uri;", "filter"),
        (CONTACTS + "/#", "one_row"),
        ("Landroid/provider/ContactsContract$Data;->CONTENT_URI:Landroid/net/Uri;/phones", "table"),
        ("content://sms/inbox", "table"),
        ("content://sms/12", "one_row"),
        ("content://com.android.contacts/phone_lookup/*", "filter"),
        ("content://com.android.contacts/data/phones/filter/*", "filter"),
        ("content://call_log/calls", "table"),
    ],
)
def test_uri_shape(uri: str, shape: str) -> None:
    assert uri_shape(uri) == shape
