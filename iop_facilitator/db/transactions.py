"""Transactions that mean it: one write transaction per read-modify-write, on both back ends.

* **SQLite** (Python's ``sqlite3`` and ``sqlcipher3``, in their legacy transaction mode)
  would begin a transaction only at the first INSERT/UPDATE/DELETE: the reads before it each
  see whatever was committed at that moment (two leaders both find "no meeting yet" and both
  insert one), and DDL (``CREATE TABLE`` in a migration) runs outside any transaction, so a
  kill leaves half a schema change behind. :func:`install_sqlite` makes SQLAlchemy emit the
  ``BEGIN`` itself when a transaction starts: ``BEGIN IMMEDIATE`` (the database's write lock,
  taken before the first read) on a connection or session marked with :data:`WRITE`, a plain
  ``BEGIN`` (one consistent snapshot for every read) otherwise. ``Database.begin()`` marks its
  sessions, so every change made through it (the TUI's writer thread, every CLI command) is
  one serialised write transaction. Connections set to SQLAlchemy's ``AUTOCOMMIT`` (``VACUUM
  INTO``) get no ``BEGIN``.
* **PostgreSQL** (READ COMMITTED): :func:`lock_row` reads the row a change is based on with
  ``SELECT ... FOR UPDATE``, so a second writer waits for the first to commit and then sees
  its result.

Services call :func:`lock_row` (or :func:`hold_write_lock`) before the reads a change is based
on; on a session that was not begun with :data:`WRITE` (a plain ``Database.session()``),
:func:`hold_write_lock` takes SQLite's write lock with a no-op write, which fails loudly
(``database is locked``) rather than writing over a change it did not see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

WRITE_OPTION = "iop_write"
WRITE: dict[str, Any] = {WRITE_OPTION: True}
"""Execution options of a write transaction (``Session(engine, execution_options=WRITE)``)."""

T = TypeVar("T")


def install_sqlite(engine: Engine) -> None:
    """Let SQLAlchemy, not the driver, begin SQLite transactions (see the module docstring)."""

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, _record) -> None:  # noqa: ANN001
        # The driver must not BEGIN on its own (it would do so only before DML): we do.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")


def _is_write(conn: Connection) -> bool:
    return bool(conn.get_execution_options().get(WRITE_OPTION))


def hold_write_lock(session: Session) -> None:
    """Make sure this transaction holds the database's write lock before it reads what it will change.

    SQLite: a transaction begun with :data:`WRITE` already does (``BEGIN IMMEDIATE``); any other
    gets it now through a no-op ``UPDATE``, which waits for other writers (busy timeout) and
    fails with ``database is locked`` if this transaction's snapshot is already out of date.
    PostgreSQL has no database-wide write lock: use :func:`lock_row` on the rows concerned.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite" or _is_write(conn):
        return
    conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num WHERE 0")


def lock_row(session: Session, model: type[T], ident: Any) -> T | None:
    """``model``'s row ``ident``, read fresh and locked for this transaction (None if it does not exist).

    PostgreSQL: ``SELECT ... FOR UPDATE`` (a concurrent writer of the same row waits until this
    transaction ends, then reads the committed result). SQLite: the write lock
    (:func:`hold_write_lock`), then a fresh read. Either way the object's attributes are
    reloaded (``populate_existing``), never taken from what this session read earlier.
    """
    hold_write_lock(session)
    return session.get(model, ident, with_for_update=True, populate_existing=True)
