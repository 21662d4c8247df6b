"""Report math: the IOP hours ledger and the attendance rates / absence policy (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from iop_facilitator.errors import InvalidInput
from iop_facilitator.services.reports import attendance_report, hours_ledger, parse_week
from tests.exports import attendance_clinic


@pytest.fixture
def clinic(db, prebuilt):
    return prebuilt(db, "attendance_clinic", attendance_clinic.build)


def test_parse_week() -> None:
    assert parse_week("2026-W11") == (dt.date(2026, 3, 9), dt.date(2026, 3, 15))
    assert parse_week("2026w1") == (dt.date(2025, 12, 29), dt.date(2026, 1, 4))
    for bad in ("2026-11", "W11", "2026-W54", "2026-W00", ""):
        with pytest.raises(InvalidInput):
            parse_week(bad)


def test_hours_ledger(db, clinic) -> None:
    with db.session() as s:
        ledger = hours_ledger(s, "2026-W11")
    rows = {r.display_name: r for r in ledger.rows}
    assert ledger.monday == dt.date(2026, 3, 9) and ledger.week == "2026-W11"
    assert set(rows) == {"Jordan M.", "=HYPERLINK(1)", "Zo\u00eb W.", "Ana R."}

    jordan = rows["Jordan M."]  # Mon 3 h IOP + Wed 1.5 h OP (unsigned meetings count here)
    assert jordan.minutes_by_day == (180, 0, 90, 0, 0, 0, 0)
    assert jordan.level_of_care == "IOP" and jordan.weekly_target_hours == 9.0
    assert jordan.hours == 4.5 and jordan.short_hours == 4.5 and jordan.short_days == ()

    hyper = rows["=HYPERLINK(1)"]  # left early Monday: 2 h on a per-diem day
    assert hyper.minutes_by_day[0] == 120 and hyper.short_hours == 7.0
    assert hyper.short_days == (dt.date(2026, 3, 9),)

    zoe = rows["Zo\u00eb W."]  # adolescent telehealth IOP: 6 h threshold
    assert zoe.audience == "adolescent" and zoe.weekly_target_hours == 6.0 and zoe.short_hours == 3.0

    ana = rows["Ana R."]  # enrolled, absent: the whole week short, no per-diem day
    assert ana.total_minutes == 0 and ana.short_hours == 9.0 and ana.short_days == ()
    assert {r.display_name for r in ledger.short} == set(rows)


def test_hours_ledger_group_filter_and_thresholds(db, clinic) -> None:
    from iop_facilitator.services.settings import update_settings

    with db.session() as s:
        ledger = hours_ledger(s, "2026-W11", group_id=uuid.UUID(clinic.aftercare))
    # Only Jordan is in the OP group; his hours still count every group he attended.
    assert [(r.display_name, r.total_minutes, r.weekly_target_hours) for r in ledger.rows] == [("Jordan M.", 270, 9.0)]
    with db.begin() as s:
        update_settings(s, weekly_hours_adult=4.0, per_diem_daily_hours=1.5)
    with db.session() as s:
        rows = {r.display_name: r for r in hours_ledger(s, "2026-W11").rows}
    assert not rows["Jordan M."].short
    assert rows["=HYPERLINK(1)"].short_days == () and rows["=HYPERLINK(1)"].short_hours == 2.0
    with db.session() as s:
        later = hours_ledger(s, "2026-W20")  # still enrolled, no meetings: on the ledger with zero hours
    assert len(later.rows) == 4 and all(r.total_minutes == 0 for r in later.rows)
    with db.session() as s:
        assert hours_ledger(s, "2026-W04").rows == ()  # before anyone was enrolled


def test_attendance_report(db, clinic) -> None:
    with db.session() as s:
        report = attendance_report(s, since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 31))
    members = {m.display_name: m for m in report.members}
    ana = members["Ana R."]
    assert (ana.counts.attended, ana.counts.excused, ana.counts.unexcused, ana.counts.rate) == (0, 1, 1, 0.0)
    assert ana.absences_in_window == 2 and ana.over_limit and ana.near_limit
    assert [m.display_name for m in report.past_policy] == ["Ana R."]
    jordan = members["Jordan M."]
    assert jordan.counts.attended == 3 and jordan.counts.rate == 1.0 and not jordan.near_limit
    hyper = members["=HYPERLINK(1)"]
    assert (hyper.counts.late, hyper.counts.left_early, hyper.counts.attended) == (0, 2, 2)
    groups = {g.name: g for g in report.groups}
    evening = groups['Evening IOP, "North"']
    assert evening.meetings == 2 and evening.counts.attended == 4 and evening.counts.expected == 6
    assert evening.counts.rate == round(4 / 6, 4)
    assert groups["Aftercare OP"].counts.rate == 1.0


def test_attendance_report_window_and_group(db, clinic) -> None:
    with db.session() as s:
        # Default period: the policy window (12 weeks) up to "today".
        report = attendance_report(s, today=dt.date(2026, 3, 12))
        assert report.until == dt.date(2026, 3, 12) and report.since == dt.date(2025, 12, 19)
        assert [m.display_name for m in report.past_policy] == ["Ana R."]
        # Only the first meeting: one absence = near the limit of 1, not past it.
        early = attendance_report(s, since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 6))
        ana = next(m for m in early.members if m.display_name == "Ana R.")
        assert ana.absences_in_window == 1 and ana.near_limit and not ana.over_limit
        tele = attendance_report(s, since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 31), group_id=uuid.UUID(clinic.tele))
        assert [m.display_name for m in tele.members] == ["Zo\u00eb W."] and len(tele.groups) == 1
        with pytest.raises(InvalidInput):
            attendance_report(s, since=dt.date(2026, 4, 1), until=dt.date(2026, 3, 1))
