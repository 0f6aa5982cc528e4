"""Structured logs for every service: JSON lines when not on a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from services.log_redaction import redact_personal_data


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """Set structlog up once per process, tagging every line with the service name."""
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            redact_personal_data,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            lambda _, __, event: {**event, "service": service},
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
