"""Declared vs actual: the Data safety declaration and the privacy policy, held against the code.

``read_declarations`` reads the files the user gives (bounded; InputError on
bad input), before the APK is scanned; ``compare_declarations`` runs after the
data-class results are known and returns the contradiction findings and the
report's ``declarations`` block. Without a declaration neither is called.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

from appaudit.declarations.compare import CONTRADICTIONS, Declared, contradictions
from appaudit.declarations.form import read_form
from appaudit.declarations.limits import read_bounded
from appaudit.declarations.model import DataSafety, DeclarationReport
from appaudit.declarations.play_csv import HEADER, read_play_csv
from appaudit.declarations.policy_text import read_policy
from appaudit.report.model import DataClassResult, Finding
from appaudit.ruleset import Ruleset

__all__ = [
    "CONTRADICTIONS",
    "DeclarationReport",
    "Declared",
    "compare_declarations",
    "declarations_key",
    "find_declarations",
    "read_declarations",
]

_FORM_SUFFIXES = (".yaml", ".yml", ".json")
#: File names ``batch --declarations DIR`` looks for, in this order, for an app with package PKG.
DATA_SAFETY_NAMES = ("{pkg}.csv", "{pkg}.yaml", "{pkg}.yml", "{pkg}.json")
POLICY_NAMES = ("{pkg}.policy.txt", "{pkg}.policy.html", "{pkg}.policy.htm", "{pkg}.policy.pdf")


def find_declarations(directory: str, package: str | None) -> tuple[str | None, str | None]:
    """The app's Data safety file and privacy policy in ``directory`` (the first of each naming that exists)."""
    if not package or os.sep in package or package.startswith("."):
        return None, None

    def first(names: Sequence[str]) -> str | None:
        paths = (os.path.join(directory, n.format(pkg=package)) for n in names)
        return next((p for p in paths if os.path.isfile(p)), None)

    return first(DATA_SAFETY_NAMES), first(POLICY_NAMES)


def declarations_key(ruleset: Ruleset, directory: str) -> str:
    """A ruleset identity that also covers the declaration rules and the files of ``directory``, so a
    batch store keyed by it rescans an app whose declaration changed."""
    digest = hashlib.sha256(f"{ruleset.sha256}\0{ruleset.declarations_sha256}\0".encode())
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        from appaudit.errors import InputError

        raise InputError(directory, f"declarations directory: cannot be read: {exc.strerror or exc}") from exc
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            st = os.stat(path)
            digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def read_data_safety(path: str) -> DataSafety:
    """A Console CSV (``.csv``, or a file starting with the Console header) or a declaration form."""
    if path.lower().endswith(".csv"):
        return read_play_csv(path)
    if path.lower().endswith(_FORM_SUFFIXES):
        return read_form(path)
    head = read_bounded(path, "Data safety declaration")[:200].decode("utf-8", errors="replace").lstrip("\ufeff")
    return read_play_csv(path) if head.startswith(HEADER[0]) else read_form(path)


def read_declarations(ruleset: Ruleset, data_safety: str | None, privacy_policy: str | None) -> Declared:
    """Read the given files. InputError (exit 3) for a file that is missing, too large or not such a file."""
    ds = read_data_safety(data_safety) if data_safety else None
    policy, notes = read_policy(privacy_policy, ruleset.policy_phrases) if privacy_policy else (None, [])
    return Declared(
        data_safety=ds,
        policy=policy,
        languages=tuple(p.language for p in ruleset.policy_phrases),
        notes=tuple(notes),
    )


def compare_declarations(
    ruleset: Ruleset,
    declared: Declared,
    classes: Mapping[str, DataClassResult],
    findings: Sequence[Finding],
) -> tuple[tuple[Finding, ...], DeclarationReport]:
    """The contradiction findings and the report's ``declarations`` block."""
    callee = frozenset(r.id for r in ruleset.rules if r.attribute_to == "callee")
    found, rows = contradictions(ruleset.declaration_rules, declared, classes, findings, callee)
    return found, DeclarationReport(
        data_safety=declared.data_safety,
        privacy_policy=declared.policy,
        complete=not declared.notes,
        incomplete=declared.notes,
        classes=rows,
        rules_sha256=ruleset.declarations_sha256,
    )
