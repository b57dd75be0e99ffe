"""The store's rows of an app's fingerprints and endpoints (``appaudit families`` reads them).

Built from the JSON v1 ``fingerprints`` block, so a store migrated from schema 3 is
back-filled from the reports it already keeps, exactly as a new scan fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class FingerprintRow:
    """One linking key of one app."""

    kind: str
    """``chain`` (a chain's shape), ``read`` (a read site's method), ``signer`` or ``sdk_set``."""
    value: str
    """The fingerprint, the certificate's SHA-256 or the SDK set's hash."""
    data_class: str | None = None
    detail: str | None = None
    """What the value stands for: the read site ``class.method``, the chain's channel, the SDK ids."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRow:
    """A normalised upload endpoint of one app."""

    data_class: str
    host: str
    path: str


def rows_from_report(doc: Mapping[str, Any]) -> tuple[tuple[FingerprintRow, ...], tuple[EndpointRow, ...]]:
    """The rows of a JSON v1 report (no rows when it predates fingerprints)."""
    fp = doc.get("fingerprints")
    if not isinstance(fp, Mapping):
        return (), ()
    keys: set[FingerprintRow] = set()
    for c in (c for c in fp.get("chains", ()) if c["fingerprint"]):
        keys.add(FingerprintRow(kind="chain", value=c["fingerprint"], data_class=c["data_class"], detail=c["channel"]))
    for r in fp.get("reads", ()):
        if r["fingerprint"]:
            keys.add(
                FingerprintRow(
                    kind="read",
                    value=r["fingerprint"],
                    data_class=r["data_class"],
                    detail=f"{r['class']}.{r['method']}",
                )
            )
    keys |= {FingerprintRow(kind="signer", value=s) for s in fp.get("signers", ())}
    if fp.get("sdk_set"):
        keys.add(FingerprintRow(kind="sdk_set", value=fp["sdk_set"], detail=",".join(fp.get("sdks", ()))))
    ends = {EndpointRow(data_class=e["data_class"], host=e["host"], path=e["path"]) for e in fp.get("endpoints", ())}
    order = lambda r: (r.kind, r.value, r.data_class or "", r.detail or "")  # noqa: E731
    return tuple(sorted(keys, key=order)), tuple(sorted(ends, key=lambda e: (e.host, e.path, e.data_class)))
