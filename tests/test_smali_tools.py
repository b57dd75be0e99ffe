"""Our smali and line numbers against the tools: baksmali (Debian libsmali-java) and dexdump (Debian dexdump).

Every method of every fixture DEX is disassembled by baksmali and by ``appaudit.apk.dex.smali``
and compared line by line (instructions, labels, payloads, try/catch and debug directives;
only blank lines, ``#`` comments and the ``.param``/annotation header are normalised away), and
each fixture's evidence sites (the read sites and the calls of its findings) are compared
instruction by instruction with baksmali's ``--code-offsets`` addresses. Line numbers are
compared with dexdump's ``positions``. The tests skip, saying why, when a tool is missing;
``.ci/run`` installs both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from functools import cache
from pathlib import Path

import pytest

from appaudit.apk import load_apk
from appaudit.apk.dex.debuginfo import read_debug_info
from appaudit.apk.dex.excerpt import excerpt_for
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.dex.smali import disassemble
from appaudit.apk.dex.structure import class_methods
from conftest import ALL_FIXTURES, FIXTURES, report_json

needs_baksmali = pytest.mark.skipif(
    shutil.which("baksmali") is None, reason="baksmali not installed (Debian package libsmali-java)"
)
needs_dexdump = pytest.mark.skipif(shutil.which("dexdump") is None, reason="dexdump not installed (Debian dexdump)")

MethodKey = tuple[str, str]  # (class descriptor, name+prototype)


def _dex_entries(name: str) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(FIXTURES / f"{name}.apk") as zf:
        names = sorted((n for n in zf.namelist() if re.fullmatch(r"classes\d*\.dex", n)), key=lambda n: (len(n), n))
        return [(n, zf.read(n)) for n in names]


@cache
def _baksmali(name: str, dex_name: str, tmp: str) -> dict[MethodKey, list[str]]:
    """baksmali's lines of every method (``.method`` to ``.end method``), with code offsets."""
    raw = dict(_dex_entries(name))[dex_name]
    work = Path(tmp) / f"{name}-{dex_name}"
    work.mkdir(parents=True, exist_ok=True)
    (work / dex_name).write_bytes(raw)
    out = work / "out"
    subprocess.run(
        ["baksmali", "d", "-j", "1", "--code-offsets", "-o", str(out), str(work / dex_name)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    methods: dict[MethodKey, list[str]] = {}
    for path in sorted(out.rglob("*.smali")):
        cls = ""
        current: list[str] | None = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(".class"):
                cls = line.split()[-1]
            elif line.startswith(".method"):
                current = [line]
            elif current is not None:
                current.append(line)
                if line.startswith(".end method"):
                    methods[(cls, current[0].split()[-1])] = current
                    current = None
    return methods


def _normalise(lines: list[str]) -> list[str]:
    """Drop blank lines and ``#`` comments (whole-line and trailing); strip indentation."""
    return [_strip_comment(t) for t in (raw.strip() for raw in lines) if t and not t.startswith("#")]


def _strip_comment(text: str) -> str:
    # A trailing "    # ..." comment; a '#' inside a string literal is no comment.
    quoted = False
    for k, ch in enumerate(text):
        if ch == '"' and (k == 0 or text[k - 1] != "\\"):
            quoted = not quoted
        elif ch == "#" and not quoted and text[k - 4 : k] == "    ":
            return text[:k].rstrip()
    return text


def _ours(dex: DexFile, entry: object) -> list[str]:
    dis = disassemble(dex, entry)  # type: ignore[arg-type]
    # baksmali 2.5.2 writes DBG_SET_EPILOGUE_BEGIN as ".prologue" (its bug); we write ".epilogue".
    body = [ln.text.replace(".epilogue", ".prologue") if ln.kind == "debug" else ln.text for ln in dis.lines]
    return [*dis.header[:2], *body, ".end method"]


@needs_baksmali
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_method_matches_baksmali(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = str(tmp_path_factory.getbasetemp())
    compared = 0
    for dex_name, raw in _dex_entries(name):
        theirs = _baksmali(name, dex_name, tmp)
        dex = DexFile(raw, dex_name)
        for ci, cdef in enumerate(dex.class_defs):
            cls = dex.type_desc(cdef.class_idx)
            for entry in class_methods(dex, ci):
                ref = dex.method_ref(entry.method_idx)
                expected = _normalise(_without_annotations(theirs[(cls, ref.name + ref.proto)]))
                assert _normalise(_ours(dex, entry)) == expected, f"{name}:{dex_name} {cls}->{ref.name}{ref.proto}"
                compared += 1
    assert compared >= 2  # every fixture has at least MainActivity's constructor and onCreate


def _without_annotations(lines: list[str]) -> list[str]:
    """baksmali's method lines without .param/.annotation blocks (we print neither annotations nor unnamed
    parameters); the .param lines of named parameters are dropped too, and compared in test_param_lines."""
    out: list[str] = []
    depth = 0
    for raw in lines:
        text = raw.strip()
        if text.startswith(".annotation"):
            depth += 1
        if depth:
            depth -= text.startswith(".end annotation")
            continue
        if text.startswith((".param", ".end param")):
            continue
        out.append(raw)
    return out


def _addressed(lines: list[str]) -> list[tuple[int, str]]:
    """(byte offset, instruction text) of each instruction in baksmali --code-offsets output."""
    out = []
    address = None
    for raw in lines:
        text = raw.strip()
        m = re.fullmatch(r"#@([0-9a-f]+)", text)
        if m:
            address = int(m.group(1), 16) * 2
            continue
        if address is not None and text and not text.startswith(("#", ".", ":")):
            out.append((address, _strip_comment(text)))
            address = None
        elif address is not None and text.startswith((".packed-switch", ".sparse-switch", ".array-data")):
            out.append((address, text))
            address = None
    return out


@needs_baksmali
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_evidence_excerpts_match_baksmali(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each finding's code evidence: our excerpt's instructions, offsets included, are baksmali's."""
    tmp = str(tmp_path_factory.getbasetemp())
    code = load_apk(str(FIXTURES / f"{name}.apk")).code
    sites = sorted(
        {
            (e["dex"], e["class"], e["method"], e["offset"])
            for f in report_json(name)["findings"]
            for e in f["evidence"]
            if e.get("offset") is not None and e["dex"].startswith("classes")
        }
    )
    for dex_name, cls, method, offset in sites:
        excerpt = excerpt_for(code, dex_name, cls, method, offset, context=3)
        assert excerpt is not None and excerpt.marked is not None, (cls, method, offset)
        ours = [(ln.offset, ln.text) for ln in excerpt.lines if ln.kind == "insn"]
        theirs = _addressed(_baksmali(name, dex_name, tmp)[("L" + cls.replace(".", "/") + ";", method)])
        start = theirs.index(ours[0])
        assert theirs[start : start + len(ours)] == ours, (cls, method, offset)
        assert excerpt.lines[excerpt.marked].offset == offset
        assert 1 <= len(ours) <= 7


@needs_baksmali
def test_param_lines_match_baksmali(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = str(tmp_path_factory.getbasetemp())
    ((dex_name, raw),) = _dex_entries("contacts_debuginfo")
    dex = DexFile(raw, dex_name)
    theirs = _baksmali("contacts_debuginfo", dex_name, tmp)
    checked = 0
    for ci, cdef in enumerate(dex.class_defs):
        cls = dex.type_desc(cdef.class_idx)
        for entry in class_methods(dex, ci):
            ref = dex.method_ref(entry.method_idx)
            header = disassemble(dex, entry).header
            params = [ln.strip() for ln in theirs[(cls, ref.name + ref.proto)] if ln.strip().startswith(".param")]
            assert list(header[2:]) == params
            checked += len(params)
    assert checked == 4  # harvest: ctx; label: kind, big; onCreate: b


def _dexdump_positions(raw: bytes, tmp: Path) -> dict[MethodKey, list[tuple[int, int]]]:
    path = tmp / "classes.dex"
    path.write_bytes(raw)
    text = subprocess.run(["dexdump", "-d", str(path)], check=True, capture_output=True, text=True, timeout=120).stdout
    out: dict[MethodKey, list[tuple[int, int]]] = {}
    cls = name = ""
    current: list[tuple[int, int]] | None = None
    for line in text.splitlines():
        if m := re.match(r"\s*Class descriptor\s*: '(.*)'", line):
            cls = m.group(1)
        elif m := re.match(r"\s*name\s*: '(.*)'", line):
            name = m.group(1)
        elif m := re.match(r"\s*type\s*: '(.*)'", line):
            current = out.setdefault((cls, name + m.group(1)), [])
        elif current is not None and (m := re.match(r"\s*0x([0-9a-f]+) line=(-?\d+)", line)):
            current.append((int(m.group(1), 16) * 2, int(m.group(2))))
    return out


@needs_dexdump
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_line_numbers_match_dexdump(name: str, tmp_path: Path) -> None:
    for dex_name, raw in _dex_entries(name):
        theirs = _dexdump_positions(raw, tmp_path)
        dex = DexFile(raw, dex_name)
        for ci, _cdef in enumerate(dex.class_defs):
            for entry in class_methods(dex, ci):
                ref = dex.method_ref(entry.method_idx)
                key = (dex.class_desc_of(entry.span) if entry.span else "", ref.name + ref.proto)
                if entry.span is None:
                    continue
                info = read_debug_info(dex, entry.span)
                ours = list(info.positions) if info is not None else []
                assert ours == theirs.get(key, []), key


@needs_dexdump
def test_the_debug_fixture_has_the_lines_dexdump_gives(tmp_path: Path) -> None:
    ((_dex_name, raw),) = _dex_entries("contacts_debuginfo")
    theirs = _dexdump_positions(raw, tmp_path)
    harvest = ("Lcom/example/fixture/Harvester;", "harvest(Landroid/content/Context;)Ljava/lang/String;")
    assert theirs[harvest] == [
        (0x0, 21),
        (0xA, 22),
        (0x12, 23),
        (0x16, 24),
        (0x36, 22),
        (0x3E, 26),
        (0x42, 27),
        (0x4E, 28),
        (0x84, 30),
        (0x8A, 32),
    ]
