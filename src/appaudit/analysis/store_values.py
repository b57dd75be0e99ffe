"""Store names from elsewhere: a table, key or file name that is a method's parameter or an instance field.

:mod:`.store_names` resolves a name inside the method that stores or reads it. Harvesters often pass
the name in: a helper ``append(String data, String path)`` called with each provider's file, an
uploader ``upload(String path)``, a ``SQLiteOpenHelper`` subclass whose table is ``this.table``
(set in its constructor), an upload thread whose file is ``this.tarFile`` (set by ``setTar``). This
module looks there, for :class:`.stores.StoreIndex`:

- a parameter: the arguments its method's callers pass (each caller, each distinct value);
- an instance field (``String`` or ``File``): the values its writers store (constructors, setters, any
  method: each writer, each distinct value);
- an app method's return value (a synthetic accessor ``access$000(outer)`` returning a field, a helper
  building a path): each of its returns, all of which must be known (a decoder's computed result is
  not, so none of its constant defaults is taken);
- a ``File`` made from one of these, and a path built in a ``StringBuilder`` from them and constants
  (``getExternalStorageDirectory().getPath() + "/Android/" + this.tarFile``): its file name.

A store whose name has several values (a helper called with each provider's file, when the data did
not come through one of its callers) is matched to a read of any of them; an empty name is none.

Bounded: :data:`NAME_DEPTH` hops (caller, field writer), :data:`MAX_SITES` callers or writers (with more,
which one passes the name is not known: unresolved), :data:`MAX_NAMES` names per site; results are
cached per parameter and field for the scan. A value that is not resolved stays unresolved: it gives
no name, and a site with no name resolved is matched as today (by kind alone, when few).

Limits: callers and returned values are found by the exact method reference (not through an override
or an interface); a static field inside a built string and a name read from preferences or an Intent
extra are not resolved; the branch a value is assigned on is not followed (the last
assignment in code order wins, as in :mod:`.registers`).
"""

from __future__ import annotations

import itertools

from appaudit import deadline
from appaudit.analysis.registers import Value, argument_registers, values_at
from appaudit.analysis.store_names import built_name, built_sources, normalised
from appaudit.apk.dex.types import CodeHit, CodeIndex, MethodCode
from appaudit.descriptors import java_desc, java_name, split_params
from appaudit.model import MethodId
from appaudit.ruleset.flows import StoreSpec

#: How many hops (a caller's argument, an instance field's writer) a store's name is followed.
NAME_DEPTH = 3
#: At most this many callers of a method or writers of a field: with more, the name stays unresolved.
MAX_SITES = 8
#: At most this many names per store or read site (a helper called with each provider's file).
MAX_NAMES = 8

#: One possible value of a string, as parts (None: a part not known, such as a storage directory).
Parts = tuple[str | None, ...]
_UNKNOWN: tuple[Parts, ...] = ((None,),)
#: Instance fields that can hold a store's name.
_NAME_FIELDS = (":Ljava/lang/String;", ":Ljava/io/File;")
_FILE_INIT = "Ljava/io/File;-><init>("
_Path = frozenset[MethodId]
_STRING = "Ljava/lang/String;"
#: App methods whose return value can be a store's name.
_RETURNS = (")Ljava/lang/String;", ")Ljava/io/File;")


class NameResolver:
    """Names of stores and reads that come from callers or instance fields, for one scan (cached)."""

    def __init__(self, code: CodeIndex, depth: int = NAME_DEPTH) -> None:
        self.code = code
        self.depth = depth
        self._cache: dict[tuple[str, str, int], tuple[Parts, ...]] = {}
        self._active: set[tuple[str, str, int]] = set()
        self._envs: dict[tuple[str, str, int], dict[int, Value]] = {}

    def names(
        self, spec: StoreSpec, body: MethodCode, offset: int, reg: int, path: frozenset[MethodId] = frozenset()
    ) -> tuple[str, ...]:
        """Every distinct name the register may hold at ``offset`` by what callers pass and fields hold,
        in the order found; empty when none is resolved.

        ``path`` are the methods the data came through: a parameter of a method that some of them call
        takes only the arguments those calls pass (the data went to ``copy(a, b)`` from one caller, not
        from every caller of ``copy``)."""
        out: list[str] = []
        for parts in self._texts(body, offset, reg, self.depth, path):
            known = [p for p in parts if p is not None]
            name = normalised(spec, "".join(known)) if len(known) == len(parts) else built_name(spec, list(parts))
            if name and name not in out:  # an empty name is no name (a default, an error path's "")
                out.append(name)
        return tuple(out[:MAX_NAMES])

    def _texts(self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path) -> tuple[Parts, ...]:
        """The possible values of ``reg`` at ``offset``, each as parts."""
        key = (body.class_name, body.method, offset)
        env = self._envs.get(key)
        if env is None:  # the parts of one built string, and the sites of one field, ask at the same place
            env = self._envs[key] = values_at(body, offset)
        value = env.get(reg)
        if value is None:
            return _UNKNOWN
        if value.kind == "string" and value.text is not None:
            return ((value.text,),)
        if value.kind == "string":
            return self._built(body, offset, reg, depth, path)
        if value.kind == "new" and value.text == "Ljava/io/File;":
            return self._file(body, offset, reg, depth, path)
        if value.kind == "param" and value.text is not None and depth > 0:
            return self._param(body, int(value.text), depth, path)
        if value.kind == "ifield" and value.text and value.text.endswith(_NAME_FIELDS) and depth > 0:
            return self._cached(("ifield", value.text, depth))
        if value.kind == "call" and value.text and value.text.endswith(_RETURNS) and depth > 0:
            return self._cached(("call", value.text, depth))
        return _UNKNOWN

    def _param(self, body: MethodCode, index: int, depth: int, path: _Path) -> tuple[Parts, ...]:
        """What a parameter holds: what the callers on ``path`` pass, else what every caller passes."""
        ref = f"{body.class_name}\0{body.method}\0{index}"
        if path:
            sites = [s for s in self._callers(body) if MethodId(class_name=s.class_name, method=s.method) in path]
            if sites:
                return self._from_sites(sites, index, depth - 1, path)
        return self._cached(("param", ref, depth))

    def _callers(self, body: MethodCode) -> list[CodeHit]:
        """The call sites of ``body``'s method (more than :data:`MAX_SITES`: none, the name is not known)."""
        sites = self.code.callers(java_desc(body.class_name), body.method, limit=MAX_SITES + 1)
        return sites if len(sites) <= MAX_SITES else []

    def _built(self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path) -> tuple[Parts, ...]:
        """A string built in a ``StringBuilder``: every combination of its parts' values."""
        sources = built_sources(body, offset, reg)
        if not sources:
            return _UNKNOWN
        each = [self._texts(body, off, part, depth, path) for off, part in sources]
        combos = itertools.islice(itertools.product(*each), MAX_NAMES + 1)
        out = tuple(tuple(p for parts in combo for p in parts) for combo in combos)
        return out if len(out) <= MAX_NAMES else _UNKNOWN

    def _file(self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path) -> tuple[Parts, ...]:
        """A ``File`` made in this method: its constructor's last ``String`` argument (the name)."""
        init = None
        for ins in body.insns:
            if ins.offset >= offset:
                break
            if ins.ref and ins.ref.startswith(_FILE_INIT) and ins.regs and ins.regs[0] == reg:
                init = ins
        if init is None or init.ref is None:
            return _UNKNOWN
        _recv, params = argument_registers(init)
        kinds = split_params(init.ref[init.ref.find("(") :])
        strings = [r for r, k in zip(params, kinds, strict=False) if k == _STRING and r >= 0]
        return self._texts(body, init.offset, strings[-1], depth, path) if strings else _UNKNOWN

    def _cached(self, key: tuple[str, str, int]) -> tuple[Parts, ...]:
        found = self._cache.get(key)
        if found is not None:
            return found
        if key in self._active:  # a cycle (a setter calling itself through its callers): not resolved
            return _UNKNOWN
        deadline.check()  # each hop decodes and walks other methods: within the scan's time cap
        self._active.add(key)
        try:
            kind, ref, depth = key
            find = {"param": self._from_callers, "ifield": self._from_writers, "call": self._returned}[kind]
            found = find(ref, depth - 1)
        finally:
            self._active.discard(key)
        self._cache[key] = found
        return found

    def _from_callers(self, ref: str, depth: int) -> tuple[Parts, ...]:
        """What the callers of a method pass as its parameter (``ref``: class, method, parameter index)."""
        cls, method, index = ref.split("\0")
        body = self.code.method_code(cls, method)
        return self._from_sites(self._callers(body), int(index), depth, frozenset()) if body else _UNKNOWN

    def _from_sites(self, sites: list[CodeHit], index: int, depth: int, path: _Path) -> tuple[Parts, ...]:
        """What the call ``sites`` pass as parameter ``index``."""
        out: list[Parts] = []
        for site in sites:
            caller = self.code.method_code(site.class_name, site.method)
            insn = next((i for i in caller.insns if i.offset == site.offset), None) if caller else None
            if caller is None or insn is None or insn.ref is None:
                continue
            regs = argument_registers(insn)[1]
            if index < len(regs) and regs[index] >= 0:
                out += self._texts(caller, site.offset, regs[index], depth, path)
        return _distinct(out)

    def _returned(self, ref: str, depth: int) -> tuple[Parts, ...]:
        """What an app method returns (an accessor of a field, a helper building a path); its parameters
        take what all its callers pass."""
        owner, _, method = ref.partition("->")
        body = self.code.method_code(java_name(owner), method)
        if body is None:
            return _UNKNOWN
        returns = [i for i in body.insns if i.op == "return-object" and i.regs]
        out: list[Parts] = []
        for ret in returns if len(returns) <= MAX_SITES else ():
            found = self._texts(body, ret.offset, ret.regs[0], depth, frozenset())
            if any(None in parts for parts in found):  # a return not known (a decoder's result): all unknown
                return _UNKNOWN
            out += found
        return _distinct(out)

    def _from_writers(self, field: str, depth: int) -> tuple[Parts, ...]:
        """What the writers of an instance field store in it."""
        writes = self.code.instance_writes(field)
        out: list[Parts] = []
        for write in writes if 0 < len(writes) <= MAX_SITES else ():
            body = self.code.method_code(write.class_name, write.method)
            insn = next((i for i in body.insns if i.offset == write.offset), None) if body else None
            if body is not None and insn is not None and insn.regs:
                out += self._texts(body, write.offset, insn.regs[0], depth, frozenset())
        return _distinct(out)


def _distinct(values: list[Parts]) -> tuple[Parts, ...]:
    """``values`` without repeats, in order found; unknown when there are none or too many."""
    out = tuple(dict.fromkeys(values))
    return out if 0 < len(out) <= MAX_NAMES else _UNKNOWN
