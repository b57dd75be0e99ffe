"""Wording of the human-readable formats: the one implementation of each label and short form.

Pure functions of the model, used by :mod:`appaudit.report.view` (which the
text, HTML and Markdown formats render from). Everything returns plain
(unescaped) text; each format escapes it its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from string import Formatter
from typing import TYPE_CHECKING

from appaudit.descriptors import java_name
from appaudit.model import DATA_CLASSES, PROTECTED_CLASSES, Evidence, Level, Owner, Severity
from appaudit.report.i18n import has, t
from appaudit.report.model import DataClassResult, Report

if TYPE_CHECKING:
    # Annotation only: importing appaudit.apk at run time would load androguard into every format.
    from appaudit.apk.app import RecoveredPayload

#: Protected classes in report order.
PROTECTED: tuple[str, ...] = tuple(c for c in DATA_CLASSES if c in PROTECTED_CLASSES)
#: The other ("neighbour") classes in report order.
NEIGHBOURS: tuple[str, ...] = tuple(c for c in DATA_CLASSES if c not in PROTECTED_CLASSES)
#: Classes whose collection enables a named harassment practice.
HARM_CLASSES: frozenset[str] = frozenset({"contacts", "call_log", "sms", "location", "photos_media"})
#: Evidence locations shown per finding in HTML/Markdown (the JSON has up to engine.MAX_EVIDENCE).
SHOWN_EVIDENCE = 20
#: Chains and start-up paths shown per data class.
SHOWN_CHAINS = 10
#: Citation confidences that need a caveat next to the article.
CAVEATED = frozenset({"P", "U"})


def short_value(kind: str, value: str, channel: str | None = None) -> str:
    """A reference in Java-like form: ``pkg.Cls.FIELD``, ``pkg.Cls.method()``, ``"string"``, and a sink
    (``channel`` given) as ``sms: pkg.Cls.m()``."""
    if channel is not None:
        return f"{channel}: {short_value('invoke', value)}"
    if kind in ("sget", "sput", "invoke") and "->" in value:
        owner, member = value.split("->", 1)
        name = member.split(":", 1)[0].split("(", 1)[0]
        return f"{java_name(owner)}.{name}" + ("()" if kind == "invoke" else "")
    if kind in ("new-instance", "const-class"):
        # a bare class descriptor, the smali form of a Java class name
        return java_name(value)
    if kind == "const-string":
        return f'"{value}"'
    return value


def method_text(class_name: str, method: str | None, offset: int | None = None, *, compact: bool = False) -> str:
    """``pkg.Cls.method() +offset`` (no offset when None); ``compact``: ``Cls.method``, for one-line chains."""
    name = (method or "").split("(", 1)[0]
    if compact:
        return f"{class_name.rsplit('.', 1)[-1]}.{name}"
    return f"{class_name}.{name}()" + (f" +{offset}" if offset is not None else "")


def evidence_kind_label(kind: str, lang: str) -> str:
    """What a piece of evidence is, translated; manifest kinds say so (``permission (manifest)``)."""
    return _or_raw("evkind", kind, lang)


#: The reasons appaudit.policy.evaluate gives for a triggered provision (``class: why``), as catalogue keys:
#: a fixed phrase, or a prefix and the key of the list that follows it (tests: test_report_view, test_report_html).
_TRIGGER_PHRASES: dict[str, str] = {
    "code reads it": "trig.read",
    "code reads all of it": "trig.bulk",
    "read at start-up without user action": "trig.at_startup",
}
_TRIGGER_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("sent off the device by ", "trig.exfiltrated", "channels"),
    ("declares ", "trig.declared", "permissions"),
    ("declaration contradicted (", "trig.declaration", "rules"),
)


def trigger_text(line: str, lang: str) -> str:
    """A policy violation's ``triggered_by`` line in ``lang`` (the JSON keeps the English one); unknown: as is."""
    dc, sep, why = line.partition(": ")
    if not sep or lang == "en":
        return line
    label = class_label(dc, lang)
    if why in _TRIGGER_PHRASES:
        return t(_TRIGGER_PHRASES[why], lang, dc=label)
    for prefix, key, field in _TRIGGER_PREFIXES:
        if why.startswith(prefix):
            items = why[len(prefix) :].removesuffix(")").split(", ")
            if field == "channels":
                items = [channel_label(x, lang) for x in items]
            return t(key, lang, dc=label, **{field: join(items, lang)})
    return line


def site(e: Evidence) -> str:
    """Where a piece of evidence is: ``pkg.Cls.method() +offset`` for code, its value otherwise."""
    return e.text if e.class_name is None else method_text(e.class_name, e.method, e.offset)


def fill_message(key: str, lang: str, escape: Callable[[str], str], values: Mapping[str, str]) -> str:
    """Message ``key`` with its own text passed through ``escape`` and placeholders filled with ready markup."""
    out = []
    for literal, name, _spec, _conv in Formatter().parse(t(key, lang)):
        out.append(escape(literal))
        if name is not None:
            out.append(values[name])
    return "".join(out)


def class_label(name: str, lang: str) -> str:
    return _or_raw("dc", name, lang)


def severity_label(sev: Severity | None, lang: str) -> str:
    return t(f"severity.{sev.label}", lang) if sev is not None else "-"


def _or_raw(prefix: str, value: str, lang: str) -> str:
    """The catalogue's ``prefix.value`` in ``lang``, or ``value`` itself when there is none."""
    key = f"{prefix}.{value}"
    return t(key, lang) if has(key, lang) else value


def level_label(level: Level, lang: str) -> str:
    return t(f"level.{level.value}", lang)


def channel_label(channel: str, lang: str) -> str:
    return _or_raw("channel", channel, lang)


def trigger_label(trigger: str, lang: str) -> str:
    return _or_raw("trigger", trigger, lang)


def resolved_label(how: str, lang: str) -> str:
    return _or_raw("resolved", how, lang)


def owner_label(o: Owner, lang: str) -> str:
    """``the app itself (pkg)``, ``SDK Name (vendor X, credit scoring)``, ``unknown code (obfuscated)``."""
    key = f"owner.{o.kind}"
    if not has(key, lang):
        return o.name
    text = t(key, lang, name=o.name)
    if o.kind == "sdk":
        extra = [t("owner.sdk_kind", lang)]
        if o.vendor:
            extra.append(t("owner.vendor", lang, vendor=o.vendor))
        if o.category:
            extra.append(_or_raw("owner.category", o.category, lang))
        text += f" ({', '.join(extra)})" if lang == "en" else f"（{'，'.join(extra)}）"
    return text


def owners_text(owners: Iterable[Owner], lang: str) -> str:
    sep = "; " if lang == "en" else "；"
    return sep.join(owner_label(o, lang) for o in owners)


def join(items: Iterable[str], lang: str) -> str:
    return (", " if lang == "en" else "、").join(items)


def reads_label(r: DataClassResult, lang: str) -> str:
    return t("yes", lang) if r.read else (t("dormant", lang) if r.dormant else "-")


def yes_dash(flag: bool, lang: str) -> str:
    return t("yes", lang) if flag else "-"


def class_summary(name: str, r: DataClassResult, lang: str) -> str | None:
    """One line on what happens to a class, None when nothing does."""
    if r.level is Level.NONE:
        return None
    parts: list[str] = []
    if r.read:
        parts.append(t("sum.read", lang))
    elif r.dormant:
        parts.append(t("sum.dormant", lang))
    elif r.declared:
        parts.append(t("sum.declared", lang))
    if r.bulk:
        parts.append(t("sum.bulk", lang))
    if r.exfiltrated:
        parts.append(t("sum.leaves", lang, channels=join((channel_label(c, lang) for c in r.exfiltrated), lang)))
    if r.at_startup:
        parts.append(t("sum.startup", lang))
    if r.owners:
        parts.append(t("sum.by", lang, owners=owners_text(r.owners, lang)))
    sep = ", " if lang == "en" else "，"
    return t("sum.class", lang, name=class_label(name, lang), parts=sep.join(parts))


def summary_lines(report: Report, lang: str) -> list[str]:
    """Under the verdict: each protected class with anything found, then each other class whose code reads."""
    lines = []
    for name in PROTECTED + NEIGHBOURS:
        r = report.data_classes.get(name)
        if r is None or (name not in PROTECTED and r.level in (Level.NONE, Level.DECLARED)):
            continue
        line = class_summary(name, r, lang)
        if line is not None:
            lines.append(line)
    return lines


def coverage_reason_text(code: str, lang: str) -> str | None:
    key = f"cov.reason.{code}"
    return t(key, lang) if has(key, lang) else None


def coverage_status_text(status: str, lang: str) -> str:
    return _or_raw("cov", status, lang)


def policy_kind(kind: str, lang: str) -> str:
    return _or_raw("pol.kind", kind, lang)


def confidence_text(conf: str, lang: str) -> str:
    return _or_raw("pol.conf", conf, lang)


def recovered_text(r: RecoveredPayload, lang: str) -> str:
    """One recovered payload: where it was, how it was decoded, and what came out."""
    return t("prov.recovered.item", lang, entry=r.entry, steps="; ".join(r.steps), size=r.size, sha=r.sha256)


def is_web_link(url: str) -> bool:
    """A citation source that may be a link: http(s), no whitespace or markup characters."""
    return url.startswith(("https://", "http://")) and not any(c.isspace() or c in "<>\"'`" for c in url)


def violation_count(report: Report) -> tuple[int, int]:
    """(violations, packs with violations)."""
    violated = [p for p in report.policies if p.violations]
    return sum(len(p.violations) for p in violated), len(violated)


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourRow:
    """One row of the neighbour data classes' table, as text; formats add their markup."""

    name: str
    label: str
    declared: str
    reads: str
    level: str | None
    """None when the class is not touched at all (formats show a dash)."""
    severity: Severity | None
    severity_label: str
    owners: str
    harm: str
    """The harassment practice it enables, or empty."""


def neighbour_rows(report: Report, lang: str) -> list[NeighbourRow]:
    """The rows of the neighbour classes (phone identity, location, ...) in report order."""
    rows = []
    for name in NEIGHBOURS:
        r = report.data_classes.get(name)
        if r is None:
            continue
        active = r.level.value != "none"
        rows.append(
            NeighbourRow(
                name=name,
                label=class_label(name, lang),
                declared=yes_dash(r.declared, lang),
                reads=reads_label(r, lang),
                level=level_label(r.level, lang) if active else None,
                severity=r.severity,
                severity_label=severity_label(r.severity, lang),
                owners=owners_text(r.owners, lang),
                harm=t(f"harm.{name}", lang) if name in HARM_CLASSES and active else "",
            )
        )
    return rows


NEIGHBOUR_HEADERS = (
    "col.data_class",
    "col.declared",
    "col.reads",
    "col.level",
    "col.severity",
    "col.by_whom",
    "col.enables",
)
