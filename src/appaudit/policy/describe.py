"""Policy packs as the CLI prints them: ``appaudit policies list`` and ``policies show ID``. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from appaudit.policy.packs import PolicyPack, Provision

#: What each citation confidence means (schemas/policy.schema.json).
CONFIDENCE_MEANING = {
    "V": "text seen",
    "P": "substance seen, article number unconfirmed",
    "U": "not retrieved: check the official text before relying on it",
}


def find_provision(packs: Sequence[PolicyPack], provision_id: str) -> tuple[PolicyPack, Provision] | None:
    """The pack and provision with this id (case-insensitive), None when no pack has it."""
    wanted = provision_id.upper()
    return next(((pack, p) for pack in packs for p in pack.provisions if p.id == wanted), None)


def packs_listing(packs: Sequence[PolicyPack]) -> str:
    """One line per pack, then one indented line per provision: id, confidence, kind, instrument and article."""
    lines: list[str] = []
    for pack in packs:
        lines.append(f"{pack.id}: {pack.name} ({pack.jurisdiction}; version {pack.version})")
        width = max(len(p.id) for p in pack.provisions)
        lines.extend(
            f"  {p.id:<{width}}  {p.confidence}  {p.kind:<16}  {p.instrument}, {p.article}" for p in pack.provisions
        )
    return "\n".join(lines) + "\n"


def provision_text(pack: PolicyPack, provision: Provision) -> str:
    """Everything a pack says about one provision, one field per line."""
    triggers = ", ".join(
        f"{t.data_class} {t.strength}" + (f" (via {', '.join(t.permissions)})" if t.permissions else "")
        for t in provision.triggers
    )
    rows = [
        ("provision", f"{provision.id} ({pack.id}: {pack.name})"),
        ("instrument", provision.instrument),
        ("article", provision.article),
        ("kind", provision.kind),
        ("paraphrase", provision.paraphrase),
        ("paraphrase (zh)", provision.paraphrase_zh or "-"),
        ("source", provision.source),
        ("effective", provision.effective),
        ("confidence", f"{provision.confidence} ({CONFIDENCE_MEANING[provision.confidence]})"),
        ("triggered by", triggers),
    ]
    width = max(len(k) for k, _ in rows) + 1
    return "".join(f"{k + ':':<{width}} {v}\n" for k, v in rows)
