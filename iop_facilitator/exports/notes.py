"""The notes export: payer-ready group notes as Markdown, JSON, PDF or a FHIR R4 Bundle.

:func:`export_notes` is the one entry point: the CLI's ``iop export notes`` calls it,
and a TUI action would too. It checks the target before reading anything, resolves
``group``/``member`` (names, chart ids or ids) to ids, reads the meetings in chunks
(``notes_data``), renders them (``notes_md``, ``notes_json``, ``notes_pdf``,
``notes_fhir``) into staged 0600 files and publishes them after the audit entry is
committed (``output.disclosure``, ``record``).

Rules (issue 5): the disclosure notice in every file; one audit entry per run (who,
command, filters as ids and dates, files' hashes, record count; never names, note text
or paths); files 0600 written atomically; no overwrite without ``force``; a
per-member export (``per_member``) writes one file per member holding only their part,
other members as initials, and creates its folder (0700) only once there is something
to write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iop_facilitator.exports import notes_data as nd
from iop_facilitator.exports import output

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.db.engine import Database

COMMAND = "export notes"  # as the audit entry names it
FORMATS = ("md", "json", "pdf", "fhir")
SUFFIX = {"md": ".md", "json": ".json", "pdf": ".pdf", "fhir": ".fhir.json"}

Tick = Callable[[int], None]
# (label, total, unit) -> a context manager giving a function called with the count done.
ProgressFactory = Callable[[str, int, str], AbstractContextManager[Tick]]


@contextlib.contextmanager
def no_progress(_label: str, _total: int, _unit: str) -> Iterator[Tick]:
    yield lambda _done: None


@dataclass(frozen=True)
class NotesResult:
    target: Path  # the file, or the folder of a per-member export
    fmt: str
    per_member: bool
    files: int
    meetings: int
    drafts: int  # unsigned meetings, marked DRAFT / UNSIGNED
    awaiting: int  # signed meetings awaiting a required co-signature


@dataclass
class _Run:
    """What one run counts and writes (the audit entry and the result say it)."""

    fmt: str
    per_member: bool
    filters: nd.Filters
    context: nd.ExportContext
    titles: dict[str, str]
    progress: ProgressFactory
    meetings: int = 0
    drafts: int = 0
    awaiting: int = 0
    people: list[uuid.UUID] = field(default_factory=list)

    def count(self, doc: nd.NoteDocument) -> None:
        self.meetings += 1
        self.drafts += 0 if doc.signed else 1
        self.awaiting += 1 if doc.awaiting_cosign else 0


def export_notes(
    open_database: Callable[[], Database],
    out: Path,
    *,
    fmt: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    group: str | None = None,
    member: str | None = None,
    per_member: bool = False,
    include_unsigned: bool = False,
    force: bool = False,
    progress: ProgressFactory = no_progress,
    recipient: str | None = None,
    purpose: str | None = None,
) -> NotesResult:
    """Export the notes of the meetings matching the filters to ``out`` (a folder with ``per_member``).

    ``open_database()`` is called once the target has been checked (a typo costs
    nothing). Raises ``IopError`` subclasses with one line; nothing is published
    unless everything was written and its audit entry committed.
    """
    if fmt not in FORMATS:
        raise ValueError(fmt)
    if per_member:
        target = output.check_directory(out, force=force, check_only=True)  # created (0700) when writing
    else:
        target = output.check_target(out, force=force)

    from iop_facilitator.clock import utcnow
    from iop_facilitator.services.groups import resolve_group
    from iop_facilitator.services.members import resolve_member
    from iop_facilitator.services.settings import get_settings

    database = open_database()
    with database.session() as session:
        program = get_settings(session)
        group_id = resolve_group(session, group).id if group else None
        member_id = resolve_member(session, member).id if member else None
        filters = nd.Filters(since, until, group_id, member_id, include_unsigned)
        run = _Run(
            fmt=fmt,
            per_member=per_member,
            filters=filters,
            context=nd.ExportContext(
                program_name=program.clinic_name,
                disclosure_notice=output.disclosure_notice(program.disclosure_notice),
                timezone=program.timezone,
                exported_at=utcnow().astimezone(dt.UTC),
                filters=filters.describe(),
            ),
            titles=nd.library_titles(),
            progress=progress,
        )

        def audit(staging: output.Staging) -> None:
            # Committed once every file is completely written and before the first is
            # published (output.disclosure): an exported file always has its audit entry.
            from iop_facilitator.exports.record import record_export

            with database.begin() as audit_session:
                record_export(
                    audit_session, "notes", command=COMMAND, fmt=fmt, records=run.meetings,
                    filters=filters.describe(), staging=staging, recipient=recipient, purpose=purpose,
                    per_member=per_member, members=[str(m) for m in run.people], drafts=run.drafts,
                    awaiting_cosign=run.awaiting,
                )

        def withdrawn(reason: str) -> None:
            from iop_facilitator.exports.record import record_withdrawn

            record_withdrawn(database, COMMAND, reason)

        created = per_member and not Path(target).exists()
        try:
            with output.disclosure(force=force, record=audit, withdrawn=withdrawn) as staging:
                if per_member:
                    _per_member(session, run, target, force, staging)
                else:
                    _single(session, run, target, staging)
        except BaseException:
            if created:  # a folder this run made holds nothing now: take it back too
                with contextlib.suppress(OSError):
                    Path(target).rmdir()
            raise
    return NotesResult(
        target=target, fmt=fmt, per_member=per_member, files=len(staging.files), meetings=run.meetings,
        drafts=run.drafts, awaiting=run.awaiting,
    )


def _write(fmt: str, docs: Any, context: nd.ExportContext, path: Path, staging: output.Staging,
           member_id: uuid.UUID | None = None) -> None:
    """Render ``docs`` into a staged file for ``path`` (0600; published with the others)."""
    member = str(member_id) if member_id is not None else None
    if fmt == "pdf":
        from iop_facilitator.exports import notes_pdf

        data, _count = notes_pdf.render(docs, context)
        with staging.open(path, binary=True, member_id=member) as handle:
            handle.write(data)
        return
    if fmt == "fhir":
        from iop_facilitator.exports import notes_fhir

        pieces = notes_fhir.render_stream(docs, context)
    else:
        from iop_facilitator.exports import notes_json, notes_md

        pieces = (notes_md if fmt == "md" else notes_json).render(docs, context)
    with staging.open(path, member_id=member) as handle:
        for piece in pieces:
            handle.write(piece)


def _single(session: Session, run: _Run, target: Path, staging: output.Staging) -> None:
    """One file: every matching meeting, or one member's copy of theirs (others as initials)."""
    filters, context = run.filters, run.context
    if filters.member_id is not None:
        run.people.append(filters.member_id)
        context = replace(context, subject_member_id=str(filters.member_id))
        total = len(nd.meeting_ids(session, filters))
        docs = nd.iter_member_documents(session, filters, filters.member_id, topic_titles=run.titles)
    else:
        ids = nd.meeting_ids(session, filters)
        total = len(ids)
        docs = nd.iter_documents(session, filters, ids=ids, topic_titles=run.titles)

    def counted(tick: Tick) -> Iterator[nd.NoteDocument]:
        for doc in docs:
            run.count(doc)
            tick(run.meetings)
            yield doc

    with run.progress("Exporting notes", total, "meetings") as tick:
        _write(run.fmt, counted(tick), context, target, staging, filters.member_id)


def member_paths(directory: Path, fmt: str, charts: dict[uuid.UUID, str | None]) -> dict[uuid.UUID, Path]:
    """One file name per member (by chart id, else by id), never two alike, never outside ``directory``."""
    paths: dict[uuid.UUID, Path] = {}
    used: set[str] = set()
    for member_id, chart in charts.items():
        stem = f"notes-{chart}" if chart else f"notes-member-{member_id.hex[:12]}"
        path = output.member_file(directory, stem, SUFFIX[fmt])
        if path.name in used:  # two chart ids that clean to the same name
            path = output.member_file(directory, f"{stem}-{member_id.hex[:8]}", SUFFIX[fmt])
        used.add(path.name)
        paths[member_id] = path
    return paths


def _per_member(session: Session, run: _Run, directory: Path, force: bool, staging: output.Staging) -> None:
    """One file per member with a part in the matching meetings; each meeting counted once."""
    run.people.extend(nd.member_ids(session, run.filters))
    if not run.people:
        return
    charts = nd.chart_ids(session, run.people)
    paths = member_paths(directory, run.fmt, {m: charts.get(m) for m in run.people})
    output.check_directory(directory, force=force, names=[p.name for p in paths.values()])
    seen: set[str] = set()
    names = nd.name_index(session)  # every member the clinic ever had, once for all files

    def distinct(docs: Iterator[nd.NoteDocument]) -> Iterator[nd.NoteDocument]:
        for doc in docs:
            if doc.meeting_id not in seen:
                seen.add(doc.meeting_id)
                run.count(doc)
            yield doc

    with run.progress("Exporting notes per member", len(run.people), "members") as tick:
        for done, member_id in enumerate(run.people, 1):
            docs = nd.iter_member_documents(session, run.filters, member_id, topic_titles=run.titles, names=names)
            mine = replace(run.context, subject_member_id=str(member_id))
            _write(run.fmt, distinct(docs), mine, paths[member_id], staging, member_id)
            tick(done)
