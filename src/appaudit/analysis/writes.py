"""Which protected providers the app deletes from, inserts into or changes (``rules/flows.yaml``
``provider_writes``): an effect of its own, never a read.

The URI is resolved as a query's is (``providers.resolve_argument``); ``applyBatch`` names the
provider by its authority (``"call_log"``), classified as ``content://`` plus the authority.
"""

from __future__ import annotations

from typing import cast

from appaudit import deadline
from appaudit.analysis.attribution import Attributor
from appaudit.analysis.facts import ProviderWrite, WriteOperation
from appaudit.analysis.providers import ProviderClassifier, resolve_argument
from appaudit.apk.dex.types import CodeIndex
from appaudit.model import PROTECTED_CLASSES, Evidence
from appaudit.ruleset.flows import FlowSpec


def provider_writes(
    code: CodeIndex, flows: FlowSpec, classifier: ProviderClassifier, attributor: Attributor
) -> list[ProviderWrite]:
    """Every write of a protected provider whose URI (or authority) resolves, sorted by location."""
    out: dict[tuple[str, str, Evidence], ProviderWrite] = {}
    for target in flows.provider_writes:
        if target.uri_arg is None:
            continue
        for site in code.invocations(target.class_desc, target.names):
            deadline.check()
            operation = cast(WriteOperation, site.value.partition("->")[2].split("(", 1)[0])
            for uri, how in resolve_argument(code, site, target.uri_arg):
                if uri is not None and operation == "applyBatch" and "://" not in uri and "->" not in uri:
                    uri = f"content://{uri}"
                dc = classifier.classify(uri)
                if dc not in PROTECTED_CLASSES or uri is None:
                    continue
                ev = attributor.code_evidence(site)
                out[(dc, uri, ev)] = ProviderWrite(data_class=dc, uri=uri, how=how, operation=operation, evidence=ev)
    return sorted(out.values(), key=lambda w: (w.data_class, w.evidence.sort_key(), w.uri))
