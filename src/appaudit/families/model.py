"""What ``appaudit families`` answers: apps, the links between them and why, and the families."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Why two apps are linked (one per kind of key they share)."""

    CHAIN = "chain"
    """The same harvest chain code: read, steps and sink methods hash alike, same channel."""
    READ = "read"
    """The same read-site code: the method that reads the protected data hashes alike."""
    ENDPOINT = "endpoint"
    """The same normalised upload endpoint (host and path)."""
    HOST = "host"
    """The same upload host, another path (only when no endpoint is shared)."""
    SIGNER = "signer"
    """The same signing certificate."""
    SDK_SET = "sdk_set"
    """The same non-empty set of data-reading SDKs: only strengthens a link made by another reason."""


#: How strong each reason is alone. A link's score combines its reasons as independent
#: evidence: ``1 - prod(1 - weight)``; e.g. read code + endpoint = 1 - 0.4 * 0.3 = 0.88.
WEIGHTS: dict[Reason, float] = {
    Reason.CHAIN: 1.0,
    Reason.READ: 0.6,
    Reason.ENDPOINT: 0.7,
    Reason.HOST: 0.4,
    Reason.SIGNER: 0.8,
    Reason.SDK_SET: 0.1,
}

LABELS: dict[Reason, str] = {
    Reason.CHAIN: "same chain code",
    Reason.READ: "same read code",
    Reason.ENDPOINT: "same endpoint",
    Reason.HOST: "same endpoint host",
    Reason.SIGNER: "same signer",
    Reason.SDK_SET: "same SDK set",
}

@dataclass(frozen=True, slots=True, kw_only=True)
class AppNode:
    """One app of the store (or the APK asked about)."""

    sha256: str
    package: str
    path: str
    verdict: str
    signers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """A linking key one app has: a fingerprint, an endpoint, a host, a signer or an SDK set."""

    reason: Reason
    value: str
    detail: str = field(default="", compare=False)
    """What the value stands for (data class and channel, SDK ids), for display; not part of the key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """Two apps of a family and why they are linked."""

    a: str
    b: str
    """SHA-256 of the two apps, ``a < b``."""
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedKey:
    """A key that several members of a family share."""

    key: Key
    apps: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """Apps joined by links at or above the threshold (transitively)."""

    id: int
    """1 for the largest family; stable for the same store and settings."""
    apps: tuple[AppNode, ...]
    links: tuple[Link, ...]
    """The links at or above the threshold, strongest first."""
    shared: tuple[SharedKey, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FamiliesResult:
    """Every family of the store (or the one of the APK asked about)."""

    families: tuple[Family, ...]
    apps_total: int
    apps_without_keys: int
    """Apps of the store with no linking key (no chain, read, endpoint or signer): never in a family."""
    common_keys: int
    """Keys ignored because more than ``max_shared`` apps have them."""
    min_score: float
    max_shared: int
    query: str | None = None
    """SHA-256 of the APK asked about (``appaudit families APP``), None for the whole store."""
