"""Code nested in an APK's entries: plain DEX/JAR/ZIP/APK payloads found by their magic
number, and payloads a packer hid encoded or encrypted (see :mod:`appaudit.apk.recover`).

Each payload found is analysed with the app's own DEX files and named by where
it came from (``assets/payload.jar!classes.dex``, ``assets/Ygg.json[rc4]``).
How many are analysed is bounded by ``Limits.max_payloads``, how deep zips
nest by ``Limits.max_depth``, and the RC4 key search by ``Limits.max_key_trials``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from appaudit import deadline
from appaudit.apk.anomalies import record_anomalies
from appaudit.apk.app import RecoveredPayload
from appaudit.apk.collector import Collector, has_classes_dex
from appaudit.apk.container import Entry, EntryError, ZipContainer, ZipError
from appaudit.apk.keys import key_candidates
from appaudit.apk.recover import HEAD_SIZE, Plan, TrialBudget, plan, rc4_search, unwrap, worth_rc4
from appaudit.report.model import CoverageReason, quote_names

_DEX_MAGIC = b"dex\n"
_ZIP_MAGIC = b"PK\x03\x04"
#: Entries never looked at as a hidden payload: the APK's own structure, folders, native
#: libraries (Android loads only ELF there) and compiled resources outside res/raw/.
_NOT_PAYLOAD = re.compile(
    r"AndroidManifest\.xml|resources\.arsc|classes\d*\.dex|META-INF/.*|.*/|lib/.*\.so"
    r"|res/(?!raw/)[^/]+/.*\.(xml|png|jpe?g|webp|gif)"
)
#: A DEX header is 112 bytes; a zip holding one is larger still.
_SMALLEST_PAYLOAD = 0x70

#: An APK of the app to search: (its zip, the prefix its entries are shown with, its nesting depth).
Searched = tuple[ZipContainer, str, int]


def _candidates(apk: ZipContainer) -> list[Entry]:
    """Entries that might hide a payload, plain or encoded: not the APK's own structure, native
    libraries or compiled resources, large enough for a DEX header; one per name (the first)."""
    found: list[Entry] = []
    seen: set[str] = set()
    for entry in apk.entries:
        if (
            entry.name in seen
            or _NOT_PAYLOAD.fullmatch(entry.name)
            or max(entry.uncompressed_size, entry.compressed_size) < _SMALLEST_PAYLOAD
        ):
            continue
        seen.add(entry.name)
        found.append(entry)
    return found


def _nested(found: Collector, apk: ZipContainer, prefix: str, depth: int) -> None:
    """DEX/JAR/ZIP/APK payloads hidden among the entries, by magic number, up to ``max_depth``."""
    if depth >= found.limits.max_depth:
        return
    for entry in _candidates(apk):
        deadline.check()
        try:
            magic = apk.peek(entry, 4)
        except EntryError:
            continue
        if magic not in (_DEX_MAGIC, _ZIP_MAGIC):
            continue
        name = prefix + entry.name
        if found.payloads >= found.limits.max_payloads:
            found.payloads_skipped.append(name)
            continue
        if magic == _DEX_MAGIC:
            found.payloads += 1
            found.read_dex(apk, entry, name)
            continue
        try:
            inner = found.container(apk.read(entry))
        except (EntryError, ZipError) as exc:
            found.error(name, f"nested zip not readable: {exc}")
            continue
        if has_classes_dex(inner):
            found.payloads += 1
            record_anomalies(found, inner, name + "!")
            found.classes_dex(inner, name + "!")
        _nested(found, inner, name + "!", depth + 1)


def nested_payloads(found: Collector, apks: Sequence[Searched]) -> None:
    """Analyse the plain payloads nested in ``apks`` (and in the zips among them)."""
    try:
        for apk, prefix, depth in apks:
            _nested(found, apk, prefix, depth)
    except deadline.ScanTimeout:
        deadline.note("nested payloads")
    if found.payloads_skipped:
        found.reasons.append(
            CoverageReason(
                code="payload_limit",
                detail=f"{len(found.payloads_skipped)} nested payloads beyond the first "
                f"{found.limits.max_payloads} were not analysed (limit max_payloads): "
                f"{quote_names(found.payloads_skipped)}",
            )
        )


def recovered_payloads(found: Collector, apks: Sequence[Searched]) -> None:
    """Payloads hidden encoded or encrypted among the entries (:mod:`appaudit.apk.recover`).

    Key-free transforms first (base64, zlib, gzip, XOR); then an RC4 search over the random-looking
    entries left, with keys from the DEX files read so far. When that recovers code, the entries still
    unexplained are searched once more with keys from the recovered code (a second stage).
    """
    budget = TrialBudget(found.limits.max_key_trials)
    try:
        pending: dict[str, tuple[ZipContainer, str, int, Entry, bytes]] = {}
        for apk, prefix, depth in apks:
            for entry in _candidates(apk):
                try:
                    head = apk.peek(entry, HEAD_SIZE)
                except EntryError:
                    continue
                if head[:4] in (_DEX_MAGIC, _ZIP_MAGIC):
                    continue
                how = plan(head)
                if how is not None:
                    _recover_one(found, apk, prefix, depth, entry, how)
                elif worth_rc4(head, entry.uncompressed_size):
                    pending[prefix + entry.name] = (apk, prefix, depth, entry, head)
        sources = list(found.dex_files)
        for _stage in range(2):
            if not pending or not sources or budget.left <= 0:
                return
            before = len(found.dex_files)
            heads = {name: item[4] for name, item in pending.items()}
            for name, how in rc4_search(heads, key_candidates(sources), budget).items():
                apk, prefix, depth, entry, _head = pending.pop(name)
                _recover_one(found, apk, prefix, depth, entry, how)
            sources = found.dex_files[before:]
    except deadline.ScanTimeout:
        deadline.note("encrypted payloads")


def _recover_one(found: Collector, apk: ZipContainer, prefix: str, depth: int, entry: Entry, how: Plan) -> None:
    """Decode one entry by ``how`` and analyse what comes out (or say why nothing did)."""
    name = prefix + entry.name
    if found.payloads >= found.limits.max_payloads:
        found.payloads_skipped.append(name)
        return
    try:
        data = apk.read(entry)
    except EntryError as exc:
        found.error(name, f"encoded payload not readable: {exc.reason}")
        return
    cap = min(found.limits.max_entry_size, found.budget.remaining)
    result = unwrap(data, how, cap)
    if result is None:
        found.error(name, f"looked {how.how}-encoded, but did not decode to a DEX or zip")
        return
    found.budget.used += len(result.data)
    found.payloads += 1
    label = f"{name}[{how.how}]"
    before = len(found.dex_files)
    if result.data.startswith(_DEX_MAGIC):
        found.add_dex(result.data, label)
    else:
        try:
            inner = found.container(result.data)
        except ZipError as exc:
            found.error(label, f"recovered zip not readable: {exc}")
            return
        found.classes_dex(inner, label + "!")
        _nested(found, inner, label + "!", depth + 1)
    found.recovered.append(
        RecoveredPayload(
            entry=name,
            steps=result.steps,
            size=len(result.data),
            sha256=hashlib.sha256(result.data).hexdigest(),
            dex_files=tuple(d.name for d in found.dex_files[before:]),
        )
    )
