"""Code fingerprints that survive renaming and obfuscation, for linking apps of one operator.

A *method fingerprint* hashes the method's normalised instruction sequence:

* each instruction's opcode family (``invoke-virtual/range`` -> ``invoke-virtual``,
  ``const/4`` -> ``const``): a register allocator or a recompile picks the width
  variant, the code does not change;
* references to framework classes (:data:`FRAMEWORK_PREFIXES`) by full name;
  a reference to any other class, method or field keeps only its shape (``app``
  for the class, the prototype with app types replaced by ``L?;``): renaming
  and obfuscation change those names, not the code;
* ``content://`` strings (they name the framework provider that is read); every
  other string is left out (app-specific: hosts, keys, labels);
* no register numbers, literals or branch targets (they move when code is
  re-allocated or re-laid out).

A *chain fingerprint* hashes the chain's channel and its steps' method
fingerprints in order. Endpoints are the chain's URL strings normalised
(:func:`normalise_endpoint`). The signer and the SDK set come from the report.
Nothing here reads more than the chain's methods, so the cost is a few hashes
per chain.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from appaudit.analysis.facts import HarvestChain, HarvestFacts
from appaudit.analysis.fingerprint_types import (
    FRAMEWORK_PREFIXES,
    ChainFingerprint,
    Endpoint,
    Fingerprints,
    SiteFingerprint,
)
from appaudit.apk.dex.types import CodeIndex, Insn
from appaudit.model import Evidence, OwnerKind

_DESC = re.compile(r"\[*L[^;]+;")
_HEX = 16  # 64 bits of sha256: no collision expected below ~10^9 fingerprints
_NUMERIC = re.compile(r"[0-9]+")


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:_HEX]


def is_framework(descriptor: str) -> bool:
    """The type descriptor (``Lc;``, arrays too) names a framework class."""
    return descriptor.lstrip("[").startswith(FRAMEWORK_PREFIXES)


def _types(text: str) -> str:
    """``text`` with every non-framework class descriptor replaced by ``L?;`` (array dims kept)."""
    return _DESC.sub(lambda m: m.group(0) if is_framework(m.group(0)) else "[" * m.group(0).count("[") + "L?;", text)


def _ref_token(insn: Insn) -> str:
    ref = insn.ref or ""
    if insn.ref_kind == "string":
        return ref if ref.startswith("content://") else ""
    if insn.ref_kind in ("method", "field") and "->" in ref:
        owner, member = ref.split("->", 1)
        if is_framework(owner):
            return ref
        # An app member: its name is the obfuscator's choice, its prototype or type is code shape.
        shape = member[member.index("(") :] if "(" in member else member[member.find(":") :]
        return "app->" + _types(shape)
    if insn.ref_kind == "type":
        return _types(ref)
    return ""


def method_fingerprint(insns: Sequence[Insn]) -> str:
    """The hash of a method's normalised instruction sequence (see the module docstring)."""
    return _digest(f"{i.op.split('/', 1)[0]} {_ref_token(i)}".rstrip() for i in insns)


def normalise_endpoint(url: str) -> tuple[str, str] | None:
    """(host, path) of an absolute http(s)/ws(s) URL: scheme and host lowercased, the default port
    dropped, numeric path segments as ``{n}``, query and fragment dropped. None for anything else
    (a bare path or a template has no host to link by)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss") or not host:
        return None
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    segments = ["{n}" if _NUMERIC.fullmatch(s) else s for s in parts.path.split("/")]
    return host, "/".join(segments) or "/"


class _Methods:
    """Method fingerprints, each method hashed once per scan."""

    def __init__(self, code: CodeIndex) -> None:
        self._code = code
        self._seen: dict[tuple[str, str], str] = {}

    def get(self, class_name: str, method: str) -> str:
        key = (class_name, method)
        if key not in self._seen:
            try:
                body = self._code.method_code(class_name, method)
            except Exception:  # a method that cannot be decoded costs its fingerprint, never the report
                body = None
            self._seen[key] = method_fingerprint(body.insns) if body is not None else ""
        return self._seen[key]


def _sdk_ids(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    return tuple(
        sorted({e.owner.sdk_id for e in evidence if e.owner and e.owner.kind == OwnerKind.SDK and e.owner.sdk_id})
    )


def _chain(chain: HarvestChain, methods: _Methods) -> ChainFingerprint:
    steps = tuple(methods.get(s.class_name, s.method) for s in chain.steps)
    return ChainFingerprint(
        data_class=chain.data_class,
        channel=chain.channel,
        # a step without code would make every such chain alike: no fingerprint rather than a shared one
        fingerprint=_digest((chain.channel, *steps)) if all(steps) else "",
        steps=steps,
    )


def app_fingerprints(
    code: CodeIndex, harvest: HarvestFacts | None, signers: Sequence[str], evidence: Iterable[Evidence]
) -> Fingerprints:
    """The fingerprints of one scanned app: its chains, read sites (chain reads and provider
    accesses), upload endpoints, ``signers`` and the SDKs owning ``evidence`` (attributed)."""
    methods = _Methods(code)
    chains = harvest.chains if harvest is not None else ()
    sites = [(c.data_class, c.read) for c in chains]
    if harvest is not None:
        sites += [(a.data_class, a.evidence) for a in harvest.accesses]
    reads = {(dc, e.class_name, e.method) for dc, e in sites if e.class_name and e.method}
    endpoints = {
        (c.data_class, *hp)
        for c in chains
        if c.channel == "network"
        for u in c.urls
        if (hp := normalise_endpoint(u)) is not None
    }
    all_evidence = [*evidence, *(e for c in chains for e in (c.read, c.sink))]
    sdks = _sdk_ids(all_evidence)
    return Fingerprints(
        chains=tuple(sorted({_chain(c, methods) for c in chains}, key=lambda f: (f.data_class, f.fingerprint))),
        reads=tuple(
            SiteFingerprint(data_class=dc, class_name=cls, method=m, fingerprint=methods.get(cls, m))
            for dc, cls, m in sorted(reads)
        ),
        endpoints=tuple(Endpoint(data_class=dc, host=h, path=p) for dc, h, p in sorted(endpoints)),
        signers=tuple(sorted(signers)),
        sdks=sdks,
        sdk_set=_digest(sdks) if sdks else "",
    )
