"""Data flow along harvest chains (appaudit.analysis.taint and ChainFinder.follow_data)."""

from __future__ import annotations

import pytest

from appaudit.analysis.taint import Seeds, analyse
from appaudit.apk.dex.opcodes import LENGTHS, OPCODES
from appaudit.apk.dex.types import Insn, MethodCode
from conftest import report_json

CURSOR = "Landroid/database/Cursor;->getString(I)Ljava/lang/String;"
QUERY = "Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;"  # noqa: E501
POST = "Lcom/x/Net;->post(Ljava/lang/String;)V"
#: Opcode byte of each mnemonic, for building instructions by name.
OPCODE = {name: op for op, (name, _fmt, _kind) in enumerate(OPCODES)}


def method(*insns: tuple, registers: int = 8, ins: int = 1, static: bool = True) -> MethodCode:  # type: ignore[type-arg]
    """A method from (offset, op, regs[, ref[, target]]) tuples."""
    body = []
    for item in insns:
        off, op, regs, *rest = item
        ref = rest[0] if rest else None
        target = rest[1] if len(rest) > 1 else None
        kind = "method" if op.startswith("invoke") else ("field" if ref and ":" in ref else "")
        code = OPCODE[op]
        size = LENGTHS[code]
        body.append(Insn(offset=off, op=op, opcode=code, length=size, regs=regs, ref=ref, ref_kind=kind, target=target))
    return MethodCode(
        class_name="com.x.A",
        method="m()V",
        dex="classes.dex",
        registers_size=registers,
        ins_size=ins,
        is_static=static,
        param_types=(),
        insns=tuple(body),
    )


def read_then(*rest: tuple) -> MethodCode:  # type: ignore[type-arg]
    """v1 = resolver.query(...) at offset 0 (the read), v2 = v1.getString(0), then ``rest``."""
    return method(
        (0, "invoke-virtual/range", (0, 3, 4, 5, 6, 7), QUERY),
        (6, "move-result-object", (1,)),
        (8, "invoke-interface", (1, 3), CURSOR),
        (14, "move-result-object", (2,)),
        *rest,
    )


def seeded(body: MethodCode):  # type: ignore[no-untyped-def]
    return analyse(body, Seeds(sites={0: (True, frozenset())}))


def test_value_read_reaches_a_call_and_the_return() -> None:
    flow = seeded(read_then((16, "invoke-static", (2,), POST), (22, "return-object", (2,))))
    assert flow.calls[16] == frozenset({0})
    assert flow.returns


def test_an_overwritten_register_is_clean_again() -> None:
    flow = seeded(
        read_then(
            (16, "const-string", (2,), "ping"),
            (20, "invoke-static", (2,), POST),
            (26, "return-object", (2,)),
        )
    )
    assert 20 not in flow.calls and not flow.returns


def test_builder_receiver_carries_taint_to_its_result() -> None:
    sb_append = "Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;"
    flow = seeded(
        read_then(
            (16, "new-instance", (3,), "Ljava/lang/StringBuilder;"),
            (20, "invoke-virtual", (3, 2), sb_append),
            (26, "invoke-virtual", (3,), "Ljava/lang/StringBuilder;->toString()Ljava/lang/String;"),
            (32, "move-result-object", (4,)),
            (34, "invoke-static", (4,), POST),
        )
    )
    assert flow.calls[34] == frozenset({0})
    assert flow.objects == frozenset({16})  # the builder made at +16 holds the data


def test_object_filled_after_it_was_put_in_a_container_taints_the_container() -> None:
    # JSONArray a = new JSONArray(); JSONObject o = new JSONObject(); a.put(o); o.put("k", v2); post(a.toString())
    flow = seeded(
        read_then(
            (16, "new-instance", (3,), "Lorg/json/JSONArray;"),
            (20, "new-instance", (4,), "Lorg/json/JSONObject;"),
            (24, "invoke-virtual", (3, 4), "Lorg/json/JSONArray;->put(Ljava/lang/Object;)Lorg/json/JSONArray;"),
            (30, "const-string", (5,), "k"),
            (
                34,
                "invoke-virtual",
                (4, 5, 2),
                "Lorg/json/JSONObject;->put(Ljava/lang/String;Ljava/lang/Object;)Lorg/json/JSONObject;",
            ),
            (40, "invoke-virtual", (3,), "Lorg/json/JSONArray;->toString()Ljava/lang/String;"),
            (46, "move-result-object", (6,)),
            (48, "invoke-static", (6,), POST),
        )
    )
    assert flow.calls[48] == frozenset({0})


def test_fields_written_and_loaded_containers_are_tainted() -> None:
    rows = "Lcom/x/A;->rows:Ljava/util/List;"
    flow = seeded(
        read_then(
            (16, "sget-object", (3,), rows),
            (20, "invoke-interface", (3, 2), "Ljava/util/List;->add(Ljava/lang/Object;)Z"),
            (26, "iput-object", (2, 0), "Lcom/x/A;->last:Ljava/lang/String;"),
        )
    )
    assert flow.fields == frozenset({rows, "Lcom/x/A;->last:Ljava/lang/String;"})
    later = analyse(method((0, "sget-object", (1,), rows), (4, "invoke-static", (1,), POST)), Seeds(), flow.fields)
    assert later.calls[4] == frozenset({0})


def test_loop_back_edges_reach_a_fixpoint() -> None:
    # v5 = "" ; loop: v5 = concat(v5, v2) ; goto loop (exit at +16 when v6 == 0) ; post(v5) after the loop
    concat = "Ljava/lang/String;->concat(Ljava/lang/String;)Ljava/lang/String;"
    flow = seeded(
        read_then(
            (16, "const-string", (5,), ""),
            (20, "if-eqz", (6,), None, 36),
            (24, "invoke-virtual", (5, 2), concat),
            (30, "move-result-object", (5,)),
            (32, "goto", (), None, 20),
            (36, "invoke-static", (5,), POST),
        )
    )
    assert flow.calls[36] == frozenset({0})


def test_parameters_seed_the_callee_and_filled_arguments_flow_back() -> None:
    add = "Ljava/util/List;->add(Ljava/lang/Object;)Z"
    callee = method(
        (0, "invoke-interface", (1, 0), add), (6, "return-void", ()), registers=2, ins=2, static=True
    )  # static void fill(String s, List out) { out.add(s); }
    flow = analyse(callee, Seeds(params=frozenset({0})))
    assert flow.params_out == frozenset({1})


# ------------------------------------------------------------------- fixtures
CHAINED = [
    ("contacts_const", "contacts"),
    ("chain_helper_class", "contacts"),
    ("chain_runnable", "sms"),
    ("chain_service", "contacts"),
    ("chain_async_helper", "contacts"),
    ("retrofit_post", "contacts"),
    ("sink_sms_body", "contacts"),
    ("sms_receiver", "sms"),
    ("uri_helper", "call_log"),
    ("multidex_split_chain", "sms"),
]


@pytest.mark.parametrize(("fixture", "data_class"), CHAINED)
def test_every_fixture_upload_is_confirmed(fixture: str, data_class: str) -> None:
    chains = report_json(fixture)["data_classes"][data_class]["chains"]
    assert chains and {c["dataflow"] for c in chains} == {"confirmed"}


def test_a_single_read_linked_to_an_unrelated_upload_is_not_exfiltration() -> None:
    doc = report_json("chain_unrelated_upload")
    sms = doc["data_classes"]["sms"]
    (chain,) = sms["chains"]
    assert chain["dataflow"] == "unconfirmed"
    assert [s["method"].split("(")[0] for s in chain["steps"]] == ["latest", "onCreate", "upload"]
    assert sms["bulk"] is False
    assert sms["exfiltrated"] == []
    assert sms["level"] == "read"
    assert doc["verdict"] == "at_risk"
    # No finding says the SMS leaves the device: the harvest rules count the same chains as the level.
    assert sorted(f["rule_id"] for f in doc["findings"]) == ["AA-SMS-001", "AA-SMS-003", "AA-SMS-013"]


def test_a_giant_method_is_not_analysed() -> None:
    from appaudit.analysis.taint import MAX_INSNS

    filler = [(16 + 2 * k, "nop", ()) for k in range(MAX_INSNS)]
    flow = seeded(read_then(*filler, (16 + 2 * MAX_INSNS, "invoke-static", (2,), POST)))
    assert not flow.tainted and flow.calls == {}
