"""Resource limits for reading hostile input: sizes, compression ratio, nesting.

Every byte the scan reads from an input goes through ``apk.container``, which
enforces these limits; nothing is ever written to disk. The defaults admit
every real app we know of (the largest APKs are a few hundred MB, the largest
DEX files tens of MB) and stop zip bombs long before they cost real memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How much of an input the scan may read. All sizes are in bytes."""

    max_input_size: int = 1 * GIB
    """The file given to scan (APK or bundle); a larger one is rejected (exit 3)."""
    max_entry_size: int = 256 * MIB
    """Uncompressed size of one zip entry the scan reads (manifest, DEX, payload, framework file)."""
    max_ratio: int = 100
    """Uncompressed:compressed ratio above which an entry is a zip bomb (real DEX files are 2-4:1) ..."""
    ratio_floor: int = 1 * MIB
    """... except that an entry inflating to at most this many bytes is never rejected for its ratio."""
    max_total_size: int = 2 * GIB
    """Uncompressed bytes read from one input in all (all entries, all splits and payloads)."""
    max_entries: int = 200_000
    """Zip entries in one container (the zip format itself allows 65,535 without zip64)."""
    max_manifest_size: int = 16 * MIB
    """A binary AndroidManifest.xml larger than this is not parsed (its permissions are still recovered)."""
    max_payloads: int = 64
    """Nested DEX/JAR/APK payloads (in assets/, res/raw/, ...) analysed per input."""
    max_key_trials: int = 2_000
    """RC4 key candidates tried per input when looking for an encrypted payload (5-30 µs each, apk/rc4.py);
    0 turns the search off (base64/zlib/gzip/XOR payloads are still decoded)."""
    max_depth: int = 3
    """How deep containers nest below the input: a bundle's split APK is 1, a jar in an APK's assets 1
    (2 in a split), a jar inside that jar one more."""


DEFAULT_LIMITS = Limits()

_SIZE = re.compile(r"(\d+)\s*([kKmMgG]?)(?:i?[bB])?")
#: Limits that may be 0 (which switches something off).
_ZERO_ALLOWED = frozenset({"max_key_trials"})
_UNITS = {"": 1, "k": KIB, "m": MIB, "g": GIB}


def parse_limit(text: str, base: Limits = DEFAULT_LIMITS) -> Limits:
    """``base`` with one limit changed from ``NAME=VALUE`` (sizes may end in K, M or G). ValueError if bad."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    known = [f.name for f in fields(Limits)]
    if not sep or name not in known:
        raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(known)}")
    m = _SIZE.fullmatch(value.strip())
    if not m:
        raise ValueError(f"{name}: {value.strip()!r} is not a whole number (K, M, G suffixes allowed)")
    number = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if number < 0 or (number == 0 and name not in _ZERO_ALLOWED):
        raise ValueError(f"{name}: must be positive")
    return replace(base, **{name: number})
