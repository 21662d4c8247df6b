"""``iop export attendance`` against the ``sqlite3 -csv`` command line on the same file.

Two measurements on a COPY of a seeded clinic (``iop seed --groups 50 --weeks
520``; the benchmark never needs the original, and migrates the copy with
``iop init`` first when its schema is older than this program's):

1. **One year to CSV, side by side.** Interleaved whole-process runs of

   * app: ``iop --db COPY export attendance --since S --until U --format csv
     --out FILE --force --quiet`` (the console script; ``python -m
     iop_facilitator`` when ``iop`` is not on PATH);
   * baseline: ``sqlite3 -csv -header COPY "<query>" > FILE`` where the query
     is the export's own ``FROM``/``WHERE``/``ORDER BY`` with the same columns
     as far as SQL produces them: the local times (``strftime`` with the
     program's UTC offset), the service code (a ``CASE`` over level of care,
     modality and status), ``signed`` as yes/no. The sqlite3 shell does the
     CSV quoting; it writes no notice row, no BOM, no audit entry and never
     fsyncs.

   After a warm-up pair, ``--runs`` pairs alternate which goes first; medians
   and the ratio are reported against the target (<= 2x). Both files must hold
   the same number of data rows.

2. **Ten years, peak memory.** The app exports every meeting (no date filter)
   to CSV once; its peak resident set size is read from
   ``getrusage(RUSAGE_CHILDREN)`` in a small wrapper process (so it is the
   export's own peak). Target: <= 100 MB.

    cp --reflink=auto /tmp/clinic10y.db /tmp/bench-export.db
    python benchmarks/bench_export.py --db /tmp/bench-export.db            # 7 pairs
    python benchmarks/bench_export.py --db /tmp/bench-export.db --runs 15
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0
TARGET_MB = 100.0


def app_command() -> list[str]:
    exe = shutil.which("iop")
    return [exe] if exe else [sys.executable, "-m", "iop_facilitator"]


def ensure_head(db: Path) -> None:
    from iop_facilitator.db.migrate import known_revisions

    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    if revision != known_revisions()[1]:
        print(f"migrating the copy from schema {revision} (iop init) ...", flush=True)
        subprocess.run([*app_command(), "--db", str(db), "init"], check=True, stdout=subprocess.DEVNULL)


def one_year(db: Path) -> tuple[dt.date, dt.date]:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        last = dt.date.fromisoformat(conn.execute("SELECT max(local_date) FROM meeting").fetchone()[0])
    return last - dt.timedelta(days=364), last


def baseline_sql(db: Path, since: dt.date, until: dt.date) -> str:
    """The export's query with plain columns (the sqlite3 shell quotes them)."""
    from iop_facilitator.enums import ATTENDED
    from iop_facilitator.exports.attendance.query import AttendanceFilter, query_tail
    from iop_facilitator.timefmt import LocalClock

    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        tz = conn.execute("SELECT timezone FROM program_settings LIMIT 1").fetchone()[0]
    transitions = LocalClock(tz).transitions(since, until)

    def local(expr: str) -> str:
        def shifted(off: int) -> str:
            return f"strftime('%H:%M', {expr}, '{off:+d} minutes')"

        if len(transitions) == 1:
            return shifted(transitions[0][1])
        whens = " ".join(
            f"WHEN {expr} < '{start}' THEN {shifted(prev[1])}"
            for prev, (start, _o) in itertools.pairwise(transitions)
        )
        return f"CASE {whens} ELSE {shifted(transitions[-1][1])} END"

    attended = ",".join(f"'{s}'" for s in ATTENDED)
    tail, params = query_tail("sqlite", AttendanceFilter(since=since, until=until))
    for name, value in params.items():
        tail = tail.replace(f":{name}", f"'{value}'")
    # Signed meetings are billed from their signed snapshot: the same joins and columns as the export.
    return (
        "SELECT m.local_date AS date, ss.group_name AS \"group\", sm.display_name AS member,"
        " sm.chart_id AS chart_id, a.status, "
        f"{local('a.arrived_at')} AS arrived, {local('a.left_at')} AS \"left\", a.minutes_attended AS minutes,"
        f" m.modality, CASE WHEN a.status IN ({attended}) THEN ss.service_code ELSE '' END AS service_codes,"
        " ss.facilitator_name AS facilitator, ss.facilitator_credentials AS credentials,"
        " CASE WHEN ss.requires_cosign AND m.cosigned_at IS NULL THEN 'awaiting co-signature' ELSE 'yes' END AS signed"
        + tail + ";"
    )


def timed(cmd: list[str], stdout_path: Path | None = None) -> float:
    start = time.perf_counter()
    if stdout_path is not None:
        with open(stdout_path, "wb") as out:
            subprocess.run(cmd, check=True, stdout=out)
    else:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def data_rows(path: Path, header_rows: int) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - header_rows


PEAK_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
took = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, took)
"""


def peak(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of ``cmd`` measured by a wrapper that runs only it."""
    out = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *cmd], check=True, capture_output=True, text=True)
    kb, took = out.stdout.split()
    return int(kb) / 1024, float(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="a COPY of the seeded clinic (it may be migrated)")
    parser.add_argument("--runs", type=int, default=7, help="interleaved pairs (default 7)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the ten-year peak-memory run")
    args = parser.parse_args()
    from _bytecode import byte_compile_package

    byte_compile_package()
    db = args.db.resolve()
    if not shutil.which("sqlite3"):
        print("the sqlite3 command line is not installed", file=sys.stderr)
        return 2
    ensure_head(db)
    since, until = one_year(db)
    sql = baseline_sql(db, since, until)
    app = [*app_command(), "--db", str(db), "export", "attendance", "--since", since.isoformat(),
           "--until", until.isoformat(), "--format", "csv", "--force", "--quiet", "--out"]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        app_out, base_out = Path(tmp) / "app.csv", Path(tmp) / "baseline.csv"
        base = ["sqlite3", "-csv", "-header", str(db), sql]
        print(f"one year: {since} .. {until}; {args.runs} interleaved pairs after a warm-up pair")
        timed([*app, str(app_out)])
        timed(base, base_out)
        app_times, base_times = [], []
        for i in range(args.runs):
            pair = [("app", lambda: timed([*app, str(app_out)])), ("base", lambda: timed(base, base_out))]
            for name, run in pair if i % 2 == 0 else reversed(pair):
                (app_times if name == "app" else base_times).append(run())
        rows_app, rows_base = data_rows(app_out, 2), data_rows(base_out, 1)
        if rows_app != rows_base:
            print(f"row counts differ: app {rows_app}, baseline {rows_base}", file=sys.stderr)
            return 1
        a, b = statistics.median(app_times), statistics.median(base_times)
        ratio = a / b
        print(f"  rows           {rows_app:,}")
        print(f"  app            median {a * 1000:7.0f} ms   (min {min(app_times) * 1000:.0f}, max {max(app_times) * 1000:.0f})")
        print(f"  sqlite3 -csv   median {b * 1000:7.0f} ms   (min {min(base_times) * 1000:.0f}, max {max(base_times) * 1000:.0f})")
        print(f"  ratio          {ratio:.2f}x   target <= {TARGET_RATIO:g}x   {'PASS' if ratio <= TARGET_RATIO else 'MISS'}")
        ok = ratio <= TARGET_RATIO
        if not args.skip_memory:
            full = [*app_command(), "--db", str(db), "export", "attendance", "--format", "csv", "--force", "--quiet",
                    "--out", str(Path(tmp) / "all.csv")]
            mb, took = peak(full)
            rows_all = data_rows(Path(tmp) / "all.csv", 2)
            print(f"ten years: {rows_all:,} rows in {took:.1f} s, peak RSS {mb:.0f} MB   target <= {TARGET_MB:g} MB   "
                  f"{'PASS' if mb <= TARGET_MB else 'MISS'}")
            ok = ok and mb <= TARGET_MB
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    raise SystemExit(main())
