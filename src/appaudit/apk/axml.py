"""A tolerant binary-XML (AXML) reader, for manifests androguard's parser rejects.

Malware corrupts AndroidManifest.xml in ways Android's own parser
(``ResXMLTree``/``ResXMLParser`` in libandroidfw) tolerates: unterminated
strings, bogus header and chunk sizes, string counts larger than the pool,
junk or unknown chunks between the nodes, attribute names blanked out or
renamed. This reader follows what Android does rather than what the format
says:

* chunks are walked by their size and unknown chunk types are skipped;
* strings are read by their length prefix, without requiring a terminator,
  and an index outside the pool reads as the empty string;
* attributes are read at ``attributeStart + i * attributeSize`` (what Android
  does, whatever the size says);
* an attribute whose name carries a framework resource id (the resource map)
  is named by that id, as PackageManager reads it, not by its name string;
* parsing ends when the root element ends.

It builds a plain ElementTree the manifest walker reads like androguard's.
Reference: AOSP frameworks/base/libs/androidfw/ResourceTypes.cpp.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from androguard.core.axml import format_value
from androguard.core.resources import public

ANDROID_NS_URI = "http://schemas.android.com/apk/res/android"
_STRING_POOL = 0x0001
_RESOURCE_MAP = 0x0180
_START_ELEMENT = 0x0102
_END_ELEMENT = 0x0103
_TYPE_STRING = 0x03
_UTF8 = 0x100
_NO_INDEX = 0xFFFFFFFF
#: Elements read at most (real manifests have a few thousand).
MAX_ELEMENTS = 200_000
_ATTRIBUTE_NAMES: dict[int, str] = public.SYSTEM_RESOURCES["attributes"]["inverse"]


class AxmlError(Exception):
    """No root element could be read."""


@dataclass(frozen=True, slots=True)
class AxmlDocument:
    """The element tree read, and whether the root element was closed (the whole file was read)."""

    root: ET.Element
    complete: bool


class _StringPool:
    def __init__(self, data: bytes, start: int, header_size: int, size: int) -> None:
        self.data = data
        self.end = start + size
        count, _styles, flags, strings_start, _styles_start = struct.unpack_from("<5I", data, start + 8)
        offsets_at = start + header_size
        count = min(count, max(0, (self.end - offsets_at) // 4))
        self.offsets = struct.unpack_from(f"<{count}I", data, offsets_at)
        self.base = start + strings_start
        self.utf8 = bool(flags & _UTF8)
        self._cache: dict[int, str] = {}

    def get(self, idx: int) -> str:
        if not 0 <= idx < len(self.offsets):
            return ""
        cached = self._cache.get(idx)
        if cached is None:
            try:
                cached = self._decode(self.base + self.offsets[idx])
            except (IndexError, struct.error):
                cached = ""
            self._cache[idx] = cached
        return cached

    def _decode(self, pos: int) -> str:
        data = self.data
        if self.utf8:
            pos += 2 if data[pos] & 0x80 else 1  # length in UTF-16 units, unused
            n = data[pos]
            if n & 0x80:
                n = ((n & 0x7F) << 8) | data[pos + 1]
                pos += 1
            pos += 1
            return data[pos : min(pos + n, self.end)].decode("utf-8", "replace")
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        if n & 0x8000:
            (low,) = struct.unpack_from("<H", data, pos)
            n = ((n & 0x7FFF) << 16) | low
            pos += 2
        return data[pos : min(pos + 2 * n, self.end)].decode("utf-16-le", "replace")


class _Tree:
    """The element tree as Android's parser builds it: one root, ended when the root ends."""

    def __init__(self) -> None:
        self.root: ET.Element | None = None
        self.open: list[ET.Element] = []

    def start(self, element: ET.Element) -> bool:
        """Add ``element`` under the open one; False when it is a second root (the document has ended)."""
        if self.open:
            self.open[-1].append(element)
        elif self.root is None:
            self.root = element
        else:
            return False
        self.open.append(element)
        return True

    def end(self) -> bool:
        """Close the open element; False when that was the root (the rest is not read by Android either)."""
        if self.open:
            self.open.pop()
            return bool(self.open)
        return True


def parse_axml(data: bytes) -> AxmlDocument:
    """The element tree of binary XML ``data``, read as tolerantly as Android does."""
    if len(data) < 8:
        raise AxmlError("shorter than a chunk header")
    _type, header_size, size = struct.unpack_from("<HHI", data, 0)
    end = size if 8 < size <= len(data) else len(data)
    pos = header_size if 8 <= header_size < end else 8
    pool: _StringPool | None = None
    res_ids: tuple[int, ...] = ()
    tree = _Tree()
    elements = 0
    while pos + 8 <= end:
        ctype, chsize, csize = struct.unpack_from("<HHI", data, pos)
        if csize < 8 or chsize > csize or pos + csize > end:
            break  # Android stops at a chunk whose sizes do not fit, and so do we
        if ctype == _STRING_POOL and pool is None and chsize >= 28:
            pool = _StringPool(data, pos, chsize, csize)
        elif ctype == _RESOURCE_MAP and not res_ids:
            res_ids = struct.unpack_from(f"<{(csize - chsize) // 4}I", data, pos + chsize)
        elif ctype == _START_ELEMENT and pool is not None and pos + chsize + 20 <= pos + csize:
            elements += 1
            if elements > MAX_ELEMENTS or not tree.start(_element(data, pos + chsize, pos + csize, pool, res_ids)):
                break
        elif ctype == _END_ELEMENT and not tree.end():
            break
        pos += csize
    if tree.root is None:
        raise AxmlError("no element could be read")
    return AxmlDocument(root=tree.root, complete=not tree.open)


def _element(data: bytes, ext: int, chunk_end: int, pool: _StringPool, res_ids: tuple[int, ...]) -> ET.Element:
    ns, name, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", data, ext)
    element = ET.Element(pool.get(name))
    for i in range(attr_count):
        at = ext + attr_start + i * attr_size
        if at + 20 > chunk_end:
            break
        a_ns, a_name, a_raw, _size, _res0, a_type, a_data = struct.unpack_from("<IIIHBBI", data, at)
        res_id = res_ids[a_name] if a_name < len(res_ids) else 0
        known = _ATTRIBUTE_NAMES.get(res_id)
        if known is not None:
            key = f"{{{ANDROID_NS_URI}}}{known}"
        else:
            uri = pool.get(a_ns) if a_ns != _NO_INDEX else ""
            local = pool.get(a_name)
            key = f"{{{uri}}}{local}" if uri else local
        if not key:
            continue
        if a_type == _TYPE_STRING:
            value = pool.get(a_data)
        elif a_type == 0 and a_raw != _NO_INDEX:
            value = pool.get(a_raw)
        else:
            value = format_value(a_type, a_data, pool.get)
        element.set(key, value)
    del ns  # element namespaces play no part in a manifest
    return element
