"""``iop export notes --format pdf`` for one month against a bare fpdf2 script writing the same text.

On a COPY of a seeded clinic (the 10-year one), upgraded first when its schema is older. The
benchmark exports the last full month of the clinic once as Markdown (the same documents, as
text) and once as a PDF, then runs, interleaved:

* app: ``iop --db COPY export notes --since S --until U --format pdf --out FILE --force --quiet``
  (the whole command: start-up, reading the meetings in chunks, drawing each one, the audit
  entry, the 0600 file put in place);
* baseline: a throw-away script (importing nothing of ours) that embeds the same font files
  (the bundled DejaVu Sans, regular and bold) in an fpdf2 document and writes every line of
  that Markdown text, cut at 95 characters by ``textwrap`` (no measuring at all), one ``cell``
  per line, then saves the file. ``--baseline multi_cell`` uses fpdf2's own word wrap instead
  (``multi_cell``: much slower than the app, so a far easier target).

After a warm-up pair, ``--runs`` pairs alternate which goes first; medians of wall and CPU
time and their ratios are printed against the target (<= 2x), with both files' page counts.

    cp --reflink=auto /work/bench/clinic10.db /tmp/bench-pdf.db
    python benchmarks/bench_notes_pdf.py --db /tmp/bench-pdf.db          # 3 pairs
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_RATIO = 2.0

BASELINE = r'''
import sys, textwrap
from fpdf import FPDF
mode, regular, bold, text, out = sys.argv[1:6]
pdf = FPDF(orientation="portrait", unit="mm", format="Letter")
pdf.set_auto_page_break(auto=True, margin=20)
pdf.set_margins(18, 15, 18)
pdf.add_font("dejavu", "", regular)
pdf.add_font("dejavu", "B", bold)
pdf.add_page()
pdf.set_font("dejavu", "", 10)
with open(text, encoding="utf-8") as fh:
    for line in fh:
        line = line.rstrip("\n")
        heading = line.startswith("#")
        if heading:
            pdf.set_font("dejavu", "B", 12)
            line = line.lstrip("# ")
        if not line:
            pdf.ln(2)
        elif mode == "multi_cell":  # fpdf2's own word wrap
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        else:  # the cheapest: lines cut by the standard library at a fixed width, one cell each
            for part in textwrap.wrap(line, 95) or [""]:
                pdf.cell(0, 5, part, new_x="LMARGIN", new_y="NEXT")
        if heading:
            pdf.set_font("dejavu", "", 10)
pdf.output(out)
print(pdf.page_no())
'''


def last_month(db: Path) -> tuple[dt.date, dt.date]:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        last = dt.date.fromisoformat(conn.execute("SELECT max(local_date) FROM meeting").fetchone()[0])
    end = last.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a COPY of a seeded clinic (it is upgraded)")
    parser.add_argument("--runs", type=int, default=3, help="measured pairs (default 3)")
    parser.add_argument("--baseline", choices=("cell", "multi_cell"), default="cell",
                        help="how the bare script wraps: textwrap + cell (default, the cheapest) or fpdf2's multi_cell")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bytecode import byte_compile_package
    from bench_verify import app_command, ensure_head, timed

    from iop_facilitator.exports.notes_pdf import BUNDLED_FONTS

    byte_compile_package()
    db = args.db.resolve()
    ensure_head(db)
    since, until = last_month(db)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text, pdf, bare = folder / "month.md", folder / "month.pdf", folder / "bare.pdf"
        export = [*app_command(), "--db", str(db), "export", "notes", "--since", since.isoformat(),
                  "--until", until.isoformat(), "--force", "--quiet"]
        subprocess.run([*export, "--format", "md", "--out", str(text)], check=True, stdout=subprocess.DEVNULL)
        script = folder / "bare_fpdf2.py"
        script.write_text(BASELINE, encoding="utf-8")
        app = [*export, "--format", "pdf", "--out", str(pdf)]
        base = [sys.executable, str(script), args.baseline, str(BUNDLED_FONTS / "DejaVuSans.ttf"),
                str(BUNDLED_FONTS / "DejaVuSans-Bold.ttf"), str(text), str(bare)]
        print(f"{since} to {until}; warm-up ...", flush=True)
        timed(app)
        timed(base)
        results: dict[str, list[tuple[float, float]]] = {"app": [], "baseline": []}
        for i in range(args.runs):
            order = [("app", app), ("baseline", base)] if i % 2 == 0 else [("baseline", base), ("app", app)]
            for name, cmd in order:
                results[name].append(timed(cmd))
            print(f"pair {i + 1}: app {results['app'][-1][0]:.1f} s, baseline {results['baseline'][-1][0]:.1f} s",
                  flush=True)
        print(f"pages: app {pages(pdf)}, baseline {pages(bare)}; text {text.stat().st_size / 1e6:.1f} MB")
    for label, index in (("wall", 0), ("CPU", 1)):
        values = {k: statistics.median(v[index] for v in runs) for k, runs in results.items()}
        ratio = values["app"] / values["baseline"]
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(f"{label:4}: export notes --format pdf {values['app']:.2f} s, bare fpdf2 {values['baseline']:.2f} s, "
              f"ratio {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
