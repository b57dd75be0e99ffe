"""Oracle tests: the lean DEX reader (``appaudit.apk.dex``) agrees with androguard 4.1.4.

Every DEX of every fixture APK is compared in full; a few real corpus APKs (marked
``corpus``) are compared in full for the tables and instruction boundaries and on a
deterministic sample for decoded instructions and reference searches.

androguard is only the oracle here: each DEX is parsed with ``androguard.core.dex.DEX``
once per test module, everything the tests need is copied into plain Python data
(``AgView``), and the androguard objects are dropped before the next DEX is parsed.

Normalisations (where the two tools differ only in spelling):

* androguard spells a prototype with spaces between parameters, ``(I Ljava/lang/String;)V``;
  the oracle rebuilds it from androguard's proto table and type lists without spaces
  (``(ILjava/lang/String;)V``), so a descriptor that itself contains a space stays exact.
* a method is written ``Lcls;->name(params)ret`` and a field ``Lcls;->name:type`` on both
  sides (androguard's own field string is ``Lcls;->name type``).
* payload pseudo-instructions are named ``packed-switch-payload``, ``sparse-switch-payload``
  and ``fill-array-data-payload`` by both tools (no renaming needed); androguard's ``unused``
  opcodes never reach a comparison because androguard refuses to decode them (see below).
* androguard stops decoding a method at the first instruction it considers invalid
  (``InvalidInstruction``: a non-zero high byte in formats 10x/20t/30t/32x, an unused opcode,
  an unknown ``0x..00``/``0x..ff`` unit, a truncated instruction). Packers fill encrypted
  methods with such junk. For those methods only the prefix androguard decoded is compared,
  and the test checks that our instruction at the stopping point is one androguard rejects
  by rule; our reference sites inside such methods are left out of the site comparisons.
"""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from appaudit.apk.dex.code import decode_method, instruction_starts
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.dex.types import Insn

logger.disable("androguard")

from androguard.core.dex import DEX, InvalidInstruction, LinearSweepAlgorithm  # noqa: E402  (after silencing its logger)
from androguard.core.dex.dex_types import TypeMapItem  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURE_APKS = REPO / "fixtures" / "apks"
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
CORPUS_CACHE = REPO / ".cache" / "corpus"

#: corpus samples (sha256 -> DEX files in the APK), chosen for variety
CORPUS: dict[str, tuple[str, ...]] = {
    # the largest classes.dex of the corpus named by the brief (6.4 MB, 34k strings, 42k method ids)
    "cbbbd1a3eae287286ca6d28628d98c78c971964aa4a725c094a2f6ebf1061edc": ("classes.dex",),
    # 6.1 MB; its string table holds U+DFFFD before U+FEFF (UTF-16 order): find_string bug below
    "3d3db692be45e7bda3694b9f47367c44ecdfcd095328a939442f288b6b5c77e4": ("classes.dex",),
    # multidex: a small classes.dex (289 kB) and a large classes2.dex (3.2 MB)
    "3a15c9d58c0dc91dbcfd5699e409fd848eb4d78a6ad83b1b1e4bd84e777d068b": ("classes.dex", "classes2.dex"),
    # medium (800 kB), 90 methods with switch / array payloads
    "2b4003b3728dd89d741615dc549607494238abc1229edee8e9e0f35a1f9059ce": ("classes.dex",),
    # small (99 kB)
    "30ae1bb9e14785a0c0351e5fef6af51ef149301d1bd5d5a59a286fa480e127ae": ("classes.dex",),
    # tiny (27 kB) packed app whose encrypted methods are junk bytecode androguard rejects
    "4ba5fbd9e65570042f2418c751e81b507955ca9d23a3cdf9475c78b04470d596": ("classes.dex",),
}

#: corpus sample sizes (fixtures are compared in full)
SAMPLE_RANDOM_METHODS = 200
SAMPLE_PAYLOAD_METHODS = 100

#: framework methods whose call sites are always compared when the DEX references them
FRAMEWORK_METHODS: tuple[tuple[str, str], ...] = (
    ("Landroid/content/ContentResolver;", "query"),
    ("Landroid/content/ContentResolver;", "insert"),
    ("Landroid/content/ContentResolver;", "delete"),
    ("Landroid/content/ContentResolver;", "registerContentObserver"),
    ("Landroid/content/Context;", "getContentResolver"),
    ("Landroid/content/Context;", "getSystemService"),
    ("Landroid/content/Context;", "startService"),
    ("Landroid/content/Context;", "registerReceiver"),
    ("Landroid/content/ContextWrapper;", "getContentResolver"),
    ("Landroid/app/Activity;", "getContentResolver"),
    ("Landroid/app/Activity;", "startActivityForResult"),
    ("Landroid/database/Cursor;", "getString"),
    ("Landroid/database/Cursor;", "getColumnIndex"),
    ("Landroid/database/Cursor;", "moveToNext"),
    ("Landroid/database/Cursor;", "moveToFirst"),
    ("Landroid/database/Cursor;", "close"),
    ("Landroid/net/Uri;", "parse"),
    ("Landroid/net/Uri;", "withAppendedPath"),
    ("Landroid/telephony/SmsManager;", "getDefault"),
    ("Landroid/telephony/SmsManager;", "sendTextMessage"),
    ("Landroid/telephony/SmsManager;", "divideMessage"),
    ("Landroid/telephony/SmsMessage;", "createFromPdu"),
    ("Landroid/telephony/SmsMessage;", "getMessageBody"),
    ("Landroid/telephony/SmsMessage;", "getOriginatingAddress"),
    ("Landroid/telephony/TelephonyManager;", "getDeviceId"),
    ("Landroid/telephony/TelephonyManager;", "getLine1Number"),
    ("Landroid/telephony/TelephonyManager;", "getSubscriberId"),
    ("Landroid/telephony/TelephonyManager;", "getSimSerialNumber"),
    ("Landroid/telephony/TelephonyManager;", "getNetworkOperatorName"),
    ("Landroid/content/Intent;", "<init>"),
    ("Landroid/content/Intent;", "getAction"),
    ("Landroid/content/Intent;", "getExtras"),
    ("Landroid/content/Intent;", "putExtra"),
    ("Landroid/os/Bundle;", "get"),
    ("Landroid/util/Log;", "d"),
    ("Landroid/util/Log;", "e"),
    ("Landroid/provider/Settings$Secure;", "getString"),
    ("Ljava/lang/Object;", "<init>"),
    ("Ljava/lang/StringBuilder;", "append"),
    ("Ljava/lang/StringBuilder;", "toString"),
    ("Ljava/lang/String;", "equals"),
    ("Ljava/lang/Class;", "forName"),
    ("Ljava/lang/reflect/Method;", "invoke"),
    ("Ljava/net/URL;", "openConnection"),
    ("Ljava/net/HttpURLConnection;", "setRequestMethod"),
    ("Ljava/io/OutputStream;", "write"),
    ("Ldalvik/system/DexClassLoader;", "<init>"),
    ("Lorg/json/JSONObject;", "put"),
    ("Landroid/app/PendingIntent;", "getBroadcast"),
    ("Landroid/content/SharedPreferences;", "getString"),
)

#: static fields whose reads are always compared when the DEX references them
FRAMEWORK_FIELDS: tuple[tuple[str, str], ...] = (
    ("Landroid/provider/ContactsContract$CommonDataKinds$Phone;", "CONTENT_URI"),
    ("Landroid/provider/ContactsContract$CommonDataKinds$Email;", "CONTENT_URI"),
    ("Landroid/provider/ContactsContract$Contacts;", "CONTENT_URI"),
    ("Landroid/provider/ContactsContract$Data;", "CONTENT_URI"),
    ("Landroid/provider/CallLog$Calls;", "CONTENT_URI"),
    ("Landroid/provider/Telephony$Sms;", "CONTENT_URI"),
    ("Landroid/provider/Telephony$Sms$Inbox;", "CONTENT_URI"),
    ("Landroid/os/Build$VERSION;", "SDK_INT"),
    ("Landroid/os/Build;", "MODEL"),
    ("Ljava/lang/System;", "out"),
)

#: strings whose loads are always compared when the DEX holds them
NAMED_STRINGS: tuple[str, ...] = (
    "content://sms/inbox",
    "content://sms",
    "content://sms/sent",
    "content://com.android.contacts/data/phones",
    "content://call_log/calls",
    "android.provider.Telephony.SMS_RECEIVED",
    "address",
    "body",
    "number",
    "display_name",
    "pdus",
    "phone",
    "UTF-8",
    "",
)

# Opcode groups, written from the Dalvik bytecode spec (not from our opcodes.py).
OPS_INVOKE = frozenset((*range(0x6E, 0x73), *range(0x74, 0x79)))
OPS_INVOKE_POLYMORPHIC = frozenset((0xFA, 0xFB))
OPS_STRING = frozenset((0x1A, 0x1B))
OPS_FIELD = frozenset(range(0x52, 0x6E))  # iget*, iput*, sget*, sput*
OPS_SGET = frozenset(range(0x60, 0x67))
OPS_TYPE = frozenset((0x1C, 0x1F, 0x20, 0x22, 0x23, 0x24, 0x25))
OPS_CALL_SITE = frozenset((0xFC, 0xFD))
OP_METHOD_HANDLE = 0xFE
OP_METHOD_TYPE = 0xFF
OPS_UNUSED = frozenset((*range(0x3E, 0x44), 0x73, 0x79, 0x7A, *range(0xE3, 0xFA)))
OPS_HIGH_BYTE_MUST_BE_ZERO = frozenset((0x00, 0x0E, 0x29, 0x2A, 0x03, 0x06, 0x09))  # 10x, 20t, 30t, 32x
PAYLOAD_NAMES = frozenset(("packed-switch-payload", "sparse-switch-payload", "fill-array-data-payload"))

HEADER_FIELDS = (
    "checksum",
    "file_size",
    "map_off",
    "string_ids_size",
    "string_ids_off",
    "type_ids_size",
    "type_ids_off",
    "proto_ids_size",
    "proto_ids_off",
    "field_ids_size",
    "field_ids_off",
    "method_ids_size",
    "method_ids_off",
    "class_defs_size",
    "class_defs_off",
    "data_size",
    "data_off",
)

#: A reference site as both sides report it: (defining class, containing method, byte offset).
SiteKey = tuple[str, str, int]
#: A decoded instruction as compared: (byte offset, mnemonic, resolved referenced item or None).
InsnKey = tuple[int, str, Any]


# --------------------------------------------------------------------------- the oracle
@dataclass
class AgMethod:
    """One method with code, as androguard sees it."""

    class_def: str
    ref: str
    start: int
    """Absolute offset of the insns array (code_item offset + 16)."""
    end: int
    starts: list[int]
    """Byte offsets of every instruction androguard decoded."""
    reject_at: int | None
    """Byte offset where androguard raised ``InvalidInstruction``, if it did."""
    has_payload: bool


@dataclass
class AgView:
    """Everything the tests need from androguard, as plain data."""

    header: dict[str, int]
    strings: list[str]
    raw_strings: list[bytes]
    types: list[str]
    protos: list[str]
    methods: list[str]
    method_names: list[tuple[str, str]]
    fields: list[str]
    field_names: list[tuple[str, str]]
    classes: list[str]
    code: dict[int, AgMethod]
    decoded: dict[int, list[InsnKey]] = field(default_factory=dict)
    """start -> decoded instructions of the sampled methods."""
    invokes: dict[int, set[SiteKey]] = field(default_factory=dict)
    sgets: dict[int, set[SiteKey]] = field(default_factory=dict)
    const_strings: dict[int, set[SiteKey]] = field(default_factory=dict)
    byte_arrays: list[tuple[int, bytes]] = field(default_factory=list)
    """(method start, bytes) of every fill-array-data table of 1-byte elements (at most 256) androguard decoded."""


def _ag_ref(view: AgView, ins: Any) -> Any:
    """The item an androguard instruction references, spelled like ``_our_ref``."""
    op = getattr(ins, "OP", 0)
    if not hasattr(ins, "get_kind"):  # payload objects
        return None
    if op in OPS_INVOKE:
        return ("method", view.methods[ins.get_ref_kind()])
    if op in OPS_INVOKE_POLYMORPHIC:
        return ("method", view.methods[ins.BBBB], view.protos[ins.HHHH])
    if op in OPS_STRING:
        return ("string", view.strings[ins.get_ref_kind()])
    if op in OPS_FIELD:
        return ("field", view.fields[ins.get_ref_kind()])
    if op in OPS_TYPE:
        return ("type", view.types[ins.get_ref_kind()])
    if op in OPS_CALL_SITE:
        return ("call_site", ins.get_ref_kind())
    if op == OP_METHOD_HANDLE:
        return ("method_handle", ins.get_ref_kind())
    if op == OP_METHOD_TYPE:
        return ("proto", view.protos[ins.get_ref_kind()])
    return None


def _our_ref(dex: DexFile, ins: Insn) -> Any:
    """The reference of one of our decoded instructions, spelled as ``_ag_ref`` spells androguard's:
    the resolved ``Insn.ref`` the analysis reads, and the encoded indices of the pool items it does not resolve."""
    op = ins.opcode
    if op in OPS_INVOKE:
        return ("method", ins.ref)
    if op in OPS_STRING:
        return ("string", ins.ref)
    if op in OPS_FIELD:
        return ("field", ins.ref)
    if op in OPS_TYPE:
        return ("type", ins.ref)
    if op in OPS_INVOKE_POLYMORPHIC:
        return ("method", ins.ref, dex.proto_desc(ins.proto_index))  # type: ignore[arg-type]
    if op in OPS_CALL_SITE:
        return ("call_site", ins.index)
    if op == OP_METHOD_HANDLE:
        return ("method_handle", ins.index)
    if op == OP_METHOD_TYPE:
        return ("proto", dex.proto_desc(ins.index))  # type: ignore[arg-type]
    return None


def _ag_sweep(code: Any) -> Iterator[Any]:
    """androguard's linear sweep over one method, lazily.

    ``DCode.get_instructions()`` builds the whole list before yielding, so on invalid
    bytecode it raises before the first instruction; the underlying generator yields the
    prefix it could decode and raises at the offending instruction.
    """
    bc = code.get_bc()
    return LinearSweepAlgorithm.get_instructions(bc.CM, bc.size, bc.insn, bc.idx)  # type: ignore[no-any-return]


def _ag_instructions(code: Any) -> Iterator[tuple[int, Any]]:
    off = 0
    for ins in _ag_sweep(code):
        yield off, ins
        off += ins.get_length()


def _sweep_method(view: AgView, cname: str, m: Any, code: Any, start: int, size: int) -> AgMethod:
    """One method's code swept as androguard does (``start``: its insns offset in a DEX of ``size`` bytes).

    Its reference sites go into ``view``'s site tables and its small fill-array payloads into
    ``view.byte_arrays``, neither when androguard rejects the method.
    """
    ref = view.methods[m.get_method_idx()]
    meth = AgMethod(cname, ref, start, min(start + 2 * code.get_insns_size(), size), [], None, False)
    sites: list[tuple[dict[int, set[SiteKey]], int, SiteKey]] = []
    arrays: list[tuple[int, bytes]] = []
    off = 0
    try:
        for ins in _ag_sweep(code):
            meth.starts.append(off)
            op = ins.OP
            if op == 0 and ins.get_name() in PAYLOAD_NAMES:
                meth.has_payload = True
                name = ins.get_name()
                if name == "fill-array-data-payload" and ins.element_width == 1 and 0 < ins.size <= 256:
                    arrays.append((start, bytes(ins.data[: ins.size])))
            elif op in OPS_INVOKE:
                sites.append((view.invokes, ins.get_ref_kind(), (cname, ref, off)))
            elif op in OPS_INVOKE_POLYMORPHIC:
                sites.append((view.invokes, ins.BBBB, (cname, ref, off)))
            elif op in OPS_SGET:
                sites.append((view.sgets, ins.get_ref_kind(), (cname, ref, off)))
            elif op in OPS_STRING:
                sites.append((view.const_strings, ins.get_ref_kind(), (cname, ref, off)))
            off += ins.get_length()
    except InvalidInstruction:
        meth.reject_at = off  # the instruction androguard refused starts where the last one ended
        sites = []  # normalisation: sites in rejected methods are compared by neither side
        arrays = []
    view.byte_arrays.extend(arrays)
    for table, idx, key in sites:
        table.setdefault(idx, set()).add(key)
    return meth


def build_view(raw: bytes, sample_seed: str | None) -> AgView:
    """Parse ``raw`` with androguard and copy out tables, code, decoded samples and sites.

    ``sample_seed`` None decodes every method; otherwise a deterministic sample.
    """
    d = DEX(raw)
    cm = d.get_class_manager()
    h = d.header
    string_ids = d.map_list.get_item_type(TypeMapItem.STRING_ID_ITEM) or []
    data_by_off = {s.get_off(): s for s in d.strings or []}
    proto_items = d.map_list.get_item_type(TypeMapItem.PROTO_ID_ITEM)

    protos = []
    for i in range(h.proto_ids_size):
        p = proto_items.get(i)
        # normalisation: androguard joins parameters with spaces; rebuild without them
        protos.append("(" + "".join(cm.get_type_list(p.get_parameters_off())) + ")" + p.get_return_type_idx_value())
    methods, method_names = [], []
    for i in range(h.method_ids_size):
        m = d.methods.get(i)
        methods.append(f"{m.get_class_name()}->{m.get_name()}{protos[m.get_proto_idx()]}")
        method_names.append((m.get_class_name(), m.get_name()))
    fields, field_names = [], []
    for i in range(h.field_ids_size):
        f = d.fields.get(i)
        fields.append(f"{f.get_class_name()}->{f.get_name()}:{f.get_type()}")
        field_names.append((f.get_class_name(), f.get_name()))
    view = AgView(
        header={name: getattr(h, name) for name in HEADER_FIELDS},
        strings=[cm.get_string(i) for i in range(h.string_ids_size)],
        raw_strings=[bytes(data_by_off[s.get_string_data_off()].data) for s in string_ids],
        types=[cm.get_type(i) for i in range(h.type_ids_size)],
        protos=protos,
        methods=methods,
        method_names=method_names,
        fields=fields,
        field_names=field_names,
        classes=[c.get_name() for c in d.get_classes()],
        code={},
    )

    # Linear sweep of every method: boundaries, payloads and reference sites.
    codes: dict[int, Any] = {}
    for cdef in d.get_classes():
        cname = cdef.get_name()
        for m in cdef.get_methods():
            code = m.get_code()
            if code is None:
                continue
            start = m.get_code_off() + 16
            meth = _sweep_method(view, cname, m, code, start, len(raw))
            assert start not in view.code, f"two methods share the code item at {start:#x}"
            view.code[start] = meth
            codes[start] = code

    # Decoded instructions of the sampled methods (all methods when sample_seed is None).
    accepted = sorted(s for s, m in view.code.items() if m.reject_at is None)
    if sample_seed is None:
        chosen = accepted
    else:
        rng = random.Random(sample_seed)
        with_payload = [s for s in accepted if view.code[s].has_payload]
        chosen = sorted(
            {*rng.sample(accepted, min(SAMPLE_RANDOM_METHODS, len(accepted)))}
            | {*rng.sample(with_payload, min(SAMPLE_PAYLOAD_METHODS, len(with_payload)))}
        )
    for start in chosen:
        view.decoded[start] = [(off, ins.get_name(), _ag_ref(view, ins)) for off, ins in _ag_instructions(codes[start])]
    return view


def androguard_rejects(data: bytes, pos: int, end: int, ins: Insn) -> bool:
    """Whether androguard 4.1.4's linear sweep raises ``InvalidInstruction`` at ``pos``.

    Its rules: an unused opcode; a non-zero high byte in formats 10x, 20t, 30t and 32x
    (a ``0x..00`` unit other than a payload ident, or any ``0x..ff`` unit above 0xff, is
    "unknown"); invoke-polymorphic with more than 5 registers; an instruction running past
    the end of the code.
    """
    op, hi = data[pos], data[pos + 1]
    if op == 0:
        return hi not in (0, 1, 2, 3)
    if op == 0xFF and hi:  # androguard's limitation: a valid const-method-type with vAA != 0
        return True
    if op in OPS_UNUSED:
        return True
    if op in OPS_HIGH_BYTE_MUST_BE_ZERO and hi:
        return True
    if op == 0xFA and hi >> 4 > 5:
        return True
    return pos + 2 * ins.length > end


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    key: str
    dex: DexFile
    view: AgView
    corpus: bool


def _dex_names(apk: Path) -> list[str]:
    with zipfile.ZipFile(apk) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"classes\d*\.dex", n)]
    return sorted(names, key=lambda n: (len(n), n))


def _case_params() -> list[Any]:
    params: list[Any] = [
        pytest.param(("fixture", apk.name, name), id=f"{apk.stem}-{name}")
        for apk in sorted(FIXTURE_APKS.glob("*.apk"))
        for name in _dex_names(apk)
    ]
    params += [
        pytest.param(("corpus", f"{sha}.apk", name), id=f"{sha[:8]}-{name}", marks=pytest.mark.corpus)
        for sha, names in CORPUS.items()
        for name in names
    ]
    return params


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Extract the chosen corpus samples (once) into the git-ignored ``.cache/corpus``."""
    script = SHARED_CORPUS / "extract.sh"
    if not (SHARED_CORPUS / "samples").is_dir() or not script.is_file():
        pytest.skip(f"real-APK corpus not available at {SHARED_CORPUS}")
    missing = [sha for sha in CORPUS if not (CORPUS_CACHE / f"{sha}.apk").is_file()]
    if missing:
        subprocess.run(["bash", str(script), str(CORPUS_CACHE), *missing], check=True, capture_output=True, timeout=600)
    for sha in CORPUS:
        digest = hashlib.sha256((CORPUS_CACHE / f"{sha}.apk").read_bytes()).hexdigest()
        assert digest == sha, f"corpus sample {sha} extracted with the wrong content"
    return CORPUS_CACHE


@pytest.fixture(scope="module", params=_case_params())
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    kind, apk_name, dex_name = request.param
    if kind == "corpus":
        apk = request.getfixturevalue("corpus_dir") / apk_name
        assert _dex_names(apk) == list(CORPUS[apk_name.removesuffix(".apk")])
    else:
        apk = FIXTURE_APKS / apk_name
    with zipfile.ZipFile(apk) as zf:
        raw = zf.read(dex_name)
    key = f"{apk_name.removesuffix('.apk')}:{dex_name}"
    view = build_view(raw, sample_seed=key if kind == "corpus" else None)
    yield Case(key, DexFile(raw, key), view, kind == "corpus")


def _sample(rng: random.Random, pool: list[int], k: int) -> set[int]:
    return set(rng.sample(pool, min(k, len(pool))))


def _site_ids(
    case: Case, named: set[int], sited: dict[int, set[SiteKey]], size: int, framework: list[int]
) -> list[int]:
    """Indices whose sites are compared: all on fixtures; named + sampled on the corpus."""
    if not case.corpus:
        return list(range(size))
    rng = random.Random(case.key + str(size))
    ids = set(named)
    ids |= _sample(rng, sorted(framework), 25)
    ids |= _sample(rng, sorted(sited), 25)
    ids |= _sample(rng, list(range(size)), 10)
    return sorted(ids)


def _site_key(dex: DexFile, site: Any) -> SiteKey:
    return (dex.class_desc_of(site.span), str(dex.method_ref(site.span.method_idx)), site.offset)


def _compare_sites(case: Case, found: list[Any], ids: list[int], oracle: dict[int, set[SiteKey]]) -> None:
    ours: dict[int, set[SiteKey]] = {i: set() for i in ids}
    for site in found:
        meth = case.view.code[site.span.start]
        if meth.reject_at is not None:
            continue  # normalisation: see module docstring
        ours[site.index].add(_site_key(case.dex, site))
    expected = {i: oracle.get(i, set()) for i in ids}
    assert ours == expected


# --------------------------------------------------------------------------- 1. header and tables
def test_header(case: Case) -> None:
    assert {name: getattr(case.dex, name) for name in HEADER_FIELDS} == case.view.header


def test_strings(case: Case) -> None:
    n = case.dex.string_ids_size
    spans = [case.dex.string_raw_span(i) for i in range(n)]
    assert [case.dex.data[start:end] for start, end in spans] == case.view.raw_strings
    assert [case.dex.string(i) for i in range(n)] == case.view.strings


def test_find_string_finds_every_string(case: Case) -> None:
    # Regression: string_ids are sorted by UTF-16 code units, not code points; in
    # 3d3db692.../classes.dex '\U000dfffd' (UTF-16 DB3F DFFD) precedes '\ufeff' (index 46587).
    misses = [i for i, text in enumerate(case.view.strings) if case.dex.find_string(text) != i]
    assert misses == []


def test_types(case: Case) -> None:
    assert [case.dex.type_desc(i) for i in range(case.dex.type_ids_size)] == case.view.types
    assert [case.dex.find_type(t) for t in case.view.types] == list(range(len(case.view.types)))


def test_byte_arrays(case: Case) -> None:
    """Byte-array constants (the RC4 key candidates of payload recovery) are androguard's, in every method it
    accepts; tables whose size exceeds the limit are left out by both."""
    rejected = {s for s, m in case.view.code.items() if m.reject_at is not None}
    ours = sorted((span.start, data) for span, data in case.dex.byte_arrays() if span.start not in rejected)
    assert ours == sorted(case.view.byte_arrays)


def test_protos(case: Case) -> None:
    assert [case.dex.proto_desc(i) for i in range(case.dex.proto_ids_size)] == case.view.protos


def test_method_refs(case: Case) -> None:
    assert [str(case.dex.method_ref(i)) for i in range(case.dex.method_ids_size)] == case.view.methods


def test_field_refs(case: Case) -> None:
    assert [str(case.dex.field_ref(i)) for i in range(case.dex.field_ids_size)] == case.view.fields


def test_find_methods_and_fields(case: Case) -> None:
    by_method: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(case.view.method_names):
        by_method[key].append(i)
    by_field: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(case.view.field_names):
        by_field[key].append(i)
    if case.corpus:
        rng = random.Random(case.key)
        method_keys = set(FRAMEWORK_METHODS) | set(rng.sample(sorted(by_method), min(300, len(by_method))))
        field_keys = set(FRAMEWORK_FIELDS) | set(rng.sample(sorted(by_field), min(300, len(by_field))))
    else:
        method_keys = set(FRAMEWORK_METHODS) | set(by_method)
        field_keys = set(FRAMEWORK_FIELDS) | set(by_field)
    assert {k: case.dex.find_methods(*k) for k in method_keys} == {k: by_method.get(k, []) for k in method_keys}
    assert {k: case.dex.find_fields(*k) for k in field_keys} == {k: by_field.get(k, []) for k in field_keys}


#: patterns for find_strings_matching, compared with a fullmatch of every string's MUTF-8 bytes
STRING_PATTERNS = {
    "content-prefix": rb"content://[^\x00]*",
    "permission-prefix": rb"(?:android\.permission\.)[^\x00]*",
    "column-names": rb"(?:address|body|date|number|display_name)",
    "class-descriptors": rb"L[a-z]+/[^\x00]*;",
}


@pytest.mark.parametrize("pattern", list(STRING_PATTERNS.values()), ids=list(STRING_PATTERNS))
def test_find_strings_matching(case: Case, pattern: bytes) -> None:
    rx = re.compile(pattern)
    assert case.dex.find_strings_matching(rx) == [i for i, raw in enumerate(case.view.raw_strings) if rx.fullmatch(raw)]


def test_find_strings_matching_leading_wildcard() -> None:
    """Regression (fixed): find_strings_matching runs ``pattern.finditer`` over the whole string-data area and
    keeps a match only if it starts inside one string. With a leading ``.*`` (or ``[^\\x00]*``) the
    leftmost match starts in the ULEB128 length byte or in earlier strings; it is dropped and
    finditer never retries at the string's own start, so the string is missed.
    """
    with zipfile.ZipFile(FIXTURE_APKS / "sms_inbox.apk") as zf:
        raw = zf.read("classes.dex")
    dex, view = DexFile(raw, "sms_inbox"), build_view(raw, None)
    rx = re.compile(rb".*sms.*")
    expected = [i for i, s in enumerate(view.raw_strings) if rx.fullmatch(s)]
    assert [view.strings[i] for i in expected] == ["content://sms/inbox"]
    assert dex.find_strings_matching(rx) == expected  # actual: []


# --------------------------------------------------------------------------- 2. classes and code
def test_class_defs(case: Case) -> None:
    assert [case.dex.type_desc(c.class_idx) for c in case.dex.class_defs] == case.view.classes


def test_code_spans(case: Case) -> None:
    ours = sorted(
        (case.dex.class_desc_of(s), str(case.dex.method_ref(s.method_idx)), s.start, s.end) for s in case.dex.code_spans
    )
    theirs = sorted((m.class_def, m.ref, m.start, m.end) for m in case.view.code.values())
    assert ours == theirs
    # the defining class_def and the method id's class agree for every method with code
    assert all(ref.startswith(cls + "->") for cls, ref, _s, _e in ours)


# --------------------------------------------------------------------------- 3. instructions
def test_instruction_boundaries_of_every_method(case: Case) -> None:
    data = case.dex.data
    mismatched, rejected_unexplained = [], []
    for span in case.dex.code_spans:
        meth = case.view.code[span.start]
        ours = [p - span.start for p in instruction_starts(data, span.start, span.end)]
        if meth.reject_at is None:
            if ours != meth.starts:
                mismatched.append(meth.ref)
            continue
        # androguard gave up: its prefix must be ours, and ours must hold a rejected instruction there
        if ours[: len(meth.starts) + 1] != [*meth.starts, meth.reject_at]:
            mismatched.append(meth.ref)
            continue
        pos = span.start + meth.reject_at
        ins = next(i for i in decode_method(case.dex, span) if i.offset == meth.reject_at)
        if not androguard_rejects(data, pos, span.end, ins):
            rejected_unexplained.append((meth.ref, meth.reject_at, data[pos : pos + 2].hex()))
    assert mismatched == []
    assert rejected_unexplained == []
    rejected = sorted(m.ref for m in case.view.code.values() if m.reject_at is not None)
    assert rejected == sorted(KNOWN_REJECTED.get(case.key, []))


#: Methods androguard refuses to decode (junk bytecode in packed apps): pinned so that a
#: change on either side shows up. Fixtures have none.
KNOWN_REJECTED: dict[str, list[str]] = {
    "4ba5fbd9e65570042f2418c751e81b507955ca9d23a3cdf9475c78b04470d596:classes.dex": [
        "Lcom/regist/test/lock/Launcher;->onCreate(Landroid/os/Bundle;)V",
        "Lcom/regist/test/lock/LockReceiver;->onReceive(Landroid/content/Context;Landroid/content/Intent;)V",
        "Lcom/regist/test/lock/Receiveandmask;->onReceive(Landroid/content/Context;Landroid/content/Intent;)V",
        "Lcom/regist/test/lock/WatchDogService;->onCreate()V",
    ],
}


def test_decoded_instructions(case: Case) -> None:
    spans = {s.start: s for s in case.dex.code_spans}
    ours = {
        start: [(i.offset, i.op, _our_ref(case.dex, i)) for i in decode_method(case.dex, spans[start])]
        for start in case.view.decoded
    }
    assert ours == case.view.decoded
    accepted = [m for m in case.view.code.values() if m.reject_at is None]
    if case.corpus:
        # the sample is what it claims to be: payload methods included whenever the DEX has any
        with_payload = sum(m.has_payload for m in accepted)
        sampled_payload = sum(case.view.code[s].has_payload for s in case.view.decoded)
        assert with_payload > 0  # every chosen corpus DEX has switch / array payloads
        assert sampled_payload >= min(SAMPLE_PAYLOAD_METHODS, with_payload)
        assert len(case.view.decoded) >= min(SAMPLE_RANDOM_METHODS, len(accepted))
    else:
        assert len(case.view.decoded) == len(accepted) == len(case.dex.code_spans)


# --------------------------------------------------------------------------- 4. reference search
def test_method_sites(case: Case) -> None:
    view = case.view
    named = {i for k in FRAMEWORK_METHODS for i in case.dex.find_methods(*k)}
    framework = [i for i, (cls, _n) in enumerate(view.method_names) if cls.startswith("Landroid/")]
    ids = _site_ids(case, named, view.invokes, case.dex.method_ids_size, framework)
    _compare_sites(case, case.dex.method_sites(ids), ids, view.invokes)


def test_sget_sites(case: Case) -> None:
    view = case.view
    named = {i for k in FRAMEWORK_FIELDS for i in case.dex.find_fields(*k)}
    framework = [i for i, (cls, _n) in enumerate(view.field_names) if cls.startswith("Landroid/")]
    ids = _site_ids(case, named, view.sgets, case.dex.field_ids_size, framework)
    _compare_sites(case, case.dex.sget_sites(ids), ids, view.sgets)


def test_string_sites(case: Case) -> None:
    view = case.view
    named = {i for s in NAMED_STRINGS if (i := case.dex.find_string(s)) is not None}
    ids = _site_ids(case, named, view.const_strings, case.dex.string_ids_size, [])
    _compare_sites(case, case.dex.string_sites(ids), ids, view.const_strings)


def test_contacts_const_phone_content_uri() -> None:
    """The brief's example: the one read of Phone.CONTENT_URI in contacts_const.apk."""
    with zipfile.ZipFile(FIXTURE_APKS / "contacts_const.apk") as zf:
        raw = zf.read("classes.dex")
    dex, view = DexFile(raw, "contacts_const"), build_view(raw, None)
    ids = dex.find_fields("Landroid/provider/ContactsContract$CommonDataKinds$Phone;", "CONTENT_URI")
    assert [view.fields[i] for i in ids] == [
        "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
    ]
    ours = {_site_key(dex, s) for s in dex.sget_sites(ids)}
    assert ours == view.sgets[ids[0]]
    assert len(ours) == 1
    query = dex.find_methods("Landroid/content/ContentResolver;", "query")
    assert {_site_key(dex, s) for s in dex.method_sites(query)} == set().union(*(view.invokes[i] for i in query))
