"""The attendance export's SQL: one query shape for both read paths, and the fast path's CSV SQL.

:func:`query_tail` is the ``FROM``/``WHERE``/``ORDER BY`` both paths run (the same
order on both back ends, ``COLLATE "C"`` on PostgreSQL): signed meetings from their
signed snapshot (:func:`shape`), unsigned ones (``include_unsigned``) from the live
tables. :func:`raw_columns` are the general path's plain columns (formatted in
Python by ``formats.row_values``); :func:`csv_sql` are the SQLite fast path's two
queries that build each CSV line in SQL, with the same cells as ``formats.csv_cell``
and the local times of ``timefmt.LocalClock.transitions`` (per timezone in use).
Billing codes come from the billing rule (``services.billing.codes_table``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from iop_facilitator.enums import ATTENDED
from iop_facilitator.exports.attendance.formats import SIGNED_TEXT, Program, csv_cell
from iop_facilitator.exports.output import FORMULA_START
from iop_facilitator.services.billing import codes_table


@dataclass(frozen=True)
class AttendanceFilter:
    since: dt.date | None = None
    until: dt.date | None = None
    group_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    include_unsigned: bool = False

    def audit(self) -> dict[str, Any]:
        """Ids and dates only: what the audit entry records."""
        return {
            "since": self.since,
            "until": self.until,
            "group": self.group_id,
            "member": self.member_id,
            "include_unsigned": self.include_unsigned,
        }



# Signed meetings are billed from their signed snapshot (``signed_snapshot``, ``signed_member``):
# group, member names and chart ids, facilitator, service code and timezone as they were when
# signed, never from the live tables. Unsigned meetings (``include_unsigned``) show live values.
# A signed meeting still awaiting a required co-signature is not billed unless ``include_unsigned``.
AWAITING_SQL = "(ss.requires_cosign AND m.cosigned_at IS NULL)"
ATTENDED_SQL = "a.status IN (" + ",".join(f"'{s}'" for s in ATTENDED) + ")"
# An attended member without their own times was there from the start to the end of the meeting.
ARRIVED_SQL = f"CASE WHEN {ATTENDED_SQL} THEN coalesce(a.arrived_at, m.actual_start) END"
LEFT_SQL = f"CASE WHEN {ATTENDED_SQL} THEN coalesce(a.left_at, m.actual_end) END"


@dataclass(frozen=True)
class Shape:
    """The query's ``FROM`` and the SQL of each column that differs between signed and unsigned meetings."""

    joins: str  # the FROM clause after "FROM meeting m"
    meeting_joins: str  # the same for the per-meeting query of the fast path (no attendance)
    group: str
    member: str
    chart: str
    facilitator: str
    credentials: str
    level: str
    frozen_code: str  # the service code frozen at signing, NULL for an unsigned meeting
    timezone: str  # the snapshot's timezone, NULL for an unsigned meeting
    state: str  # 'yes' | 'no' | 'awaiting_cosign'


def shape(flt: AttendanceFilter) -> Shape:
    if not flt.include_unsigned:  # signed meetings only: everything from the snapshot
        snap = " JOIN signed_snapshot ss ON ss.meeting_id = m.id"
        return Shape(
            joins=snap + " JOIN attendance a ON a.meeting_id = m.id"
            " JOIN signed_member sm ON sm.meeting_id = a.meeting_id AND sm.member_id = a.member_id",
            meeting_joins=snap,
            group="ss.group_name", member="sm.display_name", chart="sm.chart_id",
            facilitator="ss.facilitator_name", credentials="ss.facilitator_credentials",
            level="ss.level_of_care", frozen_code="ss.service_code", timezone="ss.timezone",
            state=f"CASE WHEN {AWAITING_SQL} THEN 'awaiting_cosign' ELSE 'yes' END",
        )

    def pick(frozen: str, live: str) -> str:
        return f"CASE WHEN ss.id IS NOT NULL THEN {frozen} ELSE {live} END"

    live = (
        " JOIN therapy_group g ON g.id = m.group_id LEFT JOIN staff s ON s.id = m.facilitator_id"
        " LEFT JOIN signed_snapshot ss ON ss.meeting_id = m.id"
    )
    return Shape(
        joins=live + " JOIN attendance a ON a.meeting_id = m.id JOIN member mb ON mb.id = a.member_id"
        " LEFT JOIN signed_member sm ON sm.meeting_id = a.meeting_id AND sm.member_id = a.member_id",
        meeting_joins=live,
        group=pick("ss.group_name", "g.name"), member=pick("sm.display_name", "mb.display_name"),
        chart=pick("sm.chart_id", "mb.external_chart_id"), facilitator=pick("ss.facilitator_name", "s.name"),
        credentials=pick("ss.facilitator_credentials", "s.credentials"), level=pick("ss.level_of_care", "g.level_of_care"),
        frozen_code="ss.service_code", timezone="ss.timezone",
        state=(
            "CASE WHEN m.status <> 'signed' THEN 'no' WHEN ss.id IS NULL THEN 'yes'"
            f" WHEN {AWAITING_SQL} THEN 'awaiting_cosign' ELSE 'yes' END"
        ),
    )


def raw_columns(flt: AttendanceFilter) -> str:
    """The general path's columns (see ``formats.row_values``)."""
    s = shape(flt)
    return (
        f"m.local_date, {s.group}, {s.member}, {s.chart}, a.status, {ARRIVED_SQL}, {LEFT_SQL},"
        f" a.minutes_attended, m.modality, {s.level}, {s.facilitator}, {s.credentials}, {s.state},"
        f" {s.frozen_code}, {s.timezone}"
    )


def conditions(dialect: str, flt: AttendanceFilter) -> tuple[list[str], dict[str, Any]]:
    """The filter's ``WHERE`` conditions (on ``m`` and ``a``) and their parameters."""
    sqlite = dialect == "sqlite"
    where: list[str] = []
    params: dict[str, Any] = {}
    if flt.since is not None:
        where.append("m.local_date >= :since")
        params["since"] = flt.since.isoformat() if sqlite else flt.since
    if flt.until is not None:
        where.append("m.local_date <= :until")
        params["until"] = flt.until.isoformat() if sqlite else flt.until
    if flt.group_id is not None:
        where.append("m.group_id = :group_id")
        params["group_id"] = flt.group_id.hex if sqlite else flt.group_id
    if flt.member_id is not None:
        where.append("a.member_id = :member_id")
        params["member_id"] = flt.member_id.hex if sqlite else flt.member_id
    if not flt.include_unsigned:
        # SQLite: "+" keeps the planner on the date index (signed is most meetings).
        where.append("+m.status = 'signed'" if sqlite and (flt.since or flt.until) else "m.status = 'signed'")
        where.append(f"NOT {AWAITING_SQL}")  # awaiting a required co-signature: not billable yet
    return where, params


def query_tail(dialect: str, flt: AttendanceFilter) -> tuple[str, dict[str, Any]]:
    """``FROM ... WHERE ... ORDER BY ...`` and its parameters, for ``sqlite`` or ``postgresql``.

    The order is the same on both back ends: date, start time, group name,
    meeting id, member display name, member id (names compared byte-wise:
    ``COLLATE "C"`` on PostgreSQL, SQLite's default binary collation).
    """
    where, params = conditions(dialect, flt)
    s = shape(flt)
    collate = "" if dialect == "sqlite" else ' COLLATE "C"'
    sql = " FROM meeting m" + s.joins + (" WHERE " + " AND ".join(where) if where else "")
    sql += (
        f" ORDER BY m.local_date, m.scheduled_start, {s.group}{collate}, m.id,"
        f" {s.member}{collate}, a.member_id"
    )
    return sql, params


# --------------------------------------------------------------------------- the fast path's CSV SQL


def _sql_text_cell(expr: str) -> str:
    """SQL building ``formats.csv_cell`` of a text expression (NULL or '' -> bare empty)."""
    starts = ",".join(str(ord(ch)) for ch in sorted(FORMULA_START))
    return (
        f"CASE WHEN {expr} IS NULL OR {expr} = '' THEN '' ELSE"
        f" '\"' || CASE WHEN unicode({expr}) IN ({starts}) THEN '''' ELSE '' END"
        f" || replace({expr}, '\"', '\"\"') || '\"' END"
    )


def _sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_local_time(expr: str, transitions: list[tuple[str, int]]) -> str:
    """SQL for the quoted local ``HH:MM`` of a stored UTC instant, or '' when NULL."""

    def shifted(offset: int) -> str:
        if offset == 0:
            return f"substr({expr}, 12, 5)"
        return f"strftime('%H:%M', {expr}, '{offset:+d} minutes')"

    if len(transitions) == 1:
        local = shifted(transitions[0][1])
    else:
        branches = " ".join(
            f"WHEN {expr} < {_sql_quote(start)} THEN {shifted(prev[1])}"
            for prev, (start, _off) in itertools.pairwise(transitions)
        )
        local = f"CASE {branches} ELSE {shifted(transitions[-1][1])} END"
    return f"coalesce('\"' || {local} || '\"', '')"


Zones = dict[str, list[tuple[str, int]]]  # timezone -> its UTC offset transitions over the export's span


def _sql_local_time_in(expr: str, zones: Zones, default: str, tz_expr: str) -> str:
    """:func:`_sql_local_time` in each meeting's own timezone (``tz_expr``, NULL meaning ``default``)."""
    if len(zones) == 1:
        return _sql_local_time(expr, next(iter(zones.values())))
    branches = " ".join(
        f"WHEN {_sql_quote(name)} THEN {_sql_local_time(expr, transitions)}" for name, transitions in zones.items()
    )
    return f"CASE coalesce({tz_expr}, {_sql_quote(default)}) {branches} ELSE '' END"


def csv_sql(flt: AttendanceFilter, program: Program, zones: Zones) -> tuple[str, str, dict[str, Any]]:
    """The two SQLite queries of the fast CSV path, and their parameters.

    Per meeting: ``rowid``, the line's start (date and group cells), its end for
    an attended member and for an absent one (modality, service codes,
    facilitator, credentials, signed). Per attendance row: ``meeting rowid * 2 +
    attended`` and the member's middle of the line (member, chart id, status,
    arrived, left, minutes). Both come back in the same meeting order, so
    Python merges them in one pass without holding either in memory. Meeting
    cells are computed once per meeting instead of once per member. Signed
    meetings' cells come from their snapshot (:func:`shape`); ``zones`` holds the
    offsets of every timezone the meetings were signed in (and the program's).
    """
    if flt.member_id is not None:
        raise ValueError("the fast path does not filter by member")
    s = shape(flt)
    table = codes_table(program.codes)
    code_branches = " ".join(
        f"WHEN {_sql_quote(level + '/' + modality)} THEN {_sql_quote(csv_cell(code))}"
        for (level, modality), code in table.items()
        if code
    )
    live_codes = f"CASE {s.level} || '/' || m.modality {code_branches} ELSE '' END" if code_branches else "''"
    codes_expr = f"CASE WHEN {s.frozen_code} IS NOT NULL THEN {_sql_text_cell(s.frozen_code)} ELSE {live_codes} END"
    start = " || ',' || ".join(["'\"' || m.local_date || '\"'", _sql_text_cell(s.group)]) + " || ','"
    signed = " ".join(f"WHEN '{k}' THEN '\"{v}\"'" for k, v in SIGNED_TEXT.items())
    end_rest = " || ',' || ".join(
        [_sql_text_cell(s.facilitator), _sql_text_cell(s.credentials), f"CASE {s.state} {signed} END"]
    )
    modality = "',' || '\"' || m.modality || '\"' || ','"
    where, params = conditions("sqlite", flt)  # conditions on the meeting only (no member filter here)
    meetings = (
        f"SELECT m.rowid, {start}, {modality} || {codes_expr} || ',' || {end_rest},"
        f" {modality} || ',' || {end_rest}"
        " FROM meeting m" + s.meeting_joins
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY m.local_date, m.scheduled_start, {s.group}, m.id"
    )
    middle = " || ',' || ".join(
        [
            _sql_text_cell(s.member),
            _sql_text_cell(s.chart),
            "'\"' || a.status || '\"'",
            _sql_local_time_in(f"({ARRIVED_SQL})", zones, program.timezone, s.timezone),
            _sql_local_time_in(f"({LEFT_SQL})", zones, program.timezone, s.timezone),
            "a.minutes_attended",
        ]
    )
    tail, _ = query_tail("sqlite", flt)
    rows = f"SELECT m.rowid * 2 + ({ATTENDED_SQL}), {middle}" + tail
    return meetings, rows, params
