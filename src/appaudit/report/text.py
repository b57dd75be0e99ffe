"""The terminal report (rich), readable on an 80-column terminal."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from appaudit.model import Severity, Verdict
from appaudit.report.common import SHOWN_CHAINS
from appaudit.report.i18n import t
from appaudit.report.model import Report
from appaudit.report.view import FindingView, ReportView, TriggerView
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


#: Where a finding's body (message, evidence) starts; its wrapped evidence lines start two cells further.
BODY = 9


def _indented(text: Text | str, style: str = "") -> Padding:
    return Padding(Text(text, style=style) if isinstance(text, str) else text, (0, 0, 0, BODY))


def _excerpt_lines(f: FindingView) -> list[Text | Padding]:
    """The excerpt of the finding's first code evidence that has one (``--with-code``/``--verbose``)."""
    for e in f.evidence:
        if e.code is not None and e.code.excerpt is not None:
            return [_indented(line, "dim") for line in e.code.excerpt.render_text().splitlines()]
    return []


class Hanging:
    """One item printed with a hanging indent: the first line at ``first`` cells, wrapped lines at ``rest``.

    rich indents every line of a Padding alike, so an item whose lines must
    not restart at column 0 is wrapped here: the first line at the full width,
    the remainder at the width left after ``rest``. Wrapping is rich's own
    (cell widths, so CJK text wraps correctly); a word longer than a line is
    folded.
    """

    def __init__(self, text: Text | str, *, rest: int, first: int = 0, style: str = "") -> None:
        self.text = Text(text, style=style) if isinstance(text, str) else text
        self.rest = rest
        self.first = first

    def lines(self, console: Console) -> list[Text]:
        """The item's lines, each already indented and no wider than the console."""
        width = console.width
        head = self.text.wrap(console, width - self.first, overflow="fold")
        if len(head) <= 1:
            return [Text(" " * self.first) + line for line in head]
        first = head[0]
        rest = self.text[len(first.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip()) :]  # the break's space (or newline)
        tail = rest.wrap(console, width - self.rest, overflow="fold")
        return [Text(" " * self.first) + first, *(Text(" " * self.rest) + line for line in tail)]


Line = Text | Padding | Hanging


def _print(console: Console, line: Line) -> None:
    if isinstance(line, Hanging):
        for part in line.lines(console):
            console.print(part, no_wrap=True, overflow="ignore")
    else:
        console.print(line, overflow="fold")


def _finding_lines(f: FindingView, lang: str) -> list[Line]:
    head = Text()
    head.append(f"{f.severity.label.upper():<8}", style=_SEVERITY_STYLE[f.severity])
    head.append(f" {f.rule_id} ", style="bold")
    head.append(f"[{f.data_class}] ")
    head.append(f.title)
    if f.dormant:
        head.append(" " + t("text.dormant", lang), style="yellow")
    if f.suppressed:
        head.append(" (suppressed)", style="green")
    lines: list[Line] = [Hanging(head, rest=BODY), _indented(f.message, "dim")]
    if f.suppression is not None:
        lines.append(_indented(f"suppressed: {f.suppression}", "green"))
    code = [e for e in f.evidence if e.class_name is not None]
    for e in code[:SHOWN_EVIDENCE]:
        where = f" ({e.code.where})" if e.code is not None and e.code.where else ""
        lines.append(Hanging(f"{e.short} {t('text.in', lang)} {e.site} [{e.dex}]{where}", first=BODY, rest=BODY + 2))
    lines.extend(_excerpt_lines(f))
    others = [e for e in f.evidence if e.class_name is None]
    if others:
        lines.append(Hanging(", ".join(e.short for e in others), first=BODY, rest=BODY + 2))
    hidden = f.evidence_total - min(len(code), SHOWN_EVIDENCE) - len(others)
    if hidden > 0:
        lines.append(_indented(t("text.more", lang, n=hidden), "dim"))
    return lines


def _chain_lines(view: ReportView, lang: str) -> list[Line]:
    """Chains (``→``: the data flows to the next method) and start-up paths (``calls``), each a hanging item."""
    lines: list[Line] = []
    calls = f" {t('text.calls', lang)} "
    for cv in view.classes:
        for chain in cv.chains:
            flow = "" if chain.confirmed else f" ({t('text.unconfirmed', lang)})"
            steps = " → ".join(s.compact for s in chain.steps)
            lines.append(Hanging(f"{cv.name} → {chain.channel}{flow}: {steps}", rest=4))
            via = f"; {t('text.via', lang)} {', '.join(chain.transformers)}" if chain.transformers else ""
            extra = f"{t('text.sink', lang)} {chain.sink.short}{via}"
            if chain.urls:
                extra += f"; {', '.join(chain.urls)}"
            if chain.url_sources:
                extra += "; " + ", ".join(f"{u} {t('chain.url_from', lang, how=how)}" for u, how in chain.url_sources)
            lines.append(Hanging(extra, first=4, rest=6, style="dim"))
            lines.extend(Hanging(v, first=4, rest=6, style="dim") for v in chain.via)
        lines.extend(
            Hanging(
                t("text.read_on", lang, name=cv.name, trigger=path.trigger_term)
                + calls.join(s.compact for s in path.steps)
                + (f" ({t('text.asks_first', lang)})" if path.asks_first else ""),
                rest=4,
            )
            for path in cv.startup_paths
        )
        lines.extend(_trigger_lines(cv.name, cv.triggers, lang))
    return lines


def _trigger_lines(name: str, triggers: tuple[TriggerView, ...], lang: str) -> list[Line]:
    """What makes each read run, the first ``SHOWN_CHAINS`` of a class (``entry → read``)."""
    lines: list[Line] = []
    for tv in triggers[:SHOWN_CHAINS]:
        guard = f"; {t('trigger.guard', lang)} {tv.guard}" if tv.guard else ""
        asks = f" ({t('text.asks_first', lang)})" if tv.asks_first else ""
        head = t("text.triggered", lang, name=name, trigger=tv.term)
        lines.append(Hanging(f"{head}{tv.entry} → {tv.read}{guard}{asks}", rest=4))
    if len(triggers) > SHOWN_CHAINS:
        lines.append(Hanging(t("and_more", lang, n=len(triggers) - SHOWN_CHAINS), first=4, rest=4, style="dim"))
    return lines


#: The "declared vs found" columns at 80 cells: short headings, the class by its name.
_DVF_COLUMNS = (
    "col.data_class",
    "dvf.col.data_safety",
    "dvf.text.policy",
    "dvf.text.found",
    "col.leaves_by",
    "dvf.col.sdks",
    "dvf.text.contradictions",
)


def _declarations(view: ReportView, lang: str) -> Table | None:
    """The "declared vs found" table (rich wraps a cell that does not fit); None without a declaration."""
    if view.declarations is None:
        return None
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for key in _DVF_COLUMNS:
        table.add_column(t(key, lang))
    for r in view.declarations.rows:
        table.add_row(r.name, r.declared, r.policy, r.found, r.leaves_by, r.sdks, r.contradictions)
    return table


def _label(key: str, lang: str, width: int = 7) -> str:
    """A left-column label padded to ``width`` terminal cells (CJK characters are two cells wide)."""
    text = t(key, lang)
    return text + " " * max(1, width - cell_len(text))


def _header(console: Console, view: ReportView, lang: str) -> None:
    """Identity, provenance and the verdict line."""
    prov = view.provenance
    package = view.package or t("text.unknown_package", lang)
    console.print(Text(f"{view.tool}: {package} {view.version}", style="bold"))
    _print(console, Hanging(f"{_label('text.file', lang)}{prov.input_path}", rest=7))
    console.print(f"sha256 {prov.sha256}")
    dex = ", ".join(prov.dex_files) or t("text.none", lang)
    console.print(f"dex    {dex}   min/target sdk {view.min_sdk}/{view.target_sdk}")
    for payload in prov.recovered:
        _print(console, Hanging(f"{_label('prov.recovered', lang)}{payload}", rest=7))
    lead = t("verdict", lang) + t("colon", lang)
    verdict = Text(lead)
    verdict.append(view.verdict_label, style=_VERDICT_STYLE[view.verdict])
    verdict.append(f" - {view.verdict_why}")
    console.print()
    _print(console, Hanging(verdict, rest=cell_len(lead)))


def _classes(console: Console, view: ReportView, lang: str) -> None:
    """The data-class table."""
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
    for cv in view.classes:  # why each class is (or is not) bulk, and what it deletes or changes
        if cv.bulk_why:
            _print(console, Hanging(t("text.bulk_why", lang, dc=cv.name, why=cv.bulk_why), first=2, rest=4))
        if cv.writes:
            _print(console, Hanging(t("text.writes", lang, dc=cv.name, writes="; ".join(cv.writes)), first=2, rest=4))


def _chains(console: Console, view: ReportView, lang: str) -> None:
    """Harvest chains and start-up paths, with the legend of their two arrows."""
    chain_lines = _chain_lines(view, lang)
    if chain_lines:
        console.print()
        console.print(Text(t("text.chains", lang), style="bold"))
        console.print(Text("  " + t("text.chains.legend", lang), style="dim"))
        for line in chain_lines:
            _print(console, line)


def _findings(console: Console, view: ReportView, lang: str) -> None:
    """Every finding, most severe first."""
    console.print()
    heading = t("text.findings", lang, n=len(view.findings))
    if view.suppressed:
        heading = heading.rstrip(")") + f", {view.suppressed} suppressed)"
    console.print(Text(heading, style="bold"))
    for f in view.findings:
        for line in _finding_lines(f, lang):
            _print(console, line)


def _policies(console: Console, view: ReportView, lang: str) -> None:
    """Provisions triggered, per pack (Chinese paraphrases with --lang zh)."""
    if view.violated:
        console.print()
        console.print(Text(t("text.policies", lang), style="bold"))
        mark = {"V": "", "P": "*", "U": "!"}
        for pack in view.violated:
            ids = ", ".join(v.provision + mark.get(v.confidence, "") for v in pack.violations)
            _print(console, Hanging(f"  {pack.id:<12} {ids}", rest=15))
            # with --lang zh, a provision with a Chinese paraphrase says what it requires, in Chinese
            for v in pack.violations:
                if v.paraphrase_translated:
                    _print(
                        console, Hanging(f"{v.provision}{t('colon', lang)}{v.paraphrase}", first=4, rest=6, style="dim")
                    )
        console.print(Text("  " + t("text.policies.legend", lang), style="dim"))


def _declared(console: Console, view: ReportView, lang: str) -> None:
    """Declared vs found, when a declaration was given."""
    declarations = _declarations(view, lang)
    if declarations is not None:
        console.print()
        console.print(Text(t("sec.declarations", lang), style="bold"))
        console.print(declarations)


def _coverage(console: Console, view: ReportView, lang: str) -> None:
    """Coverage and its reasons, and errors."""
    console.print()
    console.print(
        Text(t("text.coverage", lang, status=view.coverage), style="bold" if view.coverage != "complete" else "")
    )
    for reason in view.reasons:
        _print(console, Hanging(f"  {reason.code}: {reason.detail}", rest=4))
    if view.errors:
        console.print(Text(t("text.errors", lang, n=len(view.errors)), style="bold red"))
        for where, message in view.errors:
            _print(console, Hanging(f"  {where}: {message}", rest=4))


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
    for section in (_header, _classes, _chains, _findings, _policies, _declared, _coverage):
        section(console, view, lang)
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
