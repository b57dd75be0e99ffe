"""Coverage reasons computed in code: native methods with native libraries."""

from __future__ import annotations

from dataclasses import replace

from appaudit.analysis.coverage import native_code_reasons
from conftest import fixture_apk


class _Natives:
    def __init__(self, methods: list[tuple[str, str]]) -> None:
        self.methods = methods

    def native_methods(self) -> list[tuple[str, str]]:
        return self.methods


def _app(entries: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from appaudit.apk import load_apk

    return replace(load_apk(fixture_apk("benign")).app, zip_entries=entries)


def test_native_methods_with_libraries_are_partial_coverage() -> None:
    code = _Natives([("com.example.fixture.Crypto", "decrypt([B)[B"), ("com.vendor.sdk.Native", "x()V")])
    (reason,) = native_code_reasons(_app(("lib/arm64-v8a/libcore.so",)), code, ["com.vendor.sdk"])  # type: ignore[arg-type]
    assert reason.code == "native_code"
    assert reason.detail == (
        "1 native methods in the app's own classes run code from native libraries (libcore.so), "
        "which is not analysed: com.example.fixture.Crypto.decrypt"
    )


def test_no_reason_without_libraries_or_own_native_methods() -> None:
    code = _Natives([("com.vendor.sdk.Native", "x()V")])
    assert native_code_reasons(_app(("lib/arm64-v8a/libcore.so",)), code, ["com.vendor.sdk"]) == []  # type: ignore[arg-type]
    assert native_code_reasons(_app(()), _Natives([("a.B", "c()V")]), []) == []  # type: ignore[arg-type]
