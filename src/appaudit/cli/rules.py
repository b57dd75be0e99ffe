"""``appaudit rules`` and ``appaudit policies``: list, show, validate and document them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from appaudit.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    RulesOption,
    _Command,
    app,
)

rules_app = typer.Typer(
    help="List, show, validate and document rules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(rules_app, name="rules")


@rules_app.command("list", cls=_Command)
def rules_list(rules: RulesOption = None) -> None:
    """One line per rule: id, severity, data class, title."""
    from appaudit.ruleset import load_ruleset

    for r in load_ruleset(tuple(rules or ())).every_rule:
        sys.stdout.write(f"{r.id}  {r.severity.label:<8}  {r.data_class:<17}  {r.title}\n")
    raise typer.Exit(EXIT_OK)


@rules_app.command("show", cls=_Command)
def rules_show(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="A rule id, e.g. AA-CON-002.", show_default=False)],
    rules: RulesOption = None,
) -> None:
    """The rule's documentation (what it finds, why it matters, example, compliant use, references)."""
    from appaudit.ruleset import load_ruleset
    from appaudit.ruleset.docs import rule_markdown

    ruleset = load_ruleset(tuple(rules or ()))
    rule = ruleset.by_id(rule_id.upper())
    if rule is None:
        from appaudit.policy.describe import find_provision

        if find_provision(ruleset.policy_packs, rule_id) is not None:
            raise typer.BadParameter(
                f"{rule_id!r} is a policy provision, not a rule (see `appaudit policies show {rule_id}`)",
                param_hint="ID",
            )
        raise typer.BadParameter(f"no rule {rule_id!r} (see `appaudit rules list`)", param_hint="ID")
    sys.stdout.write(rule_markdown(rule))
    raise typer.Exit(EXIT_OK)


@rules_app.command(
    "validate",
    cls=_Command,
    epilog="Exit codes: 0 valid; 2 usage error; 4 an invalid rule (the message names file and key).",
)
def rules_validate(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A rule directory.", show_default=False)],
) -> None:
    """Check every rule file in DIR against the rule schema, as --rules DIR would load it."""
    from appaudit.ruleset.loader import validate_directory

    checked = validate_directory(directory)
    sys.stdout.write(f"{directory}: {len(checked.every_rule)} rules valid\n")
    raise typer.Exit(EXIT_OK)


@rules_app.command(
    "docs",
    cls=_Command,
    epilog="Exit codes: 0 written (or up to date with --check); 1 stale with --check; 4 rule error.",
)
def rules_docs(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where the pages go (docs/rules).")],
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when DIR is stale.")] = False,
    rules: RulesOption = None,
) -> None:
    """Generate DIR/<ID>.md for every rule, and DIR/README.md, from the rule YAML."""
    from appaudit.ruleset import load_ruleset
    from appaudit.ruleset.docs import stale_docs, write_docs

    ruleset = load_ruleset(tuple(rules or ()))
    if check:
        stale = stale_docs(ruleset.every_rule, directory)
        for name in stale:
            sys.stderr.write(f"appaudit: stale: {directory / name}\n")
        if stale:
            sys.stderr.write("appaudit: run `appaudit rules docs docs/rules` to update\n")
        raise typer.Exit(EXIT_FINDINGS if stale else EXIT_OK)
    changed = write_docs(ruleset.every_rule, directory)
    sys.stdout.write(f"{directory}: {len(ruleset.every_rule)} rules, {len(changed)} files updated\n")
    raise typer.Exit(EXIT_OK)


policies_app = typer.Typer(
    help="List and show the policy packs' provisions (instrument, article, paraphrase, source, confidence).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(policies_app, name="policies")


@policies_app.command("list", cls=_Command)
def policies_list(rules: RulesOption = None) -> None:
    """One line per policy pack, then one per provision: id, confidence (V, P, U), kind, instrument and article."""
    from appaudit.policy.describe import packs_listing
    from appaudit.ruleset import load_ruleset

    sys.stdout.write(packs_listing(load_ruleset(tuple(rules or ())).policy_packs))
    raise typer.Exit(EXIT_OK)


@policies_app.command("show", cls=_Command)
def policies_show(
    provision_id: Annotated[
        str, typer.Argument(metavar="ID", help="A provision id, e.g. CN-PIPL-6, or a pack id, e.g. china.")
    ],
    rules: RulesOption = None,
) -> None:
    """A provision: instrument, article, paraphrase (English and Chinese), source, date in force, confidence."""
    from appaudit.policy.describe import find_provision, provision_text
    from appaudit.ruleset import load_ruleset

    packs = load_ruleset(tuple(rules or ())).policy_packs
    found = find_provision(packs, provision_id)
    if found is not None:
        sys.stdout.write(provision_text(*found))
        raise typer.Exit(EXIT_OK)
    pack = next((p for p in packs if p.id == provision_id.lower()), None)
    if pack is None:
        raise typer.BadParameter(
            f"no provision or policy pack {provision_id!r} (see `appaudit policies list`)", param_hint="ID"
        )
    sys.stdout.write("\n".join(provision_text(pack, p) for p in pack.provisions))
    raise typer.Exit(EXIT_OK)
