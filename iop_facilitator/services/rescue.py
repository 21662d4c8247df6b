"""The rescue file: typed text the database could not take, written where only its owner can read it.

When the app must end while typed text is not in the database (a full disk, a database file
that was deleted, a read-only database, a conflict still open), it writes that text to a
plain text file, mode 0600 in a 0700 folder, and names the file on screen. The data
folder comes first; when it cannot be written (the full disk is usually the same disk) the
system's temporary folder and then ``/dev/shm`` (memory: gone at the next restart) are
tried, so the text has somewhere to go even on a full disk.

The file holds health information in the clear (also for an encrypted database): the
message that names it says so, and the README tells the leader to delete it once the text
is back in the app.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from iop_facilitator import clock
from iop_facilitator.errors import DatabaseProblem


class Rescued(Protocol):
    label: str
    text: str


def rescue_folders() -> list[Path]:
    """Where a rescue file may go, in order of preference."""
    from iop_facilitator.paths import data_dir

    folders = [data_dir(create=False) / "rescued"]
    folders.append(Path(tempfile.gettempdir()) / f"iop-facilitator-rescue-{os.getuid()}")
    shm = Path("/dev/shm")
    if shm.is_dir():
        folders.append(shm / f"iop-facilitator-rescue-{os.getuid()}")
    return folders


def render(items: Sequence[Rescued], *, reason: str, database: str) -> str:
    """The rescue file's text: a short header, then each text under the place it belongs."""
    stamp = clock.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "iop-facilitator: text typed but not saved (rescue file)",
        f"Written {stamp}" + (f" because: {reason}" if reason else ""),
        f"Database: {database}" if database else "",
        "Put each text back in its place in the app (some may have been saved after all: check first).",
        "This file holds health information: keep it private and delete it once the text is back.",
        "",
    ]
    for number, item in enumerate(items, 1):
        lines.append(f"=== {number}. {item.label} ===")
        lines.append(item.text.rstrip("\n"))
        lines.append("")
    return "\n".join(line for line in lines if line is not None) + "\n"


def _check_private_folder(folder: Path) -> None:
    """Refuse a folder that is a link, or that someone else owns or can enter (a shared temp folder)."""
    import errno
    import stat

    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise OSError(errno.EPERM, "the folder is not private to this user")


def write_rescue_file(items: Sequence[Rescued], *, reason: str = "", database: str = "",
                      folders: Iterable[Path] | None = None) -> Path:
    """Write ``items`` to a new 0600 file in the first folder that takes it; return its path.

    Written through :func:`iop_facilitator.files.write_private` (a 0600 temporary file,
    fsynced, linked into place without clobbering): a rescue file is complete or absent.
    Raises :class:`~iop_facilitator.errors.DatabaseProblem` (one line) when no folder takes it.
    """
    from iop_facilitator.files import write_private
    from iop_facilitator.paths import ensure_private_dir

    body = render(items, reason=reason, database=database)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)  # unique even on a frozen test clock
    problems: list[str] = []
    for folder in folders if folders is not None else rescue_folders():
        path = folder / f"unsaved-{stamp}.txt"
        try:
            ensure_private_dir(folder)
            _check_private_folder(folder)
            with write_private(path, replace=False) as handle:
                handle.write(body)
        except OSError as exc:
            problems.append(f"{folder}: {exc.strerror or exc}")
            continue
        return path
    raise DatabaseProblem("no rescue file could be written (" + "; ".join(problems) + ")")
