"""Architecture rules, enforced by an AST walk over src/appaudit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ALL_FIXTURES, report_json

SRC = Path(__file__).resolve().parent.parent / "src" / "appaudit"

# package -> appaudit packages it must never import
FORBIDDEN = {
    "model": {"apk", "engine", "ruleset", "analysis", "report", "api", "cli"},
    "errors": {"apk", "engine", "ruleset", "analysis", "report", "api", "cli", "model"},
    "report": {"apk", "engine", "ruleset", "analysis", "api", "cli", "history"},
    "engine": {"apk", "analysis", "report", "api", "cli"},
    "ruleset": {"apk", "engine", "analysis", "report", "api", "cli"},
    "analysis": {"apk", "report", "api", "cli"},
    "apk": {"engine", "ruleset", "analysis", "report", "api", "cli"},
    "api": {"cli", "report", "history"},
    # baselines and diffs work on model objects and JSON reports (read by report.json_v1_read); the CLI scans
    "history": {"apk", "engine", "ruleset", "analysis", "api", "cli"},
    "batch": {"cli"},
}
# Only the CLI drives batches: no lower layer may import appaudit.batch.
for _banned in FORBIDDEN.values():
    if _banned is not FORBIDDEN["batch"]:
        _banned.add("batch")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(SRC.rglob("*.py"))]


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _package(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py")


def test_only_apk_imports_androguard() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p, tree in _modules()
        if _package(p) != "apk" and any(n.split(".")[0] in ("androguard", "loguru") for n in _imports(tree))
    ]
    assert offenders == []


def test_only_cli_and_text_format_import_rich_and_typer() -> None:
    # batch/present.py draws the batch's live progress bar (rich, imported inside that one function)
    allowed = {"cli.py", "report/text.py", "batch/present.py"}
    offenders = [
        str(p.relative_to(SRC))
        for p, tree in _modules()
        if str(p.relative_to(SRC)) not in allowed
        and any(n.split(".")[0] in ("rich", "typer", "click") for n in _imports(tree))
    ]
    assert offenders == []


def test_layer_direction() -> None:
    problems = []
    for p, tree in _modules():
        banned = FORBIDDEN.get(_package(p), set())
        for name in _imports(tree):
            parts = name.split(".")
            if parts[0] == "appaudit" and len(parts) > 1 and parts[1] in banned:
                problems.append(f"{p.relative_to(SRC)} imports {name}")
    assert problems == []


#: What only the batch presentation renders: the summary's counts, its level columns, the progress lines.
_BATCH_RENDERING = frozenset(
    {"by_status", "by_verdict", "levels", "top_rules", "top_sdks", "failures", "LEVEL_ORDER", "Progress"}
)


def test_cli_renders_no_batch_summary_or_progress() -> None:
    """cli.py only calls batch/present.py: it reads none of the summary's counts, builds no progress display."""
    cli = ast.parse((SRC / "cli.py").read_text())
    used = {n.attr for n in ast.walk(cli) if isinstance(n, ast.Attribute)}
    used |= {n.id for n in ast.walk(cli) if isinstance(n, ast.Name)}
    used |= {a.name for n in ast.walk(cli) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert used & _BATCH_RENDERING == set()
    assert not any(name.startswith("rich.progress") for name in _imports(cli))
    calls = {n.func.id for n in ast.walk(cli) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"run_with_progress", "summary_text"} <= calls
    present = ast.parse((SRC / "batch" / "present.py").read_text())
    defined = {n.name for n in present.body if isinstance(n, ast.FunctionDef)}
    assert {"summary_text", "plain_progress", "run_with_progress", "run_with_progress_bar"} <= defined


def test_library_never_prints_or_exits() -> None:
    problems = []
    for p, tree in _modules():
        if p.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in ("print", "exit", "quit"):
                    problems.append(f"{p.relative_to(SRC)}:{node.lineno} {f.id}()")
                if isinstance(f, ast.Attribute) and f.attr == "exit" and getattr(f.value, "id", "") == "sys":
                    problems.append(f"{p.relative_to(SRC)}:{node.lineno} sys.exit()")
    assert problems == []


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_format_renders_every_fixture(name: str) -> None:
    """Every registered format (the registry, not a list here) renders every fixture in every language."""
    from appaudit.api import scan
    from appaudit.report import FORMATS, render
    from appaudit.report.i18n import LANGS
    from conftest import fixture_apk

    assert list(FORMATS) == ["text", "json", "sarif", "html", "markdown"]
    assert all(f.name == key for key, f in FORMATS.items())
    assert len({f.extension for f in FORMATS.values()}) == len({f.media_type for f in FORMATS.values()}) == 5
    report = scan(fixture_apk(name))
    package = report_json(name)["app"]["package"]
    for fmt in FORMATS:
        for lang in LANGS:
            for color in (False, True):
                out = render(report, fmt, color=color, lang=lang)
                assert out.endswith("\n") and package in out, (fmt, lang, color)
