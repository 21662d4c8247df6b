"""The attendance export for billing: one row per member per meeting, CSV or JSON.

Columns (CSV header, JSON keys), in order:

``date`` (the meeting's local date), ``group``, ``member`` (display name),
``chart_id`` (external chart id), ``status``, ``arrived`` and ``left`` (local
``HH:MM`` in the meeting's timezone: the one it was signed in, which is the
program's unless the program moved since; for a member who attended without an own
arrival or departure time, the meeting's start or stop; empty for absences),
``minutes``, ``modality``, ``service_codes`` (``services.billing.service_codes``),
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

:func:`export_attendance` is the one entry point (the CLI's ``iop export attendance``
calls it; a TUI action would too). Two ways to read the rows, one output:

* ``fast.export_sqlite`` — the fast path for a plain SQLite file at the newest
  schema: Python's :mod:`sqlite3` only (``db.raw``), no SQLAlchemy import. SQLite
  builds each CSV line itself, so Python only moves one string per row.
* ``database.export_database`` — every other database (PostgreSQL, SQLCipher, an
  older schema that must be migrated first, name filters): the same query
  through SQLAlchemy Core with server-side streaming, formatted in Python.

Neither builds ORM objects; memory stays flat whatever the number of rows. The
modules, one job each: ``query`` (the SQL), ``formats`` (values, CSV cells and lines,
JSON), ``fast`` and ``database`` (the two read paths); local times are
``timefmt.LocalClock``'s, service codes the billing rule's (``services.billing``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from iop_facilitator.exports.attendance.database import export_database
from iop_facilitator.exports.attendance.fast import export_sqlite
from iop_facilitator.exports.attendance.formats import COLUMNS, FORMATS, ExportResult, Progress
from iop_facilitator.exports.attendance.query import AttendanceFilter

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database

__all__ = [
    "COLUMNS",
    "FORMATS",
    "AttendanceFilter",
    "ExportResult",
    "export_attendance",
    "export_database",
    "export_sqlite",
]


def export_attendance(
    target: str,
    out: Path,
    *,
    fmt: str,
    open_database: Callable[[], Database],
    since: dt.date | None = None,
    until: dt.date | None = None,
    group: str | None = None,
    member: str | None = None,
    include_unsigned: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    recipient: str | None = None,
    purpose: str | None = None,
    now: dt.datetime | None = None,
) -> ExportResult:
    """Write the attendance export of the database ``target`` (a ``--db`` path or URL) to ``out``.

    The target file is checked before anything is read. Without ``group``/``member``
    a plain SQLite file at the current schema is read on the fast path; otherwise (or
    when the fast path declines) ``open_database()`` opens it the usual way (upgrading,
    asking for a passphrase: the caller's business) and ``group``/``member`` (names,
    chart ids or ids) are resolved to ids. Raises ``IopError`` subclasses with one line.
    """
    from iop_facilitator.db import raw
    from iop_facilitator.exports.output import check_target

    check_target(out, force=force)  # fail before opening the database
    flt = AttendanceFilter(since=since, until=until, include_unsigned=include_unsigned)
    options = {"fmt": fmt, "force": force, "progress": progress, "recipient": recipient, "purpose": purpose, "now": now}
    if group is None and member is None:
        path = raw.plain_file(target)
        if path is not None:
            result = export_sqlite(path, out, flt=flt, **options)
            if result is not None:
                return result
    database = open_database()
    if group is not None or member is not None:
        from iop_facilitator.services.groups import resolve_group
        from iop_facilitator.services.members import resolve_member

        with database.session() as session:
            group_id = resolve_group(session, group).id if group is not None else None
            member_id = resolve_member(session, member).id if member is not None else None
        flt = replace(flt, group_id=group_id, member_id=member_id)
    return export_database(database, out, flt=flt, **options)
