"""The torture suite's shared pieces: run counts, a seeded random source, mounts, a summary.

* ``--torture-full`` (or ``IOP_TORTURE_FULL=1``) runs every test in its full form; the
  default is a bounded handful of runs so ``pytest`` (and ``.ci/run``) stays fast.
* ``IOP_TORTURE_SEED`` fixes the random kill points (default: a new seed per session, printed
  in the summary and in every failure, so a failing run can be replayed).
* :func:`mounted_tmpfs` mounts a small tmpfs (we run as root in CI); where mounting is
  impossible the test is skipped with the reason.
* Each test adds a line to the summary printed at the end (runs, failures, what was checked);
  the seed and the summary live in ``tests/conftest.py`` so that with pytest-xdist every worker
  uses the same seed and the controller prints the lines.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import full_form, torture_seed

REPO = Path(__file__).resolve().parents[2]
_LINES: list[str] = []  # this test's summary lines, handed to its report (``pytest_runtest_makereport``)


@pytest.fixture
def full(request: pytest.FixtureRequest) -> bool:
    return full_form(request.config)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """A random source seeded per test from the session seed (IOP_TORTURE_SEED replays a run)."""
    return random.Random(f"{torture_seed()}:{request.node.nodeid}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.torture)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    # The lines travel with the test's report, so the summary is printed by the process that
    # prints the session's (with pytest-xdist: the controller; see tests/conftest.py).
    item.user_properties.extend(("torture", line) for line in _LINES)
    _LINES.clear()
    yield


def report(line: str) -> None:
    _LINES.append(line)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that imports this worktree's code and the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("IOP_DEBUG", "IOP_DB")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env.update(extra)
    return env


def spawn(*args: str, **popen) -> subprocess.Popen[str]:  # noqa: ANN003
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(), cwd=REPO, **popen)


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``"4m"``) mounted on ``folder``; skips the test when mounting is impossible."""
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["mount failed"]
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {reason[0]}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True, capture_output=True)


def check_database(database, where: str, failures: list[str]) -> None:  # noqa: ANN001
    """``iop db check`` and ``iop db verify`` on ``database``; a failure line per problem."""
    from iop_facilitator.services.integrity import verify_database
    from iop_facilitator.services.maintenance import integrity_problems

    problems = integrity_problems(database)
    if problems:
        failures.append(f"{where}: db check: {problems}")
    if not verify_database(database).ok:
        failures.append(f"{where}: db verify failed")


@pytest.fixture
def pg_databases(request: pytest.FixtureRequest):  # noqa: ANN201
    """``make(template=None) -> url``: throwaway PostgreSQL databases (copies of ``template``), dropped after the test."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_URL, _admin_engine

    if not PG_URL:
        pytest.skip("IOP_TEST_PG_URL is not set")
    admin = _admin_engine()
    names: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"iop_test_{uuid.uuid4().hex[:12]}"
        source = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{source}'))
        names.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in reversed(names):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
