"""Searching the text of code that is not DEX: a React Native bundle, a Dart snapshot's strings."""

from __future__ import annotations

import re
from collections.abc import Sequence

from appaudit import deadline
from appaudit.apk.container import Entry, EntryError, ZipContainer
from appaudit.apk.dex.types import CodeHit
from appaudit.model import EvidenceKind

#: Distinct matches kept per embedded file by :meth:`TextSearch.matches`.
MAX_TEXT_MATCHES = 200


class TextSearch:
    """Regex searches over the bytes of an app's zip entries."""

    def __init__(self, texts: Sequence[tuple[ZipContainer, str]]) -> None:
        self.texts = tuple(texts)
        """(APK, prefix shown before its entry names) whose entries are searched."""
        self.errors: list[tuple[str, str]] = []
        """(entry, message) for each file that could not be read."""
        self._last: tuple[tuple[int, int] | None, bytes] = (None, b"")

    def matches(self, entries: re.Pattern[str], pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """Matches of ``pattern`` in the bytes of the zip entries whose names ``entries`` fully matches.

        For code that is not DEX but whose text a scan can still read: a React
        Native bundle, a Dart snapshot's strings. Each hit names the entry (as
        ``dex``) and the byte offset; at most MAX_TEXT_MATCHES distinct values per entry.
        """
        hits: list[CodeHit] = []
        try:
            for apk, prefix in self.texts:
                for entry in apk.entries:
                    if entries.fullmatch(entry.name):
                        hits.extend(self._entry_hits(apk, entry, prefix + entry.name, pattern))
        except deadline.ScanTimeout:
            deadline.note("embedded text search")
        return hits

    def _entry_hits(self, apk: ZipContainer, entry: Entry, shown: str, pattern: re.Pattern[bytes]) -> list[CodeHit]:
        deadline.check()
        key = (id(apk), entry.index)
        if self._last[0] == key:  # the signals for one file (plugins, URLs) come one after the other
            data = self._last[1]
        else:
            try:
                data = apk.read(entry)
            except EntryError as exc:  # over the limits or corrupt: reported, not fatal
                if (shown, f"not searched: {exc.reason}") not in self.errors:
                    self.errors.append((shown, f"not searched: {exc.reason}"))
                return []
            self._last = (key, data)
        hits: list[CodeHit] = []
        seen: set[bytes] = set()
        for n, m in enumerate(pattern.finditer(data)):
            if n % 256 == 0:
                deadline.check()
            if m.group() in seen:
                continue
            seen.add(m.group())
            value = m.group().decode("utf-8", "replace")
            hits.append(
                CodeHit(kind=EvidenceKind.TEXT, dex=shown, class_name="", method="", offset=m.start(), value=value)
            )
            if len(seen) >= MAX_TEXT_MATCHES:
                break
        return hits
