"""`harvested` (and so the verdict `harvests`) needs the data that leaves to come from a bulk read.

A bulk read kept in one method and a single looked-up item sent from another is `exfiltrated`
(bulk true), not `harvested`: the address book is not shown to leave the device (issue #12 item 7).
"""

from __future__ import annotations

from appaudit.analysis.facts import BulkReason, ChainStep, HarvestChain, HarvestFacts, ProviderAccess, bulk_sent
from appaudit.analysis.verdict import data_class_results
from appaudit.model import Channel, Confidence, Dataflow, Effect, Evidence, EvidenceKind, Level, MethodId, Severity
from appaudit.report.model import Finding


def _read(method: str) -> Evidence:
    return Evidence(kind=EvidenceKind.INVOKE, value="query", class_name="com.x.A", method=method, offset=4)


def _facts(bulk_in: str, sent_from: str) -> HarvestFacts:
    access = ProviderAccess(
        data_class="contacts",
        uri="content://com.android.contacts/data",
        how="string",
        evidence=_read(bulk_in),
        bulk_reason=BulkReason.ALL_ROWS,
    )
    lookup = ProviderAccess(
        data_class="contacts",
        uri="content://com.android.contacts/data",
        how="string",
        evidence=_read("lookup()V"),
        bulk_reason=BulkReason.SELECTION_BOUND,
    )
    read = _read(sent_from)
    sink = Evidence(
        kind=EvidenceKind.INVOKE, value="HttpURLConnection.connect", class_name="com.x.U", method="post()V", offset=8
    )
    chain = HarvestChain(
        data_class="contacts",
        read=read,
        channel=Channel.NETWORK,
        sink=sink,
        steps=(ChainStep.at(MethodId(class_name="com.x.A", method=sent_from), 4),),
        dataflow=Dataflow.CONFIRMED,
    )
    return HarvestFacts(accesses=(access, lookup), chains=(chain,))


def test_chain_from_the_bulk_read_is_harvested() -> None:
    facts = _facts("all()V", "all()V")
    assert bulk_sent(facts, "contacts") is True


def _reads(facts: HarvestFacts) -> Finding:
    return Finding(
        rule_id="AA-CON-001",
        title="reads contacts",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        data_class="contacts",
        effect=Effect.READS,
        message="reads contacts",
        evidence=tuple(a.evidence for a in facts.accesses),
    )


def test_bulk_here_and_one_item_sent_there_is_exfiltrated_not_harvested() -> None:
    facts = _facts("all()V", "lookup()V")
    assert bulk_sent(facts, "contacts") is False
    result = data_class_results([_reads(facts)], facts)["contacts"]
    assert (result.level, result.bulk, result.exfiltrated) == (Level.EXFILTRATED, True, (Channel.NETWORK,))


def test_the_same_from_the_bulk_read_is_harvested() -> None:
    facts = _facts("all()V", "all()V")
    result = data_class_results([_reads(facts)], facts)["contacts"]
    assert (result.level, result.bulk, result.exfiltrated) == (Level.HARVESTED, True, (Channel.NETWORK,))
