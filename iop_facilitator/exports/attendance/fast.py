"""The attendance export's fast path: a plain SQLite file read with :mod:`sqlite3` only.

For a plain SQLite file at exactly this program's schema (``db.raw``), with no name
filters: no SQLAlchemy import at all. SQLite builds each CSV line itself
(``query.csv_sql``: quoting, formula neutralisation, local times, service codes), so
Python only moves one string per row; a per-meeting query yields each line's start
and end and a per-attendance query the member's middle, merged in one pass
(:func:`merge_lines`), read in one snapshot. With ``IOP_EXPORT_THREADS`` > 1 the date
range is read in 31-day partitions on up to four threads (:func:`export_threads`).
JSON on this path fetches plain columns and formats them in Python (``formats``).
The audit entry is appended to the same hash chain with ``exports.record``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from iop_facilitator.db import raw
from iop_facilitator.exports.attendance.formats import (
    CHUNK,
    COMMAND,
    FORMATS,
    ExportResult,
    Program,
    Progress,
    csv_head,
    row_values,
    utcnow_or,
    write_csv,
    write_json,
)
from iop_facilitator.exports.attendance.query import (
    AttendanceFilter,
    Zones,
    csv_sql,
    query_tail,
    raw_columns,
)
from iop_facilitator.exports.output import Staging, check_target, disclosure
from iop_facilitator.exports.record import record_export_sqlite, record_withdrawn_sqlite
from iop_facilitator.services.billing import codes_table
from iop_facilitator.services.text import clean, needs_cleaning
from iop_facilitator.timefmt import Clocks, LocalClock


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
        if needs_cleaning(line):  # stored text with control characters (services.text.clean_stored)
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


def _csv_block(path: Path, program: Program, flt: AttendanceFilter, zones: Zones) -> tuple[str, int]:
    """One date range's CSV lines as one string, read on its own connection (for a worker thread)."""
    conn = raw.connect(path, threads=True)
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
    work = [replace(flt, since=a, until=b) for a, b in partitions(*span, PARTITION_DAYS)]
    workers = max(1, min(export_threads(), len(work)))
    if workers == 1:  # one streamed query over the whole range
        conn = raw.connect(path, threads=True)
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
                queue.append(pool.submit(_csv_block, path, program, part, zones))
                if len(queue) > workers:
                    break
            while queue:
                block, rows = queue.popleft().result()
                part = next(todo, None)
                if part is not None:
                    queue.append(pool.submit(_csv_block, path, program, part, zones))
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
    The file is read through ``db.raw`` (plain SQLite at the head schema) in one snapshot.
    """
    if fmt not in FORMATS:
        raise ValueError(fmt)
    out = check_target(out, force=force)
    conn = raw.connect(path, mode="rw")
    try:
        conn.execute("BEGIN")  # one read snapshot for the checks and every query below
        if not raw.at_head(conn):
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

        def withdrawn(reason: str) -> None:
            record_withdrawn_sqlite(conn, COMMAND, reason)

        with (
            disclosure(force=force, record=record, withdrawn=withdrawn) as staging,
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
                tally["count"] = write_json(fh, program, flt, rows, utcnow_or(now), progress)
        return ExportResult(path=out, records=tally["count"], fmt=fmt, fast=True)
    finally:
        conn.close()
