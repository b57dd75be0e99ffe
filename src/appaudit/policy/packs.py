"""Load and validate policy packs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from appaudit.errors import ConfigError, RuleError
from appaudit.report.model import Citation, ProvisionKind
from appaudit.resources import rules_dir, schema_path


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """What makes a provision apply: a data class at a strength, optionally via named permissions."""

    data_class: str
    strength: Literal["declared", "read", "bulk", "exfiltrated", "at_startup", "declaration"]
    """declared, read, bulk, exfiltrated, at_startup, or declaration (a contradiction finding, see ``rules``)."""
    permissions: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    """For strength ``declaration``: the contradiction rules (AA-DEC-*) whose finding for the class triggers it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Provision:
    """One provision of an instrument, with how sure we are of the citation."""

    id: str
    instrument: str
    article: str
    paraphrase: str
    source: str
    effective: str
    confidence: Citation
    """V (seen), P (substance seen, number unconfirmed) or U (unverified: must be checked)."""
    kind: ProvisionKind
    """prohibited, not_necessary or separate_consent."""
    triggers: tuple[Trigger, ...]
    paraphrase_zh: str | None = None
    """The paraphrase in Simplified Chinese (given for every Chinese provision); None where there is none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyPack:
    id: str
    name: str
    jurisdiction: str
    version: str
    provisions: tuple[Provision, ...]


def _pack(doc: dict[str, Any]) -> PolicyPack:
    return PolicyPack(
        id=doc["id"],
        name=doc["name"],
        jurisdiction=doc["jurisdiction"],
        version=str(doc["version"]),
        provisions=tuple(
            Provision(
                id=p["id"],
                instrument=p["instrument"],
                article=p["article"],
                paraphrase=p["paraphrase"],
                paraphrase_zh=p.get("paraphrase_zh"),
                source=p["source"],
                effective=str(p["effective"]),
                confidence=Citation(p["confidence"]),
                kind=ProvisionKind(p["kind"]),
                triggers=tuple(
                    Trigger(
                        data_class=t["data_class"],
                        strength=t["strength"],
                        permissions=tuple(t.get("permissions", ())),
                        rules=tuple(t.get("rules", ())),
                    )
                    for t in p["triggers"]
                ),
            )
            for p in doc["provisions"]
        ),
    )


def read_pack(path: Path, source: str) -> PolicyPack:
    """Parse and validate one policy pack file (schemas/policy.schema.json)."""
    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(json.loads(schema_path("policy.schema.json").read_text()))
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(source, "(parse)", f"invalid YAML: {exc}") from exc
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        key = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise RuleError(source, key, errors[0].message)
    return _pack(doc)


def select_packs(packs: Sequence[PolicyPack], selected: Sequence[str] = ()) -> tuple[PolicyPack, ...]:
    """``selected`` packs in that order (all, sorted by id, when empty); unknown ids are a ConfigError."""
    by_id = {p.id: p for p in packs}
    unknown = [s for s in selected if s not in by_id]
    if unknown:
        raise ConfigError(f"unknown policy pack(s): {', '.join(unknown)} (known: {', '.join(sorted(by_id))})")
    return tuple(by_id[i] for i in (selected or sorted(by_id)))


def load_policy_packs(selected: Sequence[str] = (), directory: Path | None = None) -> tuple[PolicyPack, ...]:
    """Every pack in ``directory`` (default: the bundled rules/policies), or only ``selected`` ids."""
    folder = directory or rules_dir() / "policies"
    packs = [read_pack(path, f"policies/{path.name}") for path in sorted(folder.glob("*.yaml"))]
    return select_packs(packs, selected)
