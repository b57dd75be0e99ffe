"""Read Google Play Console's Data safety CSV (the file the Console exports and imports).

Every row is one answer: ``Question ID (machine readable)``, ``Response ID
(machine readable)``, ``Response value`` (``true``/``false``/empty or text),
``Answer requirement`` and ``Human-friendly question label``. The data types
are ``PSL_DATA_TYPES_<CATEGORY>,<TYPE>`` rows; each type's answers are
``PSL_DATA_USAGE_RESPONSES:<TYPE>:<QUESTION>`` rows. Unknown question ids are
warned about and skipped, never fatal; a file that is not such an export is an
InputError (exit 3).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from appaudit.declarations.limits import read_bounded
from appaudit.declarations.model import COMPARED_CLASSES, DataSafety, DeclaredUse
from appaudit.errors import InputError

HEADER = (
    "Question ID (machine readable)",
    "Response ID (machine readable)",
    "Response value",
    "Answer requirement",
    "Human-friendly question label",
)

#: Every data type of the form, by the category question that lists it.
DATA_TYPES: dict[str, tuple[str, ...]] = {
    "PSL_DATA_TYPES_PERSONAL": (
        "PSL_NAME",
        "PSL_EMAIL",
        "PSL_USER_ACCOUNT",
        "PSL_ADDRESS",
        "PSL_PHONE",
        "PSL_RACE_ETHNICITY",
        "PSL_POLITICAL_RELIGIOUS",
        "PSL_SEXUAL_ORIENTATION_GENDER_IDENTITY",
        "PSL_OTHER_PERSONAL",
    ),
    "PSL_DATA_TYPES_FINANCIAL": (
        "PSL_CREDIT_DEBIT_BANK_ACCOUNT_NUMBER",
        "PSL_PURCHASE_HISTORY",
        "PSL_CREDIT_SCORE",
        "PSL_OTHER",
    ),
    "PSL_DATA_TYPES_LOCATION": ("PSL_APPROX_LOCATION", "PSL_PRECISE_LOCATION"),
    "PSL_DATA_TYPES_SEARCH_AND_BROWSING": ("PSL_WEB_BROWSING_HISTORY",),
    "PSL_DATA_TYPES_EMAIL_AND_TEXT": ("PSL_EMAILS", "PSL_SMS_CALL_LOG", "PSL_OTHER_MESSAGES"),
    "PSL_DATA_TYPES_PHOTOS_AND_VIDEOS": ("PSL_PHOTOS", "PSL_VIDEOS"),
    "PSL_DATA_TYPES_AUDIO": ("PSL_AUDIO", "PSL_MUSIC", "PSL_OTHER_AUDIO"),
    "PSL_DATA_TYPES_HEALTH_AND_FITNESS": ("PSL_HEALTH", "PSL_FITNESS"),
    "PSL_DATA_TYPES_CONTACTS": ("PSL_CONTACTS",),
    "PSL_DATA_TYPES_CALENDAR": ("PSL_CALENDAR",),
    "PSL_DATA_TYPES_APP_PERFORMANCE": ("PSL_CRASH_LOGS", "PSL_PERFORMANCE_DIAGNOSTICS", "PSL_OTHER_PERFORMANCE"),
    "PSL_DATA_TYPES_FILES_AND_DOCS": ("PSL_FILES_AND_DOCS",),
    "PSL_DATA_TYPES_APP_ACTIVITY": (
        "PSL_USER_INTERACTION",
        "PSL_IN_APP_SEARCH_HISTORY",
        "PSL_APPS_ON_DEVICE",
        "PSL_USER_GENERATED_CONTENT",
        "PSL_OTHER_APP_ACTIVITY",
    ),
    "PSL_DATA_TYPES_IDENTIFIERS": ("PSL_DEVICE_ID",),
}
_ALL_TYPES = frozenset(t for types in DATA_TYPES.values() for t in types)

#: The Data safety types that cover each compared data class. The form has one type,
#: "SMS or MMS" (``PSL_SMS_CALL_LOG``), for both SMS and the call log.
CLASS_TYPES: dict[str, tuple[str, ...]] = {
    "contacts": ("PSL_CONTACTS",),
    "sms": ("PSL_SMS_CALL_LOG",),
    "call_log": ("PSL_SMS_CALL_LOG",),
    "phone_identity": ("PSL_DEVICE_ID", "PSL_PHONE"),
    "accounts": ("PSL_EMAIL", "PSL_USER_ACCOUNT"),
    "location": ("PSL_APPROX_LOCATION", "PSL_PRECISE_LOCATION"),
    "photos_media": ("PSL_PHOTOS", "PSL_VIDEOS"),
    "installed_apps": ("PSL_APPS_ON_DEVICE",),
    "calendar": ("PSL_CALENDAR",),
}

#: Questions that are not about one data type (read or accepted, never warned about).
GLOBAL_QUESTIONS = frozenset(
    {
        "PSL_DATA_COLLECTION_COLLECTS_PERSONAL_DATA",
        "PSL_DATA_COLLECTION_ENCRYPTED_IN_TRANSIT",
        "PSL_SUPPORTED_ACCOUNT_CREATION_METHODS",
        "PSL_ACM_SPECIFY",
        "PSL_ACCOUNT_DELETION_URL",
        "PSL_SUPPORT_DATA_DELETION_BY_USER",
        "PSL_DATA_DELETION_URL",
        "PSL_DATA_COLLECTION_COMPLIES_FAMILY_POLICY",
        "PSL_INDEPENDENTLY_VALIDATED",
        "PSL_UPI_BADGE_OPT_IN",
        "PSL_HAS_OUTSIDE_APP_ACCOUNTS",
        "PSL_OUTSIDE_APP_ACCOUNT_TYPES",
        "PSL_OUTSIDE_APP_ACCOUNT_TYPE_SPECIFY",
    }
)
_USAGE = "PSL_DATA_USAGE_RESPONSES"
USAGE_QUESTIONS = frozenset(
    {
        "PSL_DATA_USAGE_COLLECTION_AND_SHARING",
        "PSL_DATA_USAGE_EPHEMERAL",
        "DATA_USAGE_USER_CONTROL",
        "DATA_USAGE_COLLECTION_PURPOSE",
        "DATA_USAGE_SHARING_PURPOSE",
    }
)
#: Warnings kept (the rest are counted in the last one).
MAX_WARNINGS = 20


@dataclass(slots=True)
class _TypeAnswers:
    """The answers read for one data type, while reading (never leaves this module)."""

    ticked: bool = False
    collected: bool = False
    shared: bool = False
    ephemeral: bool | None = None
    optional: bool | None = None
    purposes: set[str] | None = None
    rows: list[str] | None = None


def _truth(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("true", "yes", "1"):
        return True
    if v in ("false", "no", "0"):
        return False
    return None


def _rows(text: str, path: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise InputError(path, "not a Google Play Data safety CSV (the header must be: " + ",".join(HEADER) + ")")
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(row) < 3 or len(row) > len(HEADER):
                raise InputError(path, f"line {reader.line_num}: {len(row)} columns, a Data safety CSV has 5")
            yield reader.line_num, row
    except csv.Error as exc:
        raise InputError(path, f"line {reader.line_num}: not valid CSV: {exc}") from exc


def read_play_csv(path: str) -> DataSafety:
    """Parse a Console Data safety CSV. InputError (exit 3) when the file is not one or is too large."""
    text = read_bounded(path, "Data safety CSV").decode("utf-8", errors="replace")
    answers: dict[str, _TypeAnswers] = {}
    warnings: list[str] = []
    collects_any: bool | None = None
    collects_row = ""
    name = path

    def warn(line: int, message: str) -> None:
        warnings.append(f"{name}:{line}: {message}")

    for line, row in _rows(text, path):
        question, response, value = row[0].strip(), row[1].strip(), row[2].strip()
        where = f"{name}:{line}: {question},{response},{value or '(blank)'}"
        if question == "PSL_DATA_COLLECTION_COLLECTS_PERSONAL_DATA":
            collects_any, collects_row = _truth(value), where
        elif question in GLOBAL_QUESTIONS:
            continue
        elif question in DATA_TYPES:
            if response not in DATA_TYPES[question]:
                warn(line, f"unknown data type {response!r} under {question} (skipped)")
                continue
            a = answers.setdefault(response, _TypeAnswers(purposes=set(), rows=[]))
            a.ticked = _truth(value) is True
            assert a.rows is not None
            a.rows.insert(0, where)
        elif question.startswith(_USAGE + ":"):
            parts = question.split(":")
            if len(parts) != 3 or parts[1] not in _ALL_TYPES or parts[2] not in USAGE_QUESTIONS:
                warn(line, f"unknown question id {question!r} (skipped)")
                continue
            _usage(
                answers.setdefault(parts[1], _TypeAnswers(purposes=set(), rows=[])), parts[2], response, value, where
            )
        else:
            warn(line, f"unknown question id {question!r} (skipped)")
    if len(warnings) > MAX_WARNINGS:
        warnings[MAX_WARNINGS:] = [f"{name}: {len(warnings) - MAX_WARNINGS} more unknown rows (skipped)"]
    return DataSafety(
        source=name,
        format="play_console_csv",
        collects_any=collects_any,
        collects_any_row=collects_row,
        uses=tuple(_class_use(dc, answers) for dc in COMPARED_CLASSES),
        warnings=tuple(warnings),
    )


def _usage(a: _TypeAnswers, question: str, response: str, value: str, where: str) -> None:
    truth = _truth(value)
    assert a.rows is not None and a.purposes is not None
    if question == "PSL_DATA_USAGE_COLLECTION_AND_SHARING":
        if truth and response == "PSL_DATA_USAGE_ONLY_COLLECTED":
            a.collected = True
        elif truth and response == "PSL_DATA_USAGE_ONLY_SHARED":
            a.shared = True
        else:
            return
    elif question == "PSL_DATA_USAGE_EPHEMERAL":
        if truth is None:
            return
        a.ephemeral = truth
    elif question == "DATA_USAGE_USER_CONTROL":
        if not truth:
            return
        a.optional = response == "PSL_DATA_USAGE_USER_CONTROL_OPTIONAL"
    elif truth:  # a collection or sharing purpose
        a.purposes.add(response.removeprefix("PSL_").lower())
        return
    else:
        return
    a.rows.append(where)


def _class_use(data_class: str, answers: dict[str, _TypeAnswers]) -> DeclaredUse:
    """One class from its types: collected or shared if any type is; ephemeral or optional only if
    every type declared collected says so (a claim the comparison can hold the app to)."""
    types = [answers[t] for t in CLASS_TYPES[data_class] if t in answers]
    declared = [a for a in types if a.ticked or a.collected or a.shared]
    rows = [r for a in types for r in (a.rows or ())]

    def every(values: list[bool | None]) -> bool | None:
        if not values or any(v is None for v in values):
            return None
        return all(values)

    return DeclaredUse(
        data_class=data_class,
        collected=any(a.collected or (a.ticked and not a.shared) for a in declared),
        shared=any(a.shared for a in declared),
        ephemeral=every([a.ephemeral for a in declared]),
        optional=every([a.optional for a in declared]),
        purposes=tuple(sorted({p for a in declared for p in (a.purposes or ())})),
        rows=tuple(dict.fromkeys(rows)),
    )
