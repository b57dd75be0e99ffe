"""The one view model the human-readable formats render from, and its one implementation of each short form."""

from __future__ import annotations

import ast
from pathlib import Path

from appaudit.api import scan
from appaudit.model import Evidence
from appaudit.report.common import method_text, short_value, site, trigger_label
from appaudit.report.view_build import build
from conftest import fixture_apk

REPORT = Path(__file__).resolve().parent.parent / "src" / "appaudit" / "report"


def test_short_value_every_kind() -> None:
    invoke = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
    assert short_value("invoke", invoke) == "java.net.HttpURLConnection.getOutputStream()"
    assert short_value("sget", "Landroid/provider/CallLog$Calls;->CONTENT_URI:Landroid/net/Uri;") == (
        "android.provider.CallLog$Calls.CONTENT_URI"
    )
    assert short_value("const-string", "content://sms") == '"content://sms"'
    assert short_value("sink", invoke, "network") == "network: java.net.HttpURLConnection.getOutputStream()"
    assert short_value("permission", "android.permission.READ_SMS") == "android.permission.READ_SMS"
    # every smali descriptor becomes a Java name: the text report never mixes the two notations
    assert short_value("sput", "Lcom/a/B;->uri:Landroid/net/Uri;") == "com.a.B.uri"
    assert short_value("new-instance", "Landroid/content/ContentValues;") == "android.content.ContentValues"
    assert short_value("const-class", "Lcom/a/B$C;") == "com.a.B$C"


def test_method_text_and_site() -> None:
    assert method_text("com.a.B", "run(I)V", 12) == "com.a.B.run() +12"
    assert method_text("com.a.B", "run(I)V") == "com.a.B.run()"
    assert method_text("com.a.B", "run(I)V", 12, compact=True) == "B.run"
    code = Evidence(kind="invoke", value="x", dex="classes.dex", class_name="com.a.B", method="run()V", offset=4)
    assert site(code) == "com.a.B.run() +4"
    assert site(Evidence(kind="permission", value="android.permission.READ_SMS")) == "android.permission.READ_SMS"


def test_trigger_label_and_the_terminal_term() -> None:
    assert (trigger_label("startup", "en"), trigger_label("startup", "zh")) == ("start-up", "启动")
    assert trigger_label("unheard-of", "zh") == "unheard-of"
    report = scan(fixture_apk("contacts_const"))
    en, zh = build(report, "en"), build(report, "zh")
    (path_en,) = next(cv for cv in en.classes if cv.name == "contacts").startup_paths
    (path_zh,) = next(cv for cv in zh.classes if cv.name == "contacts").startup_paths
    assert (path_en.trigger_label, path_en.trigger_term) == ("start-up", "startup")
    assert (path_zh.trigger_label, path_zh.trigger_term) == ("启动", "启动")


def test_renderers_read_only_the_view() -> None:
    """text, HTML and Markdown take their wording from view_build, never from the model's objects directly."""
    for name in ("text.py", "html.py", "markdown.py"):
        tree = ast.parse((REPORT / name).read_text())
        imported: dict[str, set[str]] = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module:
                imported.setdefault(n.module, set()).update(a.name for a in n.names)
        model = imported.get("appaudit.model", set()) | imported.get("appaudit.report.model", set())
        assert model <= {"Report", "Severity", "Verdict"}, name
        common = imported.get("appaudit.report.common", set())
        assert common <= {"NEIGHBOUR_HEADERS", "SHOWN_CHAINS", "SHOWN_EVIDENCE", "join", "fill_message"}, name
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "build" in calls, name


def test_trigger_lines_in_chinese() -> None:
    from appaudit.report.common import trigger_text

    lines = {
        "contacts: code reads it": "通讯录：代码读取该数据",
        "contacts: code reads all of it": "通讯录：代码读取全部数据",
        "sms: read at start-up without user action": "短信：启动时无需用户操作即读取",
        "call_log: sent off the device by network, sms": "通话记录：经网络、短信发送出设备",
        "contacts: declares android.permission.READ_CONTACTS": "通讯录：声明了 android.permission.READ_CONTACTS",
        "contacts: declaration contradicted (AA-D-1, AA-D-2)": "通讯录：与声明矛盾（AA-D-1、AA-D-2）",
    }
    assert {line: trigger_text(line, "zh") for line in lines} == lines
    # English keeps the JSON's line; a reason this table does not know is shown as it is
    assert trigger_text("contacts: code reads it", "en") == "contacts: code reads it"
    assert trigger_text("contacts: something new", "zh") == "contacts: something new"


def test_text_hanging_indent() -> None:
    import io

    from rich.console import Console

    from appaudit.report.text import Hanging

    console = Console(width=30, file=io.StringIO(), no_color=True)
    lines = lambda h: [line.plain.rstrip() for line in h.lines(console)]  # noqa: E731
    assert lines(Hanging("alpha beta gamma delta epsilon zeta eta theta", rest=4)) == [
        "alpha beta gamma delta epsilon",
        "    zeta eta theta",
    ]
    # a word longer than the line is folded, its continuation indented too; a newline starts an indented line
    assert lines(Hanging("x" * 40, rest=4)) == ["x" * 30, "    " + "x" * 10]
    assert lines(Hanging("one\ntwo", first=2, rest=4)) == ["  one", "    two"]
