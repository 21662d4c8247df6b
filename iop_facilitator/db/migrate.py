"""Alembic, driven from code (no alembic.ini is needed at run time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from iop_facilitator.errors import DatabaseProblem

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision(?::\s*str)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?::[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|None)", re.MULTILINE)


@lru_cache(maxsize=1)
def known_revisions() -> tuple[frozenset[str], str]:
    """Every revision this program ships, and the head, read from the version files.

    Opening a database that is already at head needs no Alembic import at all
    (it costs a tenth of a second at start-up); Alembic runs only to upgrade.
    """
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev:
            revisions[rev.group(1)] = down.group(1) if down else None
    parents = {d for d in revisions.values() if d}
    heads = [r for r in revisions if r not in parents]
    if len(heads) != 1:  # pragma: no cover - a packaging mistake
        raise RuntimeError(f"expected one migration head, found {heads}")
    return frozenset(revisions), heads[0]


def alembic_config(engine: Engine | None = None) -> Config:
    import sys

    from alembic.config import Config

    # Pass the stream now: Alembic's default is whatever sys.stdout was when it was first imported.
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return known_revisions()[1]


def is_at_head(revision: str | None) -> bool:
    return revision == head_revision()


def check_known_revision(revision: str | None, where: str) -> None:
    """Refuse a database whose schema is newer than this program (written by a later version)."""
    if revision is None:
        return
    if revision not in known_revisions()[0]:
        raise DatabaseProblem(
            f"{where} has schema version {revision}, newer than this program knows; "
            "upgrade iop-facilitator to open it"
        )


Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``: ``done`` of ``total`` migration steps applied; ``label``
describes the step running now. Called before the first step and after each one."""


def upgrade(engine: Engine, revision: str = "head", *, progress: Progress | None = None) -> None:
    """Bring the schema to ``revision`` in one transaction (see ``migrations/env.py``)."""
    from alembic import command

    config = alembic_config(engine)
    if progress is not None:
        config.attributes["progress"] = progress
    command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
