"""Scoring, qualification and routing: one pure function from a record to a decision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from services.contracts.events import LeadRouted, OwnerAssignment, ScoreLine, Stage
from services.router.golden_record import GoldenRecord, lead_fields, lead_view
from services.router.rules.cel_conditions import Bindings, first_holding, which_hold
from services.router.rules.model import EngagementScoring, Route, RuleSet

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


def engagement_points(scoring: EngagementScoring | None, record: GoldenRecord,
                      now: datetime) -> list[ScoreLine]:
    """Points per action for what the lead did, each halving every half-life since it
    happened; one line per action (``engagement.<action>``), in the file's order."""
    if scoring is None:
        return []
    totals: dict[str, float] = {}
    for engaged in record.engagements:
        points = scoring.points.get(engaged.action)
        if points is None:
            continue
        age_days = max(0.0, (now - engaged.at).total_seconds() / 86_400)
        decayed = points * 0.5 ** (age_days / scoring.half_life_days)
        totals[engaged.action] = totals.get(engaged.action, 0.0) + decayed
    return [ScoreLine(rule=f"engagement.{action}", points=round(totals[action]))
            for action in scoring.points if round(totals.get(action, 0.0)) != 0]


def _first_route(rules: RuleSet, bindings: Bindings, has_owner: bool) -> Route:
    """The first entry whose condition holds; `keep` entries only for leads with an owner.

    The default entry (no condition) is last and catches every other lead.
    """
    conditional = [r for r in rules.routes if r.when is not None]
    holds = which_hold([r.when for r in conditional if r.when is not None], bindings)
    for route, ok in zip(conditional, holds, strict=True):
        if ok and (route.assign.kind != "keep" or has_owner):
            return route
    return rules.routes[-1]


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
    for line in engagement_points(rules.engagement, record, now):
        breakdown.append(line)
        matched.append(line.rule)
    score = sum(line.points for line in breakdown)

    proposed: Stage = "lead"
    scored = Bindings(lead, score)
    first_stage = first_holding([r.when for r in rules.stages], scored)
    if first_stage is not None:
        proposed = rules.stages[first_stage].stage
        matched.append(f"stages.{proposed}")
    stage = _next_stage(record.stage, proposed)

    current = record.last_decision.owner if record.last_decision else None
    qualified = Bindings(lead, score, stage, current.email if current else "")
    route = _first_route(rules, qualified, has_owner=current is not None)
    matched.append(f"routing.{route.name}")
    if route.assign.kind == "keep" and current is not None:
        owner = OwnerAssignment(kind=current.kind, email=current.email, route=route.name)
    else:
        kind: Literal["user", "queue"] = "queue" if route.assign.kind == "queue" else "user"
        owner = OwnerAssignment(kind=kind, email=route.assign.email, route=route.name)
    return LeadRouted(
        decision_id=decision_id(caused_by, rules.version),
        lead_key=record.lead_key,
        caused_by=caused_by,
        ruleset_version=rules.version,
        decided_at=now,
        score=score,
        score_breakdown=breakdown,
        stage=stage,
        owner=owner,
        matched_rules=matched,
        lead=lead_fields(record),
    )
