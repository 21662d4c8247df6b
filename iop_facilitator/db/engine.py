"""Turning a ``--db`` target into a checked, migrated database.

A target is either a SQLite file path or a SQLAlchemy URL
(``sqlite:///path``, ``postgresql+psycopg://user@host:port/db``). Opening runs
pre-flight checks that *write nothing* (is it a database, is it ours, is its
schema one this program knows, is the server reachable) before migrating to
the newest schema.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session

from iop_facilitator.db import raw
from iop_facilitator.db.raw import SQLITE_HEADER
from iop_facilitator.db.transactions import install_sqlite
from iop_facilitator.errors import (
    DatabaseGone,
    DatabaseProblem,
    PassphraseRequired,
    StorageReadOnly,
    WrongPassphrase,
)
from iop_facilitator.files import ensure_private_file

BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 5

# -- encryption at rest (SQLCipher through sqlcipher3; see docs/ARCHITECTURE.md) --------------
CIPHER_DRIVER = "sqlite+pysqlcipher"
PASSPHRASE_ENV = "IOP_PASSPHRASE"
WRONG_PASSPHRASE = "wrong passphrase, or not an iop-facilitator database"
# A passphrase source: the passphrase itself, or a function asked only when an encrypted file
# needs one; its argument is True when the passphrase is for a *new* encrypted database.
Passphrase = str | Callable[[bool], "str | None"] | None


@dataclass
class Database:
    """An open, migrated database: the engine plus what the user should see of it."""

    engine: Engine
    url: URL
    display: str  # never holds a password
    path: Path | None = None  # SQLite file, else None
    created: bool = False
    migrated_from: str | None = field(default=None)
    read_only: str = ""  # why the database is open read-only (empty when it is writable)
    file_identity: tuple[int, int] | None = None  # (device, inode) of the SQLite file when it was opened

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def encrypted(self) -> bool:
        """A SQLCipher file (its passphrase lives only in ``url``, whose str/repr hide it)."""
        return self.url.drivername == CIPHER_DRIVER

    def passphrase_matches(self, candidate: str) -> bool:
        """Constant-time check of ``candidate`` against the passphrase this database was opened with."""
        import hmac

        if not self.encrypted:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), (self.url.password or "").encode("utf-8"))

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def check_file(self) -> None:
        """Raise :class:`DatabaseGone` when the SQLite file was deleted or replaced since it was opened.

        Every commit runs this (an ``os.stat``, a few microseconds): writing on into a deleted
        file would lose everything at the next quit, and into a replaced one would go to a file
        nobody reads. The open connection still reads the old file, so what was saved can be
        copied out (``services.maintenance.rescue_copy``).
        """
        if self.path is None or self.file_identity is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise DatabaseGone(
                f"the database file {self.display} was deleted while it was open; nothing more is saved to it"
            ) from None
        except OSError:
            return  # e.g. a folder that cannot be searched any more: the write itself will say
        if (st.st_dev, st.st_ino) != self.file_identity:
            raise DatabaseGone(
                f"the database file {self.display} was replaced by another file while it was open; "
                "nothing more is saved to it"
            )

    @property
    def loose_permissions(self) -> int | None:
        """The SQLite file's mode when users other than its owner may read or write it, else None."""
        if self.path is None:
            return None
        try:
            mode = os.stat(self.path).st_mode & 0o777
        except OSError:
            return None
        return mode if mode & 0o077 else None

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error.

        On SQLite it starts with ``BEGIN IMMEDIATE`` (``db/transactions.py``): the write lock is
        held from the first read, so a read-modify-write never acts on a state another writer
        has changed meanwhile.
        """
        from iop_facilitator.db.transactions import WRITE

        if self.read_only:
            raise StorageReadOnly(f"{self.display} is open read-only ({self.read_only}); nothing can be changed")
        self.check_file()
        try:
            with Session(self.engine, expire_on_commit=False, execution_options=WRITE) as session:
                with session.begin():
                    yield session
        except DBAPIError:
            # The file may have gone between the check above and the connection SQLite opened
            # for this transaction ("disk I/O error", "no such table"): say so, not the driver's words.
            self.check_file()
            raise

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
    if url.get_backend_name() == "sqlite":  # also sqlite+pysqlcipher: only the path, never the password
        return str(url.database)
    return url.render_as_string(hide_password=True)


SIDECARS = ("-wal", "-shm", "-journal")


def _sqlite_on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        main = next((row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"), "")
    finally:
        cursor.close()
    if main:
        private_sidecars(Path(main))


def _sqlite_on_connect_read_only(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only=ON")
    finally:
        cursor.close()


def private_sidecars(path: Path) -> None:
    """Make the database's -wal, -shm and -journal files 0600, whatever the main file's mode.

    SQLite creates them with the main file's permissions, so a database left 0644 by another
    tool would get world-readable copies of recent changes in its -wal. Called for every new
    connection (after ``journal_mode=WAL`` has created them): a few ``stat`` calls.
    """
    for suffix in SIDECARS:
        sidecar = path.with_name(path.name + suffix)
        try:
            if os.stat(sidecar).st_mode & 0o077:
                os.chmod(sidecar, 0o600)
        except OSError:  # absent, or another user's file: nothing we may change
            continue


def create_engine_for(url: URL, *, access: Access | None = None) -> Engine:
    """An engine with the storage guarantees the app relies on (see docs/ARCHITECTURE.md).

    ``access`` of a SQLite file that cannot be written (:func:`read_with_fallback`):
    connections are opened ``mode=ro`` (``immutable=1`` when SQLite could not even create its
    shared-memory file beside it), with ``query_only`` on.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, access or Access())
    try:
        return sa.create_engine(
            url,
            hide_parameters=True,
            pool_pre_ping=True,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "iop-facilitator"},
        )
    except NoSuchModuleError:
        raise DatabaseProblem(f"no database driver installed for {url.drivername!r}") from None


def read_only_reason(path: Path) -> str:
    """Why the SQLite file at ``path`` cannot be written (empty when it can), in words for the user."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only disk or mount"
    except (OSError, AttributeError):
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK):
        return "its folder is read-only, and SQLite writes files beside the database"
    return ""


def _ro_uri(path: Path, immutable: bool) -> str:
    return f"{path.as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")


def _wal_is_empty(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    try:
        return os.stat(wal).st_size == 0
    except FileNotFoundError:
        return True


def _sqlite_engine(url: URL, access: Access) -> Engine:
    """A SQLite (or SQLCipher) engine whose connections never create the file.

    Connections open ``mode=rw`` (``mode=ro`` for a read-only file): once the database is
    open, a new connection to a path whose file was deleted fails instead of quietly
    starting an empty database there; the file is created only by :func:`open_database`
    with ``create``. SQLCipher: the dialect still keys every new connection (``pragma key``)
    before the listener below sets the same PRAGMAs as plain SQLite. A queue pool, not the
    dialect's one-connection-per-thread default: each new SQLCipher connection costs ~70 ms
    of key derivation, so connections are reused across threads.
    """
    path = Path(str(url.database))
    module = load_sqlcipher() if url.drivername == CIPHER_DRIVER else sqlite3
    uri = _ro_uri(path, access.immutable) if access.reason else f"{path.as_uri()}?mode=rw"

    def connect():  # noqa: ANN202
        return module.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

    try:
        engine = sa.create_engine(url, creator=connect, hide_parameters=True, poolclass=sa.pool.QueuePool)
    except NoSuchModuleError:  # pragma: no cover - SQLAlchemy always has pysqlite
        raise DatabaseProblem(f"no database driver installed for {url.drivername!r}") from None
    event.listen(engine, "connect", _sqlite_on_connect_read_only if access.reason else _sqlite_on_connect)
    install_sqlite(engine)
    return engine


@dataclass(frozen=True)
class Access:
    """How a SQLite file can be opened: read-write, or read-only (``reason``), maybe as immutable."""

    reason: str = ""
    immutable: bool = False


def disk_is_full(path: Path, reserve: int = 64 * 1024) -> bool:
    """True when the filesystem holding ``path`` has (almost) no space left for this user."""
    try:
        vfs = os.statvfs(path)
    except OSError:
        return False
    return vfs.f_bavail * vfs.f_frsize < reserve


def _schema_facts(conn) -> tuple[set[str], str | None]:  # noqa: ANN001 - a DB-API connection
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return tables, revision


def read_with_fallback(
    path: Path,
    read: Callable[[bool], tuple[set[str], str | None]],
    *,
    errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,),
) -> tuple[set[str], str | None, Access]:
    """Read the schema facts of an existing file without writing, and decide how to open it.

    ``read(immutable)`` opens the file ``mode=ro`` (and ``immutable=1`` when asked) and returns
    its tables and revision. A WAL database normally needs its ``-shm`` file, which SQLite
    creates beside it even to read: on a full disk or a read-only folder that fails. When no
    other program has the file open (no ``-shm`` in use) and the ``-wal`` holds nothing, the
    main file is complete, and reading it as immutable is exact: the database then opens
    read-only, with the reason shown to the user.
    """
    reason = read_only_reason(path)
    try:
        tables, revision = read(False)
        return tables, revision, Access(reason)
    except errors as exc:  # sqlcipher3's errors have their own base class: the caller says which
        first = exc
    full = disk_is_full(path.parent)
    if (reason or full) and _wal_is_empty(path):
        tables, revision = read(True)
        return tables, revision, Access(reason or "the disk is full; free some space and reopen it", immutable=True)
    if full:
        from iop_facilitator.errors import StorageFull

        raise StorageFull(
            f"the disk is full and {path} was not closed cleanly: SQLite needs a little free space "
            "to open it; free some space and try again"
        ) from None
    raise DatabaseProblem(f"{path} cannot be read as a database ({first})") from None


def _preflight_sqlite(path: Path, create: bool) -> tuple[bool, str | None, Access]:
    """Check a SQLite file without writing to it. Returns (is_new, current_revision, access)."""
    if path.is_dir():
        raise DatabaseProblem(f"{path} is a folder, not a database file")
    if not path.exists() or path.stat().st_size == 0:
        if not create:
            raise DatabaseProblem(
                f"no database at {path}; create one with: iop --db {path} init "
                "(or try the fictional demo clinic: iop demo)"
            )
        return True, None, Access()
    try:
        header = raw.read_header(path)
    except OSError as exc:
        raise DatabaseProblem(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise DatabaseProblem(f"{path} is not an iop-facilitator database (not a SQLite file)")

    def read(immutable: bool) -> tuple[set[str], str | None]:
        conn = sqlite3.connect(_ro_uri(path, immutable), uri=True)
        try:
            return _schema_facts(conn)
        finally:
            conn.close()

    tables, revision, access = read_with_fallback(path, read)
    if "alembic_version" not in tables and tables:
        raise DatabaseProblem(f"{path} is a SQLite database, but not an iop-facilitator one")
    return not tables, revision, access


_sqlcipher_lock = threading.Lock()
_sqlcipher_module = None


def load_sqlcipher():  # returns the sqlcipher3 module
    """Import sqlcipher3 once per process and silence SQLCipher's own logging.

    SQLCipher writes its errors (e.g. "hmac check failed" on a wrong key) straight to
    stderr, which would garble the TUI and add stray lines to the CLI's one-line errors.
    """
    global _sqlcipher_module
    with _sqlcipher_lock:
        if _sqlcipher_module is None:
            try:
                import sqlcipher3
            except ImportError:
                raise DatabaseProblem(
                    "encrypted databases need the sqlcipher3 package (pip install sqlcipher3)"
                ) from None
            conn = sqlcipher3.connect(":memory:")
            try:
                conn.execute("PRAGMA cipher_log_level = NONE")
            finally:
                conn.close()
            _sqlcipher_module = sqlcipher3
        return _sqlcipher_module


def key_pragma(passphrase: str, schema: str | None = None) -> str:
    """``PRAGMA key`` for ``passphrase``, quoted exactly as SQLAlchemy's pysqlcipher dialect does.

    Never pass the result to SQLAlchemy's ``exec_driver_sql`` (its errors quote the
    statement): run it on a raw DB-API cursor.
    """
    quoted = '"' + passphrase.replace('"', '""') + '"'
    return f"PRAGMA {schema + '.' if schema else ''}key = {quoted}"


def cipher_url(path: Path, passphrase: str) -> URL:
    """The SQLAlchemy URL of an encrypted file (``str``/``repr`` print ``***`` for the password)."""
    return URL.create(CIPHER_DRIVER, password=passphrase, database=str(path))


def sqlite_file_kind(path: Path) -> str:
    """``"new"`` (missing or empty), ``"plain"`` (SQLite), ``"encrypted"`` (may be SQLCipher) or ``"other"``.

    A SQLCipher file starts with a random 16-byte salt and is a whole number of pages
    (512..65536 bytes); a text file or another format almost never looks like that.
    """
    if not path.exists() or path.stat().st_size == 0:
        return "new"
    try:
        header = raw.read_header(path)
    except OSError as exc:
        raise DatabaseProblem(f"cannot read {path}: {exc.strerror}") from None
    if header == SQLITE_HEADER:
        return "plain"
    size = path.stat().st_size
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in header)
    if size >= 512 and size % 512 == 0 and not printable:
        return "encrypted"
    return "other"


def resolve_passphrase(passphrase: Passphrase, *, new: bool = False) -> str | None:
    """The passphrase to use: an explicit one, else ``IOP_PASSPHRASE``, else ask ``passphrase(new)``."""
    if isinstance(passphrase, str):
        return passphrase
    from_env = os.environ.get(PASSPHRASE_ENV, "")
    if from_env:
        return from_env
    if callable(passphrase):
        return passphrase(new) or None
    return None


MIN_PASSPHRASE = 12


def check_new_passphrase(passphrase: str) -> str:
    """A new passphrase must be long enough and printable (it is typed at a prompt)."""
    from iop_facilitator.errors import InvalidInput

    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the passphrase must be at least {MIN_PASSPHRASE} characters long")
    if any(ord(c) < 32 or ord(c) == 127 for c in passphrase):
        raise InvalidInput("the passphrase must not contain control characters")
    return passphrase


def open_cipher_connection(path: Path, passphrase: str, *, read_only: bool = False, immutable: bool = False):
    """A raw, keyed sqlcipher3 DB-API connection whose key is checked (:class:`WrongPassphrase` if not)."""
    sqlcipher = load_sqlcipher()
    target = _ro_uri(path, immutable) if read_only or immutable else str(path)
    try:
        conn = sqlcipher.connect(target, uri=read_only or immutable, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except sqlcipher.Error:
        raise DatabaseProblem(f"cannot open {path}") from None
    try:
        conn.execute(key_pragma(passphrase))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError as exc:
        conn.close()
        if str(getattr(exc, "sqlite_errorname", "")).startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")):
            raise  # the file could not be read (full disk, read-only folder): not a key problem
        raise WrongPassphrase(WRONG_PASSPHRASE) from None
    return conn


def _preflight_encrypted(path: Path, passphrase: str) -> tuple[bool, str | None, Access]:
    """Check an encrypted file read-only (writes nothing), as :func:`_preflight_sqlite` does a plain one."""
    sqlcipher = load_sqlcipher()

    def read(immutable: bool) -> tuple[set[str], str | None]:
        conn = open_cipher_connection(path, passphrase, read_only=True, immutable=immutable)
        try:
            return _schema_facts(conn)
        except sqlcipher.DatabaseError:
            raise WrongPassphrase(WRONG_PASSPHRASE) from None
        finally:
            conn.close()

    tables, revision, access = read_with_fallback(path, read, errors=(sqlcipher.DatabaseError,))
    if "alembic_version" not in tables and tables:
        raise DatabaseProblem(f"{path} is an encrypted database, but not an iop-facilitator one")
    return not tables, revision, access


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


def _refuse_commit_if_gone(database: Database, conn) -> None:  # noqa: ANN001 - a Connection
    """The engine's ``commit`` hook: no commit into a file that was deleted or replaced (Database.check_file).

    The transaction is rolled back on the spot: the pooled connection must not stay inside it.
    """
    try:
        database.check_file()
    except DatabaseGone:
        conn.connection.dbapi_connection.rollback()
        raise


def open_database(
    target: str | Path,
    *,
    create: bool = False,
    migrate: bool = True,
    passphrase: Passphrase = None,
    encrypt: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> Database:
    """Open ``target``, refusing anything that is not (or cannot become) our database.

    ``create`` allows a new SQLite file (0600, in a 0700 folder) or an empty
    PostgreSQL database to be initialised. With ``migrate`` (the default) the
    schema is brought to the newest version this program knows.

    An encrypted (SQLCipher) file is opened with ``passphrase`` (see
    :func:`resolve_passphrase`): :class:`PassphraseRequired` when there is none,
    :class:`WrongPassphrase` when it does not open the file. ``encrypt`` with
    ``create`` makes a new file an encrypted one.

    A SQLite file that cannot be written (read-only file, folder or mount; a full disk
    where SQLite cannot even create its shared-memory file) opens read-only:
    ``Database.read_only`` says why, and ``Database.begin()`` refuses with one line.
    ``progress(done, total, label)`` follows a schema upgrade step by step.
    """
    from iop_facilitator.db import migrate as migrations

    url = parse_target(target)
    path: Path | None = None
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        kind = "new" if path.is_dir() else sqlite_file_kind(path)
        if kind == "encrypted" or (kind == "new" and encrypt and create):
            secret = resolve_passphrase(passphrase, new=kind == "new")
            if not secret:
                raise PassphraseRequired(
                    f"{path} is encrypted: give its passphrase (or set {PASSPHRASE_ENV} for scripts)"
                )
            if kind == "new":
                check_new_passphrase(secret)
            url = cipher_url(path, secret)
            is_new, revision, access = (True, None, Access()) if kind == "new" else _preflight_encrypted(path, secret)
        else:
            if encrypt and kind == "plain":
                raise DatabaseProblem(f"{path} is not encrypted; convert it with: iop --db {path} db encrypt")
            is_new, revision, access = _preflight_sqlite(path, create)
        migrations.check_known_revision(revision, describe(url))
        if access.reason and not migrations.is_at_head(revision) and migrate:
            raise StorageReadOnly(
                f"{path} needs a schema upgrade to open with this version, but it is read-only "
                f"({access.reason}); open it once with write access"
            )
        if is_new:
            ensure_private_file(path)
        engine = create_engine_for(url, access=access)
    else:
        if encrypt:
            raise DatabaseProblem(
                "encryption at rest is for SQLite files; for PostgreSQL use the server's own disk "
                "encryption and TLS (sslmode=verify-full)"
            )
        engine = create_engine_for(url)
        is_new, revision = _preflight_server(engine, url)
        migrations.check_known_revision(revision, describe(url))
        if is_new and not create:
            engine.dispose()
            raise DatabaseProblem(f"database {describe(url)} is empty; initialise it with: iop init")
    db = Database(engine=engine, url=url, display=describe(url), path=path, created=is_new)
    if path is not None:
        db.read_only = access.reason
        st = os.stat(path)
        db.file_identity = (st.st_dev, st.st_ino)
        if not access.reason:
            event.listen(engine, "commit", partial(_refuse_commit_if_gone, db))
    if migrate and not migrations.is_at_head(revision):
        db.migrated_from = revision
        migrations.upgrade(engine, progress=progress)
    return db
