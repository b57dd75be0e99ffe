"""RC4's keystream: cryptography's ARC4 (OpenSSL) where it takes the key, else Python; the same bytes.

:mod:`~appaudit.apk.recover` tries thousands of key candidates per packed app. ``cryptography``
(installed with androguard) is an optional accelerator: its ARC4 (``hazmat.decrepit``) accepts only
keys of 5, 7, 8, 10, 16, 20, 24 or 32 bytes, and packers use 2- and 3-byte keys. RC4's key schedule
reads the key cyclically (byte ``i % len`` for ``i`` < 256), so a key repeated to one of those lengths
gives the same keystream: keys of 1-8, 10, 12, 16, 20, 24 or 32 bytes go to OpenSSL (~5 µs for a
44-byte keystream) once a process has made :data:`LIBRARY_AFTER` of them in Python, the others, and
every key when cryptography is missing, to the Python code here (~25 µs); a keystream of at least
:data:`LIBRARY_FROM_BYTES` (a whole payload decrypted) goes to OpenSSL at once. tests/test_dexfast_rc4.py
checks that both give the same bytes for every key length.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

#: Keystreams the library could have made that Python makes first, in each process: importing
#: cryptography's ARC4 costs ~6 ms in a scan's process (measured: its dependencies are loaded by
#: then), what Python spends on ~250 keys more than the library (~23 against ~6 µs a key). Switching
#: once Python has spent what the import costs is never worse than twice the best choice made with
#: hindsight (the rent-or-buy rule), so a scan that searches few keys never pays for the import and
#: one that searches the ``max_key_trials`` default (2,000; most packed apps, whole-process) pays
#: ~20 ms rather than ~45 ms.
LIBRARY_AFTER = 250
#: A keystream at least this long goes to the library at once, whatever the count above: Python makes
#: ~10 bytes a µs (a 777 KB payload decrypted whole: ~80 ms), so one keystream of this length costs it
#: about what the import does, and the rent-or-buy rule buys as soon as the rent is known to exceed it.
LIBRARY_FROM_BYTES = 1 << 16
#: Key lengths cryptography's ARC4 accepts (40 to 256 bits).
_LIBRARY_KEY_LENGTHS = (5, 7, 8, 10, 16, 20, 24, 32)
#: Per key length: how often to repeat a key of that length to reach one the library accepts (0: none).
_REPEATS = tuple(
    next((m // n for m in _LIBRARY_KEY_LENGTHS if m % n == 0), 0) if n else 0
    for n in range(_LIBRARY_KEY_LENGTHS[-1] + 1)
)


@cache
def library_keystream() -> Callable[[bytes, int], bytes] | None:
    """cryptography's ARC4 as a keystream function, imported on first use (a scan without an RC4
    search never loads it); None when it cannot be had (not installed, or an OpenSSL without RC4)."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
        from cryptography.hazmat.primitives.ciphers import Cipher
    except Exception:  # any failure of an optional accelerator means: use the Python code
        return None

    def library(key: bytes, n: int) -> bytes:
        return Cipher(ARC4(key), mode=None).encryptor().update(bytes(n))

    try:
        works = library(bytes(range(1, 6)), 16) == python_keystream(bytes(range(1, 6)), 16)
    except Exception:  # cryptography present, RC4 not (an OpenSSL built without it)
        return None
    return library if works else None


class _Trials:
    """Keystreams made by Python in this process before the library was asked for."""

    python = 0


def keystream(key: bytes, n: int) -> bytes | bytearray:
    """The first ``n`` bytes of RC4's keystream under ``key`` (1 to 256 bytes)."""
    klen = len(key)
    repeat = _REPEATS[klen] if klen < len(_REPEATS) else 0
    if repeat and (_Trials.python >= LIBRARY_AFTER or n >= LIBRARY_FROM_BYTES):
        library = library_keystream()
        if library is not None:
            return library(key * repeat, n)
    elif repeat:
        _Trials.python += 1
    return python_keystream(key, n)


def python_keystream(key: bytes, n: int) -> bytearray:
    """RC4 in Python: the key schedule, then ``n`` bytes of output."""
    s = list(range(256))
    j = 0
    cyclic = key * (256 // len(key) + 1)  # byte i of the schedule is key[i % len(key)]
    for i, k in enumerate(cyclic[:256]):  # iterating the bytes beats indexing them (~5 % of a keystream)
        si = s[i]
        j = (j + si + k) & 255
        s[i] = s[j]
        s[j] = si
    out = bytearray(n)
    i = j = 0
    for k in range(n):
        i = (i + 1) & 255
        si = s[i]
        j = (j + si) & 255
        sj = s[j]
        s[i] = sj
        s[j] = si
        out[k] = s[(si + sj) & 255]
    return out
