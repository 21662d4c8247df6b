"""Turning a ``--db`` target into a checked, migrated database.

A target is either a SQLite file path or a SQLAlchemy URL
(``sqlite:///path``, ``postgresql+psycopg://user@host:port/db``). Opening runs
pre-flight checks that *write nothing* (is it a database, is it ours, is its
schema one this program knows, is the server reachable) before migrating to
the newest schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlmodel import Session

from iop_facilitator.errors import DatabaseProblem
from iop_facilitator.paths import ensure_private_file

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 5


@dataclass
class Database:
    """An open, migrated database: the engine plus what the user should see of it."""

    engine: Engine
    url: URL
    display: str  # never holds a password
    path: Path | None = None  # SQLite file, else None
    created: bool = False
    migrated_from: str | None = field(default=None)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self.session() as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()


def parse_target(target: str | Path) -> URL:
    """A SQLAlchemy URL for a ``--db`` target, or a one-line :class:`DatabaseProblem`."""
    text = str(target).strip()
    if not text:
        raise DatabaseProblem("the database target is empty")
    if "://" not in text:
        path = Path(text).expanduser()
        return URL.create("sqlite", database=str(path.absolute()))
    try:
        url = make_url(text)
    except ArgumentError:
        raise DatabaseProblem(
            "malformed database URL; expected a file path, sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DBNAME"
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql":
        if "+" not in url.drivername:
            url = url.set(drivername="postgresql+psycopg")
        elif driver != "psycopg":
            raise DatabaseProblem("PostgreSQL URLs must use the psycopg driver (postgresql+psycopg://)")
        if not url.host and not url.query.get("host"):
            raise DatabaseProblem("the PostgreSQL URL has no host")
        if not url.database:
            raise DatabaseProblem("the PostgreSQL URL names no database")
        return url
    if backend == "sqlite":
        if url.drivername != "sqlite":
            raise DatabaseProblem(f"unsupported SQLite driver {url.drivername!r}; use sqlite:///PATH")
        if not url.database or url.database == ":memory:":
            raise DatabaseProblem("a SQLite URL must name a file: sqlite:///PATH")
        return url.set(database=str(Path(url.database).expanduser().absolute()))
    raise DatabaseProblem(f"unsupported database {backend!r}; use a SQLite file or PostgreSQL")


def describe(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def create_engine_for(url: URL) -> Engine:
    """An engine with the storage guarantees the app relies on (see docs/ARCHITECTURE.md)."""
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            engine = sa.create_engine(
                url,
                hide_parameters=True,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            return engine
        return sa.create_engine(
            url,
            hide_parameters=True,
            pool_pre_ping=True,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "iop-facilitator"},
        )
    except NoSuchModuleError:
        raise DatabaseProblem(f"no database driver installed for {url.drivername!r}") from None


def _preflight_sqlite(path: Path, create: bool) -> tuple[bool, str | None]:
    """Check a SQLite file without writing to it. Returns (is_new, current_revision)."""
    if path.is_dir():
        raise DatabaseProblem(f"{path} is a folder, not a database file")
    if not path.exists() or path.stat().st_size == 0:
        if not create:
            raise DatabaseProblem(f"no database at {path}; create one with: iop --db {path} init")
        return True, None
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise DatabaseProblem(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise DatabaseProblem(f"{path} is not an iop-facilitator database (not a SQLite file)")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseProblem(f"{path} cannot be read as a database ({exc})") from None
    if "alembic_version" not in tables and tables:
        raise DatabaseProblem(f"{path} is a SQLite database, but not an iop-facilitator one")
    return not tables, revision


def _preflight_server(engine: Engine, url: URL) -> tuple[bool, str | None]:
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.OperationalError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else ""
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        raise DatabaseProblem(f"cannot reach the PostgreSQL server at {where}: {reason}") from None
    if "alembic_version" not in tables and tables:
        raise DatabaseProblem(f"database {url.database!r} holds other tables; it is not an iop-facilitator database")
    return not tables, revision


def open_database(target: str | Path, *, create: bool = False, migrate: bool = True) -> Database:
    """Open ``target``, refusing anything that is not (or cannot become) our database.

    ``create`` allows a new SQLite file (0600, in a 0700 folder) or an empty
    PostgreSQL database to be initialised. With ``migrate`` (the default) the
    schema is brought to the newest version this program knows.
    """
    from iop_facilitator.db import migrate as migrations

    url = parse_target(target)
    path: Path | None = None
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        is_new, revision = _preflight_sqlite(path, create)
        migrations.check_known_revision(revision, describe(url))
        if is_new:
            ensure_private_file(path)
        engine = create_engine_for(url)
    else:
        engine = create_engine_for(url)
        is_new, revision = _preflight_server(engine, url)
        migrations.check_known_revision(revision, describe(url))
        if is_new and not create:
            engine.dispose()
            raise DatabaseProblem(f"database {describe(url)} is empty; initialise it with: iop init")
    db = Database(engine=engine, url=url, display=describe(url), path=path, created=is_new)
    if migrate and not migrations.is_at_head(revision):
        db.migrated_from = revision
        migrations.upgrade(engine)
    return db
