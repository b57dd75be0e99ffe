"""The start-up shortcuts in apk/: the v1 signature's own DER reader (asn1crypto as the oracle and the
fallback) and the XML character check written as a plain character class."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from appaudit.apk import axml
from appaudit.apk.signing import _v1_certificates, _v1_certificates_der
from conftest import FIXTURES, corpus_samples

SIGNED = FIXTURES / "signed.apk"
SIGNED_CERT = "bbd254ac54ac9b6b5c70bc5055805a5ce48c2cd45d74555e94f69357427288d0"
_V1 = re.compile(r"META-INF/[^/]+\.(RSA|DSA|EC)", re.IGNORECASE)


def _asn1crypto(pkcs7: bytes) -> list[bytes]:
    from asn1crypto import cms

    info = cms.ContentInfo.load(pkcs7)
    return [cert.chosen.dump() for cert in info["content"]["certificates"] or []]


def _blocks(apks: list[Path]) -> list[bytes]:
    out = []
    for apk in apks:
        try:
            zf = zipfile.ZipFile(apk)
        except zipfile.BadZipFile:  # some corpus samples are hostile zips: nothing to read
            continue
        with zf:
            out.extend(zf.read(n) for n in zf.namelist() if _V1.fullmatch(n))
    return out


def _signed_block() -> bytes:
    (block,) = _blocks([SIGNED])
    return block


def test_own_reader_gives_the_fixture_certificate() -> None:
    certs = _v1_certificates_der(_signed_block())
    assert [hashlib.sha256(c).hexdigest() for c in certs] == [SIGNED_CERT]
    assert certs == _asn1crypto(_signed_block())


def test_own_reader_agrees_with_asn1crypto_on_every_corpus_signature() -> None:
    blocks = _blocks(sorted(corpus_samples().glob("*.apk")))
    assert len(blocks) >= 60  # 63 of the 69 samples carry a v1 signature
    for block in blocks:  # none refused: every corpus signature is plain DER
        assert _v1_certificates_der(block) == _asn1crypto(block)


def _mutant(rng: random.Random, block: bytes) -> bytes:
    b = bytearray(block)
    for _ in range(rng.choice((1, 1, 2, 4))):
        k = rng.randrange(len(b))
        op = rng.random()
        if op < 0.6:
            b[k] = rng.randrange(256)
        elif op < 0.8:
            del b[k : k + rng.randrange(1, 64)]
        else:
            b[k:k] = rng.randbytes(rng.randrange(1, 8))
    return bytes(b)


def test_own_reader_never_reads_what_asn1crypto_reads_otherwise() -> None:
    """On 2,000 mutants of the fixture's block: where the own reader answers, asn1crypto gives the same
    certificates; everywhere else the own reader refuses, so asn1crypto decides (reports unchanged)."""
    rng = random.Random(13)
    block = _signed_block()
    answered = 0
    for _ in range(2000):
        mutant = _mutant(rng, block)
        try:
            mine = _v1_certificates_der(mutant)
        except ValueError:
            continue
        assert mine == _asn1crypto(mutant)
        answered += 1
    assert 300 < answered < 1700  # both paths are exercised (the seed is fixed: 2,000 mutants, ~40 % read)


def _indefinite(block: bytes) -> bytes:
    """The same ContentInfo with its outer SEQUENCE's length indefinite (BER, as some old signers write)."""
    assert block[0] == 0x30 and block[1] & 0x80
    header = 2 + (block[1] & 0x7F)
    return b"\x30\x80" + block[header:] + b"\x00\x00"


def test_ber_and_broken_blocks_go_to_asn1crypto() -> None:
    ber = _indefinite(_signed_block())
    with pytest.raises(ValueError, match="indefinite"):
        _v1_certificates_der(ber)
    assert [hashlib.sha256(c).hexdigest() for c in _v1_certificates(ber)] == [SIGNED_CERT]
    with pytest.raises(ValueError):  # asn1crypto's own error: the scan records it as a signature error
        _v1_certificates(b"\x30\x03\x02\x01")


def test_a_scan_of_a_signed_apk_does_not_import_asn1crypto() -> None:
    probe = (
        "import sys\nfrom appaudit.api import scan\nr = scan(sys.argv[1])\n"
        "print(list(r.app.signer_sha256), 'asn1crypto' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(SIGNED)], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == f"['{SIGNED_CERT}'] False"


def test_the_xml_character_check_is_the_xml_char_production() -> None:
    # XML 1.0 production 2 (Char), as a negated class: the definition the plain class must match exactly.
    production = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    every = "".join(map(chr, range(0x110000)))
    assert axml._NOT_XML_CHAR.findall(every) == production.findall(every)
    assert len(production.findall(every)) == 2079  # 29 controls, 2,048 surrogates, U+FFFE, U+FFFF
