"""Store names carried by keys (analysis/store_keys.py, store_values.py): a file's path read from a
preference, handed on in Intent extras, kept in a field read and written through synthetic accessors,
and the shared symbol (``extra:K``, ``pref:K``) that links two sites whose names come from one key."""

from __future__ import annotations

import pytest

from appaudit.analysis.facts import StoreHop
from appaudit.analysis.store_keys import accessor_field
from appaudit.analysis.store_values import NameResolver
from appaudit.api import scan
from appaudit.apk import load_apk
from appaudit.apk.dex.types import CodeIndex, MethodCode
from appaudit.report import render
from appaudit.report.view_build import _via
from appaudit.ruleset import load_ruleset
from appaudit.ruleset.flows import StoreSpec
from conftest import contacts_chains, fixture_apk, report_json

F = "com.example.fixture."
_APPEND = "append(Ljava/lang/String;Ljava/lang/String;)V"
_UPLOAD = "upload(Ljava/lang/String;)V"
_FILE_WRITER = "Ljava/io/FileWriter;-><init>"
_REQUEST_BODY = "Lokhttp3/RequestBody;->create"


def _specs() -> dict[str, StoreSpec]:
    return {s.kind: s for s in load_ruleset().flows.stores}


def _site(code: CodeIndex, cls: str, method: str, ref: str) -> tuple[MethodCode, int]:
    body = code.method_code(F + cls, method)
    assert body is not None
    return body, next(i.offset for i in body.insns if (i.ref or "").startswith(ref))


def test_file_named_by_a_preference_handed_on_in_extras_is_a_named_hop() -> None:
    # the rows go by the extra "rows" to AppendService$1.run, appended to the file whose path came in
    # the extra "append_to" (kept through access$002 / access$000); the uploader's file comes from
    # "sync_file" <- "upload_file" <- the same field: both names carry the symbol extra:append_to
    assert contacts_chains("pref_ext_file") == [
        (
            "network",
            "confirmed",
            [
                ("Harvester.harvest", 54),
                ("FetchService.onStartCommand", 26),
                ("AppendService$1.run", 54),
                ("AppendService.append", 22),
                ("UploadService.upload", 78),
            ],
            "Lokhttp3/OkHttpClient;->newCall(Lokhttp3/Request;)Lokhttp3/Call;",
            [
                {"kind": "intent_extra", "name": "rows", "matched_by": "name"},
                {"kind": "file", "name": "extra:append_to", "matched_by": "name"},
            ],
        )
    ]
    report = report_json("pref_ext_file")
    entry = report["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"], report["verdict"]) == ("harvested", ["network"], "harvests")


@pytest.mark.parametrize("variant", ["pref_ext_other", "pref_ext_local"])
def test_staging_without_a_shared_name_or_an_upload_stays_on_the_device(variant: str) -> None:
    # pref_ext_other: the uploader's file is the preference "report_path" (no name shared, and both
    # sides have one, so no hop by kind either); pref_ext_local: nothing uploads the staged file
    report = report_json(variant)
    entry = report["data_classes"]["contacts"]
    assert (entry["chains"], entry["bulk"], entry["level"], entry["exfiltrated"], report["verdict"]) == (
        [],
        True,
        "bulk",
        [],
        "at_risk",
    )


@pytest.mark.parametrize(
    ("variant", "cls", "method", "ref", "names"),
    [
        # values first (the preference's symbol: nobody writes it with a value known), then the extra's
        ("pref_ext_file", "AppendService", _APPEND, _FILE_WRITER, ("pref:stage_path", "extra:append_to")),
        # sync_file <- upload_file <- the field set from append_to <- the preference; split elements keep them
        (
            "pref_ext_file",
            "UploadService",
            _UPLOAD,
            _REQUEST_BODY,
            ("pref:stage_path", "extra:append_to", "extra:upload_file", "extra:sync_file"),
        ),
        # the key is Prefs.get's parameter: resolved for this call site ("report_path"), not every caller's
        ("pref_ext_other", "UploadService", _UPLOAD, _REQUEST_BODY, ("pref:report_path",)),
    ],
)
def test_resolver_names_sites_by_the_keys_their_names_come_from(
    variant: str, cls: str, method: str, ref: str, names: tuple[str, ...]
) -> None:
    specs = _specs()
    code = load_apk(fixture_apk(variant)).code
    body, offset = _site(code, cls, method, ref)
    ins = next(i for i in body.insns if i.offset == offset)  # the File is the call's second register
    assert NameResolver(code, keyed=specs).names(specs["file"], body, offset, ins.regs[1]) == names
    # without the keyed stores (a provider URI's resolution) nothing is read under a key: unresolved
    assert NameResolver(code).names(specs["file"], body, offset, ins.regs[1]) == ()


def test_accessor_shapes_are_recognised_and_other_methods_are_not() -> None:
    code = load_apk(fixture_apk("pref_ext_file")).code
    field = "Lcom/example/fixture/AppendService;->file:Ljava/lang/String;"
    outer = "(Lcom/example/fixture/AppendService;"
    shapes = {}
    for method in (f"access$000{outer})Ljava/lang/String;", f"access$002{outer}Ljava/lang/String;)Ljava/lang/String;"):
        body = code.method_code(F + "AppendService", method)
        assert body is not None
        shapes[method.split("(")[0]] = accessor_field(body)
    assert shapes == {"access$000": ("get", field, -1), "access$002": ("set", field, 1)}
    for cls, method in (
        ("AppendService", _APPEND),
        ("Prefs", "get(Landroid/content/SharedPreferences;Ljava/lang/String;)Ljava/lang/String;"),
    ):
        body = code.method_code(F + cls, method)
        assert body is not None and accessor_field(body) is None


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_hop_named_by_a_key_is_shown_so_in_every_format(fmt: str) -> None:
    out = render(scan(fixture_apk("pref_ext_file")), fmt)
    assert "file named by Intent extra append_to" in out


def test_hop_names_of_each_symbol_are_translated() -> None:
    def via(name: str, lang: str) -> str:
        return _via(StoreHop(kind="file", name=name, matched_by="name"), lang)

    assert via("pref:stage_path", "en") == "via storage: file named by preference stage_path"
    assert via("extra:append_to", "en") == "via storage: file named by Intent extra append_to"
    assert via("contacts.txt", "en") == "via storage: file contacts.txt"
    assert via("pref:stage_path", "zh") == "经本地存储：由偏好设置 stage_path 命名的文件"
