"""Scoring, qualification and routing: one pure function from a record to a decision."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.contracts.events import LeadRouted, OwnerAssignment, ScoreLine, Stage
from services.router.golden_record import GoldenRecord, lead_fields, lead_view
from services.router.rules.cel_conditions import Bindings, first_holding, which_hold
from services.router.rules.model import RuleSet

_DECISION_NAMESPACE = uuid.UUID("6f7c2a8e-5d1b-4b7e-9a3c-2e1f0d9c8b7a")

# Stages move forward only; side states (nurture, disqualified, recycled) sit beside "lead".
_RANK: dict[str, int] = {
    "subscriber": 0, "lead": 1, "nurture": 1, "disqualified": 1, "recycled": 1,
    "mql": 2, "sql": 3, "opportunity": 4, "customer": 5,
}


def decision_id(caused_by: str, ruleset_version: str) -> str:
    """Deterministic: re-deciding the same event with the same rules gives the same id."""
    return str(uuid.uuid5(_DECISION_NAMESPACE, f"{caused_by}:{ruleset_version}"))


def _next_stage(previous: Stage | None, proposed: Stage) -> Stage:
    if previous is not None and _RANK[proposed] < _RANK[previous]:
        return previous
    return proposed


def decide(rules: RuleSet, record: GoldenRecord, caused_by: str, now: datetime) -> LeadRouted:
    """Score, qualify and route one lead; the decision lists every rule that matched."""
    lead = lead_view(record)
    fit = Bindings(lead)
    matched: list[str] = []
    breakdown: list[ScoreLine] = []
    for rule, holds in zip(rules.scoring, which_hold([r.when for r in rules.scoring], fit),
                           strict=True):
        if holds:
            breakdown.append(ScoreLine(rule=rule.name, points=rule.points))
            matched.append(f"scoring.{rule.name}")
    score = sum(line.points for line in breakdown)

    proposed: Stage = "lead"
    scored = Bindings(lead, score)
    first_stage = first_holding([r.when for r in rules.stages], scored)
    if first_stage is not None:
        proposed = rules.stages[first_stage].stage
        matched.append(f"stages.{proposed}")
    stage = _next_stage(record.stage, proposed)

    qualified = Bindings(lead, score, stage)
    # The default route (no condition) is last: it wins when no other entry holds.
    conditional = [r.when for r in rules.routes if r.when is not None]
    first_route = first_holding(conditional, qualified)
    route = rules.routes[first_route if first_route is not None else -1]
    matched.append(f"routing.{route.name}")
    return LeadRouted(
        decision_id=decision_id(caused_by, rules.version),
        lead_key=record.lead_key,
        caused_by=caused_by,
        ruleset_version=rules.version,
        decided_at=now,
        score=score,
        score_breakdown=breakdown,
        stage=stage,
        owner=OwnerAssignment(kind=route.assign.kind, email=route.assign.email, route=route.name),
        matched_rules=matched,
        lead=lead_fields(record),
    )
