"""The wheel carries the rules, schemas and report assets, and an installed copy finds them; its hot modules
are compiled by mypyc where the machine can, give the same reports as the sources, and a machine that cannot
gets the pure-Python wheel (hatch_build.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, fixture_apk

#: The modules pyproject.toml has the wheel compile (as ``appaudit.x.y``).
COMPILED = sorted(
    p.removeprefix("/src/").removesuffix(".py").replace("/", ".")
    for p in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "hooks"
    ]["custom"]["include"]
)
#: Every fixture APK's deterministic JSON report, one after the other: run by the installed copy and by the
#: sources' interpreter, whose outputs must be the same.
_REPORTS = r"""
import sys
from appaudit.api import ScanOptions, scan
from appaudit.report import render
from appaudit.ruleset import load_ruleset
ruleset = load_ruleset()
for apk in sys.argv[1:]:
    sys.stdout.write(render(scan(apk, ScanOptions(deterministic=True), ruleset=ruleset), "json"))
"""


def _can_compile() -> bool:
    """A C compiler for extensions is on this machine (else the wheel is pure Python by design)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


def _wheel(dist: Path, env: dict[str, str] | None = None) -> tuple[Path, str]:
    """Build the wheel into ``dist``: (the wheel, pip's verbose output, which carries the build hook's lines)."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("appaudit-*.whl")
    return wheel, build.stdout + build.stderr


@pytest.mark.slow
def test_wheel_ships_rules_and_schemas_and_scans(tmp_path: Path) -> None:
    wheel, _output = _wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    # the hot modules compiled (their sources shipped too), or, without a compiler, none: a pure wheel
    extensions = sorted(n.split(".")[0].replace("/", ".") for n in names if n.endswith(".so") and "/" in n)
    assert extensions == (COMPILED if _can_compile() else [])
    assert wheel.name.endswith("-py3-none-any.whl") is not _can_compile()
    assert {f"{m.replace('.', '/')}.py" for m in COMPILED} <= names
    assert not list((ROOT / "src").rglob("*.so"))  # the in-place build products are gone from the sources
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
    version = subprocess.run(
        [str(venv / "bin" / "appaudit"), "--version"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    built = f"{len(COMPILED)} modules compiled by mypyc" if _can_compile() else "pure Python"
    assert version.stdout == f"appaudit 0.1.0 ({built})\n"
    # the installed (compiled) copy and the sources give byte-identical reports on every fixture
    apks = sorted(str(p) for p in FIXTURES.glob("*.apk"))
    installed = subprocess.run(
        [str(py), "-c", _REPORTS, *apks], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    here = subprocess.run([sys.executable, "-c", _REPORTS, *apks], capture_output=True, text=True, timeout=600)
    assert here.returncode == 0, here.stderr[-2000:]
    assert installed.stdout == here.stdout


@pytest.mark.slow
def test_wheel_is_pure_python_on_request_and_without_a_compiler(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "APPAUDIT_PURE_PYTHON"}
    asked, said = _wheel(tmp_path / "asked", {**env, "APPAUDIT_PURE_PYTHON": "1"})
    assert "appaudit: APPAUDIT_PURE_PYTHON is set: building the pure-Python wheel" in said
    # a compiler that fails (as a missing one does): the build says so and still gives the pure wheel
    broken, said = _wheel(tmp_path / "broken", {**env, "CC": "false"})
    assert "appaudit: mypyc could not compile the hot modules (" in said
    for wheel in (asked, broken):
        assert wheel.name == "appaudit-0.1.0-py3-none-any.whl"
        assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]
    assert asked.read_bytes() == broken.read_bytes()
    assert not list((ROOT / "src").rglob("*.so"))
