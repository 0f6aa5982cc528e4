"""``accord dlq``: list, show and replay dead letters (Kafka from the ACCORD_KAFKA_* settings).

Exit codes: 0 done, 1 nothing matched, 2 bad usage or unknown dead-letter id,
3 Kafka could not be reached or refused a write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from aiokafka.errors import KafkaError

from services.dead_letter_inspection import (
    NotReplayableError,
    UnknownDeadLetterError,
    find_dead_letters,
    list_dead_letters,
    replay,
    select_for_replay,
)
from services.messaging.dead_letter_view import (
    STAGES,
    DeadLetter,
    DeadLetterFilter,
    DeadLetterIdError,
    detail,
    selection_problem,
    summary,
    truncate,
)
from services.messaging.settings import KafkaSettings

dlq_app = typer.Typer(help="Dead letters: see why events were set aside, and replay them.",
                      no_args_is_help=True)

NOTHING, USAGE, KAFKA = 1, 2, 3
_T = TypeVar("_T")

Stage = Annotated[str | None, typer.Option("--stage", help="router or sync")]
Code = Annotated[str | None, typer.Option("--code", help="The CRM error code, e.g. "
                                          "INVALID_EMAIL_ADDRESS")]
Crm = Annotated[str | None, typer.Option("--crm", help="salesforce, hubspot or none")]
Text = Annotated[str | None, typer.Option("--text", help="Text the reason contains")]


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except (DeadLetterIdError, UnknownDeadLetterError, NotReplayableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE) from exc
    except (KafkaError, TimeoutError, OSError) as exc:
        typer.echo(f"error: Kafka at {KafkaSettings().bootstrap_servers}: "
                   f"{exc or type(exc).__name__}", err=True)
        raise typer.Exit(KAFKA) from exc


def _criteria(stage: str | None, code: str | None, crm: str | None,
              text: str | None) -> DeadLetterFilter:
    if stage is not None and stage not in STAGES:
        raise typer.BadParameter(f"must be one of {', '.join(STAGES)}",
                                 param_hint="--stage")
    return DeadLetterFilter(stage=stage, code=code, crm=crm, text=text)


def _table(letters: list[DeadLetter]) -> str:
    rows = [("ID", "STAGE", "CRM", "CODE", "EVENT TYPE", "REPLAYED", "REASON")]
    rows += [(letter.id, letter.stage, letter.crm or "-", letter.code or "-",
              letter.event_type or "-", "yes" if letter.replayed else "no",
              truncate(letter.reason, 60)) for letter in letters]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                         strict=False))
                     + "  " + row[-1] for row in rows)


@dlq_app.command("list")
def list_command(
    stage: Stage = None, code: Code = None, crm: Crm = None, text: Text = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List dead letters: id, stage, CRM, code, event type, replayed?, reason."""
    letters = _run(list_dead_letters(KafkaSettings(), _criteria(stage, code, crm, text)))
    if as_json:
        typer.echo(json.dumps([summary(letter) for letter in letters], indent=2))
    elif letters:
        typer.echo(_table(letters))
    if not letters:
        typer.echo("no dead letters match", err=True)
        raise typer.Exit(NOTHING)


@dlq_app.command("show")
def show_command(
    dead_letter_id: Annotated[str, typer.Argument(
        metavar="ID", help="<dlq topic>:<partition>:<offset>, as `accord dlq list` shows")],
) -> None:
    """Show one dead letter: its context, every header (secrets redacted) and its value."""
    async def find() -> list[DeadLetter]:
        return await find_dead_letters(KafkaSettings(), [dead_letter_id])

    [letter] = _run(find())
    typer.echo(json.dumps(detail(letter), indent=2, ensure_ascii=False))


_REPLAY_HELP = (
    "Put dead letters' original records back on their original topics.\n\n"
    "Each record keeps its key, value and headers (without the dead-letter context) and "
    "gains accord_replayed_from=<id>. Replaying twice is safe: the router drops events it "
    "has seen and the CRM writes are upserts. Select by IDS, or by --code/--stage/--crm, "
    "or --all; a filter skips dead letters already replayed unless --include-replayed.")


@dlq_app.command("replay", help=_REPLAY_HELP)
def replay_command(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="IDS", help="Dead-letter ids, as `accord dlq list` shows")] = None,
    code: Code = None, stage: Stage = None, crm: Crm = None,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter not yet "
                                             "replayed")] = False,
    include_replayed: Annotated[bool, typer.Option(
        "--include-replayed", help="With a filter or --all: replay again those already "
        "replayed")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be "
                                          "replayed")] = False,
) -> None:
    """Put dead letters' original records back on their original topics.

    Each record keeps its key, value and headers (without the dead-letter context) and
    gains `accord_replayed_from=<id>`. Replaying twice is safe: the router drops events it
    has seen and the CRM writes are upserts.
    """
    criteria = _criteria(stage, code, crm, None)
    problem = selection_problem(ids or [], criteria, everything)
    if problem is not None:
        raise typer.BadParameter(problem[1], param_hint="IDS / --code / --stage / --all")
    settings = KafkaSettings()

    async def work() -> list[DeadLetter]:
        return await select_for_replay(settings, ids or [], criteria, include_replayed)

    letters = _run(work())
    if not letters:
        typer.echo("no dead letters match (already replayed ones are skipped unless "
                   "--include-replayed)", err=True)
        raise typer.Exit(NOTHING)
    for done in _run(replay(settings, letters, dry_run)):
        if done.dry_run:
            typer.echo(f"would replay {done.id} -> {done.to_topic}")
        else:
            typer.echo(f"replayed {done.id} -> {done.to_topic}:{done.to_partition}:"
                       f"{done.to_offset}")
