"""Dalvik type descriptors and Java names: the conversions every layer needs."""

from __future__ import annotations


def java_name(desc: str) -> str:
    """``Lcom/example/A$B;`` -> ``com.example.A$B`` (other descriptors unchanged)."""
    if desc.startswith("L") and desc.endswith(";"):
        return desc[1:-1].replace("/", ".")
    return desc


def java_desc(class_name: str) -> str:
    """``com.example.A$B`` -> ``Lcom/example/A$B;``."""
    return "L" + class_name.replace(".", "/") + ";"


def split_params(proto: str) -> list[str]:
    """Parameter descriptors of a prototype ``(params)ret``; a malformed one (hostile DEX) ends the list."""
    close = proto.find(")")
    params = proto[1:close] if proto.startswith("(") and close > 0 else ""
    out, i = [], 0
    while i < len(params):
        j = i
        while j < len(params) and params[j] == "[":
            j += 1
        if j >= len(params):
            break
        if params[j] == "L":
            j = params.find(";", j)
            if j < 0:
                break
        out.append(params[i : j + 1])
        i = j + 1
    return out
