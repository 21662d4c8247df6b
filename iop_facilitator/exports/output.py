"""Writing export files safely: checks, 0600 atomic writes, CSV neutralisation, notice, audit.

Standard library, ``errors`` and ``files`` only (no SQLAlchemy/SQLModel, no services):
the SQLite fast path of ``iop export attendance`` imports this module and must stay quick.

Rules every export follows (issue 5, item 7):

* the target is checked first (:func:`check_target`, :func:`check_directory`):
  a missing or non-directory parent, an unwritable directory, a target that is a
  directory, or an existing file without ``--force`` is one :class:`InvalidInput`
  line (the CLI prints it and exits 1);
* files are written through :mod:`iop_facilitator.files` (:func:`private_file` for
  one, :func:`disclosure` for an export's files): a temporary file created 0600
  with ``O_EXCL`` next to the target, fsynced, then renamed onto the target. On any
  error (or Ctrl-C) the temporary file is removed, so the target is either the
  complete new file or untouched. Without ``force`` an existing file is never
  replaced, even if it appeared while we were writing (hard-link, no clobber);
* per-member files get names from :func:`member_file`, which refuses anything that
  could leave the output directory;
* every text cell of a CSV goes through :func:`neutralize_cell`;
* every export with clinical content carries :func:`disclosure_notice` and is
  recorded by ``exports.record`` (its audit entry, ``export_details``);
* a disclosure (:func:`disclosure`) writes every file to a 0600 temporary file first,
  then records the audit entry (with each file's SHA-256), then publishes all files;
  any failure before that leaves no file (a per-member export publishes all or none);
* a write failure is one line naming the path (:func:`write_failure`): disk full,
  quota, permission denied, read-only file system, never "internal error".

Audit entries never hold a file's path: a folder or file name may carry a member's
name. They hold the SHA-256 of each published file's *content* (``sha256sum FILE``
finds the entry that disclosed it), its size, a SHA-256 of its name and of its
folder, and, for per-member files, the member's id.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from iop_facilitator.errors import InvalidInput, IopError
from iop_facilitator.files import (
    DIRECTORY_MODE,
    fsync_directory,
    private_temp,
    put_in_place,
    write_private,
)

# Same text as models.DEFAULT_DISCLOSURE_NOTICE (kept here so this module needs no SQLModel;
# tests/exports/test_output.py checks the two agree).
DEFAULT_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."


# --------------------------------------------------------------------------- targets


def _display(path: Path) -> str:
    # Paths are what the user typed on the command line (or derived from it): fine to show.
    return str(path)


def check_target(out: Path, *, force: bool) -> Path:
    """The absolute path to write ``out`` to, or one :class:`InvalidInput` line saying why not."""
    if str(out).strip() in ("", "-"):
        raise InvalidInput("exports are written to a file (0600), never to standard output: give --out PATH")
    out = Path(os.path.expanduser(str(out)))
    target = out.resolve(strict=False)
    parent = target.parent
    if not parent.exists():
        raise InvalidInput(f"directory does not exist: {_display(parent)}")
    if not parent.is_dir():
        raise InvalidInput(f"not a directory: {_display(parent)}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(f"cannot write to directory: {_display(parent)}")
    if target.is_dir():
        raise InvalidInput(f"is a directory, not a file: {_display(target)}")
    if target.exists() or target.is_symlink():
        if not force:
            raise InvalidInput(f"file exists: {_display(target)} (use --force to replace it)")
        if not target.is_file():
            raise InvalidInput(f"not a regular file, refusing to replace it: {_display(target)}")
    return target


def check_directory(
    directory: Path, *, force: bool, names: Iterable[str] = (), create: bool = True, check_only: bool = False
) -> Path:
    """The absolute output directory for multi-file exports (``--per-member``).

    The directory's parent must exist; the directory itself is created (0700) when
    ``create`` and missing. With ``check_only`` nothing is created: a missing directory only
    has to be creatable (used before the export has read anything, so a typo in another
    option leaves no empty folder behind). Each of ``names`` (the file names about to be written)
    is checked with :func:`check_target` so a run fails before writing anything
    rather than halfway through.
    """
    directory = Path(os.path.expanduser(str(directory)))
    target = directory.resolve(strict=False)
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"not a directory: {_display(target)}")
    if not target.exists():
        parent = target.parent
        if not parent.is_dir():
            raise InvalidInput(f"directory does not exist: {_display(parent)}")
        if not create:
            raise InvalidInput(f"directory does not exist: {_display(target)}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InvalidInput(f"cannot write to directory: {_display(parent)}")
        if check_only:
            return target
        target.mkdir(mode=DIRECTORY_MODE)
    if not os.access(target, os.W_OK | os.X_OK):
        raise InvalidInput(f"cannot write to directory: {_display(target)}")
    for name in names:
        check_target(_inside(target, name), force=force)
    return target


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}(\.[A-Za-z0-9]{1,10})?$")


def _inside(directory: Path, name: str) -> Path:
    candidate = (directory / name).resolve(strict=False)
    if candidate.parent != directory.resolve(strict=False):
        raise InvalidInput("a per-member file name would leave the output directory")
    return candidate


def member_file(directory: Path, stem: str, suffix: str) -> Path:
    """A file ``<stem><suffix>`` directly inside ``directory``.

    A stem holding a path separator, a NUL, ``..`` or an absolute path is refused
    (one line, without the stem: it may be derived from a name). Other characters
    outside ``[A-Za-z0-9._-]`` become ``_``; leading dots are dropped so files are
    never hidden. The error never repeats the stem.
    """
    if not _SUFFIX.match(suffix):
        raise InvalidInput(f"invalid file suffix: {suffix!r}")
    if (
        not stem
        or "\x00" in stem
        or "/" in stem
        or "\\" in stem
        or os.path.isabs(stem)
        or stem.strip() in (".", "..")
        or ".." in stem.split(".")[:1]
        or stem.startswith("..")
    ):
        raise InvalidInput("a per-member file name would leave the output directory")
    safe = _UNSAFE.sub("_", stem).lstrip(".")[:120].strip("_") or "member"
    return _inside(Path(directory).resolve(strict=False), f"{safe}{suffix}")


# --------------------------------------------------------------------------- writing


def _exists(target: Path) -> InvalidInput:
    return InvalidInput(f"file exists: {_display(target)} (use --force to replace it)")


@contextlib.contextmanager
def private_file(
    path: Path, *, force: bool, binary: bool = False, newline: str | None = None, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    """Write one export file through :func:`iop_facilitator.files.write_private` (0600, atomic).

    The target is checked first (:func:`check_target`); without ``force`` a file that
    appeared meanwhile is never replaced (one :class:`InvalidInput` line).
    """
    target = check_target(Path(path), force=force)
    try:
        with write_private(target, replace=force, binary=binary, newline=newline, encoding=encoding) as handle:
            yield handle
    except FileExistsError:
        raise _exists(target) from None


# --------------------------------------------------------------------------- disclosures: all files or none


class ExportFailed(IopError):
    """Writing an export failed (disk full, permission, read-only): nothing was published."""


_WRITE_ERRORS = {
    errno.ENOSPC: "disk full while writing",
    errno.EDQUOT: "disk quota exceeded while writing",
    errno.EACCES: "permission denied writing",
    errno.EPERM: "permission denied writing",
    errno.EROFS: "read-only file system, cannot write",
    errno.EFBIG: "file too large for the file system:",
    errno.EIO: "input/output error writing",
}


def write_failure(exc: OSError, path: Path | str) -> ExportFailed:
    """One plain line naming the path, for an ``OSError`` while writing an export."""
    what = _WRITE_ERRORS.get(exc.errno or 0)
    if what is None:
        what = f"could not write ({os.strerror(exc.errno) if exc.errno else type(exc).__name__})"
    return ExportFailed(f"{what} {_display(Path(path))}; nothing was exported")


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def name_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class StagedFile:
    target: Path
    tmp: Path
    sha256: str
    size: int
    member_id: str | None = None

    def audit(self) -> dict[str, Any]:
        """What the audit entry says of this file (no path: it may carry a name)."""
        out: dict[str, Any] = {"sha256": self.sha256, "bytes": self.size, "name_sha256": name_hash(self.target.name)}
        if self.member_id:
            out["member"] = self.member_id
        return out


@dataclass
class Staging:
    """Files written to 0600 temporary files next to their targets, published together."""

    force: bool
    files: list[StagedFile] = field(default_factory=list)
    current: Path | None = None  # the target being written (named in a failure)
    _open: list[Path] = field(default_factory=list)

    @contextlib.contextmanager
    def open(
        self, target: Path, *, binary: bool = False, newline: str | None = None, encoding: str = "utf-8",
        member_id: str | None = None,
    ) -> Iterator[IO[Any]]:
        target = check_target(Path(target), force=self.force)
        if any(f.target == target for f in self.files):
            raise InvalidInput(f"two files of this export would have the same name: {_display(target)}")
        self.current = target
        with private_temp(target, binary=binary, newline=newline, encoding=encoding) as (tmp, handle):
            self._open.append(tmp)
            yield handle
        digest, size = sha256_file(tmp)
        self.files.append(StagedFile(target, tmp, digest, size, member_id))

    def folders(self) -> list[str]:
        return sorted({name_hash(str(f.target.parent)) for f in self.files})

    def publish(self) -> None:
        """Every staged file onto its target (no clobbering without ``force``); all or none."""
        done: list[Path] = []
        try:
            for f in self.files:
                self.current = f.target
                try:
                    put_in_place(f.tmp, f.target, replace=self.force)  # never clobbers without force
                except FileExistsError:
                    raise _exists(f.target) from None
                done.append(f.target)
            for directory in {f.target.parent for f in self.files}:
                fsync_directory(directory)
        except BaseException:
            if not self.force:  # take back what this run published (files it created itself)
                for target in done:
                    with contextlib.suppress(OSError):
                        os.unlink(target)
            self.discard()
            raise

    def discard(self) -> None:
        for tmp in self._open:
            with contextlib.suppress(FileNotFoundError, OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def disclosure(
    *,
    force: bool,
    record: Callable[[Staging], None],
    withdrawn: Callable[[str], None] | None = None,
) -> Iterator[Staging]:
    """Stage an export's files, then ``record`` its audit entry (committed), then publish them all.

    ``record`` runs only once every file is completely written, and before the first
    is published. Anything failing before that removes every temporary file: no file
    and no audit entry. A failure while publishing takes back the files already
    published and calls ``withdrawn(reason)`` (an audit entry saying so).
    """
    staging = Staging(force)
    try:
        yield staging
    except OSError as exc:
        staging.discard()
        raise write_failure(exc, staging.current or Path(".")) from None
    except BaseException:
        staging.discard()
        raise
    try:
        record(staging)
    except BaseException:
        staging.discard()
        raise
    try:
        staging.publish()
    except BaseException as exc:
        if withdrawn is not None:
            with contextlib.suppress(Exception):
                withdrawn(type(exc).__name__)
        if isinstance(exc, OSError):
            raise write_failure(exc, staging.current or Path(".")) from None
        raise


# --------------------------------------------------------------------------- CSV cells

# OWASP "CSV Injection": cells starting with these are formulas (or become formulas
# after a spreadsheet strips a leading tab/CR). Full-width variants are included
# because some spreadsheet builds normalise them to the ASCII forms.
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def neutralize_cell(value: str) -> str:
    """``value`` made safe to open in Excel/LibreOffice/Sheets: a leading formula char gets a ``'``.

    Applied to every *text* cell, including ones that look like negative numbers
    (OWASP's advice; a text field starting with ``-`` is rare in our exports and
    quoting it is harmless). Numeric cells (minutes, counts) are written as
    numbers by the callers and never pass through here; they are never negative.
    Empty strings stay empty.
    """
    if value and value[0] in FORMULA_START:
        return "'" + value
    return value


# --------------------------------------------------------------------------- notice


def disclosure_notice(settings_notice: str | None) -> str:
    """The program's disclosure notice as one clean line (the default when the setting is blank)."""
    text = "".join(ch if ch.isprintable() else " " for ch in (settings_notice or ""))
    return " ".join(text.split()) or DEFAULT_NOTICE


def csv_notice_row(notice: str, width: int) -> list[str]:
    """The first row of a CSV export: ``Notice: ...`` in column A, padded to ``width`` cells.

    Why a row and not a ``#`` comment line or a sidecar file: Excel and LibreOffice
    show a first row as ordinary text (the notice is visible to whoever opens the
    file) and the file stays rectangular RFC 4180 (every row has ``width`` cells),
    while ``#`` lines are not CSV and sidecars get separated from the data. Importers
    skip one row (``pandas.read_csv(skiprows=1)``, LibreOffice "From row 2", ``COPY
    ... CSV HEADER`` after ``tail -n +2``). The header row is the second row.
    """
    return [neutralize_cell(f"Notice: {disclosure_notice(notice)}")] + [""] * max(0, width - 1)
