"""Uploads through a renamed HTTP library's request queue (issue 12 items 3 and 5): an object holding the
data put into a queue is followed to the thread that takes it (analysis/queues.py); and fields a helper
writes with the data are tainted back in its caller (analysis/chains.py ``_analysed``)."""

from __future__ import annotations

from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.queues import QueueIndex, QueueSite
from appaudit.analysis.taint import Seeds, analyse
from appaudit.api import scan
from appaudit.apk import load_apk
from appaudit.model import MethodId
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import contacts_chains as _chains
from conftest import fixture_apk, report_json, report_schema_validator

F = "com.example.fixture."
Q = F + "q."
HARVEST = ("Harvester.harvest", 54)
UPLOAD_SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
#: The renamed library's queue path: c.a (+4: PriorityBlockingQueue.add) to d.run (+16: the call of e.a with
#: the request taken at +4) to e.a (+38: getOutputStream).
QUEUE_PATH = [("q.c.a", 4), ("q.d.run", 16), ("q.e.a", 38)]


def _via(name: str | None, matched_by: str) -> list[dict[str, object]]:
    return [{"kind": "queue", "name": name, "matched_by": matched_by}]


def test_request_queued_in_a_renamed_library_reaches_its_http_call() -> None:
    # onCreate adds the request holding the contacts at +44; the dispatcher was given the queue c.a in its
    # constructor (by c.b, which the factory f.a called elsewhere), so the queue field names both sides
    assert _chains("queue_volley") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 44), *QUEUE_PATH],
            UPLOAD_SINK,
            _via(Q + "c.a", "name"),
        )
    ]
    entry = report_json("queue_volley")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_a_queue_carrying_something_else_is_no_channel_of_the_read() -> None:
    # the contacts go to a TextView; the queued request's body is "ping": the only chain is by calls alone,
    # through the factory that starts the dispatcher, and it is not the read's channel
    assert _chains("queue_unrelated") == [
        (
            "network",
            "unconfirmed",
            [HARVEST, ("MainActivity.onCreate", 6), ("q.f.a", 10), ("q.c.b", 0), ("q.d.run", 16), ("q.e.a", 38)],
            UPLOAD_SINK,
            [],
        )
    ]
    entry = report_json("queue_unrelated")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"], report_json("queue_unrelated")["verdict"]) == (
        "bulk",
        [],
        "at_risk",
    )


def test_a_queue_given_by_a_setter_is_matched_by_its_element_class_only() -> None:
    # d.a(BlockingQueue) sets the dispatcher's queue: not resolved to c.a, so the put's element type q.a
    # (c.a's parameter) and the take's check-cast q.a link them; the chain stays unconfirmed, and counts
    # because the data was handed on (the queue, the stream written)
    assert _chains("queue_by_type") == [
        (
            "network",
            "unconfirmed",
            [HARVEST, ("MainActivity.onCreate", 44), *QUEUE_PATH],
            UPLOAD_SINK,
            _via(Q + "c.a", "type"),
        )
    ]
    entry = report_json("queue_by_type")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def _index(name: str) -> tuple[QueueIndex, list[QueueSite]]:
    """The fixture's queue index and the puts of the request in c.a (its parameter tainted)."""
    code = load_apk(fixture_apk(name)).code
    flows = load_ruleset().flows
    index = QueueIndex(CallGraph(code, flows), flows.queues)
    node = MethodId(class_name=Q + "c", method="a(Lcom/example/fixture/q/a;)V")
    body = code.method_code(node.class_name, node.method)
    assert body is not None
    return index, index.puts_in(node, body, analyse(body, Seeds(params=frozenset({1}))))


def test_put_and_take_sites_with_their_queue_fields() -> None:
    index, puts = _index("queue_volley")
    node = MethodId(class_name=Q + "c", method="a(Lcom/example/fixture/q/a;)V")
    assert puts == [QueueSite(node=node, offset=4, queues=frozenset({Q + "c.a"}), complete=True, element=Q + "a")]
    run = MethodId(class_name=Q + "d", method="run()V")
    # the take (+4) loads d.a, which d's constructor sets from its parameter: c.b passes c.a
    assert index.takers(puts[0]) == [
        (
            QueueSite(node=run, offset=4, queues=frozenset({Q + "c.a", Q + "d.a"}), complete=True, element=Q + "a"),
            StoreHop(kind="queue", name=Q + "c.a", matched_by="name"),
        )
    ]


def test_a_setter_leaves_the_take_queue_open() -> None:
    index, puts = _index("queue_by_type")
    run = MethodId(class_name=Q + "d", method="run()V")
    assert index.takers(puts[0]) == [
        (
            QueueSite(node=run, offset=4, queues=frozenset({Q + "d.a"}), complete=False, element=Q + "a"),
            StoreHop(kind="queue", name=Q + "c.a", matched_by="type"),
        )
    ]


def test_untainted_element_is_no_put() -> None:
    code = load_apk(fixture_apk("queue_volley")).code
    flows = load_ruleset().flows
    index = QueueIndex(CallGraph(code, flows), flows.queues)
    node = MethodId(class_name=Q + "c", method="a(Lcom/example/fixture/q/a;)V")
    body = code.method_code(node.class_name, node.method)
    assert body is not None
    # only the queue itself (the receiver, position 0) tainted: no element carries the data
    assert index.puts_in(node, body, analyse(body, Seeds(params=frozenset({0})))) == []


def test_a_payload_a_helper_builds_in_a_field_is_followed_back_to_its_caller() -> None:
    # Worker.go puts the rows in store.rows, store.build() (no arguments) writes store.payload from them,
    # and go uploads store.payload (+34): the field build() wrote is tainted back in go
    assert _chains("queue_field_helper") == [
        ("network", "confirmed", [HARVEST, ("Worker.go", 34), ("Uploader.upload", 44)], UPLOAD_SINK, [])
    ]
    assert report_json("queue_field_helper")["data_classes"]["contacts"]["level"] == "harvested"


def test_a_helper_writing_a_constant_payload_carries_nothing_back() -> None:
    assert _chains("queue_field_other") == [
        ("network", "unconfirmed", [HARVEST, ("Worker.go", 34), ("Uploader.upload", 44)], UPLOAD_SINK, [])
    ]
    entry = report_json("queue_field_other")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("bulk", [])


def test_queue_hop_is_worded_as_a_hand_off_in_every_format() -> None:
    report = scan(fixture_apk("queue_volley"))
    hop = "via hand-off: queue com.example.fixture.q.c.a"
    assert f"    {hop}\n" in render(report, "text")
    assert f"   - Through: {hop}\n" in render(report, "markdown")
    assert hop in render(report, "html")
    typed = scan(fixture_apk("queue_by_type"))
    assert f"{hop} (matched by type only, no shared name: weighs less)" in render(typed, "markdown")
    assert "经组件传递：队列 com.example.fixture.q.c.a" in render(report, "markdown", lang="zh")


def test_queue_reports_are_valid() -> None:
    for name in ("queue_volley", "queue_unrelated", "queue_by_type", "queue_field_helper", "queue_field_other"):
        assert list(report_schema_validator().iter_errors(report_json(name))) == [], name
