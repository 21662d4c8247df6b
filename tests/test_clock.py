"""Time from one place: ``clock.py`` is the only module that reads the clock, "today" is the
clinic's day, and a test clock (``ManualClock``) drives timers without waiting.

The CLI tests freeze the instant 2026-03-10 10:30 UTC, a moment that is three different days:
Monday 9 March in the clinic's timezone (Pacific/Pago_Pago, UTC-11), Tuesday 10 March in UTC,
and Wednesday 11 March on a machine set to Pacific/Kiritimati (UTC+14).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
import time_machine

from iop_facilitator import clock
from tests.cli.test_cli import iop

PACKAGE = Path(__file__).resolve().parents[1] / "iop_facilitator"
INSTANT = dt.datetime(2026, 3, 10, 10, 30, tzinfo=dt.UTC)
CLINIC_TZ, MACHINE_TZ = "Pacific/Pago_Pago", "Pacific/Kiritimati"
CLINIC_DAY, UTC_DAY, MACHINE_DAY = dt.date(2026, 3, 9), dt.date(2026, 3, 10), dt.date(2026, 3, 11)

# Reading the clock: module.function pairs, and the bare names they are imported as.
CLOCK_READS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "monotonic_ns"),
    ("time", "perf_counter"), ("time", "localtime"), ("time", "gmtime"),
    ("pendulum", "now"), ("pendulum", "today"), ("pendulum", "tomorrow"), ("pendulum", "yesterday"),
    ("DateTime", "now"), ("DateTime", "today"), ("DateTime", "utcnow"), ("Date", "today"),
}
# Where reading the clock directly is right (each with its reason).
ALLOWED = {
    "clock.py": "the one place",
    "audit_chain.py": "standard library only (see its module docstring); the program passes clock.utcnow()",
}


def clock_reads(path: Path, where: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in CLOCK_READS:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node.func)}()")
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime", "pendulum"):
            for alias in node.names:
                if (node.module, alias.name) in CLOCK_READS:
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
    return found


def test_only_clock_py_reads_the_clock() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED or relative.startswith("db/migrations/"):  # migrations are frozen: they import nothing live
            continue
        found += clock_reads(path, f"iop_facilitator/{relative}")
    assert not found, "read the time through iop_facilitator.clock:\n" + "\n".join(found)


def test_the_scan_sees_the_usual_ways_to_read_the_clock(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime as dt, time\nfrom time import monotonic\nimport pendulum\n"
        "a = dt.datetime.now(dt.UTC)\nb = dt.date.today()\nc = time.monotonic()\nd = pendulum.now('UTC')\n"
        "e = pendulum.DateTime.now()\nf = time.perf_counter()\ng = dt.datetime(2026, 1, 1)\n",
        encoding="utf-8",
    )
    assert len(clock_reads(sample, "sample.py")) == 7  # the first import, then a to f; g is a date, not a read


# --------------------------------------------------------------------------- ManualClock


def test_manual_clock_moves_only_when_told_and_runs_what_falls_due_in_order() -> None:
    manual = clock.ManualClock(monotonic=50.0)
    ran: list[tuple[str, float]] = []
    with clock.use(manual):
        start_wall = clock.utcnow()
        assert clock.monotonic() == 50.0
        clock.call_later(0.6, lambda: ran.append(("debounce", clock.monotonic())))
        cancelled = clock.call_later(0.3, lambda: ran.append(("cancelled", clock.monotonic())))
        clock.call_later(1.0, lambda: ran.append(("cap", clock.monotonic())))
        cancelled.stop()
        assert manual.pending == 2
        manual.advance(0.5)
        assert ran == [] and clock.monotonic() == 50.5
        manual.advance(0.6)
        assert ran == [("debounce", 50.6), ("cap", 51.0)]  # each at its own moment
        assert clock.monotonic() == pytest.approx(51.1)
        assert (clock.utcnow() - start_wall) >= dt.timedelta(seconds=1.1)
        with pytest.raises(ValueError):
            manual.advance(-1)
    assert isinstance(clock.current(), clock.SystemClock)  # use() puts the real clock back


def test_manual_intervals_skip_missed_ticks_like_textual_timers() -> None:
    manual = clock.ManualClock()
    ticks: list[float] = []
    with clock.use(manual):
        timer = clock.call_every(1.0, lambda: ticks.append(clock.monotonic()))
        manual.advance(0.5)
        assert ticks == []
        manual.advance(0.5)
        assert ticks == [1001.0]
        manual.advance(600)  # a long stall: one tick, then on at the old rhythm
        assert ticks == [1001.0, 1002.0]
        manual.advance(1.0)
        assert ticks == [1001.0, 1002.0, 1602.0]
        timer.stop()
        manual.advance(10)
        assert len(ticks) == 3


def test_the_system_clock_leaves_timers_to_the_event_loop() -> None:
    assert clock.call_later(1.0, lambda: None) is None
    assert clock.call_every(1.0, lambda: None) is None
    before = clock.monotonic()
    assert clock.monotonic() >= before


def test_local_today_is_the_day_in_the_given_timezone_whatever_the_machine_says(machine_far_east: None) -> None:
    with time_machine.travel(INSTANT, tick=False):
        assert clock.local_today(CLINIC_TZ) == CLINIC_DAY
        assert clock.local_today("UTC") == UTC_DAY
        assert clock.local_now(CLINIC_TZ).isoformat().startswith("2026-03-09T23:30:00")


# --------------------------------------------------------------------------- the CLI's "today"


@pytest.fixture
def machine_far_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's timezone is Pacific/Kiritimati for this test (conftest fixes UTC otherwise)."""
    monkeypatch.setenv("TZ", MACHINE_TZ)
    time.tzset()
    pendulum.set_local_timezone(pendulum.timezone(MACHINE_TZ))
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()
        pendulum.set_local_timezone()


@pytest.fixture
def clinic(tmp_path: Path) -> str:
    """A clinic in Pago Pago with one meeting on each of the three days (clinic, UTC, machine)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups, live, settings, staff

    target = str(tmp_path / "clinic.db")
    database = open_database(target, create=True)
    try:
        with database.begin() as session:
            settings.update_settings(session, timezone=CLINIC_TZ)
            lead = staff.add_staff(session, "Dana Quinn", "LCSW")
            group = groups.add_group(session, "Evening IOP", weekdays="mon,tue,wed", start_time="18:00",
                                     facilitators=[lead])
            for day in (CLINIC_DAY, UTC_DAY, MACHINE_DAY):
                live.start_meeting(session, group, day)
    finally:
        database.dispose()
    return target


def meeting_days(target: str, *args: str) -> list[str]:
    result = iop("--db", target, "meeting", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return sorted(row["local_date"] for row in json.loads(result.stdout))


def test_since_and_until_today_are_the_clinics_day(clinic: str, machine_far_east: None) -> None:
    with time_machine.travel(INSTANT, tick=False):
        assert meeting_days(clinic, "--until", "today") == [CLINIC_DAY.isoformat()]
        assert meeting_days(clinic, "--since", "today", "--until", "today") == [CLINIC_DAY.isoformat()]
        assert meeting_days(clinic, "--since", "yesterday", "--until", "yesterday") == []
        assert meeting_days(clinic, "--since", "today") == [d.isoformat() for d in (CLINIC_DAY, UTC_DAY, MACHINE_DAY)]


def test_audit_days_are_utc_days_so_today_is_the_utc_day(clinic: str, machine_far_east: None) -> None:
    with time_machine.travel(INSTANT, tick=False):
        assert iop("--db", clinic, "staff", "add", "Sam Intern", "-c", "MSW-I").exit_code == 0
        result = iop("--db", clinic, "audit", "--since", "today", "--json")
        assert result.exit_code == 0, result.output
        actions = [row["action"] for row in json.loads(result.stdout)]
        assert actions and actions[-1] == "staff.add"  # written at 10:30 UTC on the 10th, the UTC "today"
        # (the clinic was built at the real time, later: a machine "today", the 11th, would leave staff.add out)
        result = iop("--db", clinic, "audit", "--until", "today", "--json")  # through the 10th (UTC), not the 9th
        assert [row["action"] for row in json.loads(result.stdout)] == ["staff.add"]
