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


if __name__ == "__main__":
    print(json.dumps(dict(sorted(Counter(outcome(raw) for _w, raw, _a in mutants()).items())), indent=1))
