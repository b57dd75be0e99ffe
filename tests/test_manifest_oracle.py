"""androguard as the oracle of the own binary-XML reader and the own resources.arsc lookup.

Every fixture manifest, every corpus manifest and 2,400 seeded mutants of the
fixture manifests are read by both parsers. The invariant: on every file the
own reader finds regular (``AxmlDocument.irregular`` empty), androguard reads
the same element tree (tags, attributes, values: components with their
exported/enabled/permission attributes, intent filters with their data,
metadata, uses-permission maxSdkVersion, ...) and the same facts; so a
disagreement is always one the own reader detects, and only then is
androguard asked (``parse_manifest``). On irregular files ``parse_manifest``
follows the reader the README names. ``python3 tests/test_manifest_oracle.py``
prints how the mutants fall (the figures in README, "Hostile input").
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ALL_FIXTURES, ROOT, fixture_apk

MUTANTS = 2400
SEED = 13
ANDROID = "{http://schemas.android.com/apk/res/android}"
U32 = (0, 1, 7, 8, 16, 20, 28, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)
HOSTILE = ["nested_payload", "packer_stub", "flutter_shell", "react_native"]


def _entries(path: str | Path) -> tuple[bytes, bytes | None]:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        return z.read("AndroidManifest.xml"), z.read("resources.arsc") if "resources.arsc" in names else None


@cache
def bases() -> tuple[tuple[str, bytes, bytes | None], ...]:
    """(name, manifest, resources.arsc) of every fixture APK and hostile fixture with a manifest."""
    paths = [Path(fixture_apk(n)) for n in ALL_FIXTURES] + [ROOT / "fixtures" / "hostile" / f"{n}.apk" for n in HOSTILE]
    return tuple((p.stem, *_entries(p)) for p in paths)


def _key(key: str) -> str:
    """An attribute's name with the android namespace dropped: a framework attribute written without a
    namespace is plain to androguard and android-namespaced to the own reader; the manifest walker reads both."""
    return key[len(ANDROID) :] if key.startswith(ANDROID) else key


def tree(elem: Any) -> tuple[Any, ...]:
    """An element tree as plain values: local tag, sorted attributes, children (comments left out)."""
    tag = elem.tag.rsplit("}", 1)[-1]
    attrs = tuple(sorted((_key(k), v) for k, v in elem.attrib.items()))
    return tag, attrs, tuple(tree(c) for c in elem if isinstance(c.tag, str))


def androguard_root(raw: bytes) -> Any:
    from androguard.core.axml import AXMLPrinter
    from loguru import logger

    logger.disable("androguard")
    try:
        printer = AXMLPrinter(raw)
        root = printer.get_xml_obj() if printer.is_valid() else None
    except Exception:  # androguard raises many kinds on hostile XML
        return None
    return root if root is not None and root.tag == "manifest" else None


def androguard_label(label: str | None, arsc: bytes | None) -> str | None:
    """The label as appaudit resolved it through androguard's ARSCParser before (the oracle)."""
    if not label or not label.startswith("@"):
        return label
    if arsc is None:
        return None
    from androguard.core.axml import ARSCParser

    try:
        configs = ARSCParser(arsc).get_resolved_res_configs(int(label[1:], 16))
    except Exception:  # androguard raises many kinds on odd resource tables
        return None
    values = [str(v) for _cfg, v in configs if v]
    return values[0] if values else None


def assert_agree(raw: bytes, arsc: bytes | None, what: str) -> None:
    """The own reader finds ``raw`` regular, and androguard reads the same tree, facts and label."""
    from appaudit.apk.arsc import resolve_label
    from appaudit.apk.axml import parse_axml
    from appaudit.apk.manifest import _facts, parse_manifest

    doc = parse_axml(raw)
    assert doc.irregular == (), what
    theirs = androguard_root(raw)
    assert theirs is not None, what
    assert tree(doc.root) == tree(theirs), what
    facts = parse_manifest(raw)
    assert facts == _facts(theirs), what
    assert resolve_label(facts.label, arsc) == androguard_label(facts.label, arsc), what


# -- the mutator ------------------------------------------------------------------------------------


def _chunks(raw: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, type, header size, size) of the chunks after the file header."""
    out, pos = [], 8
    while pos + 8 <= len(raw):
        ctype, hsize, size = struct.unpack_from("<HHI", raw, pos)
        if size < 8:
            break
        out.append((pos, ctype, hsize, size))
        pos += size
    return out


def _u32(rnd: random.Random, old: int) -> int:
    return rnd.choice((*U32, old + 4, max(0, old - 4), old * 2, rnd.getrandbits(32))) & 0xFFFFFFFF


def _flip(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    for _ in range(rnd.randint(1, 8)):
        at = rnd.randrange(len(buf))
        buf[at] = rnd.getrandbits(8) if rnd.random() < 0.5 else buf[at] ^ (1 << rnd.randrange(8))


def _chunk(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    pos, ctype, hsize, size = rnd.choice(chunks)
    field = rnd.choice(("type", "header", "size", "size"))
    if field == "type":
        struct.pack_into("<H", buf, pos, rnd.choice((0x0001, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0180, 0x7777)))
    elif field == "header":
        struct.pack_into("<H", buf, pos + 2, rnd.choice((0, 7, 8, 16, 20, 28, hsize + 4, 0xFFFF)))
    else:
        struct.pack_into("<I", buf, pos + 4, _u32(rnd, size))


def _pool(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    pos, _t, hsize, size = chunks[0]
    count, _styles, flags, strings_start, _styles_start = struct.unpack_from("<5I", buf, pos + 8)
    what = rnd.randrange(6)
    if what < 2:  # a header field: counts, flags, offsets
        at = pos + 8 + 4 * rnd.randrange(5)
        (old,) = struct.unpack_from("<I", buf, at)
        value = old ^ 0x100 if at == pos + 16 and rnd.random() < 0.5 else _u32(rnd, old)
        struct.pack_into("<I", buf, at, value)
    elif what < 4 and count:  # one string's offset
        at = pos + hsize + 4 * rnd.randrange(count)
        (old,) = struct.unpack_from("<I", buf, at)
        struct.pack_into("<I", buf, at, rnd.choice((old + 1, old + 2, old - 2, size, _u32(rnd, old))) & 0xFFFFFFFF)
    elif count:  # one string's length prefix or terminator
        (offset,) = struct.unpack_from("<I", buf, pos + hsize + 4 * rnd.randrange(count))
        at = pos + strings_start + offset
        if at + 2 <= len(buf):
            if flags & 0x100 or rnd.random() < 0.5:
                buf[at] = rnd.choice((0, 1, 0x7F, 0x80, 0xFF, buf[at] + 1 & 0xFF))
            else:
                (n,) = struct.unpack_from("<H", buf, at)
                end = at + 2 + 2 * n
                if end + 2 <= len(buf):
                    buf[end] = rnd.choice((0x41, 0xFF))


def _elements(chunks: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    return [c for c in chunks if c[1] == 0x0102 and c[3] >= c[2] + 20]


def _attribute(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    elements = _elements(chunks)
    if not elements:
        return
    pos, _t, hsize, _size = rnd.choice(elements)
    ext = pos + hsize
    (count,) = struct.unpack_from("<H", buf, ext + 12)
    if not count or rnd.random() < 0.25:  # the element's own fields: namespace, name, attribute layout
        at = ext + rnd.choice((0, 4))
        if rnd.random() < 0.5:
            at = ext + rnd.choice((8, 10, 12))
            struct.pack_into("<H", buf, at, rnd.choice((0, 1, 16, 19, 20, 21, 24, 0xFFFF)))
        else:
            struct.pack_into("<I", buf, at, _u32(rnd, struct.unpack_from("<I", buf, at)[0]))
        return
    at = ext + 20 + 20 * rnd.randrange(count)
    field = rnd.choice(("ns", "name", "raw", "type", "data", "data"))
    offset = {"ns": 0, "name": 4, "raw": 8, "type": 15, "data": 16}[field]
    if field == "type":
        buf[at + 15] = rnd.choice((0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12, 0x1C, 0x2A))
    else:
        old = struct.unpack_from("<I", buf, at + offset)[0]
        struct.pack_into("<I", buf, at + offset, rnd.choice((old + 1, max(0, old - 1), _u32(rnd, old))) & 0xFFFFFFFF)


def _resource_map(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    maps = [c for c in chunks if c[1] == 0x0180 and c[3] > c[2]]
    if not maps:
        return
    pos, _t, hsize, size = maps[0]
    at = pos + hsize + 4 * rnd.randrange((size - hsize) // 4)
    from appaudit.apk.axml import framework_attributes

    struct.pack_into("<I", buf, at, rnd.choice((0, 0x7F010001, *rnd.sample(sorted(framework_attributes()), 3))))


def _structure(rnd: random.Random, buf: bytearray, chunks: list[tuple[int, int, int, int]]) -> None:
    """A chunk inserted (junk, a copy of another), removed, or the file header changed."""
    pos, _t, _h, size = rnd.choice(chunks)
    what = rnd.randrange(4)
    if what == 0:
        junk = struct.pack("<HHI", rnd.choice((0x0000, 0x0104, 0x0180, 0x7777)), 8, 16) + bytes(8)
        buf[pos:pos] = junk
    elif what == 1:
        other, _t2, _h2, osize = rnd.choice(chunks)
        buf[pos:pos] = buf[other : other + osize]
    elif what == 2:
        del buf[pos : pos + size]
    else:
        at = rnd.choice((0, 2, 4))
        fmt = "<I" if at == 4 else "<H"
        old = struct.unpack_from(fmt, buf, at)[0]
        struct.pack_into(fmt, buf, at, (_u32(rnd, old) if at == 4 else rnd.choice((0, 3, 8, 9, 0x7777, 0xFFFF))))
    if what < 3:
        struct.pack_into("<I", buf, 4, len(buf))  # keep the file size right, to get past the first check


MUTATIONS = {
    "flip": _flip,
    "chunk": _chunk,
    "pool": _pool,
    "attribute": _attribute,
    "resource_map": _resource_map,
    "structure": _structure,
}


def mutant(rnd: random.Random, raw: bytes) -> tuple[bytes, str]:
    """One mutant of ``raw`` (1 to 3 mutations) and the names of its mutations; truncated one time in ten."""
    buf = bytearray(raw)
    names = []
    for _ in range(rnd.choice((1, 1, 2, 3))):
        name = rnd.choice(sorted(MUTATIONS))
        chunks = _chunks(bytes(buf))
        if chunks:
            try:
                MUTATIONS[name](rnd, buf, chunks)
            except (struct.error, IndexError, ValueError):  # the mutation does not fit this (mutated) file
                continue
            names.append(name)
    if rnd.random() < 0.1 and len(buf) > 9:
        del buf[rnd.randrange(8, len(buf)) :]
        names.append("truncate")
    return bytes(buf), "+".join(names)


def mutants(count: int = MUTANTS, seed: int = SEED) -> list[tuple[str, bytes, bytes | None]]:
    """``count`` mutants of the fixture manifests, the same ones every run: (what, manifest, base arsc)."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        name, raw, arsc = bases()[i % len(bases())]
        data, how = mutant(rnd, raw)
        out.append((f"{name}#{i} {how}", data, arsc))
    return out


# -- classification -----------------------------------------------------------------------------------


def outcome(raw: bytes) -> str:
    """How the two readers fare on ``raw``, checking what parse_manifest does against the README's rule."""
    from appaudit.apk.axml import AxmlError, parse_axml
    from appaudit.apk.manifest import ManifestError, _facts, parse_manifest

    try:
        doc = parse_axml(raw)
    except AxmlError:
        doc = None
    theirs = androguard_root(raw)
    try:
        facts = parse_manifest(raw)
    except ManifestError:
        facts = None
    ours_ok = doc is not None and doc.root.tag == "manifest"
    if doc is not None and not doc.irregular and ours_ok:
        assert theirs is not None and tree(doc.root) == tree(theirs)
        assert facts == _facts(doc.root) == _facts(theirs)
        return "regular: same"
    if theirs is None:
        assert (facts is None) == (not ours_ok)
        return "androguard refuses" + ("" if ours_ok else ", own reader too")
    if not ours_ok or doc is None:
        assert facts == _facts(theirs)
        return "own reader refuses: androguard's read"
    if not doc.complete:
        assert facts == _facts(theirs)
        return "irregular, own reader stops early: androguard's read"
    mine = _facts(doc.root)
    if mine == _facts(theirs):
        assert facts == mine
        return "irregular: same facts"
    assert facts is not None and facts.notes and facts.notes[0].startswith("androguard's parser reads")
    assert facts.permissions == mine.permissions and facts.components == mine.components
    return "irregular, facts differ: own reader's read"


# -- tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b[0] for b in bases()])
def test_fixture_manifests_agree_with_androguard(name: str) -> None:
    _name, raw, arsc = next(b for b in bases() if b[0] == name)
    assert_agree(raw, arsc, name)


@pytest.mark.corpus
def test_corpus_manifests_agree_with_androguard() -> None:
    """Every corpus manifest but the one malware corrupted (androguard refuses it) is regular and agrees."""
    from appaudit.apk.axml import parse_axml
    from conftest import corpus_samples

    compared, irregular = 0, []
    for apk in sorted(corpus_samples().glob("*.apk")):
        raw, arsc = _entries(apk)
        if parse_axml(raw).irregular:
            irregular.append(apk.name[:12])
            assert androguard_root(raw) is None
            continue
        assert_agree(raw, arsc, apk.name)
        compared += 1
    assert (compared, irregular) == (68, ["fadd8276d7e0"])


def test_mutants_disagree_only_where_the_own_reader_says_so() -> None:
    seen = Counter(outcome(raw) for _what, raw, _arsc in mutants())
    assert sum(seen.values()) == MUTANTS
    # The invariant means something only if many mutants stay regular and many do not.
    assert seen["regular: same"] >= MUTANTS // 10
    assert sum(n for k, n in seen.items() if k.startswith("irregular")) >= MUTANTS // 10


def test_labels_of_mutated_manifests_resolve_as_androguard_does() -> None:
    """The label's reference tampered with: the own lookup and androguard agree on the real tables."""
    from appaudit.apk.arsc import resolve_label

    rnd = random.Random(SEED)
    tables = [(n, a) for n, _raw, a in bases() if a is not None]
    for i in range(300):
        name, arsc = tables[i % len(tables)]
        label = rnd.choice((f"@7F0{rnd.randrange(0x30000):05X}", f"@7F{rnd.randrange(0x100):06X}", "@0", "@zz", "x"))
        assert resolve_label(label, arsc) == androguard_label(label, arsc), (name, label)


def test_a_scan_of_a_regular_apk_does_not_import_androguard() -> None:
    code = (
        "import sys; from appaudit.api import scan; scan(sys.argv[1]);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('androguard', 'loguru', 'lxml')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, fixture_apk("benign")], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# -- resources.arsc -----------------------------------------------------------------------------------


def _string_pool(strings: list[str]) -> bytes:
    data = b"".join(struct.pack("<H", len(t)) + t.encode("utf-16-le") + b"\0\0" for t in strings)
    offsets, at = [], 0
    for t in strings:
        offsets.append(at)
        at += 4 + 2 * len(t)
    data += bytes(-len(data) % 4)
    header = struct.pack(
        "<HHI5I", 0x0001, 28, 28 + 4 * len(strings) + len(data), len(strings), 0, 0, 28 + 4 * len(strings), 0
    )
    return header + struct.pack(f"<{len(strings)}I", *offsets) + data


def _value(value_type: int, data: int) -> bytes:
    return struct.pack("<HBBI", 8, 0, value_type, data)


def _type_chunk(type_id: int, locale: bytes, entries: list[bytes | None]) -> bytes:
    config = struct.pack("<III", 56, 0, int.from_bytes(locale.ljust(4, b"\0"), "little")) + bytes(44)
    offsets, body = [], b""
    for entry in entries:
        offsets.append(0xFFFFFFFF if entry is None else len(body))
        body += entry or b""
    header_size = 20 + len(config)
    start = header_size + 4 * len(entries)
    head = struct.pack("<HHIBBHII", 0x0201, header_size, start + len(body), type_id, 0, 0, len(entries), start)
    return head + config + struct.pack(f"<{len(entries)}I", *offsets) + body


def _simple(key: int, value_type: int, data: int) -> bytes:
    return struct.pack("<HHI", 8, 0, key) + _value(value_type, data)


def _table(chunks: list[bytes], strings: list[str]) -> bytes:
    """A resources.arsc of package 0x7F with types ``string`` (1) and ``style`` (2)."""
    types, keys = _string_pool(["string", "style"]), _string_pool([f"k{i}" for i in range(40)])
    body = b"".join(chunks)
    name = "com.example".encode("utf-16-le").ljust(256, b"\0")
    head = struct.pack("<HHII", 0x0200, 288, 288 + len(types) + len(keys) + len(body), 0x7F) + name
    package = head + struct.pack("<5I", 288, 2, 288 + len(types), 40, 0) + types + keys + body
    pool = _string_pool(strings)
    return struct.pack("<HHII", 0x0002, 12, 12 + len(pool) + len(package), 1) + pool + package


S = 0x7F010000
STRINGS = ["Hello", "Bonjour", "Salut", "", "Vide", "Hello again"]


def _sample_table(chain: int = 0) -> bytes:
    """Defaults, a French configuration, a reference, a self-reference, a loop, an empty default, an int,
    a bag (style) and the default configuration listed twice; ``chain``: ids 0x7F010010.. referencing
    each the next, ``chain`` long."""
    default = [
        _simple(0, 0x03, 0),  # "Hello" (replaced by the third chunk)
        None,
        _simple(2, 0x01, S),  # -> Hello again
        _simple(3, 0x01, S + 3),  # itself
        _simple(4, 0x03, 3),  # "" (the French one counts)
        _simple(5, 0x01, S + 6),  # a loop: 5 -> 6 -> 5
        _simple(6, 0x01, S + 5),
        None,
        _simple(8, 0x10, 42),
        *[None] * 7,
        *[_simple(16 + i, 0x01, S + 17 + i) for i in range(chain)],
        *([_simple(16 + chain, 0x03, 0)] if chain else []),
    ]
    french = [_simple(0, 0x03, 1), _simple(1, 0x03, 2), None, None, _simple(4, 0x03, 4)]
    bag = struct.pack("<HHIII", 16, 1, 9, 0, 1) + struct.pack("<I", 0x01010098) + _value(0x1C, 0xFF000000)
    again = [_simple(0, 0x03, 5)]
    chunks = [_type_chunk(1, b"", default), _type_chunk(1, b"fr", french), _type_chunk(1, b"", again)]
    return _table([*chunks, _type_chunk(2, b"", [bag])], STRINGS)


def test_label_lookup_agrees_with_androguard_on_a_table_of_every_kind_of_entry() -> None:
    from appaudit.apk.arsc import resolve_label

    arsc = _sample_table()
    labels = {f"@{S + i:08X}": resolve_label(f"@{S + i:08X}", arsc) for i in range(10)}
    assert labels == {f"@{S + i:08X}": androguard_label(f"@{S + i:08X}", arsc) for i in range(10)}
    assert list(labels.values()) == ["Hello again", "Salut", "Hello again", None, "Vide", None, None, None, "42", None]
    assert resolve_label("@7F020000", arsc) is None  # a bag is no string (androguard prints it as a list)


def test_string_resources_prefer_the_default_configuration_and_bound_references() -> None:
    from appaudit.apk import arsc as module

    table = module.string_resources(_sample_table())
    assert [table.default_string(S + i) for i in (0, 1, 4)] == ["Hello again", "Salut", "Vide"]
    with pytest.raises(module.ArscError, match="^resource 0x7F010006: references deeper than 20$"):
        table.string(S + 5)
    deep = module.string_resources(_sample_table(chain=module.MAX_REFERENCE_DEPTH))
    assert deep.string(S + 16) == "Hello"
    deeper = module.string_resources(_sample_table(chain=module.MAX_REFERENCE_DEPTH + 1))
    with pytest.raises(module.ArscError, match="references deeper than 20"):
        deeper.string(S + 16)


def test_hostile_resource_tables_cost_a_one_line_error_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    from appaudit.apk import arsc as module

    header = r"^resources.arsc has no valid table header \(type 0x756a, size 1802401130\)$"
    with pytest.raises(module.ArscError, match=header):
        module.string_resources(b"junk" * 4)
    monkeypatch.setattr(module, "MAX_CHUNKS", 5)
    with pytest.raises(module.ArscError, match="^resources.arsc has more than 5 chunks"):
        module.string_resources(_sample_table())
    monkeypatch.undo()
    rnd, clean = random.Random(SEED), _sample_table()
    answered = 0
    for _ in range(500):
        buf = bytearray(clean)
        for _ in range(rnd.randint(1, 6)):
            buf[rnd.randrange(len(buf))] = rnd.getrandbits(8)
        if rnd.random() < 0.2:
            del buf[rnd.randrange(12, len(buf)) :]
        try:
            table = module.string_resources(bytes(buf))
            answered += sum(table.string(S + i) is not None for i in (0, 1, 2, 4, 8))
        except module.ArscError as exc:
            assert "\n" not in str(exc)
    assert answered > 500  # most mutants still answer most ids


@pytest.mark.corpus
def test_corpus_resource_tables_agree_with_androguard() -> None:
    """Up to 200 ids of every type of every corpus table, and each app's label, resolved by both."""
    from androguard.core.axml import ARSCParser

    from appaudit.apk.arsc import string_resources
    from conftest import corpus_samples

    compared = 0
    for apk in sorted(corpus_samples().glob("*.apk")):
        _raw, arsc = _entries(apk)
        if arsc is None:
            continue
        ours, theirs = string_resources(arsc), ARSCParser(arsc)
        ids = [(p << 24) | (t << 16) | e for (p, t), chunks in ours.types.items() for e in range(chunks[0].count)]
        for res_id in ids[:: max(1, len(ids) // 200)]:
            values = [v for _c, v in theirs.get_resolved_res_configs(res_id)]
            if all(isinstance(v, str) for v in values):  # bags are no strings here (module docstring)
                assert ours.string(res_id) == next((v for v in values if v), None), (apk.name, hex(res_id))
                compared += 1
    assert compared > 5000


if __name__ == "__main__":
    print(json.dumps(dict(sorted(Counter(outcome(raw) for _w, raw, _a in mutants()).items())), indent=1))
