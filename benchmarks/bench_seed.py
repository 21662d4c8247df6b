"""``iop seed`` against a plain ``sqlite3`` writer of the same rows.

Both sides run as separate processes on a fresh temporary SQLite file and are
timed over the whole command (interpreter start-up, imports, schema, rows,
commits) with ``time.perf_counter``:

* app:      ``python -m iop_facilitator --db FILE seed --groups G --weeks W ...``
            (opens and migrates the database with Alembic, checks it is empty,
            writes the rows, records the audit event);
* baseline: a throw-away script that creates the same schema from DDL copied
            out of a freshly migrated empty database, sets the same durability
            PRAGMAs (WAL, synchronous=FULL), and writes the same rows with plain
            ``sqlite3`` ``executemany``, committing per chunk as the app does.

The baseline reuses the app's pure-Python row generator
(``iop_facilitator.demo.generate.generate``, which imports no SQLAlchemy; the
tables' columns, which the app reads from its models, are handed to it in a file
written before the clock starts), so
the ratio measures what the application adds on top of generating the rows;
the generator's own cost is on both sides. The baseline computes meeting times
with pendulum exactly as ``services.meetings.scheduled_times`` does, without
importing it. After each pair the row counts of the two files are compared.

Target: app <= 2x baseline for the full size (``--groups 50 --weeks 520``).
``--quick`` (5 groups, 52 weeks) is a smoke test: its one second is dominated
by the app's fixed start-up cost (imports, Alembic migration), so its ratio is
shown but not judged; the verdict is given for the other sizes.

    python benchmarks/bench_seed.py            # full size, median of --repeat runs
    python benchmarks/bench_seed.py --quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TARGET = 2.0
TABLES = (
    "staff", "therapy_group", "group_facilitator", "member", "enrollment", "goal", "meeting",
    "attendance", "story_note", "progress_note", "follow_up",
)

BASELINE = textwrap.dedent(
    '''
    import datetime as dt
    import json
    import sqlite3
    import sys

    import pendulum

    from iop_facilitator.demo.generate import generate

    path, ddl_file, tz = sys.argv[1], sys.argv[2], sys.argv[3]
    groups, weeks, members, seed = (int(x) for x in sys.argv[4:8])
    end = dt.date.fromisoformat(sys.argv[8])
    with open(sys.argv[9], encoding="utf-8") as fh:
        COLUMNS, versions = json.load(fh)
    versions = {k: tuple(v) for k, v in versions.items()}
    zone = pendulum.timezone(tz)

    def schedule(start_time, minutes, day):
        hour, minute = (int(x) for x in start_time.split(":"))
        start = pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=zone)
        return start.in_tz("UTC"), start.add(minutes=minutes).in_tz("UTC")

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    with open(ddl_file, encoding="utf-8") as fh:
        conn.executescript(fh.read())
    sql = {
        t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})" for t, c in COLUMNS.items()
    }
    for chunk in generate(groups=groups, weeks=weeks, members_per_group=members, seed=seed, end=end,
                          schedule=schedule, columns=COLUMNS, topic_versions=versions):
        for table, rows in chunk.tables:
            if rows:
                conn.executemany(sql[table], rows)
        conn.commit()
    conn.close()
    '''
)


def schema_ddl(workdir: Path) -> str:
    """The DDL of a freshly migrated, empty app database (tables first, then indexes)."""
    from iop_facilitator.db.engine import open_database

    path = workdir / "schema.db"
    database = open_database(path, create=True)
    database.dispose()
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
        ).fetchall()
        timezone = conn.execute("SELECT timezone FROM program_settings").fetchone()
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if timezone is not None:  # not expected: opening a database creates no settings row
        raise SystemExit("unexpected settings row in a fresh database")
    return ";\n".join(sql for _kind, sql in rows) + ";\n"


def baseline_inputs() -> str:
    """The tables' columns (the models' order) and the bundled topics' versions, as JSON for the baseline."""
    import json

    from iop_facilitator.demo.clinic import bundled_topic_versions, table_columns

    return json.dumps([table_columns(), bundled_topic_versions()])


def program_timezone() -> str:
    """The timezone a new database gets (what the app will schedule meetings in)."""
    from iop_facilitator.services.settings import local_timezone_name

    return local_timezone_name()


def counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def same_contents(a: Path, b: Path) -> list[str]:
    """Tables whose rows differ between the two files (compared with EXCEPT both ways)."""
    conn = sqlite3.connect(a)
    try:
        conn.execute("ATTACH DATABASE ? AS other", (str(b),))
        differ = []
        for t in TABLES:
            q = (f"SELECT (SELECT count(*) FROM (SELECT * FROM main.{t} EXCEPT SELECT * FROM other.{t}))"
                 f" + (SELECT count(*) FROM (SELECT * FROM other.{t} EXCEPT SELECT * FROM main.{t}))")
            if conn.execute(q).fetchone()[0]:
                differ.append(t)
        return differ
    finally:
        conn.close()


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}")
    return elapsed


def seed_supports_quiet(env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-m", "iop_facilitator", "seed", "--help"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("`python -m iop_facilitator seed --help` failed: is the seed command there?\n"
                         + done.stdout + done.stderr)
    return "--quiet" in done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--members-per-group", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", default=None, help="YYYY-MM-DD (default: yesterday)")
    parser.add_argument("--quick", action="store_true", help="5 groups x 52 weeks (a smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs; the median is reported")
    parser.add_argument("--verify", action="store_true",
                        help="also check the two databases hold identical rows (slow at full size)")
    parser.add_argument("--tmpdir", default=None, help="where the temporary databases go")
    args = parser.parse_args()
    if args.quick:
        args.groups, args.weeks = 5, 52
    end = args.end or (dt.date.today() - dt.timedelta(days=1)).isoformat()

    with tempfile.TemporaryDirectory(prefix="iop-bench-seed-", dir=args.tmpdir) as tmp:
        workdir = Path(tmp)
        env = dict(os.environ, IOP_HOME=str(workdir / "home"), IOP_USER="benchmark")
        env.pop("IOP_DB", None)
        ddl_file = workdir / "schema.sql"
        ddl_file.write_text(schema_ddl(workdir), encoding="utf-8")
        baseline_file = workdir / "baseline.py"
        baseline_file.write_text(BASELINE, encoding="utf-8")
        inputs_file = workdir / "inputs.json"
        inputs_file.write_text(baseline_inputs(), encoding="utf-8")
        tz = program_timezone()
        quiet = ["--quiet"] if seed_supports_quiet(env) else []
        sizes = [str(args.groups), str(args.weeks), str(args.members_per_group), str(args.seed)]

        print(f"seed benchmark: {args.groups} groups x {args.weeks} weeks, {args.members_per_group} "
              f"members per group, seed {args.seed}, end {end}; {args.repeat} pair(s); "
              f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
        app_times: list[float] = []
        base_times: list[float] = []
        for i in range(args.repeat):
            app_db, base_db = workdir / "app.db", workdir / "baseline.db"
            app_cmd = [sys.executable, "-m", "iop_facilitator", "--db", str(app_db), "seed",
                       "--groups", sizes[0], "--weeks", sizes[1], "--members-per-group", sizes[2],
                       "--seed", sizes[3], "--end", end, *quiet]
            base_cmd = [sys.executable, str(baseline_file), str(base_db), str(ddl_file), tz, *sizes, end, str(inputs_file)]
            order = [("app", app_cmd), ("baseline", base_cmd)]
            if i % 2:
                order.reverse()  # alternate who goes first (page cache, CPU boost)
            result = {}
            for name, cmd in order:
                result[name] = timed(cmd, env)
            app_counts, base_counts = counts(app_db), counts(base_db)
            if app_counts != base_counts:
                raise SystemExit(f"the two databases differ:\n app      {app_counts}\n baseline {base_counts}")
            if args.verify:
                differ = same_contents(app_db, base_db)
                if differ:
                    raise SystemExit(f"the two databases hold different rows in: {', '.join(differ)}")
            size_mb = app_db.stat().st_size / 1e6
            remove(app_db)
            remove(base_db)
            app_times.append(result["app"])
            base_times.append(result["baseline"])
            rows = sum(app_counts.values())
            print(f"  run {i + 1}: app {result['app']:.2f} s, baseline {result['baseline']:.2f} s, "
                  f"ratio {result['app'] / result['baseline']:.2f}  ({rows:,} rows, {size_mb:,.0f} MB)")

    app, base = statistics.median(app_times), statistics.median(base_times)
    ratio = app / base
    summary = f"median: app {app:.2f} s, baseline {base:.2f} s, ratio {ratio:.2f}x"
    if args.quick:
        print(f"{summary}; not judged: the <= {TARGET:.1f}x target is for the full size, and the app's "
              "fixed start-up (imports, migration) dominates a one-second run")
    else:
        print(f"{summary}, target <= {TARGET:.1f}x: {'PASS' if ratio <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
