"""What a decision announces besides ``lead.routed``: ``lead.scored``, ``lead.qualified`` and
``lead.recycled``, for consumers that care about one kind of change only.

Pure, and derived from the decision alone (it carries the previous stage and score, and
names the recycle rule that fired among its matched rules), with ids derived from the
decision id: re-emitting a decision re-announces exactly the same events, same ids.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from pydantic import BaseModel

from services.contracts.events import (
    LEAD_QUALIFIED,
    LEAD_RECYCLED,
    LEAD_SCORED,
    LeadQualified,
    LeadRecycled,
    LeadRouted,
    LeadScored,
)
from services.router.name_based_ids import uuid5_text

_ANNOUNCEMENT_NAMESPACE = uuid.UUID("0b8d6c1e-3f4a-5b2c-8d7e-9f1a2b3c4d5e")
QUALIFIED_STAGES = ("mql", "sql")
RECYCLE_PREFIX = "recycle."


# (A name of its own: inside ``Announcement`` its field ``type`` hides the builtin.)
Contract = type[BaseModel]


@dataclass(frozen=True)
class Announcement:
    """An event to publish besides the decision: its CloudEvents type, id and ``data``:
    a ``contract`` holding the decision's fields (and ``extra`` ones)."""

    type: str
    event_id: str
    decision: LeadRouted
    contract: Contract
    extra: tuple[tuple[str, str], ...] = ()
    # ``data`` is the decision's own fields under another event type (a contract without a
    # field of its own): its JSON is the decision's, byte for byte, so publishing it can
    # reuse the decision's encoding rather than serialize the same fields again.
    same_json_as_decision: bool = False

    @functools.cached_property
    def data(self) -> BaseModel:
        """The event's data, validated when first asked for: publishing an announcement
        whose JSON is the decision's does not ask (``same_json_as_decision``)."""
        # The validated fields as they are (``dict(decision)`` walks the model: slower).
        return self.contract(**self.decision.__dict__, **dict(self.extra))


def announcement_id(decision_id: str, event_type: str) -> str:
    """Deterministic: the same decision announces the same event under the same id."""
    return uuid5_text(_ANNOUNCEMENT_NAMESPACE, f"{decision_id}:{event_type}")


def recycle_rule_of(decision: LeadRouted) -> str | None:
    """The recycle rule that moved the lead back in this decision, if one did."""
    return next((rule.removeprefix(RECYCLE_PREFIX) for rule in decision.matched_rules
                 if rule.startswith(RECYCLE_PREFIX)), None)


def announcements(decision: LeadRouted) -> tuple[Announcement, ...]:
    """``lead.scored`` when the score changed (or is the lead's first), ``lead.recycled``
    when a recycle rule fired, ``lead.qualified`` when the stage became mql or sql."""
    found: list[tuple[str, Contract, tuple[tuple[str, str], ...]]] = []
    if decision.previous_score is None or decision.previous_score != decision.score:
        found.append((LEAD_SCORED, LeadScored, ()))
    recycle_rule = recycle_rule_of(decision)
    if recycle_rule is not None:
        found.append((LEAD_RECYCLED, LeadRecycled, (("recycle_rule", recycle_rule),)))
    if decision.stage in QUALIFIED_STAGES and decision.stage != decision.previous_stage:
        found.append((LEAD_QUALIFIED, LeadQualified, ()))
    return tuple(Announcement(event_type, announcement_id(decision.decision_id, event_type),
                              decision, contract, extra, contract in SAME_FIELDS_AS_DECISION)
                 for event_type, contract, extra in found)


# The announcements whose contract has exactly the decision's fields (in the same order):
# serialized from the same values, their JSON is the decision's.
SAME_FIELDS_AS_DECISION = frozenset(
    model for model in (LeadScored, LeadQualified, LeadRecycled)
    if list(model.model_fields) == list(LeadRouted.model_fields)
    and model.model_config == LeadRouted.model_config)
