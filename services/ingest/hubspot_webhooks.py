"""``POST /webhooks/hubspot``: HubSpot webhook batches, verified, then on Kafka one by one.

HubSpot sends up to 100 events a batch, signed (v3), and retries on any non-2xx answer or
after 5 s. Each event becomes its own CloudEvent on ``accord.crm-changes`` whose id is
derived from the event itself, so a redelivered batch yields the same ids.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from services.contracts.envelope import KafkaRecord, encode
from services.contracts.events import HUBSPOT_CHANGE_RECEIVED, HubSpotChangeReceived
from services.ingest import hubspot_signature as signature
from services.ingest.openapi_docs import problem_responses
from services.ingest.problems import ProblemError
from services.ingest.publisher import BrokerUnavailableError, EventPublisher
from services.ingest.settings import IngestSettings
from services.messaging.topics import CRM_CHANGES

SOURCE = "/accord/ingest/webhooks/hubspot"
MAX_EVENTS = 100
OBJECT_TYPES = ("contact", "company", "deal")
_CHANGES = ("creation", "propertyChange", "deletion", "merge", "restore", "associationChange")
# HubSpot has privacy (GDPR) deletions for contacts only.
SUBSCRIPTION_TYPES = frozenset(
    {f"{kind}.{change}" for kind in OBJECT_TYPES for change in _CHANGES}
    | {"contact.privacyDeletion"})
_NAMESPACE = uuid.UUID("385dccfa-9586-4920-8b13-445713e043be")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime holds

router = APIRouter(tags=["hubspot"])
log = structlog.get_logger(__name__)
Id = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]


class HubSpotEventIn(BaseModel):
    """One element of a HubSpot webhook batch as HubSpot sends it; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id = Field(alias="eventId")
    subscription_id: Id = Field(alias="subscriptionId")
    portal_id: Id = Field(alias="portalId")
    app_id: Id = Field(alias="appId")
    occurred_at: StrictInt = Field(alias="occurredAt", ge=0, le=_LAST_MS,
                                   description="Milliseconds since the epoch")
    subscription_type: str = Field(alias="subscriptionType")
    attempt_number: StrictInt = Field(alias="attemptNumber", ge=0)
    object_id: Id | None = Field(default=None, alias="objectId")
    from_object_id: Id | None = Field(default=None, alias="fromObjectId", description=(
        "Association changes name the changed object here; used when objectId is absent"))
    change_source: str | None = Field(default=None, alias="changeSource")
    source_id: str | None = Field(default=None, alias="sourceId")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: str | None = Field(default=None, alias="propertyValue")
    primary_object_id: Id | None = Field(default=None, alias="primaryObjectId")
    merged_object_ids: list[Id] | None = Field(default=None, alias="mergedObjectIds")
    new_object_id: Id | None = Field(default=None, alias="newObjectId")

    @field_validator("subscription_type")
    @classmethod
    def _known_subscription(cls, value: str) -> str:
        if value not in SUBSCRIPTION_TYPES:
            raise ValueError("unknown subscription type; accepted: contact.*, company.* and "
                             f"deal.* with one of {', '.join(_CHANGES)}, and "
                             "contact.privacyDeletion")
        return value

    @field_validator("property_value", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # HubSpot sends values as text; a number or boolean is kept as its JSON spelling.
        return json.dumps(value) if isinstance(value, bool | int | float) else value


def _error(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": kind}


def _field(index: int, location: tuple[int | str, ...]) -> str:
    return f"[{index}]" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                  for p in location)


def parse_batch(body: bytes) -> list[HubSpotEventIn]:
    """The events of a raw batch: 400 unless JSON, 422 naming each element and field at fault."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProblemError(400, "Unreadable body", "the body is not valid JSON") from exc
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
        message = f"the body must be a JSON array of 1 to {MAX_EVENTS} events"
        raise ProblemError(422, "Invalid batch", message,
                           errors=[_error("body", message, "batch")])
    events: list[HubSpotEventIn] = []
    errors: list[dict[str, str]] = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            errors.append(_error(f"[{index}]", "each event must be a JSON object", "type"))
            continue
        try:
            event = HubSpotEventIn.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_error(_field(index, tuple(e["loc"])), e["msg"], e["type"])
                          for e in exc.errors(include_url=False, include_input=False))
            continue
        if event.object_id is None and event.from_object_id is None:
            errors.append(_error(f"[{index}].objectId", "Field required", "missing"))
            continue
        events.append(event)
    if errors:
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise ProblemError(422, "Invalid events", f"invalid value for: {fields}",
                           errors=errors)
    return events


def change_for(event: HubSpotEventIn) -> HubSpotChangeReceived:
    """The ``hubspot.change_received`` event for one element of a batch."""
    object_id = event.object_id if event.object_id is not None else event.from_object_id
    if object_id is None:
        raise ValueError("a HubSpot event needs objectId or fromObjectId")
    return HubSpotChangeReceived(
        event_id=event.event_id, subscription_id=event.subscription_id,
        portal_id=event.portal_id, app_id=event.app_id,
        occurred_at=_EPOCH + timedelta(milliseconds=event.occurred_at),
        subscription_type=event.subscription_type, attempt_number=event.attempt_number,
        object_id=object_id, object_type=event.subscription_type.partition(".")[0],
        change_source=event.change_source, source_id=event.source_id,
        property_name=event.property_name, property_value=event.property_value,
        primary_object_id=event.primary_object_id,
        merged_object_ids=event.merged_object_ids, new_object_id=event.new_object_id)


def event_id_for(change: HubSpotChangeReceived) -> str:
    """A stable CloudEvent id: the same HubSpot event, redelivered, gets the same id.

    HubSpot's eventId alone is not unique; with portal, subscription, occurredAt and the
    object it is. attemptNumber grows with each redelivery, so it is left out.
    """
    occurred_ms = (change.occurred_at - _EPOCH) // timedelta(milliseconds=1)
    name = "\x00".join(str(part) for part in (
        change.portal_id, change.subscription_id, change.subscription_type, change.event_id,
        occurred_ms, change.object_type, change.object_id))
    return str(uuid.uuid5(_NAMESPACE, name))


def kafka_key(change: HubSpotChangeReceived) -> str:
    """``hubspot:{portal}:{object type}:{object id}``: one object's changes stay in order."""
    return f"hubspot:{change.portal_id}:{change.object_type}:{change.object_id}"


def record_for(change: HubSpotChangeReceived) -> KafkaRecord:
    """The binary-mode CloudEvent for one change."""
    return encode(HUBSPOT_CHANGE_RECEIVED, SOURCE, kafka_key(change), change,
                  event_id=event_id_for(change))


def _refuse_foreign(events: list[HubSpotEventIn], settings: IngestSettings) -> None:
    for index, event in enumerate(events):
        if event.portal_id not in settings.hubspot_portal_ids:
            raise ProblemError(403, "Portal not accepted",
                               f"portal {event.portal_id} is not one this ingest accepts",
                               portal=event.portal_id, errors=[_error(
                                   f"[{index}].portalId", "portal not accepted", "portal")])
        if settings.hubspot_app_id and event.app_id != settings.hubspot_app_id:
            raise ProblemError(403, "App not accepted",
                               f"app {event.app_id} is not the HubSpot app of this ingest",
                               errors=[_error(f"[{index}].appId", "app not accepted", "app")])


_TITLES = {
    signature.Failure.NOT_CONFIGURED: "Signature not accepted",
    signature.Failure.MISSING_HEADER: "Missing signature",
    signature.Failure.MALFORMED_TIMESTAMP: "Invalid timestamp",
    signature.Failure.STALE_TIMESTAMP: "Stale request",
    signature.Failure.FUTURE_TIMESTAMP: "Request from the future",
    signature.Failure.VERSION_NOT_ACCEPTED: "Signature version not accepted",
    signature.Failure.BAD_SIGNATURE: "Invalid signature",
}


def _event_schema() -> dict[str, Any]:
    schema = HubSpotEventIn.model_json_schema(by_alias=True)
    schema["properties"]["subscriptionType"]["enum"] = sorted(SUBSCRIPTION_TYPES)
    schema["anyOf"] = [{"required": ["objectId"]}, {"required": ["fromObjectId"]}]
    return schema


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": {"type": "string"}}


# Headers are read from the request itself (no per-parameter machinery on the hot path);
# the document still lists them, with the body, as one contract.
_DOCS = {
    "parameters": [
        _header(signature.SIGNATURE_V3_HEADER,
                "base64 HMAC-SHA256 (client secret) of method + URI + body + timestamp"),
        _header(signature.TIMESTAMP_HEADER,
                "Milliseconds since the epoch; refused when more than 5 minutes off"),
        _header(signature.SIGNATURE_HEADER,
                "v1/v2 signature (SHA-256 hex); checked only where those versions are enabled"),
        _header(signature.SIGNATURE_VERSION_HEADER, "Version of X-HubSpot-Signature: v1 or v2"),
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": _event_schema()}}}},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "Every event is on Kafka (acks=all); HubSpot takes any 2xx"},
    **problem_responses(400, 401, 403, 413, 415, 422, 503),
}


def _require_json(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ProblemError(415, "Unsupported media type",
                           f"send the body as application/json, not {media or 'nothing'}",
                           header="Content-Type")


def _verify(request: Request, body: bytes, settings: IngestSettings) -> None:
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    uri = signature.request_uri(settings.public_base_url, raw_path.decode("latin-1"),
                                request.scope.get("query_string", b"").decode("latin-1"))
    verdict = signature.verify(
        signature.SignedRequest(request.method, uri, body, request.headers),
        settings.hubspot_client_secret.get_secret_value(),
        settings.hubspot_signature_versions, now_ms=time.time_ns() // 1_000_000)
    if verdict.failure is not None:
        log.warning("hubspot.webhook.unauthenticated", reason=verdict.failure.value)
        raise ProblemError(401, _TITLES[verdict.failure], verdict.detail,
                           header=verdict.header, reason=verdict.failure.value)


@router.post("/webhooks/hubspot", status_code=204, response_class=Response,
             openapi_extra=_DOCS, responses=_RESPONSES)
async def receive_hubspot_webhook(request: Request) -> Response:
    """Accept a signed HubSpot batch; 204 only after Kafka acknowledged every event."""
    settings: IngestSettings = request.app.state.settings
    _require_json(request)
    body = await request.body()  # BodyLimitMiddleware has already bounded it
    _verify(request, body, settings)
    events = parse_batch(body)
    _refuse_foreign(events, settings)
    changes = [change_for(event) for event in events]
    summary = {"events": len(changes), "portals": sorted({c.portal_id for c in changes}),
               "subscription_types": sorted({c.subscription_type for c in changes})}
    publisher: EventPublisher = request.app.state.publisher
    try:
        await publisher.publish_many(settings.kafka.topic(CRM_CHANGES),
                                     [record_for(change) for change in changes])
    except BrokerUnavailableError:
        log.warning("hubspot.webhook.unavailable", **summary)
        raise  # answered 503 with Retry-After by the app's handler
    log.info("hubspot.webhook.accepted", **summary)
    return Response(status_code=204)
