"""Scoped staff commands on a 10-year clinic against a clinic holding only the scope's year.

Every staff command that takes a scope (a day, a week, a group, a member) should cost
what its answer costs, not what the clinic's history costs. The benchmark runs each
command with the same small scope on two fictional clinics seeded by the same
generator (``iop seed``, same groups, same seed, same last day):

* **1-year**: ``--groups 50 --weeks 52`` (7,800 meetings, ~77,000 attendance rows);
* **10-year**: ``--groups 50 --weeks 520`` (78,000 meetings, ~765,000 attendance rows),

round-robin (each repetition runs every command on both clinics, alternating which goes
first), and prints each command's median wall time on both and the ratio 10-year / 1-year
(target <= 1.2x). Noise from other processes hits both sides of a pair alike; the CPU
time of the child process (user + system, ``os.wait4``) is shown beside it.

The clinics are cached outside the repository (``--cache-dir``, default
``~/.cache/iop-bench-scope``): the 10-year one is a copy of ``--ten-year`` (default
``/work/bench/clinic10.db`` when it exists; otherwise seeded, about a minute), upgraded
to the current schema by ``iop db upgrade`` (again after a schema change); the 1-year
one is seeded with the 10-year one's last day. Each run works on fresh copies (exports
write audit entries), removed at the end.

PostgreSQL (``--pg``): both clinics are loaded into databases of a server, by
``iop seed`` (the same generator; the 10-year seed takes several minutes). With
``--pg-url URL`` (a server's maintenance database) the databases are kept there
between runs (``iop_scope_<size>_<key>``); without it the benchmark starts its own
throwaway server as ``.ci/run`` does, with its data folder in the cache directory (so
the seeded clinics survive for the next run), and stops it at the end.

``--twenty-year`` adds a 20-year, 100-group clinic (``--groups 100 --weeks 1040``,
seeded once into the cache, several minutes) for the reports and exports.

    python benchmarks/bench_scope.py                       # SQLite, 5 rounds
    python benchmarks/bench_scope.py --runs 9 --only meeting
    python benchmarks/bench_scope.py --pg --no-sqlite      # own throwaway PostgreSQL server
    python benchmarks/bench_scope.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.2
REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEN_YEAR = Path("/work/bench/clinic10.db")
GROUPS, WEEKS_1Y, WEEKS_10Y, SEED = 50, 52, 520, 1


@dataclasses.dataclass(frozen=True)
class Scope:
    day: dt.date  # a Monday with meetings, near the end of the history
    group: str  # a group's name (the same groups in every clinic of the seed)

    @property
    def monday(self) -> dt.date:
        return self.day - dt.timedelta(days=self.day.weekday())

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def week(self) -> str:
        year, week, _ = self.day.isocalendar()
        return f"{year}-W{week:02d}"


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...]  # after ``--db``; {member} and {out} are filled per clinic
    reports: bool = False  # part of the 20-year growth run


def commands(scope: Scope) -> list[Command]:
    day, mon, sun, group = scope.day.isoformat(), scope.monday.isoformat(), scope.sunday.isoformat(), scope.group
    return [
        Command("meeting list, one day", ("meeting", "list", "--since", day, "--until", day)),
        Command("meeting list, one group's week", ("meeting", "list", "--group", group, "--since", mon, "--until", sun)),
        Command("meeting list --limit 20", ("meeting", "list", "--limit", "20")),
        Command("member list, one group", ("member", "list", "--group", group)),
        Command("report hours, one week", ("report", "hours", "--week", scope.week), reports=True),
        Command("report hours, one group's week", ("report", "hours", "--week", scope.week, "--group", group), reports=True),
        Command("report attendance, one week", ("report", "attendance", "--since", mon, "--until", sun), reports=True),
        Command("report attendance, one group's week",
                ("report", "attendance", "--since", mon, "--until", sun, "--group", group), reports=True),
        Command("topics history, one group", ("topics", "history", "--group", group)),
        Command("topics matrix, one group", ("topics", "matrix", "--group", group, "--date", day)),
        Command("export attendance, one week (CSV)",
                ("export", "attendance", "--since", mon, "--until", sun, "--out", "{out}.csv", "--force", "-q"),
                reports=True),
        Command("export attendance, one group's week (JSON)",
                ("export", "attendance", "--since", mon, "--until", sun, "--group", group, "-f", "json",
                 "--out", "{out}.json", "--force", "-q"), reports=True),
        Command("export attendance, one member",
                ("export", "attendance", "--member", "{member}", "--out", "{out}.csv", "--force", "-q"), reports=True),
        Command("export notes, one day (Markdown)",
                ("export", "notes", "-f", "md", "--since", day, "--until", day, "--out", "{out}.md", "--force", "-q"),
                reports=True),
        Command("export notes, one member (Markdown)",
                ("export", "notes", "-f", "md", "--member", "{member}", "--out", "{out}.md", "--force", "-q"),
                reports=True),
        Command("audit, one day", ("audit", "--since", day, "--until", day)),
        Command("audit --limit 20", ("audit", "--limit", "20")),
    ]


# --------------------------------------------------------------------------- running a command


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out.update(COLUMNS="120", NO_COLOR="1", TZ="UTC")
    for key in ("IOP_DEBUG", "IOP_PASSPHRASE"):
        out.pop(key, None)
    return out


def iop(target: str, *args: str, home: Path, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iop_facilitator", "--db", target, *args],
        env=env() | {"IOP_HOME": str(home)}, check=check, text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def timed(argv: list[str], home: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one process; exit status must be 0."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env() | {"IOP_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- building the clinics


def last_day(path: Path) -> dt.date:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        (text,) = conn.execute("SELECT max(local_date) FROM meeting").fetchone()
    return dt.date.fromisoformat(text)


def seed(target: str, groups: int, weeks: int, end: dt.date, home: Path) -> None:
    print(f"  seeding {groups} groups x {weeks} weeks into {target.split('@')[-1]} ...", flush=True)
    start = time.perf_counter()
    iop(target, "seed", "--groups", str(groups), "--weeks", str(weeks), "--seed", str(SEED),
        "--end", end.isoformat(), "--quiet", home=home)
    print(f"  seeded in {time.perf_counter() - start:.0f} s", flush=True)


def seed_file(path: Path, groups: int, weeks: int, end: dt.date, home: Path) -> None:
    """Seed into a temporary name, then put it in place: an interrupted seed leaves no half clinic in the cache."""
    part = path.with_name(path.name + ".part")
    for suffix in ("", "-wal", "-shm"):
        Path(str(part) + suffix).unlink(missing_ok=True)
    seed(str(part), groups, weeks, end, home)
    with sqlite3.connect(part) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    part.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(str(part) + suffix).unlink(missing_ok=True)


def sqlite_clinics(args: argparse.Namespace, home: Path) -> tuple[dt.date, dict[str, Path]]:
    """The cached, upgraded clinics (file paths) and the seed's end day."""
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    ten = cache / "clinic10.db"
    if not ten.exists():
        source = args.ten_year
        if source is not None and source.exists():
            print(f"  copying {source} (read-only source) ...", flush=True)
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dst = sqlite3.connect(ten.with_suffix(".part"))
            with dst:
                src.backup(dst)
            src.close()
            dst.close()
            ten.with_suffix(".part").rename(ten)
        else:
            seed_file(ten, GROUPS, WEEKS_10Y, args.end or dt.date.today(), home)
    print("  bringing the 10-year clinic to the current schema (iop db upgrade) ...", flush=True)
    iop(str(ten), "db", "upgrade", home=home)
    end = last_day(ten) + dt.timedelta(days=1)
    one = cache / f"clinic1-{end.isoformat()}.db"
    if not one.exists():
        seed_file(one, GROUPS, WEEKS_1Y, end, home)
    iop(str(one), "db", "upgrade", home=home)
    out = {"1-year": one, "10-year": ten}
    if args.twenty_year:
        twenty = cache / f"clinic20-{end.isoformat()}.db"
        if not twenty.exists():
            seed_file(twenty, 100, 1040, end, home)
        iop(str(twenty), "db", "upgrade", home=home)
        out["20-year"] = twenty
    return end, out


def working_copies(clinics: dict[str, Path], folder: Path) -> dict[str, str]:
    out = {}
    for label, path in clinics.items():
        copy = folder / path.name
        subprocess.run(["cp", "--reflink=auto", str(path), str(copy)], check=True)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                subprocess.run(["cp", "--reflink=auto", str(side), str(copy) + suffix], check=True)
        out[label] = str(copy)
    return out


# --------------------------------------------------------------------------- PostgreSQL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnServer:
    """A throwaway PostgreSQL server (as ``.ci/run`` starts one) whose data folder is cached."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    def _as_pg(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(self._as_pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                       "--locale=C", "--no-sync"), check=True, stdout=subprocess.DEVNULL)
        subprocess.run(self._as_pg("pg_ctl", "-D", str(self.data), "-o",
                                   f"-k {self.folder} -h 127.0.0.1 -p {self.port} -c fsync=off",
                                   "-l", str(self.folder / "server.log"), "-w", "start"),
                       check=True, stdout=subprocess.DEVNULL)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(self._as_pg("pg_ctl", "-D", str(self.data), "-m", "fast", "stop"),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pg_clinics(url: str, end: dt.date, home: Path, twenty: bool) -> dict[str, str]:
    """Databases on the server of ``url`` holding the clinics (seeded once, kept)."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    base = plain.rsplit("/", 1)[0]
    sizes = [("1-year", GROUPS, WEEKS_1Y), ("10-year", GROUPS, WEEKS_10Y)] + ([("20-year", 100, 1040)] if twenty else [])
    out = {}
    with psycopg.connect(plain, autocommit=True) as conn:
        for label, groups, weeks in sizes:
            name = f"iop_scope_{groups}g{weeks}w_{end.strftime('%Y%m%d')}"
            ready = f"{name}_ready"  # renamed to this once the seed finished
            target = url.rsplit("/", 1)[0] + "/" + ready
            exists = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname IN (%s, %s)",
                                                 (name, ready))}
            if ready not in exists:
                if name in exists:
                    conn.execute(f'DROP DATABASE "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
                seed(url.rsplit("/", 1)[0] + "/" + name, groups, weeks, end, home)
                conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{ready}"')
            iop(target, "db", "upgrade", home=home)
            with psycopg.connect(f"{base}/{ready}", autocommit=True) as db:
                db.execute("VACUUM ANALYZE")
            out[label] = target
    return out


# --------------------------------------------------------------------------- the scope


def pick_scope(end: dt.date, sample: str) -> Scope:
    """The last Monday with meetings before ``end``, and a group meeting that day (by name)."""
    day = end - dt.timedelta(days=1)
    while day.weekday() != 0:
        day -= dt.timedelta(days=1)
    day -= dt.timedelta(days=7)  # a full week of history after it too
    with sqlite3.connect(f"file:{sample}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT g.name FROM meeting m JOIN therapy_group g ON g.id = m.group_id"
            " WHERE m.local_date = ? ORDER BY g.name LIMIT 1", (day.isoformat(),)
        ).fetchone()
    if row is None:
        raise SystemExit(f"no meeting on {day}: is the clinic seeded?")
    return Scope(day, row[0])


MEMBER_SQL = (
    "SELECT mb.external_chart_id FROM attendance a JOIN meeting m ON m.id = a.meeting_id"
    " JOIN therapy_group g ON g.id = m.group_id JOIN member mb ON mb.id = a.member_id"
    " WHERE m.local_date = {day} AND g.name = {group} AND mb.external_chart_id IS NOT NULL"
    " ORDER BY mb.external_chart_id LIMIT 1"
)


def pick_member(target: str, scope: Scope) -> str:
    """The same rule in every clinic: the first chart id (sorted) at the group's meeting that day."""
    if target.startswith("postgresql"):
        import psycopg

        with psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://")) as conn:
            row = conn.execute(MEMBER_SQL.format(day="%s", group="%s"), (scope.day, scope.group)).fetchone()
    else:
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as conn:
            row = conn.execute(MEMBER_SQL.format(day="?", group="?"), (scope.day.isoformat(), scope.group)).fetchone()
    if row is None:
        raise SystemExit(f"no member of {scope.group} on {scope.day}")
    return row[0]


# --------------------------------------------------------------------------- measuring


def measure(label: str, targets: dict[str, str], scope: Scope, args: argparse.Namespace, home: Path,
            out_dir: Path) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    chosen = [c for c in commands(scope) if not args.only or any(o in c.name for o in args.only)]
    if "20-year" in targets:
        chosen = [c for c in chosen if c.reports] if args.twenty_only else chosen
    members = {k: pick_member(t, scope) for k, t in targets.items()}
    print(f"\n{label}: scope day {scope.day} (week {scope.week}), group {scope.group!r}, "
          f"member: first chart id at that meeting ({', '.join(f'{k} {v}' for k, v in members.items())})")
    walls = {(c.name, k): [] for c in chosen for k in targets}
    cpus = {(c.name, k): [] for c in chosen for k in targets}

    def argv(c: Command, key: str) -> list[str]:
        fill = {"member": members[key], "out": str(out_dir / key.replace("-", ""))}
        return [sys.executable, "-m", "iop_facilitator", "--db", targets[key], *(a.format(**fill) for a in c.args)]

    order = list(targets)
    for c in chosen:  # warm-up: one run each (the page cache, compiled bytecode)
        for key in order:
            timed(argv(c, key), home)
    for rnd in range(args.runs):
        for c in chosen:
            for key in order if rnd % 2 == 0 else reversed(order):
                wall, cpu = timed(argv(c, key), home)
                walls[(c.name, key)].append(wall)
                cpus[(c.name, key)].append(cpu)
        print(f"  round {rnd + 1}/{args.runs} done", flush=True)
    results = []
    for c in chosen:
        results.append((
            c.name,
            {k: statistics.median(walls[(c.name, k)]) for k in targets},
            {k: statistics.median(cpus[(c.name, k)]) for k in targets},
        ))
    return results


def report(label: str, results: list[tuple[str, dict[str, float], dict[str, float]]], keys: list[str]) -> bool:
    base = keys[0]
    head = f"{'command':<44}" + "".join(f"{k:>10}" for k in keys)
    head += "".join(f"  {k + '/' + base:>18}" for k in keys[1:]) + f"  {'CPU ratio':>9}  verdict"
    print(f"\n{label}: median wall time (s) per command, ratios to the {base} clinic (target <= {TARGET}x)")
    print(head)
    ok = True
    for name, wall, cpu in results:
        ratios = [wall[k] / wall[base] for k in keys[1:]]
        cpu_ratio = cpu[keys[1]] / cpu[base] if cpu[base] else float("nan")
        passed = ratios[0] <= TARGET
        ok &= passed
        print(f"{name:<44}" + "".join(f"{wall[k]:>10.3f}" for k in keys)
              + "".join(f"  {r:>17.2f}x" for r in ratios) + f"  {cpu_ratio:>8.2f}x  {'PASS' if passed else 'MISS'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "iop-bench-scope")
    parser.add_argument("--ten-year", type=Path, default=DEFAULT_TEN_YEAR if DEFAULT_TEN_YEAR.exists() else None,
                        help="a seeded 10-year clinic to copy (never changed); default: seed one")
    parser.add_argument("--end", type=dt.date.fromisoformat, help="the seed's end day when seeding the 10-year clinic")
    parser.add_argument("--runs", type=int, default=5, help="rounds (each runs every command on both clinics)")
    parser.add_argument("--only", action="append", help="only commands whose name contains this (repeatable)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite files")
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (own throwaway server unless --pg-url)")
    parser.add_argument("--pg-url", help="a PostgreSQL server's maintenance database URL (databases are kept there)")
    parser.add_argument("--twenty-year", action="store_true", help="also a 20-year, 100-group clinic")
    parser.add_argument("--twenty-only", action="store_true", help="with --twenty-year: only reports and exports")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _bytecode import byte_compile_package

    byte_compile_package()
    ok = True
    with tempfile.TemporaryDirectory(prefix="iop-bench-scope-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        print("Preparing the clinics (cached in", args.cache_dir, ")", flush=True)
        end, files = sqlite_clinics(args, home)
        keys = list(files)
        scope = pick_scope(end, str(files["1-year"]))
        if not args.no_sqlite:
            work = working_copies(files, Path(tmp))
            ok &= report("SQLite", measure("SQLite", work, scope, args, home, out_dir), keys)
            for path in work.values():
                for suffix in ("", "-wal", "-shm"):
                    Path(path + suffix).unlink(missing_ok=True)
        if args.pg or args.pg_url:
            server = None if args.pg_url else OwnServer(args.cache_dir / "pg")
            url = args.pg_url or server.start()
            try:
                targets = pg_clinics(url, end, home, args.twenty_year)
                ok &= report("PostgreSQL", measure("PostgreSQL", targets, scope, args, home, out_dir), keys)
            finally:
                if server is not None:
                    server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
