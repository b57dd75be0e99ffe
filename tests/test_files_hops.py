"""Storage hops whose names are passed between methods or kept in fields (analysis/store_values.py):
a file or table named by a caller's argument, a constructor-set or setter-set field, a path built on
external storage, and a file copied into another before it is uploaded."""

from __future__ import annotations

import pytest

from appaudit.analysis.store_values import NameResolver
from appaudit.analysis.stores import match_key
from appaudit.api import scan
from appaudit.apk import load_apk
from appaudit.model import MethodId
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import contacts_chains, fixture_apk, report_json

F = "com.example.fixture."
HARVEST = ("Harvester.harvest", 54)  # the Phone CONTENT_URI query
HTTP_SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"


def _file(name: str) -> dict[str, object]:
    return {"kind": "file", "name": name, "matched_by": "name"}


def test_file_named_by_the_callers_of_writer_and_uploader_is_a_named_hop() -> None:
    # Stager.append(data, path) writes FileWriter(path) (+12, path = MainActivity's "contacts.txt");
    # FileUpload.send(path) uploads new File(path), send called by UploadJob with "contacts.txt"
    assert contacts_chains("files_param_path") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 18), ("Stager.append", 12), ("FileUpload.send", 78)],
            "Lokhttp3/OkHttpClient;->newCall(Lokhttp3/Request;)Lokhttp3/Call;",
            [_file("contacts.txt")],
        )
    ]
    entry = report_json("files_param_path")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_file_names_from_callers_that_differ_are_no_hop() -> None:
    # the uploader is called with "photos.txt": both names resolve and differ, so no hop (and no
    # hop by kind alone either: that is only for a side whose name is not resolved)
    report = report_json("files_param_other")
    entry = report["data_classes"]["contacts"]
    assert (entry["chains"], entry["level"], entry["exfiltrated"], report["verdict"]) == ([], "bulk", [], "at_risk")


def test_table_named_by_a_constructor_set_field() -> None:
    # ContactsDb(ctx, table) sets this.table from its argument; save() inserts into it (+34), dump()
    # queries it (+24); both callers construct it with "contacts_cache"
    assert contacts_chains("files_table_field") == [
        (
            "network",
            "confirmed",
            [
                HARVEST,
                ("MainActivity.onCreate", 28),
                ("ContactsDb.save", 34),
                ("ContactsDb.dump", 24),
                ("UploadJob.onStartJob", 22),
                ("Uploader.upload", 44),
            ],
            HTTP_SINK,
            [{"kind": "sqlite", "name": "contacts_cache", "matched_by": "name"}],
        )
    ]


def test_file_copied_into_another_file_that_is_uploaded() -> None:
    # onCreate writes <external>/Android/contacts.txt (its field plain, set in the constructor) (+28);
    # FileCopy.copy(plain, packed) reads it and writes contacts.bin (+42: the write of the copy loop);
    # FileUploadThread.run reads <external>/Android/ + this.file, set by setFile("contacts.bin")
    hops = [_file("contacts.txt"), _file("contacts.bin")]
    path = [HARVEST, ("MainActivity.onCreate", 28), ("FileCopy.copy", 42)]
    assert contacts_chains("files_copy_upload") == [
        ("network", "confirmed", [*path, ("FileUploadThread.run", 102)], HTTP_SINK, hops),
        (
            "storage",
            "confirmed",
            [*path, ("FileUploadThread.run", 4)],
            "Landroid/os/Environment;->getExternalStorageDirectory()Ljava/io/File;",
            hops,
        ),
    ]


def test_file_named_by_a_field_read_through_a_synthetic_accessor() -> None:
    # Saver.run (the thread onCreate starts with the data) writes new File(getFilesDir(),
    # MainActivity.access$000(this$0)) (+48): the accessor returns the field cacheName, "contacts.txt"
    assert contacts_chains("files_accessor") == [
        (
            "network",
            "confirmed",
            [HARVEST, ("MainActivity.onCreate", 14), ("MainActivity$Saver.run", 48), ("UploadJob.onStartJob", 90)],
            "Lokhttp3/OkHttpClient;->newCall(Lokhttp3/Request;)Lokhttp3/Call;",
            [_file("contacts.txt")],
        )
    ]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_both_hops_of_a_copy_are_shown_in_every_format(fmt: str) -> None:
    out = render(scan(fixture_apk("files_copy_upload")), fmt)
    assert "contacts.txt" in out and "contacts.bin" in out


_COPY = "copy(Ljava/lang/String;Ljava/lang/String;)V"
_OPEN_IN = "Ljava/io/FileInputStream;-><init>(Ljava/lang/String;)V"
_OPEN_OUT = "Ljava/io/FileOutputStream;-><init>(Ljava/lang/String;)V"


@pytest.mark.parametrize(
    ("cls", "method", "ref", "path", "names"),
    [
        # every caller's value, in the order the callers are found (backup() comes first in the class)
        ("FileCopy", _COPY, _OPEN_IN, (), ("photos.txt", "contacts.txt")),
        ("FileCopy", _COPY, _OPEN_OUT, (), ("backup.bin", "contacts.bin")),
        # the data came from onCreate: only what onCreate passes
        ("FileCopy", _COPY, _OPEN_OUT, ("MainActivity", "onCreate(Landroid/os/Bundle;)V"), ("contacts.bin",)),
        # this.file, set by setFile from two callers; the path built on external storage ends in it
        ("FileUploadThread", "run()V", _OPEN_IN, (), ("backup.bin", "contacts.bin")),
    ],
)
def test_resolver_names_each_site_from_callers_and_fields(
    cls: str, method: str, ref: str, path: tuple[str, ...], names: tuple[str, ...]
) -> None:
    spec = next(s for s in load_ruleset().flows.stores if s.kind == "file")
    code = load_apk(fixture_apk("files_copy_upload")).code
    body = code.method_code(F + cls, method)
    assert body is not None
    ins = next(i for i in body.insns if i.ref == ref)
    on = frozenset({MethodId(class_name=F + path[0], method=path[1])} if path else ())
    assert NameResolver(code).names(spec, body, ins.offset, ins.regs[1], on) == names


def test_resolver_leaves_a_parameter_without_callers_unresolved() -> None:
    # Stager.append's only caller passes a constant; with no depth left, nothing is followed
    specs = {s.kind: s for s in load_ruleset().flows.stores}
    code = load_apk(fixture_apk("files_param_path")).code
    body = code.method_code(F + "Stager", "append(Ljava/lang/String;Ljava/lang/String;)V")
    assert body is not None
    ins = next(i for i in body.insns if (i.ref or "").startswith("Ljava/io/FileWriter;-><init>"))
    assert NameResolver(code).names(specs["file"], body, ins.offset, ins.regs[1]) == ("contacts.txt",)
    assert NameResolver(code, depth=0).names(specs["file"], body, ins.offset, ins.regs[1]) == ()


def test_file_names_match_without_case_other_names_with_it() -> None:
    assert match_key("file", "ContactMe_Encrypted.txt") == match_key("file", "contactme_encrypted.TXT")
    assert match_key("shared_prefs", "Contacts") != match_key("shared_prefs", "contacts")
    assert match_key("file", None) is None
