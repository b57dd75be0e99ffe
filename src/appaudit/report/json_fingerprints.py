"""The ``fingerprints`` block of the JSON v1 report (additive; see docs/families.md)."""

from __future__ import annotations

from typing import Any

from appaudit.analysis.fingerprint_types import (
    FRAMEWORK_PREFIXES,
    ChainFingerprint,
    Endpoint,
    Fingerprints,
    SiteFingerprint,
)


def fingerprints_dict(fp: Fingerprints) -> dict[str, Any]:
    """The block as plain data: deterministic (everything sorted by the analysis)."""
    return {
        "algorithm": fp.algorithm,
        "framework_prefixes": list(FRAMEWORK_PREFIXES),
        "chains": [
            {"data_class": c.data_class, "channel": c.channel, "fingerprint": c.fingerprint, "steps": list(c.steps)}
            for c in fp.chains
        ],
        "reads": [
            {"data_class": r.data_class, "class": r.class_name, "method": r.method, "fingerprint": r.fingerprint}
            for r in fp.reads
        ],
        "endpoints": [{"data_class": e.data_class, "host": e.host, "path": e.path} for e in fp.endpoints],
        "signers": list(fp.signers),
        "sdks": list(fp.sdks),
        "sdk_set": fp.sdk_set,
    }


def fingerprints_from_dict(d: dict[str, Any] | None) -> Fingerprints:
    """The inverse of :func:`fingerprints_dict`; a report written before fingerprints existed gives the
    empty block (``framework_prefixes`` is the constant of this version, not read back)."""
    if d is None:
        return Fingerprints()
    return Fingerprints(
        algorithm=d["algorithm"],
        chains=tuple(
            ChainFingerprint(
                data_class=c["data_class"], channel=c["channel"], fingerprint=c["fingerprint"], steps=tuple(c["steps"])
            )
            for c in d["chains"]
        ),
        reads=tuple(
            SiteFingerprint(
                data_class=r["data_class"], class_name=r["class"], method=r["method"], fingerprint=r["fingerprint"]
            )
            for r in d["reads"]
        ),
        endpoints=tuple(Endpoint(data_class=e["data_class"], host=e["host"], path=e["path"]) for e in d["endpoints"]),
        signers=tuple(d["signers"]),
        sdks=tuple(d["sdks"]),
        sdk_set=d["sdk_set"],
    )
