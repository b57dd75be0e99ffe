"""Per-input outcomes of a batch and the summary counted from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from appaudit.model import DATA_CLASSES, Level, Verdict

#: Levels from strongest to weakest, the order the summary counts them in.
LEVEL_ORDER: tuple[str, ...] = tuple(
    lv.value
    for lv in (Level.HARVESTED, Level.EXFILTRATED, Level.BULK, Level.READ, Level.DORMANT, Level.DECLARED, Level.NONE)
)
STATUS_ORDER: tuple[str, ...] = ("ok", "error", "timeout", "crashed", "missing")
TOP_RULES = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the batch knows about one input path."""

    path: str
    apk_sha256: str | None
    """None when the file could not be read at all."""
    status: str
    """``ok``, ``error``, ``timeout``, ``crashed`` or ``missing`` (a listed path that is not there or unreadable)."""
    cached: bool = False
    """The result came from the store (same APK and ruleset scanned before)."""
    verdict: str | None = None
    max_severity_rank: int | None = None
    error: str | None = None
    levels: tuple[tuple[str, str], ...] = ()
    """(data class, level) in report order."""
    rule_ids: tuple[str, ...] = ()
    sdks: tuple[str, ...] = ()
    """Ids of the SDKs whose code the findings are in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchSummary:
    """Counts over every input of one run, cached results included."""

    inputs: int
    scanned: int
    """APKs scanned in this run."""
    cached: int
    """Inputs whose result was already in the store."""
    duplicates: int
    """Inputs with the same content as an earlier input (scanned once)."""
    by_status: dict[str, int]
    by_verdict: dict[str, int]
    """Over inputs with status ``ok``, strongest verdict first, zero counts left out."""
    levels: dict[str, dict[str, int]]
    """data class -> level -> number of ``ok`` inputs, strongest level first, zero counts left out."""
    top_rules: tuple[tuple[str, int], ...]
    """The rule ids that matched the most inputs (at most 10), with that number."""
    top_sdks: tuple[tuple[str, int], ...] = ()
    """The SDKs (ids) whose code findings were in for the most inputs (at most 10)."""
    failures: tuple[Outcome, ...]
    """Every input whose status is not ``ok``, in input order."""


def summarize(outcomes: Sequence[Outcome], *, scanned: int, duplicates: int) -> BatchSummary:
    """Count statuses, verdicts, levels and rules over ``outcomes``."""
    ok = [o for o in outcomes if o.status == "ok"]
    statuses = Counter(o.status for o in outcomes)
    verdicts = Counter(o.verdict for o in ok)
    per_class: dict[str, Counter[str]] = {dc: Counter() for dc in DATA_CLASSES}
    for o in ok:
        for dc, level in o.levels:
            per_class.setdefault(dc, Counter())[level] += 1
    rules = Counter(rule for o in ok for rule in set(o.rule_ids))
    sdks = Counter(sdk for o in ok for sdk in set(o.sdks))
    return BatchSummary(
        inputs=len(outcomes),
        scanned=scanned,
        cached=sum(1 for o in outcomes if o.cached),
        duplicates=duplicates,
        by_status={s: statuses[s] for s in STATUS_ORDER if statuses[s]},
        by_verdict={v.value: verdicts[v.value] for v in Verdict if verdicts[v.value]},
        levels={dc: {lv: counts[lv] for lv in LEVEL_ORDER if counts[lv]} for dc, counts in per_class.items() if counts},
        top_rules=tuple(sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES]),
        top_sdks=tuple(sorted(sdks.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES]),
        failures=tuple(o for o in outcomes if o.status != "ok"),
    )
