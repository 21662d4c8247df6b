"""Storage guarantees: pragmas, permissions, migrations, pre-flight refusals."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from iop_facilitator.db.engine import open_database, parse_target
from iop_facilitator.db.migrate import current_revision, head_revision
from iop_facilitator.errors import DatabaseProblem
from iop_facilitator.models import TABLES


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_pragmas_are_durable_and_strict(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.db", create=True)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        db.dispose()


def test_new_sqlite_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "folder" / "clinic.db"
    db = open_database(target, create=True)
    db.dispose()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_migrations_reach_head_and_match_models(db) -> None:
    """An empty database upgraded to head has exactly the models' schema."""
    from iop_facilitator.services.maintenance import schema_differences

    assert current_revision(db.engine) == head_revision()
    assert schema_differences(db) == []
    names = set(sa.inspect(db.engine).get_table_names())
    assert {t.__tablename__ for t in TABLES} <= names


def test_alembic_check_agrees(db) -> None:
    from alembic import command

    from iop_facilitator.db.migrate import alembic_config

    command.check(alembic_config(db.engine))  # raises if autogenerate would add anything


def test_open_is_idempotent(db_target: str) -> None:
    first = open_database(db_target, create=True)
    assert first.created
    first.dispose()
    second = open_database(db_target)
    assert not second.created and second.migrated_from is None
    second.dispose()


def test_missing_database_is_not_created_without_create(tmp_path: Path) -> None:
    target = tmp_path / "typo.db"
    with pytest.raises(DatabaseProblem, match="no database at"):
        open_database(target)
    assert not target.exists()


def test_not_a_database_file_is_refused_untouched(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("dear diary\n" * 50)
    before = digest(target)
    with pytest.raises(DatabaseProblem, match="not an iop-facilitator database"):
        open_database(target, create=True)
    assert digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "other.db"
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = digest(target)
    with pytest.raises(DatabaseProblem, match="not an iop-facilitator one"):
        open_database(target, create=True)
    assert digest(target) == before


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "future.db"
    open_database(target, create=True).dispose()
    conn = sqlite3.connect(target)
    conn.execute("UPDATE alembic_version SET version_num = 'f999_from_the_future'")
    conn.commit()
    conn.close()
    before = digest(target)
    with pytest.raises(DatabaseProblem, match="newer than this program knows"):
        open_database(target)
    assert digest(target) == before


def test_folder_as_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseProblem, match="is a folder"):
        open_database(tmp_path, create=True)


@pytest.mark.parametrize(
    "target",
    [
        "postgresql+psycopg://",
        "mysql://u@h/db",
        "sqlite:///:memory:",
        "postgresql+psycopg://user@/",
        "postgresql+asyncpg://u@localhost/db",
        "oracle+cx://x@y/z",
        "://nothing",
        "",
    ],
)
def test_malformed_or_unsupported_urls(target: str) -> None:
    with pytest.raises(DatabaseProblem):
        parse_target(target)


def test_plain_postgresql_url_gets_psycopg() -> None:
    url = parse_target("postgresql://clinic:secret@db.example:5433/iop")
    assert url.drivername == "postgresql+psycopg"
    from iop_facilitator.db.engine import describe

    assert "secret" not in describe(url)


def test_unreachable_server_is_one_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatabaseProblem, match=f"cannot reach the PostgreSQL server at 127.0.0.1:{port}"):
        open_database(f"postgresql+psycopg://nobody@127.0.0.1:{port}/iop", create=True)


def test_optimistic_lock_rejects_a_stale_writer(db) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    from iop_facilitator.models import Member
    from iop_facilitator.services.members import add_member

    with db.begin() as s:
        member_id = add_member(s, "Casey R.").id
    with db.session() as first, db.session() as second:
        a = first.get_one(Member, member_id)
        b = second.get_one(Member, member_id)
        a.display_name = "Casey S."
        first.commit()
        b.display_name = "Casey T."
        if db.backend == "sqlite":
            # Reads are in a real transaction (db/transactions.py): SQLite itself refuses a write
            # from a snapshot that is out of date, before the version check gets a chance.
            from sqlalchemy.exc import OperationalError

            with pytest.raises(OperationalError) as refused:
                second.commit()
            assert refused.value.orig.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
        else:
            with pytest.raises(StaleDataError):
                second.commit()
    with db.session() as s:
        kept = s.get_one(Member, member_id)
        assert kept.display_name == "Casey S." and kept.version == 2


def test_datetimes_are_stored_and_read_as_aware_utc(db) -> None:
    import datetime as dt

    import pendulum

    from iop_facilitator.models import AuditEvent

    local = pendulum.datetime(2026, 3, 8, 1, 30, tz="America/Chicago")
    with db.begin() as s:
        event = AuditEvent(actor="t", action="x", occurred_at=local)
        s.add(event)
    with db.session() as s:
        back = s.get_one(AuditEvent, event.id)
        assert back.occurred_at.utcoffset() == dt.timedelta(0)
        assert back.occurred_at == local


def test_naive_datetimes_are_refused(db) -> None:
    import datetime as dt

    from iop_facilitator.models import AuditEvent

    with pytest.raises(sa.exc.StatementError):
        with db.begin() as s:
            s.add(AuditEvent(actor="t", action="x", occurred_at=dt.datetime(2026, 1, 1, 9, 0)))
            s.flush()


def test_primary_keys_are_uuids(db) -> None:
    from iop_facilitator.services.staff import add_staff

    with db.begin() as s:
        person = add_staff(s, "Rae Lopez", "LPC")
    assert isinstance(person.id, uuid.UUID) and person.id.version == 4


def test_check_constraints_guard_ratings(db) -> None:
    """A mood outside 0-10 is refused by the database itself, on every back end."""
    import datetime as dt

    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.models import Attendance
    from iop_facilitator.services import groups, meetings, members

    with db.begin() as s:
        g = groups.add_group(s, "Checks", weekdays="mon")
        m = members.add_member(s, "Lee K.")
        mt = meetings.create_meeting(s, g, dt.date(2026, 11, 2))
        ids = (mt.id, m.id)
    with pytest.raises(sa.exc.IntegrityError):
        with db.begin() as s:
            s.add(Attendance(meeting_id=ids[0], member_id=ids[1], status=AttendanceStatus.present, checkin_mood=11))


def test_wal_files_inherit_privacy(tmp_path: Path) -> None:
    target = tmp_path / "p.db"
    db = open_database(target, create=True)
    with db.engine.connect() as conn:  # keep a connection so -wal and -shm exist
        conn.exec_driver_sql("SELECT 1")
        for suffix in ("-wal", "-shm"):
            side = target.with_name(target.name + suffix)
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0, suffix
    db.dispose()
    assert os.path.exists(target)


def test_known_revisions_match_alembic() -> None:
    """The start-up shortcut (reading revision ids from the files) agrees with Alembic."""
    from iop_facilitator.db.migrate import _script, known_revisions

    script = _script()
    revisions, head = known_revisions()
    assert head == script.get_current_head()
    assert revisions == {r.revision for r in script.walk_revisions()}
