"""Zip tricks seen in one container: duplicate names, escaping names, the encryption flag,
unknown compression methods.

Android reads such APKs anyway (or refuses them, for duplicates), so each is
an error entry of the report; a duplicated manifest or DEX also costs
coverage (which copy Android would run is not certain).
"""

from __future__ import annotations

from dataclasses import dataclass

from appaudit.apk.collector import DEX_NAME, MANIFEST, Collector
from appaudit.apk.container import ZipContainer
from appaudit.report.model import quote_names


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """One kind of zip trick in one container."""

    code: str | None
    """Coverage reason code when it leaves code unseen, else None."""
    message: str


def zip_anomalies(apk: ZipContainer) -> list[Anomaly]:
    """The tricks ``apk``'s zip structure plays, in a fixed order."""
    found: list[Anomaly] = []
    if apk.duplicates:
        code_names = [n for n in apk.duplicates if n == MANIFEST or DEX_NAME.fullmatch(n)]
        found.append(
            Anomaly(
                code="duplicate_entries" if code_names else None,
                message=f"{len(apk.duplicates)} entry names occur more than once (Android refuses such an APK; "
                f"every copy of a DEX is analysed, the first manifest is used): {quote_names(apk.duplicates)}",
            )
        )
    if apk.unsafe_names:
        found.append(
            Anomaly(
                code=None,
                message=f"{len(apk.unsafe_names)} entry names would escape an extraction folder "
                f"(read in memory only): {quote_names([repr(n) for n in apk.unsafe_names])}",
            )
        )
    if apk.encrypted:
        found.append(
            Anomaly(
                code=None,
                message=f"{len(apk.encrypted)} entries carry the encryption flag, which Android ignores "
                f"(read as if it were clear): {quote_names(apk.encrypted)}",
            )
        )
    if apk.odd_methods:
        found.append(
            Anomaly(
                code=None,
                message=f"{len(apk.odd_methods)} entries name an unknown compression method "
                f"(read as stored or deflated, as Android does): {quote_names(apk.odd_methods)}",
            )
        )
    return found


def record_anomalies(found: Collector, apk: ZipContainer, prefix: str) -> None:
    """Add the anomalies of the container shown as ``prefix`` (``""`` for the input itself) to ``found``."""
    where = prefix.rstrip("!") or "zip"
    for anomaly in zip_anomalies(apk):
        found.problem(where, anomaly.code, anomaly.message)
