"""SQLite databases read back as files: a database's file holds every table in it (:mod:`.stores`).

Remote-access tools store each harvest in a table and, on a command, send the whole database: they
read the database's *file* (``getDatabasePath(name)``, or a path built from ``getDataDirectory()`` or
``getFilesDir().getParent()`` and ``"/databases/" + name``) rather than query its tables. A table's
rows then leave through a file read that names no table. This module tells :mod:`.stores` which
database a SQLite store writes, and which of the app's file reads read that database's file, so the
data search can hop from the insert to the read (a hop of kind ``database_file``, named by the
database's file name).

The database a store writes: the name the app's ``SQLiteOpenHelper`` subclass passes to the
framework's constructor (the helper whose ``getWritableDatabase()``/``getReadableDatabase()`` gave the
store's database, or whose method, or instance field, holds it), or the name given to
``openOrCreateDatabase``/``openDatabase`` in the store's method (its last path component).

The database a file read reads: a ``File`` from ``getDatabasePath(name)``, or a path that names a
``databases/`` directory followed by the name (a string constant, or a ``StringBuilder`` whose part
after ``"/databases/"`` is the name). A name the code chooses on a branch (a ``switch`` over each
database) is any string constant the method assigns to that register: every such name is a candidate.

Limits: a helper whose name is its constructor's parameter (passed by its callers) or set in a
superclass of the app's own gives no name; a database path built in another method (a helper
returning it) is not followed; at most :data:`MAX_NAMES` candidate names per read (more: none).
"""

from __future__ import annotations

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import argument_registers, values_at
from appaudit.analysis.store_names import USES_FIRST, file_init
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_name, split_params
from appaudit.model import MethodId

#: Candidate database names of one file read at most (a branch over more is not resolved).
MAX_NAMES = 8
_HELPER = "android.database.sqlite.SQLiteOpenHelper"
_HELPER_INIT = "Landroid/database/sqlite/SQLiteOpenHelper;-><init>("
_HANDLES = ("getWritableDatabase(", "getReadableDatabase(")
_OPENS = ("openOrCreateDatabase(", "openDatabase(")
_DATABASE_PATH = "getDatabasePath(Ljava/lang/String;)Ljava/io/File;"
_PATH_OF = ("getPath()", "getAbsolutePath()", "toString()", "getCanonicalPath()")
_SB = "Ljava/lang/StringBuilder;->"
_DIR = "databases/"
_STRING = "Ljava/lang/String;"
_FILE = "Ljava/io/File;"


def file_name_key(name: str) -> str:
    """What a database's file is matched by: its last path component, without case."""
    return name.rstrip("/").rsplit("/", 1)[-1].lower()


class DatabaseFiles:
    """The databases one scan's SQLite stores write and the file reads naming their files (cached)."""

    def __init__(self, graph: CallGraph) -> None:
        self.graph = graph
        self._helpers: dict[str, tuple[str, ...]] = {}

    def database_of(self, node: MethodId, body: MethodCode, ins: Insn) -> tuple[str, ...]:
        """The file names of the database the store call ``ins`` (in ``node``) writes, as far as known."""
        recv, _params = argument_registers(ins)
        if recv is None:
            return ()
        value = values_at(body, ins.offset).get(recv)
        if value is not None and value.kind == "ifield" and value.text:
            owner = java_name(value.text.partition("->")[0])
            if self._is_helper(owner):
                return self._helper_names(owner)
        made = _producer(body, ins.offset, recv)
        if made is not None and made.ref:
            owner, _, method = made.ref.partition("->")
            if method.startswith(_HANDLES) and self._is_helper(java_name(owner)):
                return self._helper_names(java_name(owner))
            if method.startswith(_OPENS):
                return _string_arguments(body, made)
        return self._helper_names(node.class_name) if self._is_helper(node.class_name) else ()

    def _is_helper(self, cls: str) -> bool:
        return cls in self.graph.app_classes and _HELPER in self.graph.ancestors(cls)

    def _helper_names(self, cls: str) -> tuple[str, ...]:
        """The names ``cls``'s constructors give the framework's ``SQLiteOpenHelper`` constructor."""
        known = self._helpers.get(cls)
        if known is None:
            names: list[str] = []
            code = self.graph.code
            for method in code.methods_of(cls):
                init = code.method_code(cls, method) if method.startswith("<init>(") else None
                if init is not None:
                    calls = (c for c in init.insns if c.ref and c.ref.startswith(_HELPER_INIT))
                    names.extend(n for c in calls for n in _string_arguments(init, c))
            known = self._helpers[cls] = tuple(dict.fromkeys(names))
        return known


def read_names(body: MethodCode, ins: Insn) -> tuple[str, ...]:
    """The database file names the file read ``ins`` (a ``FileInputStream``/``FileReader``/
    ``RandomAccessFile`` constructor) may read: none when its path names no ``databases/`` directory."""
    if not ins.ref:
        return ()
    _recv, params = argument_registers(ins)
    kinds = split_params(ins.ref[ins.ref.find("(") :])
    regs = [r for r, k in zip(params, kinds, strict=False) if k in (_FILE, _STRING) and r >= 0]
    return _names_in(body, ins.offset, regs[0], 2) if regs else ()


def _names_in(body: MethodCode, offset: int, reg: int, depth: int) -> tuple[str, ...]:
    """The database names the path (a File or a String) in ``reg`` at ``offset`` names."""
    made = _producer(body, offset, reg)
    if made is not None and made.ref:
        method = made.ref.partition("->")[2]
        if method == _DATABASE_PATH:
            return _string_arguments(body, made)
        if made.ref.startswith(_SB + "toString("):
            return _after_directory(body, _builder_parts(body, made))
        if made.ref.startswith(_FILE) and method.startswith(_PATH_OF) and made.regs and depth > 0:
            return _names_in(body, made.offset, made.regs[0], depth - 1)  # file.getPath(): the file's path
        return ()
    init = file_init(body, offset, reg)
    if init is None or not init.ref:
        return _after_directory(body, [(offset, reg)])
    _recv, params = argument_registers(init)
    kinds = split_params(init.ref[init.ref.find("(") :])
    strings = [r for r, k in zip(params, kinds, strict=False) if k == _STRING]
    return _names_in(body, init.offset, strings[-1], depth) if strings and depth > 0 else ()


def _after_directory(body: MethodCode, parts: list[tuple[int, int]]) -> tuple[str, ...]:
    """The names that follow ``databases/`` in a path made of ``parts`` ((offset, register), in order)."""
    for k, (off, reg) in enumerate(parts):
        value = values_at(body, off).get(reg)
        text = value.text if value is not None and value.kind == "string" else None
        if text is None or _DIR not in text:
            continue
        rest = text.split(_DIR, 1)[1].strip("/")
        if rest:
            return (rest,)
        return _constants(body, *parts[k + 1]) if k + 1 < len(parts) else ()
    return ()


def _constants(body: MethodCode, offset: int, reg: int) -> tuple[str, ...]:
    """The string ``reg`` holds at ``offset``: its constant, else every non-empty string constant the
    method assigns to ``reg`` (a name chosen on a branch), at most :data:`MAX_NAMES`."""
    value = values_at(body, offset).get(reg)
    if value is not None and value.kind == "string" and value.text:
        return (value.text,)
    found = tuple(
        dict.fromkeys(i.ref for i in body.insns if i.op.startswith("const-string") and i.regs[:1] == (reg,) and i.ref)
    )
    return found if len(found) <= MAX_NAMES else ()


def _string_arguments(body: MethodCode, call: Insn) -> tuple[str, ...]:
    """The constant value of the first String argument of ``call`` (a path: its last component)."""
    assert call.ref is not None
    _recv, params = argument_registers(call)
    kinds = split_params(call.ref[call.ref.find("(") :])
    regs = [r for r, k in zip(params, kinds, strict=False) if k == _STRING]
    if not regs:
        return ()
    value = values_at(body, call.offset).get(regs[0])
    return (value.text.rstrip("/").rsplit("/", 1)[-1],) if value and value.kind == "string" and value.text else ()


def _producer(body: MethodCode, offset: int, reg: int) -> Insn | None:
    """The call whose result ``reg`` holds at ``offset`` (its last definition is a ``move-result``)."""
    insns = body.insns
    for k in range(len(insns) - 1, 0, -1):
        ins = insns[k]
        if ins.offset >= offset or not ins.regs or ins.regs[0] != reg or ins.op.startswith(USES_FIRST):
            continue
        before = insns[k - 1]
        return before if ins.op.startswith("move-result") and before.op.startswith("invoke") else None
    return None


def _builder_parts(body: MethodCode, to_string: Insn) -> list[tuple[int, int]]:
    """(offset, register) of each part of the ``StringBuilder`` ``to_string`` is called on, in order,
    following the builder through the registers its ``append`` results are moved to."""
    builders: dict[int, int] = {}
    parts: dict[int, list[tuple[int, int]]] = {}
    pending: int | None = None
    for ins in body.insns:
        if ins.offset >= to_string.offset:
            break
        if ins.op.startswith("move-result") and ins.regs:
            if pending is not None:
                builders[ins.regs[0]] = pending
            else:
                builders.pop(ins.regs[0], None)
            pending = None
            continue
        pending = None
        ref = ins.ref or ""
        if ins.op == "new-instance" and ref == "Ljava/lang/StringBuilder;":
            builders[ins.regs[0]] = ins.offset
            parts[ins.offset] = []
        elif ref.startswith((_SB + "append(", _SB + "<init>(L")) and ins.regs and ins.regs[0] in builders:
            if len(ins.regs) > 1:
                parts[builders[ins.regs[0]]].append((ins.offset, ins.regs[1]))
            pending = builders[ins.regs[0]] if "append(" in ref else None
        elif ins.regs and not ins.op.startswith(USES_FIRST):
            builders.pop(ins.regs[0], None)
    owner = builders.get(to_string.regs[0]) if to_string.regs else None
    return parts.get(owner, []) if owner is not None else []
