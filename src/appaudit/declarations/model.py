"""What an app says about its data: the Data safety declaration, the privacy policy, and the comparison.

Built once by the readers in this package and never changed; the report
carries a :class:`DeclarationReport` when the user supplied a declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from appaudit.model import DATA_CLASSES

#: How a Data safety declaration was given.
DataSafetyFormat = Literal["play_console_csv", "form"]
#: How a privacy policy was given.
PolicyFormat = Literal["text", "html", "pdf"]
#: What a policy sentence says about a data class.
Stance = Literal["collected", "shared", "denied"]
#: What the policy says about a data class overall (``unreadable``: no text; ``not given``: no policy).
PolicyStance = Literal["disclosed", "denied", "silent", "unreadable", "not given"]
#: What the Data safety declaration says about a data class.
DeclaredAs = Literal["collected", "shared", "collected and shared", "not collected", "no data collected", "not given"]

#: Data classes the comparison covers (``camera_microphone`` has no Data safety type of its own).
COMPARED_CLASSES: tuple[str, ...] = tuple(dc for dc in DATA_CLASSES if dc != "camera_microphone")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredUse:
    """What the declaration says about one data class."""

    data_class: str
    collected: bool
    """Declared as collected ("Data collected")."""
    shared: bool
    """Declared as shared with a third party."""
    ephemeral: bool | None = None
    """Declared as processed ephemerally (None: not answered)."""
    optional: bool | None = None
    """Declared as optional, the user can choose (None: not answered)."""
    purposes: tuple[str, ...] = ()
    """Collection and sharing purposes as declared, lower case without ``PSL_`` (``app_functionality``), sorted."""
    rows: tuple[str, ...] = ()
    """Where this was read: ``FILE:LINE: question,response,value`` (Console CSV) or ``FILE: data.CLASS`` (form)."""

    @property
    def declared(self) -> bool:
        """Declared as collected or shared: the declaration admits the data leaves the device."""
        return self.collected or self.shared


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSafety:
    """A Data safety declaration, from a Play Console CSV or the documented YAML/JSON form."""

    source: str
    """The file name, as given."""
    format: DataSafetyFormat
    collects_any: bool | None
    """False: the app declares "No data collected"; None: not answered."""
    collects_any_row: str = ""
    """Where ``collects_any`` was read."""
    uses: tuple[DeclaredUse, ...] = ()
    """One entry per compared data class, in ``COMPARED_CLASSES`` order."""
    warnings: tuple[str, ...] = ()
    """Rows that were not understood (unknown question ids), said and skipped."""

    def use(self, data_class: str) -> DeclaredUse | None:
        return next((u for u in self.uses if u.data_class == data_class), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyMention:
    """One sentence of the privacy policy that names a data class."""

    data_class: str
    stance: Stance
    """``denied``: the sentence says it is not collected or accessed."""
    language: str
    """The phrase list that matched, e.g. ``en``."""
    phrase: str
    """The phrase of the list found in the sentence."""
    sentence: str
    """The sentence as it appears in the policy (whitespace collapsed, at most ``MAX_SENTENCE`` chars)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyPolicy:
    """What the privacy policy says about each data class."""

    source: str
    format: PolicyFormat
    text_found: bool
    """False when no text could be read (a scanned PDF without a text layer): nothing can be compared."""
    characters: int
    """Characters of text read."""
    mentions: tuple[PolicyMention, ...] = ()
    """Sorted by data class, stance, sentence."""

    def stance(self, data_class: str) -> Literal["disclosed", "denied", "silent"]:
        """``disclosed`` (some sentence says it is collected or shared), ``denied`` (only denials) or ``silent``."""
        stances = {m.stance for m in self.mentions if m.data_class == data_class}
        if stances - {"denied"}:
            return "disclosed"
        return "denied" if stances else "silent"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassComparison:
    """One row of the "declared vs found" table."""

    data_class: str
    declared: DeclaredAs
    policy: PolicyStance
    found: str
    """The data class's level in the code (``harvested``, ``exfiltrated``, ...)."""
    leaves_by: tuple[str, ...]
    """Channels the data leaves the device by (network, sms; ``sdk_api``: an SDK collects it on request)."""
    sent_by_sdks: tuple[str, ...]
    """Names of the third-party SDKs whose code sends or collects it."""
    rule_ids: tuple[str, ...]
    """Contradiction findings for this class, sorted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationReport:
    """The declarations the user supplied and how they compare with the code."""

    data_safety: DataSafety | None
    privacy_policy: PrivacyPolicy | None
    complete: bool
    """False when part of a declaration could not be read (see ``incomplete``)."""
    incomplete: tuple[str, ...] = ()
    """Why the comparison is incomplete, e.g. a PDF without a text layer."""
    classes: tuple[ClassComparison, ...] = ()
    rules_sha256: str = ""
    """Of the declaration rules and phrase lists used."""
