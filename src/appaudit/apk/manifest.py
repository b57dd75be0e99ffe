"""Manifest facts from the binary AndroidManifest.xml, read by appaudit's own binary-XML reader.

The own reader (:mod:`~appaudit.apk.axml`) reads every manifest; androguard's
parser (``AXMLPrinter``) is imported and asked only when the own reader

* refuses the file (no element at all, or no ``<manifest>`` root), or
* notes something a well-formed file never has (``AxmlDocument.irregular``:
  the cases are listed in :mod:`~appaudit.apk.axml`) -- the only files on
  which the two can read different facts (the oracle tests,
  tests/test_manifest_oracle.py, check that on regular files they never do).

Which one counts then (README, "Hostile input"): Android's own parser is the
reference, since what the device installs is what counts. The own reader
follows it (attributes by resource id and at their declared offsets, element
namespaces ignored, strings by their length), so on a file both read in full
but differently its facts are taken, with a note; androguard's are taken when
the own reader refuses the file or stops before the end of ``<manifest>``
while androguard reads further (a file Android's parser rejects outright:
the more complete reading is the more useful one); the own reader's, with a
note, when androguard refuses it. We walk the element tree ourselves so that
every fact (components, intent filters, uses-permission-sdk-23) is read the
same way and sorted.

Limit: attribute values that are resource references (``@string/...``) are
reported as the reference; the app's label alone is resolved, through
resources.arsc (:mod:`~appaudit.apk.arsc`).
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any

from appaudit.apk.app import Component, ComponentKind, Manifest
from appaudit.apk.axml import AxmlDocument, AxmlError, parse_axml

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
#: Component element tag -> its kind.
_COMPONENT_KINDS: dict[str, ComponentKind] = {
    "activity": "activity",
    "activity-alias": "activity-alias",
    "service": "service",
    "receiver": "receiver",
    "provider": "provider",
}
_PERMISSION_TAGS = ("uses-permission", "uses-permission-sdk-23", "uses-permission-sdk-m")
MAIN = "android.intent.action.MAIN"
LAUNCHER = "android.intent.category.LAUNCHER"


class ManifestError(Exception):
    """The manifest could not be parsed at all."""


def _attr(elem: Any, name: str) -> str | None:
    value = elem.get(ANDROID_NS + name)
    if value is None:
        value = elem.get(name)
    return None if value is None else str(value)


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _qualify(name: str | None, package: str | None) -> str:
    if not name:
        return ""
    if name.startswith(".") and package:
        return package + name
    if "." not in name and package:
        return f"{package}.{name}"
    return name


def _bool_or_none(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.lower() in ("true", "1", "-1")


_UTF16_NAME = re.compile(rb"(?:[A-Za-z0-9_.]\x00){8,200}")
_PERMISSION_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.permission\.[A-Z0-9_]+")


def recover_permissions(raw: bytes) -> tuple[str, ...]:
    """Permission names found in a manifest's string pool, for a manifest no parser accepts.

    Malware corrupts binary XML in ways Android tolerates but parsers do not;
    its string pool (UTF-16LE) still names the permissions. The names may
    include permissions the app only defines or uses to guard a component, so
    the scan marks its coverage partial when it had to fall back to this.
    """
    names = {m.group().decode("utf-16-le") for m in _UTF16_NAME.finditer(raw)}
    return tuple(sorted(n for n in names if _PERMISSION_NAME.fullmatch(n)))


def parse_manifest(raw: bytes) -> Manifest:
    """Parse binary AXML into :class:`Manifest`; raise ManifestError if unreadable.

    The own reader first; androguard's parser as well only when the own
    reader refuses the file or finds it irregular (module docstring). What
    reading it took is in ``Manifest.notes``; a manifest read only in part
    also gets the permission names of its whole string pool and ``incomplete``.
    """
    doc: AxmlDocument | None = None
    try:
        doc = parse_axml(raw)
        ours = None
    except AxmlError as exc:
        ours = f"tolerant reader: {exc}"
    except Exception as exc:  # a bug in the own reader must not cost the scan (the fuzz tests look for this)
        ours = f"tolerant reader failed ({exc!r})"
    if doc is not None and not doc.irregular and doc.complete and doc.root.tag == "manifest":
        return _facts(doc.root)
    return _with_androguard(raw, doc, ours)


def _androguard_root(raw: bytes) -> tuple[Any, str | None]:
    """androguard's element tree of ``raw`` (None when it reads none) and why not; imported only here."""
    from androguard.core.axml import AXMLPrinter  # ~0.1 s to import (lxml, loguru): only irregular files pay it
    from loguru import logger

    logger.disable("androguard")  # androguard logs through loguru at DEBUG; errors reach the report instead
    try:
        printer = AXMLPrinter(raw)
        root = printer.get_xml_obj() if printer.is_valid() else None
    except Exception as exc:  # androguard raises many kinds on hostile XML
        return None, f"androguard's parser failed ({type(exc).__name__})"
    if root is None:
        return None, "androguard found no document"
    if root.tag != "manifest":
        return None, "androguard read no <manifest> root element"
    return root, None


def _with_androguard(raw: bytes, doc: AxmlDocument | None, ours: str | None) -> Manifest:
    """The facts of a file the own reader refused (``ours`` says why) or found irregular, androguard asked too."""
    root, problem = _androguard_root(raw)
    own_root = doc is not None and doc.root.tag == "manifest"
    if root is not None:
        theirs = _facts(root)
        if doc is None or not own_root or not doc.complete:
            return theirs
        mine = _facts(doc.root)
        if mine == theirs:
            return theirs
        differ = ", ".join(f.name for f in fields(Manifest) if getattr(mine, f.name) != getattr(theirs, f.name))
        note = (
            f"androguard's parser reads this irregular binary XML ({doc.irregular[0]}) differently ({differ}); "
            "read with the tolerant binary-XML reader, which reads it as Android does"
        )
        return replace(mine, notes=(note,))
    if doc is None:
        raise ManifestError(f"binary XML could not be parsed: {problem}; {ours}")
    if not own_root:
        raise ManifestError(f"binary XML has no <manifest> root element ({problem}; tolerant reader neither)")
    facts = _facts(doc.root)
    notes = (f"{problem}; read with the tolerant binary-XML reader",)
    if doc.complete:
        return replace(facts, notes=notes)
    recovered = recover_permissions(raw)
    return replace(
        facts,
        permissions=tuple(sorted(set(facts.permissions) | set(recovered))),
        notes=(*notes, "the file ends before its <manifest> element does; permission names of its string pool added"),
        incomplete=True,
    )


def _local(tag: object) -> str:
    """An element's local name: Android's parser ignores an element's namespace
    (``<android:uses-permission>`` is a uses-permission), and so do we."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _named(elem: Any, *names: str) -> list[Any]:
    """Every element under ``elem`` (itself included) whose local name is one of ``names``."""
    return [e for e in elem.iter() if _local(e.tag) in names]


def _facts(root: Any) -> Manifest:
    """The :class:`Manifest` of a <manifest> element (ElementTree from ``axml``, or lxml from androguard)."""

    package = root.get("package")
    permissions: set[str] = set()
    for elem in _named(root, *_PERMISSION_TAGS):
        name = _attr(elem, "name")
        if name:
            permissions.add(name)

    min_sdk = target_sdk = None
    for elem in _named(root, "uses-sdk"):
        min_sdk = _int_or_none(_attr(elem, "minSdkVersion"))
        target_sdk = _int_or_none(_attr(elem, "targetSdkVersion"))
        break

    app_elems = _named(root, "application")
    label = _attr(app_elems[0], "label") if app_elems else None
    application_class = None
    components: list[Component] = []
    if app_elems:
        app = app_elems[0]
        app_name = _attr(app, "name")
        application_class = _qualify(app_name, package) if app_name else None
        components.extend(_component(elem, package) for elem in app if _local(elem.tag) in _COMPONENT_KINDS)
    components.sort(key=lambda c: (c.kind, c.name))
    launchers = sorted(
        {
            c.name
            for c in components
            if c.kind in ("activity", "activity-alias") and MAIN in c.actions and LAUNCHER in c.categories
        }
    )
    return Manifest(
        package=package,
        label=label,
        version_name=_attr(root, "versionName"),
        version_code=_attr(root, "versionCode"),
        min_sdk=min_sdk,
        target_sdk=target_sdk,
        permissions=tuple(sorted(permissions)),
        application_class=application_class,
        launcher_activities=tuple(launchers),
        components=tuple(components),
        split=root.get("split"),
    )


def _component(elem: Any, package: str | None) -> Component:
    kind = _COMPONENT_KINDS[_local(elem.tag)]
    raw_name = _attr(elem, "name")
    if kind == "activity-alias":  # the alias's code is its target's
        raw_name = _attr(elem, "targetActivity") or raw_name
    name = _qualify(raw_name, package)
    actions: set[str] = set()
    categories: set[str] = set()
    priorities: list[int] = []
    for flt in _named(elem, "intent-filter"):
        prio = _int_or_none(_attr(flt, "priority"))
        if prio is not None:
            priorities.append(prio)
        for act in _named(flt, "action"):
            value = _attr(act, "name")
            if value:
                actions.add(value)
        for cat in _named(flt, "category"):
            value = _attr(cat, "name")
            if value:
                categories.add(value)
    authorities = _attr(elem, "authorities") or ""
    return Component(
        kind=kind,
        name=name,
        exported=_bool_or_none(_attr(elem, "exported")),
        actions=tuple(sorted(actions)),
        categories=tuple(sorted(categories)),
        authorities=tuple(sorted(a for a in authorities.split(";") if a)),
        permission=_attr(elem, "permission"),
        priority=max(priorities) if priorities else None,
    )
