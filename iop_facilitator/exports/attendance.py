"""The attendance export for billing: one row per member per meeting, CSV or JSON.

Columns (CSV header, JSON keys), in order:

``date`` (the meeting's local date), ``group``, ``member`` (display name),
``chart_id`` (external chart id), ``status``, ``arrived`` and ``left`` (local
``HH:MM`` in the meeting's timezone: the one it was signed in, which is the
program's unless the program moved since; for a member who attended without an own
arrival or departure time, the meeting's start or stop; empty for absences),
``minutes``, ``modality``, ``service_codes`` (see :func:`service_codes`),
``facilitator``, ``credentials`` (the facilitator's), ``signed`` (``yes``, ``no``
or ``awaiting co-signature``; JSON: ``signed`` true/false and ``awaiting_cosign``).

A signed meeting is exported from its **signed snapshot** (group, member names and
chart ids, facilitator and credentials, service code, timezone as they were when it
was signed; see ``services.snapshot``), never from the live tables, so later edits
of names, credentials, the group's level of care or the program's timezone or codes
do not change what was billed. Only **signed** meetings are exported unless
``include_unsigned``: billing goes out from signed notes, and a meeting still
awaiting a required supervisor co-signature is not yet signed for billing; with
``include_unsigned`` drafts are included with ``signed = no`` (live values) and
those meetings with ``signed = awaiting co-signature``. Every
attendance row of an included meeting is exported (absences too, with no
service code) so the file doubles as the sign-in record.

Two ways to read the rows, one output:

* :func:`export_sqlite` — the fast path for a plain SQLite file at the newest
  schema: Python's :mod:`sqlite3` only, no SQLAlchemy import. SQLite builds each
  CSV line itself (quoting, formula neutralisation, local times, service codes),
  so Python only moves one string per row (``IOP_EXPORT_THREADS`` reads months
  on up to four threads). The cell formatting is the same as :func:`csv_line`'s; the
  golden-file tests hold both paths to the same bytes.
* :func:`export_database` — every other database (PostgreSQL, SQLCipher, an
  older schema that must be migrated first, name filters): the same query
  through SQLAlchemy Core with server-side streaming, formatted in Python.

Neither builds ORM objects; memory stays flat whatever the number of rows.

CSV format: UTF-8 with a byte-order mark (so Excel reads names with accents
correctly), CRLF line ends (RFC 4180), every text cell quoted, numbers and
empty values bare, text cells neutralised against formula injection
(:func:`iop_facilitator.exports.output.neutralize_cell`). Row 1 is the
disclosure notice (see :func:`iop_facilitator.exports.output.csv_notice_row`),
row 2 the header.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from iop_facilitator.exports.output import (
    FORMULA_START,
    Staging,
    check_target,
    csv_notice_row,
    disclosure,
    disclosure_notice,
    neutralize_cell,
    record_export,
    record_export_sqlite,
)
from iop_facilitator.services.billing import codes_table  # the billing rule
from iop_facilitator.services.text import clean

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database

COLUMNS: tuple[str, ...] = (
    "date",
    "group",
    "member",
    "chart_id",
    "status",
    "arrived",
    "left",
    "minutes",
    "modality",
    "service_codes",
    "facilitator",
    "credentials",
    "signed",
)
ATTENDED_STATUSES: tuple[str, ...] = ("present", "late", "left_early")
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what services.text.clean removes or rewrites
COMMAND = "iop export attendance"
FORMATS = ("csv", "json")
CHUNK = 2000

Progress = Callable[[int], None]


# --------------------------------------------------------------------------- filters and settings


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


@dataclass(frozen=True)
class Program:
    """The settings an export needs."""

    clinic_name: str
    timezone: str
    notice: str
    codes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, clinic_name: Any, timezone: Any, notice: Any, codes: Any) -> Program:
        if isinstance(codes, (str, bytes)):
            codes = json.loads(codes or "{}")
        return cls(
            clinic_name=str(clinic_name or ""),
            timezone=str(timezone or "UTC"),
            notice=disclosure_notice(notice),
            codes={str(k): str(v) for k, v in (codes or {}).items()},
        )


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    fmt: str
    fast: bool  # the SQLite fast path was used


# --------------------------------------------------------------------------- the query

# Signed meetings are billed from their signed snapshot (``signed_snapshot``, ``signed_member``):
# group, member names and chart ids, facilitator, service code and timezone as they were when
# signed, never from the live tables. Unsigned meetings (``include_unsigned``) show live values.
# A signed meeting still awaiting a required co-signature is not billed unless ``include_unsigned``.
AWAITING_SQL = "(ss.requires_cosign AND m.cosigned_at IS NULL)"
SIGNED_TEXT = {"yes": "yes", "no": "no", "awaiting_cosign": "awaiting co-signature"}
_ATTENDED_SQL = "a.status IN (" + ",".join(f"'{s}'" for s in ATTENDED_STATUSES) + ")"
# An attended member without their own times was there from the start to the end of the meeting.
ARRIVED_SQL = f"CASE WHEN {_ATTENDED_SQL} THEN coalesce(a.arrived_at, m.actual_start) END"
LEFT_SQL = f"CASE WHEN {_ATTENDED_SQL} THEN coalesce(a.left_at, m.actual_end) END"


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
    """The general path's columns (see :func:`row_values`)."""
    s = shape(flt)
    return (
        f"m.local_date, {s.group}, {s.member}, {s.chart}, a.status, {ARRIVED_SQL}, {LEFT_SQL},"
        f" a.minutes_attended, m.modality, {s.level}, {s.facilitator}, {s.credentials}, {s.state},"
        f" {s.frozen_code}, {s.timezone}"
    )


def _where(dialect: str, flt: AttendanceFilter) -> tuple[list[str], dict[str, Any]]:
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
    where, params = _where(dialect, flt)
    s = shape(flt)
    collate = "" if dialect == "sqlite" else ' COLLATE "C"'
    sql = " FROM meeting m" + s.joins + (" WHERE " + " AND ".join(where) if where else "")
    sql += (
        f" ORDER BY m.local_date, m.scheduled_start, {s.group}{collate}, m.id,"
        f" {s.member}{collate}, a.member_id"
    )
    return sql, params


# --------------------------------------------------------------------------- formatting


class LocalClock:
    """UTC instants (stored text or aware datetimes) to local ``HH:MM`` in one timezone."""

    def __init__(self, timezone: str):
        from zoneinfo import ZoneInfo

        self.zone = ZoneInfo(timezone)
        self._offsets: dict[str, int | None] = {}

    def offset_minutes(self, instant: dt.datetime) -> int:
        off = instant.astimezone(self.zone).utcoffset()
        return int(off.total_seconds() // 60) if off is not None else 0

    def _hour_offset(self, key: str) -> int | None:
        """The offset for a whole UTC hour (``YYYY-MM-DD HH``), or None if it changes inside it."""
        if key not in self._offsets:
            start = dt.datetime.fromisoformat(key + ":00:00").replace(tzinfo=dt.UTC)
            first = self.offset_minutes(start)
            last = self.offset_minutes(start + dt.timedelta(minutes=59, seconds=59))
            self._offsets[key] = first if first == last else None
        return self._offsets[key]

    def hhmm(self, value: str | dt.datetime | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            text = value.replace("T", " ")
            off = self._hour_offset(text[:13])
            if off is None:
                off = self.offset_minutes(dt.datetime.fromisoformat(text[:19]).replace(tzinfo=dt.UTC))
            minutes = int(text[11:13]) * 60 + int(text[14:16]) + off
        else:
            instant = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            local = instant.astimezone(self.zone)
            minutes = local.hour * 60 + local.minute
        minutes %= 1440
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def transitions(self, first: dt.date, last: dt.date) -> list[tuple[str, int]]:
        """``[(from_utc_text, offset_minutes), ...]`` covering ``first`` - 1 day .. ``last`` + 2 days.

        The first entry starts at ``""`` (everything before); the storage text
        form sorts like time, so SQLite can compare it directly.
        """
        start = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
        out = [("", self.offset_minutes(start))]
        day = start
        while day < end:
            nxt = day + dt.timedelta(days=1)
            before, after = self.offset_minutes(day), self.offset_minutes(nxt)
            if before != after:  # find the minute it changes
                lo, hi = day, nxt
                while hi - lo > dt.timedelta(minutes=1):
                    mid = lo + (hi - lo) / 2
                    mid = mid.replace(second=0, microsecond=0)
                    if mid <= lo:
                        break
                    if self.offset_minutes(mid) == before:
                        lo = mid
                    else:
                        hi = mid
                out.append((hi.strftime("%Y-%m-%d %H:%M:%S.%f"), after))
            day = nxt
        return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class Clocks:
    """One :class:`LocalClock` per timezone: the program's now for unsigned meetings, each signed
    meeting's own (from its snapshot) otherwise."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._clocks: dict[str, LocalClock] = {}

    def __call__(self, timezone: str | None) -> LocalClock:
        name = timezone or self.default
        clock = self._clocks.get(name)
        if clock is None:
            clock = self._clocks[name] = LocalClock(name)
        return clock


def _clean(value: Any) -> str:
    """Stored text as written to a file: control characters and escape sequences removed
    (text that bypassed input cleaning: raw SQL, a restored backup, another client)."""
    text = _text(value)
    return clean(text) if _NEEDS_CLEANING.search(text) else text


def row_values(raw: tuple[Any, ...], clocks: Clocks, codes: Mapping[tuple[str, str], str]) -> tuple[Any, ...]:
    """One query row (:func:`raw_columns`) as the export's values, in :data:`COLUMNS` order."""
    (local_date, group, member, chart, status, arrived, left, minutes, modality, level, fac, cred, state,
     frozen_code, timezone) = raw
    status, modality, level = _text(status), _text(modality), _text(level)
    code = ""
    if status in ATTENDED_STATUSES:
        code = _text(frozen_code) if frozen_code is not None else codes.get((level, modality), "")
    clock = clocks(_text(timezone) or None)
    return (
        _text(local_date)[:10],
        _clean(group),
        _clean(member),
        _clean(chart),
        status,
        clock.hhmm(arrived),
        clock.hhmm(left),
        int(minutes or 0),
        modality,
        _clean(code),
        _clean(fac),
        _clean(cred),
        SIGNED_TEXT.get(_text(state), "no"),
    )


def csv_cell(value: Any) -> str:
    """Empty and ``None`` bare, integers bare, every other value a quoted, neutralised text cell."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return '"' + neutralize_cell(str(value)).replace('"', '""') + '"'


def csv_line(values: Iterable[Any]) -> str:
    return ",".join(csv_cell(v) for v in values) + "\r\n"


def json_row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    row["service_codes"] = row["service_codes"].split() if row["service_codes"] else []
    row["awaiting_cosign"] = row["signed"] == SIGNED_TEXT["awaiting_cosign"]
    row["signed"] = row["signed"] == "yes"
    for key in ("chart_id", "arrived", "left", "facilitator"):
        row[key] = row[key] or None
    return row


# --------------------------------------------------------------------------- writers

BOM = "\ufeff"


def csv_head(program: Program) -> str:
    """A byte-order mark, the notice row and the header row."""
    return BOM + csv_line(csv_notice_row(program.notice, len(COLUMNS))) + csv_line(COLUMNS)


def write_csv(
    fh: IO[str], program: Program, lines: Iterator[str], progress: Progress | None = None, *, header: bool = True
) -> int:
    """The notice row, the header, then ``lines`` (each ending in CRLF). Returns the row count."""
    if header:
        fh.write(csv_head(program))
    count = 0
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK:
            fh.write("".join(batch))
            count += len(batch)
            batch.clear()
            if progress is not None:
                progress(count)
    if batch:
        fh.write("".join(batch))
        count += len(batch)
    if progress is not None:
        progress(count)
    return count


def write_json(
    fh: IO[str],
    program: Program,
    flt: AttendanceFilter,
    rows: Iterator[tuple[Any, ...]],
    now: dt.datetime,
    progress: Progress | None = None,
) -> int:
    """A JSON object: notice, program, timezone, filters, ``rows`` (streamed) and ``count``."""
    from iop_facilitator.exports.output import _plain

    filters = {k: v for k, v in _plain(flt.audit()).items() if v not in (None, "", False)}
    head = {
        "disclosure_notice": program.notice,
        "export": "attendance",
        "program": program.clinic_name,
        "generated_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": program.timezone,
        "filters": filters,
        "columns": list(COLUMNS),
    }
    text = json.dumps(head, indent=2, ensure_ascii=False)
    fh.write(text[: text.rindex("}")].rstrip() + ',\n  "rows": [')
    count = 0
    for values in rows:
        fh.write(("\n    " if count == 0 else ",\n    ") + json.dumps(json_row(values), ensure_ascii=False))
        count += 1
        if progress is not None and count % CHUNK == 0:
            progress(count)
    fh.write(("\n  " if count else "") + f'],\n  "count": {count}\n}}\n')
    if progress is not None:
        progress(count)
    return count


def _utcnow(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- SQLite fast path

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_file(target: str) -> Path | None:
    """The file of a ``--db`` target if it is a plain (unencrypted) SQLite file, else None."""
    text = (target or "").strip()
    if "://" in text:
        if not text.startswith("sqlite:///") or "?" in text:
            return None
        text = text[len("sqlite:///") :]
    if not text:
        return None
    path = Path(text).expanduser()
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError:
        return None
    return path.absolute() if header == SQLITE_HEADER else None


def _sql_text_cell(expr: str) -> str:
    """SQL building :func:`csv_cell` of a text expression (NULL or '' -> bare empty)."""
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
    where, params = _where("sqlite", flt)  # conditions on the meeting only (no member filter here)
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
    rows = f"SELECT m.rowid * 2 + ({_ATTENDED_SQL}), {middle}" + tail
    return meetings, rows, params


def merge_lines(meetings: Iterator[tuple[int, str, str, str]], rows: Iterator[tuple[int, str]]) -> Iterator[str]:
    """Finished CSV lines from the two ordered streams of :func:`csv_sql`."""
    current, start, end_attended, end_absent = -1, "", "", ""
    for key, middle in rows:
        meeting = key >> 1
        if meeting != current:
            for row in meetings:
                if row[0] == meeting:
                    current, start, end_attended, end_absent = row
                    break
            else:  # pragma: no cover - both queries read one snapshot in the same order
                raise RuntimeError("attendance rows out of meeting order")
        line = start + middle + (end_attended if key & 1 else end_absent)
        if _NEEDS_CLEANING.search(line):  # stored text with control characters (see _clean)
            line = clean(line)
        yield line + "\r\n"


def _chunks(cursor: sqlite3.Cursor) -> Iterator[Any]:
    while True:
        chunk = cursor.fetchmany(CHUNK)
        if not chunk:
            return
        yield from chunk


def _sqlite_program(conn: sqlite3.Connection) -> Program | None:
    row = conn.execute(
        "SELECT clinic_name, timezone, disclosure_notice, service_codes FROM program_settings LIMIT 1"
    ).fetchone()
    return Program.from_row(*row) if row else None


def _date_span(conn: sqlite3.Connection, flt: AttendanceFilter) -> tuple[dt.date, dt.date] | None:
    if flt.since is not None and flt.until is not None:
        return flt.since, flt.until
    row = conn.execute("SELECT min(local_date), max(local_date) FROM meeting").fetchone()
    if not row or row[0] is None:
        return None
    first = flt.since or dt.date.fromisoformat(str(row[0])[:10])
    last = flt.until or dt.date.fromisoformat(str(row[1])[:10])
    return first, max(first, last)


PARTITION_DAYS = 31


def partitions(first: dt.date, last: dt.date, days: int = PARTITION_DAYS) -> list[tuple[dt.date, dt.date]]:
    """``first`` .. ``last`` cut into consecutive, disjoint ranges of at most ``days`` days."""
    out, start = [], first
    while start <= last:
        end = min(last, start + dt.timedelta(days=days - 1))
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


def _open_ro(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _csv_lines(
    conn: sqlite3.Connection, program: Program, flt: AttendanceFilter, zones: Zones
) -> Iterator[str]:
    """Finished CSV lines of one date range, read in one snapshot (a read transaction)."""
    conn.execute("BEGIN")
    try:
        meetings_sql, rows_sql, params = csv_sql(flt, program, zones)
        meetings = conn.execute(meetings_sql, params)
        rows = conn.execute(rows_sql, params)
        yield from merge_lines(_chunks(meetings), _chunks(rows))
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")  # a read-only transaction: nothing to keep


def _csv_block(uri: str, program: Program, flt: AttendanceFilter, zones: Zones) -> tuple[str, int]:
    """One date range's CSV lines as one string, read on its own connection (for a worker thread)."""
    conn = _open_ro(uri)
    try:
        lines = list(_csv_lines(conn, program, flt, zones))
        return "".join(lines), len(lines)
    finally:
        conn.close()


def export_threads() -> int:
    """Reader threads of the fast CSV path: ``IOP_EXPORT_THREADS`` (1 to 4), default 1.

    Several threads overlap the months' queries on an otherwise idle multi-core
    machine, but cost about 15% more CPU in all (more connections, GIL hand-offs)
    and were slower on a busy two-core machine, so one streamed query is the default.
    """
    import os

    try:
        wanted = int(os.environ.get("IOP_EXPORT_THREADS", "") or 1)
    except ValueError:
        wanted = 1
    return max(1, min(4, wanted, os.cpu_count() or 1))


def _write_csv_partitions(
    fh: IO[str],
    path: Path,
    program: Program,
    flt: AttendanceFilter,
    span: tuple[dt.date, dt.date] | None,
    progress: Progress | None,
    timezones: Iterable[str] = (),
) -> int:
    """The CSV body: one streamed query, or (``IOP_EXPORT_THREADS`` > 1) month by month on threads.

    With threads, SQLite runs each month's query without holding Python's GIL, so
    months are read in parallel and written in order; at most ``workers + 1``
    finished months wait in memory, so memory stays flat for any number of years.
    Each month is read in one snapshot, one after another, like any long export.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor
    from dataclasses import replace

    fh.write(csv_head(program))
    if span is None:
        return 0
    zones = {name: LocalClock(name).transitions(*span) for name in (program.timezone, *timezones)}
    uri = f"{path.as_uri()}?mode=ro"
    work = [replace(flt, since=a, until=b) for a, b in partitions(*span, PARTITION_DAYS)]
    workers = max(1, min(export_threads(), len(work)))
    if workers == 1:  # one streamed query over the whole range
        conn = _open_ro(uri)
        try:
            return write_csv(fh, program, _csv_lines(conn, program, flt, zones), progress, header=False)
        finally:
            conn.close()
    count = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iop-export") as pool:
        queue: deque[Future[tuple[str, int]]] = deque()
        todo = iter(work)
        try:
            for part in todo:
                queue.append(pool.submit(_csv_block, uri, program, part, zones))
                if len(queue) > workers:
                    break
            while queue:
                block, rows = queue.popleft().result()
                part = next(todo, None)
                if part is not None:
                    queue.append(pool.submit(_csv_block, uri, program, part, zones))
                fh.write(block)
                count += rows
                if progress is not None:
                    progress(count)
        finally:
            for future in queue:
                future.cancel()
    return count


def export_sqlite(
    path: Path,
    out: Path,
    *,
    fmt: str,
    flt: AttendanceFilter,
    force: bool,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    recipient: str | None = None,
    purpose: str | None = None,
) -> ExportResult | None:
    """Export from a plain SQLite file with :mod:`sqlite3` only; None if the file needs the general path.

    The general path is needed when the schema is not exactly this program's
    newest (older files are migrated by ``open_database``; newer ones refused
    there) or the program settings row does not exist yet. The file is published
    only after its audit entry (with its SHA-256) is committed (``output.disclosure``).
    """
    from iop_facilitator.db.migrate import known_revisions

    if fmt not in FORMATS:
        raise ValueError(fmt)
    out = check_target(out, force=force)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN")  # one read snapshot for the checks and every query below
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            return None
        if not revision or revision[0] != known_revisions()[1]:
            return None
        program = _sqlite_program(conn)
        if program is None:
            return None
        tally = {"count": 0}

        def record(staging: Staging) -> None:
            if conn.in_transaction:
                conn.execute("COMMIT")  # end the read snapshot; the audit entry takes the write lock
            record_export_sqlite(
                conn, "attendance", command=COMMAND, fmt=fmt, records=tally["count"], filters=flt.audit(),
                staging=staging, recipient=recipient, purpose=purpose,
            )

        with (
            disclosure(force=force, record=record, withdrawn=_withdrawn_sqlite(conn)) as staging,
            staging.open(out, newline="") as fh,
        ):
            if fmt == "csv":
                span = _date_span(conn, flt)
                timezones = [r[0] for r in conn.execute("SELECT DISTINCT timezone FROM signed_snapshot") if r[0]]
                tally["count"] = _write_csv_partitions(fh, path, program, flt, span, progress, timezones)
            else:
                tail, params = query_tail("sqlite", flt)
                cursor = conn.execute("SELECT " + raw_columns(flt) + tail, params)
                clocks, table = Clocks(program.timezone), codes_table(program.codes)
                rows = (row_values(r, clocks, table) for r in _chunks(cursor))
                tally["count"] = write_json(fh, program, flt, rows, _utcnow(now), progress)
        return ExportResult(path=out, records=tally["count"], fmt=fmt, fast=True)
    finally:
        conn.close()


def _withdrawn_sqlite(conn: sqlite3.Connection) -> Callable[[str], None]:
    def withdrawn(reason: str) -> None:
        from iop_facilitator.audit_chain import append_sqlite
        from iop_facilitator.services.actor import current_actor

        append_sqlite(conn, actor=current_actor(), action="export.withdrawn", record_type="export",
                      details={"command": COMMAND, "reason": reason})

    return withdrawn


# --------------------------------------------------------------------------- general path


def export_database(
    database: Database,
    out: Path,
    *,
    fmt: str,
    flt: AttendanceFilter,
    force: bool,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    recipient: str | None = None,
    purpose: str | None = None,
) -> ExportResult:
    """Export through SQLAlchemy Core (any back end), streaming rows; the file is published after
    its audit entry is committed."""
    import sqlalchemy as sa

    from iop_facilitator.services.settings import get_settings

    if fmt not in FORMATS:
        raise ValueError(fmt)
    out = check_target(out, force=force)
    dialect = database.engine.dialect.name
    tally = {"count": 0}
    with database.session() as session:
        settings = get_settings(session)
        program = Program.from_row(
            settings.clinic_name, settings.timezone, settings.disclosure_notice, settings.service_codes
        )
        clocks, table = Clocks(program.timezone), codes_table(program.codes)
        tail, params = query_tail(dialect, flt)

        def record(staging: Staging) -> None:
            record_export(
                session, "attendance", command=COMMAND, fmt=fmt, records=tally["count"], filters=flt.audit(),
                staging=staging, recipient=recipient, purpose=purpose,
            )
            session.commit()

        with (
            disclosure(force=force, record=record, withdrawn=lambda why: _withdrawn(database, why)) as staging,
            staging.open(out, newline="") as fh,
        ):
            result = session.connection().execute(
                sa.text("SELECT " + raw_columns(flt) + tail),
                params,
                execution_options={"stream_results": True, "yield_per": CHUNK},
            )
            rows = (row_values(tuple(r), clocks, table) for r in result)
            if fmt == "csv":
                tally["count"] = write_csv(fh, program, (csv_line(v) for v in rows), progress)
            else:
                tally["count"] = write_json(fh, program, flt, rows, _utcnow(now), progress)
            result.close()
    return ExportResult(path=out, records=tally["count"], fmt=fmt, fast=False)


def _withdrawn(database: Database, reason: str) -> None:
    from iop_facilitator.services import audit

    with database.begin() as session:
        audit.record(session, "export.withdrawn", record_type="export", command=COMMAND, reason=reason)
