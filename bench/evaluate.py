"""Detection quality on the labelled real-APK corpus.

    python3 bench/evaluate.py [../shared/corpus] [--json OUT] [--depth N]

Extracts the corpus into the git-ignored .cache/corpus, scans every APK
in-process, and prints precision / recall / F1 of ``data_classes.<c>.read``
against the labels reads_contacts, reads_sms and reads_call_log, and of
"some protected class leaves the device" (level ``exfiltrated`` or
``harvested``) against ``exfiltrates`` (known labels only); the same on the
samples whose behaviour is visible in the DEX; agreement with the hand-traced
labels (bulk, channel, start-up), then the same figures with the rows this
project re-traced in ``bench/trace_review.jsonl`` (each with its evidence; the
labels as given stay the headline); how many chains had their data flow
confirmed; then every disagreement with the evidence behind it and the
sample's hard-case tags, and every disagreement with the hand traces.

Beside each figure it prints what a permissions-only reader (the manifest
alone, as a store listing or a manifest scanner sees it) would score on the
same labels, so that what the code analysis adds is measured, not assumed:
it says a class is read when a permission granting it is declared (the
report's ``declared``), that the data leaves the device when such a class is
declared with ``INTERNET`` (network) or ``SEND_SMS`` (SMS), that every read
is bulk, and that a read runs at start-up when ``RECEIVE_BOOT_COMPLETED`` is
declared — the best a reader of the manifest can guess.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"reads_contacts": "contacts", "reads_sms": "sms", "reads_call_log": "call_log", "exfiltrates": None}
PROTECTED = ("contacts", "sms", "call_log")
REVIEW = ROOT / "bench" / "trace_review.jsonl"


_INTERNET = "android.permission.INTERNET"
_SEND_SMS = "android.permission.SEND_SMS"
_BOOT = "android.permission.RECEIVE_BOOT_COMPLETED"


def permissions_only(report: dict) -> dict:
    """What a reader of the manifest alone would answer, in the report's own shape.

    A copy of ``report`` whose ``data_classes`` say: read = declared, bulk = declared, exfiltrated
    = network with INTERNET and sms with SEND_SMS when declared, at start-up = declared with
    RECEIVE_BOOT_COMPLETED; the level follows (harvested when declared and leaving).
    """
    perms = {p["name"] if isinstance(p, dict) else p for p in report["app"]["permissions"]}
    leaves = [c for c, perm in (("network", _INTERNET), ("sms", _SEND_SMS)) if perm in perms]
    classes = {}
    for dc, entry in report["data_classes"].items():
        declared = bool(entry["declared"])
        classes[dc] = {
            "read": declared,
            "bulk": declared,
            "exfiltrated": leaves if declared else [],
            "level": ("harvested" if leaves else "bulk") if declared else "none",
            "at_startup": declared and _BOOT in perms,
            "chains": [],
            "rule_ids": [],
        }
    return {**report, "data_classes": classes, "findings": []}


def predicted(report: dict, label: str) -> bool:
    """Our answer for a label: ``read`` of the class, or for exfiltrates a chain to network/SMS."""
    dc = LABELS[label]
    if dc is not None:
        return bool(report["data_classes"][dc]["read"])
    return any(report["data_classes"][c]["level"] in ("exfiltrated", "harvested") for c in PROTECTED)


def _why_label(report: dict, label: str) -> str:
    dc = LABELS[label]
    if dc is not None:
        return _why(report, dc)
    parts = []
    for c in PROTECTED:
        entry = report["data_classes"][c]
        if entry["chains"] or entry["read"]:
            chans = ",".join(ch["channel"] for ch in entry["chains"]) or "no chain"
            parts.append(f"{c}: level {entry['level']}, {chans}")
    return "; ".join(parts) or "no protected read"


def extract(corpus: Path) -> Path:
    cache = ROOT / ".cache" / "corpus"
    subprocess.run(["bash", str(corpus / "extract.sh"), str(cache)], check=True, capture_output=True)
    return cache


def _why(report: dict, dc: str) -> str:
    entry = report["data_classes"][dc]
    if not entry["rule_ids"]:
        return "no rule matched"
    parts = []
    for f in report["findings"]:
        if f["data_class"] == dc:
            where = next((e for e in f["evidence"] if e["class"]), None)
            loc = f" at {where['class']}.{where['method'].split('(')[0]}" if where else ""
            parts.append(f"{f['rule_id']}{' (dormant)' if f['dormant'] else ''}{loc}")
    return "; ".join(parts)


def _visible(row: dict) -> bool:
    """The sample's behaviour is visible in its outer DEX (no packing/dynamic loading hides it)."""
    return False not in (row.get("behaviour_visible_in_dex") or {}).values()


def score(rows: list[dict], results: dict[str, dict], label: str) -> dict[str, float]:
    tp = fp = fn = tn = unknown = 0
    for row in rows:
        rep = results.get(row["sha256"])
        truth = row.get(label)
        if rep is None or truth not in (True, False):
            unknown += 1
            continue
        got = predicted(rep, label)
        tp += got and truth
        fp += got and not truth
        fn += truth and not got
        tn += not got and not truth
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "unknown": unknown, "precision": p, "recall": r, "f1": f1}


def trace_agreement(
    rows: list[dict], results: dict[str, dict], misses: list[str] | None = None
) -> list[tuple[str, int, int]]:
    """(field, agreeing, compared) for the hand-traced bulk / exfiltration channel / start-up labels.

    Each disagreement (exact-channel misses included) is appended to ``misses`` as one line.

    Only data classes the trace marks as read in the DEX (``read_site_in_dex``)
    are compared: bulk true/false against ``bulk``; ``exfil_traced`` network or
    sms against a chain by that channel, none/storage against no network/SMS
    chain (``exfil_channel``: the traced channel is among ours;
    ``exfil_channel_exact``: ours are exactly the traced one); ``at_startup``
    true against ``at_startup`` (false, event and command mean not at start-up).
    """
    counts = {"bulk": [0, 0], "exfil_channel": [0, 0], "exfil_channel_exact": [0, 0], "at_startup": [0, 0]}
    for row in rows:
        rep = results.get(row["sha256"])
        for dc in PROTECTED:
            t = (row.get("trace") or {}).get(dc)
            if rep is None or not isinstance(t, dict) or t.get("read_site_in_dex") is not True:
                continue
            ours = rep["data_classes"][dc]
            where = f"{row['sha256'][:12]} {dc} [{row.get('family') or row['category']}]"
            if t.get("bulk") in (True, False):
                counts["bulk"][1] += 1
                counts["bulk"][0] += ours["bulk"] == t["bulk"]
                if misses is not None and ours["bulk"] != t["bulk"]:
                    misses.append(f"bulk {where}: ours {ours['bulk']}, traced {t['bulk']}; {_trigger(t)}")
            want = _traced_channels(t.get("exfil_traced"))
            if want is not None:
                leaves = {c for c in ours["exfiltrated"] if c in ("network", "sms")}
                counts["exfil_channel"][1] += 1
                counts["exfil_channel"][0] += leaves == want or bool(want and want <= leaves)
                counts["exfil_channel_exact"][1] += 1
                counts["exfil_channel_exact"][0] += leaves == want
                if misses is not None and leaves != want:
                    loose = "" if not (want and want <= leaves) else " (exact only)"
                    misses.append(
                        f"channel{loose} {where}: ours {'+'.join(sorted(map(str, leaves))) or 'none'}, "
                        f"traced {'+'.join(sorted(want)) or t['exfil_traced']}; {_trigger(t)}"
                    )
            if t.get("at_startup") in (True, False, "event", "command"):
                counts["at_startup"][1] += 1
                counts["at_startup"][0] += ours["at_startup"] == (t["at_startup"] is True)
                if misses is not None and ours["at_startup"] != (t["at_startup"] is True):
                    misses.append(
                        f"at_startup {where}: ours {ours['at_startup']}, traced {t['at_startup']}; {_trigger(t)}"
                    )
    return [(k, v[0], v[1]) for k, v in counts.items()]


def _traced_channels(value: object) -> set[str] | None:
    """The channels a trace says the data leaves by (empty: kept on the device), or None if unknown.

    A label holds one of network / sms / storage / none; a re-traced row may
    hold a list when the code sends the data both ways.
    """
    values = value if isinstance(value, list) else [value]
    if not values or any(v not in ("network", "sms", "none", "storage") for v in values):
        return None
    return {v for v in values if v in ("network", "sms")}


def reviewed(rows: list[dict], review: list[dict]) -> list[dict]:
    """``rows`` with the re-traced ``exfil_traced`` of ``review`` applied (by sha256 prefix and class).

    A review row applies only where the label still says what the review saw
    (``was``), so a corrected label upstream is never overwritten.
    """
    out = []
    for row in rows:
        trace = row.get("trace")
        fixes = [r for r in review if row["sha256"].startswith(r["sha256"])]
        if not isinstance(trace, dict) or not fixes:
            out.append(row)
            continue
        trace = {k: (dict(v) if isinstance(v, dict) else v) for k, v in trace.items()}
        for fix in fixes:
            cls = trace.get(fix["class"])
            if isinstance(cls, dict) and cls.get("exfil_traced") == fix["was"]:
                cls["exfil_traced"] = fix["exfil_traced"]
        out.append({**row, "trace": trace})
    return out


def _print_reviewed(rows: list[dict], results: dict[str, dict]) -> None:
    """The trace table again, with bench/trace_review.jsonl's re-traced rows applied (if any)."""
    review = [json.loads(line) for line in REVIEW.read_text().splitlines() if line.strip()] if REVIEW.exists() else []
    if not review:
        return
    print(f"\nThe same with the {len(review)} rows re-traced in bench/trace_review.jsonl (evidence there):\n")
    print("| trace field | compared | agree | accuracy |")
    print("|---|---|---|---|")
    for field, agree, n in trace_agreement(reviewed(rows, review), results):
        print(f"| {field} | {n} | {agree} | {agree / n:.2f} |" if n else f"| {field} | 0 | - | - |")


def _trigger(trace: dict) -> str:
    """The trace's own note on what runs the read (cut to one line)."""
    note = str(trace.get("trigger") or "no trigger note")
    return note if len(note) <= 140 else note[:137] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--json", help="write per-APK results here")
    parser.add_argument("--depth", type=int, default=None, help="chain depth (default: the tool's)")
    args = parser.parse_args()
    corpus = Path(args.corpus)

    from appaudit.api import ScanOptions, scan
    from appaudit.errors import InputError
    from appaudit.report.json_v1 import to_dict
    from appaudit.ruleset import load_ruleset

    cache = extract(corpus)
    rows = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines() if line.strip()]
    ruleset = load_ruleset()
    results = {}
    verdicts: Counter[str] = Counter()
    coverage: Counter[str] = Counter()
    failures = []
    t0 = time.perf_counter()
    for row in rows:
        sha = row["sha256"]
        try:
            opts = ScanOptions() if args.depth is None else ScanOptions(chain_depth=args.depth)
            report = to_dict(scan(str(cache / f"{sha}.apk"), opts, ruleset=ruleset))
        except InputError as exc:
            failures.append((sha, f"input error: {exc.reason}"))
            continue
        except Exception as exc:  # the evaluation must list crashes, not stop at one
            failures.append((sha, f"CRASH {type(exc).__name__}: {exc}"))
            continue
        results[sha] = report
        verdicts[report["verdict"]] += 1
        coverage[report["coverage"]["status"]] += 1
    elapsed = time.perf_counter() - t0

    manifest = {sha: permissions_only(rep) for sha, rep in results.items()}
    print(f"# appaudit on {len(rows)} corpus APKs ({elapsed:.1f} s in-process)\n")
    print("Beside each figure: what a permissions-only reader scores on the same labels (`perms`).\n")
    print("| label | TP | FP | FN | TN | unknown | precision | recall | F1 | perms F1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    scores = {}
    for label in LABELS:
        v = scores[label] = score(rows, results, label)
        m = score(rows, manifest, label)
        print(
            f"| {label} | {v['tp']} | {v['fp']} | {v['fn']} | {v['tn']} | {v['unknown']} | "
            f"{v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | {m['f1']:.2f} |"
        )
    disagreements = [
        (label, "FP" if got else "FN", row, _why_label(results[row["sha256"]], label))
        for label in LABELS
        for row in rows
        if row["sha256"] in results
        and row.get(label) in (True, False)
        and (got := predicted(results[row["sha256"]], label)) != row.get(label)
    ]
    visible = [r for r in rows if _visible(r)]
    print(f"\nSame, on the {len(visible)} samples whose behaviour is visible in the DEX (no packing hides it):\n")
    print("| label | TP | FP | FN | TN | precision | recall | F1 | perms F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in LABELS:
        v = score(visible, results, label)
        m = score(visible, manifest, label)
        print(
            f"| {label} | {v['tp']} | {v['fp']} | {v['fn']} | {v['tn']} | "
            f"{v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | {m['f1']:.2f} |"
        )
    print("\nHand-traced labels (`trace`, per data class where the label is known):\n")
    print("| trace field | compared | agree | accuracy | perms agree | perms accuracy |")
    print("|---|---|---|---|---|---|")
    misses: list[str] = []
    theirs = {f: (a, n) for f, a, n in trace_agreement(rows, manifest)}
    for field, agree, n in trace_agreement(rows, results, misses):
        pa, _pn = theirs[field]
        row = f"| {field} | {n} | {agree} | {agree / n:.2f} | {pa} | {pa / n:.2f} |"
        print(row if n else f"| {field} | 0 | - | - | - | - |")
    _print_reviewed(rows, results)
    flows = Counter(
        ch.get("dataflow", "unconfirmed")
        for rep in results.values()
        for dc in PROTECTED
        for ch in rep["data_classes"][dc]["chains"]
    )
    print(f"\nchains: {flows['confirmed']} with the data flow confirmed, {flows['unconfirmed']} linked by calls only")
    print(f"verdicts: {dict(sorted(verdicts.items()))}")
    print(f"coverage: {dict(sorted(coverage.items()))}")
    blind_ok = sum(
        1
        for row in rows
        if row["sha256"] in results
        and any(v is False for v in (row.get("behaviour_visible_in_dex") or {}).values())
        and results[row["sha256"]]["verdict"] in ("inconclusive", "at_risk", "harvests")
    )
    hidden = sum(1 for row in rows if any(v is False for v in (row.get("behaviour_visible_in_dex") or {}).values()))
    print(
        f"samples whose behaviour is hidden from the DEX: {hidden}; "
        f"reported inconclusive, at_risk or harvests (never clean): {blind_ok}"
    )
    print(f"failures: {len(failures)}")
    for sha, why in failures:
        print(f"  {sha[:12]} {why}")
    print("\n## Disagreements\n")
    for label, kind, row, why in sorted(disagreements, key=lambda d: (d[0], d[1], d[2]["sha256"])):
        tags = ",".join(row.get("hard_case_tags") or []) or "-"
        where = f"{row['category']}; {row.get('family') or '-'}; tags {tags}"
        print(f"- {label} {kind} {row['sha256'][:12]} [{where}]: {why}")
    print("\n## Disagreements with the hand traces\n")
    for line in misses:
        print(f"- {line}")
    if args.json:
        Path(args.json).write_text(json.dumps({"scores": scores, "reports": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
