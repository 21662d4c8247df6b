"""``iop --help`` against a bare Typer app with the same command tree.

At start the benchmark walks the real root app (``iop_facilitator.cli.app:app``)
and writes a temporary script holding a trivial Typer app with the same
groups, commands, help texts and root options, but no imports of ours (only
``typer``). Then, interleaved, it times whole processes:

* ``python -m iop_facilitator --help``
* ``iop --help`` (the console script), when ``iop`` is on PATH
* ``python BARE.py --help`` (the baseline)

and reports the medians and the ratios. Target: <= 1.2x the bare app, i.e.
the CLI's own module-level imports cost at most a fifth of what Typer and the
interpreter already cost. (The console script's wrapper adds its own small
cost on top of ``python -m``; it is shown against the same baseline.)

    python benchmarks/bench_help.py            # 15 runs each
    python benchmarks/bench_help.py --runs 31
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.2


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ").strip()


def bare_app_source() -> tuple[str, int]:
    """Source of a bare Typer app mirroring our command tree, and how many commands it has."""
    from typer.main import get_command

    from iop_facilitator.cli.app import app

    root = get_command(app)
    if hasattr(root, "load_all"):  # command groups are imported lazily (cli/lazy.py): mirror them all
        root.load_all()
    lines = ["import typer", ""]
    counter = 0

    def options(params) -> str:
        out = []
        for i, p in enumerate(params):
            if getattr(p, "param_type_name", "") != "option" or p.name in ("help",):
                continue
            decls = ", ".join(repr(o) for o in p.opts + p.secondary_opts)
            help_text = repr(p.help or "")
            extra = "".join(
                f", {key}={value!r}" for key, value in (("metavar", p.metavar), ("envvar", p.envvar)) if value
            )
            if p.is_flag:
                out.append(f"p{i}: bool = typer.Option(False, {decls}, help={help_text}{extra})")
            else:
                out.append(f"p{i}: str = typer.Option(None, {decls}, help={help_text}{extra})")
        return ", ".join(out)

    def emit(group, var: str) -> None:
        nonlocal counter
        for name, sub in group.commands.items():
            counter += 1
            fn = f"c{counter}"
            hidden = ", hidden=True" if sub.hidden else ""
            if hasattr(sub, "commands"):
                child = f"g{counter}"
                lines.append(f"{child} = typer.Typer(help={_first_line(sub.help)!r}, no_args_is_help=True)")
                lines.append(f"{var}.add_typer({child}, name={name!r}{hidden})")
                emit(sub, child)
            else:
                lines.append(f"@{var}.command({name!r}, help={_first_line(sub.help)!r}{hidden})")
                lines.append(f"def {fn}() -> None:")
                lines.append("    pass")
            lines.append("")

    lines.append(
        f"app = typer.Typer(name={root.name or 'iop'!r}, help={_first_line(root.help)!r}, "
        "add_completion=False, invoke_without_command=True, "
        "context_settings={'help_option_names': ['-h', '--help']})"
    )
    lines.append("")
    lines.append("@app.callback()")
    lines.append(f"def root({options(root.params)}) -> None:")
    lines.append("    pass")
    lines.append("")
    emit(root, "app")
    lines.append("if __name__ == '__main__':")
    lines.append("    app(prog_name='iop')")
    return "\n".join(lines) + "\n", counter


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()
    from _bytecode import byte_compile_package

    byte_compile_package()

    with tempfile.TemporaryDirectory(prefix="iop-bench-help-") as tmp:
        bare = Path(tmp) / "bare_iop.py"
        source, n_commands = bare_app_source()
        bare.write_text(source, encoding="utf-8")
        env = dict(os.environ, IOP_HOME=str(Path(tmp) / "home"), COLUMNS="100", NO_COLOR="1")
        env.pop("IOP_DB", None)
        commands: dict[str, list[str]] = {
            "python -m iop_facilitator --help": [sys.executable, "-m", "iop_facilitator", "--help"],
        }
        script = shutil.which("iop")
        if script:
            commands["iop --help"] = [script, "--help"]
        commands["bare Typer app --help"] = [sys.executable, str(bare), "--help"]

        outputs = {}
        for label, cmd in commands.items():  # warm up (bytecode caches) and keep one output
            for _ in range(2):
                _t, outputs[label] = run_once(cmd, env)
        times: dict[str, list[float]] = {label: [] for label in commands}
        for i in range(args.runs):
            order = list(commands.items())
            if i % 2:
                order.reverse()
            for label, cmd in order:
                times[label].append(run_once(cmd, env)[0])

    base_label = "bare Typer app --help"
    base = statistics.median(times[base_label])
    print(f"help benchmark: {args.runs} interleaved runs each, median wall time of the whole process; "
          f"{n_commands} commands and groups mirrored; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    worst = 0.0
    for label in commands:
        med = statistics.median(times[label])
        line = f"  {label:<36} {med * 1000:7.1f} ms"
        if label != base_label:
            ratio = med / base
            worst = max(worst, ratio)
            line += f"   ratio {ratio:.2f}x"
        print(line)
    same_lines = outputs[base_label].count("\n"), outputs["python -m iop_facilitator --help"].count("\n")
    print(f"  (help output lines: bare {same_lines[0]}, ours {same_lines[1]})")
    print(f"worst ratio {worst:.2f}x, target <= {TARGET:.1f}x: {'PASS' if worst <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
