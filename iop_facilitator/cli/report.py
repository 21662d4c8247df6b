"""``iop report``: the IOP hours ledger and attendance rates against the absence policy.

Reports print to the terminal (or ``--json``); they write no files and hold
names, so they are not exports (no notice, no audit entry). Rules live in
:mod:`iop_facilitator.services.reports`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from iop_facilitator.cli.common import open_db, parse_date_range, print_json, print_table, say

app = typer.Typer(help="Reports: IOP hours per week, attendance rates and the absence policy.", no_args_is_help=True)


def _hm(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}" if minutes else "-"


def _group_id(session: Any, group: str | None) -> Any:
    if group is None:
        return None
    from iop_facilitator.services.groups import resolve_group

    return resolve_group(session, group).id


@app.command("hours")
def hours(
    ctx: typer.Context,
    week: Annotated[str, typer.Option("--week", metavar="YYYY-Www", help="The ISO week, e.g. 2026-W09.")],
    group: Annotated[str | None, typer.Option("--group", help="Only members of this group (name or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    short_only: Annotated[bool, typer.Option("--short", help="Only members who fall short.")] = False,
) -> None:
    """Hours of service per member per day and week against the program's IOP thresholds."""
    from iop_facilitator.services.reports import hours_ledger, parse_week

    parse_week(week)  # a bad week is one line before the database is opened
    database = open_db(ctx)
    with database.session() as session:
        ledger = hours_ledger(session, week, group_id=_group_id(session, group))
    rows = ledger.short if short_only else ledger.rows
    if as_json:
        print_json(
            {
                "week": ledger.week,
                "monday": ledger.monday.isoformat(),
                "sunday": ledger.sunday.isoformat(),
                "thresholds": {
                    "weekly_hours_adult": ledger.weekly_hours_adult,
                    "weekly_hours_adolescent": ledger.weekly_hours_adolescent,
                    "per_diem_daily_hours": ledger.per_diem_daily_hours,
                },
                "group": str(ledger.group_id) if ledger.group_id else None,
                "members": [
                    {
                        "member_id": str(r.member_id),
                        "member": r.display_name,
                        "chart_id": r.chart_id,
                        "level_of_care": r.level_of_care,
                        "audience": r.audience,
                        "minutes_by_day": {d.isoformat(): m for d, m in zip(ledger.days, r.minutes_by_day)},
                        "hours": r.hours,
                        "weekly_target_hours": r.weekly_target_hours,
                        "short_hours": r.short_hours,
                        "short_days": [d.isoformat() for d in r.short_days],
                        "short": r.short,
                    }
                    for r in rows
                ],
            }
        )
        return
    # Only the days with any service that week (JSON has all seven), so the table fits a terminal.
    days = [i for i, _ in enumerate(ledger.days) if any(r.minutes_by_day[i] for r in ledger.rows)]
    columns = ["member"] + [ledger.days[i].strftime("%a %d") for i in days] + ["week", "target", "short"]

    def short_text(r: Any) -> str:
        parts = [f"{r.short_hours:g} h"] if r.short_hours else []
        parts += [d.strftime("%a") + " <" for d in r.short_days]
        return ", ".join(parts)

    table = [
        [r.display_name]
        + [_hm(r.minutes_by_day[i]) for i in days]
        + [
            _hm(r.total_minutes),
            f"{r.weekly_target_hours:g} h" if r.weekly_target_hours is not None else "-",
            short_text(r),
        ]
        for r in rows
    ]
    print_table(f"IOP hours, week {ledger.week} ({ledger.monday} to {ledger.sunday})", columns, table, empty="no members that week")
    short = len(ledger.short)
    say(
        f"{short} of {len(ledger.rows)} members fall short "
        f"(adult {ledger.weekly_hours_adult:g} h/week, adolescent {ledger.weekly_hours_adolescent:g} h/week, "
        f"{ledger.per_diem_daily_hours:g} h per per-diem day)"
    )


@app.command("attendance")
def attendance(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="First day (default: the policy window).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Last day (default: today).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group (name or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Attendance rates per member and per group, and who is past the program's absence policy."""
    from iop_facilitator.services.reports import attendance_report

    first, last = parse_date_range(ctx, since, until)
    database = open_db(ctx)
    with database.session() as session:
        report = attendance_report(session, since=first, until=last, group_id=_group_id(session, group))

    def counts(c: Any) -> dict[str, Any]:
        return {
            "attended": c.attended,
            "late": c.late,
            "left_early": c.left_early,
            "absent_excused": c.excused,
            "absent_unexcused": c.unexcused,
            "cancelled": c.cancelled,
            "rate": c.rate,
        }

    if as_json:
        print_json(
            {
                "since": report.since.isoformat(),
                "until": report.until.isoformat(),
                "policy": {"max_absences": report.max_absences, "absence_window_weeks": report.absence_window_weeks},
                "group": str(report.group_id) if report.group_id else None,
                "groups": [
                    {"group_id": str(g.group_id), "group": g.name, "meetings": g.meetings, **counts(g.counts)}
                    for g in report.groups
                ],
                "members": [
                    {
                        "member_id": str(m.member_id),
                        "member": m.display_name,
                        "chart_id": m.chart_id,
                        **counts(m.counts),
                        "absences_in_window": m.absences_in_window,
                        "near_limit": m.near_limit,
                        "over_limit": m.over_limit,
                    }
                    for m in report.members
                ],
                "past_policy": [str(m.member_id) for m in report.past_policy],
            }
        )
        return

    def pct(rate: float | None) -> str:
        return f"{rate * 100:.0f}%" if rate is not None else "-"

    print_table(
        f"Attendance by group, {report.since} to {report.until}",
        ["group", "meetings", "attended", "excused", "unexcused", "rate"],
        [[g.name, g.meetings, g.counts.attended, g.counts.excused, g.counts.unexcused, pct(g.counts.rate)] for g in report.groups],
        empty="no attendance in that period",
    )
    limit = report.max_absences
    print_table(
        f"Attendance by member (absences: {report.absence_window_weeks} weeks to {report.until}, limit {limit})",
        ["member", "attended", "excused", "unexcused", "rate", "absences", "policy"],
        [
            [
                m.display_name,
                m.counts.attended,
                m.counts.excused,
                m.counts.unexcused,
                pct(m.counts.rate),
                f"{m.absences_in_window}/{limit}" if limit else m.absences_in_window,
                "past" if m.over_limit else ("near" if m.near_limit else ""),
            ]
            for m in report.members
        ],
        empty="no members in that period",
    )
    say(
        f"{len(report.past_policy)} members past the absence policy ({limit} in {report.absence_window_weeks} weeks), "
        f"{len(report.near_policy)} near it"
    )
