"""The rule file's `pools` and `slas` sections: who shares leads, and how fast they must act.

```yaml
pools:
  - name: emea_sdr
    fallback: emea-queue@example.com      # gets the lead when no member can
    members:
      - {email: maria@example.com, weight: 2, daily_capacity: 25, timezone: Europe/Berlin,
         hours: [{days: mon-fri, from: "09:00", to: "17:30"}],
         out_of_office: [{from: 2026-12-24, to: 2027-01-01}]}
slas:
  - name: hot_mql
    first_touch: 1h                       # working time, on the calendar below
    calendar: {timezone: Europe/Berlin, hours: [{days: mon-fri, from: "09:00", to: "18:00"}],
               holidays: [2026-12-25]}
    escalate: {to: next_in_pool, manager: emea-manager@example.com}
    max_escalations: 2
```
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Literal, cast

from yaml.nodes import MappingNode, Node, SequenceNode

from services.router.pools import Pool, PoolMember
from services.router.sla import SALESFORCE_TOUCHED_STATUSES, Escalation, SlaPolicy
from services.router.working_hours import (
    EVERY_DAY,
    MIDNIGHT,
    ROUND_THE_CLOCK,
    WorkingCalendar,
    WorkingHours,
)

if TYPE_CHECKING:
    from services.router.rules.reader import NodeReader

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?")
_HOURS_EXAMPLE = '[{days: mon-fri, from: "09:00", to: "17:30"}]'


def _name(reader: NodeReader, fields: dict[str, Node], entry: Node, what: str,
          seen: set[str]) -> str | None:
    name = reader.text(fields.get("name"), entry, "name")
    if name is not None and not _NAME.fullmatch(name):
        reader.problem(fields["name"], f"{what} name `{name}` is not a lower-case word",
                       "write a name like emea_sdr or hot_mql")
        return None
    if name is not None and name in seen:
        reader.problem(fields["name"], f"a second {what} named `{name}`",
                       f"give every {what} its own name")
        return None
    seen.add(name or "")
    return name


def _email(reader: NodeReader, node: Node | None, parent: Node, what: str) -> str | None:
    email = reader.text(node, parent, what)
    if email is not None and "@" not in email:
        reader.problem(cast(Node, node), f"`{email}` is not an email",
                       "owners are named by the email of their CRM user")
        return None
    return email.lower() if email else None


def _whole(reader: NodeReader, node: Node, what: str, hint: str) -> int | None:
    text = reader.text(node, node, what)
    if text is None:
        return None
    if not text.isdigit():
        reader.problem(node, f"{what} `{text}` is not a whole number of 0 or more", hint)
        return None
    return int(text)


def _days(reader: NodeReader, node: Node) -> frozenset[int] | None:
    """``mon-fri``, ``sat`` or a list of day names."""
    texts = ([reader.text(n, node, "days") for n in node.value]
             if isinstance(node, SequenceNode) else [reader.text(node, node, "days")])
    days: set[int] = set()
    for text in texts:
        if text is None:
            return None
        first, _, last = text.lower().partition("-")
        if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
            reader.problem(node, f"days `{text}` are not day names",
                           "write mon-fri, sat, or a list like [mon, wed, fri]")
            return None
        start, end = _DAY_NAMES.index(first), _DAY_NAMES.index(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7),
                                                                *range(end + 1)])
    return frozenset(days)


def _clock_time(reader: NodeReader, node: Node | None, parent: Node, what: str) -> time | None:
    text = reader.text(node, parent, what)
    if text is None:
        return None
    if text in ("24:00", "00:00"):
        return MIDNIGHT
    try:
        return time.fromisoformat(text)
    except ValueError:
        reader.problem(cast(Node, node), f"`{what}: {text}` is not a time of day",
                       f'write it as "HH:MM" in quotes, e.g. {what}: "09:00"')
        return None


def _hours(reader: NodeReader, node: Node) -> tuple[WorkingHours, ...] | None:
    found: list[WorkingHours] = []
    for entry in reader.sequence(node, "hours"):
        fields = reader.mapping(entry, "working hours")
        if fields is None:
            return None
        reader.unknown_keys(fields, {"days", "from", "to"}, "working hours")
        days = _days(reader, fields["days"]) if "days" in fields else EVERY_DAY
        start = _clock_time(reader, fields.get("from"), entry, "from")
        end = _clock_time(reader, fields.get("to"), entry, "to")
        if days is None or start is None or end is None:
            return None
        try:
            found.append(WorkingHours(start, end, days))
        except ValueError as exc:
            reader.problem(entry, str(exc), f"write hours like {_HOURS_EXAMPLE}")
            return None
    return tuple(found)


def _dates(reader: NodeReader, node: Node, what: str) -> list[tuple[date, date]] | None:
    """Single dates or ``{from: ..., to: ...}`` ranges (inclusive)."""
    ranges: list[tuple[date, date]] = []
    for entry in reader.sequence(node, what):
        fields = reader.mapping(entry, what) if isinstance(entry, MappingNode) else None
        texts = ((reader.text(fields.get("from"), entry, "from"),
                  reader.text(fields.get("to"), entry, "to")) if fields is not None
                 else (reader.text(entry, entry, what),) * 2)
        try:
            first, last = (date.fromisoformat(cast(str, t)) for t in texts)
        except (TypeError, ValueError):
            reader.problem(entry, f"{what}: `{texts[0]}` is not a date",
                           "write dates as 2026-12-24, or {from: 2026-12-24, to: 2027-01-01}")
            return None
        ranges.append((first, last))
    return ranges


def _calendar(reader: NodeReader, node: Node) -> WorkingCalendar | None:
    fields = reader.mapping(node, "calendar")
    if fields is None:
        return None
    reader.unknown_keys(fields, {"timezone", "hours", "holidays"}, "calendar")
    zone = reader.text(fields.get("timezone"), node, "timezone")
    hours = _hours(reader, fields["hours"]) if "hours" in fields else None
    if "hours" not in fields:
        reader.problem(node, "a calendar needs `hours`", f"add hours: {_HOURS_EXAMPLE}")
    holidays = _dates(reader, fields["holidays"], "holidays") if "holidays" in fields else []
    if zone is None or hours is None or holidays is None:
        return None
    try:
        calendar = WorkingCalendar(zone, hours, frozenset(
            first + timedelta(days=n) for first, last in holidays
            for n in range((last - first).days + 1)))
    except ValueError as exc:
        reader.problem(fields["timezone"], str(exc), "use an IANA name like Europe/Berlin")
        return None
    if not calendar.has_working_days:
        reader.problem(node, "this calendar never works", "give it hours on some days")
        return None
    return calendar


def _member(reader: NodeReader, entry: Node) -> PoolMember | None:
    fields = reader.mapping(entry, "a pool member")
    if fields is None:
        return None
    reader.unknown_keys(fields, {"email", "weight", "daily_capacity", "timezone", "hours",
                                 "out_of_office"}, "a pool member")
    email = _email(reader, fields.get("email"), entry, "email")
    weight = _whole(reader, fields["weight"], "weight",
                    "weight: 2 gives twice the leads of weight 1; 0 pauses the member") \
        if "weight" in fields else 1
    capacity = _whole(reader, fields["daily_capacity"], "daily_capacity",
                      "daily_capacity: 25 (leads per day in the member's time zone)") \
        if "daily_capacity" in fields else None
    zone = reader.text(fields["timezone"], entry, "timezone") if "timezone" in fields else "UTC"
    hours = _hours(reader, fields["hours"]) if "hours" in fields else None
    away = _dates(reader, fields["out_of_office"], "out_of_office") \
        if "out_of_office" in fields else []
    if email is None or weight is None or zone is None or away is None or (
            "hours" in fields and hours is None) or ("daily_capacity" in fields
                                                     and capacity is None):
        return None
    try:
        return PoolMember(email, weight, capacity, zone, hours, tuple(away))
    except ValueError as exc:
        reader.problem(entry, str(exc), "check the member's time zone (IANA, e.g. "
                       "America/New_York) and out-of-office dates")
        return None


def parse_pools(reader: NodeReader, node: Node) -> list[Pool]:
    """Read `pools`: named round-robin pools with weighted members and a fallback."""
    pools: list[Pool] = []
    seen: set[str] = set()
    for entry in reader.sequence(node, "pools"):
        fields = reader.mapping(entry, "a pool")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "members", "fallback"}, "a pool")
        name = _name(reader, fields, entry, "pool", seen)
        fallback = _email(reader, fields.get("fallback"), entry, "fallback")
        if "members" not in fields:
            reader.problem(entry, "a pool needs `members`",
                           "add members: [{email: rep@example.com, weight: 1}]")
            continue
        entries = reader.sequence(fields["members"], "members")
        members = [_member(reader, m) for m in entries]
        emails = [m.email if m else None for m in members]
        for index, email in enumerate(emails):
            if email is not None and email in emails[:index]:
                reader.problem(entries[index], f"{email} is listed twice in pool {name}",
                               "list every member once")
                members[index] = None
        if not members:
            reader.problem(fields["members"], "a pool needs at least one member",
                           "add members: [{email: rep@example.com}]")
            continue
        if name is None or fallback is None or any(m is None for m in members):
            continue
        pools.append(Pool(name, tuple(cast(list[PoolMember], members)), fallback))
    return pools


def parse_duration(text: str) -> timedelta | None:
    """``1h``, ``30m``, ``1h30m``, ``2d``, ``45s``: None for anything else or zero."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return span if span > timedelta(0) else None


def _escalation(reader: NodeReader, node: Node) -> Escalation | None:
    fields = reader.mapping(node, "escalate")
    if fields is None:
        return None
    reader.unknown_keys(fields, {"to", "manager"}, "escalate")
    to = reader.text(fields.get("to"), node, "to")
    manager = _email(reader, fields["manager"], node, "manager") if "manager" in fields \
        else None
    if to not in ("next_in_pool", "manager"):
        if to is not None:
            reader.problem(fields["to"], f"escalate to `{to}`?",
                           "write `to: next_in_pool` (with an optional manager when nobody "
                           "else can) or `to: manager` with `manager: boss@example.com`")
        return None
    if to == "manager" and manager is None:
        reader.problem(node, "escalating to a manager needs the manager's email",
                       "add `manager: boss@example.com`")
        return None
    return Escalation(cast(Literal["next_in_pool", "manager"], to), manager)


def parse_slas(reader: NodeReader, node: Node) -> list[SlaPolicy]:
    """Read `slas`: first-touch deadlines in working time, and where a lapse escalates."""
    slas: list[SlaPolicy] = []
    seen: set[str] = set()
    for entry in reader.sequence(node, "slas"):
        fields = reader.mapping(entry, "an SLA")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "first_touch", "calendar", "escalate",
                                     "touched_statuses", "max_escalations",
                                     "restart_on_escalation"}, "an SLA")
        name = _name(reader, fields, entry, "SLA", seen)
        text = reader.text(fields.get("first_touch"), entry, "first_touch")
        first_touch = parse_duration(text) if text else None
        if text and first_touch is None:
            reader.problem(fields["first_touch"], f"first_touch `{text}` is not a duration",
                           "write first_touch: 1h (also 30m, 1h30m, 2d; working time)")
        calendar = _calendar(reader, fields["calendar"]) if "calendar" in fields \
            else ROUND_THE_CLOCK
        escalation = _escalation(reader, fields["escalate"]) if "escalate" in fields else None
        if "escalate" not in fields:
            reader.problem(entry, "an SLA needs `escalate`",
                           "add escalate: {to: next_in_pool} or {to: manager, manager: ...}")
        statuses = frozenset(t for t in (reader.text(n, entry, "touched_statuses") for n in
                                         reader.sequence(fields["touched_statuses"],
                                                         "touched_statuses")) if t) \
            if "touched_statuses" in fields else SALESFORCE_TOUCHED_STATUSES
        most = _whole(reader, fields["max_escalations"], "max_escalations",
                      "max_escalations: 2 stops the chain after two") \
            if "max_escalations" in fields else None
        restart = reader.text(fields["restart_on_escalation"], entry,
                              "restart_on_escalation") != "false" \
            if "restart_on_escalation" in fields else True
        if name and first_touch and calendar and escalation and statuses:
            slas.append(SlaPolicy(name, first_touch, calendar, escalation, statuses,
                                  restart, most))
    return slas
