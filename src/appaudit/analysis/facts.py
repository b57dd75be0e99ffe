"""What the chain analysis finds: harvest chains, provider accesses, start-up paths."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from appaudit.model import Channel, Dataflow, Evidence, EvidenceKind, MethodId, Trigger

#: How a provider query's URI was found: a URI constant (``constant``: an SDK field), a string, a URI
#: built in the method, a caller's argument (``parameter``), a static field's writer, an instance field
#: set in a constructor (``instance_field``), an app method's return value (``helper``), a string
#: resource (``resource``), the intent's data, or not at all. A URI built of parts says where its
#: first part that was not a literal came from.
ResolvedBy = Literal[
    "constant",
    "string",
    "built",
    "parameter",
    "static_field",
    "instance_field",
    "helper",
    "resource",
    "intent_data",
    "unresolved",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainStep:
    """One method on a path, with the offset of the call that leads on (or of the read/sink)."""

    class_name: str
    method: str
    offset: int | None = None

    @classmethod
    def at(cls, method: MethodId, offset: int | None = None) -> ChainStep:
        """``method`` as a step, at the call that leads on (or the read or sink)."""
        return cls(class_name=method.class_name, method=method.method, offset=offset)

    @property
    def method_id(self) -> MethodId:
        """The method of this step (its identity without the offset)."""
        return MethodId(class_name=self.class_name, method=self.method)


@dataclass(frozen=True, slots=True, kw_only=True)
class UrlSource:
    """A URL of a chain that is not a string in the sink's method: where it was resolved from."""

    url: str
    how: ResolvedBy
    """``static_field``, ``instance_field``, ``helper`` or ``resource`` (see ``analysis.values``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestChain:
    """A path from a read of protected data to a place where data leaves the device."""

    data_class: str
    read: Evidence
    steps: tuple[ChainStep, ...]
    """Methods from the read to the sink, in order (the read's method first)."""
    channel: Channel
    sink: Evidence
    transformers: tuple[str, ...] = ()
    """Serialisation, compression, encryption or encoding seen on the way (e.g. ``json: JSONArray.put``)."""
    urls: tuple[str, ...] = ()
    """URL or path strings in the sink's method (e.g. ``https://x/api/contacts/upload``), then URLs
    the method hands to calls that were resolved from elsewhere (``url_sources``)."""
    url_sources: tuple[UrlSource, ...] = ()
    """Where each URL of ``urls`` that is not a string in the sink's method came from."""
    dataflow: Dataflow = Dataflow.UNCONFIRMED
    """``confirmed`` when the data read was followed along the chain into the sink's method
    (``analysis.taint``), ``unconfirmed`` when only the calls link them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAccess:
    """One provider query whose URI was resolved to a protected data class."""

    data_class: str
    uri: str
    how: ResolvedBy
    """constant, string, built, parameter, static_field, instance_field, helper or resource."""
    bulk: bool
    """The cursor is iterated in a loop (here or in the method the cursor is handed to)."""
    evidence: Evidence


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupPath:
    """How a read is reached without user action."""

    data_class: str
    trigger: Trigger
    """``startup`` (application, launcher, service, provider), ``boot`` or ``event`` (incoming SMS/call)."""
    entry: str
    """The entry component and callback, e.g. ``com.x.App.onCreate``."""
    steps: tuple[ChainStep, ...]
    asks_permission_first: bool = False
    """A method on the path asks for runtime permissions (``requestPermissions``) before the call that
    leads on to the read: the read then waits for the user's answer. False means no request was seen
    on the path (the permission was granted earlier, at install for targetSdk < 23, or is never asked)."""


#: Channels by which data leaves the device (``storage`` keeps it there).
LEAVES_DEVICE: tuple[Channel, ...] = (Channel.NETWORK, Channel.SMS)


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestFacts:
    """What the chain analysis found, for rules and the report."""

    accesses: tuple[ProviderAccess, ...] = ()
    sms_receivers: tuple[Evidence, ...] = ()
    """Sites that decode incoming SMS."""
    chains: tuple[HarvestChain, ...] = ()
    startup: tuple[StartupPath, ...] = ()
    search_truncated: bool = False
    """The scan's budget of methods to visit ran out: some reads were not searched for chains."""
    untracked: tuple[str, ...] = ()
    """Data classes whose data the data-flow check lost on the way (stored, handed to another
    component, or still carried where the search's depth ended): their chains by calls alone may
    carry it on (see :func:`counted_chains`)."""
    messaged: tuple[HarvestChain, ...] = ()
    """Per data class, a chain along which the data reaches an SMS send only as its destination
    (``confirmed``): the app messages the people it read (spam or a worm to every contact). It is not
    a channel the data leaves by, and is not in ``chains``."""


def bulk_reads(facts: HarvestFacts, data_class: str) -> list[Evidence]:
    """Reads of all of the class: bulk provider queries, and incoming-SMS decodes whose
    message is followed to a sink (every message is stored or sent on)."""
    reads = [a.evidence for a in facts.accesses if a.data_class == data_class and a.bulk]
    reads += [
        c.read
        for c in facts.chains
        if c.data_class == data_class and c.read in facts.sms_receivers and c.dataflow == Dataflow.CONFIRMED
    ]
    return reads


def is_bulk(facts: HarvestFacts, data_class: str) -> bool:
    """Some read of the class reads all of it (see :func:`bulk_reads`)."""
    return bool(bulk_reads(facts, data_class))


def counted_chains(facts: HarvestFacts, data_class: str) -> tuple[HarvestChain, ...]:
    """The chains that say where the class's data goes: those to the network or SMS whose data
    flow is confirmed, or, when there is none, the reads are bulk and the data was lost on the way
    (stored, handed to another component, past the search's depth: ``untracked``, or the scan's
    search budget ran out), every chain to the network or SMS; and chains to storage on the same
    terms. Other chains (a single-item read linked to a sink by calls only, a list shown on screen
    beside an unrelated upload) are evidence, not a finding."""
    mine = [c for c in facts.chains if c.data_class == data_class]
    lost = is_bulk(facts, data_class) and (data_class in facts.untracked or facts.search_truncated)
    confirmed = [c for c in mine if c.channel in LEAVES_DEVICE and c.dataflow == Dataflow.CONFIRMED]
    out = confirmed or ([c for c in mine if c.channel in LEAVES_DEVICE] if lost else [])
    kept = [c for c in mine if c.channel not in LEAVES_DEVICE and (c.dataflow == Dataflow.CONFIRMED or lost)]
    return (*out, *kept)


def sink_evidence(chain: HarvestChain) -> Evidence:
    """The chain's sink as a finding's evidence: the sink call, with the channel it leaves by."""
    return replace(chain.sink, kind=EvidenceKind.SINK, channel=chain.channel)
