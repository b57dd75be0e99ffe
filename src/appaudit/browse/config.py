"""The Datasette command line and metadata for a results store (nothing here serves anything).

Datasette does the serving: ``datasette serve -i STORE`` (immutable: SQLite opens the
file read-only and never writes), bound to 127.0.0.1 unless asked otherwise, arbitrary
SQL off (``default_allow_sql off``) unless ``--allow-sql``; the named queries of
``queries.yaml`` stay available either way. ``plugins/appaudit_reports.py`` adds the
report page of each app and links the ``apps`` view to it.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

#: Where each app's stored report is served (``plugins/appaudit_reports.py`` registers it).
REPORT_PATH = "/-/appaudit/report/"

#: Facets of each table and view, as Datasette offers them on its table pages.
FACETS: dict[str, list[str]] = {
    "apps": ["verdict", "max_severity", "coverage", "status", "family"],
    "scans": ["status", "verdict", "coverage", "max_severity"],
    "findings": ["rule_id", "severity", "data_class", "component"],
    "data_classes": ["data_class", "level"],
    "chains": ["data_class", "channel", "dataflow"],
    "endpoints": ["host", "data_class"],
    "fingerprints": ["kind", "data_class"],
}


def named_queries() -> dict[str, dict[str, str]]:
    """The canned queries: docs/batch.md's questions and the family queries."""
    text = files("appaudit.browse").joinpath("queries.yaml").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, str]] = yaml.safe_load(text)
    return loaded


def metadata(db: Path) -> dict[str, Any]:
    """Datasette metadata for the store ``db``: title, facets, hidden tables and the named queries."""
    tables: dict[str, Any] = {name: {"facets": facets} for name, facets in FACETS.items()}
    tables["apps"]["description"] = (
        "One row per scanned app and ruleset: verdict, levels, SDKs, family (from the last "
        "`appaudit families --save`; empty before) and upload hosts. The sha256 links to the app's report."
    )
    tables["files"] = {"hidden": True}
    return {
        "title": "appaudit results",
        "description": f"Results store {db.name}: read-only. Families: `appaudit families --db {db.name} --save`.",
        "databases": {db.stem: {"tables": tables, "queries": named_queries()}},
    }


def serve_command(
    db: Path, workdir: Path, *, host: str = "127.0.0.1", port: int = 8001, allow_sql: bool = False, live: bool = False
) -> list[str]:
    """The ``datasette serve`` command for ``db``; writes its metadata into ``workdir``.

    ``live`` opens the store as a normal read-only database instead of immutable, so the pages
    follow a batch still writing to it (Datasette then re-counts tables on each page)."""
    meta = workdir / "metadata.json"
    meta.write_text(json.dumps(metadata(db), indent=2), encoding="utf-8")
    plugins = Path(str(files("appaudit.browse").joinpath("plugins")))
    cmd = [sys.executable, "-m", "datasette", "serve"]
    cmd += [str(db)] if live else ["-i", str(db)]
    cmd += ["--host", host, "--port", str(port), "--metadata", str(meta), "--plugins-dir", str(plugins)]
    cmd += ["--setting", "default_allow_sql", "on" if allow_sql else "off"]
    cmd += ["--setting", "allow_download", "off"]
    return cmd
