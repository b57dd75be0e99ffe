"""Values from elsewhere (issue #12 item 8): provider URIs and upload URLs kept in another class's static
field, returned by an app helper, kept in an instance field set by a constructor, read from a string
resource, or concatenated from these; and values that cannot be known, which stay unresolved."""

from __future__ import annotations

import pytest

from appaudit.analysis.providers import ProviderClassifier, provider_queries
from appaudit.analysis.registers import Value, values_at
from appaudit.analysis.values import ValueResolver
from appaudit.apk import load_apk
from appaudit.apk.dex.opcodes import LENGTHS, OPCODES
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.apk.resources import StringResources
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk, report_json

F = "com.example.fixture."
CTX = "(Landroid/content/Context;)Ljava/lang/String;"
PHONE = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
#: Opcode byte of each mnemonic, for building instructions by name.
OPCODE = {name: op for op, (name, _fmt, _kind) in enumerate(OPCODES)}


def _providers(name: str, dc: str) -> list[tuple[str, str, bool, str, str]]:
    return [
        (p["uri"], p["how"], p["bulk"], p["site"]["class"], p["site"]["method"])
        for p in report_json(name)["data_classes"][dc]["providers"]
    ]


def _network_chain(name: str, dc: str) -> dict:
    (chain,) = [c for c in report_json(name)["data_classes"][dc]["chains"] if c["channel"] == "network"]
    return chain


# ------------------------------------------------------------------ provider URIs
def test_uri_from_static_field_set_in_another_classes_clinit() -> None:
    # Harvester reads Uris.SMS_INBOX; Boot.<clinit> writes it as Uri.parse(Hosts.SMS_BASE + "/inbox"),
    # and Hosts.SMS_BASE is Hosts.<clinit>'s "content://sms"
    assert _providers("val_other_clinit", "sms") == [
        ("content://sms/inbox", "static_field", True, F + "Harvester", "harvest" + CTX)
    ]


def test_uri_returned_by_a_helper_with_the_callers_argument() -> None:
    # new Contract().uri("calls") returns Uri.parse("content://call_log/".concat(table))
    assert _providers("val_helper_return", "call_log") == [
        ("content://call_log/calls", "helper", True, F + "Harvester", "harvest" + CTX)
    ]


def test_uri_in_an_instance_field_set_by_the_constructor() -> None:
    # Reader(ctx, uri) keeps the Uri; readAll() queries the field; the new-instance site passes the Uri
    assert _providers("val_instance_field", "contacts") == [
        (
            "content://com.android.contacts/data/phones",
            "instance_field",
            True,
            F + "Reader",
            "readAll()Ljava/lang/String;",
        )
    ]


def test_uri_from_a_string_resource() -> None:
    assert _providers("val_resource_url", "sms") == [
        ("content://sms/inbox", "resource", True, F + "Harvester", "harvest" + CTX)
    ]


def test_unknowable_uris_stay_unresolved() -> None:
    # Holder.uri is also written by setUri(Uri); Remote.uri() returns a SharedPreferences value
    ruleset = load_ruleset()
    code = load_apk(fixture_apk("val_unresolved")).code
    queries = provider_queries(code, ruleset.flows, ProviderClassifier(ruleset.rules))
    got = [(q.site.class_name, q.site.method.split("(")[0], q.uri, q.how, q.data_class) for q in queries]
    assert got == [
        (F + "Harvester", "harvest", None, "unresolved", None),
        (F + "Holder", "open", None, "unresolved", None),
    ]
    report = report_json("val_unresolved")
    assert all(entry["providers"] == [] for entry in report["data_classes"].values())
    assert report["data_classes"]["sms"]["chains"] == []


# ------------------------------------------------------------------ upload URLs
def test_upload_url_from_a_string_resource_and_a_path() -> None:
    chain = _network_chain("val_resource_url", "sms")
    assert chain["sink"]["class"] == F + "Net"
    assert chain["urls"] == ["https://collector.invalid/api/contacts"]
    assert chain["url_sources"] == [{"url": "https://collector.invalid/api/contacts", "how": "resource"}]


def test_upload_url_from_a_static_base_and_a_path() -> None:
    chain = _network_chain("val_static_url", "contacts")
    # the literal path of the sink's method first, then the URL resolved through Config.BASE
    assert chain["urls"] == ["/api/contacts/upload", "https://collector.invalid/api/contacts/upload"]
    assert chain["url_sources"] == [{"url": "https://collector.invalid/api/contacts/upload", "how": "static_field"}]
    assert _providers("val_static_url", "contacts") == [(PHONE, "constant", True, F + "Harvester", "harvest" + CTX)]


def test_literal_urls_carry_no_sources() -> None:
    chain = _network_chain("val_helper_return", "call_log")
    assert chain["urls"] == ["http://collector.invalid/upload"]
    assert "url_sources" not in chain


def test_a_base_url_with_two_values_leaves_the_concatenation_unresolved() -> None:
    code = load_apk(fixture_apk("val_unresolved")).code
    values = ValueResolver(code)
    base = Value("field", "Lcom/example/fixture/Config;->BASE:Ljava/lang/String;")
    assert [(v.text, v.how) for v in values.all(base)] == [
        ("https://primary.invalid", "static_field"),
        ("https://backup.invalid", "static_field"),
    ]
    assert values.one(base) is None
    body = code.method_code(F + "Uploader", "upload(Ljava/lang/String;)V")
    assert body is not None
    new_url = next(i for i in body.insns if i.ref == "Ljava/net/URL;-><init>(Ljava/lang/String;)V")
    assert values_at(body, new_url.offset, resolve=values.callback())[new_url.regs[1]] == Value("string", None)


# ------------------------------------------------------------------ every format
@pytest.mark.parametrize(
    ("fmt", "shown"),
    [
        ("text", ["\n      https://collector.invalid/api/contacts (string resource)\n"]),
        (
            "markdown",
            [
                "   - URLs found elsewhere: `https://collector.invalid/api/contacts` (string resource)",
                "`content://sms/inbox` (string resource, bulk; every row kept) at",
            ],
        ),
        (
            "html",
            [
                "<th>URLs found elsewhere</th><td><code>https:/<wbr>/<wbr>collector.<wbr>invalid/<wbr>api/<wbr>"
                "contacts</code> (string resource)</td>",
                "<code>content:/<wbr>/<wbr>sms/<wbr>inbox</code> (string resource, bulk; every row kept) at",
            ],
        ),
    ],
)
def test_where_a_value_came_from_is_shown_in_every_format(fmt: str, shown: list[str]) -> None:
    from appaudit.api import scan

    out = render(scan(fixture_apk("val_resource_url")), fmt)
    for text in shown:
        assert text in out


# ------------------------------------------------------------------ the resource lookup
def test_string_resources_are_read_only_when_asked() -> None:
    reads: list[int] = []

    def read() -> bytes | None:
        reads.append(1)
        return None

    table = StringResources(read)
    assert reads == []
    assert table.string(0x7F020001) is None
    assert table.string(0x7F020002) is None
    assert reads == [1]  # one read for every question, and a missing table answers None


def test_string_resources_of_a_fixture() -> None:
    code = load_apk(fixture_apk("val_resource_url")).code
    assert code.string_resource(0x7F020001) == "https://collector.invalid/api"
    assert code.string_resource(0x7F020002) == "content://sms/inbox"
    assert code.string_resource(0x7F02FFFF) is None


def test_a_damaged_resource_table_answers_none() -> None:
    assert StringResources(lambda: b"\x02\x00\x0c\x00garbage").string(0x7F020000) is None


def test_a_scan_without_getstring_never_parses_the_table() -> None:
    ruleset = load_ruleset()
    code = load_apk(fixture_apk("val_static_url")).code
    provider_queries(code, ruleset.flows, ProviderClassifier(ruleset.rules))
    assert code.resources is not None
    assert not code.resources.parsed


# ------------------------------------------------------------------ register pass with a resolve callback
def _insn(off: int, op: str, regs: tuple[int, ...], ref: str | None = None, literal: int | None = None) -> Insn:
    kind = "method" if op.startswith("invoke") else ("string" if op.startswith("const-string") else "field")
    code = OPCODE[op]
    return Insn(
        offset=off, op=op, opcode=code, length=LENGTHS[code], regs=regs, ref=ref, ref_kind=kind, literal=literal
    )


def _method(*insns: Insn, params: tuple[str, ...] = ()) -> MethodCode:
    return MethodCode(
        class_name="com.x.A",
        method="m()V",
        dex="classes.dex",
        registers_size=10,
        ins_size=len(params),
        is_static=True,
        param_types=params,
        insns=(*insns, _insn(1000, "return-void", ())),
    )


BASE = "Lcom/x/Cfg;->BASE:Ljava/lang/String;"
CONCAT = "Ljava/lang/String;->concat(Ljava/lang/String;)Ljava/lang/String;"


def test_a_concatenation_with_a_resolved_field_says_where_it_came_from() -> None:
    body = _method(
        _insn(0, "sget-object", (1,), BASE),
        _insn(4, "const-string", (2,), "/upload"),
        _insn(8, "invoke-virtual", (1, 2), CONCAT),
        _insn(14, "move-result-object", (3,)),
    )
    asked: list[Value] = []

    def resolve(value: Value) -> Value | None:
        asked.append(value)
        return Value("string", "https://h.invalid", "static_field") if value.text == BASE else None

    assert values_at(body, 1000, resolve=resolve)[3] == Value("string", "https://h.invalid/upload", "static_field")
    assert asked == [Value("field", BASE)]  # only the part a string call consumed was looked into
    # without a callback the field stays a field and the concatenation unknown
    assert values_at(body, 1000)[3] == Value("call", CONCAT)


def test_parameters_take_the_callers_values_and_int_constants_are_kept() -> None:
    body = _method(
        _insn(0, "const/high16", (1,), literal=0x7F020000),
        _insn(4, "invoke-virtual", (9, 9), CONCAT),
        _insn(10, "move-result-object", (2,)),
        params=("Ljava/lang/String;",),
    )
    env = values_at(body, 1000, params=(Value("string", "content://sms"),))
    assert env[1] == Value("int", str(0x7F020000))
    assert env[2] == Value("string", "content://smscontent://sms")
