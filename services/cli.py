"""``accord``: the command line of Accord for RevOps engineers and operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.router.rules.loader import RuleFileError, load_rules

app = typer.Typer(help="Accord: one event stream as the source of truth for leads.",
                  no_args_is_help=True)
rules_app = typer.Typer(help="Lead rules as code: check them before they go live.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RuleFile = Annotated[Path, typer.Argument(help="The rule file, e.g. rules/leads.yaml",
                                          exists=True, dir_okay=False, readable=True)]


@rules_app.command("validate")
def validate(rule_file: RuleFile) -> None:
    """Check a rule file: structure and every CEL condition, with the line to fix."""
    try:
        rules = load_rules(rule_file)
    except RuleFileError as exc:
        count = len(exc.problems)
        typer.echo(f"{rule_file}: {count} problem{'s' if count != 1 else ''}\n", err=True)
        for problem in exc.problems:
            typer.echo(f"{problem}\n", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{rule_file}: valid (version {rules.version}: {len(rules.scoring)} scoring "
               f"rules, {len(rules.stages)} stage rules, {len(rules.routes)} routes)")


def main() -> None:
    """Console entry point."""
    app()
