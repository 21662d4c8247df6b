"""Alembic environment: runs against the engine handed over by ``db.migrate``.

Every upgrade is **one transaction, DDL included**, on both back ends: PostgreSQL's DDL is
transactional, and on SQLite the engine begins transactions itself (``db/transactions.py``),
so ``CREATE TABLE _alembic_tmp_...`` of a batch rebuild is inside the transaction too
(Python's ``sqlite3`` alone would autocommit it). A kill at any moment leaves the old schema
(nothing committed) or the new one. SQLite's transaction is ``BEGIN IMMEDIATE``: a second
process upgrading at the same time waits, then finds the schema already at head.

Leftovers of an interrupted upgrade by an older version of this program (``_alembic_tmp_*``
tables, committed on their own before the fix above) are dropped first, in the same
transaction, when the table they were copying still exists.

``config.attributes["progress"]`` (optional) is called as ``progress(done, total, label)``
before the first step and after each one (see ``db.migrate.upgrade``). A migration that
rewrites many rows reports them through ``context.config.attributes["rows"]`` (when set) as
``rows(done, total)``, passed on as ``progress(done, total, label, (rows done, total))``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import iop_facilitator.models  # noqa: F401  (registers every table on the metadata)
from iop_facilitator.db.transactions import WRITE_OPTION
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata
config = context.config
TMP_PREFIX = "_alembic_tmp_"


def _raw_sqlite(connection, statement: str) -> None:  # noqa: ANN001
    """Run a PRAGMA outside any transaction (SQLite ignores ``foreign_keys`` inside one)."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _drop_leftovers(connection) -> None:  # noqa: ANN001
    from iop_facilitator.errors import DatabaseProblem

    names = {
        row[0]
        for row in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    }
    for name in sorted(n for n in names if n.startswith(TMP_PREFIX)):
        original = name[len(TMP_PREFIX):]
        if original not in names:
            # The copy may be the only one left: never drop it; a person must look.
            raise DatabaseProblem(
                f"an interrupted schema upgrade left table {name} without {original}; "
                "restore a backup (iop db restore) or ask for support"
            )
        connection.exec_driver_sql(f'DROP TABLE "{name}"')


def _steps(connection) -> list[tuple[str, str]]:  # noqa: ANN001
    """The revisions still to apply (oldest first) as (id, one-line description)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(config)
    revisions = list(script.iterate_revisions("heads", current or "base"))
    revisions = [r for r in revisions if r.revision != current]
    return [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else r.revision) for r in reversed(revisions)]


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    progress = config.attributes.get("progress")
    owned = engine is None
    if owned:  # the alembic command line: ``alembic -x url=... upgrade head``
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("pass the database with: alembic -x url=sqlite:///PATH ...")
        engine = create_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a table by copying it, dropping the old one and renaming
            # the copy; with foreign keys enforced, dropping a table other rows point at fails.
            # The pragma only takes effect outside a transaction, so set it before beginning,
            # and check every reference before committing instead.
            _raw_sqlite(connection, "PRAGMA foreign_keys=OFF")
            connection.execution_options(**{WRITE_OPTION: True})
        try:
            with connection.begin():
                if sqlite:
                    _drop_leftovers(connection)
                steps = _steps(connection) if progress is not None else []
                done = [0]

                def applied(**_kwargs) -> None:  # noqa: ANN003
                    done[0] += 1
                    label = steps[done[0]][1] if done[0] < len(steps) else "finishing"
                    progress(done[0], len(steps), label)

                def rows(count: int, total: int) -> None:
                    if not total:
                        return
                    label = steps[done[0]][1] if done[0] < len(steps) else "finishing"
                    progress(done[0], len(steps), label, (count, total))

                if steps:
                    progress(0, len(steps), steps[0][1])
                    config.attributes["rows"] = rows
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                    on_version_apply=applied if steps else None,
                )
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        tables = sorted({str(row[0]) for row in broken})
                        raise RuntimeError(f"migration left broken references in: {', '.join(tables)}")
        finally:
            config.attributes.pop("rows", None)
            if sqlite:
                _raw_sqlite(connection, "PRAGMA foreign_keys=ON")
    if owned:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - we never generate offline SQL
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
