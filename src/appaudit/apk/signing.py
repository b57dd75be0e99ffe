"""Signer certificates of an APK: v2/v3 signing block and v1 (JAR) signatures.

Read directly rather than through ``androguard.core.apk``: importing that
module (and the cryptography stack behind it) costs about 0.1 s of every
scan, more than reading the certificates takes. Only the certificates are
extracted (their SHA-256 identifies the signer); signatures are not verified.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Iterator

_EOCD = b"PK\x05\x06"
_MAGIC = b"APK Sig Block 42"
#: v2, v3 and v3.1 signature scheme block ids
_SCHEME_IDS = (0x7109871A, 0xF05368C0, 0x1B93AD61)
_V1_SIGNATURE = re.compile(r"META-INF/[^/]+\.(RSA|DSA|EC)", re.IGNORECASE)


def _length_prefixed(buf: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    end = pos + 4 + n
    if end > len(buf):
        raise ValueError("length-prefixed value runs past its container")
    return buf[pos + 4 : end], end


def _signing_block(raw: bytes) -> bytes | None:
    eocd = raw.rfind(_EOCD, max(0, len(raw) - 65557))
    if eocd < 0 or eocd + 20 > len(raw):
        return None
    (cd_offset,) = struct.unpack_from("<I", raw, eocd + 16)
    if cd_offset < 32 or cd_offset > len(raw) or raw[cd_offset - 16 : cd_offset] != _MAGIC:
        return None
    (size,) = struct.unpack_from("<Q", raw, cd_offset - 24)
    start = cd_offset - size - 8
    if start < 0:
        return None
    return raw[start + 8 : cd_offset - 24]


def _scheme_certificates(raw: bytes) -> Iterator[bytes]:
    block = _signing_block(raw)
    if block is None:
        return
    pos = 0
    while pos + 12 <= len(block):
        (length,) = struct.unpack_from("<Q", block, pos)
        if length < 4 or pos + 8 + length > len(block):
            return
        (pair_id,) = struct.unpack_from("<I", block, pos + 8)
        value = block[pos + 12 : pos + 8 + length]
        pos += 8 + length
        if pair_id not in _SCHEME_IDS:
            continue
        signers, _ = _length_prefixed(value, 0)
        sp = 0
        while sp < len(signers):
            signer, sp = _length_prefixed(signers, sp)
            signed_data, _ = _length_prefixed(signer, 0)
            _digests, dp = _length_prefixed(signed_data, 0)
            certs, _ = _length_prefixed(signed_data, dp)
            cp = 0
            while cp < len(certs):
                cert, cp = _length_prefixed(certs, cp)
                yield cert


def _v1_certificates(pkcs7: bytes) -> Iterator[bytes]:
    from asn1crypto import cms

    info = cms.ContentInfo.load(pkcs7)
    for cert in info["content"]["certificates"] or []:
        yield cert.chosen.dump()


def signer_sha256(raw: bytes, names: list[str], read: Callable[[str], bytes]) -> tuple[tuple[str, ...], list[str]]:
    """(sorted SHA-256 of every signer certificate, problems met) for the APK bytes ``raw``."""
    ders: set[bytes] = set()
    problems: list[str] = []
    try:
        ders.update(_scheme_certificates(raw))
    except (ValueError, struct.error) as exc:
        problems.append(f"APK signing block: {exc}")
    for name in names:
        if _V1_SIGNATURE.fullmatch(name):
            try:
                ders.update(_v1_certificates(read(name)))
            except Exception as exc:  # asn1crypto raises many kinds on bad DER
                problems.append(f"{name}: unreadable PKCS#7 ({type(exc).__name__})")
    return tuple(sorted(hashlib.sha256(d).hexdigest() for d in ders)), problems
