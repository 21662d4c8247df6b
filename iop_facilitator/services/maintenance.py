"""Whole-database operations: integrity checks, online backups and restores.

These work on a :class:`~iop_facilitator.db.engine.Database` (an engine), not a
session, because they act on the file or the schema rather than on records.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, SQLModel, func, select

from iop_facilitator.clock import utcnow
from iop_facilitator.db.engine import Database
from iop_facilitator.errors import InvalidInput
from iop_facilitator.files import put_in_place, reserve
from iop_facilitator.models import ProgramSettings
from iop_facilitator.services import audit


def schema_differences(database: Database) -> list[str]:
    """Differences between the models and the live schema (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import iop_facilitator.models  # noqa: F401

    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)
    return [str(d[0] if isinstance(d, tuple) else d[0][0]) for d in diffs]


def integrity_problems(database: Database) -> list[str]:
    """Everything wrong with the database, one line each (no record contents)."""
    from iop_facilitator.db.migrate import current_revision, head_revision

    problems: list[str] = []
    if database.backend == "sqlite":
        with database.engine.connect() as conn:
            for (line,) in conn.exec_driver_sql("PRAGMA integrity_check").fetchall():
                if line != "ok":
                    problems.append(f"integrity: {line}")
            for table, rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall():
                problems.append(f"foreign key: {table} row {rowid} points at a missing {parent}")
    mode = database.loose_permissions
    if mode is not None:
        problems.append(
            f"permissions: {database.display} can be read by other users (mode {mode:04o}); "
            f"make it private with: chmod 600 {database.display}"
        )
    problems.extend(lock_trigger_problems(database))
    revision = current_revision(database.engine)
    if revision != head_revision():
        problems.append(f"schema: at {revision}, expected {head_revision()} (run: iop db upgrade)")
    else:
        for diff in schema_differences(database):
            problems.append(f"schema differs from this program's models: {diff}")
    with Session(database.engine) as session:
        count = session.exec(select(func.count()).select_from(ProgramSettings)).one()
        if count > 1:
            problems.append(f"settings: {count} program settings rows, expected one")
    return problems


# The lock triggers of migration 0005 (names only: 0006 replaced them with the definitions in db/locks.py).
SQLITE_LOCK_TRIGGERS = (
    "iop_lock_meeting_update", "iop_lock_meeting_delete",
    *(f"iop_lock_{t}_{w}" for t in ("attendance", "progress_note", "story_note", "safety_event")
      for w in ("insert", "update", "delete")),
    *(f"iop_lock_{t}_{w}" for t in ("addendum", "audit_event") for w in ("update", "delete")),
)
PG_LOCK_TRIGGERS = (
    "iop_lock_meeting", "iop_lock_attendance", "iop_lock_progress_note", "iop_lock_story_note",
    "iop_lock_safety_event", "iop_lock_addendum", "iop_lock_addendum_truncate", "iop_lock_audit_event",
    "iop_lock_audit_event_truncate",
)


def lock_trigger_problems(database: Database) -> list[str]:
    """Missing, changed, disabled or unexpected lock triggers, one line each (see ``db/locks.py``)."""
    from iop_facilitator.db.locks import trigger_problems
    from iop_facilitator.db.migrate import current_revision

    revision = current_revision(database.engine)
    if revision in (None, "0001", "0002", "0003", "0004"):
        return []
    with database.engine.connect() as conn:
        if revision != "0005":
            return trigger_problems(conn)
        if database.backend == "sqlite":
            present = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            disabled: set[str] = set()
            expected = SQLITE_LOCK_TRIGGERS
        else:
            rows = conn.exec_driver_sql(
                "SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())"
            ).fetchall()
            present = {r[0] for r in rows}
            disabled = {r[0] for r in rows if r[1] == "D"}
            expected = PG_LOCK_TRIGGERS
    problems = []
    for name in expected:
        if name not in present:
            problems.append(f"lock: trigger {name} is missing (signed records are not protected against raw SQL)")
        elif name in disabled:
            problems.append(f"lock: trigger {name} is disabled (signed records are not protected against raw SQL)")
    return problems


def _require_sqlite(database: Database, what: str, tool: str) -> Path:
    if database.backend != "sqlite" or database.path is None:
        raise InvalidInput(f"iop db {what} is for SQLite files; for PostgreSQL use {tool} on the server")
    return database.path


def _open_copy(database: Database, path: Path) -> Any:
    """A read-only DB-API connection to a copy, keyed like ``database`` when it is encrypted."""
    if database.encrypted:
        from iop_facilitator.db.engine import open_cipher_connection

        return open_cipher_connection(path, database.url.password or "", read_only=True)
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _vacuum_into(database: Database, target: Path) -> None:
    """``VACUUM INTO`` a new 0600 file (a consistent snapshot; an encrypted database stays encrypted)."""
    try:
        partial = reserve(target, "partial")  # an empty 0600 file for VACUUM INTO to fill
    except OSError as exc:
        raise InvalidInput(f"cannot write to {target.parent}: {exc.strerror}") from None
    try:
        # The engine's own connection: keyed for SQLCipher, so the copy is encrypted with the same key.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM INTO ?", (str(partial),))
        check = _open_copy(database, partial)
        try:
            verdict = check.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            raise InvalidInput("the copy failed its integrity check; nothing was written")
        put_in_place(partial, target, replace=True)
    finally:
        if partial.exists():
            partial.unlink()


def backup_to(database: Database, target: Path, *, force: bool = False) -> Path:
    """A consistent copy of a SQLite database at ``target`` (mode 0600), made while others write.

    ``VACUUM INTO`` reads one snapshot, so writes by other processes meanwhile
    are either wholly in the copy or not at all. An encrypted database's copy
    is encrypted with the same passphrase.
    """
    _require_sqlite(database, "backup", "pg_dump")
    assert database.path is not None
    target = Path(target).expanduser().absolute()
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder; give a file name for the backup")
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder {target.parent} does not exist")
    if target.resolve() == database.path.resolve():
        raise InvalidInput("the backup cannot replace the database itself")
    if target.exists() and not force:
        raise InvalidInput(f"{target} already exists; add --force to replace it")
    _vacuum_into(database, target)
    with Session(database.engine) as session:
        audit.record(session, "db.backup", record_type="database", target=str(target), encrypted=database.encrypted)
        session.commit()
    return target


@dataclass(frozen=True)
class BackupInfo:
    """What :func:`check_backup` found in a backup file."""

    path: Path
    revision: str
    encrypted: bool
    meetings: int
    audit_entries: int


def check_backup(database: Database, source: Path) -> BackupInfo:
    """Validate ``source`` as a backup ``database`` can be restored from (reads only).

    It must open (with the same passphrase, for an encrypted database), pass
    ``integrity_check``, and hold an iop-facilitator schema this program knows.
    """
    from iop_facilitator.db.engine import sqlite_file_kind
    from iop_facilitator.db.migrate import check_known_revision

    path = _require_sqlite(database, "restore", "pg_restore")
    source = Path(source).expanduser().absolute()
    if not source.is_file():
        raise InvalidInput(f"no backup file at {source}")
    if source.resolve() == path.resolve():
        raise InvalidInput("that is the database itself, not a backup of it")
    kind = sqlite_file_kind(source)
    if kind == "plain" and database.encrypted:
        raise InvalidInput(f"{source} is not encrypted but this database is; restore an encrypted backup of it")
    if kind == "encrypted" and not database.encrypted:
        raise InvalidInput(f"{source} is encrypted but this database is not; it cannot be restored here")
    if kind not in ("plain", "encrypted"):
        raise InvalidInput(f"{source} is not an iop-facilitator backup")
    try:
        conn = _open_copy(database, source)
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{source} cannot be read as a database") from None
    try:
        try:
            verdict = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables or "meeting" not in tables:
                raise InvalidInput(f"{source} is not an iop-facilitator backup")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            meetings = conn.execute("SELECT count(*) FROM meeting").fetchone()[0]
            entries = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        except sqlite3.DatabaseError:
            raise InvalidInput(f"{source} cannot be read as a database") from None
    finally:
        conn.close()
    if verdict != ["ok"]:
        raise InvalidInput(f"{source} failed its integrity check ({verdict[0]}); it was not restored")
    if not row:
        raise InvalidInput(f"{source} has no schema version; it is not an iop-facilitator backup")
    check_known_revision(row[0], str(source))
    return BackupInfo(source, row[0], kind == "encrypted", meetings, entries)


@dataclass(frozen=True)
class RestoreResult:
    info: BackupInfo
    safety_copy: Path
    database: Database  # the reopened (and, for an older backup, upgraded) database


def restore_from(database: Database, source: Path) -> RestoreResult:
    """Replace ``database``'s contents with the backup at ``source``; ``database`` is closed.

    Order: validate the backup (:func:`check_backup`); refuse while another
    process has the database open (:func:`~iop_facilitator.db.encryption.open_elsewhere`);
    keep a safety copy of
    the current database next to it (``NAME.before-restore-<UTC time>``); copy
    the backup in with SQLite's online backup API in one step (one write
    transaction: other connections see the old or the new database, never a
    mix, and the write-ahead log stays consistent); reopen the database (which
    upgrades an older backup's schema) and audit the restore in it.
    """
    import dataclasses

    from iop_facilitator.db.encryption import open_elsewhere
    from iop_facilitator.db.engine import create_engine_for, open_database
    from iop_facilitator.errors import Conflict

    info = check_backup(database, source)
    path = database.path
    assert path is not None
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    safety = path.with_name(f"{path.name}.before-restore-{stamp}")
    if safety.exists():
        raise InvalidInput(f"{safety} already exists; wait a second and try again")
    database.dispose()  # no connection of ours may remain for the check below
    if open_elsewhere(path):
        raise Conflict("the database is open in another program (the app?); close it everywhere, then restore")
    work = dataclasses.replace(database, engine=create_engine_for(database.url))
    try:
        _vacuum_into(work, safety)
        src = _open_copy(work, info.path)
        try:
            raw = work.engine.raw_connection()
            try:
                dest = raw.driver_connection
                src.backup(dest)  # pages=-1: the whole copy in one step
                verdict = dest.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                raw.close()
        finally:
            src.close()
    finally:
        work.dispose()
    passphrase = database.url.password if database.encrypted else None
    if verdict != "ok":  # pragma: no cover - the backup passed integrity_check just before
        raise InvalidInput(f"the restored database failed its integrity check; the previous one is at {safety}")
    restored = open_database(path, passphrase=passphrase)
    with restored.begin() as session:
        audit.record(
            session, "db.restore", record_type="database", file=info.path.name, revision=info.revision,
            safety_copy=safety.name,
        )
    return RestoreResult(info, safety, restored)


def rescue_copy(database: Database) -> Path:
    """Copy what an open SQLite database still holds after its file was deleted or replaced.

    The open connections keep reading the old file (deleted files live on while open), so
    ``VACUUM INTO`` through one of them writes everything saved until now to a new 0600
    file: ``NAME.rescued-<UTC time>`` beside the old path (or in the data folder when that
    folder is gone too). Connections never create a file (``db/engine.py``), so this cannot
    read an empty database that appeared at the old path. Returns the new file's path.
    """
    from iop_facilitator.paths import data_dir

    path = _require_sqlite(database, "rescue", "the server's own tools")
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    folder = path.parent if path.parent.is_dir() else data_dir()
    target = folder / f"{path.name}.rescued-{stamp}"
    _vacuum_into(database, target)
    return target
