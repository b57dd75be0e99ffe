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


#: DER of the OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), as a complete TLV.
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
_SEQUENCE, _SET, _INTEGER, _TAGGED_0, _TAGGED_1 = 0x30, 0x31, 0x02, 0xA0, 0xA1


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER value at ``pos``; ValueError unless it has
    a one-byte tag and a definite length and ends by ``end``."""
    if pos + 2 > end:
        raise ValueError("truncated")
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tag")
    pos += 2
    if first < 0x80:
        length = first
    elif 0x81 <= first <= 0x84 and pos + (first & 0x7F) <= end:  # a definite length of at most 4 bytes
        length = int.from_bytes(buf[pos : pos + (first & 0x7F)], "big")
        pos += first & 0x7F
    else:
        raise ValueError("indefinite or oversized length")
    if pos + length > end:
        raise ValueError("value runs past its container")
    return tag, pos, pos + length


def _v1_certificates_der(pkcs7: bytes) -> list[bytes]:
    """The certificates of a PKCS#7 signedData in plain DER, each as its encoded bytes.

    ValueError for anything else (BER indefinite lengths, another content type, a certificate choice
    other than an X.509 certificate, trailing bytes): :func:`_v1_certificates` then asks asn1crypto,
    whose import (with the decimal, fractions and socket modules it pulls in) is 14 ms of a scan.
    """
    tag, start, end = _tlv(pkcs7, 0, len(pkcs7))  # ContentInfo
    if tag != _SEQUENCE or end != len(pkcs7) or pkcs7[start : start + len(_SIGNED_DATA_OID)] != _SIGNED_DATA_OID:
        raise ValueError("not a DER signedData ContentInfo")
    tag, start, content_end = _tlv(pkcs7, start + len(_SIGNED_DATA_OID), end)  # content [0] EXPLICIT
    if tag != _TAGGED_0 or content_end != end:
        raise ValueError("no signedData content")
    tag, pos, end = _tlv(pkcs7, start, content_end)  # SignedData
    if tag != _SEQUENCE or end != content_end:
        raise ValueError("no SignedData")
    for expected in (_INTEGER, _SET, _SEQUENCE):  # version, digestAlgorithms, encapContentInfo
        tag, _, pos = _tlv(pkcs7, pos, end)
        if tag != expected:
            raise ValueError("unexpected SignedData field")
    certificates: list[bytes] = []
    tag, start, after = _tlv(pkcs7, pos, end)
    if tag == _TAGGED_0:  # certificates [0] IMPLICIT SET OF CertificateChoices
        while start < after:
            tag, _, cert_end = _tlv(pkcs7, start, after)
            if tag != _SEQUENCE:
                raise ValueError("a certificate choice other than Certificate")
            certificates.append(pkcs7[start:cert_end])
            start = cert_end
        tag, start, after = _tlv(pkcs7, after, end)
    if tag == _TAGGED_1:  # crls [1] IMPLICIT
        tag, start, after = _tlv(pkcs7, after, end)
    if tag != _SET or after != end:  # signerInfos, the last field
        raise ValueError("unexpected SignedData end")
    return certificates


def _v1_certificates(pkcs7: bytes) -> list[bytes]:
    """The certificates of a v1 signature block file: read directly when it is plain DER (every corpus
    and fixture APK's is), else by asn1crypto, which also reads BER and says why a file is broken."""
    try:
        return _v1_certificates_der(pkcs7)
    except ValueError:
        pass
    from asn1crypto import cms

    info = cms.ContentInfo.load(pkcs7)
    return [cert.chosen.dump() for cert in info["content"]["certificates"] or []]


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
