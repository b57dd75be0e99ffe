"""Harvest chains on the fixtures: provider resolution, bulk vs single, sinks, chains, start-up."""

from __future__ import annotations

from conftest import fixture_apk, report_json

F = "com.example.fixture."
CTX = "(Landroid/content/Context;)Ljava/lang/String;"
PHONE = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
UPLOAD = "Lcom/example/fixture/Uploader;->upload(Ljava/lang/String;)V"


def _dc(name: str, dc: str) -> dict:
    return report_json(name)["data_classes"][dc]


def _providers(name: str, dc: str) -> list[tuple[str, str, bool, str, str]]:
    return [
        (p["uri"], p["how"], p["bulk"], p["site"]["class"], p["site"]["method"].split("(")[0])
        for p in _dc(name, dc)["providers"]
    ]


def _steps(chain: dict) -> list[str]:
    return [s["class"].removeprefix(F) + "." + s["method"].split("(")[0] for s in chain["steps"]]


# ----------------------------------------------------------------- providers
def test_uri_from_sdk_constant() -> None:
    assert _providers("contacts_const", "contacts") == [(PHONE, "constant", True, F + "Harvester", "harvest")]


def test_uri_built_by_stringbuilder() -> None:
    assert _providers("uri_stringbuilder", "contacts") == [
        ("content://com.android.contacts/data/phones", "built", True, F + "Harvester", "harvest")
    ]


def test_uri_built_by_uri_builder() -> None:
    assert _providers("uri_builder", "sms") == [("content://sms/inbox", "built", True, F + "Harvester", "harvest")]


def test_uri_passed_through_helper_parameter() -> None:
    # the sget is in Harvester.harvest, the query in Db.all(Context, Uri): resolved at the call site
    assert _providers("uri_helper", "call_log") == [
        ("Landroid/provider/CallLog$Calls;->CONTENT_URI:Landroid/net/Uri;", "parameter", True, F + "Db", "all")
    ]


def test_own_provider_is_not_a_protected_class() -> None:
    assert all(not v["providers"] for v in report_json("benign")["data_classes"].values())


# ------------------------------------------------------------ bulk vs single
def test_picker_is_single_user_chosen_item() -> None:
    report = report_json("picker")
    assert report["verdict"] == "no_evidence"
    assert report["findings"] == []
    assert _dc("picker", "contacts")["providers"] == []  # Intent.getData() is not a provider table


def test_local_only_count_is_not_bulk_and_has_no_chain() -> None:
    # only _id is read, and the loop only counts: not a harvest of the address book (issue #12 item 1)
    entry = _dc("contacts_local_only", "contacts")
    assert (entry["bulk"], entry["exfiltrated"], entry["chains"], entry["level"]) == (False, [], [], "read")
    assert [p["bulk_reason"] for p in entry["providers"]] == ["narrow_projection"]


# ----------------------------------------------------------------------- SMS
def test_sms_retriever_is_not_sms_harvest() -> None:
    report = report_json("otp_retriever")
    assert report["verdict"] == "no_evidence"
    assert _dc("otp_retriever", "sms")["level"] == "none"


def test_code_only_sms_receiver_is_read_not_harvest() -> None:
    entry = _dc("otp_receiver_code_only", "sms")
    assert (entry["read"], entry["bulk"], entry["chains"], entry["level"]) == (True, False, [], "read")
    assert report_json("otp_receiver_code_only")["verdict"] == "at_risk"


def test_sms_receiver_forwarding_is_harvest() -> None:
    entry = _dc("sms_receiver", "sms")
    (chain,) = entry["chains"]
    assert _steps(chain) == ["SmsReceiver.onReceive", "Uploader.upload"]
    assert chain["read"]["value"] == "Landroid/telephony/SmsMessage;->createFromPdu([B)Landroid/telephony/SmsMessage;"
    assert (entry["bulk"], entry["at_startup"]) == (True, False)
    assert [(p["trigger"], p["entry"]) for p in entry["startup_paths"]] == [("event", F + "SmsReceiver.onReceive")]


# -------------------------------------------------------------------- chains
def test_chain_through_caller_to_uploader() -> None:
    (chain,) = _dc("contacts_const", "contacts")["chains"]
    assert _steps(chain) == ["Harvester.harvest", "MainActivity.onCreate", "Uploader.upload"]
    assert (chain["channel"], chain["sink"]["value"]) == (
        "network",
        "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;",
    )
    assert chain["read"]["method"] == "harvest" + CTX and chain["read"]["value"].startswith(
        "Landroid/content/ContentResolver;->query"
    )
    assert chain["urls"] == ["http://collector.invalid/upload"]


def test_chain_through_helper_class_with_transformers() -> None:
    (chain,) = _dc("chain_helper_class", "contacts")["chains"]
    assert _steps(chain) == ["Harvester.harvest", "MainActivity.onCreate", "Sender.send"]
    assert chain["transformers"] == [
        "base64: android.util.Base64.encodeToString",
        "json: org.json.JSONArray.put",
        "json: org.json.JSONArray.toString",
    ]


def test_chain_through_runnable() -> None:
    entry = _dc("chain_runnable", "sms")
    (chain,) = entry["chains"]
    assert _steps(chain) == ["UploadTask.run", "Uploader.upload"]
    (path,) = entry["startup_paths"]
    assert [s["class"].removeprefix(F) + "." + s["method"].split("(")[0] for s in path["steps"]] == [
        "MainActivity.onCreate",
        "UploadTask.run",
    ]


def test_startup_path_says_whether_it_asks_for_the_permission_first() -> None:
    asks = _dc("startup_asks_first", "contacts")
    (path,) = asks["startup_paths"]
    assert path["trigger"] == "startup" and path["asks_permission_first"] is True
    assert [s["method"].split("(")[0] for s in path["steps"]] == ["onCreate", "harvest"]
    assert asks["at_startup"] is True
    # App.onCreate reads without asking (the permission must already be granted, or granted at install).
    (silent,) = _dc("startup_harvest", "contacts")["startup_paths"]
    assert silent["asks_permission_first"] is False


def test_a_component_constructor_is_a_start_up_entry() -> None:
    # App's constructor (a field initialiser) starts the SMS-uploading thread before onCreate.
    entry = _dc("startup_constructor", "sms")
    (path,) = entry["startup_paths"]
    assert (path["trigger"], path["entry"]) == ("startup", "com.example.fixture.App.<init>")
    assert [s["method"].split("(")[0] for s in path["steps"]] == ["<init>", "run"]
    assert entry["at_startup"] is True


def test_a_hand_off_costs_no_chain_depth() -> None:
    # read -> caller -> network helper -> (Thread.start) PostThread.run -> Uploader.upload: three calls
    # and a hand-off. Found at depth 3, so the hand-off cost nothing; at depth 2 it is out of reach.
    from appaudit.api import ScanOptions, scan
    from appaudit.report.json_v1 import to_dict

    at3 = to_dict(scan(fixture_apk("chain_async_helper"), ScanOptions(chain_depth=3)))
    (chain,) = at3["data_classes"]["contacts"]["chains"]
    assert _steps(chain) == ["Harvester.harvest", "Sync.start", "Net.postAsync", "PostThread.run", "Uploader.upload"]
    # Sync.start calls Net.postAsync at +8; Net.postAsync hands off with new-instance at +0.
    assert [s["offset"] for s in chain["steps"]] == [54, 8, 0, 4, 44]
    assert chain["dataflow"] == "confirmed"
    shallow = scan(fixture_apk("chain_async_helper"), ScanOptions(chain_depth=2))
    assert shallow.data_classes["contacts"].chains == ()
    assert shallow.data_classes["contacts"].level.value == "bulk"


def test_chain_through_a_service_started_with_an_intent() -> None:
    # MainActivity reads, puts the data in an Intent naming UploadService (const-class), the
    # service's onStartCommand uploads it: a component hand-off.
    (chain,) = _dc("chain_service", "contacts")["chains"]
    assert _steps(chain) == [
        "Harvester.harvest",
        "MainActivity.onCreate",
        "UploadService.onStartCommand",
        "Uploader.upload",
    ]
    # invoke-super @0, invoke-static @6, move-result-object @12, new-instance @14, const-class @18
    assert chain["steps"][1]["offset"] == 18


def test_retrofit_post_annotation_is_the_sink() -> None:
    (chain,) = _dc("retrofit_post", "contacts")["chains"]
    assert chain["sink"]["value"] == "Lcom/example/fixture/Api;->upload(Ljava/lang/String;)Lretrofit2/Call;"
    assert chain["urls"][0] == "api/contacts/upload"


def test_sms_blast_to_every_contact() -> None:
    # The numbers are only the SMS destination (the text is fixed): the contacts are messaged
    # (AA-CON-020, tests/test_sinks_leave.py), they do not leave by SMS.
    entry = _dc("sms_blast", "contacts")
    assert (entry["chains"], entry["exfiltrated"], entry["level"]) == ([], [], "bulk")


def test_read_in_classes2_upload_in_classes() -> None:
    (chain,) = _dc("multidex_split_chain", "sms")["chains"]
    assert chain["read"]["dex"] == "classes2.dex" and chain["sink"]["dex"] == "classes.dex"
    assert _steps(chain) == ["SmsReader.read", "MainActivity.onCreate", "Uploader.upload"]


# ------------------------------------------------------------------ start-up
def test_harvest_from_application_oncreate() -> None:
    entry = _dc("startup_harvest", "contacts")
    assert entry["at_startup"] is True
    (path,) = entry["startup_paths"]
    assert (path["trigger"], path["entry"]) == ("startup", F + "App.onCreate")
    assert [s["method"].split("(")[0] for s in path["steps"]] == ["onCreate", "harvest"]
    ids = {f["rule_id"] for f in report_json("startup_harvest")["findings"]}
    assert {"AA-CON-010", "AA-CON-013"} <= ids


def test_harvest_finding_is_critical_with_read_and_sink_evidence() -> None:
    (finding,) = [f for f in report_json("contacts_const")["findings"] if f["rule_id"] == "AA-CON-010"]
    assert finding["severity"] == "critical"
    kinds = [e["kind"] for e in finding["evidence"]]
    assert kinds.count("sink") == 1 and "invoke" in kinds


# --------------------------------------------------------------- attribution
def test_harvest_evidence_is_owned_as_it_is_made() -> None:
    # The facts the rules see already carry the owners the report shows: no copy after the fact.
    from appaudit.analysis.attribution import Attributor
    from appaudit.analysis.flows import harvest_facts
    from appaudit.analysis.providers import ProviderClassifier
    from appaudit.apk import load_apk
    from appaudit.ruleset import load_ruleset

    ruleset = load_ruleset()
    facts = load_apk(fixture_apk("sdk_harvest"))
    attributor = Attributor(facts.app, ruleset.sdks)
    harvest = harvest_facts(facts.app, facts.code, ruleset.flows, ProviderClassifier(ruleset.rules), attributor)
    evidence = [a.evidence for a in harvest.accesses] + list(harvest.sms_receivers)
    evidence += [e for c in harvest.chains for e in (c.read, c.sink)]
    assert evidence
    assert all(e.owner == attributor.owner(e.class_name or "") for e in evidence)
    assert {e.owner.sdk_id for e in evidence if e.owner} == {"lenddo"}  # the SDK reads and uploads
