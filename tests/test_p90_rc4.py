"""apk/rc4.py: a long keystream (a whole payload decrypted) goes to the library at once, the same bytes."""

from __future__ import annotations

import pytest

from appaudit.apk import rc4


def test_a_long_keystream_uses_the_library_before_the_key_count(monkeypatch: pytest.MonkeyPatch) -> None:
    library = rc4.library_keystream()
    if library is None:
        pytest.skip("cryptography's ARC4 is not available")
    monkeypatch.setattr(rc4._Trials, "python", 0)  # a process's first keystream
    expected = rc4.python_keystream(b"\x07\x11\x2a", rc4.LIBRARY_FROM_BYTES)
    short = rc4.python_keystream(b"\x07\x11\x2a", rc4.LIBRARY_FROM_BYTES - 1)

    def refuse(key: bytes, n: int) -> bytearray:
        raise AssertionError(f"{n} bytes went to the Python code")

    monkeypatch.setattr(rc4, "python_keystream", refuse)
    # 3 bytes: repeated to 24, which cryptography accepts
    assert rc4.keystream(b"\x07\x11\x2a", rc4.LIBRARY_FROM_BYTES) == expected
    assert rc4._Trials.python == 0  # not counted among the Python keystreams
    with pytest.raises(AssertionError, match=f"^{rc4.LIBRARY_FROM_BYTES - 1} bytes went"):
        rc4.keystream(b"\x07\x11\x2a", rc4.LIBRARY_FROM_BYTES - 1)  # one byte shorter: Python, as before
    assert short == expected[:-1]


def test_a_long_keystream_of_a_length_the_library_refuses_stays_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rc4._Trials, "python", 0)
    calls: list[int] = []

    def counted() -> None:
        calls.append(1)

    monkeypatch.setattr(rc4, "library_keystream", counted)
    key = bytes(range(1, 10))  # 9 bytes: no multiple of 9 up to 32 bytes
    assert rc4.keystream(key, rc4.LIBRARY_FROM_BYTES) == rc4.python_keystream(key, rc4.LIBRARY_FROM_BYTES)
    assert calls == []
