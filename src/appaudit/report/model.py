"""What a scan reports: findings, per-data-class results, coverage, policies and the report.

Formats render a :class:`Report`; nothing in here knows about output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from appaudit.analysis.facts import HarvestChain, IncomingRead, ProviderAccess, ProviderWrite, StartupPath
from appaudit.analysis.fingerprint_types import Fingerprints
from appaudit.model import (
    Channel,
    Confidence,
    CoverageStatus,
    Effect,
    Evidence,
    Level,
    Owner,
    Severity,
    Verdict,
)

if TYPE_CHECKING:
    # Only for the annotation: importing appaudit.apk at run time would load androguard into
    # every report-only command, and import this module back (apk reports coverage reasons).
    from appaudit.apk.app import AppInfo
    from appaudit.apk.dex.types import Excerpt, SourcePosition

    # declarations' package imports this module (its findings are Findings)
    from appaudit.declarations.model import DeclarationReport


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A rule that matched, with all of its evidence."""

    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    data_class: str
    effect: Effect
    """``declares`` (manifest asks for access) or ``reads`` (code reads the data)."""
    message: str
    dormant: bool = False
    """Code reads the data but the permission it needs is not declared."""
    evidence: tuple[Evidence, ...] = ()
    """At most ``engine.MAX_EVIDENCE`` locations, sorted."""
    evidence_total: int = 0
    """How many locations matched in all (may exceed ``len(evidence)``)."""
    owners: tuple[Owner, ...] = ()
    """Whose code the evidence is in (first party, named SDKs, unknown), sorted."""
    suppression: str | None = None
    """Why a baseline accepts this finding (None: not suppressed). A suppressed
    finding is still reported but never counts for ``--fail-on``."""

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None

    def sites(self) -> tuple[tuple[str, str], ...]:
        """The distinct :attr:`Evidence.site` of the evidence, sorted."""
        return tuple(sorted({e.site for e in self.evidence}))

    def sort_key(self) -> tuple[int, str, str]:
        return (-int(self.severity), self.data_class, self.rule_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataClassResult:
    """The answer for one data class."""

    declared: bool
    permissions: tuple[str, ...]
    """The declared permissions that grant this class."""
    read: bool
    """Code that can run reads the data (permission declared)."""
    dormant: bool
    """Read code found but no permission: it cannot work."""
    level: Level
    severity: Severity | None
    """Highest severity among this class's findings, None when there are none."""
    rule_ids: tuple[str, ...]
    """The rules that matched for this class, sorted."""
    bulk: bool = False
    exfiltrated: tuple[Channel, ...] = ()
    """Channels the data leaves by: network, sms, storage."""
    at_startup: bool = False
    """A read is reachable from start-up or boot without user action."""
    chains: tuple[HarvestChain, ...] = ()
    startup_paths: tuple[StartupPath, ...] = ()
    """One path run without the user (at start-up if any, else on an event), as reported before ``triggers``."""
    triggers: tuple[StartupPath, ...] = ()
    """What makes each read run: per reading method, the nearest path of each trigger."""
    accesses: tuple[ProviderAccess, ...] = ()
    incoming: tuple[IncomingRead, ...] = ()
    """Incoming-SMS decodes (``sms`` only) and whether each reads every message."""
    writes: tuple[ProviderWrite, ...] = ()
    """Deletes, inserts and updates of the class's provider: an effect of their own, never a read."""
    owners: tuple[Owner, ...] = ()
    """Whose code reads or sends this class's data."""


class DataClassMap(Mapping[str, DataClassResult]):
    """A read-only data class -> result mapping that keeps its order.

    Not a ``types.MappingProxyType``: that can be neither pickled nor deep-copied."""

    __slots__ = ("_results",)

    def __init__(self, results: Mapping[str, DataClassResult] | Iterable[tuple[str, DataClassResult]] = ()) -> None:
        self._results = dict(results)

    def __getitem__(self, name: str) -> DataClassResult:
        return self._results[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        return f"DataClassMap({self._results!r})"


def quote_names(names: Sequence[str], shown: int = 3) -> str:
    """The first ``shown`` names and how many more, for a coverage reason's detail."""
    head = ", ".join(names[:shown])
    return head + (f", +{len(names) - shown} more" if len(names) > shown else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageReason:
    """Why part of the app's code could not be analysed."""

    code: str
    """Machine-readable reason, e.g. ``dex_unreadable``."""
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """How much of the code the scan could see."""

    status: CoverageStatus
    """``complete``, ``partial`` or ``blind``."""
    reasons: tuple[CoverageReason, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanErrorEntry:
    """A failure inside the scan that did not stop it (a bad DEX, a rule that crashed)."""

    where: str
    message: str


class Citation(StrEnum):
    """How sure we are of a policy provision's citation (see rules/policies)."""

    V = "V"
    """Seen."""
    P = "P"
    """Substance seen, number unconfirmed."""
    U = "U"
    """Unverified: must be checked before relying on it."""


class ProvisionKind(StrEnum):
    """What a policy provision says of the behaviour it covers."""

    PROHIBITED = "prohibited"
    NOT_NECESSARY = "not_necessary"
    SEPARATE_CONSENT = "separate_consent"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyViolation:
    """A provision of a policy pack that the app's behaviour triggers."""

    provision: str
    instrument: str
    article: str
    paraphrase: str
    source: str
    effective: str
    confidence: Citation
    """V, P or U (see rules/policies): U citations must be checked before relying on them."""
    kind: ProvisionKind
    """prohibited, not_necessary or separate_consent."""
    data_classes: tuple[str, ...]
    triggered_by: tuple[str, ...]
    """Why, e.g. ``contacts: sent off the device by network``."""
    paraphrase_zh: str | None = None
    """The paraphrase in Simplified Chinese, where the pack gives one (every Chinese provision)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyResult:
    id: str
    name: str
    jurisdiction: str
    version: str
    violations: tuple[PolicyViolation, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """The only non-deterministic part of a report."""

    started_at: str
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleInfo:
    """A rule of the ruleset used, as formats describe it (SARIF ``tool.driver.rules``)."""

    id: str
    name: str
    title: str
    severity: Severity
    confidence: Confidence
    data_class: str
    message: str
    rationale: str
    help_markdown: str
    """The rule's documentation (the text of ``docs/rules/<id>.md``)."""
    tags: tuple[str, ...] = ()
    documented: bool = False
    """The rule is in the bundled pack, so ``docs/rules/<id>.md`` exists in the repository."""


#: A code location as reports name it: ``(dex, class, method, offset)``; ``dex`` is "" for a chain or
#: start-up step (steps carry no DEX name: the first DEX holding the class answers).
CodeKey = tuple[str, str, str, int | None]


def code_key(dex: str | None, class_name: str, method: str, offset: int | None) -> CodeKey:
    """The key :class:`CodeNotes` files a location under (one spelling for the scan and every format)."""
    return (dex or "", class_name, method, offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeNotes:
    """The code behind a report's evidence (``ScanOptions.with_code``): each location's source file and
    line, and its smali excerpt. Empty when not asked for, so such a report is byte-identical to before."""

    positions: Mapping[CodeKey, SourcePosition] = field(default_factory=dict)
    """Every code evidence location found in the app's DEX (a missing key: method not found)."""
    excerpts: Mapping[CodeKey, Excerpt] = field(default_factory=dict)
    """Excerpts, at most ``MAX_REPORT_EXCERPTS`` (apk/dex/report_code.py), first locations first."""
    truncated: bool = False
    """More locations than the excerpt cap: the later ones have a position but no excerpt."""
    asked: bool = False
    """Whether the scan was asked for code (the JSON then carries ``source_file``/``line`` on every code
    evidence entry, null where unknown)."""

    def position(
        self, dex: str | None, class_name: str | None, method: str | None, offset: int | None
    ) -> SourcePosition | None:
        """The position of a location; None when not asked, not code or not found."""
        if class_name is None or method is None:
            return None
        return self.positions.get(code_key(dex, class_name, method, offset))

    def excerpt(
        self, dex: str | None, class_name: str | None, method: str | None, offset: int | None
    ) -> Excerpt | None:
        """The excerpt of a location; None when not asked, not code, not found or past the cap."""
        if class_name is None or method is None:
            return None
        return self.excerpts.get(code_key(dex, class_name, method, offset))


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Everything one scan found; formats render it and nothing else."""

    tool_name: str
    tool_version: str
    ruleset_sha256: str
    app: AppInfo
    data_classes: Mapping[str, DataClassResult]
    """Every data class's result in report order (a :class:`DataClassMap`: read-only)."""
    verdict: Verdict
    findings: tuple[Finding, ...]
    coverage: Coverage
    errors: tuple[ScanErrorEntry, ...] = ()
    policies: tuple[PolicyResult, ...] = ()
    options: dict[str, object] = field(default_factory=dict)
    """The scan options that shaped this report (provenance)."""
    run: RunInfo | None = None
    input_path: str = field(default="", compare=False)
    """The path as given (display only; not part of the JSON identity)."""
    rules: tuple[RuleInfo, ...] = field(default=(), compare=False)
    """Every rule of the ruleset used, sorted by id (for SARIF; not in the JSON)."""
    fingerprints: Fingerprints = field(default_factory=Fingerprints)
    """What links this app to others (``analysis.fingerprints``; ``appaudit families``)."""
    declarations: DeclarationReport | None = None
    """The declarations given and how they compare with the code (None: none was given)."""
    code: CodeNotes = field(default_factory=CodeNotes, compare=False)
    """Source lines and excerpts of the code evidence (``--with-code``); not part of equality, since the JSON
    reader does not read excerpts back."""

    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def gating_severity(self) -> Severity | None:
        """Highest severity among the findings that are not suppressed (what ``--fail-on`` compares)."""
        return max((f.severity for f in self.findings if not f.suppressed), default=None)
