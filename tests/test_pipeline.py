"""The scan's stages: one Diagnostics collector, evidence attributed and findings suppressed as they are made."""

from __future__ import annotations

import dataclasses

import pytest

from appaudit.analysis.attribution import Attributor
from appaudit.api import ScanOptions, scan
from appaudit.engine import evaluate
from appaudit.history.baseline import Baseline, Suppression
from appaudit.model import OwnerKind
from appaudit.pipeline import Diagnostics, stages
from appaudit.report.model import CoverageReason, ScanErrorEntry
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk


def test_diagnostics_keep_reasons_in_order_and_sort_errors() -> None:
    diagnostics = Diagnostics()
    diagnostics.add_reason("timeout", "late")
    diagnostics.add_error("rule B", "boom")
    diagnostics.add_reasons([CoverageReason(code="dex_damaged", detail="x")])
    diagnostics.add_errors(
        [ScanErrorEntry(where="classes.dex", message="bad"), ScanErrorEntry(where="rule B", message="a")]
    )
    diagnostics.add_error("rule B", "boom")
    result = diagnostics.result()
    assert result.reasons == (
        CoverageReason(code="timeout", detail="late"),
        CoverageReason(code="dex_damaged", detail="x"),
    )
    assert [(e.where, e.message) for e in result.errors] == [
        ("classes.dex", "bad"),
        ("rule B", "a"),
        ("rule B", "boom"),
        ("rule B", "boom"),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.errors = ()  # type: ignore[misc]


def _loaded(name: str) -> stages.Loaded:
    return stages.load(fixture_apk(name), ScanOptions().limits, Diagnostics())


def test_engine_findings_carry_their_owners_when_made() -> None:
    ruleset = load_ruleset()
    loaded = _loaded("sdk_api_baiqishi")
    owners = Attributor(loaded.app, ruleset.sdks)
    found = {f.rule_id: f for f in evaluate(ruleset, loaded.app, loaded.code, owners=owners).findings}
    # attribute_to: callee -> the invoked SDK's class owns the call the host makes
    sdk = found["AA-SDK-001"]
    assert {(e.class_name, e.owner.sdk_id if e.owner else None) for e in sdk.evidence} == {
        ("com.example.fixture.MainActivity", "baiqishi")
    }
    assert [(o.kind, o.sdk_id) for o in sdk.owners] == [(OwnerKind.SDK, "baiqishi")]
    # without an owner lookup the evidence has none (the coverage signals use it so)
    bare = {f.rule_id: f for f in evaluate(ruleset, loaded.app, loaded.code).findings}
    assert bare["AA-SDK-001"].owners == () and {e.owner for e in bare["AA-SDK-001"].evidence} == {None}


def test_baseline_marks_findings_as_the_engine_makes_them() -> None:
    ruleset = load_ruleset()
    loaded = _loaded("contacts_const")
    accepted = Baseline(suppressions=(Suppression(rule_id="AA-CON-001", reason="declared on purpose"),))
    findings = evaluate(ruleset, loaded.app, loaded.code, baseline=accepted).findings
    assert {f.rule_id: f.suppression for f in findings if f.suppressed} == {"AA-CON-001": "declared on purpose"}
    report = scan(fixture_apk("contacts_const"), ScanOptions(baseline=accepted, deterministic=True))
    assert [f.rule_id for f in report.findings if f.suppressed] == ["AA-CON-001"]
    assert report.options == ScanOptions().describe()  # a baseline is not a scan option the report records


def test_each_stage_reports_what_it_could_not_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from appaudit.analysis.facts import HarvestFacts
    from appaudit.engine import matchers

    def broken(*_args: object) -> HarvestFacts:
        raise ValueError("no chains today")

    def refuse(_spec: object, _ctx: object) -> list[object]:
        raise KeyError("field")

    monkeypatch.setattr(stages, "harvest_facts", broken)
    monkeypatch.setitem(matchers.MATCHERS, "field", refuse)
    report = scan(fixture_apk("contacts_const"))
    field_rules = sorted(r.id for r in load_ruleset().rules if r.match_kind == "field")
    assert field_rules  # the bundled pack has field rules, or this test checks nothing
    assert [(e.where, e.message) for e in report.errors] == [
        ("harvest chains", "ValueError: no chains today"),
        *((f"rule {rid}", "KeyError: 'field'") for rid in field_rules),
    ]
    # the analysis and the field rules failed; the permission rule still ran
    contacts = report.data_classes["contacts"]
    assert (contacts.rule_ids, contacts.level, contacts.chains) == (("AA-CON-001",), "declared", ())

    monkeypatch.setattr(stages, "harvest_facts", lambda *_args: HarvestFacts(search_truncated=True))
    assert [r.code for r in scan(fixture_apk("contacts_const")).coverage.reasons] == ["search_budget"]


def test_baseline_marks_contradiction_findings_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import ROOT

    monkeypatch.chdir(ROOT)  # declaration paths appear in the evidence as given
    data_safety = "tests/declarations/console_hides_contacts.csv"
    accepted = Baseline(suppressions=(Suppression(rule_id="AA-DEC-001", reason="form fixed in the next release"),))
    report = scan(fixture_apk("contacts_const"), ScanOptions(data_safety=data_safety, baseline=accepted))
    assert [(f.rule_id, f.suppression) for f in report.findings if f.suppressed] == [
        ("AA-DEC-001", "form fixed in the next release")
    ]
