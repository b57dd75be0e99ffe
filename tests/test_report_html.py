"""HTML and Markdown reports, the English/Chinese catalogue, and rendering in headless Chromium."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from functools import cache
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from string import Formatter

import pytest

from appaudit.model import Evidence, Owner, Severity, Verdict
from appaudit.report import render
from appaudit.report.common import is_web_link, severity_label
from appaudit.report.i18n import LANGS, catalogue, t
from appaudit.report.model import Coverage, CoverageReason, Finding, PolicyResult, PolicyViolation, Report
from conftest import ALL_FIXTURES, fixture_apk, run_cli
from pngdecode import decode

EN, ZH = catalogue("en"), catalogue("zh")
CHROMIUM = Path("/usr/bin/chromium")
LANG_FORMATS = [(fmt, lang) for fmt in ("html", "markdown") for lang in LANGS]


def _shown(fmt: str, text: str) -> str:
    """``text`` as the format writes it (escaped)."""
    if fmt == "html":
        return escape(text, quote=True)
    from appaudit.report.markdown import _text

    return _text(text, inline=True)


@cache
def _scan(name: str) -> Report:
    from appaudit.api import scan

    return dataclasses.replace(scan(fixture_apk(name)), run=None)


# --- the catalogue -------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in Formatter().parse(text) if name is not None}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert set(EN) == set(ZH)
    assert {k: _fields(v) for k, v in EN.items()} == {k: _fields(v) for k, v in ZH.items()}
    assert all(v.strip() for v in (*EN.values(), *ZH.values()))


def test_catalogue_covers_every_verdict_and_class() -> None:
    from appaudit.model import DATA_CLASSES, Level

    for lang in LANGS:
        for v in Verdict:
            assert t(f"verdict.{v.value}", lang) and t(f"verdict.{v.value}.why", lang)
        for name in DATA_CLASSES:
            assert t(f"dc.{name}", lang)
        for level in Level:
            assert t(f"level.{level.value}", lang)
    with pytest.raises(ValueError, match="unsupported language"):
        t("verdict", "fr")


# --- every fixture, both formats, both languages -----------------------------------------


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_renders(name: str, fmt: str, lang: str) -> None:
    report = _scan(name)
    out = render(report, fmt, lang=lang)
    assert out.endswith("\n")
    assert report.app.package and report.app.package in out
    assert t(f"verdict.{report.verdict.value}", lang) in out
    assert _shown(fmt, t(f"verdict.{report.verdict.value}.why", lang)) in out
    assert report.app.sha256 in out and report.ruleset_sha256 in out
    if fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
        assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in out
        # the verdict comes first: before any section of detail
        assert out.index('id="verdict"') < out.index('id="protected"') < out.index('id="findings"')


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_chinese_output(fmt: str) -> None:
    out = render(_scan("contacts_const"), fmt, lang="zh")
    for phrase in ("结论", "收集并外传", "通讯录", "爆通讯录", "违反的政策条款", "来源信息", "覆盖范围"):
        assert phrase in out, phrase
    assert "Protected data" not in out and "Provenance" not in out


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
def test_key_phrases(fmt: str, lang: str) -> None:
    out = render(_scan("contacts_const"), fmt, lang=lang).replace("<wbr>", "")
    for key in ("sec.protected", "sec.policies", "sec.findings", "sec.neighbours", "sec.coverage", "sec.provenance"):
        assert t(key, lang) in out, key
    assert _shown(fmt, t("harm.contacts", lang)) in out
    assert "http://collector.invalid/upload" in out  # the chain's URL
    assert "com.example.fixture.Uploader.upload() +44" in out  # the chain's sink step
    assert "CN-NECESSARY-LENDING" in out and "GP-PL-SENSITIVE" in out


@pytest.mark.parametrize(
    ("name", "harm"),
    [
        ("calllog", "harm.call_log"),
        ("sms_inbox", "harm.sms"),
        ("neighbours", "harm.location"),
        ("media_uri", "harm.photos_media"),
    ],
)
@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_harassment_practice_named(name: str, harm: str, fmt: str) -> None:
    for lang in LANGS:
        assert _shown(fmt, t(harm, lang)) in render(_scan(name), fmt, lang=lang)


def test_no_harassment_claim_without_data() -> None:
    out = render(_scan("benign"), "html")
    assert all(
        _shown("html", t(f"harm.{c}", "en")) not in out
        for c in ("contacts", "sms", "call_log", "location", "photos_media")
    )


# --- citations: confidence shown honestly --------------------------------------------------


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
def test_citation_confidence_is_shown(fmt: str, lang: str) -> None:
    report = _scan("contacts_const")
    out = render(report, fmt, lang=lang)
    violations = [v for p in report.policies for v in p.violations]
    by_conf = {c: sum(v.confidence == c for v in violations) for c in "VPU"}
    assert by_conf["U"] and by_conf["P"] and by_conf["V"]
    # each P and U citation carries its caveat twice (badge/headline and next to the article), V once
    assert out.count(_shown(fmt, t("pol.conf.U", lang))) == 2 * by_conf["U"]
    assert out.count(_shown(fmt, t("pol.conf.P", lang))) == 2 * by_conf["P"]
    assert out.count(_shown(fmt, t("pol.conf.V", lang))) == by_conf["V"]
    for v in violations:
        # in Chinese, a provision with a Chinese paraphrase shows it instead of the English one
        said = v.paraphrase_zh if lang == "zh" and v.paraphrase_zh else v.paraphrase
        assert _shown(fmt, v.instrument) in out and v.effective in out and _shown(fmt, said) in out
    if lang == "zh":
        zh_only = [v for v in violations if v.paraphrase_zh]
        assert zh_only and all(_shown(fmt, v.paraphrase) not in out for v in zh_only)
        # the trigger lines are translated too: none of the English reasons is left
        assert all(_shown(fmt, line) not in out for v in violations for line in v.triggered_by)
        assert (
            _shown(fmt, "通讯录：代码读取全部数据") in out
            and _shown(fmt, "通讯录：声明了 android.permission.READ_CONTACTS") in out
        )


# --- evidence tables: one finding's rows, kinds in their own column, one read site ---------------------


class _EvidenceTables(HTMLParser):
    """(caption, headers, rows of cell texts) of every ``table.ev``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self._in: str | None = None
        self._open = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "ev") in attrs:
            self.tables.append(("", [], []))
            self._open = True
        elif self._open and tag in ("caption", "th", "td"):
            self._in, self._text = tag, ""
        elif self._open and tag == "tr":
            self.tables[-1][2].append([])

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._open = False
        elif tag == self._in and self._open:
            caption, heads, rows = self.tables[-1]
            if tag == "caption":
                self.tables[-1] = (self._text, heads, rows)
            elif tag == "th":
                heads.append(self._text.strip())
            else:
                rows[-1].append(self._text)
            self._in = None


@pytest.mark.parametrize("lang", LANGS)
def test_evidence_tables_group_by_finding(lang: str) -> None:
    report = _scan("contacts_const")
    parser = _EvidenceTables()
    parser.feed(render(report, "html", lang=lang))
    findings = [f for f in report.findings if f.evidence]
    captions = [f"{f.rule_id} · {severity_label(f.severity, lang)}" for f in findings]
    assert [cap for cap, _h, _r in parser.tables] == captions
    heads = [t(f"ev.{k}", lang) for k in ("kind", "class", "method", "offset", "value", "component")]
    heads[3] += " ?"
    for (_cap, got, rows), f in zip(parser.tables, findings, strict=True):
        assert got == heads
        body = [r for r in rows if r]
        assert [r[0] for r in body] == [t(f"evkind.{e.kind}", lang) for e in f.evidence]
        # no kind in the class column, no rule or severity repeated per row
        assert [r[1] for r in body] == [e.class_name or "" for e in f.evidence]
        assert all(f.rule_id not in "".join(r) for r in body)
    # the constant AA-CON-002 cites is loaded at +18 and read by the query at +54: the same +54 as "How it is read"
    con2 = parser.tables[[f.rule_id for f in findings].index("AA-CON-002")][2][1]
    assert con2[3] == "18" + t("ev.read_at", lang, offset=54)
    assert report.data_classes["contacts"].accesses[0].evidence.offset == 54


# --- self-contained: no external references --------------------------------------------------


class _Refs(HTMLParser):
    """Collects every URL-bearing attribute, the ids, and which links sit in the policy section."""

    URL_ATTRS = frozenset({"src", "srcset", "action", "formaction", "data", "poster", "background", "ping"})
    VOID = frozenset({"meta", "br", "wbr", "img", "input", "link", "hr", "col", "area", "base", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.tags: set[str] = set()
        self.ids: set[str] = set()
        self.hrefs: list[tuple[str, bool]] = []
        self.other_urls: list[tuple[str, str, str]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        in_policies = any(sid == "policies" for _t, sid in self.stack)
        for key, value in attrs:
            if key == "href":
                self.hrefs.append((value or "", in_policies))
            elif key in self.URL_ATTRS or key.startswith("on"):
                self.other_urls.append((tag, key, value or ""))
        if tag not in self.VOID:
            self.stack.append((tag, a.get("id")))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def _refs(html_text: str) -> _Refs:
    parser = _Refs()
    parser.feed(html_text)
    parser.close()
    return parser


@pytest.mark.parametrize("name", ["contacts_const", "sdk_harvest", "neighbours", "benign", "signed"])
@pytest.mark.parametrize("lang", LANGS)
def test_html_has_no_external_references(name: str, lang: str) -> None:
    """Nothing loads from anywhere; the only outward links are citation sources, in the policy section."""
    report = _scan(name)
    out = render(report, "html", lang=lang)
    refs = _refs(out)
    assert refs.tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed", "base", "form", "svg"})
    assert refs.other_urls == []
    assert "url(" not in refs.style and "@import" not in refs.style
    assert 'src="' not in out and "src='" not in out
    assert "Content-Security-Policy" in out and "default-src 'none'" in out
    sources = {v.source for p in report.policies for v in p.violations if is_web_link(v.source)}
    external = set()
    for href, in_policies in refs.hrefs:
        if href.startswith("#"):
            assert href[1:] in refs.ids, f"dangling anchor {href}"
        else:
            assert in_policies, f"external link outside the policy section: {href}"
            assert href in sources, href
            external.add(href)
    assert external == sources
    assert all(h.startswith(("#", "https://", "http://")) for h, _ in refs.hrefs)


# --- escaping ----------------------------------------------------------------------------------

EVIL = "<script>alert('x')</script>"


def _evil_report() -> Report:
    base = _scan("contacts_const")
    owner = Owner(kind="sdk", name="<b>Evil SDK</b>", vendor="V&V", category="ads")
    finding = Finding(
        rule_id="AA-XSS-001",
        title=f"title {EVIL}",
        severity=base.findings[0].severity,
        confidence=base.findings[0].confidence,
        data_class="contacts",
        effect="reads",
        message="message | with *markdown* _and_ `ticks` and [a](http://link.invalid)",
        evidence=(
            Evidence(
                kind="const-string",
                value=EVIL,
                dex="classes.dex",
                class_name="a.B",
                method="m()V",
                offset=4,
                owner=owner,
            ),
            Evidence(kind="permission", value="perm|<i>x</i>"),
        ),
        evidence_total=2,
        owners=(owner,),
    )
    violation = PolicyViolation(
        provision="XSS-1",
        instrument="<img src=x onerror=alert(1)>",
        article='Art. "1" <u>',
        paraphrase=EVIL,
        source="javascript:alert(1)",
        effective="2020-01-01",
        confidence="U",
        kind="prohibited",
        data_classes=("contacts",),
        triggered_by=(EVIL,),
    )
    pack = PolicyResult(id="evil", name="<Evil pack>", jurisdiction="X", version="1", violations=(violation,))
    app = dataclasses.replace(
        base.app, manifest=dataclasses.replace(base.app.manifest, package="com.evil<x>&y", version_name="<1>")
    )
    return dataclasses.replace(
        base,
        app=app,
        findings=(finding, *base.findings),
        policies=(pack, *base.policies),
        input_path="/tmp/<evil>.apk",
    )


@pytest.mark.parametrize("lang", LANGS)
def test_html_escapes_everything(lang: str) -> None:
    out = render(_evil_report(), "html", lang=lang)
    assert "<script" not in out.lower()
    assert "&lt;script&gt;" in out
    assert "<b>Evil" not in out and "<img" not in out and "<u>" not in out and "<i>x" not in out
    assert "com.evil&lt;x&gt;&amp;y" in out
    assert 'href="javascript' not in out and "javascript:alert(1)" in out  # shown, not linked
    refs = _refs(out)
    assert refs.other_urls == []
    assert all(h.startswith(("#", "https://", "http://")) for h, _ in refs.hrefs)


def _outside_code_spans(md: str) -> str:
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", md)


@pytest.mark.parametrize("lang", LANGS)
def test_markdown_escapes_everything(lang: str) -> None:
    out = render(_evil_report(), "markdown", lang=lang)
    plain = _outside_code_spans(out)
    # the only raw "<" left are line breaks in table cells and autolinks of http(s) citation sources
    assert re.findall(r"(?<!\\)<(?!br>|https?://)", plain) == []
    assert "\\<script\\>" in plain
    assert "<javascript:" not in out and "](javascript" not in out
    assert "\\*markdown\\*" in plain and "\\[a\\]" in plain
    # the evidence value sits in a code span; a pipe in a table cell is escaped
    assert "`\"<script>alert('x')</script>\"`" in out
    assert "perm\\|" in out
    # table rows keep their column count despite pipes in values
    for line in out.splitlines():
        if line.startswith("| AA-XSS-001"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 8


# --- coverage, inconclusive, provenance, determinism -----------------------------------------------


def _inconclusive() -> Report:
    base = _scan("benign")
    cov = Coverage(
        status="partial",
        reasons=(
            CoverageReason(code="packer", detail="known packer library: libjiagu.so"),
            CoverageReason(code="dynamic_code_loading", detail="DexClassLoader in a.B.c()"),
        ),
    )
    return dataclasses.replace(base, coverage=cov, verdict=Verdict.INCONCLUSIVE)


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
def test_inconclusive_is_explained_up_front(fmt: str, lang: str) -> None:
    out = render(_inconclusive(), fmt, lang=lang)
    explain = out.index(_shown(fmt, t("verdict.inconclusive.explain", lang)))
    first_section = out.index(t("sec.protected", lang), out.index(t("verdict.inconclusive", lang)))
    assert explain < first_section
    for code, detail in (("packer", "libjiagu.so"), ("dynamic_code_loading", "DexClassLoader")):
        assert out.index(code) < first_section and detail in out
        assert _shown(fmt, t(f"cov.reason.{code}", lang)) in out


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
def test_provenance(fmt: str, lang: str) -> None:
    report = _scan("signed")
    out = render(report, fmt, lang=lang)
    app = report.app
    assert app.signer_sha256
    for value in (app.sha256, app.sha1, app.md5, str(app.size), *app.signer_sha256, report.ruleset_sha256):
        assert value in out
    assert f"{report.tool_name} {report.tool_version}" in out
    for p in report.policies:
        assert f"{p.id} {p.version}" in out


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_deterministic_and_run_shown_only_when_present(fmt: str) -> None:
    from appaudit.api import scan

    first = scan(fixture_apk("sdk_harvest"))
    second = scan(fixture_apk("sdk_harvest"))
    assert first.run is not None
    one = render(first, fmt)
    assert first.run.started_at in one
    assert render(dataclasses.replace(first, run=None), fmt) == render(dataclasses.replace(second, run=None), fmt)
    without = render(dataclasses.replace(first, run=None), fmt)
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", without)


def test_errors_are_listed() -> None:
    from appaudit.report.model import ScanErrorEntry

    report = dataclasses.replace(
        _scan("benign"), errors=(ScanErrorEntry(where="classes2.dex", message="bad <header>"),)
    )
    for fmt in ("html", "markdown"):
        out = render(report, fmt)
        assert "classes2.dex" in out and "bad &lt;header&gt;" in out or "bad \\<header\\>" in out


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "lang"), LANG_FORMATS)
def test_cli_format_and_lang(fmt: str, lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / f"report.{fmt}"
    result = run_cli(
        ["scan", fixture_apk("contacts_const"), "--format", fmt, "--lang", lang, "-o", str(target)], capsys
    )
    assert result.code == 1 and result.out == ""  # harvesting is critical: the default gate fails
    text = target.read_text(encoding="utf-8")
    assert t("verdict.harvests", lang) in text
    assert "\x1b[" not in text


def test_cli_text_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["scan", fixture_apk("contacts_const"), "--lang", "zh", "--fail-on", "never"], capsys)
    assert result.code == 0
    assert "结论：收集并外传" in result.out and "检测结果（6）" in result.out
    assert "com.example.fixture.Harvester" in result.out


def test_cli_rejects_unknown_lang(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", fixture_apk("contacts_const"), "--lang", "fr"], capsys).code == 2


def test_json_ignores_lang() -> None:
    report = _scan("contacts_const")
    assert render(report, "json", lang="zh") == render(report, "json")


# --- headless Chromium -----------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=(
        f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run tries to) "
        "to run the HTML rendering check"
    ),
)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


def _page(tmp_path: Path, lang: str) -> Path:
    page = tmp_path / f"report-{lang}.html"
    page.write_text(render(_scan("contacts_const"), "html", lang=lang), encoding="utf-8")
    return page


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_chromium_screenshot_is_not_blank(tmp_path: Path, lang: str) -> None:
    page = _page(tmp_path, lang)
    png = tmp_path / "shot.png"
    proc = _chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1600", page.as_uri())
    assert png.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    width, height, bpp, rows = decode(png.read_bytes())
    assert (width, height) == (1200, 1600)
    colours: set[bytes] = set()
    non_white = banner = 0
    for row in rows[::2]:
        for i in range(0, len(row), bpp * 2):
            px = row[i : i + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                non_white += 1
            if px == b"\xb3\x26\x1e":  # the HARVESTS banner's background (#b3261e)
                banner += 1
    sampled = (height // 2) * (width // 2)
    assert len(colours) > 50, "screenshot has almost no colours: blank page?"
    assert non_white > sampled // 20, "screenshot is almost all white"
    assert banner > 10_000, "the red HARVESTS verdict banner is not on screen: CSS not applied?"


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_chromium_dom_has_key_text(tmp_path: Path, lang: str) -> None:
    proc = _chromium(tmp_path, "--dump-dom", _page(tmp_path, lang).as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    for text in (
        t("verdict.harvests", lang),
        t("verdict.harvests.why", lang),
        "com.example.fixture.contacts_const",
        t("harm.contacts", lang),
        t("sec.provenance", lang),
        # the evidence table: kind column, rule and severity once in the caption, the read site beside a URI
        f"<caption>AA-CON-002 · {severity_label(Severity.HIGH, lang)}</caption>",
        f"<th>{t('ev.kind', lang)}</th><th>{t('ev.class', lang)}</th>",
        escape(t("ev.read_at", lang, offset=54), quote=False),
        t("evkind.permission", lang),
    ):
        assert text in dom, text
    if lang == "zh":
        assert "通讯录：代码读取全部数据" in dom and "网络借贷类应用的必要个人信息" in dom


@needs_chromium
@pytest.mark.slow
def test_chromium_prints_to_pdf(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    proc = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", _page(tmp_path, "en").as_uri())
    assert pdf.is_file(), f"no PDF (exit {proc.returncode}): {proc.stderr[-2000:]}"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
