"""The ``declarations`` block of the JSON v1 report (present only when a declaration was given;
see docs/declarations.md), written and read back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only the reader imports them: importing the declarations package
    # (its readers, html.parser among them) is 9 ms of every scan, which has no declaration block.
    from appaudit.declarations.model import DataSafety, DeclarationReport, PrivacyPolicy


def _data_safety(d: DataSafety) -> dict[str, Any]:
    return {
        "source": d.source,
        "format": d.format,
        "no_data_collected": None if d.collects_any is None else not d.collects_any,
        "classes": {
            u.data_class: {
                "collected": u.collected,
                "shared": u.shared,
                "ephemeral": u.ephemeral,
                "optional": u.optional,
                "purposes": list(u.purposes),
                "rows": list(u.rows),
            }
            for u in d.uses
        },
        "warnings": list(d.warnings),
    }


def _privacy_policy(p: PrivacyPolicy) -> dict[str, Any]:
    return {
        "source": p.source,
        "format": p.format,
        "text_found": p.text_found,
        "characters": p.characters,
        "mentions": [
            {
                "data_class": m.data_class,
                "stance": m.stance,
                "language": m.language,
                "phrase": m.phrase,
                "sentence": m.sentence,
            }
            for m in p.mentions
        ],
    }


def declarations_dict(d: DeclarationReport) -> dict[str, Any]:
    return {
        "complete": d.complete,
        "incomplete": list(d.incomplete),
        "rules_sha256": d.rules_sha256,
        "data_safety": _data_safety(d.data_safety) if d.data_safety is not None else None,
        "privacy_policy": _privacy_policy(d.privacy_policy) if d.privacy_policy is not None else None,
        "classes": {
            c.data_class: {
                "declared": c.declared,
                "policy": c.policy,
                "found": c.found,
                "leaves_by": list(c.leaves_by),
                "sent_by_sdks": list(c.sent_by_sdks),
                "rule_ids": list(c.rule_ids),
            }
            for c in d.classes
        },
    }


def _data_safety_from(d: dict[str, Any]) -> DataSafety:
    from appaudit.declarations.model import DataSafety, DeclaredUse

    nothing = d["no_data_collected"]
    return DataSafety(
        source=d["source"],
        format=d["format"],
        collects_any=None if nothing is None else not nothing,
        uses=tuple(
            DeclaredUse(
                data_class=name,
                collected=u["collected"],
                shared=u["shared"],
                ephemeral=u["ephemeral"],
                optional=u["optional"],
                purposes=tuple(u["purposes"]),
                rows=tuple(u["rows"]),
            )
            for name, u in d["classes"].items()
        ),
        warnings=tuple(d["warnings"]),
    )


def _privacy_policy_from(p: dict[str, Any]) -> PrivacyPolicy:
    from appaudit.declarations.model import PolicyMention, PrivacyPolicy

    return PrivacyPolicy(
        source=p["source"],
        format=p["format"],
        text_found=p["text_found"],
        characters=p["characters"],
        mentions=tuple(
            PolicyMention(
                data_class=m["data_class"],
                stance=m["stance"],
                language=m["language"],
                phrase=m["phrase"],
                sentence=m["sentence"],
            )
            for m in p["mentions"]
        ),
    )


def declarations_from_dict(d: dict[str, Any]) -> DeclarationReport:
    """The inverse of :func:`declarations_dict` (the Data safety rows' ``collects_any_row`` is not
    in the JSON and comes back empty)."""
    from appaudit.declarations.model import ClassComparison, DeclarationReport

    return DeclarationReport(
        complete=d["complete"],
        incomplete=tuple(d["incomplete"]),
        rules_sha256=d["rules_sha256"],
        data_safety=_data_safety_from(d["data_safety"]) if d["data_safety"] is not None else None,
        privacy_policy=_privacy_policy_from(d["privacy_policy"]) if d["privacy_policy"] is not None else None,
        classes=tuple(
            ClassComparison(
                data_class=name,
                declared=c["declared"],
                policy=c["policy"],
                found=c["found"],
                leaves_by=tuple(c["leaves_by"]),
                sent_by_sdks=tuple(c["sent_by_sdks"]),
                rule_ids=tuple(c["rule_ids"]),
            )
            for name, c in d["classes"].items()
        ),
    )
