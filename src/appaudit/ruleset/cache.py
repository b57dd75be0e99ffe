"""The on-disk cache of validated rulesets: where a copy lives, reading it back, writing it.

Validation (YAML parsing and the JSON Schema check) is the slow part of start-up, so
:func:`appaudit.ruleset.loader.load_ruleset` keeps a pickled copy under a digest of
everything the ruleset depends on. A missing, unreadable or stale cache only means
validating again: nothing here raises.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appaudit.resources import schema_path

_PACKAGE = Path(__file__).resolve().parent.parent
#: The modules defining the types a cached ruleset holds.
_PICKLED_TYPE_SOURCES = (
    *sorted((_PACKAGE / "ruleset").glob("*.py")),
    *sorted((_PACKAGE / "policy").glob("*.py")),
    _PACKAGE / "model.py",
    _PACKAGE / "report" / "model.py",
    _PACKAGE / "analysis" / "facts.py",
)


def cache_file(dirs: Sequence[Path], files_of: Callable[[Path], list[Path]]) -> Path | None:
    """Where a validated copy of these rule directories would be cached (None: caching is off).

    The name is a digest of the tool version, the rule and policy schemas, the source of the
    pickled types and every ``files_of(directory)`` file's name and bytes, so any edit
    invalidates the cache. APPAUDIT_CACHE_DIR overrides the location; APPAUDIT_NO_CACHE=1
    disables it.
    """
    from appaudit import __version__

    digest = hashlib.sha256(
        __version__.encode()
        + schema_path("rule.schema.json").read_bytes()
        + schema_path("policy.schema.json").read_bytes()
    )
    # Slotted dataclasses unpickle their fields by position: a cache written by code whose types
    # had other fields would load silently wrong, so the source of the pickled types is keyed too.
    for source in _PICKLED_TYPE_SOURCES:
        digest.update(source.read_bytes())
    for directory in dirs:
        for path in files_of(directory):
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    if os.environ.get("APPAUDIT_NO_CACHE") == "1":  # after the digest: it reads (and checks) every file
        return None
    base = os.environ.get("APPAUDIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "appaudit"
    )
    return Path(base) / f"ruleset-{digest.hexdigest()}.pickle"


def read_cached(cache: Path) -> Any:
    """The object pickled at ``cache``, or None when there is none or it cannot be read."""
    if not cache.is_file():
        return None
    try:
        with cache.open("rb") as fh:
            return pickle.load(fh)  # the user's own cache, written by write_cached
    except Exception:  # a broken cache is rebuilt
        return None


def write_cached(cache: Path, value: Any) -> None:
    """Pickle ``value`` to ``cache`` atomically (a temporary file, then a rename); a failure is ignored."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass
