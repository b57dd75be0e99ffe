"""Load rule YAML files, validate them against schemas/rule.schema.json, hash the set.

An invalid rule is an error naming the file and the key, never skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appaudit.errors import RuleError
from appaudit.model import Confidence, Effect, Severity
from appaudit.policy.packs import PolicyPack, read_pack
from appaudit.resources import rules_dir
from appaudit.ruleset.cache import cache_file, read_cached, write_cached
from appaudit.ruleset.declarations import PhraseList, declaration_files, load_declarations
from appaudit.ruleset.flows import FlowSpec, flow_spec_from
from appaudit.ruleset.rule import Reference, Rule, RuleDocs
from appaudit.ruleset.validation import (
    check_regexes,
    key_path,
    rule_schema,
    rule_texts,
    rule_validator,
    validated,
    validated_data,
    yaml_load,
)

_RULE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True, kw_only=True)
class SdkInfo:
    """A third-party SDK known by its package prefixes (rules/sdks.yaml)."""

    id: str
    name: str
    vendor: str
    category: str
    prefixes: tuple[str, ...]
    """Package prefixes of its code (whole segments; the longest matching prefix wins)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageSignal:
    """A sign that part of the app's code cannot be seen (rules/coverage_signals.yaml)."""

    code: str
    detail: str
    match_kind: str
    match: Any
    except_class_prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitPermission:
    """A permission Android grants implicitly with another one below a target SDK."""

    granted_by: str
    implies: str
    below_target_sdk: int | None
    """The implication holds for apps targeting an SDK lower than this (None: always)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ruleset:
    """A validated set of rules and the sha256 that identifies it."""

    rules: tuple[Rule, ...]
    sha256: str
    split_permissions: tuple[SplitPermission, ...]
    coverage_signals: tuple[CoverageSignal, ...] = ()
    flows: FlowSpec = field(default_factory=FlowSpec)
    sdks: tuple[SdkInfo, ...] = ()
    policy_packs: tuple[PolicyPack, ...] = ()
    """Packs from each rule directory's ``policies/`` folder, validated."""
    declaration_rules: tuple[Rule, ...] = ()
    """Rules of ``declarations/rules/`` (match kind ``declaration``), used only when a declaration is given."""
    policy_phrases: tuple[PhraseList, ...] = ()
    """Privacy-policy phrase lists of ``declarations/phrases/``, one per language."""
    declarations_sha256: str = ""
    """Of the declaration rules and phrase lists (kept out of ``sha256``: reports without a declaration do not
    depend on them)."""

    @property
    def every_rule(self) -> tuple[Rule, ...]:
        """Detection and declaration rules, sorted by id (what ``rules list``, ``show`` and ``docs`` cover)."""
        return tuple(sorted(self.rules + self.declaration_rules, key=lambda r: r.id))

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.every_rule if r.id == rule_id), None)


def _build(doc: dict[str, Any], source: str) -> Rule:
    (kind,) = doc["match"].keys()
    exception = doc.get("except_in_methods_with") or {}
    ((except_kind, except_match),) = exception.items() if exception else ((None, None),)
    docs = doc["docs"]
    return Rule(
        id=doc["id"],
        name=doc["name"],
        title=doc["title"],
        severity=Severity.parse(doc["severity"]),
        confidence=Confidence(doc["confidence"]),
        data_class=doc["data_class"],
        effect=Effect(doc["effect"]),
        requires_permission=tuple(doc.get("requires_permission", ())),
        match_kind=kind,
        match=doc["match"][kind],
        except_kind=except_kind,
        except_match=except_match,
        message=doc["message"].strip(),
        rationale=doc["rationale"].strip(),
        references=tuple(Reference(title=r["title"], url=r["url"]) for r in doc["references"]),
        docs=RuleDocs(
            finds=docs["finds"].strip(),
            why=docs["why"].strip(),
            example=docs["example"].strip(),
            compliant=docs["compliant"].strip(),
        ),
        tags=tuple(doc.get("tags", ())),
        source=source,
        attribute_to=doc.get("attribute_to", "site"),
    )


def _split_permissions(text: str, source: str) -> list[SplitPermission]:
    doc = yaml_load(text, source)
    out = []
    items = doc.get("split_permissions") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RuleError(source, "split_permissions", "must be a list")
    for i, item in enumerate(items):
        try:
            out.append(
                SplitPermission(
                    granted_by=str(item["granted_by"]),
                    implies=str(item["implies"]),
                    below_target_sdk=item.get("below_target_sdk"),
                )
            )
        except (KeyError, TypeError) as exc:
            raise RuleError(source, f"split_permissions.{i}", f"missing or bad key {exc}") from exc
    return out


def _validated_rule(item: Any, where: str, source: str) -> Rule:
    """One rule document checked against the rule schema and built (RuleError names file and key)."""
    errors = sorted(rule_validator().iter_errors(item), key=lambda e: list(e.absolute_path))
    if errors:
        raise RuleError(where, key_path(errors[0]), errors[0].message)
    check_regexes(item, where)
    return _build(item, source)


def _coverage_signals(text: str, source: str, schema: dict[str, Any]) -> list[CoverageSignal]:
    doc = validated(text, source, schema, "coverage_signals")
    out = []
    for i, item in enumerate(doc["signals"]):
        check_regexes(item, source, f"signals.{i}.")
        ((kind, match),) = item["match"].items()
        out.append(
            CoverageSignal(
                code=item["code"],
                detail=item["detail"],
                match_kind=kind,
                match=match,
                except_class_prefixes=tuple(item.get("except_class_prefixes", ())),
            )
        )
    return out


def _sdks(text: str, source: str, schema: dict[str, Any]) -> list[SdkInfo]:
    doc = validated(text, source, schema, "sdks")
    return [
        SdkInfo(
            id=i["id"],
            name=i["name"],
            vendor=i["vendor"],
            category=i["category"],
            prefixes=tuple(i["prefixes"]),
        )
        for i in doc["sdks"]
    ]


def _flows(text: str, source: str, schema: dict[str, Any]) -> FlowSpec:
    return flow_spec_from(validated(text, source, schema, "flows"))


def _policy_files(directory: Path) -> list[Path]:
    return sorted((directory / "policies").glob("*.yaml")) if (directory / "policies").is_dir() else []


def _rule_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise RuleError(str(directory), "(directory)", "rule directory does not exist")
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in _RULE_SUFFIXES
        and p.is_file()
        and "policies" not in p.parts
        and p.relative_to(directory).parts[0] != "declarations"
    )


def load_ruleset(extra_dirs: Sequence[str | Path] = (), *, bundled: bool = True) -> Ruleset:
    """Load the bundled rules (unless ``bundled`` is False) and every ``extra_dirs``.

    Validation (YAML parsing and the JSON Schema check) is the slow part of
    start-up, so a validated ruleset is cached on disk under a digest of the
    rule files; a missing, unreadable or stale cache just means validating again.
    """
    dirs: list[Path] = ([rules_dir()] if bundled else []) + [Path(d) for d in extra_dirs]
    cache = cache_file(dirs, _source_files)
    if cache is not None and cache in _LOADED:  # the same digest: the same files, read already
        return _LOADED[cache]
    cached = read_cached(cache) if cache is not None else None
    ruleset = cached if isinstance(cached, Ruleset) else _load_and_validate(dirs)
    if cache is not None:
        if ruleset is not cached:
            write_cached(cache, ruleset)
        _remember(cache, ruleset)
    return ruleset


#: Rulesets this process loaded, by cache file (a digest of every file they depend on), most
#: recent last. A scan asks twice (the ruleset it runs and the bundled one its report links rules
#: to the documentation with), a batch worker once per APK: unpickling again was 2 ms each time.
_LOADED: dict[Path, Ruleset] = {}
#: Rulesets remembered at most (a process that loads many rule directories keeps the latest).
MAX_LOADED = 8


def _remember(cache: Path, ruleset: Ruleset) -> None:
    _LOADED[cache] = ruleset
    while len(_LOADED) > MAX_LOADED:
        del _LOADED[next(iter(_LOADED))]


def _source_files(directory: Path) -> list[Path]:
    """Every file of a rule directory a loaded ruleset depends on: rules, data, policy packs, declarations."""
    return _rule_files(directory) + _policy_files(directory) + declaration_files(directory)


def _detection_rules(text: str, source: str, seen: dict[str, str]) -> list[Rule]:
    """The rules of one rule file (one rule or a list), validated; ``seen`` maps each id loaded so far to where.

    Raises RuleError for a declaration rule (they belong in ``declarations/rules/``) and a duplicate id.
    """
    doc = yaml_load(text, source)
    docs: Iterable[Any] = doc if isinstance(doc, list) else [doc]
    rules: list[Rule] = []
    for i, item in enumerate(docs):
        where = source if not isinstance(doc, list) else f"{source}[{i}]"
        rule = _validated_rule(item, where, source)
        if rule.match_kind == "declaration" or rule.data_class == "any":
            raise RuleError(where, "match", "declaration rules belong in declarations/rules/")
        if item["id"] in seen:
            raise RuleError(where, "id", f"duplicate rule id {item['id']} (also in {seen[item['id']]})")
        seen[item["id"]] = where
        rules.append(rule)
    return rules


def _policy_packs(dirs: Sequence[Path], digest: hashlib._Hash) -> tuple[PolicyPack, ...]:
    """The validated packs of every directory's ``policies/``, by id; each file's name and bytes go into ``digest``."""
    packs: dict[str, PolicyPack] = {}
    for directory in dirs:
        for path in _policy_files(directory):
            source = f"{directory.name}/policies/{path.name}"
            digest.update(f"policies/{path.name}".encode() + b"\0" + path.read_bytes() + b"\0")
            pack = read_pack(path, source)
            packs[pack.id] = pack  # a user's pack replaces a bundled one with the same id
    return tuple(packs[k] for k in sorted(packs))


def _load_and_validate(dirs: Sequence[Path]) -> Ruleset:
    digest = hashlib.sha256()
    rules: list[Rule] = []
    splits: list[SplitPermission] = []
    signals: list[CoverageSignal] = []
    flows = FlowSpec()
    sdks: list[SdkInfo] = []
    seen: dict[str, str] = {}
    for path, source, text in rule_texts(dirs, _rule_files, digest):
        if path.name == "split_permissions.yaml":
            splits.extend(_split_permissions(text, source))
            continue
        if path.name == "sdks.yaml":
            sdks.extend(_sdks(text, source, rule_schema()))
            continue
        if path.name == "flows.yaml":
            flows = _flows(text, source, rule_schema())
            continue
        if path.name == "coverage_signals.yaml":
            signals.extend(_coverage_signals(text, source, rule_schema()))
            continue
        rules.extend(_detection_rules(text, source, seen))
    packs = _policy_packs(dirs, digest)
    rules.sort(key=lambda r: r.id)
    declaration_rules, phrases, declarations_sha = load_declarations(
        dirs, lambda item, where: _validated_rule(item, where, where.split("[")[0]), validated_data
    )
    clash = sorted({r.id for r in rules} & {r.id for r in declaration_rules})
    if clash:
        raise RuleError("declarations/rules", "id", f"rule id {clash[0]} is also a detection rule")
    return Ruleset(
        declaration_rules=declaration_rules,
        policy_phrases=phrases,
        declarations_sha256=declarations_sha,
        rules=tuple(rules),
        sha256=digest.hexdigest(),
        split_permissions=tuple(splits),
        coverage_signals=tuple(signals),
        flows=flows,
        sdks=tuple(sdks),
        policy_packs=packs,
    )


def validate_directory(directory: str | Path) -> Ruleset:
    """Validate one rule directory as ``--rules DIR`` would load it (RuleError names file and key).

    Also an error: a directory without rule files, and a rule id the bundled pack already uses.
    """
    path = Path(directory)
    ruleset = load_ruleset([path], bundled=False)
    if not ruleset.rules and not _rule_files(path):
        raise RuleError(str(path), "(directory)", "no rule files (*.yaml, *.yml) found")
    if path.resolve() != rules_dir().resolve():
        bundled = {r.id: r.source for r in load_ruleset().every_rule}
        for rule in ruleset.every_rule:
            if rule.id in bundled:
                raise RuleError(rule.source, "id", f"duplicate rule id {rule.id} (also in {bundled[rule.id]})")
    return ruleset
