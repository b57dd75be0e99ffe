"""Read the linking keys of a results store, through a read-only connection.

A read-only connection follows the WAL, so a store a batch is writing to is
read as of its last committed scan; nothing is ever written here except by
:func:`save_members` (``appaudit families --save``), which uses the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from appaudit.batch.fingerprint_rows import EndpointRow, FingerprintRow, rows_from_report
from appaudit.batch.store import SCHEMA_VERSION, ResultStore
from appaudit.errors import ConfigError, InputError
from appaudit.families.model import AppNode, FamiliesResult, Key, Reason

_KINDS = {"chain": Reason.CHAIN, "read": Reason.READ, "signer": Reason.SIGNER, "sdk_set": Reason.SDK_SET}


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a schema-current store; ConfigError names what to do otherwise."""
    if not path.is_file():
        raise InputError(str(path), "no such results database")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read results database {path}: {exc}") from exc
    found = row[0] if row else "none"
    if found == "3":
        db.close()
        raise ConfigError(
            f"{path}: results schema version 3 has no fingerprint tables; migrate it once "
            f"with `appaudit families --db {path} --save` (or any `appaudit batch --db {path}`)"
        )
    if found != SCHEMA_VERSION:
        db.close()
        raise ConfigError(f"{path}: results schema version {found}, this appaudit reads {SCHEMA_VERSION}")
    return db


def load(db: sqlite3.Connection) -> tuple[list[AppNode], list[tuple[Key, int]]]:
    """Every successfully scanned app (once, whatever its rulesets) and its keys."""
    index: dict[str, int] = {}
    signers: dict[str, list[str]] = {}
    for sha, value in db.execute("SELECT DISTINCT apk_sha256, value FROM fingerprints WHERE kind = 'signer'"):
        signers.setdefault(sha, []).append(value)
    apps: list[AppNode] = []
    rows = db.execute(
        "SELECT apk_sha256, package, path, verdict FROM scans WHERE status = 'ok' GROUP BY apk_sha256 ORDER BY 1"
    )
    for sha, package, path, verdict in rows:
        index[sha] = len(apps)
        apps.append(
            AppNode(
                sha256=sha,
                package=package or "",
                path=path,
                verdict=verdict or "",
                signers=tuple(sorted(signers.get(sha, ()))),
            )
        )
    keys = [(k, index[sha]) for sha, k in _keys(db) if sha in index]
    return apps, keys


def _keys(db: sqlite3.Connection) -> Iterator[tuple[str, Key]]:
    seen: dict[tuple[Reason, str], Key] = {}  # one Key object per distinct key: 10^5 apps share most

    def key(reason: Reason, value: str, detail: str = "") -> Key:
        found = seen.get((reason, value))
        if found is None:
            found = seen[(reason, value)] = Key(reason=reason, value=value, detail=detail)
        return found

    for sha, kind, value, data_class, detail in db.execute(
        "SELECT DISTINCT apk_sha256, kind, value, data_class, detail FROM fingerprints"
    ):
        reason = _KINDS[kind]
        yield sha, key(reason, value, _detail(reason, data_class, detail))
    for sha, host, path in db.execute("SELECT DISTINCT apk_sha256, host, path FROM endpoints"):
        yield sha, key(Reason.ENDPOINT, host + path)
        yield sha, key(Reason.HOST, host)


def _detail(reason: Reason, data_class: str | None, detail: str | None) -> str:
    if reason == Reason.CHAIN:
        return f"{data_class} -> {detail}"
    if reason == Reason.READ:
        return data_class or ""
    return detail or ""


def report_keys(doc: dict[str, object]) -> list[Key]:
    """The keys of one JSON v1 report (the APK asked about), as the store would hold them."""
    fingerprints, endpoints = rows_from_report(doc)
    return _row_keys(fingerprints, endpoints)


def _row_keys(fingerprints: tuple[FingerprintRow, ...], endpoints: tuple[EndpointRow, ...]) -> list[Key]:
    keys = [
        Key(reason=_KINDS[f.kind], value=f.value, detail=_detail(_KINDS[f.kind], f.data_class, f.detail))
        for f in fingerprints
    ]
    for e in endpoints:
        keys += [
            Key(reason=Reason.ENDPOINT, value=e.host + e.path),
            Key(reason=Reason.HOST, value=e.host),
        ]
    return keys


def save_members(path: Path, result: FamiliesResult) -> None:
    """Replace the store's ``family_members`` with ``result`` (migrating a schema-3 store first)."""
    with ResultStore(path, create=False) as store:
        store.replace_family_members(
            [(a.sha256, f.id, len(f.apps), result.min_score) for f in result.families for a in f.apps]
        )


def migrate_store(path: Path) -> None:
    """Open the store for writing once, which migrates a schema-3 store (``batch.family_schema``)."""
    with ResultStore(path, create=False):
        pass
