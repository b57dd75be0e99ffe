"""What the chain analysis finds: harvest chains, provider accesses, start-up paths."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from appaudit.model import STARTUP_TRIGGERS, Channel, Dataflow, Evidence, EvidenceKind, MethodId, Trigger

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


#: How a hop through storage or a named hand-off was matched: by the name both sides use, or by kind alone.
MatchedBy = Literal["name", "type"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreHop:
    """Where a chain's data rests between two of its methods: stored under a name, read back elsewhere."""

    kind: str
    """``sqlite`` (a table), ``shared_prefs`` (a key), ``file`` (a file name), ``static_field``,
    ``intent_extra`` (an extra's key), ``work_data`` (a WorkManager input key), ``queue`` (an object put
    into a queue another thread takes from: the field holding the queue, :mod:`.queues`) or
    ``database_file`` (a table's rows read back by reading its database's file: the file's name,
    :mod:`.db_files`)."""
    name: str | None
    """The table, key, file name or field (``pkg.Cls.field``; for a queue, the field holding it) shared by
    both sides; for a hop matched by kind alone (a queue: by its element's class), the name the data was
    stored under when it is known, else None."""
    matched_by: MatchedBy
    """``name``: the store and the read name the same thing; ``type``: a name was not resolved on one
    side, so only the kind links them (the chain's data flow then stays ``unconfirmed``)."""


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
    via: tuple[StoreHop, ...] = ()
    """Storage and named hand-offs the data went through on the way, in order (empty: calls alone)."""


class BulkReason(StrEnum):
    """Why a provider query is, or is not, a read of all of its data (``analysis.bulk`` decides).

    ``all_rows`` is the one bulk reason; every other value says why the read is of one or a few rows,
    or of nothing that identifies anyone. In the order ``analysis.bulk`` tries them."""

    ALL_ROWS = "all_rows"
    """Bulk: a table URI, a selection that restricts nothing (none, ``1=1``, ``has_phone_number``, a type,
    a date window), identifying columns, and every row's data kept (added to a collection, a JSON array or
    a builder that is passed on, written to a field, returned, or handed to a call per row)."""
    NOT_A_QUERY = "not_a_query"
    """The call watches the provider or opens a client on it (``registerContentObserver``,
    ``acquireContentProviderClient``): no rows are read at this call."""
    FILTER_URI = "filter_uri"
    """The URI is a filter or lookup URI (``CONTENT_FILTER_URI``, ``PhoneLookup``, ``CONTENT_LOOKUP_URI``):
    the rows matching one name, number or key."""
    APPENDED_ID = "appended_id"
    """The URI names one row (``ContentUris.withAppendedId``, a path segment known only at run time)."""
    SELECTION_BOUND = "selection_bound"
    """The selection picks rows by an identifying column bound to an argument or a value (``_id = ?``,
    ``contact_id = `` + id, ``data1 IN (?,…)``, a lookup key, a number or address)."""
    NARROW_PROJECTION = "narrow_projection"
    """Only ``_id``, ``_count``, account or sync columns are read: nothing that identifies a person."""
    LIMITED = "limited"
    """The sort order limits the rows to a few (``date DESC LIMIT 3``; at most ``bulk.MAX_FEW_ROWS``)."""
    NO_LOOP = "no_loop"
    """The cursor is not iterated (no loop over its rows, here or where it is handed on): one row at most."""
    COUNT_ONLY = "count_only"
    """The loop reads no column of the rows: it only counts them."""
    FIRST_ROW_ONLY = "first_row_only"
    """The loop is left (``break``, ``return``) at the first matching row, and no row is kept on the way."""
    ROWS_NOT_KEPT = "rows_not_kept"
    """Every row is read but none is kept: each is only tested, logged or deleted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAccess:
    """One provider query whose URI was resolved to a protected data class."""

    data_class: str
    uri: str
    how: ResolvedBy
    """constant, string, built, parameter, static_field, instance_field, helper or resource."""
    evidence: Evidence
    bulk_reason: BulkReason = BulkReason.ALL_ROWS
    """Why the read is bulk (``all_rows``) or not (every other value); see :class:`BulkReason`."""

    @property
    def bulk(self) -> bool:
        """All of the data is read: ``bulk_reason`` is ``all_rows`` (derived, so the two never disagree)."""
        return self.bulk_reason is BulkReason.ALL_ROWS


#: What a provider write does: ``ContentResolver`` (or ``ContentProviderClient``) method names.
WriteOperation = Literal["delete", "update", "insert", "bulkInsert", "applyBatch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderWrite:
    """One call that deletes, inserts or changes rows of a protected provider: an effect, not a read."""

    data_class: str
    uri: str
    """The resolved URI text or SDK field; for ``applyBatch``, ``content://`` and the authority."""
    how: ResolvedBy
    operation: WriteOperation
    evidence: Evidence


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupPath:
    """What makes a read run: its trigger and the path from the callback that starts it to the read.

    The name is kept from when only start-up paths were reported; a path of any trigger has this shape."""

    data_class: str
    trigger: Trigger
    """``startup`` (application, launcher, provider, a service nothing else starts), ``boot``, ``event``
    (incoming SMS/call, content observer, connectivity, push), ``user_action``, ``scheduled`` or
    ``command`` (see :class:`~appaudit.model.Trigger`)."""
    entry: str
    """The entry component and callback, e.g. ``com.x.App.onCreate``."""
    steps: tuple[ChainStep, ...]
    asks_permission_first: bool = False
    """The user is asked first: a method on the path asks for runtime permissions (``requestPermissions``)
    before the call that leads on to the read, or the path starts in the answer to a permission request
    (``onRequestPermissionsResult``) or in a click of a component that asks for permissions or shows a
    dialog with an agree button. False means no request was seen (the permission was granted earlier,
    at install for targetSdk < 23, or is never asked)."""
    origin: Trigger | None = None
    """For a ``scheduled`` read: the trigger of the code that scheduled it (None when none was found)."""
    read: Evidence | None = None
    """The read this path leads to (None in reports written before per-read triggers)."""
    guard: Evidence | None = None
    """For a ``command`` read: the string comparison of a received value that the call leading on depends on."""

    @property
    def at_startup(self) -> bool:
        """The read runs at start-up or boot without the user asking (a scheduled one by what scheduled it)."""
        if self.trigger == Trigger.SCHEDULED:
            return self.origin in STARTUP_TRIGGERS
        return self.trigger in STARTUP_TRIGGERS


class IncomingReason(StrEnum):
    """Why the messages an incoming-SMS decode reads are all of them, or not."""

    PASSED_ON = "passed_on"
    """Bulk: the message is followed (data flow confirmed) to a sink whatever it says."""
    TO_NATIVE = "to_native"
    """Bulk: every message is handed to the app's native code."""
    CONTENT_TEST = "content_test"
    """Not bulk: the message goes on only when its content passes a test (an expected text, a command)."""
    NOT_FOLLOWED = "not_followed"
    """Not bulk: the message was not followed to a sink or to native code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingRead:
    """One incoming-SMS decode and whether it reads every message (``analysis.incoming``)."""

    evidence: Evidence
    reason: IncomingReason

    @property
    def bulk(self) -> bool:
        """Every incoming message is passed on or handed to native code."""
        return self.reason in (IncomingReason.PASSED_ON, IncomingReason.TO_NATIVE)


#: Channels by which data leaves the device (``storage`` keeps it there).
LEAVES_DEVICE: tuple[Channel, ...] = (Channel.NETWORK, Channel.SMS)


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestFacts:
    """What the chain analysis found, for rules and the report."""

    accesses: tuple[ProviderAccess, ...] = ()
    writes: tuple[ProviderWrite, ...] = ()
    """Deletes, inserts and updates of protected providers (``analysis.writes``)."""
    sms_receivers: tuple[Evidence, ...] = ()
    """Sites that decode incoming SMS."""
    incoming: tuple[IncomingRead, ...] = ()
    """Per decode site, whether it reads every message (empty: decided by its chains alone)."""
    chains: tuple[HarvestChain, ...] = ()
    startup: tuple[StartupPath, ...] = ()
    """Per class, one path run without user action: one at start-up if any, else one on an event."""
    triggers: tuple[StartupPath, ...] = ()
    """What makes every read run: per reading method and class, the nearest path of each trigger."""
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


def write_only_methods(facts: HarvestFacts, data_class: str) -> frozenset[tuple[str, str]]:
    """(class, method) of the methods that write ``data_class``'s provider and query it nowhere: a URI
    loaded there serves the write, so it is no evidence of a read."""
    queried = {(a.evidence.class_name, a.evidence.method) for a in facts.accesses if a.data_class == data_class}
    return frozenset(
        (w.evidence.class_name or "", w.evidence.method or "")
        for w in facts.writes
        if w.data_class == data_class and (w.evidence.class_name, w.evidence.method) not in queried
    )


def bulk_reads(facts: HarvestFacts, data_class: str) -> list[Evidence]:
    """Reads of all of the class: bulk provider queries, and incoming-SMS decodes that read every
    message (``incoming``; without that decision, those whose message is followed to a sink)."""
    reads = [a.evidence for a in facts.accesses if a.data_class == data_class and a.bulk]
    if data_class != "sms":
        return reads
    decided = {i.evidence: i for i in facts.incoming}
    reads += [i.evidence for i in facts.incoming if i.bulk]
    reads += [
        c.read
        for c in facts.chains
        if c.data_class == data_class
        and c.read in facts.sms_receivers
        and c.read not in decided
        and c.dataflow == Dataflow.CONFIRMED
    ]
    return list(dict.fromkeys(reads))


def is_bulk(facts: HarvestFacts, data_class: str) -> bool:
    """Some read of the class reads all of it (see :func:`bulk_reads`)."""
    return bool(bulk_reads(facts, data_class))


def bulk_sent(facts: HarvestFacts, data_class: str) -> bool:
    """Some chain that says where the class's data goes (:func:`counted_chains`) leaves the device
    from a method that reads all of it (:func:`bulk_reads`): harvested, not a bulk read in one
    place and a single item sent from another."""

    def method(e: Evidence) -> MethodId:
        return MethodId(class_name=e.class_name or "", method=e.method or "")

    methods = {method(e) for e in bulk_reads(facts, data_class)}
    return any(c.channel in LEAVES_DEVICE and method(c.read) in methods for c in counted_chains(facts, data_class))


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
