"""String resources: ``resources.arsc`` looked up by id, parsed only when first asked.

The analysis asks for a string resource when the app calls
``Context.getString(int)`` with a constant id whose value matters (a URI or
URL being resolved, ``analysis.values``). Most scans never ask, so the table is
read and parsed (androguard's ``ARSCParser``, imported here lazily) on the
first question only, once per scan: about 0.01 s for a 25 KB table, 0.15 s for
a 1.7 MB one on the corpus. A table that cannot be read or parsed answers None
for every id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class StringResources:
    """The app's string resources, from ``read`` (the raw ``resources.arsc``, or None) on first use."""

    def __init__(self, read: Callable[[], bytes | None]) -> None:
        self._read: Callable[[], bytes | None] | None = read
        self._parser: Any = None
        self._cache: dict[int, str | None] = {}

    @property
    def parsed(self) -> bool:
        """Whether the table has been read (some string resource was asked for)."""
        return self._read is None

    def _table(self) -> Any:
        if self._read is not None:
            read, self._read = self._read, None
            raw = read()
            if raw:
                try:
                    from androguard.core.axml import ARSCParser

                    self._parser = ARSCParser(raw)
                except Exception:  # androguard raises many kinds on odd resource tables
                    self._parser = None
        return self._parser

    def string(self, res_id: int) -> str | None:
        """The value of string resource ``res_id`` in the default configuration (else the first
        configuration that has one); None when the table has no such string."""
        if res_id in self._cache:
            return self._cache[res_id]
        parser = self._table()
        value = None
        if parser is not None:
            try:
                configs = parser.get_resolved_res_configs(res_id)
            except Exception:  # an id the table does not hold, or a damaged entry
                configs = []
            found = [(cfg, v) for cfg, v in configs if isinstance(v, str) and v]
            default = [v for cfg, v in found if not _qualifier(cfg)]
            ordered = default or [v for _cfg, v in found]
            value = ordered[0] if ordered else None
        self._cache[res_id] = value
        return value


def _qualifier(config: Any) -> str:
    try:
        return str(config.get_qualifier())
    except Exception:  # a configuration androguard cannot describe is not the default one
        return "?"
