"""Whole-database operations: integrity checks and online backups.

These work on a :class:`~iop_facilitator.db.engine.Database` (an engine), not a
session, because they act on the file or the schema rather than on records.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlmodel import Session, SQLModel, func, select

from iop_facilitator.db.engine import Database
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import ProgramSettings
from iop_facilitator.paths import ensure_private_file
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


def backup_to(database: Database, target: Path, *, force: bool = False) -> Path:
    """A consistent copy of a SQLite database at ``target`` (mode 0600), made while others write."""
    if database.backend != "sqlite" or database.path is None:
        raise InvalidInput(
            "iop db backup copies SQLite databases; back up a PostgreSQL database on its server with pg_dump"
        )
    target = Path(target).expanduser().absolute()
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder; give a file name for the backup")
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder {target.parent} does not exist")
    if target.resolve() == database.path.resolve():
        raise InvalidInput("the backup cannot replace the database itself")
    if target.exists() and not force:
        raise InvalidInput(f"{target} already exists; add --force to replace it")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    if partial.exists():
        partial.unlink()
    try:
        ensure_private_file(partial)
    except OSError as exc:
        raise InvalidInput(f"cannot write to {target.parent}: {exc.strerror}") from None
    try:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM INTO ?", (str(partial),))
        check = sqlite3.connect(f"{partial.as_uri()}?mode=ro", uri=True)
        try:
            verdict = check.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            raise InvalidInput("the backup copy failed its integrity check; nothing was written")
        os.replace(partial, target)
        os.chmod(target, 0o600)
    finally:
        if partial.exists():
            partial.unlink()
    with Session(database.engine) as session:
        audit.record(session, "db.backup", record_type="database", target=str(target))
        session.commit()
    return target
