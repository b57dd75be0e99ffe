"""What a loop over a cursor does with the rows: keeps them, takes the first, only counts, or drops them.

The cursor (the query's result, or a parameter or call result that holds it) is followed with the
data-flow check of :mod:`.taint` through the method that iterates it. The rows are **kept** when a
row's data is handed to a call that keeps or passes it on (a collection, a JSON array, a stream, an
SDK or network call, a provider insert), written to a field, returned (an object, not a count or a
test), or put into an argument the method fills; the app's own methods it is handed to are looked at
in turn (:data:`CALLEE_DEPTH` deep, then assumed to keep it). Calls that only look at a value
(``String.equals``, ``TextUtils.isEmpty``, parsing, regular expressions), log it, or delete or update
rows keep nothing; a ``StringBuilder`` is followed to where its text goes.

Without a loop the read is one row. In a loop that keeps nothing: no column read is ``count_only``;
a ``break`` or ``return`` out of the loop after a column was read is ``first_row_only``; otherwise
``rows_not_kept``. A loop that keeps rows is ``all_rows``, even with an early exit (a harvest that
stops at a bad row is still a harvest).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from appaudit.analysis import taint
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_name
from appaudit.model import MethodId
from appaudit.ruleset.flows import ApiTarget

#: How deep the app's own methods a row value is handed to are looked into.
CALLEE_DEPTH = 2

_CURSORS = frozenset(
    {
        "Landroid/database/Cursor;",
        "Landroid/database/CursorWrapper;",
        "Landroid/database/AbstractCursor;",
        "Landroid/database/AbstractWindowedCursor;",
        "Landroid/database/sqlite/SQLiteCursor;",
        "Landroid/database/CrossProcessCursorWrapper;",
    }
)
#: Cursor calls that read no column of the current row.
_CURSOR_NO_DATA = frozenset(
    {
        "getCount",
        "getColumnCount",
        "getColumnIndex",
        "getColumnIndexOrThrow",
        "getColumnName",
        "getColumnNames",
        "getPosition",
        "getExtras",
        "getNotificationUri",
        "getType",
    }
)
#: Classes whose calls only look at, transform or log a value (a transformed value is followed on).
_LOOKING = frozenset(
    {
        "Ljava/lang/String;",
        "Ljava/lang/StringBuilder;",
        "Ljava/lang/StringBuffer;",
        "Ljava/lang/CharSequence;",
        "Ljava/lang/Object;",
        "Ljava/lang/Integer;",
        "Ljava/lang/Long;",
        "Ljava/lang/Boolean;",
        "Ljava/lang/Double;",
        "Ljava/lang/Float;",
        "Ljava/lang/Short;",
        "Ljava/lang/Character;",
        "Ljava/lang/Math;",
        "Ljava/util/regex/Pattern;",
        "Ljava/util/regex/Matcher;",
        "Landroid/text/TextUtils;",
        "Landroid/util/Log;",
        "Landroid/telephony/PhoneNumberUtils;",
        "Ljava/io/PrintStream;",
        "Landroid/net/Uri;",
        "Landroid/content/ContentUris;",
    }
)
#: Provider calls that change or remove rows, or look related rows up (whose cursor is followed on), rather
#: than keep what was read.
_RESOLVER_WRITES = frozenset({"delete", "update", "notifyChange", "query"})
_PRIMITIVE_RETURNS = ("Z", "B", "C", "S", "I", "J", "F", "D", "V")


class RowUse(StrEnum):
    """What a method does with the rows of a cursor it holds."""

    KEPT = "kept"
    NO_LOOP = "no_loop"
    COUNT_ONLY = "count_only"
    FIRST_ROW_ONLY = "first_row_only"
    NOT_KEPT = "rows_not_kept"


@dataclass(frozen=True, slots=True)
class _Loop:
    """The innermost loop region (first and last offset) around a cursor-iteration call."""

    start: int
    end: int

    def holds(self, offset: int) -> bool:
        return self.start <= offset <= self.end


def _owner_name(ref: str) -> tuple[str, str]:
    owner, _, rest = ref.partition("->")
    return owner, rest.split("(", 1)[0]


def cursor_loop(body: MethodCode, iteration: tuple[ApiTarget, ...]) -> _Loop | None:
    """The innermost loop (a backward branch) around a cursor-iteration call; when the method moves no
    cursor at all, around a cursor column read (a loop that reads rows until the cursor ends)."""
    calls = [i.offset for i in body.insns if i.op.startswith("invoke") and i.ref and calls_target(iteration, i.ref)]
    if not calls:
        moves = any(_owner_name(i.ref)[1].startswith("move") for i in body.insns if i.ref and _is_cursor_call(i))
        calls = [] if moves else [i.offset for i in body.insns if _is_column_read(i)]
    exits = _exit_blocks(body)
    back = [
        (i.target, i.offset)
        for i in body.insns
        if i.target is not None and i.target <= i.offset and i.op.startswith(("if-", "goto")) and i.target not in exits
    ]
    spans = [(t, b) for c in calls for t, b in back if t <= c <= b]
    if not spans:
        return None
    start, end = min(spans, key=lambda s: s[1] - s[0])
    grown = True
    while grown:  # a loop laid out in pieces (an inner loop jumping back past the head) is one region
        grown = False
        for t, b in back:
            if t <= end and b >= start and (t < start or b > end):
                start, end, grown = min(start, t), max(end, b), True
    return _Loop(start, end)


def _exit_blocks(body: MethodCode) -> frozenset[int]:
    """Offsets that start a straight run of code ending in ``return`` or ``throw`` (a jump back to one
    leaves the method; it is not a loop)."""
    out: set[int] = set()
    run: list[int] = []
    for insn in reversed(body.insns):
        if insn.op.startswith(("return", "throw")):
            run = [insn.offset]
        elif insn.op.startswith(("if-", "goto", "packed-switch", "sparse-switch")) or insn.op.endswith("payload"):
            run = []
        elif run:
            run.append(insn.offset)
        out.update(run[-1:])
    return frozenset(out)


def _cursor_tests(body: MethodCode) -> frozenset[int]:
    """Offsets of branches on the result of a cursor call (``if (!c.moveToNext())``, ``if (c.isLast())``)."""
    out: set[int] = set()
    from_cursor: set[int] = set()
    last_call_cursor = False
    for insn in body.insns:
        if insn.op.startswith("invoke"):
            last_call_cursor = _is_cursor_call(insn)
        elif insn.op.startswith("move-result") and insn.regs:
            (from_cursor.add if last_call_cursor else from_cursor.discard)(insn.regs[0])
        elif insn.op.startswith("if-") and insn.regs and insn.regs[0] in from_cursor:
            out.add(insn.offset)
        elif insn.regs and not insn.op.startswith(_NOT_DEFINING):
            from_cursor.discard(insn.regs[0])
    return frozenset(out)


def _is_cursor_call(insn: Insn) -> bool:
    return insn.op.startswith("invoke") and insn.ref is not None and _owner_name(insn.ref)[0] in _CURSORS


def _is_column_read(insn: Insn) -> bool:
    if not _is_cursor_call(insn):
        return False
    name = _owner_name(insn.ref or "")[1]
    return name.startswith("get") and name not in _CURSOR_NO_DATA


def _early_exit(body: MethodCode, loop: _Loop, tainted: dict[int, frozenset[int]]) -> bool:
    """A ``return`` or a jump out of the loop after its first read of a column of the cursor (``tainted``:
    the calls the cursor reaches): a ``break``."""
    reads = [i.offset for i in body.insns if loop.holds(i.offset) and i.offset in tainted and _is_column_read(i)]
    if not reads:
        return False
    exits = _exit_blocks(body)
    tests_cursor = _cursor_tests(body)
    in_handler = False
    for insn in body.insns:
        if insn.op == "move-exception":
            in_handler = True  # an exception handler's way out is not the loop's choice
        ends_block = insn.op.startswith(("return", "goto", "if-", "throw"))
        if in_handler or not loop.holds(insn.offset) or insn.offset <= reads[0]:
            in_handler = in_handler and not ends_block
            continue
        if insn.offset in tests_cursor:  # the loop's own condition (``isLast``, ``moveToNext``) at its foot
            continue
        if insn.offset == loop.end:  # the back edge: leaving by its fall-through is a break when conditional
            return insn.op.startswith("if-")
        if insn.op.startswith("return"):
            return True
        leaves = insn.target is not None and (not loop.holds(insn.target) or insn.target in exits)
        if leaves and insn.op.startswith(("goto", "if-")):
            return True
    return False


class RowFollower:
    """Follows a cursor's rows through the methods that hold it; one per scan (callees cached)."""

    def __init__(self, graph: CallGraph, iteration: tuple[ApiTarget, ...]) -> None:
        self.graph = graph
        self.iteration = iteration
        self._keeps: dict[tuple[MethodId, frozenset[int]], bool] = {}

    def use(self, body: MethodCode, seeds: taint.Seeds) -> RowUse:
        """What ``body`` does with the rows of the cursor ``seeds`` mark."""
        loop = cursor_loop(body, self.iteration)
        if loop is None:
            return RowUse.NO_LOOP
        flow = taint.analyse(body, seeds)
        calls = {i.offset: i for i in body.insns if i.offset in flow.calls}
        keeping = [off for off, insn in calls.items() if self._call_keeps(insn, flow.calls[off], CALLEE_DEPTH)]
        stores = _stores(body, flow)
        if any(loop.holds(off) for off in keeping + stores) or _builds_across_rows(body, loop, calls):
            return RowUse.KEPT
        if _early_exit(body, loop, flow.calls):
            return RowUse.FIRST_ROW_ONLY
        if keeping or stores or _fills(body, flow) or (flow.returns and not _returns_primitive(body)):
            return RowUse.KEPT
        if not any(loop.holds(i.offset) and i.offset in flow.calls and _is_column_read(i) for i in body.insns):
            # no column of this cursor is read in the loop (another cursor's may be)
            return RowUse.COUNT_ONLY
        return RowUse.NOT_KEPT

    def _call_keeps(self, insn: Insn, positions: frozenset[int], depth: int) -> bool:
        """A call handed tainted data at ``positions`` keeps it or passes it on."""
        ref = insn.ref or ""
        owner, name = _owner_name(ref)
        if owner in _CURSORS or owner in _LOOKING:
            return False
        if owner == "Landroid/content/ContentResolver;" and name in _RESOLVER_WRITES:
            return False
        callee = MethodId(class_name=java_name(owner), method=ref.partition("->")[2])
        body = self.graph.body(callee)
        if body is None:
            return True  # a framework or SDK call outside the app: it may keep the data
        if depth <= 0:
            return True
        key = (callee, positions)
        if key not in self._keeps:
            self._keeps[key] = False  # recursion guard: a cycle keeps nothing by itself
            self._keeps[key] = self._callee_keeps(body, positions, depth - 1)
        return self._keeps[key]

    def _callee_keeps(self, body: MethodCode, positions: frozenset[int], depth: int) -> bool:
        flow = taint.analyse(body, taint.Seeds(params=positions))
        if _stores(body, flow) or _fills(body, flow):
            return True
        calls = {i.offset: i for i in body.insns if i.offset in flow.calls}
        return any(self._call_keeps(insn, flow.calls[off], depth) for off, insn in calls.items())


def _builds_across_rows(body: MethodCode, loop: _Loop, calls: dict[int, Insn]) -> bool:
    """Inside the loop, row data is appended to a ``StringBuilder``/``StringBuffer`` made before the loop
    (one text of every row, kept whatever is done with it later)."""
    index = {insn.offset: k for k, insn in enumerate(body.insns)}
    for off, insn in calls.items():
        owner, name = _owner_name(insn.ref or "")
        if loop.holds(off) and name == "append" and owner in _BUILDERS and insn.regs:
            made = _made_at(body, index[off], insn.regs[0])
            if made is not None and made < loop.start:
                return True
    return False


def _made_at(body: MethodCode, at: int, reg: int) -> int | None:
    """Offset of the instruction that last set ``reg`` before instruction index ``at`` (through moves)."""
    for k in range(at - 1, -1, -1):
        insn = body.insns[k]
        if not insn.regs or insn.regs[0] != reg or insn.op.startswith(_NOT_DEFINING):
            continue
        if insn.op.startswith("move-object") and len(insn.regs) == 2:
            reg = insn.regs[1]
            continue
        return insn.offset
    return None


_BUILDERS = frozenset({"Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;"})


def _stores(body: MethodCode, flow: taint.Flow) -> list[int]:
    """Offsets of the field writes that store tainted data (a field only used as a call's receiver,
    such as a ``Pattern``, is tainted by the check but not written here)."""
    return [i.offset for i in body.insns if i.op.startswith(("iput", "sput")) and i.ref in flow.fields]


def _fills(body: MethodCode, flow: taint.Flow) -> bool:
    """Tainted data was put into an argument that can hold it (not a string or a number)."""
    positions: dict[int, str] = {}
    pos = 0 if body.is_static else 1
    for p in body.param_types:
        positions[pos] = p
        pos += 2 if p in ("J", "D") else 1
    first = body.first_param_register
    defined = {i.regs[0] for i in body.insns if i.regs and not i.op.startswith(_NOT_DEFINING)}
    return any(
        positions[p] not in _IMMUTABLE and first + p not in defined  # a reused parameter register is a local
        for p in flow.params_out
        if p in positions
    )


_NOT_DEFINING = ("invoke", "if-", "goto", "return", "throw", "iput", "sput", "aput", "monitor", "fill-array", "switch")


_IMMUTABLE = frozenset(
    {"Ljava/lang/String;", "Ljava/lang/CharSequence;", "Ljava/lang/Integer;", "Ljava/lang/Long;"}
) | set(_PRIMITIVE_RETURNS)


def _returns_primitive(body: MethodCode) -> bool:
    """The method returns a primitive (a count, a test) or nothing."""
    return body.method.rsplit(")", 1)[-1] in _PRIMITIVE_RETURNS
