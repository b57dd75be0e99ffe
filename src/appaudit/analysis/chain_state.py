"""The state of one chain search (:mod:`.chains`): what a data-following visit carries, what a search
has found, what it hands back, and the bounds of its second pass through storage."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from appaudit.analysis.facts import HarvestChain, StoreHop
from appaudit.analysis.search import MAX_TOTAL_VISITS
from appaudit.analysis.sinks import Sink
from appaudit.analysis.taint import Flow
from appaudit.model import Channel, Evidence, MethodId

#: Searches from the places a read's data is read back from storage (:meth:`ChainFinder._through_stores`).
MAX_STORE_SEARCHES = 4
#: Stores are followed only in methods this many calls from the read, before any sink on the path: further
#: on, or past a sink, what taint reaches is more often derived data (a count, a server's answer, a status)
#: than the data read, and a store of it leads to uploads of something else.
MAX_STORE_COST = 2
#: Searches through storage start only while the scan's budget has this many visits left: they are a
#: second pass, and must not starve the reads still to search, nor their start-up paths.
STORE_BUDGET_FLOOR = MAX_TOTAL_VISITS // 2
#: Methods one search from a read back may visit (the upload is near where the data is read back).
MAX_STORE_VISITS = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """One data search's read and the chains it found so far, by channel."""

    data_class: str
    read: Evidence
    source: MethodId
    """The read's method."""
    reads: frozenset[int]
    """Offsets of the reads in it (not sinks, though tainted data goes through them)."""
    chains: dict[Channel, HarvestChain]
    ruled_out: dict[Channel, HarvestChain] = field(default_factory=dict)
    """Sinks the data reached only in arguments that do not carry it out (an SMS's destination)."""
    replied: set[Channel] = field(default_factory=set)
    """Channels whose sinks the data reached in a command's reply only (``analysis.replies``): settled
    for the pass through storage, as a chain would be."""
    lost_at: set[MethodId] = field(default_factory=set)
    """Methods where the data reached an ``escapes`` call or the depth's end (see :class:`Reach`)."""


#: How a Message sent to a Handler on a path carried the data (:mod:`.handoff_seeds`): its payload was seen
#: tainted (``payload``), or a tainted Message whose payload was not seen filled was sent (``sent``).
MessageTaint = Literal["payload", "sent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Carried:
    """What the data read did in the method a data-following visit reached."""

    flow: Flow
    published: bool
    """Tainted data was handed to a Handler, queue or broadcast on the way (a callback reads it later)."""
    message: MessageTaint | None = None
    """Tainted data was put in a Handler Message on the way: what ``handleMessage`` further on is handed."""
    via: tuple[StoreHop, ...] = ()
    """Storage and named hand-offs the data went through on the way (:mod:`.stores`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """Where the data of one read was followed to, and where calls alone lead."""

    chains: list[HarvestChain]
    """The shortest chain per channel: confirmed along the data, else by calls alone."""
    lost: bool
    """The data reached a call it is not followed through (storage, another component: ``escapes``
    in rules/flows.yaml), or the search's depth ended while it still carried the data: a chain by
    calls alone may then carry it on."""
    messaged: HarvestChain | None = None
    """A chain along which the data reaches an SMS send only as its destination: the app messages
    the people it read (``confirmed``; not a channel the data leaves by)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Followed:
    """What the data-following search found."""

    chains: dict[Channel, HarvestChain]
    ruled_out: frozenset[Channel]
    """Channels whose sink calls the data reached only in arguments that do not carry it out (an SMS's
    destination): calls alone to such a channel are not the data's path."""
    lost: bool
    messaged: HarvestChain | None


def carries(sink: Sink, flow: Flow) -> bool:
    """The data goes out by ``sink``: into one of its data arguments when it names them (an SMS's
    text, not its destination), else (streams, bridges, endpoints) into any call of its method."""
    if sink.data_positions is None:
        return True
    return bool(flow.calls.get(sink.call.offset or 0, frozenset()) & sink.data_positions)


def with_fields(flow: Flow, fields: frozenset[str]) -> Flow:
    """``flow`` with the tainted fields of the path so far (they stay tainted further on)."""
    return flow if fields <= flow.fields else replace(flow, fields=flow.fields | fields)
