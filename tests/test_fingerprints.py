"""Fingerprints: what the normalisation keeps and drops, endpoints, and the family fixtures."""

from __future__ import annotations

import pytest

from appaudit.analysis.fingerprints import method_fingerprint, normalise_endpoint
from appaudit.apk.dex.types import Insn
from conftest import report_json

FAMILY = ("family_a", "family_b", "family_obfuscated")


def _insn(**fields: object) -> Insn:
    """An instruction; the fingerprint reads neither the opcode byte nor the length."""
    return Insn(opcode=0, length=1, **fields)  # type: ignore[arg-type]


def _insns(cls: str, reg: int, url: str, op: str = "const/4") -> tuple[Insn, ...]:
    return (
        _insn(offset=0, op=op, regs=(reg,), literal=0),
        _insn(offset=2, op="const-string", regs=(reg + 1,), ref=url, ref_kind="string"),
        _insn(offset=6, op="invoke-static", regs=(reg,), ref=f"L{cls};->go(L{cls};I)V", ref_kind="method"),
        _insn(
            offset=12,
            op="invoke-virtual/range",
            regs=(reg, reg + 1),
            ref="Ljava/net/URL;->openConnection()Ljava/net/URLConnection;",
            ref_kind="method",
        ),
        _insn(
            offset=18,
            op="sget-object",
            regs=(reg,),
            ref="Landroid/provider/CallLog$Calls;->CONTENT_URI:Landroid/net/Uri;",
            ref_kind="field",
        ),
        _insn(offset=22, op="goto", target=0),
    )


def test_renaming_registers_strings_and_width_variants_do_not_change_the_fingerprint() -> None:
    base = method_fingerprint(_insns("com/x/Up", 0, "https://a.invalid/1"))
    assert method_fingerprint(_insns("a/b", 7, "https://b.invalid/2", op="const/16")) == base
    assert len(base) == 16 and int(base, 16) >= 0


def test_framework_references_and_content_uris_are_kept() -> None:
    base = _insns("com/x/Up", 0, "x")
    other_api = (
        base[:3]
        + (_insn(offset=12, op="invoke-virtual", ref="Ljava/net/URL;->getHost()Ljava/lang/String;", ref_kind="method"),)
        + base[4:]
    )
    assert method_fingerprint(other_api) != method_fingerprint(base)
    uri = (base[0], _insn(offset=2, op="const-string", ref="content://sms/inbox", ref_kind="string"), *base[2:])
    assert method_fingerprint(uri) != method_fingerprint(base)
    # an app type in a prototype is a shape, a framework type a name
    proto = (
        base[:2]
        + (_insn(offset=6, op="invoke-static", ref="Lcom/x/Up;->go(Landroid/os/Bundle;I)V", ref_kind="method"),)
        + base[3:]
    )
    assert method_fingerprint(proto) != method_fingerprint(base)
    assert method_fingerprint(base[:-1]) != method_fingerprint(base)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.Dana-Kilat.invalid/v1/contacts/1001?src=a", ("api.dana-kilat.invalid", "/v1/contacts/{n}")),
        ("https://api.dana-kilat.invalid:443/v1/contacts/3#top", ("api.dana-kilat.invalid", "/v1/contacts/{n}")),
        ("HTTP://h.invalid:8080/a/12b/7/", ("h.invalid:8080", "/a/12b/{n}/")),
        ("http://h.invalid", ("h.invalid", "/")),
        ("wss://h.invalid/ws", ("h.invalid", "/ws")),
        ("/api/contacts/upload", None),
        ("ftp://h.invalid/x", None),
        ("http://[::1/x", None),
        ("https://h.invalid:99999/x", None),
    ],
)
def test_normalise_endpoint(url: str, expected: tuple[str, str] | None) -> None:
    assert normalise_endpoint(url) == expected


def test_family_fixtures_share_chain_read_and_endpoint() -> None:
    blocks = [report_json(name)["fingerprints"] for name in FAMILY]
    chains = {
        tuple((c["data_class"], c["channel"], c["fingerprint"], tuple(c["steps"])) for c in b["chains"]) for b in blocks
    }
    assert len(chains) == 1 and len(next(iter(chains))) == 1
    assert {tuple(r["fingerprint"] for r in b["reads"]) for b in blocks} == {(blocks[0]["reads"][0]["fingerprint"],)}
    assert [b["reads"][0]["class"] for b in blocks] == [
        "com.kilat.dana.ContactSync",
        "id.pinjol.cepat.BukuTelepon",
        "o.a",
    ]
    assert {tuple((e["host"], e["path"]) for e in b["endpoints"]) for b in blocks} == {
        (("api.dana-kilat.invalid", "/v1/contacts/{n}"),)
    }


def test_same_host_fixture_shares_only_the_host() -> None:
    family = report_json("family_a")["fingerprints"]
    other = report_json("family_same_host")["fingerprints"]
    assert [(e["data_class"], e["host"], e["path"]) for e in other["endpoints"]] == [
        ("call_log", "api.dana-kilat.invalid", "/v2/calls")
    ]
    assert {c["fingerprint"] for c in other["chains"]} & {c["fingerprint"] for c in family["chains"]} == set()
    assert {r["fingerprint"] for r in other["reads"]} & {r["fingerprint"] for r in family["reads"]} == set()


def test_every_report_has_a_fingerprints_block_the_schema_accepts() -> None:
    from conftest import report_schema_validator

    doc = report_json("sdk_harvest")
    report_schema_validator().validate(doc)
    fp = doc["fingerprints"]
    assert fp["algorithm"] == "appaudit-fp-1"
    assert fp["sdks"] == ["lenddo"] and len(fp["sdk_set"]) == 16
    assert report_json("benign")["fingerprints"]["chains"] == []
    signed = report_json("signed")
    assert signed["fingerprints"]["signers"] == signed["app"]["signer_sha256"] != []


class _BrokenCode:
    """A code index whose method decoding fails (a damaged DEX)."""

    def method_code(self, class_name: str, method: str) -> None:
        raise ValueError("damaged")


def test_a_method_that_cannot_be_decoded_costs_only_its_fingerprint() -> None:
    from appaudit.analysis.facts import ChainStep, HarvestChain, HarvestFacts
    from appaudit.analysis.fingerprints import app_fingerprints
    from appaudit.model import Channel, Evidence, EvidenceKind

    read = Evidence(kind=EvidenceKind.SGET, value="x", dex="classes.dex", class_name="a.B", method="m()V", offset=0)
    sink = Evidence(kind=EvidenceKind.INVOKE, value="y", dex="classes.dex", class_name="a.B", method="m()V", offset=4)
    chain = HarvestChain(
        data_class="contacts",
        read=read,
        steps=(ChainStep(class_name="a.B", method="m()V"),),
        channel=Channel.NETWORK,
        sink=sink,
        urls=("https://H.invalid/u/1", "/relative"),
    )
    fp = app_fingerprints(_BrokenCode(), HarvestFacts(chains=(chain,)), ("c" * 64,), ())  # type: ignore[arg-type]
    assert [(r.class_name, r.fingerprint) for r in fp.reads] == [("a.B", "")]
    assert (fp.chains[0].steps, fp.chains[0].fingerprint) == (("",), "")
    assert [(e.host, e.path) for e in fp.endpoints] == [("h.invalid", "/u/{n}")]
    assert (fp.signers, fp.sdks, fp.sdk_set) == (("c" * 64,), (), "")
