"""Loading every topic from its sources, in order of precedence.

1. the bundled ``topics/`` folder (shipped in the wheel),
2. the user's ``topics/`` folder in the config directory,
3. folders given with ``--topics-dir`` (or ``IOP_TOPICS_DIR``).

A later source's topic with the same id overrides an earlier one, and the
override is reported. A bad file never stops the others from loading: it is
reported once as a :class:`~iop_facilitator.library.parse.Problem`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iop_facilitator.errors import NotFound
from iop_facilitator.library.model import LoadedTopic
from iop_facilitator.library.parse import MAX_BYTES, Problem, parse_topic

TOPIC_SUFFIX = ".md"
SKIP_NAMES = {"README.md"}


@dataclass(frozen=True)
class Override:
    topic_id: str
    path: str
    replaced: str


@dataclass
class Library:
    topics: dict[str, LoadedTopic] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)

    def get(self, topic_id: str) -> LoadedTopic:
        found = self.topics.get(topic_id.strip().lower())
        if found is None:
            raise NotFound(f"no topic with id {topic_id!r}; see: iop topics list")
        return found

    def sorted(self) -> list[LoadedTopic]:
        return sorted(self.topics.values(), key=lambda t: (t.topic.category.value, t.topic.title.lower()))


def user_topics_dir() -> Path:
    from iop_facilitator.paths import config_dir

    return config_dir() / "topics"


def default_sources(extra: Sequence[str | Path] = ()) -> list[tuple[str, Path]]:
    from iop_facilitator.resources import topics_dir

    sources: list[tuple[str, Path]] = [("bundled", topics_dir()), ("user", user_topics_dir())]
    env = os.environ.get("IOP_TOPICS_DIR", "").strip()
    extras = [*([Path(p) for p in env.split(os.pathsep) if p] if env else []), *(Path(p) for p in extra)]
    sources += [("extra", Path(p).expanduser()) for p in extras]
    return sources


def topic_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == TOPIC_SUFFIX and p.name not in SKIP_NAMES and p.is_file())


def _open_regular(path: Path, limit: int) -> tuple[int, os.stat_result]:
    """An open descriptor of ``path`` and its ``fstat``, or ``ValueError`` naming why it is not read.

    ``stat`` alone is not enough: ``/dev/zero`` and ``/proc`` files report size 0 and never
    end, and a FIFO blocks ``open``. So the file is opened non-blocking and checked with
    ``fstat`` on that descriptor (no race with a swapped path).
    """
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file (a device, pipe or socket is never read)")
        if info.st_size > limit:
            raise ValueError(f"the file is too large ({info.st_size // 1024} KiB; a guide is at most {limit // 1024} KiB)")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _read_fd(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    raw = b"".join(chunks)
    if len(raw) > limit:  # it grew while being read
        raise ValueError(f"the file is too large (a guide is at most {limit // 1024} KiB)")
    return raw


def read_capped(path: Path, limit: int = MAX_BYTES) -> bytes:
    """At most ``limit`` bytes of a *regular* file (``ValueError`` naming why not); see ``_open_regular``."""
    fd, _info = _open_regular(path, limit)
    try:
        return _read_fd(fd, limit)
    finally:
        os.close(fd)


#: Parsed guides of this process, by file and the file's identity and version: (path, source) ->
#: ((device, inode, size, mtime, ctime), what ``read_file`` returned). The app reads the library
#: on every start and the CLI on every topic command; a guide is parsed again only when its file
#: changed (any write moves mtime/ctime or the size; a replaced file has another inode).
_PARSED: dict[tuple[str, str], tuple[tuple[int, ...], LoadedTopic | tuple[Problem, ...]]] = {}


def read_file(path: Path, source: str) -> LoadedTopic | list[Problem]:
    try:
        fd, info = _open_regular(path, MAX_BYTES)
    except ValueError as exc:
        return [Problem(str(path), "file", str(exc))]
    except OSError as exc:
        return [Problem(str(path), "file", f"cannot read the file ({exc.strerror or type(exc).__name__})")]
    version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    key = (str(path), source)
    try:
        cached = _PARSED.get(key)
        if cached is not None and cached[0] == version:
            return cached[1] if isinstance(cached[1], LoadedTopic) else list(cached[1])
        try:
            raw = _read_fd(fd, MAX_BYTES)
        except ValueError as exc:
            return [Problem(str(path), "file", str(exc))]
        except OSError as exc:
            return [Problem(str(path), "file", f"cannot read the file ({exc.strerror or type(exc).__name__})")]
    finally:
        os.close(fd)
    try:
        result: LoadedTopic | list[Problem] = parse_topic(raw, path, source=source)
    except Exception as exc:  # noqa: BLE001 - last resort: one bad file must never break the library
        result = [Problem(str(path), "file", f"could not be read ({type(exc).__name__})")]
    if len(raw) == info.st_size:  # read whole, as it was when stat'ed: safe to keep
        _PARSED[key] = (version, result if isinstance(result, LoadedTopic) else tuple(result))
    return result


def load_library(sources: Iterable[tuple[str, Path]] | None = None, *, extra: Sequence[str | Path] = ()) -> Library:
    library = Library()
    for source, folder in sources if sources is not None else default_sources(extra):
        if source == "extra" and not folder.is_dir():
            library.problems.append(Problem(str(folder), "topics-dir", "no such folder"))
            continue
        in_this_source: dict[str, str] = {}
        for path in topic_files(folder):
            result = read_file(path, source)
            if isinstance(result, list):
                library.problems.extend(result)
                continue
            topic_id = result.topic.id
            if topic_id in in_this_source:
                library.problems.append(
                    Problem(str(path), "id", f"duplicate id {topic_id!r}: {in_this_source[topic_id]} has it too; this file is ignored")
                )
                continue
            in_this_source[topic_id] = str(path)
            if path.stem != topic_id:
                library.problems.append(Problem(str(path), "id", f"the file name should be {topic_id}.md (it is loaded anyway)"))
            previous = library.topics.get(topic_id)
            if previous is not None:
                library.overrides.append(Override(topic_id, str(path), previous.path))
            library.topics[topic_id] = result
    return library


def validate_paths(paths: Sequence[Path]) -> tuple[list[LoadedTopic], list[Problem]]:
    """Check the given files and folders (``iop topics validate PATH ...``)."""
    good: list[LoadedTopic] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for given in paths:
        if given.is_dir():
            files = topic_files(given)
        elif given.exists():
            files = [given]
        else:
            problems.append(Problem(str(given), "file", "no such file or folder"))
            continue
        for path in files:
            result = read_file(path, "extra")
            if isinstance(result, list):
                problems.extend(result)
                continue
            if result.topic.id in seen:
                problems.append(Problem(str(path), "id", f"duplicate id {result.topic.id!r}: {seen[result.topic.id]} has it too"))
                continue
            seen[result.topic.id] = str(path)
            good.append(result)
    return good, problems
