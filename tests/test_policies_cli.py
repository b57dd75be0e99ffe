"""`appaudit policies list|show`: the provisions a report cites can be looked up from the command line."""

from __future__ import annotations

import pytest

from conftest import run_cli


def _packs():  # type: ignore[no-untyped-def]
    from appaudit.ruleset import load_ruleset

    return load_ruleset().policy_packs


def test_policies_list_has_every_pack_and_provision(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["policies", "list"], capsys)
    assert res.code == 0
    lines = res.out.splitlines()
    packs = _packs()
    headers = [line for line in lines if not line.startswith("  ")]
    assert headers == [f"{p.id}: {p.name} ({p.jurisdiction}; version {p.version})" for p in packs]
    ids = [line.split()[0] for line in lines if line.startswith("  ")]
    assert ids == [prov.id for p in packs for prov in p.provisions]
    pipl6 = next(line for line in lines if line.startswith("  CN-PIPL-6 "))
    assert pipl6.split() == [
        "CN-PIPL-6",
        "V",
        "not_necessary",
        "《中华人民共和国个人信息保护法》",
        "(PIPL),",
        "Art.",
        "6",
        "(minimum",
        "necessary)",
    ]


def test_policies_show_a_provision(capsys: pytest.CaptureFixture[str]) -> None:
    from appaudit.policy.describe import find_provision

    res = run_cli(["policies", "show", "cn-pipl-6"], capsys)
    assert res.code == 0
    found = find_provision(_packs(), "CN-PIPL-6")
    assert found is not None
    _, prov = found
    assert res.out == (
        "provision:       CN-PIPL-6 (china: China personal-information rules for online lending apps)\n"
        f"instrument:      {prov.instrument}\n"
        f"article:         {prov.article}\n"
        "kind:            not_necessary\n"
        f"paraphrase:      {prov.paraphrase}\n"
        f"paraphrase (zh): {prov.paraphrase_zh}\n"
        f"source:          {prov.source}\n"
        "effective:       2021-11-01\n"
        "confidence:      V (text seen)\n"
        "triggered by:    contacts exfiltrated, call_log exfiltrated, sms exfiltrated\n"
    )
    assert prov.paraphrase_zh  # every Chinese provision has its paraphrase in Chinese


def test_policies_show_a_pack_and_unknown_ids(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["policies", "show", "eu-gdpr"], capsys)
    assert res.code == 0
    assert [line for line in res.out.splitlines() if line.startswith("provision:")] == [
        "provision:       EU-GDPR-5-1-C (eu-gdpr: EU General Data Protection Regulation)",
        "provision:       EU-GDPR-14 (eu-gdpr: EU General Data Protection Regulation)",
    ]
    res = run_cli(["policies", "show", "XX-1"], capsys)
    assert (res.code, res.out, res.err) == (
        2,
        "",
        "appaudit: error: Invalid value for ID: no provision or policy pack 'XX-1' (see `appaudit policies list`)\n",
    )


def test_rules_show_of_a_provision_points_at_policies_show(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["rules", "show", "CN-PIPL-6"], capsys)
    assert (res.code, res.out, res.err) == (
        2,
        "",
        "appaudit: error: Invalid value for ID: 'CN-PIPL-6' is a policy provision, not a rule "
        "(see `appaudit policies show CN-PIPL-6`)\n",
    )
