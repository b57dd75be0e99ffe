"""Command versus data (issue 12 items 3, 5, 6): an SMS sink that sends a command's reply or a
C2-given text is not a channel for the data read; a forward of the message read is."""

from __future__ import annotations

from appaudit.analysis.replies import MAX_DEFINITIONS
from appaudit.ruleset import load_ruleset
from appaudit.ruleset.flows import ApiTarget
from conftest import report_json

F = "com.example.fixture."
SEND_TEXT = (
    "Landroid/telephony/SmsManager;->sendTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;"
    "Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V"
)


def _dc(name: str, dc: str) -> dict:
    return report_json(name)["data_classes"][dc]


def _steps(chain: dict) -> list[tuple[str, str, int]]:
    return [(s["class"].removeprefix(F), s["method"].split("(")[0], s["offset"]) for s in chain["steps"]]


def test_a_reply_to_the_sender_of_the_sms_read_is_no_channel() -> None:
    report = report_json("cmd_sms_reply")
    entry = report["data_classes"]["sms"]
    assert (report["verdict"], entry["level"], entry["chains"], entry["exfiltrated"]) == ("at_risk", "read", [], [])
    assert sorted(entry["rule_ids"]) == ["AA-SMS-001", "AA-SMS-004", "AA-SMS-005"]
    assert [r["reason"] for r in entry["incoming_sms"]] == ["not_followed"]


def test_a_forward_of_the_sms_read_is_an_sms_channel() -> None:
    report = report_json("cmd_sms_forward")
    entry = report["data_classes"]["sms"]
    (chain,) = entry["chains"]
    assert (report["verdict"], entry["level"], entry["exfiltrated"]) == ("harvests", "harvested", ["sms"])
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == (
        "sms",
        "confirmed",
        [("RelayReceiver", "onReceive", 68)],
    )
    assert (chain["sink"]["value"], chain["sink"]["offset"]) == (SEND_TEXT, 68)
    assert sorted(entry["rule_ids"]) == [
        "AA-SMS-001",
        "AA-SMS-004",
        "AA-SMS-005",
        "AA-SMS-010",
        "AA-SMS-011",
        "AA-SMS-012",
    ]


def test_a_tasks_number_is_followed_to_its_constructor_a_reply_to_the_sender_is_no_channel() -> None:
    report = report_json("cmd_task_reply")
    entry = report["data_classes"]["sms"]
    assert (report["verdict"], entry["level"], entry["chains"], entry["exfiltrated"]) == ("at_risk", "read", [], [])
    assert [r["reason"] for r in entry["incoming_sms"]] == ["not_followed"]


def test_a_task_given_a_fixed_number_forwards_the_sms() -> None:
    report = report_json("cmd_task_forward")
    entry = report["data_classes"]["sms"]
    (chain,) = entry["chains"]
    assert (report["verdict"], entry["level"], entry["exfiltrated"]) == ("harvests", "harvested", ["sms"])
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == (
        "sms",
        "confirmed",
        [("TaskReceiver", "onReceive", 66), ("Reply", "run", 22)],
    )
    assert (chain["sink"]["value"], chain["sink"]["offset"]) == (SEND_TEXT, 22)
    assert [r["reason"] for r in entry["incoming_sms"]] == ["passed_on"]


def test_a_c2_send_sms_command_beside_an_upload_leaves_by_the_network_only() -> None:
    report = report_json("cmd_c2_send")
    entry = report["data_classes"]["contacts"]
    (chain,) = entry["chains"]
    assert (report["verdict"], entry["level"], entry["exfiltrated"]) == ("harvests", "harvested", ["network"])
    assert (chain["channel"], chain["dataflow"], _steps(chain)) == (
        "network",
        "confirmed",
        [("Harvester", "run", 90), ("C2", "post", 0), ("Uploader", "upload", 44)],
    )
    assert chain["sink"]["value"] == "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"
    assert not [f for f in report["findings"] if f["rule_id"] == "AA-CON-020"]


def test_an_unrelated_sms_in_the_reads_try_block_is_no_channel() -> None:
    report = report_json("cmd_try_unrelated")
    entry = report["data_classes"]["contacts"]
    assert (report["verdict"], entry["level"], entry["bulk"]) == ("at_risk", "bulk", True)
    assert (entry["chains"], entry["exfiltrated"]) == ([], [])
    assert sorted(entry["rule_ids"]) == ["AA-CON-001", "AA-CON-002", "AA-CON-012", "AA-CON-013"]


def test_sms_sinks_name_their_destination_and_the_reply_lists_load() -> None:
    flows = load_ruleset().flows
    sms = dict(flows.sinks)[next(c for c, _ in flows.sinks if c.value == "sms")]
    assert {(t.class_desc, t.names, t.data_args, t.to_args) for t in sms} == {
        ("Landroid/telephony/SmsManager;", ("sendTextMessage", "sendMultipartTextMessage"), (2,), (0,)),
        ("Landroid/telephony/SmsManager;", ("sendDataMessage",), (3,), (0,)),
        ("Landroid/telephony/gsm/SmsManager;", ("sendTextMessage", "sendMultipartTextMessage"), (2,), (0,)),
        ("Landroid/telephony/gsm/SmsManager;", ("sendDataMessage",), (3,), (0,)),
        ("Lanywheresoftware/b4a/phone/Phone$PhoneSms;", ("Send", "Send2"), (1,), (0,)),
    }
    assert flows.replies.senders == (
        ApiTarget(
            class_desc="Landroid/telephony/SmsMessage;", names=("getOriginatingAddress", "getDisplayOriginatingAddress")
        ),
        ApiTarget(
            class_desc="Landroid/telephony/gsm/SmsMessage;",
            names=("getOriginatingAddress", "getDisplayOriginatingAddress"),
        ),
    )
    assert [t.class_desc for t in flows.replies.passes] == [
        "Landroid/telephony/SmsManager;",
        "Landroid/telephony/gsm/SmsManager;",
    ]
    assert MAX_DEFINITIONS == 40
