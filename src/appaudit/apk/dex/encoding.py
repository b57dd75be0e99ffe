"""The DEX format's variable-length encodings: ULEB128 numbers, Modified UTF-8 strings and
the member lists of a class_data item.

Reference: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from appaudit.errors import DexFormatError

#: A code item's insns_size: unpacked in place (a slice per method for ``int.from_bytes`` cost more).
_U32 = struct.Struct("<I").unpack_from


def uleb128(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the ULEB128 at ``pos``; DexFormatError if it runs off the end."""
    try:
        result = data[pos]
        pos += 1
        if result < 0x80:
            return result, pos
        return _rest(data, pos, result)
    except IndexError:
        raise DexFormatError(f"a LEB128 value at {pos:#x} runs past the end of the file") from None


def class_data_methods(data: bytes, off: int, budget: list[int]) -> Iterator[tuple[int, int, int]]:
    """(method_idx, access_flags, code_off) of each method of the class_data item at ``off``.

    ``budget`` holds how many more members the file can plausibly hold (its
    size, at most one byte each); a class listing more raises DexFormatError,
    so absurd counts never turn into long loops.

    Every class of every DEX is read through here once per scan, so the ULEB128
    values are decoded inline (as :func:`uleb128` does: at most 5 bytes each)
    rather than by a call per value.
    """
    if off >= len(data):
        raise DexFormatError(f"class_data offset {off:#x} is outside the file")
    n_sf, pos = uleb128(data, off)
    n_if, pos = uleb128(data, pos)
    n_dm, pos = uleb128(data, pos)
    n_vm, pos = uleb128(data, pos)
    total = n_sf + n_if + n_dm + n_vm
    if total > budget[0]:
        raise DexFormatError("class data lists more members than the file can hold")
    budget[0] -= total
    try:
        pos = _skip(data, pos, 2 * (n_sf + n_if))  # field_idx_diff, access_flags of each field
        for count in (n_dm, n_vm):
            midx = 0
            for _ in range(count):
                diff = data[pos]
                pos += 1
                if diff >= 0x80:
                    diff, pos = _rest(data, pos, diff)
                access = data[pos]
                pos += 1
                if access >= 0x80:
                    access, pos = _rest(data, pos, access)
                code_off = data[pos]  # an offset: nearly always 2 to 4 bytes, so decoded right here
                pos += 1
                if code_off >= 0x80:
                    code_off &= 0x7F
                    shift = 7
                    while True:
                        b = data[pos]
                        pos += 1
                        code_off |= (b & 0x7F) << shift
                        if b < 0x80 or shift >= 28:
                            break
                        shift += 7
                midx += diff
                yield midx, access, code_off
    except IndexError:
        raise DexFormatError(f"a LEB128 value at {pos:#x} runs past the end of the file") from None


def class_code_rows(data: bytes, off: int, budget: list[int], ci: int) -> list[tuple[int, int, int, int]]:
    """(insns start, insns end, method_idx, ``ci``) of each method with code of the class_data item at
    ``off``: what :func:`class_data_methods` yields, made into a span row (a code item that does not fit
    in the file is left out, an insns array that runs past it is cut at its end).

    The reader makes these rows for every class of every DEX on every scan: this is that generator
    and its consumer in one loop (a generator step per method was most of the reader's set-up time).
    """
    size = len(data)
    if off >= size:
        raise DexFormatError(f"class_data offset {off:#x} is outside the file")
    n_sf, pos = uleb128(data, off)
    n_if, pos = uleb128(data, pos)
    n_dm, pos = uleb128(data, pos)
    n_vm, pos = uleb128(data, pos)
    total = n_sf + n_if + n_dm + n_vm
    if total > budget[0]:
        raise DexFormatError("class data lists more members than the file can hold")
    budget[0] -= total
    rows: list[tuple[int, int, int, int]] = []
    append = rows.append
    try:
        pos = _skip(data, pos, 2 * (n_sf + n_if))
        for count in (n_dm, n_vm):
            midx = 0
            for _ in range(count):
                diff = data[pos]
                pos += 1
                if diff >= 0x80:
                    diff, pos = _rest(data, pos, diff)
                midx += diff
                n = 1  # access_flags: not needed here, skipped as _skip does (at most 5 bytes)
                while data[pos] >= 0x80 and n < 5:
                    pos += 1
                    n += 1
                pos += 1
                code_off = data[pos]  # an offset: nearly always 2 to 4 bytes, so decoded right here
                pos += 1
                if code_off >= 0x80:
                    code_off &= 0x7F
                    shift = 7
                    while True:
                        b = data[pos]
                        pos += 1
                        code_off |= (b & 0x7F) << shift
                        if b < 0x80 or shift >= 28:
                            break
                        shift += 7
                if code_off == 0 or code_off + 16 > size:
                    continue
                start = code_off + 16
                end = start + 2 * _U32(data, code_off + 12)[0]
                append((start, end if end < size else size, midx, ci))
    except IndexError:
        raise DexFormatError(f"a LEB128 value at {pos:#x} runs past the end of the file") from None
    return rows


def _skip(data: bytes, pos: int, count: int) -> int:
    """The position after ``count`` ULEB128 values from ``pos`` (IndexError past the end)."""
    for _ in range(count):
        n = 1
        while data[pos] >= 0x80 and n < 5:
            pos += 1
            n += 1
        pos += 1
    return pos


def _rest(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """The rest of a ULEB128 whose first byte ``first`` (>= 0x80) was at ``pos - 1``."""
    result = first & 0x7F
    shift = 7
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80 or shift >= 28:
            return result, pos
        shift += 7


def decode_mutf8(raw: bytes) -> str:
    """Decode Modified UTF-8 (DEX strings): 0xC0 0x80 is NUL, surrogates come as pairs."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        fixed = raw.replace(b"\xc0\x80", b"\x00")
        try:
            text = fixed.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:  # not MUTF-8 either: a damaged or hostile string
            return fixed.decode("utf-8", errors="replace")
        return text.encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


def sleb128(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the SLEB128 at ``pos`` (at most 5 bytes, as the format allows)."""
    value, end = uleb128(data, pos)
    bits = min(7 * (end - pos), 32)
    value &= (1 << bits) - 1
    if value & (1 << (bits - 1)):
        value -= 1 << bits
    return value, end
