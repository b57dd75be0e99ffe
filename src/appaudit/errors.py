"""The library's error hierarchy. The CLI maps each class to one exit code."""

from __future__ import annotations


class AppAuditError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(AppAuditError):
    """The input cannot be analysed: missing, unreadable, not an APK (exit 3)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class DexFormatError(AppAuditError):
    """A DEX file is malformed; the scan records it and goes on with the rest."""


class RuleError(AppAuditError):
    """A rule file or option is invalid (exit 4). Names the file and the key."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


class ConfigError(AppAuditError):
    """A scan option is invalid (exit 4)."""
