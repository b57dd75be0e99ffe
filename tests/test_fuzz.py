"""Mutation fuzzing of the container, manifest and DEX readers through ``api.scan``.

Each mutant is a fixture APK with its zip bytes, its AndroidManifest.xml or its
classes.dex mutated (byte flips, absurd 32-bit values in headers and tables,
truncation, deletion, insertion, copied blocks). Whatever the input, the scan
must end in a report or an InputError, within a bounded time, and a report must
not carry a Python exception from a bug (IndexError, struct.error, ...): a
damaged DEX is a DexFormatError and a coverage reason, never a crash.

CI runs APPAUDIT_FUZZ_EXAMPLES (default 170) mutants per target, about 700 in
all, with a fixed seed. For a long run, raise it (a few thousand per target)
and set APPAUDIT_FUZZ_SEED for fresh inputs; ``bench/fuzz.py`` runs 10,000+
random mutants in parallel and reports the figures.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conftest import ROOT, fixture_apk, report_schema_validator

EXAMPLES = int(os.environ.get("APPAUDIT_FUZZ_EXAMPLES", "170"))
SEED = int(os.environ.get("APPAUDIT_FUZZ_SEED", "0"))
#: Seconds one mutant may take: fixtures scan in ~10 ms, so this only trips on a hang.
PER_MUTANT_S = 20.0
FIXTURES = ("contacts_const", "sms_receiver", "multidex_split_chain", "retrofit_post", "signed", "uri_builder")
#: Exception type names that mean a bug when they show up in a report's errors.
CRASH_NAMES = re.compile(
    r"\b(IndexError|KeyError|TypeError|AttributeError|struct\.error|error:|RecursionError|MemoryError|"
    r"UnicodeDecodeError|UnicodeEncodeError|ZeroDivisionError|OverflowError|AssertionError|ValueError)\b"
)
INTERESTING_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)

position = st.integers(min_value=0, max_value=2**31)
mutation = st.one_of(
    st.tuples(st.just("byte"), position, st.integers(0, 255)),
    st.tuples(st.just("u32"), position, st.sampled_from(INTERESTING_U32)),
    st.tuples(st.just("header"), st.integers(2, 27), st.sampled_from(INTERESTING_U32)),
    st.tuples(st.just("tail"), st.integers(1, 128), st.sampled_from(INTERESTING_U32)),
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("delete"), position, st.integers(1, 256)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("copy"), position, position, st.integers(1, 256)),
)
mutations = st.lists(mutation, min_size=1, max_size=6)


def mutate(data: bytes, ops: list[tuple]) -> bytes:  # type: ignore[type-arg]
    """Apply ``ops`` in order; positions wrap around the current length."""
    buf = bytearray(data)
    for op in ops:
        n = len(buf)
        if n == 0:
            break
        kind = op[0]
        if kind == "byte":
            buf[op[1] % n] = op[2]
        elif kind in ("u32", "header", "tail"):
            pos = {"u32": op[1] % n, "header": 4 * op[1], "tail": n - op[1]}[kind]
            if 0 <= pos <= n - 4:
                buf[pos : pos + 4] = struct.pack("<I", op[2])
        elif kind == "truncate":
            del buf[op[1] % n :]
        elif kind == "delete":
            pos = op[1] % n
            del buf[pos : pos + op[2]]
        elif kind == "insert":
            pos = op[1] % (n + 1)
            buf[pos:pos] = op[2]
        elif kind == "copy":
            src, dst = op[1] % n, op[2] % n
            buf[dst : dst + op[3]] = buf[src : src + op[3]]
    return bytes(buf)


def with_entry_mutated(apk: bytes, name: str, ops: list[tuple]) -> bytes:  # type: ignore[type-arg]
    """The APK rebuilt (deterministically) with entry ``name`` mutated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(apk)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, mutate(data, ops) if info.filename == name else data)
    return out.getvalue()


@cache
def _ruleset():  # type: ignore[no-untyped-def]
    from appaudit.ruleset import load_ruleset

    return load_ruleset()


@cache
def _fixture_bytes(name: str) -> bytes:
    if name.startswith("hostile/"):
        return (ROOT / "fixtures" / f"{name}.apk").read_bytes()
    return Path(fixture_apk(name)).read_bytes()


class Hang(Exception):
    pass


@contextmanager
def time_guard(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body runs longer than ``seconds``."""

    def alarm(_sig: int, _frame: object) -> None:
        raise Hang(f"a mutant took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_mutant(data: bytes, path: Path) -> dict | None:  # type: ignore[type-arg]
    """Scan ``data``: the JSON report, or None for an InputError. Fails the test on anything else."""
    from appaudit.api import scan
    from appaudit.errors import InputError
    from appaudit.report import render

    path.write_bytes(data)
    t0 = time.perf_counter()
    with time_guard(PER_MUTANT_S):
        try:
            report = scan(str(path), ruleset=_ruleset())
        except InputError as exc:
            assert "\n" not in str(exc)
            return None
        text = render(report, "json")
        render(report, "text")
    assert time.perf_counter() - t0 < PER_MUTANT_S
    doc = json.loads(text)
    report_schema_validator().validate(doc)
    # Signature and manifest problems name the third-party parser's exception by design
    # (asn1crypto and androguard raise many kinds); our own tolerant reader must not fail.
    bugs = [
        e
        for e in doc["errors"]
        if e["where"] == "harvest chains"
        or "tolerant reader failed" in e["message"]
        or (
            e["where"] != "signature"
            and not e["where"].endswith("AndroidManifest.xml")
            and CRASH_NAMES.search(e["message"])
        )
    ]
    assert bugs == [], bugs
    return doc


def _path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "mutant.apk"


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@seed(SEED)
@FUZZ_SETTINGS
@given(name=st.sampled_from(FIXTURES), ops=mutations)
def test_fuzz_zip_container(name: str, ops: list[tuple], tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[type-arg]
    check_mutant(mutate(_fixture_bytes(name), ops), _path(tmp_path_factory))


@seed(SEED)
@FUZZ_SETTINGS
@given(name=st.sampled_from(FIXTURES), ops=mutations)
def test_fuzz_manifest(name: str, ops: list[tuple], tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[type-arg]
    doc = check_mutant(with_entry_mutated(_fixture_bytes(name), "AndroidManifest.xml", ops), _path(tmp_path_factory))
    assert doc is not None  # a damaged manifest is analysed tolerantly, never refused


#: Entries of the payload-recovery fixtures: ciphertext, encoded text and the stub holding the keys.
PAYLOAD_ENTRIES = (
    ("hostile/encrypted_payloads", "assets/config.json"),
    ("hostile/encrypted_payloads", "assets/update.bin"),
    ("hostile/encrypted_payloads", "classes.dex"),
    ("hostile/encoded_payloads", "assets/db"),
    ("hostile/encoded_payloads", "res/raw/skin.dat"),
)


@seed(SEED)
@FUZZ_SETTINGS
@given(target=st.sampled_from(PAYLOAD_ENTRIES), ops=mutations)
def test_fuzz_hidden_payloads(
    target: tuple[str, str], ops: list[tuple], tmp_path_factory: pytest.TempPathFactory
) -> None:  # type: ignore[type-arg]
    name, entry = target
    doc = check_mutant(with_entry_mutated(_fixture_bytes(name), entry, ops), _path(tmp_path_factory))
    assert doc is not None  # a damaged payload or key costs its recovery, never the report


@seed(SEED)
@FUZZ_SETTINGS
@given(name=st.sampled_from(FIXTURES), ops=mutations)
def test_fuzz_dex(name: str, ops: list[tuple], tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[type-arg]
    doc = check_mutant(with_entry_mutated(_fixture_bytes(name), "classes.dex", ops), _path(tmp_path_factory))
    assert doc is not None  # a damaged DEX costs coverage, never the report
