"""The one door to a database file through Python's own ``sqlite3`` (standard library only).

The fast paths read a plain SQLite file without SQLAlchemy, SQLModel or Alembic (each
costs a tenth of a second or more): the home screen's first data
(``services.home.overview_from_sqlite_file``) and the attendance export
(``exports.attendance``). They go through here, and only for a file this program
can read as it is: a plain (unencrypted) SQLite file, whose 16-byte header says so, at
exactly the schema this program ships (:func:`at_head`). Anything else (SQLCipher,
PostgreSQL, an older schema to upgrade, a newer one to refuse) declines with ``None``
and takes the usual path, ``db.engine.open_database``, which checks and explains.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT = 10.0  # seconds, as the engine's connections


def read_header(path: Path) -> bytes:
    """The first 16 bytes of ``path`` (raises ``OSError`` when it cannot be read)."""
    with open(path, "rb") as fh:
        return fh.read(16)


def is_plain_sqlite(path: Path) -> bool:
    """True when ``path`` is a readable, plain SQLite file (a SQLCipher file never is)."""
    try:
        return read_header(path) == SQLITE_HEADER
    except OSError:
        return False


def plain_file(target: str | Path) -> Path | None:
    """The file of a ``--db`` target (a path or a ``sqlite:///`` URL) when it is a plain SQLite file."""
    text = str(target or "").strip()
    if "://" in text:
        if not text.startswith("sqlite:///") or "?" in text:
            return None
        text = text[len("sqlite:///") :]
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file() or not is_plain_sqlite(path):
        return None
    return path.absolute()


def connect(
    path: Path, *, mode: Literal["ro", "rw"] = "ro", timeout: float = BUSY_TIMEOUT, threads: bool = False
) -> sqlite3.Connection:
    """A connection to an existing file (never creates one), in autocommit mode.

    ``isolation_level=None``: the caller says ``BEGIN`` where it wants one snapshot for
    several reads. ``threads`` allows handing the connection to another thread.
    """
    conn = sqlite3.connect(
        f"{Path(path).absolute().as_uri()}?mode={mode}", uri=True, timeout=timeout, isolation_level=None,
        check_same_thread=not threads,
    )
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


def at_head(conn: sqlite3.Connection) -> bool:
    """True when the database's schema is exactly this program's newest (no Alembic import)."""
    from iop_facilitator.db.revisions import head_revision

    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError:
        return False
    return [tuple(r) for r in rows] == [(head_revision(),)]
