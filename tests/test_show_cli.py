"""``appaudit show``: exact output for classes and methods in every accepted naming, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import fixture_apk, report_json, run_cli, run_process

APK = fixture_apk("contacts_debuginfo")
H = "com.example.fixture.Harvester"
HARVEST = "harvest(Landroid/content/Context;)Ljava/lang/String;"
PHONE = "Landroid/provider/ContactsContract$CommonDataKinds$Phone;->CONTENT_URI:Landroid/net/Uri;"
AROUND = (
    f"{H}.{HARVEST}\n"
    "classes.dex; source Harvester.java:23\n"
    f"          .method public static {HARVEST}\n"
    "              .registers 9\n"
    '              .param p0, "ctx"    # Landroid/content/Context;\n'
    "              ...\n"
    "  +0x10       move-result-object v0\n"
    "              .line 23\n"
    f"> +0x12       sget-object v1, {PHONE}\n"
    "              .line 24\n"
    "  +0x16       const/4 v2, 0x2\n"
    "              ...\n"
)


def test_class_lists_its_methods(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", APK, H], capsys)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        f"{H}  (classes.dex; extends java.lang.Object; source Harvester.java)\n"
        f"  public static {HARVEST}  (148 bytes, lines 21-32)\n"
        "  static label(IJ)Ljava/lang/String;  (304 bytes, lines 7-52)\n"
    )
    res = run_cli(["show", APK, "Lcom/example/fixture/MainActivity;"], capsys)
    assert res.out == (
        "com.example.fixture.MainActivity  (classes.dex; extends android.app.Activity; source MainActivity.java)\n"
        "  public constructor <init>()V  (8 bytes, line 9)\n"
        "  protected onCreate(Landroid/os/Bundle;)V  (22 bytes, lines 13-16)\n"
    )


@pytest.mark.parametrize(
    "names",
    [
        [f"{H}.{HARVEST}"],  # class + "." + method, as the JSON report's fields
        [f"{H}.harvest"],  # without the prototype: the only method of that name
        [H, HARVEST],  # class and method given apart
        [f"Lcom/example/fixture/Harvester;->{HARVEST}"],  # smali
        ["Lcom/example/fixture/Harvester;->harvest"],
    ],
)
def test_method_around_an_offset(names: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", APK, *names, "--around", "0x12", "--context", "1"], capsys)
    assert (res.code, res.out, res.err) == (0, AROUND, "")


def test_every_report_location_opens() -> None:
    """The JSON report's class, method and offset, pasted as they are, open the read site."""
    (finding,) = [f for f in report_json("contacts_debuginfo")["findings"] if f["rule_id"] == "AA-CON-002"]
    (ev,) = finding["evidence"]
    done = run_process(["show", APK, ev["class"], ev["method"], "--around", str(ev["offset"]), "--context", "1"])
    assert (done.returncode, done.stdout, done.stderr) == (0, AROUND, "")


def test_whole_method(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", APK, "com.example.fixture.MainActivity.onCreate"], capsys)
    assert res.code == 0
    assert res.out == (
        "com.example.fixture.MainActivity.onCreate(Landroid/os/Bundle;)V\n"
        "classes.dex; source MainActivity.java, lines 13-16\n"
        "          .method protected onCreate(Landroid/os/Bundle;)V\n"
        "              .registers 3\n"
        '              .param p1, "b"    # Landroid/os/Bundle;\n'
        "              .line 13\n"
        "  +0x0        invoke-super {p0, p1}, Landroid/app/Activity;->onCreate(Landroid/os/Bundle;)V\n"
        "              .line 14\n"
        "              :try_start_3\n"
        "  +0x6        invoke-static {p0}, Lcom/example/fixture/Harvester;->harvest(Landroid/content/Context;)"
        "Ljava/lang/String;\n"
        "  +0xc        move-result-object v0\n"
        "  +0xe        invoke-static {v0}, Lcom/example/fixture/Uploader;->upload(Ljava/lang/String;)V\n"
        "              :try_end_a\n"
        "              .catch Ljava/io/IOException; {:try_start_3 .. :try_end_a} :catch_a\n"
        "              .line 16\n"
        "              :catch_a\n"
        "  +0x14       return-void\n"
        "          .end method\n"
    )


def test_stripped_build_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", fixture_apk("obfuscated_harvest"), "La/b/d;->a", "--around", "64", "--context", "0"], capsys)
    assert res.code == 0
    assert res.out == (
        "a.b.d.a(Ljava/lang/String;)V\n"
        "classes.dex; source unknown (no line numbers: stripped or obfuscated build)\n"
        "          .method public static a(Ljava/lang/String;)V\n"
        "              .registers 4\n"
        "              ...\n"
        "> +0x40       invoke-virtual {v1, v2}, Ljava/io/OutputStream;->write([B)V\n"
        "              ...\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["com.example.fixture.Harvestr"],
            "no class com.example.fixture.Harvestr in the app; close matches: com.example.fixture.Harvester, "
            "com.example.fixture.Uploader, com.example.fixture.MainActivity",
        ),
        (
            [f"{H}.harvst"],
            f"no method harvst in {H}; close matches: {HARVEST}",
        ),
        ([H, "harvest()V"], f"no method harvest()V in {H}; close matches: {HARVEST}"),
        (["Lcom/nothing/Here;->x"], "no class com.nothing.Here in the app"),
        ([H, "--around", "0"], f"--around needs a method, and {H} is a class"),
        (
            [f"{H}.harvest", "--around", "0x13"],
            f"+0x13 is not an instruction start in {H}.{HARVEST}; nearest: +0x12, +0x16",
        ),
    ],
)
def test_unknown_names_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", APK, *args], capsys)
    assert (res.code, res.out, res.err) == (2, "", f"appaudit: error: {APK}: {message}\n")


def test_bad_offset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["show", APK, f"{H}.harvest", "--around", "zz"], capsys)
    assert res.code == 2 and "is not a byte offset" in res.err


def test_bad_input_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.apk"
    res = run_cli(["show", str(missing), H], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {missing}: no such file\n")
    junk = tmp_path / "junk.apk"
    junk.write_bytes(b"not a zip")
    res = run_cli(["show", str(junk), H], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {junk}: not a zip archive (an APK is a zip file)\n")
