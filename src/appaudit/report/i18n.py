"""The message catalogue of the human-readable reports (text, HTML, Markdown).

One JSON file per language, ``report/assets/<lang>.json``, package data read
with :mod:`importlib.resources` on first use (a test checks that every
language has the same keys and placeholders). Only what the report itself says
is translated; what comes from the APK, from rules (titles, messages) or from
policy packs (instruments, paraphrases) is shown as written. JSON keys and
values are never translated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType

#: Supported languages, the default first.
LANGS: tuple[str, ...] = ("en", "zh")

#: ``lang`` attribute of the HTML document per language.
HTML_LANG: dict[str, str] = {"en": "en", "zh": "zh-Hans"}


def asset_text(name: str) -> str:
    """The text of the package data file ``report/assets/<name>`` (catalogues, the HTML style sheet)."""
    return files("appaudit.report").joinpath("assets", name).read_text(encoding="utf-8")


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every message of ``lang`` (a read-only mapping key -> text), ValueError for an unsupported one."""
    messages = json.loads(asset_text(f"{check_lang(lang)}.json"))
    return MappingProxyType({str(k): str(v) for k, v in messages.items()})


def check_lang(lang: str) -> str:
    """``lang`` if supported, else ValueError naming the supported ones."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r} (supported: {', '.join(LANGS)})")
    return lang


def t(key: str, lang: str = "en", **values: object) -> str:
    """The message ``key`` in ``lang``, with ``{name}`` placeholders filled from ``values``."""
    text = catalogue(lang)[key]
    return text.format(**values) if values else text


def has(key: str, lang: str = "en") -> bool:
    """Whether the catalogue has ``key`` (for optional entries such as coverage reason codes)."""
    return key in catalogue(lang)
