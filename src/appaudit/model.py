"""The vocabulary every layer shares: severities, levels, closed sets of values, evidence.

Types that one layer makes live beside it (``apk.app``, ``apk.dex.types``,
``analysis.facts``, ``report.model``); this module imports none of them.
Everything is a frozen dataclass built once and never changed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum


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


class EvidenceKind(StrEnum):
    """What a piece of evidence (or a code hit) is."""

    PERMISSION = "permission"
    COMPONENT = "component"
    ZIP_ENTRY = "zip_entry"
    APPLICATION_CLASS = "application_class"
    ENTRY_POINT = "entry_point"
    """A start-up path's entry, ``trigger: entry`` (harvest rules)."""
    SINK = "sink"
    """Where a chain's data leaves, ``channel: sink`` (harvest rules)."""
    INVOKE = "invoke"
    SGET = "sget"
    SPUT = "sput"
    IPUT = "iput"
    """An instance field write (a code hit the value resolution looks at; never a finding's evidence)."""
    CONST_STRING = "const-string"
    NEW_INSTANCE = "new-instance"
    CONST_CLASS = "const-class"
    TEXT = "text"
    """A match in a non-DEX code file (see ``CodeIndex.text_matches``)."""
    DECLARATION = "declaration"
    """A row of the app's Data safety declaration (``appaudit.declarations``)."""
    POLICY_TEXT = "policy_text"
    """A sentence of the app's privacy policy, or a note that it names nothing of a class."""


class Channel(StrEnum):
    """Where a chain's data goes."""

    NETWORK = "network"
    SMS = "sms"
    STORAGE = "storage"


class Dataflow(StrEnum):
    """Whether the data read was followed into a chain's sink."""

    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"


class CoverageStatus(StrEnum):
    """How much of the code the scan could see."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    BLIND = "blind"


class OwnerKind(StrEnum):
    """Whose code a piece of evidence is in."""

    FIRST_PARTY = "first_party"
    SDK = "sdk"
    UNKNOWN = "unknown"


class Effect(StrEnum):
    """What a rule's match shows."""

    DECLARES = "declares"
    """The manifest asks for access."""
    READS = "reads"
    """Code reads the data."""
    DELETES = "deletes"
    """Code deletes the data from its provider (``ContentResolver.delete``): not a read."""
    WRITES = "writes"
    """Code inserts or changes the data (``insert``, ``bulkInsert``, ``update``, ``applyBatch``): not a read."""


class Trigger(StrEnum):
    """What makes a read run."""

    STARTUP = "startup"
    """Application, launcher activity, provider, or a service nothing else in the app starts."""
    BOOT = "boot"
    """A boot receiver (a start-up trigger)."""
    EVENT = "event"
    """An incoming SMS or call, a content observer's change, connectivity, a push message."""
    USER_ACTION = "user_action"
    """A click, menu, form or permission answer, or an activity other than the launcher that the user opens."""
    SCHEDULED = "scheduled"
    """A worker, job or timer task: it inherits the trigger of the code that scheduled it (``origin``)."""
    COMMAND = "command"
    """A handler that dispatches on a command string received from a socket, SMS, push message or HTTP response."""


#: Triggers that run a read at start-up without the user asking.
STARTUP_TRIGGERS: frozenset[Trigger] = frozenset({Trigger.STARTUP, Trigger.BOOT})


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class MethodId:
    """The one identity of a method: its class and its name with prototype.

    Ordered like the tuple ``(class_name, method)``."""

    class_name: str
    """Class in Java form, e.g. ``com.example.Harvester``."""
    method: str
    """Name and prototype, e.g. ``harvest(Landroid/content/Context;)V``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """Whose code a piece of evidence is in."""

    kind: OwnerKind
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

    kind: EvidenceKind
    """``permission``, ``component``, ``zip_entry``, ``application_class``, ``invoke``, ``sget``, ``const-string``
    or ``text`` (a match in a non-DEX code file, see ``CodeIndex.text_matches``)."""
    value: str
    dex: str | None = None
    class_name: str | None = None
    method: str | None = None
    offset: int | None = None
    owner: Owner | None = None
    """Whose code this is (set for code evidence by analysis.attribution)."""
    channel: Channel | None = None
    """For a ``sink``: how the data leaves (the sink's ``value`` is then the call it leaves by)."""

    @property
    def text(self) -> str:
        """The value as one string: a sink's is ``channel: call`` (how the JSON v1 report spells it)."""
        return f"{self.channel}: {self.value}" if self.channel is not None else self.value

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
        return (f"{self.kind}: {self.text}", "")

    def sort_key(self) -> tuple[str, str, str, str, int, str]:
        return (
            self.kind,
            self.dex or "",
            self.class_name or "",
            self.method or "",
            self.offset if self.offset is not None else -1,
            self.text,
        )


_OWNER_ORDER = {OwnerKind.FIRST_PARTY: 0, OwnerKind.SDK: 1, OwnerKind.UNKNOWN: 2}


def owners_of(evidence: Iterable[Evidence]) -> tuple[Owner, ...]:
    """The distinct owners of ``evidence``, first party first, then by name (one order for every finding)."""
    found = {e.owner for e in evidence if e.owner is not None}
    return tuple(sorted(found, key=lambda o: (_OWNER_ORDER.get(o.kind, 3), o.name)))
