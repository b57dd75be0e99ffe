"""Is a provider read bulk, and why: decided from the query itself and from what is done with its rows.

In this order (the first that applies gives the reason, :class:`~appaudit.analysis.facts.BulkReason`):

1. the call reads no rows (``registerContentObserver``, ``acquireContentProviderClient``): ``not_a_query``;
2. the URI (:func:`.query_shape.uri_shape`): a filter or lookup URI is ``filter_uri``; one naming a row
   (``withAppendedId``) is ``appended_id``;
3. the selection (:func:`.query_shape.selection_binds_rows`): bound to an identifying column is
   ``selection_bound``; none, or one that restricts nothing, goes on;
4. the projection (:func:`.query_shape.projection_is_narrow`): only ``_id``/``_count``/account/sync
   columns is ``narrow_projection``; a sort order with ``LIMIT n``, n at most :data:`MAX_FEW_ROWS`,
   is ``limited``;
5. the rows (:mod:`.rows`), in the query's method, in the app methods the cursor is handed to, or, when
   the method returns the cursor, in its callers: a loop that keeps them is ``all_rows`` (bulk);
   otherwise ``first_row_only``, ``count_only``, ``rows_not_kept``, or ``no_loop`` without a loop.

A selection or projection given by a caller is decided by the most inclusive of the callers' values
(one caller asking for every row makes the query bulk). What cannot be seen never narrows a read.
"""

from __future__ import annotations

from appaudit.analysis import taint
from appaudit.analysis.facts import BulkReason
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.providers import ProviderQuery
from appaudit.analysis.query_shape import (
    Envs,
    argument_consts,
    projection_is_narrow,
    selection_binds_rows,
    sort_limit,
    uri_shape,
)
from appaudit.analysis.rows import RowFollower, RowUse
from appaudit.apk.dex.types import CodeIndex, MethodCode
from appaudit.descriptors import split_params
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec

#: A sort order's ``LIMIT`` up to this many rows reads a few rows, not the provider (the newest
#: messages an OTP screen shows); above it, a limit is a batch of a harvest.
MAX_FEW_ROWS = 10
#: Callers looked at when the read's method returns the cursor to be iterated there.
MAX_CURSOR_CALLERS = 8
_CURSOR = "Landroid/database/Cursor;"
#: Calls that reach a provider without reading rows there.
_NOT_QUERIES = frozenset(
    {"registerContentObserver", "acquireContentProviderClient", "acquireUnstableContentProviderClient"}
)
_ROW_REASONS = {
    RowUse.KEPT: BulkReason.ALL_ROWS,
    RowUse.FIRST_ROW_ONLY: BulkReason.FIRST_ROW_ONLY,
    RowUse.NOT_KEPT: BulkReason.ROWS_NOT_KEPT,
    RowUse.COUNT_ONLY: BulkReason.COUNT_ONLY,
    RowUse.NO_LOOP: BulkReason.NO_LOOP,
}
#: Which row use explains a read best when several methods hold the cursor (a loop beats no loop).
_ROW_ORDER = (RowUse.KEPT, RowUse.FIRST_ROW_ONLY, RowUse.NOT_KEPT, RowUse.COUNT_ONLY, RowUse.NO_LOOP)


class BulkDecider:
    """Decides :class:`BulkReason` for each provider query of one scan."""

    def __init__(self, code: CodeIndex, graph: CallGraph, flows: FlowSpec) -> None:
        self.code = code
        self.graph = graph
        self.flows = flows
        self.rows = RowFollower(graph, flows.cursor_iteration)
        # a query's selection, projection and sort order are read from the same sites: one pass each
        self._envs: Envs = {}

    def reason(self, query: ProviderQuery) -> BulkReason:
        """Why ``query`` is (``all_rows``) or is not bulk."""
        name = query.site.value.partition("->")[2].split("(", 1)[0]
        if name in _NOT_QUERIES:
            return BulkReason.NOT_A_QUERY
        shape = uri_shape(query.uri or "")
        if shape == "filter":
            return BulkReason.FILTER_URI
        if shape == "one_row":
            return BulkReason.APPENDED_ID
        uri_arg = self._uri_arg(query)
        if uri_arg is not None and self._selection_bound(query, uri_arg + 2):
            return BulkReason.SELECTION_BOUND
        if uri_arg is not None and self._narrow(query, uri_arg + 1):
            return BulkReason.NARROW_PROJECTION
        if uri_arg is not None and self._limited(query, uri_arg + 4):
            return BulkReason.LIMITED
        return _ROW_REASONS[self._row_use(query)]

    def _uri_arg(self, query: ProviderQuery) -> int | None:
        """The URI's position among the query call's declared parameters (projection, selection follow)."""
        owner = query.site.value.partition("->")[0]
        name = query.site.value.partition("->")[2].split("(", 1)[0]
        return next((t.uri_arg for t in self.flows.queries if t.class_desc == owner and name in t.names), None)

    def _selection_bound(self, query: ProviderQuery, arg: int) -> bool:
        if not _takes_strings(query.site.value, arg):
            return False
        verdicts = [selection_binds_rows(c) for c in argument_consts(self.code, query.site, arg, envs=self._envs)]
        return all(v is True for v in verdicts)

    def _narrow(self, query: ProviderQuery, arg: int) -> bool:
        values = argument_consts(self.code, query.site, arg, envs=self._envs)
        return all(projection_is_narrow(c) for c in values)

    def _limited(self, query: ProviderQuery, arg: int) -> bool:
        if not _takes_strings(query.site.value, arg):
            return False
        limits = [sort_limit(c) for c in argument_consts(self.code, query.site, arg, envs=self._envs)]
        return all(n is not None and n <= MAX_FEW_ROWS for n in limits)

    def _row_use(self, query: ProviderQuery) -> RowUse:
        node = MethodId(class_name=query.site.class_name, method=query.site.method)
        body = self.graph.body(node)
        if body is None:
            return RowUse.NO_LOOP
        uses = [self.rows.use(body, taint.Seeds(sites={query.site.offset: (True, frozenset())}))]
        for offset, callee in self.graph.down(node):
            taker = self.graph.body(callee) if _CURSOR in callee.method else None
            if taker is not None and offset > query.site.offset:  # handed the cursor after the query
                uses.append(self.rows.use(taker, taint.Seeds(params=_cursor_params(taker))))
        if node.method.endswith(_CURSOR):
            for caller, offset in self.graph.up(node)[:MAX_CURSOR_CALLERS]:
                outer = self.graph.body(caller)
                if outer is not None:
                    uses.append(self.rows.use(outer, taint.Seeds(sites={offset: (True, frozenset())})))
        return min(uses, key=_ROW_ORDER.index)


def _takes_strings(ref: str, arg: int) -> bool:
    """Declared parameter ``arg`` of the called method is a ``String`` (not a ``Bundle`` of query args)."""
    params = split_params(ref[ref.find("(") :]) if "(" in ref else []
    return arg < len(params) and params[arg] == "Ljava/lang/String;"


def _cursor_params(body: MethodCode) -> frozenset[int]:
    """Register positions (0 is ``this``) of the method's ``Cursor`` parameters."""
    out: set[int] = set()
    pos = 0 if body.is_static else 1
    for p in body.param_types:
        if p == _CURSOR:
            out.add(pos)
        pos += 2 if p in ("J", "D") else 1
    return frozenset(out)
