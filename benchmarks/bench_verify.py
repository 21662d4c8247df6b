"""``iop db verify --full`` against a plain script reading the same rows with ``sqlite3`` and hashing them.

On a COPY of a seeded clinic (the 10-year one: ``iop seed --groups 50 --weeks 520``); the copy
is upgraded to this program's schema first (``iop db upgrade``) when it is older. Interleaved
whole-process runs of

* app: ``iop --db COPY db verify --full --no-checkpoint --quiet`` (recomputes every signed
  meeting's content hash and snapshot hash, matches them with the audit entries, checks the
  audit chain, the verify checkpoints and the row history);
* baseline: a throw-away script (written into a temporary folder, importing nothing of ours)
  that opens the file with ``sqlite3`` read-only and streams the same rows the verification
  reads (the signed meetings' canonical columns and hashes, attendance, progress notes,
  stories, safety events, snapshots and their members, co-signatures, addenda, the audit log,
  the row history), feeding ``repr(row)`` of each into ``hashlib.sha256``.

After a warm-up pair, ``--runs`` pairs alternate which goes first; the medians of wall time and
CPU time (user + system of the child) and their ratios are printed against the target (<= 2x).
Then one incremental run (``iop db verify`` after a checkpoint) is timed for scale.

    cp --reflink=auto /work/bench/clinic10.db /tmp/bench-verify.db
    python benchmarks/bench_verify.py --db /tmp/bench-verify.db            # 3 pairs
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0

BASELINE = r'''
import hashlib, sqlite3, sys
QUERIES = {queries!r}
conn = sqlite3.connect(f"file:{{sys.argv[1]}}?mode=ro", uri=True)
digest = hashlib.sha256()
rows = 0
for sql in QUERIES:
    for row in conn.execute(sql):
        digest.update(repr(row).encode("utf-8"))
        rows += 1
print(rows, digest.hexdigest())
'''


def app_command() -> list[str]:
    exe = shutil.which("iop")
    return [exe] if exe else [sys.executable, "-m", "iop_facilitator"]


def baseline_queries() -> list[str]:
    """The rows ``db verify --full`` reads, as plain SELECTs (the columns come from the program)."""
    from iop_facilitator.services.canonical import MEETING_FIELDS, PARTS, SIGNED_MEMBER_FIELDS, SNAPSHOT_FIELDS
    from iop_facilitator.services.integrity import SIGNED_OR_HASHED

    def names(fields) -> str:  # noqa: ANN001
        return ", ".join(name for name, _ in fields)

    queries = [f"SELECT {names(MEETING_FIELDS)}, content_hash FROM meeting WHERE {SIGNED_OR_HASHED}"]
    queries += [f"SELECT meeting_id, {names(fields)} FROM {table}" for table, fields in PARTS.values()]
    queries += [
        f"SELECT {names(SNAPSHOT_FIELDS)}, snapshot_hash, anchor_id FROM signed_snapshot",
        f"SELECT meeting_id, {names(SIGNED_MEMBER_FIELDS)} FROM signed_member",
        "SELECT * FROM signed_cosign",
        "SELECT * FROM addendum",
        "SELECT * FROM audit_event ORDER BY seq",
        "SELECT * FROM row_history ORDER BY created_at, id",
        "SELECT * FROM verify_checkpoint ORDER BY seq",
    ]
    return queries


def ensure_head(db: Path) -> None:
    from iop_facilitator.db.revisions import head_revision

    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    if revision != head_revision():
        print(f"upgrading the copy from schema {revision} (iop db upgrade) ...", flush=True)
        subprocess.run([*app_command(), "--db", str(db), "db", "upgrade"], check=True, stdout=subprocess.DEVNULL)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a COPY of a seeded clinic (it is upgraded)")
    parser.add_argument("--runs", type=int, default=3, help="measured pairs (default 3)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bytecode import byte_compile_package

    byte_compile_package()
    db = args.db.resolve()
    ensure_head(db)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "baseline_verify.py"
        script.write_text(BASELINE.format(queries=baseline_queries()), encoding="utf-8")
        app = [*app_command(), "--db", str(db), "db", "verify", "--full", "--no-checkpoint", "--quiet"]
        base = [sys.executable, str(script), str(db)]
        print("warm-up ...", flush=True)
        timed(app)
        timed(base)
        results: dict[str, list[tuple[float, float]]] = {"app": [], "baseline": []}
        for i in range(args.runs):
            order = [("app", app), ("baseline", base)] if i % 2 == 0 else [("baseline", base), ("app", app)]
            for name, cmd in order:
                results[name].append(timed(cmd))
            print(f"pair {i + 1}: app {results['app'][-1][0]:.1f} s, baseline {results['baseline'][-1][0]:.1f} s", flush=True)
        env = dict(os.environ)
        subprocess.run([*app_command(), "--db", str(db), "db", "verify", "--full", "--quiet"], check=True,
                       stdout=subprocess.DEVNULL, env=env)  # leaves a checkpoint for the incremental run
        incremental = timed([*app_command(), "--db", str(db), "db", "verify", "--quiet"])
    wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    for label, values in (("wall", wall), ("CPU", cpu)):
        ratio = values["app"] / values["baseline"]
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(f"{label:4}: db verify --full {values['app']:.2f} s, baseline {values['baseline']:.2f} s, "
              f"ratio {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x) {verdict}")
    print(f"incremental db verify after a checkpoint: {incremental[0]:.2f} s wall, {incremental[1]:.2f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
