"""Salesforce Outbound Messages: reading the SOAP 1.1 ``notifications`` call, and the answers.

Shapes follow Salesforce's outbound messaging WSDL ("Understanding the Outbound Messaging
WSDL"): ``notifications`` (namespace ``http://soap.sforce.com/2005/09/outbound``) holds
``OrganizationId``, ``ActionId``, ``SessionId``, ``EnterpriseUrl``, ``PartnerUrl`` and 1 to
100 ``Notification`` elements, each an ``Id`` and an ``sObject`` typed ``sf:<Object>`` whose
fields are elements in ``urn:sobject.enterprise.soap.sforce.com``. Salesforce counts a message
as delivered only when it gets ``notificationsResponse`` with ``Ack`` true.

``SessionId`` is a live session and the two URLs invite calls back into the org: they are
read past and never kept. Parsing is defused (no DTD, entities or external references) and
the size cap applies before the parser sees a byte. Pure: no web framework here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
SOBJECT_TYPES = ("Lead", "Contact", "Opportunity", "Account")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_NAME_SHOWN = 80  # element names go into error messages: bound what is echoed

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()


class SoapMessageError(ValueError):
    """Base of every reason a body is not an acceptable Outbound Message."""


class MessageTooLargeError(SoapMessageError):
    """The body is over the size cap; it was not parsed."""


class UnreadableMessageError(SoapMessageError):
    """Not well-formed XML, or XML with a DTD, entity or external reference."""


class InvalidMessageError(SoapMessageError):
    """Well-formed XML that is not a valid message; ``element`` names the element at fault."""

    def __init__(self, element: str, reason: str) -> None:
        super().__init__(f"{element}: {reason}")
        self.element = element
        self.reason = reason


@dataclass(frozen=True)
class Notification:
    """One changed record: the notification id and the sObject's fields as sent (text)."""

    id: str
    sobject_type: str
    sobject_id: str
    fields: dict[str, str | None]


@dataclass(frozen=True)
class Envelope:
    """Who sent the message and which rule fired; the notifications are read separately,
    so a sender is identified before its content is examined."""

    organization_id: str
    action_id: str
    notification_elements: tuple[Element, ...] = field(repr=False)


@dataclass(frozen=True)
class OutboundMessage:
    """A whole message, without its session id or callback URLs."""

    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def _tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2][:_NAME_SHOWN]


def _only(parent: Element, namespace: str, name: str, path: str) -> Element:
    found = parent.findall(_tag(namespace, name))
    if not found:
        raise InvalidMessageError(f"{path}/{name}", f"missing (namespace {namespace})")
    if len(found) > 1:
        raise InvalidMessageError(f"{path}/{name}", f"appears {len(found)} times; expected once")
    return found[0]


def _salesforce_id(parent: Element, name: str, path: str) -> str:
    value = (_only(parent, OUTBOUND_NS, name, path).text or "").strip()
    if not _ID.fullmatch(value):
        raise InvalidMessageError(f"{path}/{name}",
                                  "must be a 15- or 18-character Salesforce id")
    return value


def parse_envelope(body: bytes, max_bytes: int) -> Envelope:
    """Read the SOAP envelope and the message header (organization and action).

    Raises ``MessageTooLargeError`` before parsing when ``body`` exceeds ``max_bytes``,
    ``UnreadableMessageError`` for what is not safe, well-formed XML, and
    ``InvalidMessageError`` naming the element when the envelope is not a notifications call.
    """
    if len(body) > max_bytes:
        raise MessageTooLargeError(f"the body exceeds {max_bytes} bytes")
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException as exc:
        refused = "DTDs, entities and external references are refused"
        raise UnreadableMessageError(refused) from exc
    except ParseError as exc:
        raise UnreadableMessageError(f"the body is not well-formed XML ({exc})") from exc
    if root.tag != _tag(SOAP_ENV_NS, "Envelope"):
        raise InvalidMessageError("Envelope", f"expected a SOAP 1.1 Envelope (namespace "
                                              f"{SOAP_ENV_NS}), found {_local(root)}")
    soap_body = _only(root, SOAP_ENV_NS, "Body", "Envelope")
    notifications = _only(soap_body, OUTBOUND_NS, "notifications", "Envelope/Body")
    path = "notifications"
    # Only the two ids are read from the header: SessionId, EnterpriseUrl and PartnerUrl are
    # left in the tree that is dropped here, and never copied anywhere.
    return Envelope(
        organization_id=_salesforce_id(notifications, "OrganizationId", path),
        action_id=_salesforce_id(notifications, "ActionId", path),
        notification_elements=tuple(notifications.findall(_tag(OUTBOUND_NS, "Notification"))))


def _field_value(element: Element, path: str) -> str | None:
    if len(element):
        raise InvalidMessageError(path, "has child elements; a field holds text only")
    if element.get(_tag(XSI_NS, "nil"), "").strip() in ("true", "1"):
        return None
    return element.text or ""


def _sobject_type(sobject: Element, path: str) -> str:
    declared = sobject.get(_tag(XSI_NS, "type"))
    if declared is None:
        raise InvalidMessageError(path, "missing xsi:type")
    # ElementTree does not keep prefix bindings, so the prefix (Salesforce writes "sf") is
    # not resolved; the fields' namespace is checked on each child instead.
    name = declared.strip().rpartition(":")[2]
    if name not in SOBJECT_TYPES:
        raise InvalidMessageError(path, f"xsi:type must be sf:{', sf:'.join(SOBJECT_TYPES)}")
    return name


def _notification(element: Element, position: int) -> Notification:
    path = f"Notification[{position}]"
    notification_id = _salesforce_id(element, "Id", path)
    sobject = _only(element, OUTBOUND_NS, "sObject", path)
    sobject_path = f"{path}/sObject"
    sobject_type = _sobject_type(sobject, sobject_path)
    fields: dict[str, str | None] = {}
    nulled: list[str] = []
    for child in sobject:
        name = _local(child)
        child_path = f"{sobject_path}/{name}"
        if not child.tag.startswith(f"{{{SOBJECT_NS}}}"):
            raise InvalidMessageError(child_path, f"fields must be in namespace {SOBJECT_NS}")
        value = _field_value(child, child_path)
        if name == "fieldsToNull":  # the sObject type's list of fields set to null
            nulled.append((value or "").strip())
        elif name in fields:
            raise InvalidMessageError(child_path, "appears more than once")
        else:
            fields[name] = value
    fields.update(dict.fromkeys(n for n in nulled if n))
    sobject_id = (fields.get("Id") or "").strip()
    if not _ID.fullmatch(sobject_id):
        raise InvalidMessageError(f"{sobject_path}/Id",
                                  "missing or not a 15- or 18-character Salesforce id")
    return Notification(notification_id, sobject_type, sobject_id, fields)


def read_notifications(envelope: Envelope) -> OutboundMessage:
    """Read the 1 to 100 notifications; ``InvalidMessageError`` names the first at fault.

    Positions are 1-based, as in XPath: ``Notification[2]`` is the second one.
    """
    count = len(envelope.notification_elements)
    if not 1 <= count <= MAX_NOTIFICATIONS:
        raise InvalidMessageError("notifications/Notification",
                                  f"{count} found; 1 to {MAX_NOTIFICATIONS} expected")
    return OutboundMessage(
        envelope.organization_id, envelope.action_id,
        tuple(_notification(e, i) for i, e in enumerate(envelope.notification_elements, 1)))


def parse_outbound_message(body: bytes, max_bytes: int) -> OutboundMessage:
    """``parse_envelope`` then ``read_notifications``, for callers that check nothing between."""
    return read_notifications(parse_envelope(body, max_bytes))


def org_accepted(organization_id: str, accepted: Iterable[str]) -> bool:
    """Whether the org is configured, in either id form.

    An 18-character id is the 15-character one plus a checksum of its letters' case, so
    both forms are compared on their first 15 characters, case-sensitively.
    """
    if not _ID.fullmatch(organization_id):
        return False
    prefix = organization_id[:15]
    return any(_ID.fullmatch(a.strip()) and a.strip()[:15] == prefix for a in accepted)


def soap_fault(faultstring: str, faultcode: Literal["Client", "Server"] = "Client") -> bytes:
    """A SOAP 1.1 Fault envelope; ``faultcode`` is ``Client`` (the message) or ``Server``."""
    text = escape("".join(c for c in faultstring if c.isprintable() or c in "\t\n"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:{faultcode}</faultcode><faultstring>{text}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()
