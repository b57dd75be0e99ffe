"""The terminal report (rich), readable on an 80-column terminal."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from appaudit.analysis.facts import ChainStep
from appaudit.descriptors import java_name
from appaudit.model import Severity, Verdict
from appaudit.report.common import recovered_text
from appaudit.report.i18n import check_lang, has, t
from appaudit.report.model import Finding, Report

WIDTH = 80
#: Evidence locations shown per finding in the terminal (JSON has them all).
SHOWN_EVIDENCE = 3

#: Verdict -> style of its label (label and meaning come from the message catalogue).
_VERDICT_STYLE = {
    Verdict.HARVESTS: "bold white on red",
    Verdict.AT_RISK: "bold red",
    Verdict.DORMANT_CODE: "bold yellow",
    Verdict.DECLARED_ONLY: "yellow",
    Verdict.INCONCLUSIVE: "bold magenta",
    Verdict.NO_EVIDENCE: "green",
}
_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _yes(flag: bool, lang: str = "en") -> str:
    return t("yes", lang) if flag else "-"


def short_value(kind: str, value: str) -> str:
    """A reference in Java-like form: ``pkg.Cls.FIELD``, ``pkg.Cls.method()``, ``"string"``."""
    if kind in ("sget", "invoke") and "->" in value:
        owner, member = value.split("->", 1)
        name = member.split(":", 1)[0].split("(", 1)[0]
        return f"{java_name(owner)}.{name}" + ("()" if kind == "invoke" else "")
    if kind == "const-string":
        return f'"{value}"'
    return value


def _indented(text: Text | str, style: str = "") -> Padding:
    return Padding(Text(text, style=style) if isinstance(text, str) else text, (0, 0, 0, 9))


def _finding_lines(f: Finding, lang: str = "en") -> list[Text | Padding]:
    head = Text()
    head.append(f"{f.severity.label.upper():<8}", style=_SEVERITY_STYLE[f.severity])
    head.append(f" {f.rule_id} ", style="bold")
    head.append(f"[{f.data_class}] ")
    head.append(f.title)
    if f.dormant:
        head.append(" " + t("text.dormant", lang), style="yellow")
    if f.suppressed:
        head.append(" (suppressed)", style="green")
    lines: list[Text | Padding] = [head, _indented(f.message, "dim")]
    if f.suppression is not None:
        lines.append(_indented(f"suppressed: {f.suppression}", "green"))
    code = [e for e in f.evidence if e.class_name is not None]
    for e in code[:SHOWN_EVIDENCE]:
        method = (e.method or "").split("(", 1)[0]
        where = f"{e.class_name}.{method}() +{e.offset} [{e.dex}]"
        lines.append(_indented(f"{short_value(e.kind, e.value)} {t('text.in', lang)} {where}"))
    others = [e for e in f.evidence if e.class_name is None]
    if others:
        lines.append(_indented(", ".join(e.value for e in others)))
    hidden = f.evidence_total - min(len(code), SHOWN_EVIDENCE) - len(others)
    if hidden > 0:
        lines.append(_indented(t("text.more", lang, n=hidden), "dim"))
    return lines


def _short_method(step: ChainStep) -> str:
    return f"{step.class_name.rsplit('.', 1)[-1]}.{step.method.split('(', 1)[0]}"


def _chain_lines(report: Report, lang: str = "en") -> list[Text | Padding]:
    lines: list[Text | Padding] = []
    for name, r in report.data_classes.items():
        for chain in r.chains:
            flow = "" if chain.dataflow == "confirmed" else f" ({t('text.unconfirmed', lang)})"
            lines.append(
                Text(f"{name} -> {chain.channel}{flow}: " + " -> ".join(_short_method(s) for s in chain.steps))
            )
            sink = short_value("invoke", chain.sink.value)
            via = f"; {t('text.via', lang)} {', '.join(chain.transformers)}" if chain.transformers else ""
            extra = f"{t('text.sink', lang)} {sink}{via}"
            if chain.urls:
                extra += f"; {', '.join(chain.urls)}"
            lines.append(_indented(extra, "dim"))
        lines.extend(
            Text(
                t("text.read_on", lang, name=name, trigger=_trigger(path.trigger, lang))
                + " -> ".join(_short_method(s) for s in path.steps)
                + (f" ({t('text.asks_first', lang)})" if path.asks_permission_first else "")
            )
            for path in r.startup_paths
        )
    return lines


def _trigger(trigger: str, lang: str) -> str:
    """The trigger as the JSON names it in English, translated otherwise."""
    return t(f"trigger.{trigger}", lang) if lang != "en" and has(f"trigger.{trigger}", lang) else trigger


def _label(key: str, lang: str, width: int = 7) -> str:
    """A left-column label padded to ``width`` terminal cells (CJK characters are two cells wide)."""
    text = t(key, lang)
    return text + " " * max(1, width - cell_len(text))


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as terminal text in ``lang``; ANSI colours only when ``color`` is True."""
    check_lang(lang)
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=WIDTH,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,  # names from the APK (entries, classes) are printed as they are, never as markup
    )
    app = report.app
    version = f"{app.version_name or '?'} ({app.version_code or '?'})"
    console.print(
        Text(
            f"{report.tool_name} {report.tool_version}: {app.package or t('text.unknown_package', lang)} {version}",
            style="bold",
        )
    )
    console.print(f"{_label('text.file', lang)}{report.input_path}", overflow="fold")
    console.print(f"sha256 {app.sha256}")
    dex = ", ".join(app.dex_files) or t("text.none", lang)
    console.print(f"dex    {dex}   min/target sdk {app.min_sdk}/{app.target_sdk}")
    for payload in app.recovered:
        console.print(f"{_label('prov.recovered', lang)}{recovered_text(payload, lang)}", overflow="fold")
    verdict = Text(t("verdict", lang) + t("colon", lang))
    verdict.append(t(f"verdict.{report.verdict.value}", lang), style=_VERDICT_STYLE[report.verdict])
    verdict.append(f" - {t(f'verdict.{report.verdict.value}.why', lang)}")
    console.print()
    console.print(verdict)

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("data_class", "declared", "reads", "bulk", "leaves_by", "startup", "severity"):
        table.add_column(t(f"col.{column}", lang))
    for name, r in report.data_classes.items():
        reads = t("yes", lang) if r.read else (t("dormant", lang) if r.dormant else "-")
        sev = r.severity.label if r.severity is not None else "-"
        table.add_row(
            name,
            _yes(r.declared, lang),
            reads,
            _yes(r.bulk, lang),
            ",".join(r.exfiltrated) or "-",
            _yes(r.at_startup, lang),
            Text(sev, style=_SEVERITY_STYLE.get(r.severity, "")) if r.severity is not None else sev,
        )
    console.print()
    console.print(table)
    chain_lines = _chain_lines(report, lang)
    if chain_lines:
        console.print()
        console.print(Text(t("text.chains", lang), style="bold"))
        for line in chain_lines:
            console.print(line, overflow="fold")

    console.print()
    suppressed = sum(f.suppressed for f in report.findings)
    heading = t("text.findings", lang, n=len(report.findings))
    if suppressed:
        heading = heading.rstrip(")") + f", {suppressed} suppressed)"
    console.print(Text(heading, style="bold"))
    for f in report.findings:
        for line in _finding_lines(f, lang):
            console.print(line, overflow="fold")
    violated = [p for p in report.policies if p.violations]
    if violated:
        console.print()
        console.print(Text(t("text.policies", lang), style="bold"))
        mark = {"V": "", "P": "*", "U": "!"}
        for pack in violated:
            ids = ", ".join(v.provision + mark.get(v.confidence, "") for v in pack.violations)
            console.print(Text(f"  {pack.id:<12} {ids}"), overflow="fold")
        console.print(Text("  " + t("text.policies.legend", lang), style="dim"))
    console.print()
    cov = report.coverage
    console.print(Text(t("text.coverage", lang, status=cov.status), style="bold" if cov.status != "complete" else ""))
    for reason in cov.reasons:
        console.print(f"  {reason.code}: {reason.detail}", overflow="fold")
    if report.errors:
        console.print(Text(t("text.errors", lang, n=len(report.errors)), style="bold red"))
        for err in report.errors:
            console.print(f"  {err.where}: {err.message}", overflow="fold")
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
