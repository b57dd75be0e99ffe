"""Arguments a call fills with its tainted ones (analysis/analyses.py ``fills``, returns.py ``filled``): a
stream read fills its buffer, an app helper copying a stream fills the output stream it is handed."""

from __future__ import annotations

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.returns import ReturnSummaries, fillable
from appaudit.analysis.taint import Plans
from appaudit.apk import load_apk
from appaudit.ruleset import load_ruleset
from conftest import contacts_chains, fixture_apk

SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
COPY = "Lcom/example/fixture/Sync;->copy(Ljava/io/InputStream;Ljava/io/OutputStream;)V"


def test_a_copy_helper_fills_its_output_stream() -> None:
    code = load_apk(fixture_apk("dbf_dbcopy")).code
    body = code.method_code("com.example.fixture.Sync", "copy(Ljava/io/InputStream;Ljava/io/OutputStream;)V")
    assert body is not None
    assert fillable(body) == frozenset({1})  # the output stream (a container type, never reassigned)
    summaries = ReturnSummaries(CallGraph(code, load_ruleset().flows), Plans(), lambda desc: False, lambda ref: False)
    # what copy writes into ``out`` comes from ``in``: it fills position 1 (and ``in`` itself is no output)
    assert summaries.filled(COPY, frozenset({0})) == frozenset({1})
    assert (
        summaries.filled(
            "Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;", frozenset({1})
        )
        == frozenset()
    )


def test_only_containers_never_reassigned_are_filled() -> None:
    code = load_apk(fixture_apk("dbf_dbcopy")).code
    send = code.method_code("com.example.fixture.Sync", "send(Landroid/content/Context;)V")
    to_bytes = code.method_code("com.example.fixture.Sync", "toBytes(Ljava/io/InputStream;)[B")
    upload = code.method_code("com.example.fixture.Uploader", "upload(Ljava/lang/String;)V")
    assert send is not None and to_bytes is not None and upload is not None
    # a Context, an input stream and a String hold nothing a callee writes into
    assert (fillable(send), fillable(to_bytes), fillable(upload)) == (frozenset(), frozenset(), frozenset())


def test_database_file_copied_through_helpers_is_confirmed() -> None:
    hop = [{"kind": "database_file", "name": "harvest.db", "matched_by": "name"}]
    steps = [("Harvester.harvest", 54), ("MainActivity.onCreate", 24), ("Store.save", 34), ("Sync.send", 40)]
    assert contacts_chains("dbf_dbcopy") == [("network", "confirmed", [*steps, ("Uploader.upload", 44)], SINK, hop)]


def test_copy_helper_writing_a_constant_carries_nothing() -> None:
    steps = [("Harvester.harvest", 54), ("MainActivity.onCreate", 30), ("Sync.send", 40), ("Uploader.upload", 44)]
    assert contacts_chains("dbf_dbcopy_other") == [("network", "unconfirmed", steps, SINK, [])]
