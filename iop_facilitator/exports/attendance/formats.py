"""The attendance export's files: the values of a row, CSV cells and lines, the JSON document.

Both read paths end here or match it: the SQLAlchemy path formats every row with
:func:`row_values` and :func:`csv_line` / :func:`json_row`; the SQLite fast path
builds the same CSV cells in SQL (``query.csv_sql``, from :func:`csv_cell`'s rules),
and the golden-file tests hold both to the same bytes.

CSV: UTF-8 with a byte-order mark (so Excel reads names with accents correctly), CRLF
line ends (RFC 4180), every text cell quoted, numbers and empty values bare, text
cells neutralised against formula injection (``exports.output.neutralize_cell``).
Row 1 is the disclosure notice (``exports.output.csv_notice_row``), row 2 the header.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from iop_facilitator.audit_chain import jsonable
from iop_facilitator.enums import ATTENDED
from iop_facilitator.exports.output import csv_notice_row, disclosure_notice, neutralize_cell
from iop_facilitator.services.billing import billed_code
from iop_facilitator.services.text import clean_stored
from iop_facilitator.timefmt import Clocks

COLUMNS: tuple[str, ...] = (
    "date",
    "group",
    "member",
    "chart_id",
    "status",
    "arrived",
    "left",
    "minutes",
    "modality",
    "service_codes",
    "facilitator",
    "credentials",
    "signed",
)
COMMAND = "iop export attendance"  # as the audit entry names it
FORMATS = ("csv", "json")
SIGNED_TEXT = {"yes": "yes", "no": "no", "awaiting_cosign": "awaiting co-signature"}
CHUNK = 2000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Program:
    """The settings an export needs."""

    clinic_name: str
    timezone: str
    notice: str
    codes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, clinic_name: Any, timezone: Any, notice: Any, codes: Any) -> Program:
        if isinstance(codes, (str, bytes)):
            codes = json.loads(codes or "{}")
        return cls(
            clinic_name=str(clinic_name or ""),
            timezone=str(timezone or "UTC"),
            notice=disclosure_notice(notice),
            codes={str(k): str(v) for k, v in (codes or {}).items()},
        )


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    fmt: str
    fast: bool  # the SQLite fast path was used



def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)



def _clean(value: Any) -> str:
    """Stored text as written to a file (``services.text.clean_stored``)."""
    return clean_stored(_text(value))


def row_values(raw: tuple[Any, ...], clocks: Clocks, codes: Mapping[tuple[str, str], str]) -> tuple[Any, ...]:
    """One query row (``query.raw_columns``) as the export's values, in :data:`COLUMNS` order."""
    (local_date, group, member, chart, status, arrived, left, minutes, modality, level, fac, cred, state,
     frozen_code, timezone) = raw
    status, modality, level = _text(status), _text(modality), _text(level)
    code = billed_code(
        codes, attended=status in ATTENDED, level_of_care=level, modality=modality,
        frozen=None if frozen_code is None else _text(frozen_code),
    )
    clock = clocks(_text(timezone) or None)
    return (
        _text(local_date)[:10],
        _clean(group),
        _clean(member),
        _clean(chart),
        status,
        clock.hhmm(arrived),
        clock.hhmm(left),
        int(minutes or 0),
        modality,
        _clean(code),
        _clean(fac),
        _clean(cred),
        SIGNED_TEXT.get(_text(state), "no"),
    )


def csv_cell(value: Any) -> str:
    """Empty and ``None`` bare, integers bare, every other value a quoted, neutralised text cell."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return '"' + neutralize_cell(str(value)).replace('"', '""') + '"'


def csv_line(values: Iterable[Any]) -> str:
    return ",".join(csv_cell(v) for v in values) + "\r\n"


def json_row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    row["service_codes"] = row["service_codes"].split() if row["service_codes"] else []
    row["awaiting_cosign"] = row["signed"] == SIGNED_TEXT["awaiting_cosign"]
    row["signed"] = row["signed"] == "yes"
    for key in ("chart_id", "arrived", "left", "facilitator"):
        row[key] = row[key] or None
    return row


# --------------------------------------------------------------------------- writers

BOM = "\ufeff"


def csv_head(program: Program) -> str:
    """A byte-order mark, the notice row and the header row."""
    return BOM + csv_line(csv_notice_row(program.notice, len(COLUMNS))) + csv_line(COLUMNS)


def write_csv(
    fh: IO[str], program: Program, lines: Iterator[str], progress: Progress | None = None, *, header: bool = True
) -> int:
    """The notice row, the header, then ``lines`` (each ending in CRLF). Returns the row count."""
    if header:
        fh.write(csv_head(program))
    count = 0
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK:
            fh.write("".join(batch))
            count += len(batch)
            batch.clear()
            if progress is not None:
                progress(count)
    if batch:
        fh.write("".join(batch))
        count += len(batch)
    if progress is not None:
        progress(count)
    return count


def write_json(
    fh: IO[str],
    program: Program,
    flt: Any,  # query.AttendanceFilter
    rows: Iterator[tuple[Any, ...]],
    now: dt.datetime,
    progress: Progress | None = None,
) -> int:
    """A JSON object: notice, program, timezone, filters, ``rows`` (streamed) and ``count``."""
    filters = {k: v for k, v in jsonable(flt.audit()).items() if v not in (None, "", False)}
    head = {
        "disclosure_notice": program.notice,
        "export": "attendance",
        "program": program.clinic_name,
        "generated_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": program.timezone,
        "filters": filters,
        "columns": list(COLUMNS),
    }
    text = json.dumps(head, indent=2, ensure_ascii=False)
    fh.write(text[: text.rindex("}")].rstrip() + ',\n  "rows": [')
    count = 0
    for values in rows:
        fh.write(("\n    " if count == 0 else ",\n    ") + json.dumps(json_row(values), ensure_ascii=False))
        count += 1
        if progress is not None and count % CHUNK == 0:
            progress(count)
    fh.write(("\n  " if count else "") + f'],\n  "count": {count}\n}}\n')
    if progress is not None:
        progress(count)
    return count


def utcnow_or(now: dt.datetime | None) -> dt.datetime:
    from iop_facilitator.clock import utcnow

    return now if now is not None else utcnow()
