"""The DEX reader's fast paths give what its plain ones give: index tables and code passes find the
same sites, span rows are the class data's methods, the bounded string search finds every string."""

from __future__ import annotations

import re
import zipfile

import pytest

from appaudit.apk.dex.index import CONST_CLASS_OPS, IPUT_OPS, NEW_INSTANCE_OPS, SPUT_OPS
from appaudit.apk.dex.reader import CONST_STRING, INVOKE_OPS, SCANS_BEFORE_TABLE, SGET_OPS, DexFile, Site
from appaudit.apk.dex.structure import ACC_NATIVE, class_methods, native_method_ids
from conftest import corpus_samples, fixture_apk

FIXTURES = ["contacts_all_uris", "obfuscated_harvest", "multidex", "neighbours", "stage_room_worker"]
#: A corpus DEX of ~1 MB (real d8 output: string data before the code, every family used).
CORPUS_SAMPLE = "d5dc775518"


def _dex(name: str) -> DexFile:
    corpus = name == CORPUS_SAMPLE
    path = str(next(corpus_samples().glob(f"{name}*.apk"))) if corpus else fixture_apk(name)
    with zipfile.ZipFile(path) as z:
        return DexFile(z.read("classes.dex"), "classes.dex")


def _families(dex: DexFile) -> list[tuple[frozenset[int], int]]:
    """(opcode family, size of the pool its index points into)."""
    return [
        (INVOKE_OPS, dex.method_ids_size),
        (SGET_OPS, dex.field_ids_size),
        (SPUT_OPS, dex.field_ids_size),
        (IPUT_OPS, dex.field_ids_size),
        (NEW_INSTANCE_OPS, dex.type_ids_size),
        (CONST_CLASS_OPS, dex.type_ids_size),
        (frozenset((CONST_STRING,)), dex.string_ids_size),
    ]


def _keys(sites: list[Site]) -> list[tuple[int, int, int]]:
    return [(s.span.start, s.offset, s.index) for s in sites]


@pytest.mark.parametrize("name", [*FIXTURES, CORPUS_SAMPLE])
def test_table_and_code_passes_find_the_same_sites(name: str) -> None:
    dex = _dex(name)
    found = 0
    for family, size in _families(dex):
        ids = list(range(0, size, max(1, size // 100)))  # at most ~100 passes of the code per family
        scanned = dex._scanned_sites(family, ids, False, None)
        assert _keys(dex._table_sites(family, ids, None)) == _keys(scanned)
        # with a limit: the indices in the order given, each one's sites in file order, on both paths
        for limit in (1, 3):
            assert _keys(dex._table_sites(family, ids[::-1], limit)) == _keys(
                dex._scanned_sites(family, ids[::-1], False, limit)
            )
        found += len(scanned)
    assert found > 0


def test_a_family_gets_its_table_after_a_few_indices() -> None:
    dex = _dex("contacts_all_uris")
    family = frozenset((CONST_STRING,))
    ids = list(range(dex.string_ids_size))
    expected = _keys(dex._scanned_sites(family, ids, False, None))
    by_id = {i: [k for k in expected if k[2] == i] for i in ids}
    assert len(ids) > SCANS_BEFORE_TABLE + 2
    for n, idx in enumerate(ids[: SCANS_BEFORE_TABLE + 2]):
        assert (family in dex._tables) == (n > SCANS_BEFORE_TABLE)
        assert _keys(dex.find_sites(family, [idx])) == by_id[idx]
    assert family in dex._tables
    assert _keys(dex.find_sites(family, ids)) == sorted(expected)
    assert expected


def test_invokes_get_their_table_at_once() -> None:
    dex = _dex("contacts_all_uris")
    assert INVOKE_OPS not in dex._tables
    first = dex.method_sites([0])
    assert INVOKE_OPS in dex._tables
    assert _keys(first) == _keys(dex._scanned_sites(INVOKE_OPS, [0], False, None))


@pytest.mark.parametrize("name", [*FIXTURES, CORPUS_SAMPLE])
def test_span_rows_are_the_class_data_methods_with_code(name: str) -> None:
    dex = _dex(name)
    from_entries = sorted(
        (e.span.start, e.span.end, e.method_idx, e.span.class_def_idx)
        for ci in range(dex.class_defs_size)
        for e in class_methods(dex, ci)
        if e.span is not None
    )
    assert sorted(dex._span_rows) == from_entries
    assert from_entries


@pytest.mark.parametrize("name", [*FIXTURES, CORPUS_SAMPLE])
@pytest.mark.parametrize("pattern", [rb".*", rb"content://.*", rb"L[a-z/]+;", rb"(?i)[^\x00]*sms[^\x00]*"])
def test_string_search_stops_after_the_string_data_and_misses_none(name: str, pattern: bytes) -> None:
    dex = _dex(name)
    end = dex._string_data_end
    spans = [dex.string_raw_span(i) for i in range(dex.string_ids_size)]
    assert max(e for _s, e in spans) < end <= len(dex.data)
    compiled = re.compile(pattern, re.DOTALL)
    every = [i for i, (s, e) in enumerate(spans) if compiled.fullmatch(dex.data, s, e)]
    assert dex.find_strings_matching(compiled) == every


@pytest.mark.parametrize("name", [*FIXTURES, CORPUS_SAMPLE, "bulk_sms_native"])
def test_native_method_ids_are_the_entries_flagged_native(name: str) -> None:
    dex = _dex(name)
    expected = [
        (ci, [e.method_idx for e in class_methods(dex, ci) if e.access_flags & ACC_NATIVE])
        for ci in range(dex.class_defs_size)
    ]
    assert native_method_ids(dex) == [(ci, ids) for ci, ids in expected if ids]
