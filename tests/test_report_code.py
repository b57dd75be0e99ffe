"""scan --with-code: source lines and smali excerpts of the code evidence, in every format (issue #15)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from appaudit.api import ScanOptions, scan
from appaudit.apk.dex import report_code as rc
from appaudit.apk.dex.types import Excerpt, SmaliLine, SourcePosition
from appaudit.report import render
from appaudit.report.model import CodeNotes, Report, code_key
from conftest import ROOT, fixture_apk
from test_report_golden import _check
from test_report_html import CHROMIUM, _chromium, needs_chromium
from test_sarif import sarif_validator

SCHEMA = json.loads((ROOT / "schemas" / "report-v1.schema.json").read_text())
HARVEST = "harvest(Landroid/content/Context;)Ljava/lang/String;"
FORMATS = {"text": "txt", "json": "json", "sarif": "sarif", "markdown": "md", "html": "html"}


def _scan(name: str, **kw: object) -> Report:
    # the path relative to the repository, as the other goldens have it
    return scan(f"fixtures/apks/{name}.apk", ScanOptions(deterministic=True, with_code=True, **kw))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("name", ["contacts_debuginfo", "contacts_const"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_with_code_golden(name: str, fmt: str) -> None:
    _check(f"{name}.code.{FORMATS[fmt]}", render(_scan(name), fmt))


def _code_evidence(doc: dict) -> list[dict]:
    found = [e for f in doc["findings"] for e in f["evidence"] if e["class"] is not None]
    for dc in doc["data_classes"].values():
        found += [p["site"] for p in dc["providers"]]
        for c in dc["chains"]:
            found += [c["read"], *c["steps"], c["sink"]]
        for p in dc["startup_paths"]:
            found += p["steps"]
    return found


def test_json_lines_where_the_dex_kept_them() -> None:
    import jsonschema

    doc = json.loads(render(_scan("contacts_debuginfo"), "json"))
    jsonschema.validate(doc, SCHEMA)
    read = doc["data_classes"]["contacts"]["chains"][0]["read"]
    assert (read["class"], read["offset"], read["source_file"], read["line"]) == (
        "com.example.fixture.Harvester",
        54,
        "Harvester.java",
        22,
    )
    code = read["code"]
    marked = code["lines"][code["marked"]]
    assert marked == {
        "offset": 54,
        "kind": "insn",
        "text": "invoke-virtual/range {v0 .. v5}, Landroid/content/ContentResolver;->query(Landroid/net/Uri;"
        "[Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;",
        # the URI the read resolves to, as the caller's note
        "comment": "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;",
        "line": 22,
    }
    assert code["has_line_numbers"] is True
    sink = doc["data_classes"]["contacts"]["chains"][0]["sink"]
    # Uploader was built without line numbers: its file is known, its line is not
    assert (sink["source_file"], sink["line"], sink["code"]["has_line_numbers"]) == ("Uploader.java", None, False)
    assert doc["code"] == {"excerpts": 7, "truncated": False}
    assert doc["scan_options"]["with_code"] is True
    # every code location carries the three keys, none is left out
    assert all({"source_file", "line", "code"} <= e.keys() for e in _code_evidence(doc))


def test_json_without_line_numbers() -> None:
    doc = json.loads(render(_scan("contacts_const"), "json"))
    evidence = _code_evidence(doc)
    assert evidence and all(e["line"] is None for e in evidence)
    assert {e["source_file"] for e in evidence} == {"Harvester.java", "Uploader.java", "MainActivity.java"}
    assert all(e["code"]["has_line_numbers"] is False for e in evidence)


def test_without_with_code_nothing_is_added() -> None:
    report = scan(fixture_apk("contacts_debuginfo"), ScanOptions(deterministic=True))
    assert report.code == CodeNotes()
    doc = json.loads(render(report, "json"))
    assert "code" not in doc and "with_code" not in doc["scan_options"]
    assert all(not ({"source_file", "line", "code"} & e.keys()) for e in _code_evidence(doc))
    assert "```smali" not in render(report, "markdown")
    assert "<details" not in render(report, "html")
    assert "SRCROOT" not in render(report, "sarif")


def test_excerpt_cap_says_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rc, "MAX_REPORT_EXCERPTS", 2)
    report = _scan("contacts_debuginfo")
    assert (len(report.code.excerpts), len(report.code.positions), report.code.truncated) == (2, 7, True)
    doc = json.loads(render(report, "json"))
    assert doc["code"] == {"excerpts": 2, "truncated": True}
    evidence = _code_evidence(doc)
    # past the cap a location keeps its line, loses its excerpt
    assert sum(e["code"] is not None for e in evidence) >= 2
    assert all(e["line"] is not None or e["source_file"] == "Uploader.java" for e in evidence)
    assert any(e["code"] is None and e["line"] == 14 for e in evidence)


def test_deterministic() -> None:
    assert render(_scan("contacts_debuginfo"), "json") == render(_scan("contacts_debuginfo"), "json")


def test_sarif_regions_and_code_flows() -> None:
    doc = json.loads(render(_scan("contacts_debuginfo"), "sarif"))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator().iter_errors(doc)] == []
    (run,) = doc["runs"]
    assert run["originalUriBaseIds"]["SRCROOT"]["description"]["text"].startswith("The root of the app's")
    harvest = next(r for r in run["results"] if r["ruleId"] == "AA-CON-010")
    physical = harvest["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "com/example/fixture/Harvester.java", "uriBaseId": "SRCROOT"}
    assert physical["region"]["startLine"] == 22
    assert "> +0x36       invoke-virtual/range {v0 .. v5}" in physical["region"]["snippet"]["text"]
    assert (
        harvest["locations"][0]["logicalLocations"][1]["fullyQualifiedName"]
        == f"com.example.fixture.Harvester.{HARVEST}"
    )
    flow = harvest["codeFlows"][0]["threadFlows"][0]["locations"]
    regions = [
        (
            s["location"]["physicalLocation"]["artifactLocation"]["uri"],
            s["location"]["physicalLocation"].get("region", {}).get("startLine"),
        )
        for s in flow
    ]
    # the sink's class has no line numbers: its file is named, with no region
    assert regions == [
        ("com/example/fixture/Harvester.java", 22),
        ("com/example/fixture/MainActivity.java", 14),
        ("com/example/fixture/Uploader.java", None),
    ]


def _hostile(report: Report, text: str) -> Report:
    """The report with its first excerpt's marked line replaced by ``text`` (a string an APK could hold)."""
    key, ex = next(iter(report.code.excerpts.items()))
    lines = list(ex.lines)
    assert ex.marked is not None
    lines[ex.marked] = replace(lines[ex.marked], text=text, comment="<b>note</b>")
    excerpts = dict(report.code.excerpts)
    excerpts[key] = replace(ex, lines=tuple(lines))
    return replace(report, code=replace(report.code, excerpts=excerpts))


def test_html_shows_hostile_code_as_text() -> None:
    report = _hostile(_scan("contacts_debuginfo"), 'const-string v0, "</pre><script>alert(1)</script>"')
    out = render(report, "html")
    assert "<script" not in out.lower() and "<b>note" not in out
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert out.count("<details") == out.count("</details>") == out.count('<pre class="smali">') > 0


def test_markdown_fence_outgrows_backticks_in_the_code() -> None:
    report = _hostile(_scan("contacts_debuginfo"), 'const-string v0, "```\\n# heading ````"')
    out = render(report, "markdown")
    assert "`````smali\n" in out  # one longer than the longest backtick run (4)
    block = out.split("`````smali\n", 1)[1].split("\n`````\n", 1)[0]
    assert 'const-string v0, "```\\n# heading ````"' in block


def test_text_verbose_shows_excerpt_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_cli

    result = run_cli(["scan", "fixtures/apks/contacts_debuginfo.apk", "--verbose", "--deterministic"], capsys)
    out = result.out
    assert result.code == 1
    assert "com.example.fixture.Harvester.harvest() +54 [classes.dex]" in out
    assert "(Harvester.java:22)" in out
    assert "> +0x36       invoke-virtual/range {v0 .. v5}," in out
    result = run_cli(["scan", "fixtures/apks/contacts_const.apk", "--with-code", "--deterministic"], capsys)
    assert "(Harvester.java, no line numbers: stripped or obfuscated build)" in result.out


def test_excerpt_types_import_no_androguard() -> None:
    """Report formats show excerpts but name their type only for annotations: rendering a saved report
    still loads no androguard."""
    code = "import sys, appaudit.report.markdown, appaudit.report.html, appaudit.report.text, appaudit.report.sarif\n"
    code += "print('androguard' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT / "src")}
    )
    assert proc.stdout.strip() == "False"


def test_code_key_is_one_spelling() -> None:
    notes = CodeNotes(positions={code_key(None, "a.B", "m()V", 4): SourcePosition(source_file="B.java", line=3)})
    assert notes.position(None, "a.B", "m()V", 4) == SourcePosition(source_file="B.java", line=3)
    assert notes.position("classes.dex", "a.B", "m()V", 4) is None
    assert notes.position(None, None, "m()V", 4) is None
    ex = Excerpt(
        dex="classes.dex", class_name="a.B", method="m()V", header=(".method m()V",),
        lines=(SmaliLine(offset=0, group=0, kind="insn", text="return-void"),), marked=0,
        source_file="B.java", line=3, has_line_numbers=True, more_before=False, more_after=False,
    )  # fmt: skip
    assert ex.render_text() == "> +0x0        return-void\n"


@needs_chromium
@pytest.mark.slow
def test_chromium_prints_the_excerpts(tmp_path: Path) -> None:
    """Closed on screen, every excerpt is printed (the print stylesheet opens them)."""
    page = tmp_path / "report.html"
    page.write_text(render(_scan("contacts_debuginfo"), "html"), encoding="utf-8")
    assert CHROMIUM.exists()
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert '<details class="code">' in dom and '<details class="code" open' not in dom
    pdf = tmp_path / "report.pdf"
    proc = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert pdf.is_file(), f"no PDF (exit {proc.returncode}): {proc.stderr[-2000:]}"
    import pypdf

    text = "".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    assert "move-result-object v6" in text and "Harvester.java:22" in text
    assert re.search(r"\.local v6, \"c\":Landroid/database/Cursor;", text)
