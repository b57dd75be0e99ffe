"""Recovering the code that packers hide encoded or encrypted inside an APK.

Droppers ship the real app as an entry that is neither a DEX nor a zip until
the stub decodes it at run time (an ``assets/*.json`` that is RC4 ciphertext,
an ``assets/db`` that is base64 text, a ``*.dat`` that is a zlib stream). The
loader's magic-number search finds only plain payloads; this module undoes
the transforms such stubs use, and verifies every result by its structure, so
nothing is guessed:

* **base64**, **zlib** and **gzip** whose content is a DEX or a zip;
* **XOR** with a repeating key of 1-8 bytes, derived from the known plaintext
  of a DEX header and accepted only when all 20 known header bytes (magic,
  header size, endian tag) agree;
* **RC4** under a key found in the app's own code: byte-array constants, the
  XOR of two byte arrays of one method (how string-obfuscating packers build
  their keys) and short string constants (:mod:`~appaudit.apk.keys`), with or
  without a 4-byte length prefix. A key is accepted only when the first bytes
  decrypt to a DEX header (the same 20 known bytes) or a zip local header; the
  loader then parses the whole result, and a payload that does not parse is
  reported, not used.

Layers combine (RC4 then zlib, base64 then zlib, ...) up to :data:`MAX_LAYERS`.
Nothing here knows a sample's names: the candidates are every entry that is
not part of an APK's own structure and every key-like constant of the code.

Not recovered (the coverage signals still report such apps as partly
unseen): keys computed at run time (string builders, hashes, native code),
AES/DES/other ciphers, code encrypted inside native libraries or method by
method (Jiagu, Bangcle, APKProtect), and stages downloaded at run time.

A key candidate costs one 44-byte keystream (:mod:`~appaudit.apk.rc4`: cryptography's ARC4 where it
takes the key, else Python), shared by every entry tried; the number of keys tried per input is bounded
by ``Limits.max_key_trials`` (2,000 by default: the keys of the corpus's droppers were all among the
first 230 tried).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from appaudit import deadline
from appaudit.apk.keys import Key
from appaudit.apk.rc4 import keystream as _rc4_keystream

__all__ = [
    "HEAD_SIZE",
    "Plan",
    "Recovery",
    "TrialBudget",
    "plan",
    "rc4",
    "rc4_search",
    "unwrap",
    "worth_rc4",
]

#: Transforms applied one after another at most this often (e.g. RC4, then zlib, then base64).
MAX_LAYERS = 3
#: How much of an entry is looked at before deciding whether to read it whole.
HEAD_SIZE = 4096
#: Bytes of a DEX header whose plaintext is known: magic (0-7), header_size and endian tag (0x24-0x2b).
_DEX_HEAD = 0x2C
_DEX_MAGIC = re.compile(rb"dex\n0[3-4][0-9]\x00")
_HEADER_TAIL = (0x70).to_bytes(4, "little") + (0x12345678).to_bytes(4, "little")
_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b\x08"
#: base64 of "dex\n", "PK\x03\x04", a zlib header (0x78 0x01/5e/9c/da) and gzip.
_BASE64_HEAD = re.compile(rb"\s*(ZGV4Cj|UEsDB|eA[FHP]|eF[47]|eJ[wxyz]|eN[oqrst]|H4sI)")
#: An RC4 ciphertext looks random; an entry below this many bits per byte (in its first 4 KiB) is not tried.
_MIN_ENTROPY = 7.5
#: Smallest entry worth an RC4 search (a DEX header alone is 112 bytes; real payloads are kilobytes).
_MIN_CIPHERTEXT = 1024
#: Formats that are high-entropy by nature and never a packer's payload.
_MEDIA_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"RIFF",
    b"OggS",
    b"ID3",
    b"fLaC",
    b"\x7fELF",
    b"wOFF",
    b"wOF2",
    b"OTTO",
    b"7z\xbc\xaf",
    b"BZh",
    b"\xfd7zXZ",
    b"%PDF",
    b"\x00\x00\x01\x00",
)


@dataclass(frozen=True, slots=True)
class Recovery:
    """A payload recovered from one entry."""

    data: bytes
    """The DEX or zip."""
    steps: tuple[str, ...]
    """The transforms undone, outermost first, e.g. ``("rc4 key 4d6c6d (byte array in La;->b()V)", "zlib")``."""


class TrialBudget:
    """RC4 key trials still allowed for one input."""

    def __init__(self, trials: int) -> None:
        self.left = trials

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


# ---------------------------------------------------------------- recognisers
def is_dex_header(head: bytes) -> bool:
    """The 20 known bytes of a DEX header (magic, header size, endian tag)."""
    return bool(_DEX_MAGIC.match(head)) and head[0x24:0x2C] == _HEADER_TAIL


def _is_zip_header(head: bytes) -> bool:
    """A zip local file header: magic, a version below 10.0 and STORED or DEFLATE."""
    return (
        len(head) >= 10
        and head[:4] == _ZIP_MAGIC
        and int.from_bytes(head[4:6], "little") < 100
        and int.from_bytes(head[8:10], "little") in (0, 8)
    )


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0


def is_payload(head: bytes) -> bool:
    """A DEX or a zip (what the loader analyses)."""
    return is_dex_header(head) or _is_zip_header(head)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


# ------------------------------------------------------------------ decoders
def _inflate_head(data: bytes, wbits: int) -> bytes:
    try:
        return zlib.decompressobj(wbits).decompress(data, 64)
    except zlib.error:
        return b""


def _encoded_head(head: bytes) -> str | None:
    """Which plain encoding the entry starting with ``head`` is in, if it holds a payload."""
    if _is_zlib(head) and _leads_to_payload(_inflate_head(head, 15)):
        return "zlib"
    if head.startswith(_GZIP_MAGIC) and _leads_to_payload(_inflate_head(head, 31)):
        return "gzip"
    if _BASE64_HEAD.match(head[:64]):
        text = re.sub(rb"\s+", b"", head[:256])
        try:
            decoded = base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            return None
        if _leads_to_payload(decoded):
            return "base64"
    return None


def _leads_to_payload(head: bytes) -> bool:
    """``head`` starts a payload, possibly behind further zlib/gzip/base64 layers.

    Only a prefix is decoded here (64 inflated bytes, 256 base64 characters), which may end before
    a DEX header's known tail: the magic alone is accepted, and :func:`unwrap` checks the whole.
    """
    return head.startswith(_ZIP_MAGIC) or bool(_DEX_MAGIC.match(head)) or (_encoded_head(head) is not None)


def _decode(data: bytes, how: str, cap: int) -> bytes | None:
    """The whole entry decoded (at most ``cap`` bytes), or None when it is not what its head said."""
    try:
        if how == "base64":
            text = re.sub(rb"\s+", b"", data)
            if len(text) * 3 // 4 > cap:
                return None
            return base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj(15 if how == "zlib" else 31)
        out = inflater.decompress(data, cap + 1)
    except (binascii.Error, ValueError, zlib.error):
        return None
    return out if len(out) <= cap else None


def _xor(data: bytes, stream: bytes | bytearray) -> bytes:
    n = len(data)
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")).to_bytes(n, "little")


def rc4(key: bytes, data: bytes) -> bytes:
    """RC4 (en|de)cryption of ``data`` under ``key`` (any length from 1 byte)."""
    return _xor(data, _rc4_keystream(key, len(data)))


# ---------------------------------------------------------------- XOR search
def _xor_key(head: bytes) -> bytes | None:
    """The shortest repeating XOR key (1-8 bytes) that turns ``head`` into a DEX header, if one does."""
    if len(head) < _DEX_HEAD:
        return None
    tail = head[0x24:0x2C]
    for version in (b"035", b"036", b"037", b"038", b"039", b"040", b"041"):
        stream = _xor(head[:8], b"dex\n" + version + b"\x00")
        for period in range(1, 9):
            key = stream[:period]
            if (key * 8)[:8] != stream:
                continue
            if any(stream) and _xor(tail, (key * 16)[0x24 % period :][:8]) == _HEADER_TAIL:
                return key
            break
    return None


def _xor_repeat(data: bytes, key: bytes) -> bytes:
    reps = len(data) // len(key) + 1
    return _xor(data, (key * reps)[: len(data)])


# ----------------------------------------------------------------- RC4 search
def _ciphertexts(head: bytes) -> tuple[int, ...]:
    """Where an entry's ciphertext may start: 0, or 4 after a length prefix (when there is room)."""
    return (0, 4) if len(head) >= 4 + _DEX_HEAD else (0,)


def _by_first_bytes(heads: dict[str, bytes]) -> dict[bytes, list[tuple[str, int]]]:
    """The first 4 keystream bytes that would turn an entry's ciphertext into a payload's magic (a DEX's
    or a zip's) -> (entry, where its ciphertext starts): a key whose keystream starts otherwise decrypts
    none of them, so a key costs one dictionary lookup, not a decryption per entry."""
    index: dict[bytes, list[tuple[str, int]]] = {}
    for name, head in heads.items():
        for offset in _ciphertexts(head):
            body = head[offset : offset + 4]
            if len(body) == 4:
                for magic in (b"dex\n", _ZIP_MAGIC):
                    index.setdefault(_xor(body, magic), []).append((name, offset))
    return index


def _rc4_hits(heads: dict[str, bytes], index: dict[bytes, list[tuple[str, int]]], key: bytes) -> list[tuple[str, int]]:
    """(entry, where its ciphertext starts) of every entry of ``heads`` that ``key`` decrypts to a payload,
    in the order of ``heads``; the start at 0 is preferred to the one after a length prefix. One keystream
    serves every entry; its first 4 bytes are made alone first, as nearly every key fails on them and
    the 40 bytes more cost ~15 % of a Python keystream."""
    candidates = index.get(bytes(_rc4_keystream(key, 4)))
    if not candidates:
        return []
    stream = _rc4_keystream(key, _DEX_HEAD)
    maybe = {name for name, _offset in candidates}
    hits = []
    for name, head in heads.items():
        if name in maybe:
            offset = next((o for o in _ciphertexts(head) if is_payload(_xor(head[o : o + _DEX_HEAD], stream))), None)
            if offset is not None:
                hits.append((name, offset))
    return hits


def worth_rc4(head: bytes, size: int) -> bool:
    """An entry that could be RC4 ciphertext: large enough, random-looking and no known media format."""
    return size >= _MIN_CIPHERTEXT and not head.startswith(_MEDIA_MAGIC) and entropy(head) >= _MIN_ENTROPY


# --------------------------------------------------------------------- plans
@dataclass(frozen=True, slots=True)
class Plan:
    """How an entry will be decoded, decided from its first bytes only."""

    how: str
    """``zlib``, ``gzip``, ``base64``, ``xor`` or ``rc4``."""
    key: Key | None = None
    offset: int = 0
    """For RC4: 4 when a little-endian length precedes the ciphertext."""


def plan(head: bytes) -> Plan | None:
    """The key-free transform (zlib, gzip, base64, XOR) that turns the entry starting with ``head`` into a
    payload, if there is one."""
    encoded = _encoded_head(head)
    if encoded is not None:
        return Plan(encoded)
    xor_key = _xor_key(head)
    if xor_key is not None:
        return Plan("xor", Key(xor_key, "derived from the DEX header's known bytes"))
    return None


def rc4_search(heads: dict[str, bytes], keys: Iterable[Key], budget: TrialBudget) -> dict[str, Plan]:
    """RC4 plans for the entries (name -> first bytes) whose key is among ``keys``.

    Each key is tried once against every entry still unexplained; ``budget`` counts keys.
    """
    left = dict(heads)
    index = _by_first_bytes(heads)
    found: dict[str, Plan] = {}
    for key in keys:
        if not left or not budget.take():
            break
        deadline.check()
        for name, offset in _rc4_hits(left, index, key.value):
            del left[name]
            found[name] = Plan("rc4", key, offset)
    return found


def unwrap(data: bytes, first: Plan, cap: int) -> Recovery | None:
    """Apply ``first`` to the whole entry, then any further plain layers; None if the result is not a payload."""
    steps: list[str] = []
    if first.how in ("zlib", "gzip", "base64"):
        out = _decode(data, first.how, cap)
        steps.append(first.how)
    elif first.how == "xor":
        assert first.key is not None
        out = _xor_repeat(data, first.key.value)
        steps.append(f"xor key {first.key.value.hex()} ({first.key.source})")
    else:
        assert first.key is not None
        body = data[first.offset :]
        if first.offset:
            declared = int.from_bytes(data[:4], "little")
            body = body[:declared] if 0 < declared <= len(body) else body
        out = rc4(first.key.value, body)
        prefix = "after a 4-byte length, " if first.offset else ""
        steps.append(f"rc4 {prefix}key {first.key.value.hex()} ({first.key.source})")
    for _ in range(MAX_LAYERS - 1):
        if out is None:
            return None
        if is_payload(out[:_DEX_HEAD]):
            return Recovery(out, tuple(steps))
        how = _encoded_head(out[:HEAD_SIZE])
        if how is None:
            return None
        out = _decode(out, how, cap)
        steps.append(how)
    return Recovery(out, tuple(steps)) if out is not None and is_payload(out[:_DEX_HEAD]) else None
