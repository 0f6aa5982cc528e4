"""Builders for Salesforce Outbound Messages as Salesforce sends them (SOAP 1.1), and the
hostile payloads a parser must refuse. Shared by the unit and integration tests."""

from __future__ import annotations

ORG = "00D5e000000AbCdEAF"
ACTION = "04k5e000000XyZ1AAK"
NOTIFICATION = "04l5e000001QwErAAK"
SESSION = "00D5e000000AbCd!AQ0AQKx.live-session-token"
ENTERPRISE_URL = "https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000AbCd"
PARTNER_URL = "https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000AbCd"
LEAD_FIELDS = ("<sf:Company>Analytical Engines</sf:Company>"
               "<sf:Email>ada@analytical.example</sf:Email><sf:FirstName>Ada</sf:FirstName>"
               "<sf:LastName>Lovelace</sf:LastName><sf:Status>Working</sf:Status>")


def an_sobject(kind: str = "Lead", record_id: str = "00Q5e000004TyUiEAK",
               fields: str = LEAD_FIELDS, type_attribute: str | None = None) -> str:
    typed = f'xsi:type="sf:{kind}"' if type_attribute is None else type_attribute
    return (f'<sObject {typed} xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>{record_id}</sf:Id>{fields}</sObject>")


def a_notification(sobject: str | None = None, notification_id: str = NOTIFICATION) -> str:
    return f"<Notification><Id>{notification_id}</Id>{sobject or an_sobject()}</Notification>"


def a_message(*notifications: str, org: str = ORG, header: str | None = None) -> bytes:
    """An Outbound Message as Salesforce sends it (session id and callback URLs included)."""
    if header is None:
        header = (f"<OrganizationId>{org}</OrganizationId><ActionId>{ACTION}</ActionId>"
                  f"<SessionId>{SESSION}</SessionId><EnterpriseUrl>{ENTERPRISE_URL}"
                  f"</EnterpriseUrl><PartnerUrl>{PARTNER_URL}</PartnerUrl>")
    body = "".join(notifications) if notifications else a_notification()
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n <soapenv:Body>\n'
            '  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">\n'
            f"   {header}\n   {body}\n  </notifications>\n </soapenv:Body>\n"
            "</soapenv:Envelope>").encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">&lol3;
</soapenv:Envelope>"""
EXTERNAL_ENTITY = a_message().replace(
    b"<soapenv:Envelope",
    b'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<soapenv:Envelope').replace(
    b"<sf:Status>Working", b"<sf:Status>&xxe;")
EXTERNAL_DTD = a_message().replace(
    b"<soapenv:Envelope", b'<!DOCTYPE e SYSTEM "http://127.0.0.1:9/evil.dtd">\n<soapenv:Envelope')
