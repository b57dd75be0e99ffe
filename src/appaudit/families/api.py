"""The families of a results store, or the family of one APK against it."""

from __future__ import annotations

from pathlib import Path

from appaudit.families.defaults import MAX_SHARED, MIN_SCORE
from appaudit.families.group import group
from appaudit.families.model import AppNode, FamiliesResult, Key
from appaudit.families.store_read import connect_readonly, load, report_keys


def store_families(db: Path, *, min_score: float = MIN_SCORE, max_shared: int = MAX_SHARED) -> FamiliesResult:
    """Every family of the store (read-only)."""
    con = connect_readonly(db)
    try:
        apps, keys = load(con)
    finally:
        con.close()
    return group(apps, keys, min_score=min_score, max_shared=max_shared)


def apk_family(apk: str, db: Path, *, min_score: float = MIN_SCORE, max_shared: int = MAX_SHARED) -> FamiliesResult:
    """The family of ``apk`` (scanned now with the bundled rules) among the store's apps.

    An APK the store already holds is matched by its SHA-256 and its new keys join its stored ones.
    """
    from appaudit.api import ScanOptions, scan
    from appaudit.report.json_v1 import to_dict

    con = connect_readonly(db)  # fail on a bad store before spending a scan
    try:
        report = scan(apk, ScanOptions(deterministic=True, policies=()))
        apps, keys = load(con)
    finally:
        con.close()
    sha = report.app.sha256
    index = next((i for i, a in enumerate(apps) if a.sha256 == sha), None)
    if index is None:
        index = len(apps)
        apps.append(
            AppNode(
                sha256=sha,
                package=report.app.package or "",
                path=apk,
                verdict=report.verdict.value,
                signers=tuple(sorted(report.app.signer_sha256)),
            )
        )
    own: list[tuple[Key, int]] = [(k, index) for k in report_keys(to_dict(report))]
    return group(apps, keys + own, min_score=min_score, max_shared=max_shared, query=index)
