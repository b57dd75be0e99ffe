"""Which provisions an app's data-class answers trigger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from appaudit.policy.packs import PolicyPack, Trigger
from appaudit.report.model import DataClassResult, Finding, PolicyResult, PolicyViolation

_LEAVES = ("network", "sms")


def _met(trigger: Trigger, result: DataClassResult, findings: Sequence[Finding] = ()) -> str | None:
    """Why ``trigger`` holds for this data class, or None."""
    if trigger.strength == "declaration":
        hits = sorted(
            {f.rule_id for f in findings if f.data_class == trigger.data_class and f.rule_id in trigger.rules}
        )
        return f"declaration contradicted ({', '.join(hits)})" if hits else None
    if trigger.strength == "declared":
        perms = [p for p in result.permissions if not trigger.permissions or p in trigger.permissions]
        return f"declares {', '.join(perms)}" if result.declared and perms else None
    if not result.read:
        return None
    if trigger.strength == "read":
        return "code reads it"
    if trigger.strength == "bulk":
        return "code reads all of it" if result.bulk else None
    if trigger.strength == "exfiltrated":
        chans = [c for c in result.exfiltrated if c in _LEAVES]
        return f"sent off the device by {', '.join(chans)}" if chans else None
    if trigger.strength == "at_startup":
        return "read at start-up without user action" if result.at_startup else None
    return None


def evaluate_policies(
    packs: Sequence[PolicyPack], results: Mapping[str, DataClassResult], findings: Sequence[Finding] = ()
) -> tuple[PolicyResult, ...]:
    """One PolicyResult per pack, listing each provision whose triggers hold (``declaration`` triggers:
    when one of their contradiction rules has a finding for the class)."""
    out = []
    for pack in packs:
        violations = []
        for prov in pack.provisions:
            reasons = sorted(
                {
                    f"{t.data_class}: {why}"
                    for t in prov.triggers
                    if (why := _met(t, results[t.data_class], findings)) is not None
                }
            )
            if reasons:
                violations.append(
                    PolicyViolation(
                        provision=prov.id,
                        instrument=prov.instrument,
                        article=prov.article,
                        paraphrase=prov.paraphrase,
                        paraphrase_zh=prov.paraphrase_zh,
                        source=prov.source,
                        effective=prov.effective,
                        confidence=prov.confidence,
                        kind=prov.kind,
                        data_classes=tuple(sorted({r.split(":", 1)[0] for r in reasons})),
                        triggered_by=tuple(reasons),
                    )
                )
        out.append(
            PolicyResult(
                id=pack.id,
                name=pack.name,
                jurisdiction=pack.jurisdiction,
                version=pack.version,
                violations=tuple(violations),
            )
        )
    return tuple(out)
