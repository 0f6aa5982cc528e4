"""Outbound Messages as Salesforce sends them: the SOAP 1.1 ``notifications`` call of the
outbound messaging WSDL, and reading the listener's ``notificationsResponse``. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sandboxes.salesforce.metadata import SObjectDef

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
SOAP_API_VERSION = "62.0"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
           "User-Agent": "Salesforce Sandbox Outbound Messaging"}


@dataclass(frozen=True)
class MessageHeader:
    """Who sends the message and for which action: the fields before the notifications."""

    organization_id: str
    action_id: str
    session_id: str | None
    instance_url: str

    def urls(self) -> tuple[str, str]:
        """The EnterpriseUrl and PartnerUrl of the org's SOAP API."""
        org = self.organization_id[:15]
        base = f"{self.instance_url}/services/Soap"
        return f"{base}/c/{SOAP_API_VERSION}/{org}", f"{base}/u/{SOAP_API_VERSION}/{org}"


@dataclass(frozen=True)
class NotificationData:
    """One notification: its id and the record's type and fields."""

    id: str
    sobject: SObjectDef
    record: Mapping[str, Any]


def soap_value(field_type: str, value: Any) -> str:
    """A field value as the enterprise WSDL writes it (xsd:boolean, xsd:dateTime, ...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if field_type == "datetime" and text.endswith("+0000"):
        return text[:-5] + "Z"
    return text


def sobject_xml(target: SObjectDef, record: Mapping[str, Any]) -> str:
    """The ``sObject`` element: Id first, then the other fields with a value by name."""
    names = sorted(f.name for f in target.fields if f.name != "Id"
                   and record.get(f.name) is not None)
    parts = [f"<sf:Id>{escape(str(record['Id']))}</sf:Id>"]
    for name in names:
        field = target.field(name)
        assert field is not None
        parts.append(f"<sf:{name}>{escape(soap_value(field.type, record[name]))}</sf:{name}>")
    return (f'<sObject xsi:type="sf:{target.name}" xmlns:sf="{SOBJECT_NS}">'
            f"{''.join(parts)}</sObject>")


def notifications_envelope(header: MessageHeader,
                           notifications: Sequence[NotificationData]) -> bytes:
    """The whole message: 1 to 100 notifications of one action."""
    if not 1 <= len(notifications) <= MAX_NOTIFICATIONS:
        raise ValueError(f"{len(notifications)} notifications; 1 to {MAX_NOTIFICATIONS} fit")
    enterprise_url, partner_url = header.urls()
    session = ('<SessionId xsi:nil="true"/>' if header.session_id is None
               else f"<SessionId>{escape(header.session_id)}</SessionId>")
    body = "".join(f"<Notification><Id>{n.id}</Id>{sobject_xml(n.sobject, n.record)}"
                   "</Notification>" for n in notifications)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="{XSI_NS}">'
        f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{header.organization_id}</OrganizationId>"
        f"<ActionId>{header.action_id}</ActionId>{session}"
        f"<EnterpriseUrl>{escape(enterprise_url)}</EnterpriseUrl>"
        f"<PartnerUrl>{escape(partner_url)}</PartnerUrl>{body}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def is_ack(body: bytes) -> bool:
    """Whether ``body`` is a ``notificationsResponse`` whose ``Ack`` is true."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError):
        return False
    response = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse")
    ack = None if response is None else response.find(f"{{{OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip() in ("true", "1")
