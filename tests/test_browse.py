"""appaudit browse: the Datasette command and metadata, the named queries, and the browser end to end."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from appaudit.browse.config import FACETS, metadata, named_queries, serve_command
from appaudit.browse.report_page import report_page
from conftest import ROOT, fixture_apk, run_cli
from pngdecode import decode

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
STORE_APPS = ("family_a", "family_b", "family_obfuscated", "family_same_host", "sms_inbox")

needs_browser = pytest.mark.skipif(
    not CHROMIUM.exists() or importlib.util.find_spec("datasette") is None,
    reason=(
        f"needs {CHROMIUM} (apt-get install chromium) and Datasette (pip install 'appaudit[browse]'); "
        ".ci/run installs both"
    ),
)


def _statements(markdown: str) -> list[str]:
    section = markdown[markdown.index("## Questions in SQL") :]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    return [s.strip() for b in blocks for s in b.split(";") if s.strip()]


def test_every_query_of_docs_batch_is_a_named_query() -> None:
    statements = _statements((ROOT / "docs" / "batch.md").read_text(encoding="utf-8"))
    named = [q["sql"].strip() for q in named_queries().values()]
    assert len(statements) == 12
    assert [s for s in statements if s not in named] == []
    assert {"family_members", "shared_read_code", "shared_chain_code", "shared_hosts", "apps_sharing_host"} <= set(
        named_queries()
    )


def test_serve_command_is_read_only_local_and_without_sql(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    cmd = serve_command(db, tmp_path, port=9999)
    assert cmd[:6] == [sys.executable, "-m", "datasette", "serve", "-i", str(db)]
    assert cmd[6:10] == ["--host", "127.0.0.1", "--port", "9999"]
    assert cmd[-6:] == ["--setting", "default_allow_sql", "off", "--setting", "allow_download", "off"]
    assert serve_command(db, tmp_path, allow_sql=True, live=True)[4:5] == [str(db)]
    assert "on" in serve_command(db, tmp_path, allow_sql=True)[-4:]
    meta = metadata(db)["databases"]["results"]
    assert {t: v["facets"] for t, v in meta["tables"].items() if "facets" in v} == FACETS
    assert meta["tables"]["files"] == {"hidden": True}


def test_report_page_escapes_and_says_when_no_report_is_kept() -> None:
    doc = {"app": {"package": "<b>x</b>"}, "verdict": "harvests", "data_classes": {}, "findings": []}
    page = report_page("a" * 64, doc, status="ok", data_url="/r/apps?x=1&y=2")
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page and 'href="/r/apps?x=1&amp;y=2"' in page
    page = report_page("a" * 64, None, status="error", data_url="/r/apps")
    assert "has no stored report (scan status: error)" in page and '<a href="/r/apps">Its rows in the store</a>' in page


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A store of the family fixtures with saved families, served by ``appaudit browse`` on a free port."""
    from appaudit.batch import BatchOptions
    from appaudit.batch.runner import run_batch

    work = tmp_path_factory.mktemp("browse")
    db = work / "results.sqlite"
    run_batch([fixture_apk(n) for n in STORE_APPS], BatchOptions(db=db, workers=1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [sys.executable, "-m", "appaudit", "families", "--db", str(db), "--save"], check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "appaudit", "browse", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail("appaudit browse did not answer within 60 s")
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()[-2000:]
        yield base, work
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _dom(work: Path, url: str) -> str:
    profile = work / "profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
        env={"HOME": str(work), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


@needs_browser
@pytest.mark.slow
def test_browser_app_list_facet_named_query_and_report(served: tuple[str, Path]) -> None:
    base, work = served
    apps = _dom(work, base + "/results/apps")
    assert "5 rows" in apps and "com.example.fixture.family_obfuscated" in apps and "api.dana-kilat.invalid" in apps
    sha = re.search(r'href="/-/appaudit/report/([0-9a-f]{64})"', apps)
    assert sha is not None
    facet = _dom(work, base + "/results/apps?_facet=verdict&_facet=family")
    assert re.search(r'data-column="verdict"', facet) and "harvests" in facet
    assert re.search(r"family_size.*?3", facet, re.S)
    query = _dom(work, base + "/results/shared_hosts")
    assert "api.dana-kilat.invalid" in query and "/v1/contacts/{n},/v2/calls" in query.replace("&#123;", "{")
    report = _dom(work, base + "/-/appaudit/report/" + sha.group(1))
    # the app's own HTML report, rebuilt from the stored JSON
    assert "appaudit report: <code>com.example.fixture." in report and "AA-CON-010" in report
    missing = _dom(work, base + "/-/appaudit/report/" + "0" * 64)
    assert "is not in this store" in missing
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(base + "/results?sql=select+1", timeout=10)
    assert denied.value.code == 403


@needs_browser
@pytest.mark.slow
def test_browser_screenshot_is_not_blank(served: tuple[str, Path]) -> None:
    base, work = served
    png = work / "apps.png"
    profile = work / "profile-shot"
    profile.mkdir(exist_ok=True)
    subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,900"]
        + [base + "/results/apps"],
        capture_output=True,
        timeout=180,
        cwd=work,
        env={"HOME": str(work), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    width, height, bpp, rows = decode(png.read_bytes())
    assert (width, height) == (1200, 900)
    pixels = {row[i : i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 4)}
    assert len(pixels) > 20, "screenshot has almost no colours: blank page?"


def test_browse_refuses_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["browse", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {tmp_path / 'none.sqlite'}: no such results database\n")
