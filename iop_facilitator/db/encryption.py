"""Converting a plain SQLite database to SQLCipher, and changing an encrypted one's passphrase.

Both work on the file with raw sqlcipher3 connections (never through SQLAlchemy's
``exec_driver_sql``, whose errors would quote a statement holding the passphrase) and
both refuse while another program has the database open: switching the journal out of
WAL needs exclusive access, so it is the check, and it also folds the WAL back into the
main file before anything is copied.

* :func:`encrypt_file` exports everything into a new encrypted file next to the
  original (``sqlcipher_export`` through ``ATTACH ... KEY``), checks it (integrity check
  and the row count of every table), atomically puts it in the original's place and
  then overwrites the old plain bytes (main file and WAL) with zeros, unless a plain
  copy was asked for. Hard links hold the old files' bytes until they are overwritten,
  so none is freed unread-over, even by a crash (:func:`_hold`).
* :func:`rekey_file` checks the old passphrase, then ``PRAGMA rekey``.

Overwriting is best effort: copy-on-write filesystems, SSD wear levelling, snapshots and
earlier backups can keep old plain blocks (see the README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from iop_facilitator.db.engine import (
    key_pragma,
    load_sqlcipher,
    open_cipher_connection,
    sqlite_file_kind,
)
from iop_facilitator.errors import DatabaseProblem, InvalidInput, WrongPassphrase
from iop_facilitator.files import FILE_MODE, fsync_directory, put_in_place, reserve

IN_USE = "the database is open in another program (close the app and try again)"


@dataclass(frozen=True)
class EncryptResult:
    tables: int
    rows: int
    plain_copy: Path | None


def _table_counts(conn) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


SHM_DMS_BYTE = 128  # SQLite's unix VFS: every open WAL connection holds a read lock on this byte of -shm


def open_elsewhere(path: Path) -> bool:
    """True when another process has the (WAL-mode) database open.

    Each SQLite connection in WAL mode keeps a shared lock on the "DMS" byte of the
    ``-shm`` file for as long as it is open, idle or not. Call this only when this
    process has no connection to ``path`` (POSIX locks are per process: closing our
    descriptor would drop a lock of our own).
    """
    shm = path.with_name(path.name + "-shm")
    if not shm.exists():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: rely on the journal-mode check
        return False
    fd = os.open(shm, os.O_RDWR)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def _schema_objects(conn) -> list[tuple[str, str]]:
    """Every table, index, trigger and view by type and name (the lock triggers must survive too)."""
    return sorted(tuple(r) for r in conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


def _take_exclusive(conn, sqlcipher) -> None:
    """Leave WAL (fails while anyone else has the file open) and hold an exclusive lock."""
    try:
        conn.execute("PRAGMA busy_timeout = 2000")
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise InvalidInput(IN_USE)
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlcipher.OperationalError:
        raise InvalidInput(IN_USE) from None


def _zero_fill(fd: int) -> None:
    """Overwrite an open file's bytes with zeros and flush them to disk."""
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    block = b"\0" * 65536
    left = size
    while left > 0:
        left -= os.write(fd, block[: min(left, len(block))])
    os.fsync(fd)


def _hold(path: Path, tag: str) -> Path | None:
    """A hidden hard link keeping ``path``'s bytes (its inode) alive until :func:`_overwrite` is done with it.

    SQLite removes the -wal when it leaves WAL mode, and ``os.replace`` drops the old main
    file: without a second name, their blocks (plain text) would be freed at once, or at the
    latest when a crash closes our descriptors. With the link, the old bytes stay in a file
    we overwrite before removing it; after a crash that link is still there to be removed.
    """
    if not path.exists():
        return None
    hold = path.with_name(f".{path.name}.{tag}-{os.getpid()}")
    if hold.exists():
        hold.unlink()
    os.link(path, hold)
    os.chmod(hold, FILE_MODE)
    return hold


def _overwrite(hold: Path | None) -> None:
    """Overwrite a held file's bytes with zeros, flush them to disk, then remove it."""
    if hold is None:
        return
    fd = os.open(hold, os.O_RDWR)
    try:
        _zero_fill(fd)
    finally:
        os.close(fd)
    hold.unlink()


def encrypt_file(path: Path, passphrase: str, *, keep_plain: bool = False) -> EncryptResult:
    """Encrypt the plain SQLite database at ``path`` in place; see the module docstring.

    Order: hold the -wal by a hard link; leave WAL mode (SQLite checkpoints every change into
    the main file and removes its -wal name); export into a new encrypted file and check it;
    hold the old main file by a hard link; put the encrypted file in its place; overwrite both
    held files with zeros (fsync), then remove them. No plain byte of the main file or of the
    last -wal is freed before it was overwritten.
    """
    path = Path(path).absolute()
    kind = sqlite_file_kind(path)
    if kind == "encrypted":
        raise InvalidInput(f"{path} is already encrypted (change its passphrase with: iop db rekey)")
    if kind != "plain":
        raise DatabaseProblem(f"{path} is not an iop-facilitator database")
    sqlcipher = load_sqlcipher()
    if open_elsewhere(path):
        raise InvalidInput(IN_USE)
    wal_hold = _hold(path.with_name(path.name + "-wal"), "wal-to-overwrite")
    main_hold: Path | None = None
    plain_copy = path.with_name(path.name + ".plain") if keep_plain else None
    encrypted = False
    src = sqlcipher.connect(str(path), timeout=2.0, check_same_thread=False, isolation_level=None)
    try:
        # Sorting and index building during the export must not spill plain rows into temporary files.
        src.execute("PRAGMA temp_store = MEMORY")
        _take_exclusive(src, sqlcipher)  # checkpoints the WAL into the main file and leaves WAL mode
        before = _table_counts(src)
        objects = _schema_objects(src)
        user_version = src.execute("PRAGMA user_version").fetchone()[0]
        temp = reserve(path, "encrypting")  # an empty 0600 file for sqlcipher_export to fill
        try:
            cur = src.cursor()
            try:
                cur.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(temp), passphrase))
                cur.execute("SELECT sqlcipher_export('encrypted')")
                cur.execute(f"PRAGMA encrypted.user_version = {int(user_version)}")
                cur.execute("DETACH DATABASE encrypted")
            except sqlcipher.Error as exc:
                raise DatabaseProblem(f"encrypting failed ({type(exc).__name__}); nothing was changed") from None
            finally:
                cur.close()
            check = open_cipher_connection(temp, passphrase)
            try:
                verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
                after = _table_counts(check)
                same_schema = _schema_objects(check) == objects
                check.execute("PRAGMA journal_mode = WAL")
            finally:
                check.close()
            if verdict != "ok" or after != before or not same_schema:
                raise DatabaseProblem("the encrypted copy did not match the original; nothing was changed")
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if plain_copy is not None:
                if plain_copy.exists():
                    raise InvalidInput(f"{plain_copy} already exists; move it away first")
                os.link(path, plain_copy)
                os.chmod(plain_copy, FILE_MODE)
            else:
                main_hold = _hold(path, "plain-to-overwrite")
            put_in_place(temp, path, replace=True)
            fsync_directory(path.parent)
            encrypted = True
        finally:
            if temp.exists():
                temp.unlink()
    finally:
        src.close()
        if encrypted and plain_copy is None:
            _overwrite(main_hold)
            _overwrite(wal_hold)
        else:  # nothing was encrypted (the plain database stays as it was), or a plain copy was asked for
            for hold in (main_hold, wal_hold):
                if hold is not None:
                    hold.unlink(missing_ok=True)
        fsync_directory(path.parent)
    for suffix in ("-wal", "-shm", "-journal"):
        # The plain database's journal files are gone (DELETE mode); the new file makes its own.
        leftover = path.with_name(path.name + suffix)
        if suffix == "-journal" and leftover.exists():
            leftover.unlink()
    return EncryptResult(tables=len(before), rows=sum(before.values()), plain_copy=plain_copy)


def rekey_file(path: Path, old: str, new: str) -> None:
    """Change the passphrase of the encrypted database at ``path`` (:class:`WrongPassphrase` if ``old`` is wrong)."""
    path = Path(path).absolute()
    if sqlite_file_kind(path) != "encrypted":
        raise InvalidInput(f"{path} is not encrypted (encrypt it with: iop db encrypt)")
    sqlcipher = load_sqlcipher()
    if open_elsewhere(path):
        raise InvalidInput(IN_USE)
    conn = open_cipher_connection(path, old)
    conn.isolation_level = None
    try:
        _take_exclusive(conn, sqlcipher)
        cur = conn.cursor()
        try:
            cur.execute(key_pragma(new).replace("PRAGMA key", "PRAGMA rekey", 1))
        except sqlcipher.Error as exc:
            raise DatabaseProblem(f"changing the passphrase failed ({type(exc).__name__})") from None
        finally:
            cur.close()
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    check = open_cipher_connection(path, new)  # raises WrongPassphrase if the rekey did not take
    check.close()
    try:
        open_cipher_connection(path, old).close()
    except WrongPassphrase:
        return
    raise DatabaseProblem("the old passphrase still opens the database; the change did not take")
