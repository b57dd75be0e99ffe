"""The report as the human-readable formats show it: already translated, built once per (report, language).

Text, HTML and Markdown render from a :class:`ReportView` (made by
:func:`appaudit.report.view_build.build`) and add only their markup and the
fixed headings of their layout (from the catalogue): every value is shortened,
every label translated and every count taken there, with the one
implementation of each in :mod:`appaudit.report.common`. Values stay
unescaped; each format escapes them its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from appaudit.model import Severity, Verdict
from appaudit.report import common as c

if TYPE_CHECKING:  # annotations only: importing appaudit.apk would load androguard
    from appaudit.apk.dex.types import Excerpt


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeView:
    """The code behind one location (``--with-code``)."""

    where: str | None
    """``Harvester.java:22``, or the file and a translated "no line numbers" note; None when unknown."""
    excerpt: Excerpt | None
    """The smali (lines already escaped smali literals; formats escape markup); None past the report's cap."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceView:
    """One piece of evidence."""

    kind: str
    kind_label: str
    """What the evidence is, translated (``permission (manifest)``, ``call``, ...)."""
    value: str
    """As in the JSON (smali notation)."""
    short: str
    """:func:`common.short_value`: ``pkg.Cls.method()``, ``"string"``, ``network: pkg.Cls.m()``."""
    site: str
    """``pkg.Cls.method() +offset`` for code, the value itself otherwise."""
    dex: str | None
    class_name: str | None
    method: str | None
    offset: int | None
    owner: str | None
    """Whose code, labelled; None when not attributed."""
    code: CodeView | None = None
    """Source position and excerpt, for code evidence in a report scanned ``--with-code``."""
    read_at: int | None = None
    """For a URI (constant or string) that a provider query in the same method reads: the query's
    offset, the read site "How it is read" gives. None otherwise, or when it is this evidence's own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepView:
    """One method of a chain or start-up path."""

    text: str
    """``pkg.Cls.method() +offset``."""
    compact: str
    """``Cls.method`` (the terminal's one-line chains)."""
    code: CodeView | None = None
    """Source position and excerpt (``--with-code``); a chain's first and last steps show the read's and
    the sink's own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainView:
    channel: str
    channel_label: str
    confirmed: bool
    dataflow: str
    dataflow_label: str
    read: EvidenceView
    sink: EvidenceView
    steps: tuple[StepView, ...]
    transformers: tuple[str, ...]
    urls: tuple[str, ...]
    url_sources: tuple[tuple[str, str], ...]
    """(URL, translated label of where it came from) for each URL not a string in the sink's method."""
    owners: tuple[str, ...]
    """Labels of the owners of the read and of the sink, each once."""
    via: tuple[str, ...] = ()
    """Each storage or named hand-off the data went through, translated (``via storage: sqlite table
    contacts_cache``; a hop matched by type only says so)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupView:
    trigger_label: str
    trigger_term: str
    """The trigger as the terminal names it: the JSON's word in English, the label otherwise."""
    entry: str
    steps: tuple[StepView, ...]
    asks_first: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerView:
    """What makes one read run (JSON ``triggers``)."""

    trigger: str
    """The JSON's word: ``startup``, ``boot``, ``user_action``, ``event``, ``scheduled``, ``command``."""
    label: str
    """Translated, with what scheduled it for a ``scheduled`` read (``scheduled, by start-up``)."""
    term: str
    """As the terminal names it: the JSON's words in English (``scheduled<-startup``), the label otherwise."""
    entry: str
    read: str
    """Where the read is (``pkg.Cls.method() +offset``), empty when unknown."""
    guard: str | None
    """For a command: the comparison it depends on, ``call at pkg.Cls.method() +offset``."""
    asks_first: bool
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessView:
    """A provider query (the first ``SHOWN_CHAINS`` of a class)."""

    uri: str
    how: str
    bulk: bool
    why: str
    """Why the query is (or is not) bulk, translated (``bulk_reason``)."""
    site: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassView:
    """One data class."""

    name: str
    label: str
    level: str
    level_label: str
    severity: Severity | None
    severity_label: str
    """Translated, ``-`` when none."""
    declared: bool
    read: bool
    dormant: bool
    bulk: bool
    at_startup: bool
    reads: str
    """``yes``, ``dormant`` or ``-``, translated."""
    exfiltrated: tuple[str, ...]
    exfiltrated_labels: tuple[str, ...]
    permissions: tuple[str, ...]
    owners: tuple[str, ...]
    owners_text: str
    rule_ids: tuple[str, ...]
    accesses: tuple[AccessView, ...]
    more_accesses: int
    bulk_why: str
    """Every query's bulk reason with its count (``every row kept ×1; one row by its id ×2``), translated;
    empty when the class has no provider query."""
    writes: tuple[str, ...]
    """Each delete, insert or update of the class's provider, translated (``delete X at Cls.m()``)."""
    chains: tuple[ChainView, ...]
    startup_paths: tuple[StartupView, ...]
    triggers: tuple[TriggerView, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingView:
    rule_id: str
    title: str
    message: str
    severity: Severity
    severity_label: str
    data_class: str
    data_class_label: str
    dormant: bool
    suppressed: bool
    suppression: str | None
    owners_text: str
    """Empty when the finding has no owners."""
    evidence: tuple[EvidenceView, ...]
    evidence_total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ViolationView:
    provision: str
    instrument: str
    article: str
    paraphrase: str
    """In the report's language: the pack's Chinese paraphrase with ``zh`` where it has one."""
    paraphrase_translated: bool
    """``paraphrase`` is the pack's ``paraphrase_zh`` (not the English text)."""
    source: str
    source_is_link: bool
    effective: str
    confidence: str
    """As written in the pack (``V``, ``P``, ``U``)."""
    conf: str
    """``confidence`` if it is one of V, P, U, else ``U`` (treated as unverified)."""
    confidence_label: str
    """The label of ``confidence`` as written."""
    conf_label: str
    """The label of ``conf``."""
    caveated: bool
    kind: str
    kind_label: str
    triggered_by: tuple[str, ...]
    """Translated (the JSON keeps the English lines)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackView:
    id: str
    version: str
    title: str
    violations: tuple[ViolationView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasonView:
    code: str
    detail: str
    explain: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenanceView:
    """The identity of the scanned file and of the run, as shown (``None``: not known)."""

    input_path: str
    package: str
    """The package, or the catalogue's "unknown"."""
    label: str | None
    version: str
    """``name / code``."""
    sdk: str
    """``min / target``."""
    sha256: str
    sha1: str
    md5: str
    size: str
    signers: tuple[str, ...]
    dex_files: tuple[str, ...]
    recovered: tuple[str, ...]
    application_class: str | None
    launchers: tuple[str, ...]
    tool: str
    ruleset: str
    options: str
    """The scan options as canonical JSON."""
    policies: tuple[str, ...]
    run: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationRowView:
    """One data class of the "declared vs found" table, every cell translated (``-`` when empty)."""

    name: str
    label: str
    declared: str
    """What the Data safety declaration says."""
    policy: str
    """What the privacy policy says."""
    found: str
    """The class's level in the code."""
    leaves_by: str
    sdks: str
    contradictions: str
    """The contradiction rule ids."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationsView:
    """The "declared vs found" table (only for a report scanned with a declaration)."""

    headers: tuple[str, ...]
    """Column headings, translated: class, Data safety, policy, found, leaves by, SDKs, contradictions."""
    rows: tuple[DeclarationRowView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportView:
    """Everything the human-readable formats show, in ``lang``."""

    lang: str
    tool: str
    """``name version``."""
    package: str | None
    version: str
    """``name (code)``, ``?`` for what is unknown."""
    min_sdk: int | None
    target_sdk: int | None
    verdict: Verdict
    verdict_label: str
    verdict_why: str
    summary: tuple[str, ...]
    """One line per class with anything found (protected first)."""
    violations: int
    violated_packs: int
    classes: tuple[ClassView, ...]
    """Every data class, in report order."""
    protected: tuple[ClassView, ...]
    neighbours: tuple[c.NeighbourRow, ...]
    findings: tuple[FindingView, ...]
    suppressed: int
    packs_evaluated: bool
    violated: tuple[PackView, ...]
    clean_packs: tuple[str, ...]
    coverage: str
    coverage_label: str
    reasons: tuple[ReasonView, ...]
    errors: tuple[tuple[str, str], ...]
    """(where, message)."""
    provenance: ProvenanceView
    has_code: bool = False
    """Whether the scan was asked for code (``--with-code``): formats then show excerpts."""
    declarations: DeclarationsView | None = None
    """The "declared vs found" table; None when no declaration was given."""
