"""End-to-end scans of the fixture APKs: exact verdicts, levels, rules and evidence."""

from __future__ import annotations

import pytest

from conftest import ALL_FIXTURES, report_json, report_schema_validator

H = "com.example.fixture.Harvester"
CTX = "(Landroid/content/Context;)Ljava/lang/String;"

# fixture -> (verdict, {data class: level} for every class not at "none")
EXPECTED = {
    "benign": ("no_evidence", {}),
    "permission_only": (
        "declared_only",
        {"contacts": "declared", "sms": "declared", "call_log": "declared", "phone_identity": "declared"},
    ),
    "contacts_const": ("harvests", {"contacts": "harvested"}),
    "contacts_debuginfo": ("harvests", {"contacts": "harvested"}),
    "contacts_all_uris": ("harvests", {"contacts": "harvested"}),
    "contacts_uri": ("harvests", {"contacts": "harvested"}),
    "signed": ("harvests", {"contacts": "harvested"}),
    "multidex": ("harvests", {"contacts": "harvested"}),
    "dormant_contacts": ("dormant_code", {"contacts": "dormant"}),
    "sms_inbox": ("harvests", {"sms": "harvested"}),
    "sms_const": ("harvests", {"sms": "harvested"}),
    "sms_receiver": ("harvests", {"sms": "harvested"}),
    "calllog": ("harvests", {"call_log": "harvested"}),
    "picker": ("no_evidence", {}),
    "files_accessor": ("harvests", {"contacts": "harvested"}),
    "pref_ext_file": ("harvests", {"contacts": "harvested"}),
    "pref_ext_other": ("at_risk", {"contacts": "bulk"}),
    "pref_ext_local": ("at_risk", {"contacts": "bulk"}),
    "files_copy_upload": ("harvests", {"contacts": "harvested"}),
    "files_param_other": ("at_risk", {"contacts": "bulk"}),
    "files_param_path": ("harvests", {"contacts": "harvested"}),
    "files_table_field": ("harvests", {"contacts": "harvested"}),
    "media_uri": ("no_evidence", {"photos_media": "read"}),
    "otp_retriever": ("no_evidence", {}),
    "otp_receiver_code_only": ("at_risk", {"sms": "read"}),
    "uri_stringbuilder": ("harvests", {"contacts": "harvested"}),
    "uri_builder": ("harvests", {"sms": "harvested"}),
    "uri_helper": ("harvests", {"call_log": "harvested"}),
    "chain_helper_class": ("harvests", {"contacts": "harvested"}),
    "chain_runnable": ("harvests", {"sms": "harvested"}),
    "chain_async_helper": ("harvests", {"contacts": "harvested"}),
    "chain_unrelated_upload": ("at_risk", {"sms": "read"}),
    "startup_asks_first": ("harvests", {"contacts": "harvested"}),
    "startup_constructor": ("harvests", {"sms": "harvested"}),
    "retrofit_post": ("harvests", {"contacts": "harvested"}),
    "sms_blast": ("at_risk", {"contacts": "bulk"}),
    "sink_webview_js": ("at_risk", {"contacts": "bulk"}),
    "sink_webview_remote": ("harvests", {"contacts": "harvested"}),
    "sink_webview_post": ("harvests", {"contacts": "harvested"}),
    "sink_sms_body": ("harvests", {"contacts": "harvested"}),
    # command versus data (analysis/replies.py): a reply to the sender and a C2-given SMS are no channel
    "cmd_sms_reply": ("at_risk", {"sms": "read"}),
    "cmd_sms_forward": ("harvests", {"sms": "harvested"}),
    "cmd_c2_send": ("harvests", {"contacts": "harvested"}),
    "cmd_try_unrelated": ("at_risk", {"contacts": "bulk"}),
    "cmd_task_reply": ("at_risk", {"sms": "read"}),
    "cmd_task_forward": ("harvests", {"sms": "harvested"}),
    "sink_calllog_screen": ("at_risk", {"call_log": "bulk"}),  # bulk, not exfiltrated (#12 acceptance)
    "startup_harvest": ("harvests", {"contacts": "harvested"}),
    "multidex_split_chain": ("harvests", {"sms": "harvested"}),
    # a loop that only counts, over a projection of only _id: read, not bulk (issue #12 item 1)
    "contacts_local_only": ("at_risk", {"contacts": "read"}),
    "bulk_lookups": ("at_risk", {"contacts": "read"}),
    "bulk_all_rows": ("at_risk", {"contacts": "bulk", "call_log": "bulk"}),  # bulk, but kept on the device
    # the call log is only deleted: declared, not read; the SMS inbox is looked through, no row kept
    "bulk_delete": ("at_risk", {"sms": "read", "call_log": "declared"}),
    # one expected SMS's sender uploaded: it leaves the device, but not in bulk
    "bulk_sms_expected": ("at_risk", {"sms": "exfiltrated"}),
    "bulk_sms_native": ("at_risk", {"sms": "bulk"}),
    "chain_service": ("harvests", {"contacts": "harvested"}),
    "stage_sqlite_worker": ("harvests", {"contacts": "harvested"}),
    "stage_sqlite_other": ("at_risk", {"contacts": "bulk"}),
    "stage_room_worker": ("harvests", {"contacts": "harvested"}),
    "stage_prefs_click": ("harvests", {"contacts": "harvested"}),
    "stage_prefs_dynamic": ("harvests", {"contacts": "harvested"}),
    "stage_file_job": ("harvests", {"contacts": "harvested"}),
    "stage_file_other": ("at_risk", {"contacts": "bulk"}),
    "stage_extra_service": ("harvests", {"contacts": "harvested"}),
    "stage_extra_other": ("at_risk", {"contacts": "bulk"}),
    "stage_static_cache": ("harvests", {"contacts": "harvested"}),
    "stage_work_data": ("harvests", {"contacts": "harvested"}),
    "msg_handler_upload": ("harvests", {"contacts": "harvested"}),
    "msg_handler_stored": ("harvests", {"contacts": "harvested"}),
    "msg_task_upload": ("harvests", {"contacts": "harvested"}),
    "msg_task_reply_sms": ("harvests", {"contacts": "harvested"}),
    "queue_volley": ("harvests", {"contacts": "harvested"}),
    "queue_unrelated": ("at_risk", {"contacts": "bulk"}),
    "queue_by_type": ("harvests", {"contacts": "harvested"}),
    "queue_field_helper": ("harvests", {"contacts": "harvested"}),
    "queue_field_other": ("at_risk", {"contacts": "bulk"}),
    "sdk_harvest": ("harvests", {"contacts": "harvested"}),
    "obfuscated_harvest": ("harvests", {"contacts": "harvested"}),
    "family_a": ("harvests", {"contacts": "harvested"}),
    "family_b": ("harvests", {"contacts": "harvested"}),
    "family_obfuscated": ("harvests", {"contacts": "harvested"}),
    "family_same_host": ("harvests", {"call_log": "harvested"}),
    "sdk_api_baiqishi": ("at_risk", {"contacts": "read", "call_log": "read"}),
    "trig_push_command": ("harvests", {"sms": "harvested"}),
    "trig_permission_result": ("harvests", {"contacts": "harvested"}),
    "trig_click": ("harvests", {"contacts": "harvested"}),
    "trig_worker": ("harvests", {"call_log": "harvested"}),
    "trig_observer": ("harvests", {"sms": "harvested"}),
    "val_helper_return": ("harvests", {"call_log": "harvested"}),
    "val_instance_field": ("harvests", {"contacts": "harvested"}),
    "val_other_clinit": ("harvests", {"sms": "harvested"}),
    "val_resource_url": ("harvests", {"sms": "harvested"}),
    "val_static_url": ("harvests", {"contacts": "harvested"}),
    "val_unresolved": ("at_risk", {"sms": "read"}),
    "sum_uri_param": ("harvests", {"sms": "harvested"}),
    "sum_uri_param_unknown": ("at_risk", {"sms": "read"}),
    "sum_wrapper_rowid": ("harvests", {"contacts": "harvested"}),
    "sum_wrapper_rows": ("harvests", {"contacts": "harvested"}),
    "neighbours": (
        "no_evidence",
        {
            "phone_identity": "read",
            "accounts": "read",
            "installed_apps": "read",
            "location": "read",
            "photos_media": "read",
            "calendar": "read",
            "camera_microphone": "declared",
        },
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == ALL_FIXTURES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict_and_levels(name: str) -> None:
    report = report_json(name)
    verdict, levels = EXPECTED[name]
    assert report["verdict"] == verdict
    got = {k: v["level"] for k, v in report["data_classes"].items() if v["level"] != "none"}
    assert got == levels
    for dc, entry in report["data_classes"].items():
        assert entry["read"] == (levels.get(dc) in ("read", "bulk", "exfiltrated", "harvested")), dc
        assert entry["dormant"] == (levels.get(dc) == "dormant"), dc


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_json_validates_against_schema(name: str) -> None:
    report_schema_validator().validate(report_json(name))


def _code_evidence(report: dict, rule_id: str) -> list[tuple[str, str, str, int, str, str]]:
    (finding,) = [f for f in report["findings"] if f["rule_id"] == rule_id]
    return [(e["dex"], e["class"], e["method"], e["offset"], e["kind"], e["value"]) for e in finding["evidence"]]


def test_contacts_constant_evidence_is_exact() -> None:
    # harvest(): new-instance (2 units) @0, invoke-direct (3) @4, invoke-virtual (3) @10,
    # move-result-object (1) @16, then the sget-object at byte 18.
    phone = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
    assert _code_evidence(report_json("contacts_const"), "AA-CON-002") == [
        ("classes.dex", H, "harvest" + CTX, 18, "sget", phone)
    ]


def test_multidex_evidence_is_in_classes2() -> None:
    report = report_json("multidex")
    assert report["app"]["dex_files"] == ["classes.dex", "classes2.dex"]
    (ev,) = _code_evidence(report, "AA-CON-002")
    assert ev[:4] == ("classes2.dex", H, "harvest" + CTX, 18)


def test_all_contacts_uris_found() -> None:
    values = sorted((e[2], e[5]) for e in _code_evidence(report_json("contacts_all_uris"), "AA-CON-002"))
    cc = "Landroid/provider/ContactsContract$"
    assert values == [
        ("readContacts" + CTX, cc + "Contacts;->CONTENT_URI:Landroid/net/Uri;"),
        ("readData" + CTX, cc + "Data;->CONTENT_URI:Landroid/net/Uri;"),
        ("readEmails" + CTX, cc + "CommonDataKinds$Email;->CONTENT_URI:Landroid/net/Uri;"),
        ("readRawContacts" + CTX, cc + "RawContacts;->CONTENT_URI:Landroid/net/Uri;"),
    ]


def test_uri_strings_found() -> None:
    (ev,) = _code_evidence(report_json("contacts_uri"), "AA-CON-003")
    assert (ev[1], ev[2], ev[4], ev[5]) == (
        H,
        "harvest" + CTX,
        "const-string",
        "content://com.android.contacts/data/phones",
    )
    (ev,) = _code_evidence(report_json("sms_inbox"), "AA-SMS-003")
    assert (ev[1], ev[2], ev[5]) == (H, "harvest" + CTX, "content://sms/inbox")
    (ev,) = _code_evidence(report_json("calllog"), "AA-CLG-003")
    assert (ev[2], ev[5]) == ("readCallsByUri" + CTX, "content://call_log/calls")


def test_sms_receiver_manifest_and_code() -> None:
    report = report_json("sms_receiver")
    receiver = "com.example.fixture.SmsReceiver"
    (ev,) = [e for e in report["findings"] if e["rule_id"] == "AA-SMS-005"][0]["evidence"]
    assert ev["value"] == f"receiver {receiver} <- android.provider.Telephony.SMS_RECEIVED"
    (pdu,) = _code_evidence(report, "AA-SMS-004")
    assert pdu[1:3] == (receiver, "onReceive(Landroid/content/Context;Landroid/content/Intent;)V")
    assert pdu[5] == "Landroid/telephony/SmsMessage;->createFromPdu([B)Landroid/telephony/SmsMessage;"
    comps = {c["name"]: c for c in report["app"]["components"]}
    assert comps[receiver]["priority"] == 999
    assert comps[receiver]["permission"] == "android.permission.BROADCAST_SMS"
    assert comps["com.example.fixture.BootReceiver"]["actions"] == ["android.intent.action.BOOT_COMPLETED"]
    assert comps["com.example.fixture.FilesProvider"]["authorities"] == ["com.example.fixture.sms_receiver.files"]
    assert {c["kind"] for c in report["app"]["components"]} == {"activity", "receiver", "service", "provider"}
    assert "android.permission.BROADCAST_SMS" not in report["app"]["permissions"]


def test_dormant_findings_are_low_and_marked() -> None:
    report = report_json("dormant_contacts")
    assert [f["rule_id"] for f in report["findings"]] == [
        "AA-CON-002",
        "AA-CON-010",
        "AA-CON-011",
        "AA-CON-012",
        "AA-CON-013",
    ]
    for finding in report["findings"]:
        assert (finding["dormant"], finding["severity"]) == (True, "low")
        assert "does not declare android.permission.READ_CONTACTS" in finding["message"]


def test_neighbour_apis_exact() -> None:
    report = report_json("neighbours")
    d = "com.example.fixture.DeviceInfo"
    tm = "Landroid/telephony/TelephonyManager;->"
    pid = _code_evidence(report, "AA-PID-002")
    assert {(e[1], e[2]) for e in pid} == {(d, "phoneIdentity" + CTX)}
    assert sorted(e[5] for e in pid) == sorted(
        tm + m + "()Ljava/lang/String;"
        for m in ("getLine1Number", "getDeviceId", "getImei", "getSubscriberId", "getSimSerialNumber")
    )
    assert {e[2] for e in _code_evidence(report, "AA-ACC-002")} == {"accounts" + CTX}
    assert {e[2] for e in _code_evidence(report, "AA-APP-002")} == {"installedApps" + CTX}
    assert {e[2] for e in _code_evidence(report, "AA-LOC-002")} == {"location" + CTX}
    assert {e[2] for e in _code_evidence(report, "AA-MED-002")} == {"media" + CTX}
    assert {e[2] for e in _code_evidence(report, "AA-CAL-002")} == {"calendar" + CTX}
    assert [e[5] for e in _code_evidence(report, "AA-CAL-003")] == ["content://com.android.calendar/events"]


def test_manifest_facts() -> None:
    app = report_json("contacts_const")["app"]
    assert (app["package"], app["version_name"], app["version_code"]) == (
        "com.example.fixture.contacts_const",
        "1.0",
        "1",
    )
    assert (app["min_sdk"], app["target_sdk"]) == (21, 29)
    assert app["permissions"] == ["android.permission.INTERNET", "android.permission.READ_CONTACTS"]
    assert app["launcher_activities"] == ["com.example.fixture.MainActivity"]
    assert app["signer_sha256"] == []


def test_signer_certificate_sha256() -> None:
    assert report_json("signed")["app"]["signer_sha256"] == [
        "bbd254ac54ac9b6b5c70bc5055805a5ce48c2cd45d74555e94f69357427288d0"
    ]


def test_benign_lookalikes_are_not_findings() -> None:
    assert report_json("benign")["findings"] == []
