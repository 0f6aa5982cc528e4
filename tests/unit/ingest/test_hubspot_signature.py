"""HubSpot request signatures: published vectors, v3 URI decoding, the two-sided window.

Published vectors (secret ``yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy`` in all of them):
* HubSpot's "v1 request validation" / "v2 request validation" pages (developers.hubspot.com),
  repeated in hubspot-api-nodejs ``test/unit/signature.spec.ts`` and hubspot-api-php
  ``tests/Unit/Utils/SignatureTest.php``: v1 232db26…, v2 GET eee2ddd…, v2 POST 9569219….
* hubspot-api-python ``tests/spec/utils/test_signature.py``: v1 69fc663…, v2 4fe4e3a…, and
  the only fixed v3 vector, HPW73Ru… (timestamp 15000000).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.ingest.hubspot_signature import (
    MAX_SKEW_MS,
    SIGNATURE_HEADER,
    SIGNATURE_V3_HEADER,
    SIGNATURE_VERSION_HEADER,
    TIMESTAMP_HEADER,
    Failure,
    SignedRequest,
    decode_uri,
    request_uri,
    sign_v1,
    sign_v2,
    sign_v3,
    verify,
)
from services.ingest.settings import IngestSettings

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
DOCS_BODY = (b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
             b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
             b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]')
SDK_BODY = b"{'example_field':'example_value'}"
JSON_BODY = b'{"example_field":"example_value"}'
NOW = 1_764_000_000_000


def v3_request(uri: str = URI, body: bytes = JSON_BODY, at: int = NOW, secret: str = SECRET,
               method: str = "POST") -> SignedRequest:
    """A request signed as HubSpot's guide describes, computed here independently."""
    message = f"{method}{decode_uri(uri)}".encode() + body + str(at).encode()
    signed = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return SignedRequest(method, uri, body, {SIGNATURE_V3_HEADER: signed.decode(),
                                             TIMESTAMP_HEADER: str(at)})


# --- published vectors ---------------------------------------------------------------


def test_given_hubspots_published_v1_example_when_signed_then_the_documented_hash():
    assert sign_v1(SECRET, DOCS_BODY) == (
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de")


def test_given_the_python_sdks_v1_vector_when_signed_then_its_hash():
    assert sign_v1(SECRET, SDK_BODY) == (
        "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750")


def test_given_hubspots_published_v2_get_example_when_signed_then_the_documented_hash():
    assert sign_v2(SECRET, "GET", URI, b"") == (
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e")


@pytest.mark.parametrize(("body", "expected"), [
    (JSON_BODY, "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"),
    (SDK_BODY, "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"),
])
def test_given_the_sdks_v2_post_vectors_when_signed_then_their_hashes(body, expected):
    assert sign_v2(SECRET, "POST", URI, body) == expected


def test_given_the_python_sdks_v3_vector_when_signed_then_its_signature():
    assert sign_v3(SECRET, "POST", URI, SDK_BODY, "15000000") == (
        "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=")


def test_given_the_python_sdks_v3_vector_when_verified_at_its_time_then_it_passes():
    request = SignedRequest("POST", URI, SDK_BODY, {
        SIGNATURE_V3_HEADER: "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
        TIMESTAMP_HEADER: "15000000"})
    assert verify(request, SECRET, ["v3"], now_ms=15_000_000).ok


@pytest.mark.parametrize(("version", "expected", "method", "body"), [
    ("v1", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de", "POST",
     DOCS_BODY),
    ("v2", "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e", "GET", b""),
])
def test_given_a_published_legacy_vector_when_its_version_is_enabled_then_it_verifies(
        version, expected, method, body):
    request = SignedRequest(method, URI, body, {SIGNATURE_HEADER: expected,
                                                SIGNATURE_VERSION_HEADER: version})
    result = verify(request, SECRET, ["v3", version], now_ms=NOW)
    assert (result.ok, result.version) == (True, version)


# --- v1/v2 are off unless listed -----------------------------------------------------------


def test_given_default_settings_when_read_then_only_v3_is_accepted():
    field = IngestSettings.model_fields["hubspot_signature_versions"]
    assert field.get_default(call_default_factory=True) == ["v3"]


@pytest.mark.parametrize(("version", "signature"), [
    ("v1", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
    ("v2", "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"),
])
def test_given_a_valid_legacy_signature_when_only_v3_is_accepted_then_refused_naming_v3(
        version, signature):
    request = SignedRequest("POST", URI, DOCS_BODY if version == "v1" else JSON_BODY,
                            {SIGNATURE_HEADER: signature, SIGNATURE_VERSION_HEADER: version})
    result = verify(request, SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.VERSION_NOT_ACCEPTED,
                                               SIGNATURE_V3_HEADER)


def test_given_v2_enabled_when_the_v2_signature_is_wrong_then_bad_signature_names_it():
    request = SignedRequest("POST", URI, JSON_BODY, {SIGNATURE_HEADER: "0" * 64,
                                                     SIGNATURE_VERSION_HEADER: "v2"})
    result = verify(request, SECRET, ["v3", "v2"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.BAD_SIGNATURE, SIGNATURE_HEADER)


def test_given_v3_and_v1_sent_when_v3_is_wrong_then_v1_does_not_rescue_it():
    request = v3_request(secret="another-secret")
    headers = {**request.headers, SIGNATURE_HEADER: sign_v1(SECRET, request.body),
               SIGNATURE_VERSION_HEADER: "v1"}
    result = verify(SignedRequest("POST", URI, request.body, headers), SECRET,
                    ["v3", "v1"], now_ms=NOW)
    assert result.failure is Failure.BAD_SIGNATURE


# --- v3: the URI HubSpot signs --------------------------------------------------------------


def test_given_every_listed_escape_when_decoded_then_each_becomes_its_character():
    encoded = "https://h.example/p?q=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B"
    assert decode_uri(encoded) == "https://h.example/p?q=:/?@!$'()*,;"


def test_given_lower_case_escapes_when_decoded_then_they_are_decoded_too():
    assert decode_uri("/p?email=ada%40example.com%2cbob") == "/p?email=ada@example.com,bob"


@pytest.mark.parametrize("kept", ["%20", "%26", "%3D", "%2B", "%25", "%23", "%E2%82%AC"])
def test_given_an_escape_hubspot_does_not_list_when_decoded_then_it_stays(kept):
    assert decode_uri(f"/p?v=a{kept}b") == f"/p?v=a{kept}b"


def test_given_an_encoded_percent_before_a_listed_code_when_decoded_then_no_double_decoding():
    assert decode_uri("/p?v=%253A") == "/p?v=%253A"


def test_given_a_query_with_escapes_when_signed_over_the_decoded_uri_then_it_verifies():
    as_received = "https://hooks.example.com/webhooks/hubspot?portal=62515&user=ada%40x.io"
    request = v3_request(uri=as_received)
    message = (b"POSThttps://hooks.example.com/webhooks/hubspot?portal=62515&user=ada@x.io"
               + JSON_BODY + str(NOW).encode())
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    assert request.headers[SIGNATURE_V3_HEADER] == expected.decode()
    assert verify(request, SECRET, ["v3"], now_ms=NOW).ok


@pytest.mark.parametrize(("base", "path", "query", "expected"), [
    ("https://hooks.example.com", "/webhooks/hubspot", "",
     "https://hooks.example.com/webhooks/hubspot"),
    ("https://hooks.example.com/accord/", "/webhooks/hubspot", "a=1&b=%40",
     "https://hooks.example.com/accord/webhooks/hubspot?a=1&b=%40"),
])
def test_given_the_public_base_url_when_the_uri_is_built_then_path_and_query_follow_it(
        base, path, query, expected):
    assert request_uri(base, path, query) == expected


# --- v3: failures say what failed -----------------------------------------------------------


def test_given_a_correct_v3_signature_when_verified_then_ok():
    result = verify(v3_request(), SECRET, ["v3"], now_ms=NOW)
    assert (result.ok, result.version, result.failure) == (True, "v3", None)


def test_given_header_names_in_another_case_when_verified_then_they_are_found():
    request = v3_request()
    lowered = {k.lower(): v for k, v in request.headers.items()}
    assert verify(SignedRequest("POST", URI, JSON_BODY, lowered), SECRET, ["v3"],
                  now_ms=NOW).ok


@pytest.mark.parametrize("change", ["secret", "body", "method", "uri", "timestamp"])
def test_given_anything_signed_changed_when_verified_then_bad_signature_names_the_header(
        change):
    request = v3_request()
    secret, body, method, uri, headers = SECRET, request.body, "POST", URI, dict(request.headers)
    if change == "secret":
        secret = "wrong-secret"
    elif change == "body":
        body = body.replace(b"example_value", b"other_value")
    elif change == "method":
        method = "PUT"
    elif change == "uri":
        uri = URI + "?x=1"
    else:
        headers[TIMESTAMP_HEADER] = str(NOW + 1)
    result = verify(SignedRequest(method, uri, body, headers), secret, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.BAD_SIGNATURE, SIGNATURE_V3_HEADER)


def test_given_no_signature_when_verified_then_missing_header_names_v3():
    result = verify(SignedRequest("POST", URI, JSON_BODY, {}), SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.MISSING_HEADER, SIGNATURE_V3_HEADER)


def test_given_no_timestamp_when_verified_then_missing_header_names_the_timestamp():
    request = v3_request()
    headers = {SIGNATURE_V3_HEADER: request.headers[SIGNATURE_V3_HEADER]}
    result = verify(SignedRequest("POST", URI, JSON_BODY, headers), SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.MISSING_HEADER, TIMESTAMP_HEADER)


@pytest.mark.parametrize("timestamp", ["", "soon", "-1", "1.5e12", "1764000000.000",
                                       "99999999999999999"])
def test_given_a_timestamp_that_is_not_milliseconds_when_verified_then_malformed(timestamp):
    headers = {SIGNATURE_V3_HEADER: "x", TIMESTAMP_HEADER: timestamp}
    result = verify(SignedRequest("POST", URI, JSON_BODY, headers), SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.MALFORMED_TIMESTAMP, TIMESTAMP_HEADER)


def test_given_no_client_secret_configured_when_verified_then_refused():
    result = verify(v3_request(), "", ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.NOT_CONFIGURED, SIGNATURE_V3_HEADER)


# --- the window is two-sided ----------------------------------------------------------------


@pytest.mark.parametrize("offset", [-MAX_SKEW_MS, -1, 0, 1, MAX_SKEW_MS])
def test_given_a_timestamp_within_five_minutes_either_way_when_verified_then_ok(offset):
    assert verify(v3_request(at=NOW + offset), SECRET, ["v3"], now_ms=NOW).ok


def test_given_a_timestamp_older_than_five_minutes_when_verified_then_stale():
    result = verify(v3_request(at=NOW - MAX_SKEW_MS - 1), SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.STALE_TIMESTAMP, TIMESTAMP_HEADER)


def test_given_a_timestamp_more_than_five_minutes_ahead_when_verified_then_future():
    result = verify(v3_request(at=NOW + MAX_SKEW_MS + 1), SECRET, ["v3"], now_ms=NOW)
    assert (result.failure, result.header) == (Failure.FUTURE_TIMESTAMP, TIMESTAMP_HEADER)


def test_given_a_timestamp_in_seconds_when_verified_then_stale_not_accepted():
    result = verify(v3_request(at=NOW // 1000), SECRET, ["v3"], now_ms=NOW)
    assert result.failure is Failure.STALE_TIMESTAMP
