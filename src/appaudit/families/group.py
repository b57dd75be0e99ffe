"""Group apps into families: inverted lists per key, scored pairs within each list, union-find.

Only apps sharing a key are ever compared, so the work is the sum over keys of
(apps with the key)^2, bounded by ``max_shared``, never all pairs of the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations

from appaudit.families.model import WEIGHTS, AppNode, FamiliesResult, Family, Key, Link, Reason, SharedKey

_BITS = {r: 1 << i for i, r in enumerate(Reason)}


def score(reasons: Iterable[Reason]) -> float:
    """The link score of these reasons: ``1 - prod(1 - weight)``, rounded to 3 places."""
    rest = 1.0
    for r in reasons:
        rest *= 1.0 - WEIGHTS[r]
    return round(1.0 - rest, 3)


def _reasons(mask: int) -> tuple[Reason, ...]:
    found = tuple(r for r in Reason if mask & _BITS[r])
    if Reason.ENDPOINT in found:  # a shared endpoint implies its host: count the stronger once
        found = tuple(r for r in found if r != Reason.HOST)
    return found


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def group(
    apps: Sequence[AppNode],
    keys: Iterable[tuple[Key, int]],
    *,
    min_score: float,
    max_shared: int,
    query: int | None = None,
) -> FamiliesResult:
    """The families of ``apps`` given each app's keys (``(key, index into apps)``).

    A pair of apps is linked when the score of the reasons they share is at least
    ``min_score``; keys held by more than ``max_shared`` apps are ignored; an SDK set
    only adds to a pair another key made. With ``query`` only the family of that app
    is returned (possibly just the app itself).
    """
    lists: dict[Key, set[int]] = defaultdict(set)
    for key, i in keys:
        lists[key].add(i)
    sdk_set: dict[int, str] = {}
    n = len(apps)
    pairs: dict[int, int] = defaultdict(int)  # i * n + j (i < j) -> reason bits: ints keep 10^6 pairs small
    common = 0
    for key, members in lists.items():
        if key.reason == Reason.SDK_SET:
            sdk_set.update(dict.fromkeys(members, key.value))
            continue
        if len(members) > max_shared:
            common += 1
            continue
        bit = _BITS[key.reason]
        for i, j in combinations(sorted(members), 2):
            pairs[i * n + j] |= bit
    uf = _UnionFind(len(apps))
    links: list[tuple[int, int, float, tuple[Reason, ...]]] = []
    for pair, mask in pairs.items():
        i, j = divmod(pair, n)
        if i in sdk_set and sdk_set[i] == sdk_set.get(j):
            mask |= _BITS[Reason.SDK_SET]
        reasons = _reasons(mask)
        s = score(reasons)
        if s >= min_score:
            links.append((i, j, s, reasons))
            uf.union(i, j)
    members_of: dict[int, list[int]] = defaultdict(list)
    for i in range(len(apps)):
        members_of[uf.find(i)].append(i)
    wanted = {uf.find(query)} if query is not None else {r for r, m in members_of.items() if len(m) > 1}
    links_of: dict[int, list[Link]] = defaultdict(list)
    for i, j, s, r in links:
        if (root := uf.find(i)) in wanted:
            a, b = sorted((apps[i].sha256, apps[j].sha256))
            links_of[root].append(Link(a=a, b=b, score=s, reasons=r))
    shared_of: dict[int, list[SharedKey]] = defaultdict(list)
    keyed: set[int] = set()
    for key, members in lists.items():
        if key.reason != Reason.SDK_SET:
            keyed |= members
        if len(members) > max_shared or len(members) < 2:
            continue
        by_root: dict[int, int] = defaultdict(int)
        for i in members:
            by_root[uf.find(i)] += 1
        for root, n in by_root.items():
            if n > 1 and root in wanted:
                shared_of[root].append(SharedKey(key=key, apps=n))
    order = list(Reason)
    families = [
        Family(
            id=0,
            apps=tuple(sorted((apps[i] for i in members_of[r]), key=lambda a: a.sha256)),
            links=tuple(sorted(links_of[r], key=lambda x: (-x.score, x.a, x.b))),
            shared=tuple(sorted(shared_of[r], key=lambda k: (order.index(k.key.reason), k.key.value, k.key.detail))),
        )
        for r in wanted
    ]
    families.sort(key=lambda f: (-len(f.apps), f.apps[0].sha256))
    return FamiliesResult(
        families=tuple(Family(id=n, apps=f.apps, links=f.links, shared=f.shared) for n, f in enumerate(families, 1)),
        apps_total=len(apps),
        apps_without_keys=len(apps) - len(keyed),
        common_keys=common,
        min_score=min_score,
        max_shared=max_shared,
        query=apps[query].sha256 if query is not None else None,
    )
