"""``python -m services.router``: run one router worker (more workers share partitions)."""

from __future__ import annotations

import sys

import faust

from services.logging_setup import configure_logging
from services.router.rules.loader import RuleFileError, load_rules
from services.router.settings import RouterSettings
from services.router.stream_app import create_router_app


def main() -> None:
    """Load and validate the rule file, then run the worker until interrupted."""
    configure_logging("router")
    settings = RouterSettings()
    try:
        rules = load_rules(settings.rules_file)
    except RuleFileError as exc:
        # A bad rule file never reaches a running router.
        print(f"router: the rule file is invalid, not starting:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    app = create_router_app(settings, rules)
    faust.Worker(app, loglevel="info").execute_from_commandline()


if __name__ == "__main__":
    main()
