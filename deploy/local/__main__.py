"""``python -m deploy.local run|broker``: the local system, or just its Kafka broker."""

from __future__ import annotations

import sys

from deploy.local.kafka_broker import fetch_broker_jars
from deploy.local.launcher import run_until_interrupted


def main(argv: list[str]) -> int:
    """Dispatch the sub-command."""
    command = argv[0] if argv else "run"
    if command == "run":
        run_until_interrupted()
        return 0
    if command == "fetch-broker":
        print(f"Kafka broker jars in {fetch_broker_jars()}")
        return 0
    print("usage: python -m deploy.local [run|fetch-broker]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
