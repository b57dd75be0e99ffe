"""apk/rc4.py: cryptography's ARC4 and the Python fallback give the same keystream for every key length."""

from __future__ import annotations

import random

import pytest

from appaudit.apk import rc4
from appaudit.apk.keys import Key
from appaudit.apk.recover import TrialBudget, is_payload, rc4_search
from appaudit.apk.recover import rc4 as rc4_crypt


def _key(rng: random.Random, length: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(length))


def test_keystream_equals_the_python_code_for_every_key_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rc4._Trials, "python", rc4.LIBRARY_AFTER)  # the library serves what it can
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
    monkeypatch.setattr(rc4._Trials, "python", rc4.LIBRARY_AFTER)  # past the first keys of the process
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


def _reference_search(heads: dict[str, bytes], keys: list[Key], trials: int) -> dict[str, tuple[bytes, int]]:
    """rc4_search as first written: every key against every entry still unexplained, in order."""
    names = list(heads)
    found: dict[str, tuple[bytes, int]] = {}
    for key in keys[:trials]:
        if not names:
            break
        stream = rc4.python_keystream(key.value, 0x2C)
        for name in list(names):
            head = heads[name]
            for offset in (0, 4) if len(head) >= 4 + 0x2C else (0,):
                body = head[offset : offset + 0x2C]
                if is_payload(bytes(a ^ b for a, b in zip(body, stream, strict=False))):
                    found[name] = (key.value, offset)
                    names.remove(name)
                    break
    return found


def test_rc4_search_finds_what_trying_every_entry_finds() -> None:
    rng = random.Random(7)
    dex_head = (
        bytes.fromhex("6465780a30333500")
        + bytes(28)
        + (0x70).to_bytes(4, "little")
        + (0x12345678).to_bytes(4, "little")
    )
    zip_head = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(34)
    keys = [Key(_key(rng, rng.choice((2, 3, 5, 9, 16, 40))), f"k{i}") for i in range(300)]
    heads: dict[str, bytes] = {}
    expected_keys = {}
    for i, (plain, offset) in enumerate([(dex_head, 0), (zip_head, 4), (dex_head, 4), (zip_head, 0)] * 3):
        key = keys[rng.randrange(len(keys))]
        cipher = rc4_crypt(key.value, plain + _key(rng, 2000))
        heads[f"e{i}"] = (_key(rng, 4) + cipher if offset else cipher)[:4096]
        expected_keys[f"e{i}"] = key.value
    for i in range(20):  # random entries no key opens
        heads[f"noise{i}"] = _key(rng, 4096)
    for trials in (300, 120, 10):
        ours = rc4_search(heads, keys, TrialBudget(trials))
        assert {n: (p.key.value, p.offset) for n, p in ours.items() if p.key} == _reference_search(heads, keys, trials)
        assert list(ours) == list(_reference_search(heads, keys, trials))  # the same order
    found = rc4_search(heads, keys, TrialBudget(300))
    assert {n: p.key.value for n, p in found.items() if p.key} == expected_keys


def test_a_process_makes_its_first_keystreams_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rc4._Trials, "python", rc4.LIBRARY_AFTER - 2)
    calls: list[int] = []

    def counted() -> object:
        calls.append(1)
        return None  # as if cryptography were missing: Python either way

    monkeypatch.setattr(rc4, "library_keystream", counted)
    for _ in range(2):
        assert rc4.keystream(b"ab", 44) == rc4.python_keystream(b"ab", 44)
    assert calls == []  # the first LIBRARY_AFTER keys never import the library
    assert rc4.keystream(b"ab", 44) == rc4.python_keystream(b"ab", 44)
    assert rc4.keystream(bytes(9), 44) == rc4.python_keystream(bytes(9), 44)  # 9 bytes: never the library
    assert calls == [1]
