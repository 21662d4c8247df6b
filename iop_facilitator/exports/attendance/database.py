"""The attendance export's general path: any database, through SQLAlchemy Core.

PostgreSQL, SQLCipher, a SQLite file that had to be upgraded first, and the name
filters (``--group``, ``--member``): the query of ``query.query_tail`` through
``text()`` with ``stream_results``/``yield_per`` (no ORM objects; memory stays flat),
each row formatted by ``formats.row_values``; the audit entry is committed with the
export (``exports.record``), before the file is published.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from iop_facilitator.exports.attendance.formats import (
    CHUNK,
    COMMAND,
    FORMATS,
    ExportResult,
    Program,
    Progress,
    csv_line,
    row_values,
    utcnow_or,
    write_csv,
    write_json,
)
from iop_facilitator.exports.attendance.query import AttendanceFilter, query_tail, raw_columns
from iop_facilitator.exports.output import Staging, check_target, disclosure
from iop_facilitator.exports.record import record_export, record_withdrawn
from iop_facilitator.services.billing import codes_table
from iop_facilitator.timefmt import Clocks

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database


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

        def withdrawn(reason: str) -> None:
            record_withdrawn(database, COMMAND, reason)

        with (
            disclosure(force=force, record=record, withdrawn=withdrawn) as staging,
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
                tally["count"] = write_json(fh, program, flt, rows, utcnow_or(now), progress)
            result.close()
    return ExportResult(path=out, records=tally["count"], fmt=fmt, fast=False)
