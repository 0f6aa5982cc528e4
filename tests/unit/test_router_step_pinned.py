"""The router step's output on a fixed stream, pinned: a change meant to be faster only must
leave every published byte and every stored state byte as it was.

The streams are the step bench's (new leads; then re-captures, engagements, revenue,
Salesforce status changes and redeliveries of the same leads). ``ce_time`` is the only
part left out: it is the wall-clock time of publishing. When a change is meant to alter
decisions or the golden record, check the difference, then print the new digests with
``python -m tests.unit.test_router_step_pinned`` and update them here.
"""

from __future__ import annotations

import hashlib
import json

from bench.router_step_bench import RULES, captured_stream, mixed_stream, run
from services.contracts.events import (
    LEAD_QUALIFIED,
    LEAD_SCORED,
    LeadQualified,
    LeadRouted,
    LeadScored,
)
from services.router.announcements import SAME_FIELDS_AS_DECISION
from services.router.rules.loader import load_rules

# Re-pinned when decisions gained `salesforce_status` and `field_sources` (contract, additive):
# with those two fields left out, every published and stored value equals the previous pin's.
PINNED = {
    "published": "ff764bb244323d1fc7845dc72dc4b48b2e98fde97f4d40bd820512ffa6466a3b",
    "stored": "ff33eb2212e8701d8c9e3661fb46f2193aacb6bdc234f68db1e1ceb8292bafea",
}


def digests() -> dict[str, str]:
    rules = load_rules(RULES)
    published, stored = hashlib.sha256(), hashlib.sha256()
    for stream in (captured_stream(400), mixed_stream(1200), mixed_stream(600, seed=11)):
        _, store, outputs = run(rules, stream)
        for out in outputs:
            headers = [(name, raw.decode()) for name, raw in out.headers if name != "ce_time"]
            published.update(json.dumps([out.kind, out.key.decode(), out.value.decode(),
                                         headers]).encode() + b"\n")
        for key in sorted(store):
            stored.update(json.dumps([key, store[key].decode()]).encode() + b"\n")
    return {"published": published.hexdigest(), "stored": stored.hexdigest()}


def test_given_the_bench_streams_then_the_step_publishes_and_stores_the_pinned_bytes():
    assert digests() == PINNED


def test_given_a_decision_then_the_announcements_sharing_its_fields_serialize_as_it_does():
    # publish_decision reuses the decision's JSON for these: it must be theirs too.
    assert {LeadScored, LeadQualified} <= SAME_FIELDS_AS_DECISION
    _, _, outputs = run(load_rules(RULES), captured_stream(60))
    decisions = [out for out in outputs if out.kind == "decisions"]
    checked = 0
    for out in decisions:
        kind = dict(out.headers)["ce_type"].decode()
        model = {LEAD_SCORED: LeadScored, LEAD_QUALIFIED: LeadQualified}.get(kind)
        if model is not None:
            routed = LeadRouted.model_validate_json(out.value)
            assert model(**dict(routed)).model_dump_json().encode() == out.value
            checked += 1
    assert checked > 60


if __name__ == "__main__":
    print(json.dumps(digests(), indent=4))
