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
    # the scan's stages, driven by api.scan: below it, above the layers they call
    "pipeline": {"api", "cli", "report", "history"},
    # baselines and diffs work on model objects and JSON reports (read by report.json_v1_read); the CLI scans
    "history": {"apk", "engine", "ruleset", "analysis", "api", "cli"},
    "batch": {"cli"},
    # declarations read files and compare them with the report's results: no APK, analysis, formats or CLI
    "declarations": {"apk", "engine", "analysis", "report", "api", "cli", "history"},
    # the CI gate and the configuration file are pure: report objects and plain data in, decisions out
    "gate": {"apk", "engine", "ruleset", "analysis", "api", "cli", "history"},
    "config": {"apk", "engine", "ruleset", "analysis", "report", "api", "cli", "history", "model"},
}
FORBIDDEN["report"].add("declarations")  # the formats may use only its types (declarations.model)
# Only the CLI drives batches: no lower layer may import appaudit.batch.
for _banned in FORBIDDEN.values():
    if _banned is not FORBIDDEN["batch"]:
        _banned.add("batch")


#: The modules holding the types a layer makes: layers above may import them although the rest of
#: that layer is forbidden to them (``model`` and ``errors`` import none of them).
TYPE_MODULES = frozenset(
    {
        "appaudit.apk.app",
        "appaudit.apk.dex.types",
        "appaudit.analysis.facts",
        "appaudit.analysis.fingerprint_types",
        "appaudit.report.model",
        "appaudit.declarations.model",
    }
)
#: The packages that import nothing of another layer, type modules included.
NO_TYPE_MODULES = {"model", "errors"}
#: The composition roots: the library entry point (and its pipeline) drives apk's loader, the CLI renders formats.
ROOTS = {"api", "pipeline", "cli"}
#: Known imports of a private report module from another layer, each with why.
PRIVATE_IMPORT_EXCEPTIONS = {
    # the JSON v1 contract is one to_dict/from_dict pair: batch records write it (and spell owners
    # with its owner_ref), history reads a saved report back through it
    ("batch/records.py", "appaudit.report.json_v1"),
    # the family of one APK is computed from its JSON fingerprints block, as the store keeps it
    ("families/api.py", "appaudit.report.json_v1"),
    ("history/snapshot.py", "appaudit.report.json_v1_read"),
    # the browser serves each app's HTML report, rebuilt from the JSON the store keeps
    ("browse/report_page.py", "appaudit.report"),
    ("browse/report_page.py", "appaudit.report.json_v1_read"),
}


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
    allowed = {"report/text.py", "batch/present.py"}
    offenders = [
        str(p.relative_to(SRC))
        for p, tree in _modules()
        if str(p.relative_to(SRC)) not in allowed
        and _package(p) != "cli"
        and any(n.split(".")[0] in ("rich", "typer", "click") for n in _imports(tree))
    ]
    assert offenders == []


def test_layer_direction() -> None:
    problems = []
    for p, tree in _modules():
        banned = FORBIDDEN.get(_package(p), set())
        for name in _imports(tree):
            parts = name.split(".")
            exempt = name in TYPE_MODULES and _package(p) not in NO_TYPE_MODULES
            if parts[0] == "appaudit" and len(parts) > 1 and parts[1] in banned and not exempt:
                problems.append(f"{p.relative_to(SRC)} imports {name}")
    assert problems == []


#: What only the batch presentation renders: the summary's counts, its level columns, the progress lines.
_BATCH_RENDERING = frozenset(
    {"by_status", "by_verdict", "levels", "top_rules", "top_sdks", "failures", "LEVEL_ORDER", "Progress"}
)


def test_cli_renders_no_batch_summary_or_progress() -> None:
    """The CLI only calls batch/present.py: it reads none of the summary's counts, builds no progress display."""
    cli = ast.Module(
        body=[n for p in sorted((SRC / "cli").glob("*.py")) for n in ast.parse(p.read_text()).body], type_ignores=[]
    )
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


def test_other_layers_import_only_the_type_modules_of_apk_and_report() -> None:
    """Outside ``apk`` only its type modules are imported, outside ``report`` only its model:
    the loader and the formats stay private to their layer."""
    problems = []
    for p, tree in _modules():
        package = _package(p)
        for name in _imports(tree):
            parts = name.split(".")
            if (
                parts[0] == "appaudit"
                and len(parts) > 1
                and parts[1] in ("apk", "report")
                and parts[1] != package
                and package not in ROOTS
                and name not in TYPE_MODULES
                and (str(p.relative_to(SRC)), name) not in PRIVATE_IMPORT_EXCEPTIONS
            ):
                problems.append(f"{p.relative_to(SRC)} imports {name}")
    assert problems == []


def test_model_and_errors_import_no_other_appaudit_module() -> None:
    imported = {
        str(p.relative_to(SRC)): sorted(n for n in _imports(tree) if n.startswith("appaudit"))
        for p, tree in _modules()
        if _package(p) in NO_TYPE_MODULES
    }
    assert imported == {"model.py": [], "errors.py": []}


#: (dataclass, field) pairs whose values form a closed set: each must be an Enum or a Literal.
CLOSED_SET_FIELDS = [
    ("appaudit.model", "Evidence", "kind"),
    ("appaudit.model", "Owner", "kind"),
    ("appaudit.apk.dex.types", "CodeHit", "kind"),
    ("appaudit.apk.dex.types", "Insn", "ref_kind"),
    ("appaudit.apk.app", "Component", "kind"),
    ("appaudit.apk.app", "AppInfo", "input_format"),
    ("appaudit.analysis.facts", "ProviderAccess", "how"),
    ("appaudit.analysis.facts", "HarvestChain", "channel"),
    ("appaudit.analysis.facts", "HarvestChain", "dataflow"),
    ("appaudit.analysis.facts", "StartupPath", "trigger"),
    ("appaudit.report.model", "Finding", "effect"),
    ("appaudit.report.model", "Finding", "severity"),
    ("appaudit.report.model", "Finding", "confidence"),
    ("appaudit.report.model", "DataClassResult", "level"),
    ("appaudit.report.model", "Coverage", "status"),
    ("appaudit.report.model", "PolicyViolation", "kind"),
    ("appaudit.report.model", "PolicyViolation", "confidence"),
    ("appaudit.report.model", "Report", "verdict"),
    ("appaudit.ruleset.rule", "Rule", "effect"),
    ("appaudit.ruleset.rule", "Rule", "attribute_to"),
    ("appaudit.policy.packs", "Trigger", "strength"),
    ("appaudit.policy.packs", "Provision", "kind"),
    ("appaudit.policy.packs", "Provision", "confidence"),
    ("appaudit.declarations.model", "DataSafety", "format"),
    ("appaudit.declarations.model", "PrivacyPolicy", "format"),
    ("appaudit.declarations.model", "PolicyMention", "stance"),
    ("appaudit.declarations.model", "ClassComparison", "declared"),
    ("appaudit.declarations.model", "ClassComparison", "policy"),
]


@pytest.mark.parametrize(("module", "cls", "name"), CLOSED_SET_FIELDS)
def test_closed_set_field_is_an_enum_or_literal(module: str, cls: str, name: str) -> None:
    import enum
    import importlib
    import typing

    from appaudit.apk.app import AppInfo
    from appaudit.declarations.model import DeclarationReport

    owner = getattr(importlib.import_module(module), cls)
    # AppInfo and DeclarationReport are imported by report.model for type checking only (see there)
    hint = typing.get_type_hints(owner, localns={"AppInfo": AppInfo, "DeclarationReport": DeclarationReport})[name]
    is_enum = isinstance(hint, type) and issubclass(hint, enum.Enum)
    assert is_enum or typing.get_origin(hint) is typing.Literal, f"{cls}.{name}: {hint!r}"


def test_library_never_prints_or_exits() -> None:
    problems = []
    for p, tree in _modules():
        if _package(p) == "cli" or p.name == "__main__.py":
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
