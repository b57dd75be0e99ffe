"""String resources: ``resources.arsc`` looked up by id, parsed only when first asked.

The analysis asks for a string resource when the app calls
``Context.getString(int)`` with a constant id whose value matters (a URI or
URL being resolved, ``analysis.values``). Most scans never ask, so the table is
read and its chunk headers walked (the project's own reader,
:mod:`~appaudit.apk.arsc`) on the first question only, once per scan. A table
that cannot be read or parsed answers None for every id.
"""

from __future__ import annotations

from collections.abc import Callable

from appaudit.apk.arsc import ArscError, ResourceTable, string_resources


class StringResources:
    """The app's string resources, from ``read`` (the raw ``resources.arsc``, or None) on first use."""

    def __init__(self, read: Callable[[], bytes | None]) -> None:
        self._read: Callable[[], bytes | None] | None = read
        self._table_: ResourceTable | None = None
        self._cache: dict[int, str | None] = {}

    @property
    def parsed(self) -> bool:
        """Whether the table has been read (some string resource was asked for)."""
        return self._read is None

    def _table(self) -> ResourceTable | None:
        if self._read is not None:
            read, self._read = self._read, None
            raw = read()
            if raw:
                try:
                    self._table_ = string_resources(raw)
                except (ArscError, ValueError, IndexError):  # a damaged table answers nothing
                    self._table_ = None
        return self._table_

    def string(self, res_id: int) -> str | None:
        """The value of string resource ``res_id`` in the default configuration (else the first
        configuration that has one); None when the table has no such string."""
        if res_id in self._cache:
            return self._cache[res_id]
        table = self._table()
        value = None
        if table is not None:
            try:
                value = table.default_string(res_id)
            except (ArscError, ValueError, IndexError):  # references too deep, or a damaged entry
                value = None
        self._cache[res_id] = value
        return value
