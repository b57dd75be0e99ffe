"""Values from elsewhere: the string or URI a field, an app method or a string resource holds.

Register tracking (:mod:`.registers`) sees one method. What a query's URI or an
upload's URL was made of often lives elsewhere, and this module looks there:

- a static field of the app (``sget``): the values its writers (``sput``, in
  its own class's ``<clinit>`` or any other method) store — ``static_field``;
- an instance field (``iget``): the values stored by its writers, all of which
  must be constructors (``iput`` in ``<init>``); a constructor's parameter is
  followed to the ``new`` sites that call it — ``instance_field``;
- an app method's return value: the values of its ``return-object``
  instructions, with the caller's arguments in its parameters — ``helper``;
- ``Context.getString(int)`` / ``Resources.getString(int)`` (or ``getText``)
  with a constant id: the string in ``resources.arsc`` (default configuration),
  looked up through :meth:`CodeIndex.string_resource` — ``resource``.

Each found value may itself be made of such parts (``StringBuilder``,
``String.concat``, ``Uri.parse`` of them). Bounded: :data:`VALUE_DEPTH` hops,
:data:`MAX_SITES` writers or returns per field or method, one cache per scan; a
cycle or a part that cannot be resolved leaves the value unresolved, never guessed.
Limits: a virtual call is resolved in the method the reference names (or the
nearest superclass defining it), not in overrides; interface calls are not
resolved; an instance field written by any method other than a constructor is
not resolved; several possible values of one part leave a concatenation of it
unresolved (a query's URI itself may take each of them).
"""

from __future__ import annotations

from appaudit.analysis.facts import ResolvedBy
from appaudit.analysis.registers import RESOLVABLE, Resolve, Value, argument_registers, values_at
from appaudit.apk.dex.types import CodeHit, CodeIndex, MethodCode
from appaudit.descriptors import java_desc, java_name

#: How many hops (field writer, callee, constructor call site) a value is followed.
VALUE_DEPTH = 3
#: At most this many writers of a field, returns of a method or constructor calls are examined.
MAX_SITES = 8
#: How many superclasses are walked to find an inherited helper or whether a class is a Context.
MAX_SUPERCLASSES = 6

#: Framework classes whose ``getString(int)`` reads a string resource.
CONTEXT_CLASSES = frozenset(
    {
        "android.content.Context",
        "android.content.ContextWrapper",
        "android.view.ContextThemeWrapper",
        "android.app.Activity",
        "android.app.Application",
        "android.app.Service",
        "android.app.Fragment",
        "android.content.res.Resources",
        "android.support.v4.app.Fragment",
        "android.support.v4.app.FragmentActivity",
        "android.support.v7.app.AppCompatActivity",
        "androidx.fragment.app.Fragment",
        "androidx.fragment.app.FragmentActivity",
        "androidx.appcompat.app.AppCompatActivity",
        "androidx.activity.ComponentActivity",
        "androidx.core.app.ComponentActivity",
    }
)
_RESOURCE_METHODS = frozenset({"getString(I)Ljava/lang/String;", "getText(I)Ljava/lang/CharSequence;"})
_TEXT_TYPES = ("Ljava/lang/String;", "Ljava/lang/CharSequence;", "Landroid/net/Uri;")
_FIELD_TYPES = tuple(":" + t for t in _TEXT_TYPES)
_Key = tuple[Value, int]


class ValueResolver:
    """What fields, app methods and string resources hold, for one scan (results cached)."""

    def __init__(self, code: CodeIndex, depth: int = VALUE_DEPTH) -> None:
        self.code = code
        self.depth = depth
        self._cache: dict[_Key, tuple[Value, ...]] = {}
        self._active: set[_Key] = set()
        self._classes: frozenset[str] | None = None
        self._field_writes: dict[tuple[str, str], list[CodeHit]] = {}

    def callback(self, depth: int | None = None) -> Resolve | None:
        """A ``resolve`` callback for :func:`values_at` with ``depth`` hops left (None: none left)."""
        left = self.depth if depth is None else depth
        if left <= 0:
            return None
        return lambda value: self.one(value, left)

    def one(self, value: Value, depth: int | None = None) -> Value | None:
        """The one value ``value`` holds; None when unknown or when it may hold several."""
        found = self.all(value, depth)
        return found[0] if len(found) == 1 else None

    def all(self, value: Value, depth: int | None = None) -> tuple[Value, ...]:
        """Each distinct string or URI ``value`` (a ``field``, ``ifield`` or ``call``) may hold,
        with ``how`` saying where it came from; an SDK URI constant stored in an app field is a
        ``field`` value. Empty when nothing is known."""
        left = self.depth if depth is None else depth
        key = (value, left)
        if key in self._cache:
            return self._cache[key]
        if left <= 0 or value.kind not in RESOLVABLE or not value.text or key in self._active:
            return ()
        self._active.add(key)
        try:
            found = self._find(value, left)
        finally:
            self._active.discard(key)
        self._cache[key] = found
        return found

    def _find(self, value: Value, depth: int) -> tuple[Value, ...]:
        assert value.text is not None
        if value.kind == "call":
            return self._returned(value, depth)
        if not value.text.endswith(_FIELD_TYPES) or not self._is_app(value.text):
            return ()  # only a String, CharSequence or Uri field of the app can hold a URI or URL text
        writes = self._writes(value)
        if value.kind == "field":
            return self._stored(writes[:MAX_SITES], depth, "static_field")
        if not writes or any(not w.method.startswith("<init>(") for w in writes):
            return ()  # a field a method may change later may hold anything at the read
        return self._stored(writes[:MAX_SITES], depth, "instance_field")

    def _writes(self, field: Value) -> list[CodeHit]:
        """The ``sput``/``iput`` sites of a field (each field searched for once per scan)."""
        assert field.text is not None
        key = (field.kind, field.text)
        if key not in self._field_writes:
            find = self.code.static_writes if field.kind == "field" else self.code.instance_writes
            self._field_writes[key] = find(field.text)
        return self._field_writes[key]

    def _is_app(self, ref: str) -> bool:
        if self._classes is None:
            self._classes = self.code.defined_classes()
        return java_name(ref.split("->", 1)[0]) in self._classes

    def _stored(self, writes: list[CodeHit], depth: int, how: str) -> tuple[Value, ...]:
        """The values the ``sput``/``iput`` sites store (their first register)."""
        out: list[Value] = []
        for write in writes:
            body = self.code.method_code(write.class_name, write.method)
            insn = next((i for i in body.insns if i.offset == write.offset), None) if body else None
            if body is None or insn is None or not insn.regs:
                continue
            stored = values_at(body, write.offset, resolve=self.callback(depth - 1)).get(insn.regs[0])
            if stored is not None and stored.kind == "param" and stored.text is not None:
                out += self._from_callers(body, int(stored.text), depth - 1, how)
            elif stored is not None:
                out += self._settle(stored, depth - 1, how)
        return _distinct(out)

    def _from_callers(self, body: MethodCode, param: int, depth: int, how: str) -> list[Value]:
        """Values the callers of ``body`` pass as its parameter ``param`` (a constructor's, say)."""
        if depth <= 0:
            return []
        out: list[Value] = []
        for site in self.code.callers(java_desc(body.class_name), body.method, limit=MAX_SITES):
            caller = self.code.method_code(site.class_name, site.method)
            insn = next((i for i in caller.insns if i.offset == site.offset), None) if caller else None
            if caller is None or insn is None or insn.ref is None:
                continue
            _recv, regs = argument_registers(insn)
            if param < len(regs):
                arg = values_at(caller, site.offset, resolve=self.callback(depth - 1)).get(regs[param])
                out += self._settle(arg, depth - 1, how) if arg is not None else []
        return out

    def _settle(self, value: Value, depth: int, how: str) -> list[Value]:
        """``value`` as found values marked ``how``: a text as is, a field or call looked into."""
        if value.kind in ("string", "uri") and value.text:
            return [Value(value.kind, value.text, how)]
        if value.kind == "field" and value.text and not self._is_app(value.text):
            return [Value("field", value.text, how)]  # an SDK constant such as CallLog.Calls.CONTENT_URI
        return [Value(v.kind, v.text, how) for v in self.all(value, depth)]

    def _returned(self, call: Value, depth: int) -> tuple[Value, ...]:
        """What the called method returns: a string resource, or an app helper's return values."""
        assert call.text is not None
        owner, _, method = call.text.partition("->")
        if not method.endswith(_TEXT_TYPES):
            return ()
        if method in _RESOURCE_METHODS:
            resource = self._resource(java_name(owner), call.args)
            if resource is not None:
                return (resource,)
        body = self._helper_body(java_name(owner), method)
        if body is None:
            return ()
        out: list[Value] = []
        returns = [i for i in body.insns if i.op == "return-object" and i.regs][:MAX_SITES]
        for ret in returns:
            env = values_at(body, ret.offset, resolve=self.callback(depth - 1), params=call.args)
            value = env.get(ret.regs[0])
            if value is not None and not (value.kind == "int" and value.text == "0"):  # return null
                out += self._settle(value, depth - 1, "helper")
        return _distinct(out)

    def _helper_body(self, class_name: str, method: str) -> MethodCode | None:
        """The app method a call of ``class_name.method`` runs: its own, or the nearest superclass's."""
        for _ in range(MAX_SUPERCLASSES):
            body = self.code.method_code(class_name, method)
            if body is not None:
                return body
            supers = self.code.supertypes(class_name)
            if supers is None or supers[0] is None:
                return None
            class_name = supers[0]
        return None

    def _resource(self, class_name: str, args: tuple[Value, ...]) -> Value | None:
        """The string resource a ``getString(int)`` of a Context or Resources with a constant id reads."""
        if not args or args[0].kind != "int" or args[0].text is None or not self._is_context(class_name):
            return None
        text = self.code.string_resource(int(args[0].text))
        return Value("string", text, "resource") if text is not None else None

    def _is_context(self, class_name: str) -> bool:
        for _ in range(MAX_SUPERCLASSES):
            if class_name in CONTEXT_CLASSES:
                return True
            supers = self.code.supertypes(class_name)
            if supers is None or supers[0] is None:
                return False
            class_name = supers[0]
        return False


_ORIGINS: dict[str, ResolvedBy] = {
    "static_field": "static_field",
    "instance_field": "instance_field",
    "helper": "helper",
    "resource": "resource",
}


def origin(value: Value) -> ResolvedBy | None:
    """Where a value found elsewhere came from (its ``Value.how``), as a :data:`ResolvedBy`."""
    return _ORIGINS.get(value.how or "")


def _distinct(values: list[Value]) -> tuple[Value, ...]:
    """``values`` without repeats (by text), in order found."""
    seen: dict[tuple[str, str | None], Value] = {}
    for v in values:
        seen.setdefault((v.kind if v.kind == "field" else "text", v.text), v)
    return tuple(seen.values())
