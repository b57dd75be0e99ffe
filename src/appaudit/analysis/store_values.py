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
  (``getExternalStorageDirectory().getPath() + "/Android/" + this.tarFile``): its file name;
- a value read under an extra or preference key ``K`` (:mod:`.store_keys`): what is put under ``K``,
  and the named symbol ``extra:K`` / ``pref:K``, a name two sites share when both take theirs from
  ``K`` whatever it holds; an accessor is seen through (no hop), an element of ``s.split(sep)`` is a
  piece of ``s``.

A store whose name has several values (a helper called with each provider's file, when the data did
not come through one of its callers) is matched to a read of any of them; an empty name is none.

Bounded: :data:`NAME_DEPTH` hops (caller, field writer), :data:`MAX_SITES` callers or writers (with more,
which one passes the name is not known: unresolved), :data:`MAX_NAMES` names per site; results are
cached per parameter and field for the scan. A value that is not resolved stays unresolved: it gives
no name, and a site with no name resolved is matched as today (by kind alone, when few).

An app method's return value is resolved with its parameters bound to the call site's arguments (a
preference getter ``get(prefs, key)`` called with each key), unless it takes none (then cached).

Limits: callers and returned values are found by the exact method reference (not through an override
or an interface); a static field inside a built string is not resolved, nor a name read under a key
built at run time (and without ``keyed`` stores, as for provider URIs, none read under a key); the
branch a value is assigned on is not followed (the last assignment in code order wins, as in
:mod:`.registers`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

from appaudit import deadline
from appaudit.analysis.registers import Value, argument_registers, defines_register, values_at
from appaudit.analysis.store_keys import SYMBOL, KeyedSources, accessor_field, is_symbol, symbol
from appaudit.analysis.store_names import built_name, built_sources, normalised
from appaudit.apk.dex.types import CodeHit, CodeIndex, Insn, MethodCode
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
#: What a parameter holds where a call's return value is resolved for one call site (its arguments).
_Bound = Callable[[int], tuple[Parts, ...]] | None
_SPLIT = "Ljava/lang/String;->split("
_STRING = "Ljava/lang/String;"
#: App methods whose return value can be a store's name.
_RETURNS = (")Ljava/lang/String;", ")Ljava/io/File;")


class NameResolver:
    """Names of stores and reads that come from callers or instance fields, for one scan (cached)."""

    def __init__(self, code: CodeIndex, depth: int = NAME_DEPTH, keyed: Mapping[str, StoreSpec] | None = None) -> None:
        self.code = code
        self.keys = KeyedSources(code, keyed) if keyed else None
        """Extra and preference puts by key; None: names read under a key are not resolved (URIs)."""
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
            if any(is_symbol(p) for p in known):
                name = _symbol_name(spec, parts)
            elif len(known) == len(parts):
                name = normalised(spec, "".join(known))
            else:
                name = built_name(spec, list(parts))
            if name and name not in out:  # an empty name is no name (a default, an error path's "")
                out.append(name)
        return tuple(out[:MAX_NAMES])

    def parameter_texts(self, body: MethodCode, index: int) -> tuple[str | None, ...]:
        """Every distinct text ``body``'s parameter ``index`` may hold by what its callers pass (None:
        a caller's value not known, or the callers not known); a provider URI built from a parameter
        (:mod:`.uri_params`) uses it."""
        found = self._cached(("param", f"{body.class_name}\0{body.method}\0{index}", self.depth))
        texts = [
            "".join(p for p in parts if p is not None) if None not in parts and not _has_symbol(parts) else None
            for parts in found
        ]
        return tuple(dict.fromkeys(texts))

    def _texts(
        self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path, bound: _Bound = None
    ) -> tuple[Parts, ...]:
        """The possible values of ``reg`` at ``offset``, each as parts (``bound``: what the parameters
        hold, where a call's return value is resolved for one call site)."""
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
            return self._built(body, offset, reg, depth, path, bound)
        if value.kind == "new" and value.text == "Ljava/io/File;":
            return self._file(body, offset, reg, depth, path, bound)
        if value.kind == "param" and value.text is not None and bound is not None:
            return bound(int(value.text))
        if value.kind == "param" and value.text is not None and depth > 0:
            return self._param(body, int(value.text), depth, path)
        if value.kind == "ifield" and value.text and value.text.endswith(_NAME_FIELDS) and depth > 0:
            return self._cached(("ifield", value.text, depth))
        made = _producer(body, offset, reg) if value.kind in ("call", "unknown") else None
        if made is not None and (made.op == "aget-object" or (value.kind == "call" and made.ref is not None)):
            return self._made(body, made, depth, path, bound)
        return _UNKNOWN

    def _made(self, body: MethodCode, ins: Insn, depth: int, path: _Path, bound: _Bound) -> tuple[Parts, ...]:
        """What a call's result (or an element of a ``String.split`` result) holds: a value read under an
        extra or preference key, an accessor's field, an app method's return value."""
        if ins.op == "aget-object":  # an element of "a<sep>b".split(sep): one of the parts
            return self._split(body, ins, depth, path, bound)
        assert ins.ref is not None
        get = self.keys.get_of(ins) if self.keys is not None else None
        if get is not None:
            return self._keyed(body, ins.offset, get.kind, get.key_reg, get.default_reg, (depth, path, bound))
        owner, _, method = ins.ref.partition("->")
        callee = self.code.method_code(java_name(owner), method) if ins.op.startswith("invoke-static") else None
        seen = accessor_field(callee) if callee is not None else None
        if seen is not None and seen[0] == "get" and seen[1].endswith(_NAME_FIELDS):  # seen through: no hop
            return self._cached(("ifield", seen[1], depth)) if depth > 0 else _UNKNOWN
        if not ins.ref.endswith(_RETURNS) or depth <= 0:
            return _UNKNOWN
        if callee is None:
            callee = self.code.method_code(java_name(owner), method)
        if callee is None or not callee.param_types:
            return self._cached(("call", ins.ref, depth))
        args = argument_registers(ins)[1]

        def at_site(index: int) -> tuple[Parts, ...]:
            ok = index < len(args) and args[index] >= 0
            return self._texts(body, ins.offset, args[index], depth, path, bound) if ok else _UNKNOWN

        return self._returns(callee, depth - 1, at_site)

    def _keyed(
        self, body: MethodCode, offset: int, kind: str, key_reg: int, default: int | None, ctx: _Ctx
    ) -> tuple[Parts, ...]:
        """A value read under a key: for each constant key ``K``, every value put under ``K`` (resolved
        once per key, with its own :data:`NAME_DEPTH` hops) and the symbol ``kind:K``, and a
        preference's default."""
        depth, path, bound = ctx
        out: list[Parts] = []
        for parts in self._texts(body, offset, key_reg, depth, path, bound):
            if None in parts or _has_symbol(parts):
                continue
            key = "".join(p for p in parts if p is not None)
            # the values first (a hop is named by the first name both sides share: the most precise)
            out += [v for v in self._cached((kind, key, self.depth)) if None not in v]
            out.append((symbol(kind, key),))
        if default is not None and out:
            out += [v for v in self._texts(body, offset, default, depth, path, bound) if None not in v]
        return _distinct(out)

    def _split(self, body: MethodCode, ins: Insn, depth: int, path: _Path, bound: _Bound) -> tuple[Parts, ...]:
        """An element of ``s.split(sep)``: each piece of ``s``'s known values, ``s``'s symbols as they are."""
        made = _producer(body, ins.offset, ins.regs[1]) if len(ins.regs) > 1 else None
        if made is None or not (made.ref or "").startswith(_SPLIT) or len(made.regs) < 2:
            return _UNKNOWN
        seps = self._texts(body, made.offset, made.regs[1], depth, path, bound)
        sep = seps[0][0] if len(seps) == 1 and len(seps[0]) == 1 else None
        out: list[Parts] = []
        for parts in self._texts(body, made.offset, made.regs[0], depth, path, bound):
            if _has_symbol(parts) or None in parts:
                out.append(parts)
            elif sep and not any(c in sep for c in _REGEX):
                out += [(piece,) for piece in "".join(p for p in parts if p is not None).split(sep)]
            else:
                out.append((None,))
        return _distinct(out)

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

    def _built(
        self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path, bound: _Bound
    ) -> tuple[Parts, ...]:
        """A string built in a ``StringBuilder``: every combination of its parts' values."""
        sources = built_sources(body, offset, reg)
        if not sources:
            return _UNKNOWN
        each = [self._texts(body, off, part, depth, path, bound) for off, part in sources]
        combos = itertools.islice(itertools.product(*each), MAX_NAMES + 1)
        out = tuple(tuple(p for parts in combo for p in parts) for combo in combos)
        return out if len(out) <= MAX_NAMES else _UNKNOWN

    def _file(
        self, body: MethodCode, offset: int, reg: int, depth: int, path: _Path, bound: _Bound
    ) -> tuple[Parts, ...]:
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
        return self._texts(body, init.offset, strings[-1], depth, path, bound) if strings else _UNKNOWN

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
            if kind in ("extra", "pref"):
                found = self._from_puts(kind, ref, depth - 1)
            else:
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
        """What an app method without parameters returns (an accessor of a field, a helper building a
        path)."""
        owner, _, method = ref.partition("->")
        body = self.code.method_code(java_name(owner), method)
        return self._returns(body, depth, None) if body is not None else _UNKNOWN

    def _returns(self, body: MethodCode, depth: int, bound: _Bound) -> tuple[Parts, ...]:
        """Every value ``body`` returns, its parameters holding what ``bound`` says (the arguments of
        the call site asking; None: what all its callers pass); unknown when one return is not known."""
        returns = [i for i in body.insns if i.op == "return-object" and i.regs]
        out: list[Parts] = []
        for ret in returns if len(returns) <= MAX_SITES else ():
            found = self._texts(body, ret.offset, ret.regs[0], depth, frozenset(), bound)
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
            if body is None or insn is None or not insn.regs:
                continue
            seen = accessor_field(body)
            if seen is not None and seen[0] == "set":  # a setter accessor, seen through: what its callers pass
                out += self._from_sites(self._callers(body), seen[2], depth, frozenset())
            else:
                out += self._texts(body, write.offset, insn.regs[0], depth, frozenset())
        return _distinct(out)

    def _from_puts(self, kind: str, key: str, depth: int) -> tuple[Parts, ...]:
        """What is put under an extra or preference ``key`` (``kind`` ``extra`` or ``pref``): the known values
        of at most :data:`MAX_SITES` puts (with more, none: the key's symbol alone names it)."""
        puts = self.keys.puts(kind, key) if self.keys is not None else []
        out: list[Parts] = []
        for put in puts if len(puts) <= MAX_SITES else ():
            out += [v for v in self._texts(put.body, put.offset, put.value_reg, depth, frozenset()) if None not in v]
        return tuple(dict.fromkeys(out))[:MAX_NAMES]


#: Characters that make a ``split`` separator a regular expression (its pieces are then not computed).
_REGEX = frozenset(".$|()[]{}^?*+\\")
_Ctx = tuple[int, _Path, _Bound]


def _has_symbol(parts: Parts) -> bool:
    return any(is_symbol(p) for p in parts)


def _symbol_name(spec: StoreSpec, parts: Parts) -> str | None:
    """The name of a value holding a named symbol: the symbol (``pref:K``) when it is the whole value,
    or, for a file, the last part of a path built on it (``dir + "/" + path``)."""
    last = parts[-1] if parts else None
    if not is_symbol(last) or (len(parts) > 1 and spec.kind != "file"):
        return None
    assert last is not None
    return last.removeprefix(SYMBOL)


def _producer(body: MethodCode, offset: int, reg: int) -> Insn | None:
    """The instruction whose result ``reg`` holds at ``offset``: an invoke (through its ``move-result``)
    or an ``aget-object``; None for any other or when none is found."""
    insns = body.insns
    for k in range(len(insns) - 1, -1, -1):
        ins = insns[k]
        if ins.offset >= offset or not ins.regs or ins.regs[0] != reg or not defines_register(ins):
            continue
        if ins.op.startswith("move-result") and k > 0 and insns[k - 1].op.startswith("invoke"):
            return insns[k - 1]
        return ins if ins.op == "aget-object" else None
    return None


def _distinct(values: list[Parts]) -> tuple[Parts, ...]:
    """``values`` without repeats, in order found; unknown when there are none or too many."""
    out = tuple(dict.fromkeys(values))
    return out if 0 < len(out) <= MAX_NAMES else _UNKNOWN
