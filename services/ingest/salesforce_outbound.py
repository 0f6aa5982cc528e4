"""``POST /webhooks/salesforce/outbound``: Salesforce Outbound Messages, on Kafka one by one.

Salesforce posts a SOAP ``notifications`` call and counts it delivered only when the answer
carries ``<Ack>true</Ack>``; otherwise it retries with growing intervals (up to two hours
apart) for 24 hours, keeping each notification's Id. Each notification becomes its own
CloudEvent on ``accord.crm-changes`` whose id derives from the org and that Id, so a
redelivered message yields the same ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.contracts.envelope import KafkaRecord, encode
from services.contracts.events import SALESFORCE_CHANGE_RECEIVED, SalesforceChangeReceived
from services.ingest import salesforce_soap as soap
from services.ingest.openapi_docs import problem_responses
from services.ingest.problems import ProblemError
from services.ingest.publisher import BrokerUnavailableError, EventPublisher
from services.ingest.settings import IngestSettings
from services.messaging.topics import CRM_CHANGES

SOURCE = "/accord/ingest/webhooks/salesforce"
PATH = "/webhooks/salesforce/outbound"
SOAP_11_MEDIA_TYPE = "text/xml"
_NAMESPACE = uuid.UUID("5f0c3a52-1d7e-4b8e-9a61-2f4d8c6e0b93")

router = APIRouter(tags=["salesforce"])
log = structlog.get_logger(__name__)


def change_for(message: soap.OutboundMessage, notification: soap.Notification,
               received_at: datetime) -> SalesforceChangeReceived:
    """The ``salesforce.change_received`` event for one notification of a message."""
    return SalesforceChangeReceived(
        organization_id=message.organization_id, action_id=message.action_id,
        notification_id=notification.id, sobject_type=notification.sobject_type,
        sobject_id=notification.sobject_id, fields=notification.fields,
        received_at=received_at)


def event_id_for(change: SalesforceChangeReceived) -> str:
    """A stable CloudEvent id: Salesforce keeps a notification's Id across its retries.

    Both ids are taken on their 15-character form (the 18-character one only adds a case
    checksum), so the id does not depend on which form was sent.
    """
    name = f"{change.organization_id[:15]}\x00{change.notification_id[:15]}"
    return str(uuid.uuid5(_NAMESPACE, name))


def kafka_key(change: SalesforceChangeReceived) -> str:
    """``salesforce:{org}:{sObject type}:{sObject id}``: one record's changes stay in order."""
    return f"salesforce:{change.organization_id}:{change.sobject_type}:{change.sobject_id}"


def record_for(change: SalesforceChangeReceived) -> KafkaRecord:
    """The binary-mode CloudEvent for one change."""
    return encode(SALESFORCE_CHANGE_RECEIVED, SOURCE, kafka_key(change), change,
                  event_id=event_id_for(change))


_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{soap.SOAP_ENV_NS}" '
    f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="{soap.XSI_NS}">'
    f'<soapenv:Body><notifications xmlns="{soap.OUTBOUND_NS}">'
    "<OrganizationId>00D5e000000AbCdEAF</OrganizationId><ActionId>04k5e000000XyZ1AAK</ActionId>"
    '<SessionId xsi:nil="true"/>'
    "<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/00D5e000000AbCd"
    "</EnterpriseUrl>"
    "<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/00D5e000000AbCd"
    "</PartnerUrl>"
    f'<Notification><Id>04l5e000001QwErAAK</Id><sObject xsi:type="sf:Lead" '
    f'xmlns:sf="{soap.SOBJECT_NS}"><sf:Id>00Q5e000004TyUiEAK</sf:Id>'
    "<sf:Company>Analytical Engines</sf:Company><sf:Status>Working</sf:Status>"
    "</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>")

_DOCS: dict[str, Any] = {"requestBody": {"required": True, "content": {SOAP_11_MEDIA_TYPE: {
    "schema": {"type": "string", "description": (
        "A SOAP 1.1 envelope holding Salesforce's `notifications` call (namespace "
        f"{soap.OUTBOUND_NS}) with 1 to {soap.MAX_NOTIFICATIONS} notifications of "
        f"{', '.join(soap.SOBJECT_TYPES)}; DTDs and entities are refused")},
    "example": _EXAMPLE}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Every notification is on Kafka (acks=all): the SOAP "
                         "notificationsResponse with Ack true, so Salesforce stops retrying",
          "content": {SOAP_11_MEDIA_TYPE: {"schema": {"type": "string"},
                                           "example": soap.ACK.decode()}}},
    **problem_responses(400, 403, 413, 415, 422, 503),
}


def _require_soap_11(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != SOAP_11_MEDIA_TYPE:
        raise ProblemError(415, "Unsupported media type",
                           f"send the SOAP 1.1 envelope as {SOAP_11_MEDIA_TYPE}, not "
                           f"{media[:80] or 'nothing'}", header="Content-Type")


def _invalid(exc: soap.InvalidMessageError) -> ProblemError:
    return ProblemError(422, "Invalid notification", str(exc), errors=[
        {"field": exc.element, "message": exc.reason, "type": "soap"}])


def _read_envelope(body: bytes, limit: int) -> soap.Envelope:
    try:
        return soap.parse_envelope(body, limit)
    except soap.MessageTooLargeError as exc:
        raise ProblemError(413, "Body too large", str(exc), limit=limit) from exc
    except soap.UnreadableMessageError as exc:
        log.warning("salesforce.outbound.refused", reason="unreadable")
        raise ProblemError(400, "Unreadable body", str(exc)) from exc
    except soap.InvalidMessageError as exc:
        log.warning("salesforce.outbound.refused", reason="invalid", element=exc.element)
        raise _invalid(exc) from exc


def _read_accepted(envelope: soap.Envelope, settings: IngestSettings) -> soap.OutboundMessage:
    # The org is checked before the notifications are examined: an unknown sender learns
    # nothing about what a valid message looks like.
    if not soap.org_accepted(envelope.organization_id, settings.salesforce_org_ids):
        log.warning("salesforce.outbound.refused", reason="org_not_accepted",
                    organization_id=envelope.organization_id)
        raise ProblemError(403, "Org not accepted",
                           f"org {envelope.organization_id} is not one this ingest accepts",
                           errors=[{"field": "notifications/OrganizationId",
                                    "message": "org not accepted", "type": "org"}])
    try:
        return soap.read_notifications(envelope)
    except soap.InvalidMessageError as exc:
        log.warning("salesforce.outbound.refused", reason="invalid", element=exc.element,
                    organization_id=envelope.organization_id, action_id=envelope.action_id)
        raise _invalid(exc) from exc


# Errors are application/problem+json (RFC 9457) like every ingest route, not SOAP Faults:
# Salesforce only looks for the Ack (anything else, fault or not, is retried), while the
# person reading its delivery failures or our logs reads JSON naming the element at fault.
# No answer is a 2xx unless every notification was published.
@router.post(PATH, status_code=200, response_class=Response, openapi_extra=_DOCS,
             responses=_RESPONSES)
async def receive_salesforce_outbound(request: Request) -> Response:
    """Accept an Outbound Message; the Ack is sent only after Kafka acknowledged every
    notification, so Salesforce retries whatever did not land."""
    settings: IngestSettings = request.app.state.settings
    _require_soap_11(request)
    body = await request.body()  # BodyLimitMiddleware has already bounded it
    message = _read_accepted(_read_envelope(body, settings.max_body_bytes), settings)
    received_at = datetime.now(UTC)
    changes = [change_for(message, n, received_at) for n in message.notifications]
    summary = {"organization_id": message.organization_id, "action_id": message.action_id,
               "notifications": len(changes),
               "sobject_types": sorted({c.sobject_type for c in changes})}
    publisher: EventPublisher = request.app.state.publisher
    try:
        await publisher.publish_many(settings.kafka.topic(CRM_CHANGES),
                                     [record_for(change) for change in changes])
    except BrokerUnavailableError:
        log.warning("salesforce.outbound.unavailable", **summary)
        raise  # answered 503 with Retry-After by the app's handler
    log.info("salesforce.outbound.accepted", **summary)
    return Response(soap.ACK, status_code=200,
                    media_type=f"{SOAP_11_MEDIA_TYPE}; charset=utf-8")
