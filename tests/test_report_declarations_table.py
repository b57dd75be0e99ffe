"""The "declared vs found" table of the text, HTML and Markdown reports (issue #16 item 4)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from appaudit.api import ScanOptions, scan
from appaudit.report import render
from appaudit.report.model import Report
from appaudit.report.text import WIDTH
from conftest import ROOT, fixture_apk

D = "tests/declarations/"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # declaration paths appear in the report as given


@pytest.fixture(scope="module")
def declared() -> Report:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        return scan(
            fixture_apk("contacts_const"),
            ScanOptions(
                deterministic=True,
                data_safety=D + "console_hides_contacts.csv",
                privacy_policy=D + "policy_en_discloses.txt",
            ),
        )


@pytest.fixture(scope="module")
def undeclared() -> Report:
    return scan(fixture_apk("contacts_const"), ScanOptions(deterministic=True))


def _after(text: str, heading: str, n: int) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index(heading) : lines.index(heading) + n]


def test_text_table(declared: Report) -> None:
    out = render(declared, "text", lang="en")
    assert _after(out, "Declared vs found", 3) == [
        "Declared vs found",
        "data class      Data safety    policy     found      leaves by  SDKs  rules",
        "contacts        not collected  disclosed  harvested  network    -     AA-DEC-001",
    ]
    zh = render(declared, "text", lang="zh")
    row = "contacts        未收集        已披露  批量收集并外传  网络      -    AA-DEC-001"
    assert _after(zh, "声明与实际对比", 3)[2] == row


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_text_table_fits_80_cells(declared: Report, lang: str) -> None:
    assert max(cell_len(line) for line in render(declared, "text", lang=lang).splitlines()) <= WIDTH


def test_markdown_table(declared: Report) -> None:
    out = render(declared, "markdown", lang="en")
    assert _after(out, "## Declared vs found", 7)[4:] == [
        "| data class | Data safety | privacy policy | found in code | leaves by | SDKs | contradictions |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        "| Contacts `contacts` | not collected | disclosed | harvested | network | \\- | AA-DEC-001 |",
    ]
    zh = render(declared, "markdown", lang="zh")
    assert "| 通讯录 `contacts` | 未收集 | 已披露 | 批量收集并外传 | 网络 | \\- | AA-DEC-001 |" in zh.splitlines()


def test_html_table(declared: Report) -> None:
    out = render(declared, "html", lang="en")
    assert '<section id="declarations"><h2>Declared vs found</h2>' in out
    assert '<a href="#declarations">Declared vs found</a>' in out
    assert (
        '<tr><td>Contacts <code class="muted">contacts</code></td><td>not collected</td><td>disclosed</td>'
        "<td>harvested</td><td>network</td><td>-</td><td>AA-DEC-001</td></tr>"
    ) in out


@pytest.mark.parametrize(
    ("fmt", "heading"),
    [("text", "Declared vs found"), ("markdown", "## Declared vs found"), ("html", 'id="declarations"')],
)
def test_no_table_without_declarations(undeclared: Report, fmt: str, heading: str) -> None:
    assert undeclared.declarations is None
    assert heading not in render(undeclared, fmt, lang="en")
