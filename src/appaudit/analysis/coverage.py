"""What part of the app's code a static scan cannot see."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex
from appaudit.engine.matchers import MATCHERS, MatchContext
from appaudit.report.model import CoverageReason, quote_names
from appaudit.ruleset.loader import CoverageSignal


def signal_reasons(app: AppInfo, code: CodeIndex, signals: Sequence[CoverageSignal]) -> list[CoverageReason]:
    """One reason per coverage signal that matches (rules/coverage_signals.yaml)."""
    ctx = MatchContext(app=app, code=code)
    reasons = []
    for signal in signals:
        evidence = MATCHERS[signal.match_kind](signal.match, ctx)
        values = sorted(
            {
                f"{e.class_name}.{(e.method or '').split('(')[0]}" if e.class_name else e.value
                for e in evidence
                if not (e.class_name and e.class_name.startswith(signal.except_class_prefixes))
            }
        )
        if values:
            reasons.append(CoverageReason(code=signal.code, detail=f"{signal.detail}: {quote_names(values)}"))
    return reasons


def missing_class_reasons(app: AppInfo, code: CodeIndex) -> list[CoverageReason]:
    """The manifest names classes that no DEX defines: their code arrives at run time.

    Packers ship a stub and decrypt the real classes when the app starts, so the
    Application or components the manifest declares are absent from the DEX.
    """
    if not app.dex_files:
        return []
    defined = code.defined_classes()
    declared_set = {c.name for c in app.components if c.name}
    if app.application_class:
        declared_set.add(app.application_class)
    declared = sorted(declared_set)
    missing = [name for name in declared if name not in defined]
    if not missing:
        return []
    detail = (
        f"{len(missing)} of {len(declared)} classes named in the manifest are not in any DEX: {quote_names(missing)}"
    )
    return [CoverageReason(code="classes_not_in_dex", detail=detail)]


#: Reflective lookups with a name that is not a constant, past which the app's
#: behaviour is considered partly hidden (a few are normal in any library).
REFLECTION_MIN_SITES = 25
#: Reflective call sites examined (bounds the time on huge apps).
REFLECTION_MAX_SITES = 400
_REFLECTION = (
    ("Ljava/lang/Class;", ("forName", "getMethod", "getDeclaredMethod", "getField", "getDeclaredField")),
    ("Ljava/lang/ClassLoader;", ("loadClass",)),
)


def _owned_by(prefixes: Sequence[str]) -> Callable[[str], bool]:
    """Whether a class name is one of the package ``prefixes`` or inside one of them, as one C-level
    ``startswith`` over a tuple: the reflection pass asks it of every reflective call site, and a
    generator over the SDK prefixes (hundreds) per site was most of that pass on apps with few lookups."""
    dotted = tuple(p + "." for p in prefixes)
    return lambda class_name: (class_name + ".").startswith(dotted)


def native_code_reasons(app: AppInfo, code: CodeIndex, sdk_prefixes: Sequence[str]) -> list[CoverageReason]:
    """App classes declare ``native`` methods and the APK ships native libraries: their logic is unseen."""
    libs = sorted({n.rsplit("/", 1)[-1] for n in app.zip_entries if n.endswith(".so")})
    if not libs:
        return []
    third_party = _owned_by(sdk_prefixes)
    own = [f"{c}.{m.split('(')[0]}" for c, m in code.native_methods() if not third_party(c)]
    if not own:
        return []
    detail = (
        f"{len(own)} native methods in the app's own classes run code from native libraries "
        f"({quote_names(libs)}), which is not analysed: {quote_names(own)}"
    )
    return [CoverageReason(code="native_code", detail=detail)]


def reflection_reasons(code: CodeIndex, sdk_prefixes: Sequence[str]) -> list[CoverageReason]:
    """Many reflective lookups whose class, method or field name is computed at run time."""
    dynamic: list[str] = []
    third_party = _owned_by(sdk_prefixes)
    sites = [h for cls, names in _REFLECTION for h in code.invocations(cls, names)]
    own = [s for s in sites[:REFLECTION_MAX_SITES] if not third_party(s.class_name)]
    # One register pass per method for all its sites: a pass up to each site re-read the method's
    # start once per site (obfuscated apps hold dozens of lookups in one method).
    names_at: dict[tuple[str, str], dict[int, bool] | None] = {}
    for done, site in enumerate(own):
        if len(dynamic) + len(own) - done < REFLECTION_MIN_SITES:
            return []  # the sites left cannot reach the threshold: no method of theirs need be decoded
        key = (site.class_name, site.method)
        if key not in names_at:
            names_at[key] = _constant_names(code, *key)
        constant = names_at[key]
        if constant is not None and constant.get(site.offset) is False:
            dynamic.append(f"{site.class_name}.{site.method.split('(')[0]}")
    if len(dynamic) < REFLECTION_MIN_SITES:
        return []
    places = sorted(set(dynamic))
    detail = f"{len(dynamic)} reflective lookups use names computed at run time: {quote_names(places)}"
    return [CoverageReason(code="reflection", detail=detail)]


def _constant_names(code: CodeIndex, class_name: str, method: str) -> dict[int, bool] | None:
    """Offset of each resolved invoke with a declared argument in the method -> whether its first
    argument holds a constant, non-empty string there; None when the method cannot be decoded."""
    from appaudit.analysis.registers import invoke_arguments

    body = code.method_code(class_name, method)
    if body is None:
        return None
    out: dict[int, bool] = {}
    for insn, values in invoke_arguments(body):
        if values:
            value = values[0]
            out[insn.offset] = value.kind == "string" and bool(value.text)
    return out
