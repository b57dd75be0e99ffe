"""Provider URIs built from a method's parameters (analysis/uri_params.py): ``"content://sms/" + folder``
takes what the callers pass (store_values' NameResolver), and a value not known stays unresolved."""

from __future__ import annotations

from appaudit.analysis.providers import ProviderClassifier, provider_queries
from appaudit.analysis.store_values import NameResolver
from appaudit.apk import load_apk
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk, report_json

READ = "read(Landroid/content/Context;Ljava/lang/String;)Ljava/lang/String;"


def _queries(name: str) -> list[tuple[str, str, int, str | None, str, str | None]]:
    ruleset = load_ruleset()
    code = load_apk(fixture_apk(name)).code
    return [
        (q.site.class_name, q.site.method, q.site.offset, q.uri, q.how, q.data_class)
        for q in provider_queries(code, ruleset.flows, ProviderClassifier(ruleset.rules))
    ]


def test_uri_built_from_a_parameter_takes_the_callers_constant() -> None:
    # harvest(ctx) calls read(ctx, "inbox"); read queries Uri.parse("content://sms/" + folder) at +88
    assert _queries("sum_uri_param") == [
        ("com.example.fixture.Harvester", READ, 88, "content://sms/inbox", "parameter", "sms")
    ]
    sms = report_json("sum_uri_param")["data_classes"]["sms"]
    assert [(p["uri"], p["how"], p["bulk"], p["bulk_reason"]) for p in sms["providers"]] == [
        ("content://sms/inbox", "parameter", True, "all_rows")
    ]
    assert (sms["bulk"], sms["exfiltrated"], sms["at_startup"], sms["level"]) == (True, ["network"], True, "harvested")
    assert report_json("sum_uri_param")["verdict"] == "harvests"


def test_uri_built_from_a_parameter_not_known_stays_unresolved() -> None:
    # the caller passes ctx.getPackageName(): no value is guessed, so no provider read is proven
    assert _queries("sum_uri_param_unknown") == [("com.example.fixture.Harvester", READ, 88, None, "unresolved", None)]
    report = report_json("sum_uri_param_unknown")
    sms = report["data_classes"]["sms"]
    assert (sms["read"], sms["bulk"], sms["providers"], sms["exfiltrated"], sms["level"]) == (
        True,
        False,
        [],
        [],
        "read",
    )
    assert report["verdict"] == "at_risk"


def test_parameter_texts_are_what_each_caller_passes() -> None:
    code = load_apk(fixture_apk("sum_uri_param")).code
    body = code.method_code("com.example.fixture.Harvester", READ)
    assert body is not None
    names = NameResolver(code)
    assert names.parameter_texts(body, 1) == ("inbox",)
    unknown = load_apk(fixture_apk("sum_uri_param_unknown")).code
    body = unknown.method_code("com.example.fixture.Harvester", READ)
    assert body is not None
    assert NameResolver(unknown).parameter_texts(body, 1) == (None,)
