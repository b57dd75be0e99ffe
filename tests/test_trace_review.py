"""bench/evaluate.py's re-traced rows: how they apply, and that each still matches a label."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import corpus_labels

ROOT = Path(__file__).resolve().parent.parent


def _evaluate():
    spec = importlib.util.spec_from_file_location("evaluate", ROOT / "bench" / "evaluate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(sha: str, traced: object) -> dict:
    return {"sha256": sha, "family": "F", "trace": {"sms": {"read_site_in_dex": True, "exfil_traced": traced}}}


def _report(*channels: str) -> dict:
    empty = {"bulk": False, "exfiltrated": [], "at_startup": False}
    sms = {**empty, "exfiltrated": list(channels)}
    return {"data_classes": {"contacts": empty, "sms": sms, "call_log": empty}}


def test_review_replaces_only_the_value_it_saw() -> None:
    ev = _evaluate()
    rows = [_row("aa11", "storage"), _row("bb22", "network")]
    review = [
        {"sha256": "aa1", "class": "sms", "was": "storage", "exfil_traced": ["network"]},
        {"sha256": "bb2", "class": "sms", "was": "storage", "exfil_traced": ["sms"]},
    ]
    out = ev.reviewed(rows, review)
    assert [r["trace"]["sms"]["exfil_traced"] for r in out] == [["network"], "network"]
    assert rows[0]["trace"]["sms"]["exfil_traced"] == "storage"  # the labels themselves are not changed


def test_a_list_of_traced_channels_needs_every_one() -> None:
    ev = _evaluate()
    rows = [_row("aa11", ["sms", "network"]), _row("bb22", ["network"]), _row("cc33", "storage")]
    results = {"aa11": _report("sms"), "bb22": _report("network", "sms"), "cc33": _report()}
    misses: list[str] = []
    got = {f: (a, n) for f, a, n in ev.trace_agreement(rows, results, misses)}
    assert got["exfil_channel"] == (2, 3)
    assert got["exfil_channel_exact"] == (1, 3)
    assert misses == [
        "channel aa11 sms [F]: ours sms, traced network+sms; no trigger note",
        "channel (exact only) bb22 sms [F]: ours network+sms, traced network; no trigger note",
    ]


def test_every_review_row_names_one_traced_label() -> None:
    labels = corpus_labels()
    review = [json.loads(line) for line in (ROOT / "bench" / "trace_review.jsonl").read_text().splitlines()]
    for fix in review:
        rows = [r for r in labels if r["sha256"].startswith(fix["sha256"])]
        assert len(rows) == 1, fix["sha256"]
        assert rows[0]["trace"][fix["class"]]["exfil_traced"] == fix["was"]
        assert fix["evidence"] and fix["reviewed"]
