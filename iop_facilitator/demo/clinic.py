"""Seeding a database with the fictional clinic: ``iop seed`` and ``iop demo`` call :func:`seed_clinic`.

:func:`seed_clinic` refuses a database that already holds staff, members, groups or
meetings (real records never mix with invented ones, and a demo is seeded once),
marks the database as a demo first (``ProgramSettings.is_demo``; the clinic name
says "fictional data"), then writes the rows of ``demo.generate`` chunk by chunk,
one transaction each: on SQLite straight to the DB-API cursor's ``executemany``,
on PostgreSQL converted to Python values and written with SQLAlchemy Core. The
``seed`` audit entry anchors every seeded signature. The tables' columns are the
models' (:func:`table_columns`): the schema has one home, ``models.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from iop_facilitator.demo import fiction as fx
from iop_facilitator.demo.generate import (
    MAX_MEMBERS_PER_GROUP,
    Chunk,
    ScheduleFn,
    SeedSummary,
    SnapshotContext,
    generate,
)

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database

# The tables the generator fills, in foreign-key order.
TABLES = (
    "staff", "therapy_group", "group_facilitator", "member", "enrollment", "goal", "meeting", "attendance",
    "story_note", "progress_note", "safety_event", "note_facts", "follow_up", "signed_snapshot", "signed_member",
)


@lru_cache(maxsize=1)
def table_columns() -> dict[str, tuple[str, ...]]:
    """Each seeded table's column names in the models' order (the order of the generator's tuples)."""
    from sqlmodel import SQLModel

    import iop_facilitator.models  # noqa: F401 - registers the tables

    return {name: tuple(c.name for c in SQLModel.metadata.tables[name].columns) for name in TABLES}


def bundled_topic_versions() -> dict[str, tuple[str, str | None]]:
    """Version and content hash of each bundled topic guide, as meetings record them.

    Only the bundled folder is read (not the user's), so a seed stays the same
    on every machine with the same version of the program.
    """
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir

    library = load_library([("bundled", topics_dir())])
    return {tid: (t.topic.version, t.content_hash) for tid, t in library.topics.items()}


def bundled_topic_titles() -> dict[str, str]:
    """Title of each bundled topic guide (frozen into the signed snapshots)."""
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir

    return {tid: t.topic.title for tid, t in load_library([("bundled", topics_dir())]).topics.items()}


# --------------------------------------------------------------------------- writing


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _converters(table: Any) -> list[Callable[[Any], Any] | None]:
    """Storage-form text -> the Python values SQLAlchemy Core expects (for PostgreSQL)."""
    import uuid

    import sqlalchemy as sa

    def as_uuid(v: Any) -> Any:
        return None if v is None else uuid.UUID(hex=v)

    def as_datetime(v: Any) -> Any:
        return None if v is None else dt.datetime.fromisoformat(v).replace(tzinfo=dt.UTC)

    def as_date(v: Any) -> Any:
        return None if v is None else dt.date.fromisoformat(v)

    def as_json(v: Any) -> Any:
        return None if v is None else json.loads(v)

    def as_bool(v: Any) -> Any:
        return None if v is None else bool(v)

    result: list[Callable[[Any], Any] | None] = []
    for column in table.columns:
        kind = column.type
        kind = getattr(kind, "impl_instance", kind)  # TypeDecorators such as SQLModel's UTCDateTime
        if isinstance(kind, sa.Uuid):
            result.append(as_uuid)
        elif isinstance(kind, sa.Date):
            result.append(as_date)
        elif isinstance(kind, sa.DateTime):
            result.append(as_datetime)
        elif isinstance(kind, sa.JSON):
            result.append(as_json)
        elif isinstance(kind, sa.Boolean):
            result.append(as_bool)
        else:
            result.append(None)
    return result


def _write_sqlite(db: Database, chunks: Iterator[Chunk], progress: Callable[[int], None]) -> None:
    statements = {t: _insert_sql(t, c) for t, c in table_columns().items()}
    with db.engine.connect() as conn:
        for chunk in chunks:
            with conn.begin():
                cursor = conn.connection.cursor()
                try:
                    cursor.execute("PRAGMA defer_foreign_keys=ON")  # parts before their meeting; reset at commit
                    for table, rows in chunk.tables:
                        if rows:
                            cursor.executemany(statements[table], rows)
                finally:
                    cursor.close()
            progress(chunk.groups_done)


def _write_core(db: Database, chunks: Iterator[Chunk], progress: Callable[[int], None]) -> None:
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    import iop_facilitator.models  # noqa: F401 - registers the tables

    tables = {name: SQLModel.metadata.tables[name] for name in TABLES}
    converters = {name: _converters(tables[name]) for name in TABLES}
    columns = table_columns()
    meeting = tables["meeting"]
    sign = (
        meeting.update()
        .where(meeting.c.id == sa.bindparam("b_id"))
        .values({c: sa.bindparam(f"b_{c}") for c in _SIGN_COLUMNS})
    )
    with db.engine.connect() as conn:
        for chunk in chunks:
            signatures: list[dict[str, Any]] = []
            # Foreign keys are checked at once here: meetings go in first, unsigned, and are
            # signed (one UPDATE each, which the lock triggers allow) once their parts are in.
            ordered = sorted(chunk.tables, key=lambda t: t[0] != "meeting")
            with conn.begin():
                for name, rows in ordered:
                    if not rows:
                        continue
                    pairs = list(zip(columns[name], converters[name]))
                    payload = [
                        {c: (f(v) if f is not None else v) for (c, f), v in zip(pairs, row)} for row in rows
                    ]
                    if name == "meeting":
                        for values in payload:
                            if values["status"] == "signed":
                                signatures.append({"b_id": values["id"], **{f"b_{c}": values[c] for c in _SIGN_COLUMNS}})
                                values.update(status="completed", signed_by_id=None, signed_at=None,
                                              signer_credentials=None, content_hash=None)
                    conn.execute(tables[name].insert(), payload)
                if signatures:
                    conn.execute(sign, signatures)
            progress(chunk.groups_done)


_SIGN_COLUMNS = ("status", "signed_by_id", "signed_at", "signer_credentials", "content_hash", "updated_at")


# --------------------------------------------------------------------------- seeding a database


def _schedule_fn(tz: str) -> ScheduleFn:
    from types import SimpleNamespace

    from iop_facilitator.services.schedule import scheduled_times

    def schedule(start_time: str, minutes: int, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return scheduled_times(SimpleNamespace(start_time=start_time, duration_minutes=minutes), day, tz)  # type: ignore[arg-type]

    return schedule


def seed_clinic(
    db: Database,
    *,
    groups: int,
    weeks: int,
    members_per_group: int = 10,
    seed: int = 1,
    end: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Fill an empty database with a fictional clinic; see the module docstring.

    Raises :class:`~iop_facilitator.errors.Conflict` when the database already
    holds staff, members, groups or meetings (real data, or an earlier seed:
    seed a new, empty database instead) and
    :class:`~iop_facilitator.errors.InvalidInput` for impossible arguments.
    """
    from sqlmodel import select

    from iop_facilitator.clock import local_today
    from iop_facilitator.errors import Conflict, InvalidInput
    from iop_facilitator.models import Group, GroupMeeting, Member, Staff
    from iop_facilitator.services import audit
    from iop_facilitator.services.settings import get_settings

    if groups < 1:
        raise InvalidInput("seed at least one group (--groups 1 or more)")
    if weeks < 1:
        raise InvalidInput("seed at least one week (--weeks 1 or more)")
    if not 1 <= members_per_group <= MAX_MEMBERS_PER_GROUP:
        raise InvalidInput(f"members per group must be between 1 and {MAX_MEMBERS_PER_GROUP}")

    with db.begin() as session:
        settings = get_settings(session)
        holds_data = any(
            session.exec(select(model.id).limit(1)).first() is not None
            for model in (Member, Group, GroupMeeting, Staff)
        )
        if holds_data and not settings.is_demo:
            raise Conflict(
                "this database already holds real records; seed only a new, empty database "
                "(for example: iop --db demo.db seed ...)"
            )
        if holds_data:
            raise Conflict("this database already holds seeded demo data; seed a new, empty database instead")
        tz = settings.timezone
        today = local_today(tz)
        end = end or today
        if end > today:
            raise InvalidInput(f"the seed end date {end} is in the future; seeded meetings are all in the past")
        if weeks * 7 > end.toordinal() - dt.date(1900, 1, 1).toordinal():
            raise InvalidInput("too many weeks for the end date")
        # Marked as a demo before any row is written, so even a partial seed is never taken for real data.
        settings.is_demo = True
        settings.clinic_name = fx.CLINIC_NAME
        session.add(settings)

    import uuid

    from iop_facilitator.services.billing import codes_table
    from iop_facilitator.services.canonical import bulk_digest
    from iop_facilitator.services.snapshot import disclosure_version

    summary = SeedSummary()
    anchored: list[str] = []
    context = SnapshotContext(
        clinic_name=fx.CLINIC_NAME, timezone=tz, disclosure_version=disclosure_version(settings.disclosure_notice),
        codes=codes_table(settings.service_codes or {}), titles=bundled_topic_titles(),
        anchor=uuid.uuid5(uuid.NAMESPACE_URL, f"iop-seed:{seed}:{groups}:{weeks}:{members_per_group}:{end}").hex,
    )
    chunks = generate(
        groups=groups, weeks=weeks, members_per_group=members_per_group, seed=seed, end=end,
        schedule=_schedule_fn(tz), columns=table_columns(), summary=summary, topic_versions=bundled_topic_versions(),
        snapshot=context, anchored=anchored,
    )
    last_reported = -1

    def report(done: int) -> None:
        nonlocal last_reported
        if progress is not None and done != last_reported:
            last_reported = done
            progress(done, groups)

    report(0)
    writer = _write_sqlite if db.backend == "sqlite" else _write_core
    writer(db, chunks, report)

    with db.begin() as session:
        audit.record(
            session, "seed", record_type="program_settings", record_id=get_settings(session).id,
            seed=seed, weeks=weeks, end=end, members_per_group=members_per_group,
            **{k: v for k, v in vars(summary).items()},
            # Anchors every seeded signature (see services.integrity: verify matches them both ways).
            anchor=context.anchor, signed=len(anchored), digest=bulk_digest(anchored),
        )
    return summary
