"""Checking rule-directory YAML: parsing it, validating it against schemas/rule.schema.json, its regexes.

Every failure is a RuleError naming the file and the key, never a skipped document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from appaudit.errors import RuleError
from appaudit.resources import schema_path


@cache
def rule_schema() -> dict[str, Any]:
    """The rule schema, read once per process (every data file is validated against its $defs)."""
    schema: dict[str, Any] = json.loads(schema_path("rule.schema.json").read_text(encoding="utf-8"))
    return schema


def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(rule_schema())


def key_path(error: Any) -> str:
    """The dotted key a jsonschema error is about (``(top level)`` for the document itself)."""
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def yaml_load(text: str, source: str) -> Any:
    """``text`` parsed as YAML (safe loader); RuleError with the line for a syntax error."""
    import yaml  # only when rules are (re)validated: a cached ruleset needs no YAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(parse)"
        raise RuleError(source, where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc


#: Matcher keys that hold a regular expression: (kind, key, compiled over bytes).
_REGEX_KEYS = (
    ("string", "regex", True),
    ("zip_entry", "regex", False),
    ("application_class", "regex", False),
    ("entry_text", "entries", False),
    ("entry_text", "regex", True),
)


def check_regexes(doc: dict[str, Any], source: str, prefix: str = "") -> None:
    """RuleError naming the key of the first regular expression in ``doc`` that does not compile."""
    for key in ("match", "except_in_methods_with"):
        for kind, name, as_bytes in _REGEX_KEYS:
            spec = (doc.get(key) or {}).get(kind)
            if not spec or name not in spec:
                continue
            try:
                re.compile(spec[name].encode("utf-8") if as_bytes else spec[name])
            except re.error as exc:
                raise RuleError(source, f"{prefix}{key}.{kind}.{name}", f"invalid regular expression: {exc}") from exc


@cache
def rule_validator() -> Any:
    """The validator of one rule document, built once per process."""
    return _validator()


def validated_data(text: str, source: str, definition: str) -> Any:
    """:func:`validated` against the rule schema's own ``$defs``."""
    return validated(text, source, rule_schema(), definition)


def validated(text: str, source: str, schema: dict[str, Any], definition: str) -> Any:
    """``text`` parsed and checked against ``schema``'s ``$defs/definition``; RuleError names the first bad key."""
    import jsonschema

    doc = yaml_load(text, source)
    validator = jsonschema.Draft202012Validator({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise RuleError(source, key_path(errors[0]), errors[0].message)
    return doc


def rule_texts(
    dirs: Sequence[Path], files_of: Callable[[Path], Iterable[Path]], digest: Any
) -> Iterator[tuple[Path, str, str]]:
    """``(path, source, text)`` of every rule file ``files_of`` finds in each directory, in order; each
    file's relative name and text go into ``digest`` (a hashlib object) as they are read. ``source``
    names the file in errors (``dir/rel``); an unreadable file is a RuleError."""
    for directory in dirs:
        for path in files_of(directory):
            rel = path.relative_to(directory).as_posix()
            source = f"{directory.name}/{rel}"
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleError(source, "(file)", f"cannot be read: {exc}") from exc
            digest.update(rel.encode() + b"\0" + text.encode("utf-8") + b"\0")
            yield path, source, text
