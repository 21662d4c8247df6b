"""Open (and so upgrade) a database, printing each upgrade step as it starts (a child of test_upgrade_kill).

    python -m tests.torture.upgrader TARGET

Prints ``step DONE/TOTAL`` (flushed) before the first step and after each one, then ``done``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from iop_facilitator.db.engine import open_database

    def progress(done: int, total: int, _label: str, rows: tuple[int, int] | None = None) -> None:
        if rows is None:  # steps only, not the rows of a long step
            print(f"step {done}/{total}", flush=True)

    database = open_database(argv[0], progress=progress)
    database.dispose()
    print("done", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - a child process of the torture tests
    sys.exit(main(sys.argv[1:]))
