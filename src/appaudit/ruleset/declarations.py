"""The declaration rules and privacy-policy phrase lists of a rule directory.

They live apart from the detection rules, in ``DIR/declarations/rules/*.yaml``
(rules whose ``match`` kind is ``declaration``) and
``DIR/declarations/phrases/<language>.yaml``, and are hashed apart
(``declarations_sha256``): a scan without a declaration never uses them, so
its report (ruleset hash, SARIF rule list) is the same as without them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appaudit.errors import RuleError
from appaudit.ruleset.rule import Rule


@dataclass(frozen=True, slots=True, kw_only=True)
class PhraseList:
    """Phrases that find data classes in a privacy policy, for one language."""

    language: str
    name: str
    word_boundaries: bool
    """A phrase must start a word (scripts written with spaces); False for Chinese, Hindi."""
    classes: tuple[tuple[str, tuple[str, ...]], ...]
    """(data class, phrases naming it), in file order."""
    collected: tuple[str, ...]
    shared: tuple[str, ...]
    denials: tuple[str, ...]
    clause_breaks: tuple[str, ...] = ()
    source: str = ""


def declaration_files(directory: Path) -> list[Path]:
    """The rule and phrase files under ``directory/declarations`` (sorted)."""
    base = directory / "declarations"
    return sorted(p for sub in ("rules", "phrases") for p in (base / sub).glob("*.yaml")) if base.is_dir() else []


def _merge(lists: Sequence[PhraseList]) -> tuple[PhraseList, ...]:
    """One list per language: a user's file for a bundled language adds its phrases to the bundled ones."""
    by_lang: dict[str, PhraseList] = {}
    for pl in lists:
        old = by_lang.get(pl.language)
        if old is None:
            by_lang[pl.language] = pl
            continue
        classes = dict(old.classes)
        for dc, phrases in pl.classes:
            classes[dc] = tuple(dict.fromkeys(classes.get(dc, ()) + phrases))
        by_lang[pl.language] = PhraseList(
            language=pl.language,
            name=old.name,
            word_boundaries=old.word_boundaries,
            classes=tuple(classes.items()),
            collected=tuple(dict.fromkeys(old.collected + pl.collected)),
            shared=tuple(dict.fromkeys(old.shared + pl.shared)),
            denials=tuple(dict.fromkeys(old.denials + pl.denials)),
            clause_breaks=tuple(dict.fromkeys(old.clause_breaks + pl.clause_breaks)),
            source=f"{old.source}, {pl.source}",
        )
    return tuple(by_lang[k] for k in sorted(by_lang))


def load_declarations(
    dirs: Sequence[Path],
    validate_rule: Callable[[Any, str], Rule],
    validate_data: Callable[[str, str, str], Any],
) -> tuple[tuple[Rule, ...], tuple[PhraseList, ...], str]:
    """Declaration rules, phrase lists (merged by language) and their sha256, from every directory.

    ``validate_rule(doc, where)`` and ``validate_data(text, source, definition)`` are the
    loader's own schema checks, so one mechanism validates every rule file.
    """
    from appaudit.ruleset.validation import rule_texts, yaml_load

    digest = hashlib.sha256()
    rules: dict[str, Rule] = {}
    phrases: list[PhraseList] = []
    for path, source, text in rule_texts(dirs, declaration_files, digest):
        if path.parent.name == "phrases":
            doc = validate_data(text, source, "policy_phrases")
            phrases.append(
                PhraseList(
                    language=doc["language"],
                    name=doc["name"],
                    word_boundaries=doc["word_boundaries"],
                    classes=tuple((dc, tuple(p)) for dc, p in doc["classes"].items()),
                    collected=tuple(doc["collected"]),
                    shared=tuple(doc["shared"]),
                    denials=tuple(doc["denials"]),
                    clause_breaks=tuple(doc.get("clause_breaks", ())),
                    source=source,
                )
            )
            continue
        doc = yaml_load(text, source)
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            where = source if not isinstance(doc, list) else f"{source}[{i}]"
            rule = validate_rule(item, source if not isinstance(doc, list) else where)
            if rule.match_kind != "declaration":
                raise RuleError(where, "match", "a rule in declarations/rules/ must use the declaration matcher")
            if rule.id in rules:
                raise RuleError(where, "id", f"duplicate rule id {rule.id} (also in {rules[rule.id].source})")
            rules[rule.id] = rule
    return tuple(rules[k] for k in sorted(rules)), _merge(phrases), digest.hexdigest()
