"""The data model every layer shares: facts about an APK, findings and the report.

Everything is a frozen dataclass built once and never changed afterwards.
Formats render a :class:`Report`; nothing in here knows about output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # at run time the annotation stays a string: declarations imports this module
    from appaudit.declarations.model import DeclarationReport


class Severity(IntEnum):
    """How bad a finding is. An IntEnum so thresholds compare with ``>=``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Confidence(StrEnum):
    """How sure a rule is that its match means what its message says."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Verdict(StrEnum):
    """The app's overall verdict, strongest first."""

    HARVESTS = "harvests"
    AT_RISK = "at_risk"
    DORMANT_CODE = "dormant_code"
    DECLARED_ONLY = "declared_only"
    INCONCLUSIVE = "inconclusive"
    NO_EVIDENCE = "no_evidence"


class Level(StrEnum):
    """Strongest state of one data class."""

    NONE = "none"
    DECLARED = "declared"
    """Permission declared, no code that reads the data found."""
    DORMANT = "dormant"
    """Code that reads the data exists but the permission is not declared."""
    READ = "read"
    """Code reads the data and the permission is declared."""
    BULK = "bulk"
    """Code reads all of it (a cursor loop over the provider, every incoming SMS)."""
    EXFILTRATED = "exfiltrated"
    """Code reads it and a path leads to a network, SMS or storage sink."""
    HARVESTED = "harvested"
    """Read in bulk and sent off the device."""


#: Data classes in report order. ``camera_microphone`` is reported, never a harvest.
DATA_CLASSES: tuple[str, ...] = (
    "contacts",
    "sms",
    "call_log",
    "phone_identity",
    "accounts",
    "location",
    "photos_media",
    "installed_apps",
    "calendar",
    "camera_microphone",
)

#: The classes whose bulk read is what predatory lenders harvest.
PROTECTED_CLASSES: frozenset[str] = frozenset({"contacts", "sms", "call_log"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One manifest component (activity, activity-alias, service, receiver, provider)."""

    kind: str
    name: str
    """Fully qualified class name."""
    exported: bool | None
    """``android:exported`` when given, else None."""
    actions: tuple[str, ...] = ()
    """Intent-filter actions, sorted."""
    categories: tuple[str, ...] = ()
    """Intent-filter categories, sorted."""
    authorities: tuple[str, ...] = ()
    """Provider authorities, sorted."""
    permission: str | None = None
    """``android:permission`` guarding the component."""
    priority: int | None = None
    """Highest intent-filter priority, when any is given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredPayload:
    """Code a packer hid encoded or encrypted in an entry, recovered and analysed with the app's."""

    entry: str
    """Where it was found, e.g. ``assets/Ygg.json``."""
    steps: tuple[str, ...]
    """The transforms undone, outermost first (with the key and where in the code it was found)."""
    size: int
    sha256: str
    """Of the recovered DEX or zip."""
    dex_files: tuple[str, ...]
    """Names of its DEX files in ``AppInfo.dex_files``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppInfo:
    """Identity and manifest facts of the scanned APK."""

    sha256: str
    sha1: str
    md5: str
    size: int
    package: str | None
    label: str | None
    """The app's name as the launcher shows it (default configuration), when it could be read."""
    version_name: str | None
    version_code: str | None
    min_sdk: int | None
    target_sdk: int | None
    permissions: tuple[str, ...]
    """uses-permission and uses-permission-sdk-23 names, sorted, unique."""
    application_class: str | None
    launcher_activities: tuple[str, ...]
    components: tuple[Component, ...]
    signer_sha256: tuple[str, ...]
    """SHA-256 of each signer certificate (DER), sorted."""
    dex_files: tuple[str, ...]
    """DEX entries analysed, in order."""
    zip_entries: tuple[str, ...] = ()
    """Every entry name in the APK, sorted (for coverage signals; not in the JSON).

    For a bundle: the entries of its APKs (base and splits) and of the bundle itself."""
    input_format: str = "apk"
    """``apk``, or the split bundle's kind: ``apks``, ``xapk``, ``apkm`` (``bundle`` when unknown)."""
    splits: tuple[str, ...] = ()
    """For a bundle: the APKs analysed as the app, base first (empty for a plain APK)."""
    recovered: tuple[RecoveredPayload, ...] = ()
    """Payloads recovered from encoded or encrypted entries (see ``apk.recover``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeHit:
    """One confirmed instruction in the app's code that references something."""

    kind: str
    """``invoke``, ``sget`` or ``const-string``."""
    dex: str
    class_name: str
    """Class in Java form, e.g. ``com.example.Harvester``."""
    method: str
    """Method name and prototype, e.g. ``harvest(Landroid/content/Context;)Ljava/lang/String;``."""
    offset: int
    """Byte offset of the instruction in the method's bytecode."""
    value: str
    """What is referenced, in smali notation (method, field or the string itself)."""

    @property
    def method_key(self) -> tuple[str, str, str]:
        return (self.dex, self.class_name, self.method)


@dataclass(frozen=True, slots=True, kw_only=True)
class Insn:
    """One decoded instruction with its constant-pool reference resolved."""

    offset: int
    """Byte offset from the start of the method's bytecode."""
    op: str
    """Mnemonic, e.g. ``invoke-virtual/range``."""
    regs: tuple[int, ...] = ()
    ref: str | None = None
    """Method ``Lc;->n(p)r``, field ``Lc;->n:T``, type descriptor or string value."""
    ref_kind: str = ""
    """``method``, ``field``, ``type``, ``string`` or empty."""
    literal: int | None = None
    target: int | None = None
    """Branch target as a byte offset."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodCode:
    """A method's decoded body, for register tracking and chain search."""

    class_name: str
    method: str
    """Name and prototype."""
    dex: str
    registers_size: int
    ins_size: int
    is_static: bool
    param_types: tuple[str, ...]
    insns: tuple[Insn, ...]

    @property
    def first_param_register(self) -> int:
        return self.registers_size - self.ins_size


class CodeIndex(Protocol):
    """What rule matchers may ask of an APK's code (implemented by ``apk.dex``)."""

    def invocations(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        """Calls to ``class_desc->name`` for each name (any prototype)."""
        ...

    def static_reads(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        """``sget*`` reads of the static fields ``class_desc->name``."""
        ...

    def string_loads(self, pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """``const-string`` loads of strings the pattern fully matches."""
        ...

    def defined_classes(self) -> frozenset[str]:
        """Java names of every class defined in the app's DEX files."""
        ...

    def native_methods(self) -> list[tuple[str, str]]:
        """(class, method) of every method declared ``native``."""
        ...

    def method_code(self, class_name: str, method: str) -> MethodCode | None:
        """The decoded body of ``class_name.method`` (name+prototype), None if not in the app."""
        ...

    def callers(self, class_desc: str, method: str, limit: int | None = None) -> list[CodeHit]:
        """Invoke sites of exactly ``class_desc->method`` (name+prototype), at most ``limit``."""
        ...

    def static_writes(self, field: str) -> list[CodeHit]:
        """``sput*`` sites of the static field ``Lc;->name:T``."""
        ...

    def supertypes(self, class_name: str) -> tuple[str | None, tuple[str, ...]] | None:
        """(superclass, interfaces) as Java names, None when the app does not define the class."""
        ...

    def subtypes(self, class_name: str) -> tuple[str, ...]:
        """App classes that directly extend or implement ``class_name``."""
        ...

    def methods_of(self, class_name: str) -> tuple[str, ...]:
        """Name+prototype of every method the app's class defines."""
        ...

    def instantiations(self, class_name: str, via: str = "new-instance") -> list[CodeHit]:
        """``new-instance`` (or, with ``via="const-class"``, ``const-class``) sites of the app class."""
        ...

    def annotations_of(self, class_name: str, method: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """(annotation type, ((element, value), ...)) of a method, values as strings."""
        ...

    def text_matches(self, entries: re.Pattern[str], pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """Matches of ``pattern`` in the zip entries whose names ``entries`` fully matches (kind ``text``;
        ``dex`` is the entry, ``offset`` the byte offset, ``class_name`` and ``method`` empty)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """Whose code a piece of evidence is in."""

    kind: str
    """``first_party`` (the app's own packages), ``sdk`` (a named SDK) or ``unknown``."""
    name: str
    """The app package, the SDK's name, or why it is unknown (``obfuscated``, ``unrecognised``)."""
    sdk_id: str | None = None
    vendor: str | None = None
    category: str | None = None
    """risk_control, credit_scoring, kyc, analytics, ads, push, crash, contacts_plugin, framework, library."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One piece of evidence for a finding, located as precisely as possible."""

    kind: str
    """``permission``, ``component``, ``zip_entry``, ``application_class``, ``invoke``, ``sget``, ``const-string``
    or ``text`` (a match in a non-DEX code file, see ``CodeIndex.text_matches``)."""
    value: str
    dex: str | None = None
    class_name: str | None = None
    method: str | None = None
    offset: int | None = None
    owner: Owner | None = None
    """Whose code this is (set for code evidence by analysis.attribution)."""

    @classmethod
    def from_hit(cls, hit: CodeHit) -> Evidence:
        return cls(
            kind=hit.kind,
            value=hit.value,
            dex=hit.dex,
            class_name=hit.class_name,
            method=hit.method,
            offset=hit.offset,
        )

    @property
    def method_key(self) -> tuple[str, str, str]:
        return (self.dex or "", self.class_name or "", self.method or "")

    @property
    def site(self) -> tuple[str, str]:
        """Where the evidence is, independent of the build: ``(class, method)`` for code,
        ``("kind: value", "")`` for manifest, zip and entry-point evidence.

        Bytecode offsets and the dex file name are left out, so a rebuild of the
        same code (or a class moved to another dex) keeps its site. Baselines,
        diffs and SARIF fingerprints identify a finding's locations by this.
        """
        if self.class_name is not None:
            return (self.class_name, self.method or "")
        return (f"{self.kind}: {self.value}", "")

    def sort_key(self) -> tuple[str, str, str, str, int, str]:
        return (
            self.kind,
            self.dex or "",
            self.class_name or "",
            self.method or "",
            self.offset if self.offset is not None else -1,
            self.value,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainStep:
    """One method on a path, with the offset of the call that leads on (or of the read/sink)."""

    class_name: str
    method: str
    offset: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestChain:
    """A path from a read of protected data to a place where data leaves the device."""

    data_class: str
    read: Evidence
    steps: tuple[ChainStep, ...]
    """Methods from the read to the sink, in order (the read's method first)."""
    channel: str
    """``network``, ``sms`` or ``storage``."""
    sink: Evidence
    transformers: tuple[str, ...] = ()
    """Serialisation, compression, encryption or encoding seen on the way (e.g. ``json: JSONArray.put``)."""
    urls: tuple[str, ...] = ()
    """URL or path strings in the sink's method (e.g. ``https://x/api/contacts/upload``)."""
    dataflow: str = "unconfirmed"
    """``confirmed`` when the data read was followed along the chain into the sink's method
    (``analysis.taint``), ``unconfirmed`` when only the calls link them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAccess:
    """One provider query whose URI was resolved to a protected data class."""

    data_class: str
    uri: str
    how: str
    """constant, string, built, parameter or static_field."""
    bulk: bool
    """The cursor is iterated in a loop (here or in the method the cursor is handed to)."""
    evidence: Evidence


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupPath:
    """How a read is reached without user action."""

    data_class: str
    trigger: str
    """``startup`` (application, launcher, service, provider), ``boot`` or ``event`` (incoming SMS/call)."""
    entry: str
    """The entry component and callback, e.g. ``com.x.App.onCreate``."""
    steps: tuple[ChainStep, ...]
    asks_permission_first: bool = False
    """A method on the path asks for runtime permissions (``requestPermissions``) before the call that
    leads on to the read: the read then waits for the user's answer. False means no request was seen
    on the path (the permission was granted earlier, at install for targetSdk < 23, or is never asked)."""


#: Channels by which data leaves the device (``storage`` keeps it there).
LEAVES_DEVICE = ("network", "sms")


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestFacts:
    """What the chain analysis found, for rules and the report."""

    accesses: tuple[ProviderAccess, ...] = ()
    sms_receivers: tuple[Evidence, ...] = ()
    """Sites that decode incoming SMS."""
    chains: tuple[HarvestChain, ...] = ()
    startup: tuple[StartupPath, ...] = ()
    unresolved_queries: int = 0
    """Provider accesses whose URI could not be resolved."""
    search_truncated: bool = False
    """The scan's budget of methods to visit ran out: some reads were not searched for chains."""

    def bulk_reads(self, data_class: str) -> list[Evidence]:
        """Reads of all of the class: bulk provider queries, and incoming-SMS decodes whose
        message is followed to a sink (every message is stored or sent on)."""
        reads = [a.evidence for a in self.accesses if a.data_class == data_class and a.bulk]
        reads += [
            c.read
            for c in self.chains
            if c.data_class == data_class and c.read in self.sms_receivers and c.dataflow == "confirmed"
        ]
        return reads

    def bulk(self, data_class: str) -> bool:
        return bool(self.bulk_reads(data_class))

    def counted_chains(self, data_class: str) -> tuple[HarvestChain, ...]:
        """The chains that say where the class's data goes: those to the network or SMS whose data
        flow is confirmed, or, when there is none and the reads are bulk, every chain to the network
        or SMS; and chains to storage on the same terms (confirmed, or bulk reads). Other chains (a
        single-item read linked to a sink by calls only) are evidence, not a finding."""
        mine = [c for c in self.chains if c.data_class == data_class]
        bulk = self.bulk(data_class)
        confirmed = [c for c in mine if c.channel in LEAVES_DEVICE and c.dataflow == "confirmed"]
        out = confirmed or ([c for c in mine if c.channel in LEAVES_DEVICE] if bulk else [])
        kept = [c for c in mine if c.channel not in LEAVES_DEVICE and (c.dataflow == "confirmed" or bulk)]
        return (*out, *kept)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A rule that matched, with all of its evidence."""

    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    data_class: str
    effect: str
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
    exfiltrated: tuple[str, ...] = ()
    """Channels the data leaves by: network, sms, storage."""
    at_startup: bool = False
    """A read is reachable from start-up or boot without user action."""
    chains: tuple[HarvestChain, ...] = ()
    startup_paths: tuple[StartupPath, ...] = ()
    accesses: tuple[ProviderAccess, ...] = ()
    owners: tuple[Owner, ...] = ()
    """Whose code reads or sends this class's data."""


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

    status: str
    """``complete``, ``partial`` or ``blind``."""
    reasons: tuple[CoverageReason, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanErrorEntry:
    """A failure inside the scan that did not stop it (a bad DEX, a rule that crashed)."""

    where: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyViolation:
    """A provision of a policy pack that the app's behaviour triggers."""

    provision: str
    instrument: str
    article: str
    paraphrase: str
    source: str
    effective: str
    confidence: str
    """V, P or U (see rules/policies): U citations must be checked before relying on them."""
    kind: str
    """prohibited, not_necessary or separate_consent."""
    data_classes: tuple[str, ...]
    triggered_by: tuple[str, ...]
    """Why, e.g. ``contacts: sent off the device by network``."""


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Everything one scan found; formats render it and nothing else."""

    tool_name: str
    tool_version: str
    ruleset_sha256: str
    app: AppInfo
    data_classes: dict[str, DataClassResult]
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
    declarations: DeclarationReport | None = None
    """The declarations given and how they compare with the code (None: none was given)."""

    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def gating_severity(self) -> Severity | None:
        """Highest severity among the findings that are not suppressed (what ``--fail-on`` compares)."""
        return max((f.severity for f in self.findings if not f.suppressed), default=None)
