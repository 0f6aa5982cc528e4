"""The rule set a RevOps engineer writes, once loaded and checked: immutable values."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from services.contracts.events import LeadFields, Stage
from services.router.account_matching import AccountBook
from services.router.pools import Pool
from services.router.rules.cel_conditions import Condition, ConditionGroup, condition_group
from services.router.sla import SlaPolicy


@dataclass(frozen=True)
class ScoringRule:
    """Points a lead earns when its condition holds."""

    name: str
    when: Condition
    points: int


@dataclass(frozen=True)
class StageRule:
    """A lifecycle stage a lead reaches when its condition holds (checked in file order)."""

    stage: Stage
    when: Condition


@dataclass(frozen=True)
class RecycleRule:
    """Sends a lead back to ``recycled`` when its condition starts to hold: the only way a
    stage moves backwards."""

    name: str
    when: Condition


@dataclass(frozen=True)
class LeadClass:
    """A named class of leads (e.g. warm, cold); the first whose condition holds is the
    lead's, the default (no condition) catches the rest."""

    name: str
    when: Condition | None


@dataclass(frozen=True)
class Assignment:
    """Who gets the lead: a user or a queue named by email, ``keep`` its current owner,
    ``account_owner``, the owner of the known account the lead matched, or the next member
    of a round-robin ``pool`` (``email`` then holds the pool's name)."""

    kind: Literal["user", "queue", "keep", "account_owner", "pool"]
    email: str


@dataclass(frozen=True)
class Route:
    """One routing entry; the first whose condition holds wins, ``default`` catches the rest."""

    name: str
    when: Condition | None
    assign: Assignment
    sla: str | None = None  # the first-touch SLA (in `slas`) the new owner works under

    @property
    def is_default(self) -> bool:
        """The catch-all entry has no condition."""
        return self.when is None


@dataclass(frozen=True)
class Expectation:
    """What an example's decision must show; ``None`` (or no names) leaves a part unchecked."""

    stage: Stage | None = None
    owner: str | None = None
    route: str | None = None
    score: int | None = None
    matched: tuple[str, ...] = ()
    classification: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class Example:
    """A lead in, the expected decision out: kept in the rule file, run before publishing."""

    name: str
    lead: LeadFields
    expect: Expectation
    line: int
    # Revenue booked after the lead was first routed: the example checks the second decision.
    revenue: Decimal | None = None
    # A Lead Status a rep set in Salesforce after the first routing (before any revenue).
    salesforce_status: str | None = None


@dataclass(frozen=True)
class EngagementScoring:
    """Points per engagement action, halving every ``half_life_days`` as the action ages."""

    half_life_days: float
    points: dict[str, int]


@dataclass(frozen=True)
class SectionGroups:
    """Each section's conditions as one group compiled once, in file order; for
    classification and routing, the entries that have a condition, beside theirs."""

    scoring: ConditionGroup
    recycle: ConditionGroup
    stages: ConditionGroup
    classes: tuple[LeadClass, ...]
    class_conditions: ConditionGroup
    routes: tuple[Route, ...]
    route_conditions: ConditionGroup


@dataclass(frozen=True)
class RuleSet:
    """A whole, validated rule file."""

    version: str
    scoring: tuple[ScoringRule, ...]
    stages: tuple[StageRule, ...]
    routes: tuple[Route, ...]
    source: str = "<memory>"
    examples: tuple[Example, ...] = ()
    engagement: EngagementScoring | None = None
    recycle: tuple[RecycleRule, ...] = ()
    classification: tuple[LeadClass, ...] = ()
    accounts: AccountBook = field(default_factory=AccountBook)
    pools: tuple[Pool, ...] = ()
    slas: tuple[SlaPolicy, ...] = ()

    @functools.cached_property
    def groups(self) -> SectionGroups:
        """The sections' conditions grouped for evaluation (built at first use, then kept)."""
        classes = tuple(c for c in self.classification if c.when is not None)
        routes = tuple(r for r in self.routes if r.when is not None)
        return SectionGroups(
            scoring=condition_group(r.when for r in self.scoring),
            recycle=condition_group(r.when for r in self.recycle),
            stages=condition_group(r.when for r in self.stages),
            classes=classes,
            class_conditions=condition_group(c.when for c in classes if c.when is not None),
            routes=routes,
            route_conditions=condition_group(r.when for r in routes if r.when is not None))

    def pool(self, name: str) -> Pool | None:
        """The pool of that name, if the file has one."""
        return next((p for p in self.pools if p.name == name), None)

    def sla(self, name: str) -> SlaPolicy | None:
        """The SLA of that name, if the file has one."""
        return next((s for s in self.slas if s.name == name), None)

    def route(self, name: str) -> Route | None:
        """The routing entry of that name, if the file has one."""
        return next((r for r in self.routes if r.name == name), None)
