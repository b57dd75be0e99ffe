"""The in-memory form of one rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from appaudit.model import Confidence, Effect, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    """A citation: what the rule relies on."""

    title: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDocs:
    """The documentation sections every rule carries."""

    finds: str
    why: str
    example: str
    compliant: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One validated detection rule (schemas/rule.schema.json)."""

    id: str
    """Stable opaque id such as ``AA-CON-001``; never reused for another meaning."""
    name: str
    """Readable slug."""
    title: str
    severity: Severity
    confidence: Confidence
    data_class: str
    effect: Effect
    """``declares`` or ``reads``."""
    requires_permission: tuple[str, ...]
    """For reads: any one makes the read work; empty means no permission is needed."""
    match_kind: str
    """The matcher kind (a key of ``engine.matchers.MATCHERS``)."""
    match: Any
    """The matcher's parameters exactly as written in the rule file."""
    except_kind: str | None
    """Matcher kind of ``except_in_methods_with``, if the rule has one."""
    except_match: Any
    """Code evidence in a method that also matches this is dropped (None: keep all)."""
    message: str
    rationale: str
    references: tuple[Reference, ...]
    docs: RuleDocs
    tags: tuple[str, ...]
    source: str
    """The file the rule came from (relative to its rule directory)."""
    attribute_to: Literal["site", "callee"] = "site"
    """``site``: evidence belongs to the calling code; ``callee``: to the called SDK class."""
