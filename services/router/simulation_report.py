"""A simulation report for people and for programs: a terminal table, or JSON data.

Lead keys (emails) are shown as pseudonyms unless asked for: a report is often pasted into a
ticket or a chat.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.log_redaction import pseudonym
from services.router.simulation import SimulationReport


def report_as_json(report: SimulationReport, show_emails: bool = False) -> dict[str, Any]:
    """The report as plain JSON data; lead keys pseudonymised unless ``show_emails``."""
    data = asdict(report)
    data["mean_score_delta"] = report.mean_score_delta
    for table in ("owners", "routes", "stages", "pool_members", "sla_load"):
        data[table] = [{**asdict(row), "delta": row.delta} for row in getattr(report, table)]
    for change in data["changed"]:
        change["lead_key"] = _lead(change["lead_key"], show_emails)
    return data


def _lead(key: str, show_emails: bool) -> str:
    return key if show_emails else pseudonym(key)


def render_report(report: SimulationReport, show_emails: bool = False, shown: int = 20,
                  ) -> str:
    """The report as text for a terminal: counts, distributions, the first changed leads."""
    skipped = sum(report.events_skipped.values())
    kinds = ", ".join(f"{t}: {n}" for t, n in report.events_skipped.items())
    lines = [
        f"Candidate {report.candidate_version} against current {report.current_version}",
        f"Replayed {report.events_replayed} events for {report.leads} leads "
        f"({_plural(report.events_duplicate, 'duplicate')}); skipped {skipped}"
        + (f" ({kinds})" if kinds else "") + f", invalid {report.events_invalid}",
        f"Changes: {report.owner_changes} change owner, {report.stage_changes} change stage, "
        f"{report.route_changes} change route",
        f"Score: mean {report.mean_score_current:.1f} -> {report.mean_score_candidate:.1f} "
        f"(delta {report.mean_score_delta:+.1f}); {report.score_changes} leads score differently",
    ]
    for title, rows in (("owner", report.owners), ("route", report.routes),
                        ("stage", report.stages), ("pool / member", report.pool_members),
                        ("SLA clocks started", report.sla_load)):
        if not rows:
            continue
        lines += ["", *_table([title, "current", "candidate", "delta"],
                              [[r.name, str(r.current), str(r.candidate), f"{r.delta:+d}"]
                               for r in rows])]
    if report.changed:
        lines += ["", f"Changed leads ({len(report.changed)}):"]
        lines += _table(["lead", "owner", "stage"], [
            [_lead(c.lead_key, show_emails), f"{c.owner_before} -> {c.owner_after}",
             f"{c.stage_before} -> {c.stage_after}"] for c in report.changed[:shown]])
        if len(report.changed) > shown:
            lines.append(f"... and {len(report.changed) - shown} more")
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    # Names left-aligned, numbers right-aligned so that digits line up.
    numeric = [i > 0 and all(r[i].lstrip("+-").isdigit() for r in rows) for i in range(len(header))]
    return ["  ".join(cell.rjust(w) if num else cell.ljust(w)
                      for cell, w, num in zip(row, widths, numeric, strict=True)).rstrip()
            for row in [header, *rows]]
