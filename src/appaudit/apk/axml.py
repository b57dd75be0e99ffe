"""The binary-XML (AXML) reader for AndroidManifest.xml: appaudit's own, tolerant as Android is.

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
  is named by that id, as PackageManager reads it, not by its name string
  (the id -> name table is package data, ``framework_attributes.txt``);
* parsing ends when the root element ends.

While it reads, it notes everything a well-formed file (as aapt and aapt2
write it) never has: ``AxmlDocument.irregular``. On a regular file it and
androguard's parser give the same element tree as far as a manifest is read
(the oracle tests hold them to it on every corpus manifest, every fixture and
thousands of mutants); on an irregular one they may differ, and
:func:`appaudit.apk.manifest.parse_manifest` asks androguard too. What counts
as irregular, in order of the file:

* the file header: type not XML, header size not 8, size not the file's;
* a chunk whose sizes do not fit, or bytes left after the last chunk;
* the first chunk not a string pool with a 28-byte header; the pool's
  counts not matching its offsets; any string of it outside the string data,
  without its terminator or (UTF-16) starting with a byte-order mark;
* a resource map anywhere but right after the pool, or with a header not 8;
* a node chunk with a header not 16 bytes, a chunk of a type aapt does not
  write (CDATA, unknown types, a second pool or map), an end tag with no open
  element or not naming the open one, anything but end-namespace chunks after
  the root element ends, the root element not ended, more than
  ``MAX_ELEMENTS`` elements, a pool of more than ``MAX_CHECKED_STRINGS``
  strings;
* an element whose name is not an XML name, a namespace on the root element
  (or one that is not a URI), attributes at another start or size than 20
  bytes, or running past their chunk, a comment XML cannot hold;
* a namespace prefix or URI XML cannot hold;
* an attribute with a framework resource id in a namespace other than the
  android one (none is fine: both readers then read it alike), an attribute
  given twice (as named by either reader), a name that is not an XML name, a
  value type not defined (or a dimension of no defined unit), a string value
  whose raw and typed index differ (Android reads a string attribute outside
  the android namespace by its raw index, its own attributes by the typed one,
  and so does this reader; androguard reads all by the raw index), a typed
  value of type null with a raw string, a value with a character XML cannot
  hold (a NUL included). A number is read by its typed value, as androguard
  does (the raw text aapt keeps beside some, ``7.0`` for
  ``platformBuildVersionName``, is ignored).

Reference: AOSP frameworks/base/libs/androidfw/ResourceTypes.cpp.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appaudit.apk.resvalue import KNOWN_TYPES, TYPE_STRING, format_value, unit_defined
from appaudit.apk.stringpool import HEADER_SIZE, StringPool

ANDROID_NS_URI = "http://schemas.android.com/apk/res/android"
_XML_TYPE = 0x0003
_STRING_POOL = 0x0001
_RESOURCE_MAP = 0x0180
_START_NAMESPACE = 0x0100
_END_NAMESPACE = 0x0101
_START_ELEMENT = 0x0102
_END_ELEMENT = 0x0103
_NODE_HEADER = 16
_ATTRIBUTE = 20
_NO_INDEX = 0xFFFFFFFF
#: Elements read at most (real manifests have a few thousand).
MAX_ELEMENTS = 200_000
#: Strings of a pool checked for irregularities at most (real manifests have a few thousand); a larger
#: pool is irregular itself.
MAX_CHECKED_STRINGS = 100_000
#: Irregularities recorded at most (the first ones say enough).
MAX_IRREGULAR = 20
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!#-;=?-\[\]_a-z~]*")
#: A character XML 1.0 does not allow: the complement of its Char production (#x9 | #xA | #xD |
#: [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]) written out, because the negated form
#: took 7 ms of every scan to compile (tests/test_start_apk.py checks every code point).
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ANDROID_KEY = "{" + ANDROID_NS_URI + "}"
_ATTRIBUTE_TABLE = Path(__file__).with_name("framework_attributes.txt")


@cache
def framework_attributes() -> dict[int, str]:
    """Framework attribute resource id -> name (``0x01010003`` -> ``name``), read once from package data."""
    table: dict[int, str] = {}
    for line in _ATTRIBUTE_TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            hex_id, name = line.split()
            table[int(hex_id, 16)] = name
    return table


class AxmlError(Exception):
    """No root element could be read."""


@dataclass(frozen=True, slots=True)
class AxmlDocument:
    """The element tree read, whether the root element was closed (the whole file was read), and what
    in the file a well-formed one never has (empty for a file as aapt writes it)."""

    root: ET.Element
    complete: bool
    irregular: tuple[str, ...] = ()


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


class _Reader:
    """One pass over the chunks of a binary-XML file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.irregular: list[str] = []
        self.pool: StringPool | None = None
        self.res_ids: tuple[int, ...] = ()
        self.tree = _Tree()
        self.elements = 0
        self.chunks = 0

    def note(self, what: str) -> None:
        if len(self.irregular) < MAX_IRREGULAR:
            self.irregular.append(what)

    def read(self) -> AxmlDocument:
        data = self.data
        if len(data) < 8:
            raise AxmlError("shorter than a chunk header")
        ftype, header_size, size = struct.unpack_from("<HHI", data, 0)
        if ftype != _XML_TYPE or header_size != 8 or size != len(data):
            self.note(f"file header (type 0x{ftype:04x}, header {header_size}, size {size} of {len(data)} bytes)")
        end = size if 8 < size <= len(data) else len(data)
        pos = header_size if 8 <= header_size < end else 8
        while pos + 8 <= end:
            ctype, chsize, csize = struct.unpack_from("<HHI", data, pos)
            if csize < 8 or chsize > csize or pos + csize > end:
                self.note(f"chunk at {pos} does not fit (header {chsize}, size {csize})")
                break  # Android stops at a chunk whose sizes do not fit, and so do we
            if not self._chunk(ctype, chsize, pos, csize):
                pos = self._after_root(pos + csize, end)
                break
            pos += csize
            self.chunks += 1
        if pos != end:
            self.note(f"{end - pos} bytes after the last chunk")
        root = self.tree.root
        if root is None:
            raise AxmlError("no element could be read")
        if self.tree.open:
            self.note("the root element does not end")
        if self.pool is not None:
            # androguard decodes strings the tree does not need (names of attributes read by resource id,
            # end tags) and fails on a malformed one: every string is checked, up to a bound.
            if len(self.pool) > MAX_CHECKED_STRINGS:
                self.note(f"string pool of {len(self.pool)} strings (more than {MAX_CHECKED_STRINGS} are not checked)")
            for idx in range(min(len(self.pool), MAX_CHECKED_STRINGS)):
                self.pool.get(idx)
            self.irregular.extend(self.pool.irregular[: MAX_IRREGULAR - len(self.irregular)])
        return AxmlDocument(root=root, complete=not self.tree.open, irregular=tuple(self.irregular))

    def _chunk(self, ctype: int, chsize: int, pos: int, csize: int) -> bool:
        """Read one chunk; False when the document has ended (its root closed, or a second root)."""
        if self.chunks == 0 and (ctype != _STRING_POOL or chsize != HEADER_SIZE):
            self.note("the first chunk is not a string pool")
        if _START_NAMESPACE <= ctype <= _END_ELEMENT and chsize != _NODE_HEADER:
            self.note(f"node chunk at {pos} has a {chsize}-byte header")
        if ctype == _STRING_POOL and self.pool is None and chsize >= HEADER_SIZE:
            self.pool = StringPool(self.data, pos, chsize, csize)
        elif ctype == _RESOURCE_MAP and not self.res_ids:
            if self.chunks != 1 or chsize != 8 or csize % 4:
                self.note(f"resource map at {pos} out of place or of odd size")
            self.res_ids = struct.unpack_from(f"<{(csize - chsize) // 4}I", self.data, pos + chsize)
        elif ctype == _START_ELEMENT and self.pool is not None and pos + chsize + 20 <= pos + csize:
            self.elements += 1
            if self.elements > MAX_ELEMENTS:
                self.note(f"more than {MAX_ELEMENTS} elements")
                return False
            return self.tree.start(self._element(pos, chsize, csize, self.pool))
        elif ctype == _END_ELEMENT:
            self._end_tag(pos, chsize, csize)
            return self.tree.end()
        elif ctype in (_START_NAMESPACE, _END_NAMESPACE) and self.pool is not None and chsize + 8 <= csize:
            self._namespace(pos + chsize, self.pool)
        else:
            self.note(f"chunk of type 0x{ctype:04x} at {pos}")
        return True

    def _end_tag(self, pos: int, chsize: int, csize: int) -> None:
        """Note an end tag androguard would read differently: with no open element, or not naming the open
        element (it skips an end tag with no name, so the element stays open to it)."""
        if not self.tree.open:
            self.note(f"end tag at {pos} with no open element")
        elif self.pool is None or chsize + 8 > csize:
            self.note(f"end tag at {pos} too short")
        else:
            (name,) = struct.unpack_from("<I", self.data, pos + chsize + 4)
            if self.pool.get(name) != self.tree.open[-1].tag:
                self.note(f"end tag at {pos} does not name the open element")

    def _after_root(self, pos: int, end: int) -> int:
        """Where the end-namespace chunks after the root element end (anything else is irregular)."""
        while pos + 8 <= end:
            ctype, chsize, csize = struct.unpack_from("<HHI", self.data, pos)
            if ctype != _END_NAMESPACE or chsize != _NODE_HEADER or csize < 24 or pos + csize > end:
                self.note(f"chunk of type 0x{ctype:04x} at {pos} after the root element")
                return end
            pos += csize
        return pos

    def _namespace(self, ext: int, pool: StringPool) -> None:
        prefix, uri = (pool.get(i) for i in struct.unpack_from("<II", self.data, ext))
        if prefix and uri and (not _XML_NAME.fullmatch(prefix) or prefix.lower().startswith("xml")):
            self.note(f"namespace prefix {prefix!r}")
        if uri and not _URI.fullmatch(uri):
            self.note(f"namespace URI {uri!r}")

    def _element(self, pos: int, chsize: int, csize: int, pool: StringPool) -> ET.Element:
        data = self.data
        ext, chunk_end = pos + chsize, pos + csize
        (comment,) = struct.unpack_from("<I", data, pos + 12)
        ns, name, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", data, ext)
        tag = pool.get(name)
        uri = pool.get(ns) if ns != _NO_INDEX else ""
        # Only the root's namespace changes what androguard reads (no <manifest> root); below it, element
        # namespaces are ignored by both readers (and by Android).
        if not _XML_NAME.fullmatch(tag) or (uri and (self.tree.root is None or not _URI.fullmatch(uri))):
            self.note(f"element {tag!r} at {pos} is not an XML name or has a namespace")
        if attr_start != _ATTRIBUTE or attr_size != _ATTRIBUTE or ext + 20 + 20 * attr_count > chunk_end:
            self.note(f"attributes of element {tag!r} at {pos} are not where aapt puts them")
        if comment != _NO_INDEX:
            text = pool.get(comment)
            if "--" in text or text.endswith("-") or _NOT_XML_CHAR.search(text):
                self.note(f"comment of element {tag!r} at {pos}")
        element = ET.Element(tag)
        # Keys as named here and as androguard names them (a framework attribute written without a
        # namespace is plain to it): a key given twice may be read differently by the two.
        keys: set[str] = set()
        plain: set[str] = set()
        for i in range(attr_count):
            at = ext + attr_start + i * attr_size
            if at + 20 > chunk_end:
                break
            key, theirs, value = self._attribute(struct.unpack_from("<IIIHBBI", data, at), pool)
            if key in keys or theirs in plain:
                self.note(f"attribute {key!r} of element {tag!r} at {pos} given twice")
            keys.add(key)
            plain.add(theirs)
            if key:
                element.set(key, value)
        return element

    def _attribute(self, fields: tuple[int, ...], pool: StringPool) -> tuple[str, str, str]:
        """(Clark-notation name, the name androguard gives it, value) of one attribute; the name is empty
        when it has none."""
        a_ns, a_name, a_raw, _size, _res0, a_type, a_data = fields
        res_id = self.res_ids[a_name] if a_name < len(self.res_ids) else 0
        known = framework_attributes().get(res_id)
        uri = pool.get(a_ns) if a_ns != _NO_INDEX else ""
        if known is not None:
            key = f"{{{ANDROID_NS_URI}}}{known}"
            theirs = key if uri else known
            if uri not in ("", ANDROID_NS_URI):
                self.note(f"framework attribute {known!r} outside the android namespace")
        else:
            local = pool.get(a_name)
            key = theirs = f"{{{uri}}}{local}" if uri else local
            if not _XML_NAME.fullmatch(local) or (uri and not _URI.fullmatch(uri)):
                self.note(f"attribute name {key!r}")
        if a_type == TYPE_STRING:
            value = pool.get(a_data)
            if a_raw != a_data or _NOT_XML_CHAR.search(value):
                self.note(f"string value of attribute {key!r}")
            if a_raw not in (a_data, _NO_INDEX) and not key.startswith(_ANDROID_KEY):
                # Android reads an attribute outside its namespace by name (``getAttributeValue(null,
                # "package")``), which gives the raw string; its own attributes through a TypedArray (typed).
                value = pool.get(a_raw)
        elif a_type == 0 and a_raw != _NO_INDEX:
            value = pool.get(a_raw)
            self.note(f"attribute {key!r} of type null with a raw string")
        else:
            value = format_value(a_type, a_data, pool.get)
            if a_type not in KNOWN_TYPES or not unit_defined(a_type, a_data):
                self.note(f"value type 0x{a_type:02x} of attribute {key!r}")
        return key, theirs, value


def parse_axml(data: bytes) -> AxmlDocument:
    """The element tree of binary XML ``data``, read as tolerantly as Android does; AxmlError when
    there is no element at all."""
    return _Reader(data).read()
