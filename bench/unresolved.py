"""How many of the corpus's provider queries have their URI resolved, and how.

    python3 bench/unresolved.py [../shared/corpus] [--list]

Loads every corpus APK in-process, runs the provider-query resolution
(``analysis.providers.provider_queries``) and prints, over all samples, the
count of queries by ``how`` (``unresolved`` among them), and the count of
queries resolved to a protected data class. ``--list`` also prints each
unresolved query's site, to look for the patterns behind them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--list", action="store_true", help="print every unresolved query's site")
    args = parser.parse_args()

    from appaudit.analysis.providers import ProviderClassifier, provider_queries
    from appaudit.apk import load_apk
    from appaudit.errors import InputError
    from appaudit.model import PROTECTED_CLASSES
    from appaudit.ruleset import load_ruleset

    corpus = Path(args.corpus)
    cache = ROOT / ".cache" / "corpus"
    rows = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines() if line.strip()]
    ruleset = load_ruleset()
    classifier = ProviderClassifier(ruleset.rules)
    how: Counter[str] = Counter()
    protected: Counter[str] = Counter()
    t0 = time.perf_counter()
    for row in rows:
        try:
            code = load_apk(str(cache / f"{row['sha256']}.apk")).code
        except InputError:
            continue
        for q in provider_queries(code, ruleset.flows, classifier):
            how[q.how] += 1
            if q.data_class in PROTECTED_CLASSES:
                protected[q.data_class] += 1
            if args.list and q.how == "unresolved":
                print(f"{row['sha256'][:12]} {q.site.class_name}.{q.site.method} +{q.site.offset}")
    print(f"# provider queries in {len(rows)} corpus APKs ({time.perf_counter() - t0:.1f} s)")
    print(f"by how: {dict(sorted(how.items()))}")
    print(f"total: {sum(how.values())}, unresolved: {how['unresolved']}")
    print(f"resolved to a protected class: {dict(sorted(protected.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
