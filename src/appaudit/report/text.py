"""The terminal report (rich), readable on an 80-column terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from appaudit.descriptors import java_name
from appaudit.model import ChainStep, Finding, Report, Severity, Verdict

WIDTH = 80
#: Evidence locations shown per finding in the terminal (JSON has them all).
SHOWN_EVIDENCE = 3

_VERDICT_TEXT = {
    Verdict.HARVESTS: (
        "HARVESTS",
        "bold white on red",
        "the app reads protected data in bulk or sends it off the device",
    ),
    Verdict.AT_RISK: ("AT RISK", "bold red", "code that can run reads protected data; bulk harvesting is not proven"),
    Verdict.DORMANT_CODE: (
        "DORMANT CODE",
        "bold yellow",
        "code that reads protected data is present, but its permission is not declared",
    ),
    Verdict.DECLARED_ONLY: (
        "DECLARED ONLY",
        "yellow",
        "permissions for protected data are requested, but no code reading it was found",
    ),
    Verdict.INCONCLUSIVE: ("INCONCLUSIVE", "bold magenta", "part of the code could not be analysed; see coverage"),
    Verdict.NO_EVIDENCE: ("NO EVIDENCE", "green", "no permission or code for contacts, SMS or call log was found"),
}
_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


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


def _finding_lines(f: Finding) -> list[Text | Padding]:
    head = Text()
    head.append(f"{f.severity.label.upper():<8}", style=_SEVERITY_STYLE[f.severity])
    head.append(f" {f.rule_id} ", style="bold")
    head.append(f"[{f.data_class}] ")
    head.append(f.title)
    if f.dormant:
        head.append(" (dormant)", style="yellow")
    if f.suppressed:
        head.append(" (suppressed)", style="green")
    lines: list[Text | Padding] = [head, _indented(f.message, "dim")]
    if f.suppression is not None:
        lines.append(_indented(f"suppressed: {f.suppression}", "green"))
    code = [e for e in f.evidence if e.class_name is not None]
    for e in code[:SHOWN_EVIDENCE]:
        method = (e.method or "").split("(", 1)[0]
        lines.append(_indented(f"{short_value(e.kind, e.value)} in {e.class_name}.{method}() +{e.offset} [{e.dex}]"))
    others = [e for e in f.evidence if e.class_name is None]
    if others:
        lines.append(_indented(", ".join(e.value for e in others)))
    hidden = f.evidence_total - min(len(code), SHOWN_EVIDENCE) - len(others)
    if hidden > 0:
        lines.append(_indented(f"(+{hidden} more locations in the JSON report)", "dim"))
    return lines


def _short_method(step: ChainStep) -> str:
    return f"{step.class_name.rsplit('.', 1)[-1]}.{step.method.split('(', 1)[0]}"


def _chain_lines(report: Report) -> list[Text | Padding]:
    lines: list[Text | Padding] = []
    for name, r in report.data_classes.items():
        for chain in r.chains:
            lines.append(Text(f"{name} -> {chain.channel}: " + " -> ".join(_short_method(s) for s in chain.steps)))
            sink = short_value("invoke", chain.sink.value)
            extra = f"sink {sink}" + (f"; via {', '.join(chain.transformers)}" if chain.transformers else "")
            if chain.urls:
                extra += f"; {', '.join(chain.urls)}"
            lines.append(_indented(extra, "dim"))
        lines.extend(
            Text(f"{name} read on {path.trigger}: " + " -> ".join(_short_method(s) for s in path.steps))
            for path in r.startup_paths
        )
    return lines


def render(report: Report, *, color: bool = False) -> str:
    """The report as terminal text; ANSI colours only when ``color`` is True."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=WIDTH,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
    )
    app = report.app
    version = f"{app.version_name or '?'} ({app.version_code or '?'})"
    console.print(
        Text(f"{report.tool_name} {report.tool_version}: {app.package or '(unknown package)'} {version}", style="bold")
    )
    console.print(f"file   {report.input_path}", overflow="fold")
    console.print(f"sha256 {app.sha256}")
    console.print(f"dex    {', '.join(app.dex_files) or '(none)'}   min/target sdk {app.min_sdk}/{app.target_sdk}")
    label, style, why = _VERDICT_TEXT[report.verdict]
    verdict = Text("Verdict: ")
    verdict.append(label, style=style)
    verdict.append(f" - {why}")
    console.print()
    console.print(verdict)

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("data class", "declared", "reads", "bulk", "leaves by", "start-up", "severity"):
        table.add_column(column)
    for name, r in report.data_classes.items():
        reads = "yes" if r.read else ("dormant" if r.dormant else "-")
        sev = r.severity.label if r.severity is not None else "-"
        table.add_row(
            name,
            _yes(r.declared),
            reads,
            _yes(r.bulk),
            ",".join(r.exfiltrated) or "-",
            _yes(r.at_startup),
            Text(sev, style=_SEVERITY_STYLE.get(r.severity, "")) if r.severity is not None else sev,
        )
    console.print()
    console.print(table)
    chain_lines = _chain_lines(report)
    if chain_lines:
        console.print()
        console.print(Text("Harvest chains", style="bold"))
        for line in chain_lines:
            console.print(line, overflow="fold")

    console.print()
    suppressed = sum(f.suppressed for f in report.findings)
    count = f"{len(report.findings)}, {suppressed} suppressed" if suppressed else f"{len(report.findings)}"
    console.print(Text(f"Findings ({count})", style="bold"))
    for f in report.findings:
        for line in _finding_lines(f):
            console.print(line, overflow="fold")
    violated = [p for p in report.policies if p.violations]
    if violated:
        console.print()
        console.print(Text("Policy violations (citations and reasons in the JSON report)", style="bold"))
        mark = {"V": "", "P": "*", "U": "!"}
        for pack in violated:
            ids = ", ".join(v.provision + mark.get(v.confidence, "") for v in pack.violations)
            console.print(Text(f"  {pack.id:<12} {ids}"), overflow="fold")
        console.print(Text("  * citation partly verified   ! citation unverified: check before use", style="dim"))
    console.print()
    cov = report.coverage
    console.print(Text(f"Coverage: {cov.status}", style="bold" if cov.status != "complete" else ""))
    for reason in cov.reasons:
        console.print(f"  {reason.code}: {reason.detail}", overflow="fold")
    if report.errors:
        console.print(Text(f"Errors ({len(report.errors)})", style="bold red"))
        for err in report.errors:
            console.print(f"  {err.where}: {err.message}", overflow="fold")
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
