"""The schema revisions this program ships, read from the version files (standard library only).

Opening a database that is already at head needs no Alembic import at all (it costs
a tenth of a second at start-up), and the raw-sqlite fast paths (``db.raw``) check a
file's revision without SQLAlchemy: both ask here. Alembic itself runs only to
upgrade (``db.migrate``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

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


def head_revision() -> str:
    return known_revisions()[1]


def is_at_head(revision: str | None) -> bool:
    return revision == head_revision()
