"""Excerpts: exact smali around an evidence offset, source positions, caps, escaping, and no cost in a scan."""

from __future__ import annotations

import subprocess
import sys

import pytest

from appaudit.apk import load_apk
from appaudit.apk.dex import excerpt as excerpt_mod
from appaudit.apk.dex.excerpt import (
    SourcePosition,
    excerpt_for,
    line_range,
    render_text,
    source_position,
)
from appaudit.apk.dex.smali_text import escape_string
from conftest import ROOT, fixture_apk

H = "com.example.fixture.Harvester"
HARVEST = "harvest(Landroid/content/Context;)Ljava/lang/String;"
LABEL = "label(IJ)Ljava/lang/String;"
PHONE = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"


def _code(name: str):  # type: ignore[no-untyped-def]
    return load_apk(fixture_apk(name)).code


def test_read_site_excerpt_is_exact() -> None:
    excerpt = excerpt_for(_code("contacts_debuginfo"), "classes.dex", H, HARVEST, 0x12, context=1)
    assert excerpt is not None
    assert (excerpt.source_file, excerpt.line, excerpt.has_line_numbers) == ("Harvester.java", 23, True)
    assert (excerpt.more_before, excerpt.more_after, excerpt.truncated) == (True, True, True)
    assert render_text(excerpt) == (
        "              ...\n"
        "  +0x10       move-result-object v0\n"
        "              .line 23\n"
        f"> +0x12       sget-object v1, {PHONE}\n"
        "              .line 24\n"
        "  +0x16       const/4 v2, 0x2\n"
        "              ...\n"
    )
    assert [ln.line for ln in excerpt.lines] == [22, 23, 23, 24, 24]


def test_without_debug_info_the_position_says_so() -> None:
    code = _code("contacts_const")
    excerpt = excerpt_for(code, "classes.dex", H, HARVEST, 0x12, context=0)
    assert excerpt is not None
    assert (excerpt.source_file, excerpt.line, excerpt.has_line_numbers) == ("Harvester.java", None, False)
    assert [(ln.offset, ln.text) for ln in excerpt.lines] == [(0x12, f"sget-object v1, {PHONE}")]
    assert source_position(code, "classes.dex", H, HARVEST, 0x12) == SourcePosition(
        source_file="Harvester.java", line=None
    )
    obf = _code("obfuscated_harvest")
    assert source_position(obf, "classes.dex", "a.b.c", "a" + HARVEST[7:], 0x12) == SourcePosition(
        source_file=None, line=None
    )


def test_source_positions_of_a_chain() -> None:
    code = _code("contacts_debuginfo")
    on_create = "onCreate(Landroid/os/Bundle;)V"
    main = "com.example.fixture.MainActivity"
    assert source_position(code, "classes.dex", main, on_create, 0x6) == SourcePosition(
        source_file="MainActivity.java", line=14
    )
    assert source_position(code, "classes.dex", main, on_create, 0x14) == SourcePosition(
        source_file="MainActivity.java", line=16
    )
    assert source_position(code, None, H, LABEL, 0xBE) == SourcePosition(source_file="Util.kt", line=7)
    assert line_range(code, "classes.dex", H, HARVEST) == (21, 32)
    assert line_range(code, "classes.dex", "com.example.fixture.Uploader", "upload(Ljava/lang/String;)V") is None


def test_not_found() -> None:
    code = _code("contacts_debuginfo")
    assert excerpt_for(code, "classes2.dex", H, HARVEST, 0x12) is None
    assert excerpt_for(code, "classes.dex", H, "nope()V", 0) is None
    assert excerpt_for(code, "classes.dex", "com.example.Missing", HARVEST, 0) is None
    assert source_position(code, "classes.dex", H, "nope()V", 0) is None
    off_grid = excerpt_for(code, "classes.dex", H, HARVEST, 0x13)
    assert off_grid is not None and off_grid.marked is None and not off_grid.truncated


def test_multidex_evidence_is_found_in_its_dex() -> None:
    code = _code("multidex")
    excerpt = excerpt_for(code, "classes2.dex", H, HARVEST, 0x12, context=0)
    assert excerpt is not None and excerpt.dex == "classes2.dex"
    assert excerpt_for(code, "classes.dex", H, HARVEST, 0x12) is None


def test_strings_are_escaped_as_smali_does() -> None:
    excerpt = excerpt_for(_code("contacts_debuginfo"), "classes.dex", H, LABEL, 0xB4, context=0)
    assert excerpt is not None
    assert excerpt.lines[excerpt.marked or 0].text == r'const-string v2, "tab\t \"q\" \\ \'a\' \u4e2d\n"'
    assert escape_string("a\rb\x00\x7f\u00e9\U0001f600<&>") == r"a\rb\u0000\u007f\u00e9\ud83d\ude00<&>"


def test_resolved_strings_and_notes_are_comments() -> None:
    code = _code("sms_inbox")
    notes = {0x16: "resolves to the SMS inbox\nsecond line"}
    excerpt = excerpt_for(code, "classes.dex", H, HARVEST, 0x12, context=1, notes=notes)
    assert excerpt is not None
    assert [(ln.text, ln.comment) for ln in excerpt.lines] == [
        ("move-result-object v0", None),
        ('const-string v1, "content://sms/inbox"', None),
        (
            "invoke-static {v1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;",
            'v1 = "content://sms/inbox"; resolves to the SMS inbox\\nsecond line',
        ),
    ]


def test_context_is_clamped_and_lines_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    code = _code("contacts_debuginfo")
    whole = excerpt_for(code, "classes.dex", H, LABEL, None)
    assert whole is not None and not whole.truncated and whole.marked is None
    wide = excerpt_for(code, "classes.dex", H, LABEL, 0x6A, context=10_000)
    assert wide is not None and wide.lines == whole.lines and not wide.truncated
    monkeypatch.setattr(excerpt_mod, "MAX_EXCERPT_LINES", 5)
    capped = excerpt_for(code, "classes.dex", H, LABEL, 0x6A, context=50)
    assert capped is not None and len(capped.lines) == 5 and capped.truncated
    assert capped.marked == 2 and capped.lines[2].offset == 0x6A
    monkeypatch.setattr(excerpt_mod, "MAX_METHOD_LINES", 7)
    cut = excerpt_for(code, "classes.dex", H, LABEL, None)
    assert cut is not None and len(cut.lines) == 7 and (cut.more_before, cut.more_after) == (False, True)


def test_excerpts_are_deterministic() -> None:
    first = excerpt_for(_code("contacts_debuginfo"), "classes.dex", H, LABEL, None)
    second = excerpt_for(_code("contacts_debuginfo"), "classes.dex", H, LABEL, None)
    assert first == second


def test_a_scan_never_decodes_debug_info_or_formats_smali() -> None:
    script = (
        "import sys; from appaudit.api import scan; scan(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[-1] in "
        "('debuginfo', 'smali', 'smali_text', 'excerpt', 'lookup')))"  # try tables: the data-flow check reads them
    )
    done = subprocess.run(
        [sys.executable, "-c", script, fixture_apk("contacts_debuginfo")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
