"""New databases in tests: migrated once per session, then copied.

Bringing an empty database to the newest schema runs every Alembic revision (about
0.1-0.2 s of CPU each time, and the suite creates over a thousand databases). The
``fast_new_databases`` fixture (``tests/conftest.py``, every test) replaces
:func:`iop_facilitator.db.migrate.upgrade` *for an empty database only*:

* SQLite: the schema of a template file, migrated by the real ``upgrade`` the first
  time it is needed in this process, is copied into the new file with SQLite's
  online backup API (same file, same inode: what ``open_database`` holds stays true);
* PostgreSQL: the empty database is dropped and created again with
  ``CREATE DATABASE ... TEMPLATE`` from a template database migrated the same way
  (one per test process, dropped at the end of the session); a test that asks for the
  ``db`` fixture gets its database created as that copy at once
  (``create_postgresql_at_head``), without the empty one first;
* the ``progress`` callback gets the same calls the real upgrade made for the template.

Everything else (an encrypted file, an older schema, a revision other than head) runs the
real migrations, and so do the migration tests (``tests/test_storage.py``,
``tests/test_upgrades.py``, the upgrade torture tests), which build old schemas on purpose.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Progress = Callable[[int, int, str], None]


class Templates:
    def __init__(self, pg_url: str) -> None:
        self.pg_url = pg_url
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._sqlite: Path | None = None
        self._pg_name: str | None = None
        self._admin: Any = None
        self._calls: list[tuple[int, int, str]] = []
        self.real_upgrade: Callable[..., None] | None = None
        self._building = False
        self._built: dict[tuple[str, str], tuple[str, Any]] = {}
        self._pg_extra: list[str] = []

    # -- the replacement for migrate.upgrade -------------------------------------------
    def upgrade(self, engine: Any, revision: str = "head", *, progress: Progress | None = None) -> None:
        assert self.real_upgrade is not None
        dialect = engine.dialect
        if not self._building and revision == "head" and _is_empty(engine):
            if dialect.name == "sqlite" and dialect.driver == "pysqlite":
                _copy_sqlite(self._sqlite_template(), engine)
                return self._replay(progress)
            if dialect.name == "postgresql" and self.pg_url:
                self._copy_postgresql(self._pg_template(), engine)
                return self._replay(progress)
        self.real_upgrade(engine, revision, progress=progress)

    def _replay(self, progress: Progress | None) -> None:
        if progress is not None:
            for call in self._calls:
                progress(*call)

    def _build(self, target: str) -> None:
        """``open_database(target, create=True)`` exactly as the program does it (real migrations)."""
        from iop_facilitator.db.engine import open_database

        calls: list[tuple[int, int, str]] = []
        self._building = True
        try:
            open_database(target, create=True, progress=lambda *call: calls.append(call)).dispose()
        finally:
            self._building = False
        self._calls = self._calls or calls

    # -- SQLite ------------------------------------------------------------------------
    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            self._folder = tempfile.TemporaryDirectory(prefix="iop-test-templates-")
            path = Path(self._folder.name) / "head.db"
            self._build(str(path))
            self._sqlite = path
        return self._sqlite

    # -- PostgreSQL ----------------------------------------------------------------------
    def admin(self) -> Any:
        if self._admin is None:
            import sqlalchemy as sa

            self._admin = sa.create_engine(self.pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        return self._admin

    def _pg_template(self) -> str:
        if self._pg_name is None:
            import sqlalchemy as sa
            from sqlalchemy.engine import make_url

            name = f"iop_template_{uuid.uuid4().hex[:12]}"
            with self.admin().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            self._pg_name = name  # dropped by close() even if the migration fails
            self._build(make_url(self.pg_url).set(database=name).render_as_string(hide_password=False))
        return self._pg_name

    def create_postgresql_at_head(self, name: str) -> None:
        """Create the database ``name`` as a copy of the migrated template (for a test that wants a
        migrated database: one ``CREATE DATABASE`` instead of an empty one dropped and copied again)."""
        import sqlalchemy as sa

        template = self._pg_template()
        with self.admin().connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def _copy_postgresql(self, template: str, engine: Any) -> None:
        """Drop the database ``engine`` is for and create it again as a copy of ``template``."""
        import sqlalchemy as sa

        name = engine.url.database
        engine.dispose()  # its pooled connections are to the database dropped here
        with self.admin().connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    # -- whole fixture databases, built once -----------------------------------------------
    def restore(self, database: Any, key: str, build: Callable[[Any], Any]) -> Any:
        """Make the open, empty ``database`` a copy of what ``build(database)`` makes, and return
        what ``build`` returned.

        ``build`` runs once per process and back end (on a database of its own); later calls
        copy its result (SQLite: the backup API; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``).
        For builders that depend only on their arguments (fixed dates, their own ids).
        """
        backend = database.engine.dialect.name
        if backend == "sqlite" and database.engine.dialect.driver != "pysqlite":
            return build(database)  # SQLCipher: no copy between the two drivers
        cached = self._built.get((backend, key))
        if cached is None:
            cached = self._build_fixture(backend, key, build)
            self._built[(backend, key)] = cached
        where, result = cached
        database.engine.dispose()
        if backend == "sqlite":
            _copy_sqlite(Path(where), database.engine)
        else:
            self._copy_postgresql(where, database.engine)
        return result

    def _build_fixture(self, backend: str, key: str, build: Callable[[Any], Any]) -> tuple[str, Any]:
        from iop_facilitator.db.engine import open_database

        if backend == "sqlite":
            self._sqlite_template()
            assert self._folder is not None
            where = str(Path(self._folder.name) / f"{key}.db")
            target = where
        else:
            import sqlalchemy as sa
            from sqlalchemy.engine import make_url

            where = f"iop_template_{uuid.uuid4().hex[:12]}"
            with self.admin().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{where}"'))
            self._pg_extra.append(where)
            target = make_url(self.pg_url).set(database=where).render_as_string(hide_password=False)
        database = open_database(target, create=True)
        try:
            result = build(database)
        finally:
            database.dispose()
        return where, result

    # -- the end of the session --------------------------------------------------------------
    def close(self) -> None:
        names = [*self._pg_extra, *([self._pg_name] if self._pg_name else [])]
        if names:
            import sqlalchemy as sa

            with self.admin().connect() as conn:
                for name in names:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._pg_name, self._pg_extra = None, []
        self._built.clear()
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
            self._sqlite = None


def _is_empty(engine: Any) -> bool:
    """No table at all (a database just created): the only case the templates stand in for."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        return not sa.inspect(conn).get_table_names()


def _copy_sqlite(source_path: Path, engine: Any) -> None:
    """Overwrite the SQLite database ``engine`` is for with ``source_path`` (online backup API, one step)."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        raw = engine.raw_connection()
        try:
            source.backup(raw.driver_connection)
        finally:
            raw.close()
    finally:
        source.close()
