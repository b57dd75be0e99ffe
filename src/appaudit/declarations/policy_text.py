"""Read a privacy policy (text, HTML or PDF) and find what it says about each data class.

The text is cut into sentences and clauses; a clause that holds a phrase of a
data class (from ``declarations/phrases/*.yaml``) is a mention. It is a
``denied`` mention when the clause also holds a denial phrase ("we do not
collect"), ``shared`` when it holds a sharing word, else ``collected``: any
mention that is not a denial counts as disclosure, so the comparison never
calls a policy silent on a class it names.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from functools import lru_cache
from html.parser import HTMLParser

from appaudit.declarations.limits import MAX_PDF_PAGES, MAX_POLICY_BYTES, MAX_POLICY_CHARS, read_bounded
from appaudit.declarations.model import PolicyFormat, PolicyMention, PrivacyPolicy, Stance
from appaudit.errors import InputError
from appaudit.ruleset.declarations import PhraseList

#: Characters of a sentence kept as evidence.
MAX_SENTENCE = 300
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|[。！？；।\n]+|\s*[•·▪]\s*")
_BLOCK_TAGS = frozenset(
    {"p", "br", "li", "div", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "ul", "ol"}
)


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML page, a line break per block element; scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template", "noscript"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "noscript"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _pdf_text(data: bytes, path: str) -> tuple[str, list[str]]:
    """Text of the PDF's pages (at most MAX_PDF_PAGES), and why it is incomplete."""
    try:
        import pypdf
    except ImportError as exc:
        raise InputError(path, "privacy policy: reading a PDF needs the pypdf package (pip install pypdf)") from exc
    notes: list[str] = []
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return "", ["the PDF is encrypted with a password: its text cannot be read"]
        pages = reader.pages
        if len(pages) > MAX_PDF_PAGES:
            notes.append(f"only the first {MAX_PDF_PAGES} of {len(pages)} PDF pages were read")
        text = "\n".join((pages[i].extract_text() or "") for i in range(min(len(pages), MAX_PDF_PAGES)))
    except Exception as exc:  # pypdf raises many types on a damaged file; the user gets one line
        raise InputError(path, f"privacy policy: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    return text, notes


def policy_text(path: str) -> tuple[PolicyFormat, str, list[str]]:
    """(format, text, notes on what could not be read) of a policy file; InputError when unreadable or too large."""
    data = read_bounded(path, "privacy policy", MAX_POLICY_BYTES)
    notes: list[str] = []
    fmt: PolicyFormat
    head = data[:1024].lstrip().lower()
    if data.startswith(b"%PDF-"):
        fmt = "pdf"
        text, notes = _pdf_text(data, path)
    elif path.lower().endswith((".html", ".htm")) or head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        fmt = "html"
        parser = _TextOfHtml()
        parser.feed(_decode(data))
        parser.close()
        text = "".join(parser.parts)
    else:
        fmt = "text"
        text = _decode(data)
    if len(text) > MAX_POLICY_CHARS:
        notes.append(f"only the first {MAX_POLICY_CHARS} characters of the policy were searched")
        text = text[:MAX_POLICY_CHARS]
    return fmt, text, notes


@lru_cache(maxsize=512)
def _pattern(phrases: tuple[str, ...], word_boundaries: bool) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(("(?<!\\w)" if word_boundaries else "") + f"(?:{alternatives})", re.IGNORECASE)


def _any(lists: Sequence[PhraseList], attr: str, clause: str) -> bool:
    for pl in lists:
        pattern = _pattern(tuple(getattr(pl, attr)), pl.word_boundaries)
        if pattern is not None and pattern.search(clause):
            return True
    return False


def _clauses(text: str, lists: Sequence[PhraseList]) -> list[str]:
    breaks = sorted({b for pl in lists for b in pl.clause_breaks}, key=len, reverse=True)
    splitter = re.compile("|".join(re.escape(b) for b in breaks), re.IGNORECASE) if breaks else None
    out = []
    for sentence in _SENTENCE_END.split(text):
        sentence = " ".join(sentence.replace("\u2019", "'").split())
        if not sentence:
            continue
        out += [c.strip() for c in (splitter.split(sentence) if splitter else [sentence]) if c.strip()]
    return out


def find_mentions(text: str, lists: Sequence[PhraseList]) -> tuple[PolicyMention, ...]:
    """Every clause of ``text`` naming a data class, with its stance; one mention per (class, clause)."""
    found: dict[tuple[str, str], PolicyMention] = {}
    for clause in _clauses(text, lists):
        for pl in lists:
            for data_class, phrases in pl.classes:
                if (data_class, clause) in found:
                    continue
                pattern = _pattern(phrases, pl.word_boundaries)
                hit = pattern.search(clause) if pattern is not None else None
                if hit is None:
                    continue
                stance: Stance
                if _any(lists, "denials", clause):
                    stance = "denied"
                elif _any(lists, "shared", clause):
                    stance = "shared"
                else:
                    stance = "collected"
                shown = clause if len(clause) <= MAX_SENTENCE else clause[: MAX_SENTENCE - 1] + "…"
                found[(data_class, clause)] = PolicyMention(
                    data_class=data_class, stance=stance, language=pl.language, phrase=hit.group(0), sentence=shown
                )
    return tuple(sorted(found.values(), key=lambda m: (m.data_class, m.stance, m.sentence)))


def read_policy(path: str, lists: Sequence[PhraseList]) -> tuple[PrivacyPolicy, list[str]]:
    """The policy's mentions, and notes on what could not be read (a PDF without text, a cut-off)."""
    fmt, text, notes = policy_text(path)
    found = bool(text.strip())
    if not found:
        notes.append(
            f"{path}: no text could be read from the privacy policy"
            + (" (a scanned PDF without a text layer?)" if fmt == "pdf" else "")
            + "; it was not compared"
        )
    return (
        PrivacyPolicy(
            source=path,
            format=fmt,
            text_found=found,
            characters=len(text),
            mentions=find_mentions(text, lists) if found else (),
        ),
        notes,
    )
