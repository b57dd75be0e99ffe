"""The wheel carries the rules, schemas and report assets, and an installed copy finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, fixture_apk


@pytest.mark.slow
def test_wheel_ships_rules_and_schemas_and_scans(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("appaudit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "appaudit/_data/schemas/rule.schema.json" in names
    assert "appaudit/_data/schemas/report-v1.schema.json" in names
    assert "appaudit/_data/schemas/baseline.schema.json" in names
    assert "appaudit/_data/rules/contacts/contacts-provider-constant.yaml" in names
    assert "appaudit/_data/rules/split_permissions.yaml" in names
    # the report's package data: the HTML style sheet and every language's message catalogue
    from appaudit.report.i18n import LANGS

    assert {"appaudit/report/assets/report.css", *(f"appaudit/report/assets/{lang}.json" for lang in LANGS)} <= names
    assert "appaudit/apk/framework_attributes.txt" in names  # the binary-XML reader's attribute names

    # Install into a fresh venv that sees this interpreter's dependencies through a .pth file.
    # (``--system-site-packages`` would inherit the *base* interpreter's packages, not those of the
    # virtualenv the tests may run in, and the installed tool would die on a missing dependency.)
    venv = tmp_path / "venv"
    # The installed copy alone: a PYTHONPATH pointing at a source tree would shadow the wheel.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(venv_site, "_appaudit_test_deps.pth").write_text("".join(f"{d}\n" for d in sorted(ours)))
    inst = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert inst.returncode == 0, inst.stderr
    where = subprocess.run(
        [str(py), "-c", "import appaudit.resources as r; print(r.rules_dir())"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("appaudit/_data/rules")
    scan = subprocess.run(
        [str(venv / "bin" / "appaudit"), "scan", fixture_apk("contacts_const"), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    # Output first: a traceback also exits 1.
    assert "Traceback" not in scan.stderr, scan.stderr
    assert '"verdict": "harvests"' in scan.stdout, scan.stderr
    assert scan.returncode == 1
