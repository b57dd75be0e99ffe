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
    """Parameter descriptors of a prototype ``(params)ret``."""
    params = proto[1 : proto.index(")")]
    out, i = [], 0
    while i < len(params):
        j = i
        while params[j] == "[":
            j += 1
        if params[j] == "L":
            j = params.index(";", j)
        out.append(params[i : j + 1])
        i = j + 1
    return out
