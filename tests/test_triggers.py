"""Triggers, named: what makes each read run (fixtures ``trig_*``), the command-guard test, every format."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from appaudit.analysis.commands import CommandGuards
from appaudit.analysis.facts import ChainStep, StartupPath
from appaudit.api import scan
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.model import MethodId, Trigger
from appaudit.report import render
from appaudit.ruleset import load_ruleset
from conftest import fixture_apk, report_json

F = "com.example.fixture."
CTX = "(Landroid/content/Context;)Ljava/lang/String;"
QUERY = (
    "Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;"
    "[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;"
)
EQUALS = "Ljava/lang/String;->equals(Ljava/lang/Object;)Z"
STARTUP_RULES = {"AA-CON-013", "AA-SMS-013", "AA-CLG-013"}


def _triggers(name: str, dc: str) -> list[tuple[str, str | None, str, list[str], bool, str | None]]:
    """(trigger, origin, entry, steps as Cls.method+offset, asks first, guard as Cls.method+offset: call)."""
    out = []
    for p in report_json(name)["data_classes"][dc]["triggers"]:
        steps = [f"{s['class'].removeprefix(F)}.{s['method'].split('(')[0]}+{s['offset']}" for s in p["steps"]]
        g = p["guard"]
        guard = f"{g['class'].removeprefix(F)}.{g['method'].split('(')[0]}+{g['offset']}: {g['value']}" if g else None
        out.append((p["trigger"], p["origin"], p["entry"].removeprefix(F), steps, p["asks_permission_first"], guard))
    return out


def _startup(name: str, dc: str) -> tuple[bool, list[tuple[str, str]]]:
    d = report_json(name)["data_classes"][dc]
    return d["at_startup"], [(p["trigger"], p["entry"].removeprefix(F)) for p in d["startup_paths"]]


# ------------------------------------------------------------- the fixtures
def test_push_command_sms_dump_is_a_command_not_at_startup() -> None:
    assert _triggers("trig_push_command", "sms") == [
        (
            "command",
            None,
            "PushService.onMessageReceived",
            ["PushService.onMessageReceived+40", "Harvester.harvest+62"],
            False,
            f"PushService.onMessageReceived+28: {EQUALS}",
        )
    ]
    assert _startup("trig_push_command", "sms") == (False, [])
    read = report_json("trig_push_command")["data_classes"]["sms"]["triggers"][0]["read"]
    assert (read["class"], read["method"], read["offset"]) == (F + "Harvester", "harvest" + CTX, 62)
    assert read["value"] == QUERY


def test_read_in_permission_answer_asks_first() -> None:
    assert _triggers("trig_permission_result", "contacts") == [
        (
            "user_action",
            None,
            "MainActivity.onRequestPermissionsResult",
            ["MainActivity.onRequestPermissionsResult+0", "Harvester.harvest+54"],
            True,
            None,
        )
    ]
    assert _startup("trig_permission_result", "contacts") == (False, [])


def test_click_triggered_read_is_a_user_action() -> None:
    assert _triggers("trig_click", "contacts") == [
        (
            "user_action",
            None,
            "MainActivity$1.onClick",
            ["MainActivity$1.onClick+4", "Harvester.harvest+54"],
            False,
            None,
        )
    ]
    assert _startup("trig_click", "contacts") == (False, [])


def test_worker_enqueued_by_the_application_is_scheduled_by_startup() -> None:
    assert _triggers("trig_worker", "call_log") == [
        (
            "scheduled",
            "startup",
            "App.onCreate",
            ["App.onCreate+6", "UploadWorker.doWork+8", "Harvester.harvest+54"],
            False,
            None,
        )
    ]
    # start-up paths keep their shape: the scheduled read is named by what scheduled it
    assert _startup("trig_worker", "call_log") == (True, [("startup", "App.onCreate")])


def test_content_observer_read_is_an_event() -> None:
    assert _triggers("trig_observer", "sms") == [
        ("event", None, "SmsObserver.onChange", ["SmsObserver.onChange+4", "Harvester.harvest+62"], False, None),
        # registering the observer is the provider access that makes the later reads run: an event too
        ("event", None, "MainActivity.onCreate", ["MainActivity.onCreate+48"], False, None),
    ]
    assert _startup("trig_observer", "sms") == (False, [("event", "SmsObserver.onChange")])


def test_earlier_fixtures_keep_their_start_up_triggers() -> None:
    assert _triggers("startup_harvest", "contacts") == [
        ("startup", None, "App.onCreate", ["App.onCreate+6", "Harvester.harvest+54"], False, None)
    ]
    assert _triggers("startup_asks_first", "contacts") == [
        ("startup", None, "MainActivity.onCreate", ["MainActivity.onCreate+30", "Harvester.harvest+54"], True, None)
    ]
    assert [t[:3] for t in _triggers("sms_receiver", "sms")] == [("event", None, "SmsReceiver.onReceive")]


def test_start_up_rule_follows_the_trigger() -> None:
    def startup_findings(name: str) -> list[tuple[str, list[str]]]:
        found = report_json(name)["findings"]
        return [(f["rule_id"], [e["value"] for e in f["evidence"]]) for f in found if f["rule_id"] in STARTUP_RULES]

    assert startup_findings("trig_push_command") == []
    assert startup_findings("trig_observer") == []
    assert startup_findings("trig_click") == []
    # the worker's read runs at start-up: the rule's evidence is the entry of what scheduled it
    assert startup_findings("trig_worker") == [("AA-CLG-013", ["startup: com.example.fixture.App.onCreate"])]


def test_trigger_property_at_startup() -> None:
    def path(trigger: Trigger, origin: Trigger | None = None) -> StartupPath:
        return StartupPath(data_class="sms", trigger=trigger, entry="x", steps=(), origin=origin)

    assert {t.value: path(t).at_startup for t in Trigger} == {
        "startup": True,
        "boot": True,
        "event": False,
        "user_action": False,
        "scheduled": False,  # with no origin found
        "command": False,
    }
    assert path(Trigger.SCHEDULED, Trigger.BOOT).at_startup
    assert not path(Trigger.SCHEDULED, Trigger.COMMAND).at_startup
    assert not path(Trigger.SCHEDULED).at_startup


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", "sms read runs on command: com.example.fixture.PushService.onMessageReceived →"),
        ("markdown", "1. **remote command**: `com.example.fixture.PushService.onMessageReceived`"),
        ("html", "<h4>What makes each read run (1)</h4>"),
    ],
)
def test_every_format_shows_the_trigger(fmt: str, expected: str) -> None:
    out = render(scan(fixture_apk("trig_push_command")), fmt).replace("<wbr>", "")  # HTML's break points
    assert expected in out
    if fmt != "text":
        assert "java.lang.String.equals() at com.example.fixture.PushService.onMessageReceived() +28" in out


def test_scheduled_trigger_names_its_origin_in_markdown() -> None:
    out = render(scan(fixture_apk("trig_worker")), "markdown")
    assert "1. **scheduled, by start-up**: `com.example.fixture.App.onCreate`" in out


# ------------------------------------------------------ the command guard
@dataclass
class _Graph:
    """A call graph of hand-made method bodies (what CommandGuards asks of one)."""

    bodies: dict[MethodId, MethodCode]
    supers: dict[str, tuple[str, ...]]

    def body(self, node: MethodId) -> MethodCode | None:
        return self.bodies.get(node)

    def ancestors(self, cls: str) -> tuple[str, ...]:
        return self.supers.get(cls, ())


def _insn(offset: int, op: str, regs: tuple[int, ...], ref: str | None = None) -> Insn:
    return Insn(offset=offset, op=op, opcode=0, length=2, regs=regs, ref=ref, ref_kind="method" if ref else "")


def _method(cls: str, name: str, params: tuple[str, ...], insns: list[Insn], registers: int = 6) -> MethodCode:
    ins = 1 + len(params)
    return MethodCode(
        class_name=cls,
        method=f"{name}({''.join(params)})V",
        dex="classes.dex",
        registers_size=registers,
        ins_size=ins,
        is_static=False,
        param_types=params,
        insns=tuple(insns),
    )


def _guard(
    methods: list[MethodCode], offsets: list[int], supers: dict[str, tuple[str, ...]] | None = None
) -> tuple[str | None, int | None, str] | None:
    """The guard :class:`CommandGuards` finds on the path of ``methods`` (root first) at ``offsets``."""
    ids = [MethodId(class_name=m.class_name, method=m.method) for m in methods]
    steps = [ChainStep.at(node, o) for node, o in zip(ids, offsets, strict=True)]
    graph = _Graph(dict(zip(ids, methods, strict=True)), supers or {})
    found = CommandGuards(graph, load_ruleset().flows).guard(steps)  # type: ignore[arg-type]
    return None if found is None else (found.class_name, found.offset, found.value)


SMS_BODY = _insn(0, "invoke-virtual", (2,), "Landroid/telephony/SmsMessage;->getMessageBody()Ljava/lang/String;")
ACTION = _insn(0, "invoke-virtual", (2,), "Landroid/content/Intent;->getAction()Ljava/lang/String;")


def _compare_then_call(first: Insn) -> list[Insn]:
    """``first`` puts a string in v0; it is compared with a constant; then the call leading on (+20)."""
    return [
        first,
        _insn(6, "move-result-object", (0,)),
        _insn(8, "const-string", (1,), None),
        _insn(12, "invoke-virtual", (1, 0), EQUALS),
        _insn(18, "move-result", (1,)),
        _insn(20, "invoke-static", (0,), "Lx/Reader;->read(Ljava/lang/String;)V"),
    ]


def test_sms_body_compare_is_a_command_guard() -> None:
    m = _method("x.R", "onReceive", (), _compare_then_call(SMS_BODY))
    assert _guard([m], [20]) == ("x.R", 12, EQUALS)


def test_intent_action_compare_is_no_command_guard() -> None:
    m = _method("x.R", "onReceive", (), _compare_then_call(ACTION))
    assert _guard([m], [20]) is None


def test_compare_after_the_call_is_no_guard() -> None:
    m = _method("x.R", "onReceive", (), _compare_then_call(SMS_BODY))
    assert _guard([m], [10]) is None


def test_parameter_passed_a_socket_line_by_the_caller_is_a_guard() -> None:
    # loop(): line = reader.readLine(); dispatch(line)  ->  dispatch(String cmd): if (cmd.equals(..)) read()
    caller = _method(
        "x.Loop",
        "loop",
        (),
        [
            _insn(0, "invoke-virtual", (2,), "Ljava/io/BufferedReader;->readLine()Ljava/lang/String;"),
            _insn(6, "move-result-object", (0,)),
            _insn(8, "invoke-virtual", (5, 0), "Lx/Dispatch;->dispatch(Ljava/lang/String;)V"),
        ],
    )
    dispatch = _method(
        "x.Dispatch",
        "dispatch",
        ("Ljava/lang/String;",),
        [
            _insn(0, "const-string", (1,)),
            _insn(4, "invoke-virtual", (5, 1), EQUALS),  # p1 == v5 (6 registers, 2 ins)
            _insn(10, "move-result", (1,)),
            _insn(12, "invoke-static", (), "Lx/Reader;->read()V"),
        ],
    )
    assert _guard([caller, dispatch], [8, 12]) == ("x.Dispatch", 4, EQUALS)
    # the same dispatcher reached from a root that is no message handler, with nothing received: no guard
    assert _guard([dispatch], [12]) is None
    # ... and as a push handler's own parameter it is a received message
    push = "com.google.firebase.messaging.FirebaseMessagingService"
    handler = _method("x.Push", "onMessageReceived", ("Ljava/lang/String;",), list(dispatch.insns))
    assert _guard([handler], [12], {"x.Push": (push,)}) == ("x.Push", 4, EQUALS)


def test_socket_buffer_kept_in_a_field_is_a_guard() -> None:
    # in.read(this.buf); this.str = new String(this.buf); if (this.str.contains(..)) read()
    buf, text = "Lx/S;->buf:[B", "Lx/S;->str:Ljava/lang/String;"
    contains = "Ljava/lang/String;->contains(Ljava/lang/CharSequence;)Z"
    m = _method(
        "x.S",
        "run",
        (),
        [
            _insn(0, "iget-object", (1, 5), buf),
            _insn(4, "invoke-virtual", (2, 1), "Ljava/io/DataInputStream;->read([B)I"),
            _insn(10, "new-instance", (0,), "Ljava/lang/String;"),
            _insn(14, "iget-object", (1, 5), buf),
            _insn(18, "invoke-direct", (0, 1), "Ljava/lang/String;-><init>([B)V"),
            _insn(24, "iput-object", (0, 5), text),
            _insn(28, "iget-object", (3, 5), text),
            _insn(32, "const-string", (4,)),
            _insn(36, "invoke-virtual", (3, 4), contains),
            _insn(42, "move-result", (3,)),
            _insn(44, "invoke-static", (), "Lx/Reader;->read()V"),
        ],
    )
    assert _guard([m], [44]) == ("x.S", 36, contains)
