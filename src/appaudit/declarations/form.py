"""The declaration form: the Data safety facts as a reviewer transcribes them (YAML or JSON).

Validated against ``schemas/declaration.schema.json``. A data class the form
does not list is declared as neither collected nor shared, as on a store
listing, which shows only what is collected or shared.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from appaudit.declarations.limits import read_bounded
from appaudit.declarations.model import COMPARED_CLASSES, DataSafety, DeclaredUse
from appaudit.errors import InputError
from appaudit.resources import schema_path


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path("declaration.schema.json").read_text(encoding="utf-8"))
    return schema


def _load(text: str, path: str) -> Any:
    import yaml

    try:
        # An alias can make a small file expand without bound when validated: the form needs none.
        if any(isinstance(ev, yaml.AliasEvent) for ev in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise InputError(path, "declaration form: YAML aliases are not allowed")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError(path, f"declaration form: {where}invalid YAML/JSON: {getattr(exc, 'problem', exc)}") from exc


def validate_form(doc: Any, path: str) -> None:
    """InputError naming the first key that breaks the schema."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(_schema()).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        key = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise InputError(path, f"declaration form: {key}: {errors[0].message}")


def read_form(path: str) -> DataSafety:
    """Parse and validate a declaration form file. InputError (exit 3) when it is not one."""
    text = read_bounded(path, "declaration form").decode("utf-8", errors="replace")
    doc = _load(text, path)
    validate_form(doc, path)
    return form_to_data_safety(doc, path)


def form_to_data_safety(doc: dict[str, Any], source: str) -> DataSafety:
    """A validated form document as the comparison reads it."""
    data: dict[str, Any] = doc.get("data") or {}
    uses = []
    for dc in COMPARED_CLASSES:
        item = data.get(dc)
        if item is None:
            uses.append(
                DeclaredUse(data_class=dc, collected=False, shared=False, rows=(f"{source}: data.{dc} (absent)",))
            )
            continue
        uses.append(
            DeclaredUse(
                data_class=dc,
                collected=item["collected"],
                shared=item.get("shared", False),
                ephemeral=item.get("ephemeral"),
                optional=item.get("optional"),
                purposes=tuple(sorted(item.get("purposes", ()))),
                rows=(f"{source}: data.{dc} = {json.dumps(item, sort_keys=True)}",),
            )
        )
    no_data = doc.get("no_data_collected")
    return DataSafety(
        source=source,
        format="form",
        collects_any=None if no_data is None else not no_data,
        collects_any_row=f"{source}: no_data_collected = {json.dumps(no_data)}" if no_data is not None else "",
        uses=tuple(uses),
    )


def data_safety_to_form(ds: DataSafety) -> dict[str, Any]:
    """The form document that states ``ds`` (the inverse of :func:`form_to_data_safety`)."""
    doc: dict[str, Any] = {"declaration": 1}
    if ds.collects_any is not None:
        doc["no_data_collected"] = not ds.collects_any
    data: dict[str, Any] = {}
    for use in ds.uses:
        if not use.declared and use.ephemeral is None and use.optional is None and not use.purposes:
            continue
        item: dict[str, Any] = {"collected": use.collected, "shared": use.shared}
        if use.ephemeral is not None:
            item["ephemeral"] = use.ephemeral
        if use.optional is not None:
            item["optional"] = use.optional
        if use.purposes:
            item["purposes"] = list(use.purposes)
        data[use.data_class] = item
    if data:
        doc["data"] = data
    return doc
