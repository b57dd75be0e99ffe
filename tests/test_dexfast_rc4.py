"""apk/rc4.py: cryptography's ARC4 and the Python fallback give the same keystream for every key length."""

from __future__ import annotations

import random

import pytest

from appaudit.apk import rc4
from appaudit.apk.recover import rc4 as rc4_crypt


def _key(rng: random.Random, length: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(length))


def test_keystream_equals_the_python_code_for_every_key_length() -> None:
    rng = random.Random(13)
    for length in range(1, 257):
        key = _key(rng, length)
        assert rc4.keystream(key, 44) == rc4.python_keystream(key, 44), length
    for length in (2, 3, 5, 9, 16, 33):  # long outputs too (a whole payload is decrypted at once)
        key = _key(rng, length)
        assert rc4.keystream(key, 5000) == rc4.python_keystream(key, 5000), length


def test_python_keystream_matches_published_vectors() -> None:
    # RFC 6229: 40-bit key 0x0102030405, first 16 keystream bytes; Wikipedia's "Key" / "Plaintext"
    assert rc4.python_keystream(bytes(range(1, 6)), 16).hex() == "b2396305f03dc027ccc3524a0a1118a8"
    assert bytes(a ^ b for a, b in zip(rc4.python_keystream(b"Key", 9), b"Plaintext", strict=True)).hex() == (
        "bbf316e8d940af0ad3"
    )


def test_library_serves_short_keys_by_repeating_them(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography.hazmat.decrepit.ciphers.algorithms")
    assert rc4.library_keystream() is not None
    expected = {n: rc4.python_keystream(b"\x07\x11\x2a"[:n], 44) for n in (1, 2, 3)}

    def refuse(key: bytes, n: int) -> bytearray:
        raise AssertionError(f"a {len(key)}-byte key went to the Python code")

    monkeypatch.setattr(rc4, "python_keystream", refuse)
    # 1, 2 and 3 bytes: repeated to 5, 8 and 24 bytes, which cryptography accepts
    for n in (1, 2, 3):
        assert rc4.keystream(b"\x07\x11\x2a"[:n], 44) == expected[n]
    with pytest.raises(AssertionError, match="a 9-byte key"):
        rc4.keystream(bytes(9), 44)  # no multiple of 9 up to 32 bytes: Python


def test_without_the_library_the_python_code_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rc4, "library_keystream", lambda: None)
    assert rc4_crypt(b"Secret", b"Attack at dawn").hex() == "45a01f645fc35b383552544b9bf5"
    assert rc4_crypt(b"Wiki", b"pedia").hex() == "1021bf0420"
