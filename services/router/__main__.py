"""``python -m services.router``: run one router worker (more workers share partitions)."""

from __future__ import annotations

import asyncio
import signal
import sys

from services.logging_setup import configure_logging
from services.router.crm_fields import crm_context_of
from services.router.rules.loader import RuleFileError, load_rules
from services.router.settings import RouterSettings
from services.router.stream_worker import RouterWorker


async def _serve(worker: RouterWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)


def main() -> None:
    """Load and validate the rule file, then run the worker until SIGTERM or SIGINT."""
    configure_logging("router")
    settings = RouterSettings()
    try:
        rules = load_rules(settings.rules_file)
    except RuleFileError as exc:
        # A bad rule file never reaches a running router.
        print(f"router: the rule file is invalid, not starting:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    try:
        crm = crm_context_of(settings)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"router: the mapping file {settings.mapping_file} is invalid, not starting:"
              f"\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    asyncio.run(_serve(RouterWorker(settings, rules, crm)))


if __name__ == "__main__":
    main()
