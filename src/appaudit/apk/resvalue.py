"""Typed resource values (``Res_value``) as text, the way binary XML and resources.arsc store them.

Shared by the binary-XML reader (:mod:`~appaudit.apk.axml`) and the resource
table lookup (:mod:`~appaudit.apk.arsc`). The text of each type is the one
androguard's ``format_value`` gives (``@7F0B001C`` for a reference,
``0x00000010`` for a hex integer, ``true``, ...), so that a manifest read by
either parser yields the same facts; the oracle tests hold both to it.
Reference: ``Res_value`` in AOSP frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

TYPE_NULL = 0x00
TYPE_REFERENCE = 0x01
TYPE_ATTRIBUTE = 0x02
TYPE_STRING = 0x03
TYPE_FLOAT = 0x04
TYPE_DIMENSION = 0x05
TYPE_FRACTION = 0x06
TYPE_FIRST_INT = 0x10
TYPE_INT_HEX = 0x11
TYPE_INT_BOOLEAN = 0x12
TYPE_FIRST_COLOR_INT = 0x1C
TYPE_LAST_INT = 0x1F

_RADIX_MULTS = (0.00390625, 3.051758e-005, 1.192093e-007, 4.656613e-010)
_DIMENSION_UNITS = ("px", "dip", "sp", "pt", "in", "mm")
_FRACTION_UNITS = ("%", "%p")
#: Types whose text does not depend on a table outside the value (all but the dynamic references).
KNOWN_TYPES = frozenset(
    {TYPE_NULL, TYPE_REFERENCE, TYPE_ATTRIBUTE, TYPE_STRING, TYPE_FLOAT, TYPE_DIMENSION, TYPE_FRACTION}
    | set(range(TYPE_FIRST_INT, TYPE_LAST_INT + 1))
)


def _complex(data: int) -> float:
    return float(data & 0xFFFFFF00) * _RADIX_MULTS[(data >> 4) & 3]


def _package(data: int) -> str:
    return "android:" if data >> 24 == 1 else ""


def _unit(units: tuple[str, ...], data: int) -> str | None:
    index = data & 0x0F
    return units[index] if index < len(units) else None


def _dimension(data: int) -> str | None:
    unit = _unit(_DIMENSION_UNITS, data)
    return None if unit is None else f"{_complex(data):f}{unit}"


def _fraction(data: int) -> str | None:
    unit = _unit(_FRACTION_UNITS, data)
    return None if unit is None else f"{_complex(data) * 100:f}{unit}"


def _float(data: int) -> str:
    return f"{struct.unpack('<f', struct.pack('<I', data))[0]:f}"


#: Type -> the text of its data (the string type is looked up in a pool instead).
_FORMATS: dict[int, Callable[[int], str | None]] = {
    TYPE_ATTRIBUTE: lambda d: f"?{_package(d)}{d:08X}",
    TYPE_REFERENCE: lambda d: f"@{_package(d)}{d:08X}",
    TYPE_FLOAT: _float,
    TYPE_INT_HEX: lambda d: f"0x{d:08X}",
    TYPE_INT_BOOLEAN: lambda d: "false" if d == 0 else "true",
    TYPE_DIMENSION: _dimension,
    TYPE_FRACTION: _fraction,
    **{t: (lambda d: f"#{d:08X}") for t in range(TYPE_FIRST_COLOR_INT, TYPE_LAST_INT + 1)},
}


def format_value(value_type: int, data: int, string: Callable[[int], str]) -> str:
    """The text of a typed value; ``string`` looks up a string-pool index (for ``TYPE_STRING``).

    A dimension or fraction with an undefined unit, and a type this function
    does not know, read as ``<0xDATA, type 0xTYPE>`` (androguard raises on the
    former; no real file has them).
    """
    if value_type == TYPE_STRING:
        return string(data)
    fmt = _FORMATS.get(value_type)
    if fmt is not None:
        text = fmt(data)
    elif TYPE_FIRST_INT <= value_type <= TYPE_LAST_INT:
        text = str(data - 0x100000000 if data > 0x7FFFFFFF else data)
    else:
        text = None
    return f"<0x{data:X}, type 0x{value_type:02X}>" if text is None else text


def unit_defined(value_type: int, data: int) -> bool:
    """Whether a dimension's or fraction's unit is one the format defines (always True for other types)."""
    if value_type == TYPE_DIMENSION:
        return _unit(_DIMENSION_UNITS, data) is not None
    if value_type == TYPE_FRACTION:
        return _unit(_FRACTION_UNITS, data) is not None
    return True
