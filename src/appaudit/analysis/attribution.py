"""Whose code is it: the app's own, a named SDK, or unknown.

First-party code is the app's package and sub-packages plus the packages of
the classes its manifest names as its own entry points (Application, launcher
activities; a trailing layer segment such as ``ui`` or ``activity`` is
dropped), since build tools often keep code under a package other than the
applicationId. SDKs are recognised by package prefix (rules/sdks.yaml,
longest prefix wins; an SDK prefix beats a first-party one). Code whose
package segments are all one or two letters is ``unknown: obfuscated``;
anything else is ``unknown: unrecognised``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeHit
from appaudit.model import Evidence, Owner, OwnerKind
from appaudit.ruleset.loader import SdkInfo

_OBFUSCATED_SEGMENT = re.compile(r"[A-Za-z0-9_$]{1,2}")


#: Last package segments that name a layer rather than the app (com.x.ui.Main -> com.x).
_LAYER_SEGMENTS = frozenset(
    {"ui", "activity", "activities", "view", "views", "main", "screen", "screens", "home", "splash"}
)


def _package(class_name: str) -> str:
    return class_name.rsplit(".", 1)[0] if "." in class_name else ""


def _app_package_of(class_name: str) -> str:
    package = _package(class_name)
    head, _, last = package.rpartition(".")
    return head if last in _LAYER_SEGMENTS and head.count(".") >= 1 else package


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


class Attributor:
    """Assigns an :class:`Owner` to class names."""

    def __init__(self, app: AppInfo, sdks: Sequence[SdkInfo]) -> None:
        self.sdk_prefixes = sorted(((p, s) for s in sdks for p in s.prefixes), key=lambda ps: -len(ps[0]))
        own = {app.package} if app.package else set()
        for cls in (app.application_class, *app.launcher_activities):
            if cls and _package(cls):
                own.add(_app_package_of(cls))
        self.first_party = sorted(p for p in own if p and self._sdk(p + ".X") is None)
        self.first_party_owner = Owner(kind=OwnerKind.FIRST_PARTY, name=app.package or (self.first_party or ["app"])[0])
        self._cache: dict[str, Owner] = {}

    def _sdk(self, class_name: str) -> SdkInfo | None:
        return next((s for p, s in self.sdk_prefixes if _under(class_name, p)), None)

    def owner(self, class_name: str) -> Owner:
        cached = self._cache.get(class_name)
        if cached is not None:
            return cached
        sdk = self._sdk(class_name)
        if sdk is not None:
            owner = Owner(kind=OwnerKind.SDK, name=sdk.name, sdk_id=sdk.id, vendor=sdk.vendor, category=sdk.category)
        elif any(_under(class_name, p) for p in self.first_party):
            owner = self.first_party_owner
        else:
            segments = class_name.split(".")
            obfuscated = all(_OBFUSCATED_SEGMENT.fullmatch(s) for s in segments[:-1]) if len(segments) > 1 else True
            owner = Owner(kind=OwnerKind.UNKNOWN, name="obfuscated" if obfuscated else "unrecognised")
        self._cache[class_name] = owner
        return owner

    def code_evidence(self, hit: CodeHit) -> Evidence:
        """Evidence located exactly at ``hit``, with the owner of its class."""
        return hit.to_evidence(self.owner(hit.class_name))
