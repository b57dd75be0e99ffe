"""The terminal report (rich), readable on an 80-column terminal."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from appaudit.model import Severity, Verdict
from appaudit.report.i18n import t
from appaudit.report.model import Report
from appaudit.report.view import FindingView, ReportView
from appaudit.report.view_build import build

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


def _yes(flag: bool, lang: str) -> str:
    return t("yes", lang) if flag else "-"


def _indented(text: Text | str, style: str = "") -> Padding:
    return Padding(Text(text, style=style) if isinstance(text, str) else text, (0, 0, 0, 9))


def _excerpt_lines(f: FindingView) -> list[Text | Padding]:
    """The excerpt of the finding's first code evidence that has one (``--with-code``/``--verbose``)."""
    for e in f.evidence:
        if e.code is not None and e.code.excerpt is not None:
            return [_indented(line, "dim") for line in e.code.excerpt.render_text().splitlines()]
    return []


def _finding_lines(f: FindingView, lang: str) -> list[Text | Padding]:
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
        where = f" ({e.code.where})" if e.code is not None and e.code.where else ""
        lines.append(_indented(f"{e.short} {t('text.in', lang)} {e.site} [{e.dex}]{where}"))
    lines.extend(_excerpt_lines(f))
    others = [e for e in f.evidence if e.class_name is None]
    if others:
        lines.append(_indented(", ".join(e.value for e in others)))
    hidden = f.evidence_total - min(len(code), SHOWN_EVIDENCE) - len(others)
    if hidden > 0:
        lines.append(_indented(t("text.more", lang, n=hidden), "dim"))
    return lines


def _chain_lines(view: ReportView, lang: str) -> list[Text | Padding]:
    lines: list[Text | Padding] = []
    for cv in view.classes:
        for chain in cv.chains:
            flow = "" if chain.confirmed else f" ({t('text.unconfirmed', lang)})"
            steps = " -> ".join(s.compact for s in chain.steps)
            lines.append(Text(f"{cv.name} -> {chain.channel}{flow}: {steps}"))
            via = f"; {t('text.via', lang)} {', '.join(chain.transformers)}" if chain.transformers else ""
            extra = f"{t('text.sink', lang)} {chain.sink.short}{via}"
            if chain.urls:
                extra += f"; {', '.join(chain.urls)}"
            lines.append(_indented(extra, "dim"))
        lines.extend(
            Text(
                t("text.read_on", lang, name=cv.name, trigger=path.trigger_term)
                + " -> ".join(s.compact for s in path.steps)
                + (f" ({t('text.asks_first', lang)})" if path.asks_first else "")
            )
            for path in cv.startup_paths
        )
    return lines


def _label(key: str, lang: str, width: int = 7) -> str:
    """A left-column label padded to ``width`` terminal cells (CJK characters are two cells wide)."""
    text = t(key, lang)
    return text + " " * max(1, width - cell_len(text))


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as terminal text in ``lang``; ANSI colours only when ``color`` is True."""
    view = build(report, lang)
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
    prov = view.provenance
    package = view.package or t("text.unknown_package", lang)
    console.print(Text(f"{view.tool}: {package} {view.version}", style="bold"))
    console.print(f"{_label('text.file', lang)}{prov.input_path}", overflow="fold")
    console.print(f"sha256 {prov.sha256}")
    dex = ", ".join(prov.dex_files) or t("text.none", lang)
    console.print(f"dex    {dex}   min/target sdk {view.min_sdk}/{view.target_sdk}")
    for payload in prov.recovered:
        console.print(f"{_label('prov.recovered', lang)}{payload}", overflow="fold")
    verdict = Text(t("verdict", lang) + t("colon", lang))
    verdict.append(view.verdict_label, style=_VERDICT_STYLE[view.verdict])
    verdict.append(f" - {view.verdict_why}")
    console.print()
    console.print(verdict)

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("data_class", "declared", "reads", "bulk", "leaves_by", "startup", "severity"):
        table.add_column(t(f"col.{column}", lang))
    for cv in view.classes:
        sev = cv.severity.label if cv.severity is not None else "-"
        table.add_row(
            cv.name,
            _yes(cv.declared, lang),
            cv.reads,
            _yes(cv.bulk, lang),
            ",".join(cv.exfiltrated) or "-",
            _yes(cv.at_startup, lang),
            Text(sev, style=_SEVERITY_STYLE[cv.severity]) if cv.severity is not None else sev,
        )
    console.print()
    console.print(table)
    chain_lines = _chain_lines(view, lang)
    if chain_lines:
        console.print()
        console.print(Text(t("text.chains", lang), style="bold"))
        for line in chain_lines:
            console.print(line, overflow="fold")

    console.print()
    heading = t("text.findings", lang, n=len(view.findings))
    if view.suppressed:
        heading = heading.rstrip(")") + f", {view.suppressed} suppressed)"
    console.print(Text(heading, style="bold"))
    for f in view.findings:
        for line in _finding_lines(f, lang):
            console.print(line, overflow="fold")
    if view.violated:
        console.print()
        console.print(Text(t("text.policies", lang), style="bold"))
        mark = {"V": "", "P": "*", "U": "!"}
        for pack in view.violated:
            ids = ", ".join(v.provision + mark.get(v.confidence, "") for v in pack.violations)
            console.print(Text(f"  {pack.id:<12} {ids}"), overflow="fold")
        console.print(Text("  " + t("text.policies.legend", lang), style="dim"))
    console.print()
    console.print(
        Text(t("text.coverage", lang, status=view.coverage), style="bold" if view.coverage != "complete" else "")
    )
    for reason in view.reasons:
        console.print(f"  {reason.code}: {reason.detail}", overflow="fold")
    if view.errors:
        console.print(Text(t("text.errors", lang, n=len(view.errors)), style="bold red"))
        for where, message in view.errors:
            console.print(f"  {where}: {message}", overflow="fold")
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
