"""Scoring, qualification, classification and routing: one pure function from a record to a
decision."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.contracts.events import (
    LeadRouted,
    MatchedAccount,
    OwnerAssignment,
    ScoreLine,
    Stage,
)
from services.router.account_matching import AccountMatch
from services.router.golden_record import GoldenRecord, lead_fields, lead_view
from services.router.name_based_ids import uuid5_text
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
    return uuid5_text(_DECISION_NAMESPACE, f"{caused_by}:{ruleset_version}")


@dataclass(frozen=True)
class Decision:
    """A decision to publish, and what the record keeps with it: the recycle rules whose
    conditions held (a recycle rule acts only when its condition starts to hold, so a lead
    it recycled can qualify again while, say, Salesforce still says "Recycled")."""

    routed: LeadRouted
    recycle_held: tuple[str, ...] = ()
    # The pool that must pick the owner; until it does, the pool's fallback holds the lead.
    awaiting_pool: str | None = None


@dataclass(frozen=True)
class _Staged:
    stage: Stage
    matched: str | None
    recycle_held: tuple[str, ...]


def _next_stage(previous: Stage | None, proposed: Stage) -> Stage:
    if previous is None:
        return proposed
    if _RANK[proposed] < _RANK[previous]:
        return previous
    # A recycled lead stays recycled until a stage rule qualifies it again (mql or beyond).
    if previous == "recycled" and _RANK[proposed] <= _RANK["recycled"]:
        return previous
    return proposed


@functools.lru_cache(maxsize=1024)
def _score_line(rule: str, points: int) -> ScoreLine:
    # Frozen, and the same for every lead a rule scores: built (and validated) once.
    return ScoreLine(rule=rule, points=points)


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


def _stage(rules: RuleSet, record: GoldenRecord, bindings: Bindings) -> _Staged:
    """Recycle when a recycle rule starts to hold; otherwise the first stage rule that
    holds, never moving backwards. ``bindings`` carry the stage before this decision."""
    holds = which_hold(rules.groups.recycle, bindings)
    held = tuple(r.name for r, ok in zip(rules.recycle, holds, strict=True) if ok)
    fired = next((name for name in held if name not in record.recycle_held), None)
    if fired is not None and record.stage != "recycled":
        return _Staged("recycled", f"recycle.{fired}", held)
    first = first_holding(rules.groups.stages, bindings)
    if first is None:
        return _Staged(_next_stage(record.stage, "lead"), None, held)
    proposed = rules.stages[first].stage
    return _Staged(_next_stage(record.stage, proposed), f"stages.{proposed}", held)


def _classify(rules: RuleSet, bindings: Bindings) -> str | None:
    """The first class whose condition holds, else the default (last); None without any."""
    if not rules.classification:
        return None
    groups = rules.groups
    first = first_holding(groups.class_conditions, bindings)
    return groups.classes[first].name if first is not None else rules.classification[-1].name


def _first_route(rules: RuleSet, bindings: Bindings, has_owner: bool,
                 has_account: bool) -> Route:
    """The first entry whose condition holds and that can name an owner: `keep` only for
    leads with an owner, `account_owner` only for leads that matched an account.

    The default entry (no condition) is last and catches every other lead.
    """
    groups = rules.groups
    holds = which_hold(groups.route_conditions, bindings)
    for route, ok in zip(groups.routes, holds, strict=True):
        kind = route.assign.kind
        if ok and (kind != "keep" or has_owner) and (kind != "account_owner" or has_account):
            return route
    return rules.routes[-1]


def _owner(rules: RuleSet, route: Route, current: OwnerAssignment | None,
           match: AccountMatch | None) -> tuple[OwnerAssignment, str | None]:
    """The owner and, for a pool route that needs a pick, the pool's name."""
    if route.assign.kind == "keep" and current is not None:
        return current.model_copy(update={"route": route.name}), None
    if route.assign.kind == "account_owner" and match is not None:
        return OwnerAssignment(kind="user", email=match.account.owner, route=route.name), None
    if route.assign.kind == "pool":
        pool = rules.pool(route.assign.email)
        assert pool is not None, "the loader checks that routed pools exist"
        members = {m.email for m in pool.members}
        if current is not None and current.kind == "user" and current.email in members:
            # Re-routing an owned lead to its owner's own pool keeps the owner (no new pick,
            # no capacity used), as LeanData's round robin does with "keep existing owner".
            return OwnerAssignment(kind="user", email=current.email, route=route.name,
                                   pool=pool.name, explanation=f"kept: {current.email} "
                                   f"already owns the lead and is in pool {pool.name}"), None
        return OwnerAssignment(kind="queue", email=pool.fallback, route=route.name,
                               pool=pool.name), pool.name
    kind: Literal["user", "queue"] = "queue" if route.assign.kind == "queue" else "user"
    return _fixed_owner(kind, route.assign.email, route.name), None


@functools.lru_cache(maxsize=1024)
def _fixed_owner(kind: Literal["user", "queue"], email: str, route: str) -> OwnerAssignment:
    # Frozen, and the same for every lead a route with a fixed owner takes: built once.
    return OwnerAssignment(kind=kind, email=email, route=route)


def _matched_account(match: AccountMatch | None) -> MatchedAccount | None:
    if match is None:
        return None
    return MatchedAccount(name=match.account.name, owner=match.account.owner,
                          matched_by=match.matched_by, matched_on=match.matched_on)


def evaluate(rules: RuleSet, record: GoldenRecord, caused_by: str, now: datetime) -> Decision:
    """Match the lead's account; score, recycle or qualify, classify and route it. The
    decision lists every rule that matched, in that order."""
    lead = lead_view(record)
    match = rules.accounts.match(str(lead["email"]), str(lead["company"]))
    account = match.account.name if match else ""
    matched = [f"accounts.{account}"] if match else []
    breakdown: list[ScoreLine] = []
    fit = Bindings(lead, account=account)
    for rule, holds in zip(rules.scoring, which_hold(rules.groups.scoring, fit), strict=True):
        if holds:
            breakdown.append(_score_line(rule.name, rule.points))
            matched.append(f"scoring.{rule.name}")
    for line in engagement_points(rules.engagement, record, now):
        breakdown.append(line)
        matched.append(line.rule)
    score = sum(line.points for line in breakdown)

    current = record.last_decision.owner if record.last_decision else None
    owner = current.email if current else ""
    before = record.stage or "lead"
    staging = Bindings(lead, score, before, owner, account)
    staged = _stage(rules, record, staging)
    matched += [staged.matched] if staged.matched else []
    # Classification sees the new stage: the same bindings when the stage did not change.
    classification = _classify(rules, staging if staged.stage == before else
                               Bindings(lead, score, staged.stage, owner, account))
    matched += [f"classification.{classification}"] if classification else []
    route = _first_route(rules, Bindings(lead, score, staged.stage, owner, account,
                                         classification or ""),
                         has_owner=current is not None, has_account=match is not None)
    matched.append(f"routing.{route.name}")
    assignment, awaiting_pool = _owner(rules, route, current, match)
    routed = LeadRouted(
        decision_id=decision_id(caused_by, rules.version),
        lead_key=record.lead_key,
        caused_by=caused_by,
        ruleset_version=rules.version,
        decided_at=now,
        score=score,
        score_breakdown=breakdown,
        stage=staged.stage,
        owner=assignment,
        matched_rules=matched,
        lead=lead_fields(record),
        classification=classification,
        account=_matched_account(match),
        previous_stage=record.stage,
        previous_score=record.last_decision.score if record.last_decision else None,
        salesforce_status=record.salesforce_status,
        salesforce_status_reason=record.salesforce_status_reason,
        field_sources={name: value.source for name, value in record.fields.items()},
    )
    return Decision(routed, staged.recycle_held, awaiting_pool)


def decide(rules: RuleSet, record: GoldenRecord, caused_by: str, now: datetime) -> LeadRouted:
    """Score, qualify, classify and route one lead (``evaluate`` without the record's part)."""
    return evaluate(rules, record, caused_by, now).routed
