"""Shared fixtures.

* Every test runs with ``IOP_HOME`` in a temporary folder: no test touches the
  real data or config directories.
* ``db`` is a freshly migrated database: SQLite always, and PostgreSQL as a
  second parameter whenever ``IOP_TEST_PG_URL`` names a server (``.ci/run``
  starts one). Each PostgreSQL test gets its own throwaway database.
* A new database gets the newest schema as a copy of one migrated once per session
  (``fast_new_databases``, see ``tests/database_templates.py``).
* The environment is made the same for everyone before anything else is imported
  (``_hermetic_environment``: no NO_COLOR, COLUMNS, LINES, TEXTUAL_* or IOP_* settings of
  the developer's shell; TZ and a UTF-8 locale fixed).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.database_templates import Templates

# --------------------------------------------------------------------------- a hermetic environment
# Runs when pytest loads this file, before any test module imports Textual, Rich or pendulum, so
# the suite (and every child process, tmux server and app it starts) sees the same environment
# whatever the developer's shell says: no colour or terminal-size overrides, one timezone, a
# UTF-8 locale, none of the program's own variables. Test controls (IOP_TEST_PG_URL,
# IOP_TORTURE_*, IOP_REGEN_GOLDEN) are kept.

_TERMINAL_VARIABLES = (
    "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "PY_COLORS", "COLORTERM", "TERM_PROGRAM",
    "LC_TERMINAL", "COLUMNS", "LINES", "ROWS", "JUPYTER_COLUMNS", "JUPYTER_LINES", "TERMINAL_WIDTH",
    "TTY_COMPATIBLE", "TTY_INTERACTIVE", "ESCDELAY", "UNICODE_VERSION", "GITHUB_ACTIONS", "TYPER_USE_RICH",
)
_TEST_CONTROLS = ("IOP_TEST_PG_URL", "IOP_TORTURE_FULL", "IOP_TORTURE_SEED", "IOP_REGEN_GOLDEN", "IOP_PROPERTY_EXAMPLES")
#: The machine's timezone in tests (a database's default program timezone follows it).
TEST_TZ = "UTC"


def _utf8_locale() -> str:
    import locale

    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        for name in ("C.UTF-8", "C.utf8", "en_US.UTF-8", "UTF-8"):
            try:
                locale.setlocale(locale.LC_CTYPE, name)
            except locale.Error:
                continue
            return name
        return "C.UTF-8"
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)


def _hermetic_environment() -> None:
    env = os.environ
    for name in list(env):
        if (
            name in _TERMINAL_VARIABLES
            or (name.startswith(("TEXTUAL", "_TYPER_", "LC_")) and not name.startswith("TEXTUAL_SNAPSHOT_"))
            or (name.startswith("IOP_") and name not in _TEST_CONTROLS)
        ):
            del env[name]
    env["LANG"] = _utf8_locale()
    env["TZ"] = TEST_TZ
    time.tzset()


_hermetic_environment()

PG_URL = os.environ.get("IOP_TEST_PG_URL", "").strip()


# --------------------------------------------------------------------------- the torture suite's seed and summary
# Here, not in tests/torture/conftest.py: with pytest-xdist the controller never collects the
# tests (nor loads that file), yet it prints the summary; the workers inherit the seed through
# the environment (set before they start).
if not os.environ.get("IOP_TORTURE_SEED"):
    import random

    os.environ["IOP_TORTURE_SEED"] = str(random.SystemRandom().randrange(1, 2**31))
TORTURE_SUMMARY: list[str] = []


def torture_seed() -> int:
    return int(os.environ["IOP_TORTURE_SEED"])


def full_form(config: pytest.Config) -> bool:
    return bool(config.getoption("--torture-full")) or os.environ.get("IOP_TORTURE_FULL", "") not in ("", "0")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        TORTURE_SUMMARY.extend(line for key, line in report.user_properties if key == "torture")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if TORTURE_SUMMARY:
        form = "full" if full_form(config) else "bounded (--torture-full for all runs)"
        terminalreporter.write_sep("-", f"torture suite, {form} form, IOP_TORTURE_SEED={torture_seed()}")
        for line in TORTURE_SUMMARY:
            terminalreporter.write_line(line)


def pytest_addoption(parser: pytest.Parser) -> None:
    # Registered here (an initial conftest); used by tests/torture/.
    parser.addoption(
        "--torture-full", action="store_true", default=False,
        help="run the torture suite in its full form (also: IOP_TORTURE_FULL=1); default: a bounded handful",
    )


# --------------------------------------------------------------------------- parallel workers, longest tests first
def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile the package once, in the controller, before any worker or subprocess starts.

    The tests start the real program many times (the CLI in subprocesses, the app in tmux). From
    a fresh checkout with ``PYTHONDONTWRITEBYTECODE=1`` (as CI runs) no ``.pyc`` files exist and
    none are written, so every such start compiled the package's modules from source again:
    measured, a fresh clone's CI run took 4 min 5 s before, 3 min 57 s after (quiet machine).
    ``pip install`` (not editable) compiles them too, so the program is started as users start it.
    """
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller has done it
    import compileall

    import iop_facilitator

    compileall.compile_dir(Path(iop_facilitator.__file__).parent, quiet=1)


# `pytest` runs pytest-xdist workers (`-n auto --dist loadgroup` in pyproject.toml).
#
# How many: one per CPU core plus two. Much of the suite waits rather than computes: the tmux
# tests wait for the real app (whose CPU time is the tmux server's, not the worker's), each
# PostgreSQL test waits for the server to create, copy and drop its database, SQLite commits
# wait for fsync. With one worker per core a core idles during every such wait; the extra
# workers fill it (measured on 2 cores, quiet: 3 workers 4 min 16 s wall for 5.2 CPU-minutes,
# 4 workers 3 min 54 s for 5.5). (`pytest -n N` or PYTEST_XDIST_AUTO_NUM_WORKERS=N choose another number.)
#
# In what order: longest first. xdist hands out the tmux group (`xdist_group("tmux")`, one
# terminal at a time) first because it is the biggest unit, then single tests in collection
# order, a worker asking for more as it runs dry. Collection order would leave the TUI tests
# (seconds each) for the end, where the last of them runs while the other cores idle; sorted
# by kind, the end of the run is made of short service and storage tests that even out.
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores + 2


#: Kinds of tests, longest first (by the CPU and wall time one test of the kind takes).
_LONGEST_FIRST = (
    # a real app in tmux, keys at human speed: mostly waiting, so started early; the notes-speed
    # test (two minutes of typing, its own xdist group) first among the single units
    "tests/e2e/test_notes_speed_e2e.py",
    "tests/e2e/",
    "tests/torture/",  # processes killed and restarted, full disks: the longest single tests
    "tests/tui/test_properties.py",  # state machines: several app runs per test
    "tests/tui/",  # an app under Pilot per test
    "tests/packaging/",  # builds and installs a wheel
    "tests/cli/",  # some in subprocesses
    "tests/exports/",
)


def _kind(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    for rank, prefix in enumerate(_LONGEST_FIRST):
        if path.startswith(prefix):
            return rank
    return len(_LONGEST_FIRST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort: the same order in every worker (xdist checks), collection order within a kind.
    items.sort(key=_kind)


# --------------------------------------------------------------------------- the garbage collector
# A TUI test builds and drops a whole Textual app (thousands of widgets, styles, strips and
# callbacks, many in reference cycles). With CPython's default thresholds (700, 10, 10) the
# collector ran a young collection every 700 allocations and a full one every 70,000, each
# scanning every object the process holds (the imported libraries included): about a quarter
# of a TUI test's CPU (measured: 4.7 of 18 CPU-s in tests/tui/test_step_checkin.py). After
# collection the imported modules' objects are frozen out of the scans (`gc.freeze`), and the
# young generation is collected every 20,000 allocations: the same garbage is freed, a little
# later (reference counting still frees everything not in a cycle at once). No test depends
# on when a cycle is collected.
GC_THRESHOLDS = (20_000, 10, 10)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def iop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "iop-home"
    monkeypatch.setenv("IOP_HOME", str(home))
    monkeypatch.delenv("IOP_DB", raising=False)
    monkeypatch.delenv("IOP_DEBUG", raising=False)
    monkeypatch.setenv("IOP_USER", "test-runner")
    return home


def _admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


_TEMPLATES = Templates(PG_URL)


@pytest.fixture(autouse=True, scope="session")
def fast_new_databases() -> Iterator[Templates]:
    """Empty databases get the newest schema by copying one migrated per session (``tests/database_templates.py``)."""
    from iop_facilitator.db import migrate

    _TEMPLATES.real_upgrade = migrate.upgrade
    migrate.upgrade = _TEMPLATES.upgrade
    try:
        yield _TEMPLATES
    finally:
        migrate.upgrade = _TEMPLATES.real_upgrade
        _TEMPLATES.close()


@pytest.fixture
def prebuilt(fast_new_databases: Templates):
    """``prebuilt(database, key, build)``: ``database`` (open, empty) becomes a copy of what
    ``build(database)`` makes, built once per session and back end; returns ``build``'s result."""
    return fast_new_databases.restore


def _pg_database(*, at_head: bool) -> Iterator[str]:
    """A URL of a new PostgreSQL database (empty, or ``at_head``: a copy of the migrated template),
    dropped after the test."""
    if not PG_URL:
        pytest.skip("IOP_TEST_PG_URL is not set")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"iop_test_{uuid.uuid4().hex[:12]}"
    admin = _TEMPLATES.admin()
    try:
        if at_head:
            _TEMPLATES.create_postgresql_at_head(name)
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    yield from _pg_database(at_head=False)


@pytest.fixture(params=BACKENDS)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A target (SQLite path or PostgreSQL URL) for a database that does not exist yet.

    PostgreSQL, when the test also asks for ``db`` (which migrates it at once): the database is
    created as a copy of the migrated template straight away, instead of empty and then dropped
    and copied again by the template upgrade (``tests/database_templates.py``)."""
    if request.param == "sqlite":
        yield str(tmp_path / "clinic.db")
    else:
        yield from _pg_database(at_head="db" in request.fixturenames)


@pytest.fixture
def db(db_target: str):
    """An open database, migrated to the newest schema, on every configured back end."""
    from iop_facilitator.db.engine import open_database

    database = open_database(db_target, create=True)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s
