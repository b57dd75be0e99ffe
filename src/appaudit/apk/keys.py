"""RC4 key candidates from an app's own code, for :mod:`appaudit.apk.recover`.

Packers that RC4-encrypt their payload carry the key in the stub: as a byte
array, as the XOR of two byte arrays of one method (how string-obfuscating
packers build their keys) or as a short string constant. Every such constant
is a candidate, likeliest first; nothing here knows a sample's names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from appaudit.apk.dex.reader import CodeSpan, DexFile

#: Key candidates: byte arrays and strings of this many bytes.
_KEY_LENGTHS = range(1, 257)
_STRING_KEY_LENGTHS = range(2, 65)
#: A method with this many byte arrays also gives the XOR of each pair (pairs grow quadratically).
_XOR_ARRAYS = range(2, 9)


@dataclass(frozen=True, slots=True)
class Key:
    """An RC4 key candidate and where in the code it was found."""

    value: bytes
    source: str


def key_candidates(dex_files: Sequence[DexFile]) -> Iterator[Key]:
    """RC4 key candidates from the code, likeliest first, each value once.

    Byte arrays of a method and the XOR of every ordered pair of them (the
    longer one is the data, the shorter one repeats), then string constants.
    """
    seen: set[bytes] = set()

    def fresh(value: bytes) -> bool:
        if value in seen or not value or len(value) not in _KEY_LENGTHS:
            return False
        seen.add(value)
        return True

    for dex in dex_files:
        yield from _array_keys(dex, fresh)
    for dex in dex_files:
        yield from _string_keys(dex, fresh)


def _array_keys(dex: DexFile, fresh: Callable[[bytes], bool]) -> Iterator[Key]:
    """Byte arrays of each method, each followed by the XOR pairs of that method's arrays."""
    by_method: dict[CodeSpan, list[bytes]] = {}
    for span, array in dex.byte_arrays(max_len=_KEY_LENGTHS[-1]):
        by_method.setdefault(span, []).append(array)
    for span, arrays in by_method.items():
        where = _method_name(dex, span)
        for array in arrays:
            if fresh(array):
                yield Key(array, f"byte array in {where}")
        if len(arrays) not in _XOR_ARRAYS:
            continue
        for a in arrays:
            for b in arrays:
                if a is not b and len(a) >= len(b):
                    mixed = bytes(x ^ b[i % len(b)] for i, x in enumerate(a))
                    if fresh(mixed):
                        yield Key(mixed, f"XOR of two byte arrays in {where}")


def _string_keys(dex: DexFile, fresh: Callable[[bytes], bool]) -> Iterator[Key]:
    """String constants of a key's length, in string-table order."""
    for idx in range(dex.string_ids_size):
        try:
            text = dex.string(idx)
        except Exception:  # a damaged string is skipped, never fatal
            continue
        if len(text) in _STRING_KEY_LENGTHS:
            value = text.encode("utf-8", "surrogatepass")
            if fresh(value):
                yield Key(value, f"string constant in {dex.name}")


def _method_name(dex: DexFile, span: CodeSpan) -> str:
    try:
        ref = dex.method_ref(span.method_idx)
    except Exception:  # a damaged reference only costs the label
        return dex.name
    return str(ref)
