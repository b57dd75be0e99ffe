"""An app method's result is the data only when what it returns depends on what it was handed
(analysis/returns.py): an insert wrapper's row id is not the rows, a method returning the rows is."""

from __future__ import annotations

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.returns import ReturnSummaries
from appaudit.analysis.taint import Plans
from appaudit.apk import load_apk
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk, report_json

F = "com.example.fixture."
SAVE = "Lcom/example/fixture/Store;->save(Landroid/content/Context;Ljava/lang/String;)J"
PACK = "Lcom/example/fixture/Store;->pack(Ljava/lang/String;)Ljava/lang/String;"
HARVEST = "Lcom/example/fixture/Harvester;->harvest(Landroid/content/Context;)Ljava/lang/String;"
INSERT = (
    "Landroid/database/sqlite/SQLiteDatabase;->insert("
    "Ljava/lang/String;Ljava/lang/String;Landroid/content/ContentValues;)J"
)
SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"


def _chains(name: str) -> list[tuple[str, str, list[tuple[str, int | None]], str]]:
    return [
        (
            c["channel"],
            c["dataflow"],
            [(s["class"].removeprefix(F) + "." + s["method"].split("(")[0], s["offset"]) for s in c["steps"]],
            c["sink"]["value"],
        )
        for c in report_json(name)["data_classes"]["contacts"]["chains"]
    ]


def _summaries(name: str) -> ReturnSummaries:
    flows = load_ruleset().flows
    graph = CallGraph(load_apk(fixture_apk(name)).code, flows)
    framework = {INSERT}
    return ReturnSummaries(graph, Plans(), lambda desc: False, lambda ref: ref in framework)


def test_insert_wrapper_returns_a_row_id_not_the_rows() -> None:
    summaries = _summaries("sum_wrapper_rowid")
    assert (summaries.fresh(SAVE), summaries.fresh(INSERT)) == (True, True)
    # harvest's result is the rows its query read: not fresh (its Context parameter is tainted in the summary)
    assert summaries.fresh(HARVEST) is False
    # a framework call not listed, and a method that returns nothing, are not fresh
    assert summaries.fresh("Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;") is False
    assert summaries.fresh("Lcom/example/fixture/Uploader;->upload(Ljava/lang/String;)V") is False


def test_method_returning_the_rows_it_was_given_is_not_fresh() -> None:
    assert _summaries("sum_wrapper_rows").fresh(PACK) is False


def test_uploaded_row_id_leaves_the_chain_by_calls_alone() -> None:
    # before the summary, save's result was tainted by its argument and the chain was confirmed
    assert _chains("sum_wrapper_rowid") == [
        (
            "network",
            "unconfirmed",
            [("Harvester.harvest", 54), ("MainActivity.onCreate", 50), ("Uploader.upload", 44)],
            SINK,
        )
    ]
    entry = report_json("sum_wrapper_rowid")["data_classes"]["contacts"]
    # the rows went into storage (lost to the data-flow check), so the calls-only chain still counts
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_uploaded_result_that_is_the_rows_is_confirmed() -> None:
    assert _chains("sum_wrapper_rows") == [
        (
            "network",
            "confirmed",
            [("Harvester.harvest", 54), ("MainActivity.onCreate", 22), ("Uploader.upload", 44)],
            SINK,
        )
    ]
    entry = report_json("sum_wrapper_rows")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"], entry["at_startup"]) == ("harvested", ["network"], True)
