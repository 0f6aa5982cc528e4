"""The dead-letter admin API: list, show and replay dead letters over HTTP.

Every route needs ``Authorization: Bearer <token>``, the token coming from
``ACCORD_DLQ_ADMIN_TOKEN``; the server refuses to start without one. It binds 127.0.0.1 by
default. Errors are JSON: ``{"error": "...", "field": "..."}``.

Run it with ``python -m services.dlq_admin_api``.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dead_letter_inspection import (
    NotReplayableError,
    UnknownDeadLetterError,
    find_dead_letters,
    list_dead_letters,
    replay,
    select_for_replay,
)
from services.ingest.body_limit import BodyLimitMiddleware
from services.messaging.dead_letter_view import (
    STAGES,
    DeadLetterFilter,
    DeadLetterIdError,
    detail,
    selection_problem,
    summary,
)
from services.messaging.settings import KafkaSettings

_BODY_LIMIT = 65_536
_AUTH_ERROR = ("missing or wrong bearer token: send the header "
               "'Authorization: Bearer <ACCORD_DLQ_ADMIN_TOKEN>'")


class DlqAdminSettings(BaseSettings):
    """The admin API's settings, from ``ACCORD_DLQ_ADMIN_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_DLQ_ADMIN_", extra="ignore")

    token: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 8090

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("ACCORD_DLQ_ADMIN_TOKEN is empty: set a long random token")
        return value


class ReplayRequest(BaseModel):
    """What to replay: ids, or a filter (code, stage, crm), or all; optionally a dry run."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list, max_length=1000)
    code: str | None = None
    stage: str | None = None
    crm: str | None = None
    all: bool = False
    include_replayed: bool = False
    dry_run: bool = False


class ApiError(Exception):
    """An error answered as ``{"error": message, "field": field}``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _error(status: int, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


def _stage(stage: str | None) -> str | None:
    if stage is not None and stage not in STAGES:
        raise ApiError(422, f"stage must be one of {', '.join(STAGES)}", "stage")
    return stage


def create_app(settings: DlqAdminSettings, kafka: KafkaSettings) -> FastAPI:
    """The admin API over the dead letters of ``kafka``, guarded by ``settings.token``."""
    token = settings.token.get_secret_value()
    if not token.strip():
        raise ValueError("refusing to start: the admin token (ACCORD_DLQ_ADMIN_TOKEN) is empty")
    expected = f"Bearer {token}".encode()

    app = FastAPI(title="Accord dead-letter admin", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_middleware(BodyLimitMiddleware, limit=_BODY_LIMIT)

    # Checked before anything else (body, parameters, even unknown paths) is looked at.
    @app.middleware("http")
    async def authorized(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        presented = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(presented, expected):
            return _error(401, _AUTH_ERROR, "Authorization", {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field)

    @app.exception_handler(KafkaError)
    @app.exception_handler(TimeoutError)
    async def kafka_down(_: Request, exc: Exception) -> JSONResponse:
        return _error(503, f"Kafka at {kafka.bootstrap_servers} did not answer: "
                      f"{exc or type(exc).__name__}", "kafka")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
        return _error(422, first.get("msg", "invalid request"), ".".join(location) or "body")

    @app.get("/dead-letters")
    async def listing(stage: Annotated[str | None, Query()] = None,
                      code: Annotated[str | None, Query()] = None,
                      crm: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        criteria = DeadLetterFilter(stage=_stage(stage), code=code, crm=crm)
        letters = await list_dead_letters(kafka, criteria)
        return {"dead_letters": [summary(letter) for letter in letters]}

    @app.get("/dead-letters/{dead_letter_id}")
    async def one(dead_letter_id: str) -> dict[str, Any]:
        try:
            [letter] = await find_dead_letters(kafka, [dead_letter_id])
        except DeadLetterIdError as exc:
            raise ApiError(422, str(exc), "id") from exc
        except UnknownDeadLetterError as exc:
            raise ApiError(404, str(exc), "id") from exc
        return detail(letter)

    @app.post("/dead-letters/replay")
    async def replaying(body: ReplayRequest) -> dict[str, Any]:
        criteria = DeadLetterFilter(stage=body.stage, code=body.code, crm=body.crm)
        problem = selection_problem(body.ids, criteria, body.all)
        if problem is not None:
            raise ApiError(422, problem[1], problem[0])
        try:
            letters = await select_for_replay(kafka, body.ids, criteria, body.include_replayed)
            done = await replay(kafka, letters, body.dry_run)
        except UnknownDeadLetterError as exc:
            raise ApiError(404, str(exc), "ids") from exc
        except NotReplayableError as exc:
            raise ApiError(422, str(exc), "ids") from exc
        return {"dry_run": body.dry_run, "replayed": [item.as_json() for item in done]}

    return app


def main() -> None:
    """Run the admin API until interrupted; refuse to start without a token."""
    try:
        settings = DlqAdminSettings()
    except ValidationError as exc:
        print(f"dlq admin API not started: {exc.errors()[0]['msg']}", file=sys.stderr)
        raise SystemExit(2) from exc
    uvicorn.run(create_app(settings, KafkaSettings()), host=settings.host,
                port=settings.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
