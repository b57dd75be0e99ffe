"""Register values inside one method (appaudit.analysis.registers.values_at), call by call."""

from __future__ import annotations

from appaudit.analysis.registers import Value, values_at
from appaudit.apk.dex.opcodes import LENGTHS, OPCODES
from appaudit.apk.dex.types import Insn, MethodCode

URI = "Landroid/net/Uri;"
BUILDER = "Landroid/net/Uri$Builder;"
SB = "Ljava/lang/StringBuilder;"
STRING = "Ljava/lang/String;"
#: Opcode byte of each mnemonic, for building instructions by name.
OPCODE = {name: op for op, (name, _fmt, _kind) in enumerate(OPCODES)}
APPENDED = f"{URI}->withAppendedPath(Landroid/net/Uri;Ljava/lang/String;)Landroid/net/Uri;"
QUERY_PARAM = f"{BUILDER}->appendQueryParameter(Ljava/lang/String;Ljava/lang/String;)Landroid/net/Uri$Builder;"
WITH_ID = "Landroid/content/ContentUris;->withAppendedId(Landroid/net/Uri;J)Landroid/net/Uri;"


def _insn(off: int, op: str, regs: tuple[int, ...], ref: str | None = None) -> Insn:
    kind = "method" if op.startswith("invoke") else ("string" if op.startswith("const-string") else "")
    code = OPCODE[op]
    return Insn(offset=off, op=op, opcode=code, length=LENGTHS[code], regs=regs, ref=ref, ref_kind=kind)


def _method(*insns: Insn, params: tuple[str, ...] = (), static: bool = True) -> MethodCode:
    return MethodCode(
        class_name="com.x.A",
        method="m()V",
        dex="classes.dex",
        registers_size=10,
        ins_size=sum(2 if p in ("J", "D") else 1 for p in params) + (0 if static else 1),
        is_static=static,
        param_types=params,
        insns=(*insns, _insn(1000, "return-void", ())),
    )


def _at_end(*insns: Insn, **kw: object) -> dict[int, Value]:
    return values_at(_method(*insns, **kw), 1000)  # type: ignore[arg-type]


def _const(off: int, reg: int, text: str) -> Insn:
    return _insn(off, "const-string", (reg,), text)


def test_parameters_and_this_start_the_method() -> None:
    env = _at_end(params=("J", "Ljava/lang/String;"), static=False)
    # 10 registers, 4 in: this in v6, the long in v7-v8, the string in v9
    assert (env[6], env[7], env[9]) == (Value("this", "com.x.A"), Value("param", "0"), Value("param", "1"))


def test_uri_parse_and_appended_path() -> None:
    env = _at_end(
        _const(0, 1, "content://sms"),
        _insn(4, "invoke-static", (1,), f"{URI}->parse(Ljava/lang/String;)Landroid/net/Uri;"),
        _insn(10, "move-result-object", (2,)),
        _const(12, 3, "inbox"),
        _insn(16, "invoke-static", (2, 3), APPENDED),
        _insn(22, "move-result-object", (4,)),
        _insn(24, "invoke-static", (2, 5), APPENDED),
        _insn(30, "move-result-object", (5,)),
        _insn(32, "invoke-virtual", (4,), f"{URI}->toString()Ljava/lang/String;"),
        _insn(38, "move-result-object", (6,)),
        _insn(40, "invoke-static", (4, 7, 8), WITH_ID),
        _insn(46, "move-result-object", (7,)),
    )
    assert env[2] == Value("uri", "content://sms")
    assert env[4] == Value("uri", "content://sms/inbox")
    assert env[5] == Value("uri", "content://sms/*")  # an unknown segment
    assert env[6] == Value("string", "content://sms/inbox")
    assert env[7] == Value("uri", "content://sms/inbox/#")


def test_uri_builder_chain() -> None:
    build = f"{BUILDER}->build()Landroid/net/Uri;"
    env = _at_end(
        _insn(0, "new-instance", (1,), BUILDER),
        _insn(4, "invoke-direct", (1,), f"{BUILDER}-><init>()V"),
        _const(10, 2, "content"),
        _insn(14, "invoke-virtual", (1, 2), f"{BUILDER}->scheme(Ljava/lang/String;)Landroid/net/Uri$Builder;"),
        _const(20, 2, "sms"),
        _insn(24, "invoke-virtual", (1, 2), f"{BUILDER}->authority(Ljava/lang/String;)Landroid/net/Uri$Builder;"),
        _const(30, 2, "inbox"),
        _insn(34, "invoke-virtual", (1, 2), f"{BUILDER}->appendPath(Ljava/lang/String;)Landroid/net/Uri$Builder;"),
        _insn(40, "invoke-virtual", (1, 2), QUERY_PARAM),
        _insn(46, "invoke-virtual", (1,), build),
        _insn(52, "move-result-object", (3,)),
        _insn(54, "invoke-virtual", (3,), f"{URI}->buildUpon()Landroid/net/Uri$Builder;"),
        _insn(60, "move-result-object", (4,)),
        _insn(62, "invoke-virtual", (4, 2), f"{BUILDER}->path(Ljava/lang/String;)Landroid/net/Uri$Builder;"),
        _insn(68, "invoke-virtual", (4,), build),
        _insn(74, "move-result-object", (5,)),
        _insn(76, "invoke-virtual", (4, 9), f"{BUILDER}->scheme(Ljava/lang/String;)Landroid/net/Uri$Builder;"),
        _insn(82, "invoke-virtual", (4,), build),
        _insn(88, "move-result-object", (6,)),
    )
    assert env[3] == Value("uri", "content://sms/inbox")
    assert env[5] == Value("uri", "content://sms/inbox")  # path("inbox") on the rebuilt URI
    assert env[4] == Value("builder", None)  # an unknown scheme: the builder is lost
    assert env[6] == Value("builder", None)


def test_string_builder_concat_and_intent_data() -> None:
    append = f"{SB}->append(Ljava/lang/String;)Ljava/lang/StringBuilder;"
    env = _at_end(
        _insn(0, "new-instance", (1,), SB),
        _const(4, 2, "content://"),
        _insn(8, "invoke-direct", (1, 2), f"{SB}-><init>(Ljava/lang/String;)V"),
        _const(14, 2, "call_log"),
        _insn(18, "invoke-virtual", (1, 2), append),
        _insn(24, "invoke-virtual", (1,), f"{SB}->toString()Ljava/lang/String;"),
        _insn(30, "move-result-object", (3,)),
        _insn(32, "invoke-virtual", (3, 2), f"{STRING}->concat(Ljava/lang/String;)Ljava/lang/String;"),
        _insn(38, "move-result-object", (4,)),
        _insn(40, "invoke-virtual", (4,), f"{STRING}->trim()Ljava/lang/String;"),
        _insn(46, "move-result-object", (5,)),
        _insn(48, "invoke-virtual", (6,), "Landroid/content/Intent;->getData()Landroid/net/Uri;"),
        _insn(54, "move-result-object", (6,)),
        _insn(56, "invoke-virtual", (1, 9), append),
        _insn(62, "move-result-object", (7,)),
        _insn(64, "invoke-static", (), "Lcom/x/B;->make()Ljava/lang/String;"),
        _insn(70, "move-result-object", (8,)),
    )
    assert env[3] == Value("string", "content://call_log")
    assert env[4] == Value("string", "content://call_logcall_log")
    assert env[5] == env[4]
    assert env[6] == Value("intent_data")
    assert env[7] == Value("sb", None) == env[1]  # an unknown part: the text is lost
    assert env[8] == Value("call", "Lcom/x/B;->make()Ljava/lang/String;")


def test_moves_fields_and_the_offset_bound() -> None:
    code = _method(
        _const(0, 1, "a"),
        _insn(4, "move-object", (2, 1)),
        _insn(6, "sget-object", (3,), "Lcom/x/C;->U:Landroid/net/Uri;"),
        _insn(10, "iget-object", (4, 0), "Lcom/x/C;->u:Landroid/net/Uri;"),
        _insn(14, "new-instance", (5,), "Lcom/x/D;"),
        _insn(18, "add-int/lit8", (1, 1)),
        _const(22, 6, "later"),
    )
    env = values_at(code, 22)
    assert env[2] == Value("string", "a")
    assert (env[3], env[4], env[5]) == (
        Value("field", "Lcom/x/C;->U:Landroid/net/Uri;"),
        Value("ifield", "Lcom/x/C;->u:Landroid/net/Uri;"),
        Value("new", "Lcom/x/D;"),
    )
    assert env[1] == Value("unknown")  # arithmetic overwrote the string
    assert 6 not in env  # the instruction at the offset is not applied
