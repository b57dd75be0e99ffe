"""Hand-offs that carry the data: Intent extras and WorkManager input Data, matched by key across
components (analysis/stores.py), joining chains as component hand-offs do for calls."""

from __future__ import annotations

from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.stores import StoreIndex
from appaudit.analysis.taint import Seeds, analyse
from appaudit.api import scan
from appaudit.apk import load_apk
from appaudit.model import MethodId
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import contacts_chains as _chains
from conftest import fixture_apk, report_json, report_schema_validator

F = "com.example.fixture."
UPLOAD_SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"


def test_intent_extra_to_a_service_started_by_its_action() -> None:
    # no class is named in the Intent (new Intent("com.example.fixture.UPLOAD")): only the extra's
    # key links putExtra("contacts", …) (+46) to the service's getStringExtra("contacts")
    assert _chains("stage_extra_service") == [
        (
            "network",
            "confirmed",
            [
                ("Harvester.harvest", 54),
                ("MainActivity.onCreate", 46),
                ("UploadService.onStartCommand", 12),
                ("Uploader.upload", 44),
            ],
            UPLOAD_SINK,
            [{"kind": "intent_extra", "name": "contacts", "matched_by": "name"}],
        )
    ]


def test_an_extra_under_another_key_is_no_chain() -> None:
    entry = report_json("stage_extra_other")["data_classes"]["contacts"]
    assert (entry["chains"], entry["level"], entry["exfiltrated"]) == ([], "bulk", [])


def test_workmanager_input_data_by_key() -> None:
    # the worker class is named (const-class) where the data is put in its input, so the component
    # hand-off already carries the data into doWork: the chain needs no storage hop, and keeps none
    assert _chains("stage_work_data") == [
        (
            "network",
            "confirmed",
            [
                ("Harvester.harvest", 54),
                ("MainActivity.onCreate", 48),  # const-class UploadWorker
                ("UploadWorker.doWork", 20),
                ("Uploader.upload", 44),
            ],
            UPLOAD_SINK,
            [],
        )
    ]


def test_workmanager_input_key_store_and_read_are_matched_by_name() -> None:
    # Data.Builder.putString("contacts", <tainted>) at +28 is a store; doWork's
    # getInputData().getString("contacts") at +12 reads it back
    code = load_apk(fixture_apk("stage_work_data")).code
    flows = load_ruleset().flows
    index = StoreIndex(CallGraph(code, flows), flows)
    main = MethodId(class_name=F + "MainActivity", method="onCreate(Landroid/os/Bundle;)V")
    body = code.method_code(main.class_name, main.method)
    assert body is not None
    flow = analyse(body, Seeds(sites={6: (True, frozenset())}))  # the harvest() call's result
    (store,) = index.stores_in(main, body, flow)
    assert (store.kind, store.offset, store.name) == ("work_data", 28, "contacts")
    worker = MethodId(class_name=F + "UploadWorker", method="doWork()Landroidx/work/ListenableWorker$Result;")
    assert [(s.node, s.offset, hop) for s, hop in index.reads_of(store)] == [
        (worker, 12, StoreHop(kind="work_data", name="contacts", matched_by="name"))
    ]


def test_hand_off_is_worded_as_one_in_the_formats() -> None:
    report = scan(fixture_apk("stage_extra_service"))
    assert "   - Through: via hand-off: Intent extra contacts\n" in render(report, "markdown")
    assert "    via hand-off: Intent extra contacts\n" in render(report, "text")


def test_handoff_reports_are_valid() -> None:
    for name in ("stage_extra_service", "stage_extra_other", "stage_work_data"):
        assert list(report_schema_validator().iter_errors(report_json(name))) == [], name
