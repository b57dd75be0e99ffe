"""The ``fingerprints`` block of the JSON v1 report (additive; see docs/families.md)."""

from __future__ import annotations

from typing import Any

from appaudit.analysis.fingerprint_types import FRAMEWORK_PREFIXES, Fingerprints


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
