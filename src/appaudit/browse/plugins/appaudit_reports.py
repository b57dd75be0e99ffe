"""Datasette plugin of ``appaudit browse`` (loaded with ``--plugins-dir``; never imported by appaudit).

Adds ``/-/appaudit/report/<sha256>`` (the app's stored report, read through Datasette's own
read-only connection) and links the ``apps`` view's ``apk_sha256`` cells to it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from appaudit.browse.config import REPORT_PATH
from appaudit.browse.report_page import report_page

_SHA = re.compile(r"[0-9a-f]{64}")


async def _report(datasette: Any, request: Any) -> Any:
    sha = request.url_vars["sha"]
    db = datasette.get_database()
    row = (
        await db.execute(
            "SELECT status, report_json FROM scans WHERE apk_sha256 = ? ORDER BY scanned_at DESC LIMIT 1", [sha]
        )
    ).first()
    doc = json.loads(row["report_json"]) if row is not None and row["report_json"] else None
    data_url = datasette.urls.table(db.name, "apps") + f"?apk_sha256={sha}"
    status = row["status"] if row is not None else None
    return Response.html(report_page(sha, doc, status=status, data_url=data_url), status=200 if row else 404)


@hookimpl  # type: ignore[untyped-decorator,unused-ignore]
def register_routes() -> list[tuple[str, Any]]:
    return [(rf"^{REPORT_PATH}(?P<sha>[0-9a-f]{{64}})$", _report)]


@hookimpl  # type: ignore[untyped-decorator,unused-ignore]
def render_cell(value: Any, column: str, table: str | None) -> Any:
    if table == "apps" and column == "apk_sha256" and isinstance(value, str) and _SHA.fullmatch(value):
        return Markup(f'<a href="{REPORT_PATH}{escape(value)}">{escape(value)}</a>')
    return None
