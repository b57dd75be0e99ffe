"""What a fingerprint is (``analysis.fingerprints`` computes them; reports and the store carry them)."""

from __future__ import annotations

from dataclasses import dataclass

#: Version of the normalisation; a change of the rules above changes it, so stores never mix two.
ALGORITHM = "appaudit-fp-1"

#: Class-descriptor prefixes whose names are kept: the Android and Java platforms and the
#: libraries apps bundle unobfuscated by convention (their names are stable across apps).
FRAMEWORK_PREFIXES: tuple[str, ...] = (
    "Landroid/",
    "Landroidx/",
    "Ldalvik/",
    "Ljava/",
    "Ljavax/",
    "Lkotlin/",
    "Lkotlinx/",
    "Lorg/json/",
    "Lorg/w3c/",
    "Lorg/xml/",
    "Lokhttp3/",
    "Lokio/",
    "Lretrofit2/",
    "Lcom/google/gson/",
    "Lcom/squareup/okhttp/",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteFingerprint:
    """The fingerprint of the method a read is in."""

    data_class: str
    class_name: str
    method: str
    fingerprint: str
    """``ALGORITHM`` hash of the method's normalised instructions; empty when the code was not decoded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainFingerprint:
    """A harvest chain's shape: its channel and each step's method fingerprint."""

    data_class: str
    channel: str
    fingerprint: str
    """Hash of the channel and the steps' fingerprints; empty when a step's code was not decoded."""
    steps: tuple[str, ...]
    """Method fingerprints of the steps, read first (empty string: the step's code is not in the app)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where a chain uploads to, normalised (see :func:`normalise_endpoint`)."""

    data_class: str
    host: str
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Fingerprints:
    """What links an app to others: code, endpoints, signer and SDK set."""

    algorithm: str = ALGORITHM
    chains: tuple[ChainFingerprint, ...] = ()
    reads: tuple[SiteFingerprint, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    signers: tuple[str, ...] = ()
    """SHA-256 of the signing certificates."""
    sdks: tuple[str, ...] = ()
    """Ids of the SDKs whose code reads or sends protected data, sorted."""
    sdk_set: str = ""
    """Hash of :attr:`sdks`; empty when the set is empty (an empty set links nothing)."""
