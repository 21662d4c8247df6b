"""Private files: every file the program writes goes through here (standard library only).

Exports, backups, the encrypted copy of a database and the user's config file hold
protected health information or settings, so each is written the same way:

* a temporary file beside the target, created with ``O_EXCL`` and mode 0600 (set again
  with ``fchmod``, so it is exactly 0600 whatever the umask): :func:`private_temp` for
  content Python writes, :func:`reserve` for an empty file another writer fills
  (SQLite's ``VACUUM INTO``, SQLCipher's export);
* flushed and fsynced, then put in place by :func:`put_in_place`: ``os.replace`` when
  replacing is allowed, otherwise a hard link that never clobbers (a file that appeared
  meanwhile raises :class:`FileExistsError`); then the folder is fsynced;
* on any error, or Ctrl-C, the temporary file is removed: the target is either the
  complete new file or untouched.

:func:`write_private` does the whole of it for one file; the disclosures of
``exports.output`` stage several files with :func:`private_temp` and publish them
together with :func:`put_in_place`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700

# A link that fails with these means the file system has no hard links: check, then rename.
_NO_LINKS = (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP)


def temp_name(target: Path) -> Path:
    """A fresh hidden name beside ``target`` for its temporary file."""
    return target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"


def _create(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


@contextlib.contextmanager
def private_temp(
    target: Path, *, binary: bool = False, newline: str | None = None, encoding: str = "utf-8"
) -> Iterator[tuple[Path, IO[Any]]]:
    """``(path, handle)`` of a new 0600 temporary file beside ``target``.

    On leaving the block normally the file is flushed, fsynced and closed, and stays for
    the caller to :func:`put_in_place` (or remove). On an exception it is closed and
    removed. ``newline`` is passed to :func:`open` in text mode (``""`` for the csv module).
    """
    tmp = temp_name(target)
    fd = _create(tmp)
    handle: IO[Any] | None = None
    try:
        handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)
        fd = -1  # owned by the handle now
        yield tmp, handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
    except BaseException:
        if handle is not None:
            with contextlib.suppress(Exception):
                handle.close()
        elif fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def reserve(target: Path, tag: str) -> Path:
    """An empty 0600 file ``.<name>.<tag>-<pid>`` beside ``target``, for another writer to fill.

    A leftover of an earlier run of this process id is removed first. The caller removes
    the file when it is not put in place.
    """
    path = target.with_name(f".{target.name}.{tag}-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(_create(path))
    return path


def put_in_place(tmp: Path, target: Path, *, replace: bool) -> None:
    """Move the finished ``tmp`` onto ``target``; without ``replace`` never clobber.

    Without ``replace`` an existing target raises :class:`FileExistsError` (a hard link
    fails if the target appeared meanwhile; on file systems without hard links: check,
    then rename, with that small race). The folder is not fsynced here: see
    :func:`fsync_directory`.
    """
    if replace:
        os.replace(tmp, target)
        os.chmod(target, FILE_MODE)  # belt and braces: another writer may have filled it
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
        os.replace(tmp, target)
    else:
        os.unlink(tmp)


def fsync_directory(directory: Path) -> None:
    """Make a rename or link in ``directory`` durable (best effort: some systems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_private(
    target: Path, *, replace: bool = True, binary: bool = False, newline: str | None = None, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    """Write ``target`` privately and atomically: see the module docstring.

    Without ``replace`` an existing target raises :class:`FileExistsError` and is left alone.
    """
    target = Path(target)
    with private_temp(target, binary=binary, newline=newline, encoding=encoding) as (tmp, handle):
        yield handle
    try:
        put_in_place(tmp, target, replace=replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(target.parent)


def write_private_bytes(target: Path, content: bytes) -> None:
    """Replace ``target`` with ``content`` (0600, atomically)."""
    with write_private(target, binary=True) as handle:
        handle.write(content)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` (and its private parent folder) with mode 0600 if it does not exist."""
    from iop_facilitator.paths import ensure_private_dir

    if path.parent != Path("") and not path.parent.exists():
        ensure_private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
