"""``iop export notes``: payer-ready group notes as Markdown, JSON, PDF or a FHIR R4 Bundle.

Registered on the ``iop export`` group by ``cli/export.py``. Only light imports here;
SQLModel, fpdf2 and fhir.resources are imported when the command runs.

Rules (issue 5): the disclosure notice in every file; one audit entry per run (who,
command, filters as ids and dates, file or directory, record count; never names or note
text); files 0600 written atomically; no overwrite without ``--force``; one-line errors,
exit 1; ``cli.progress.LazyProgress`` on stderr once a run passes a second (``--quiet``
hides it) and a one-line summary on stdout.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from iop_facilitator.cli.common import open_db, parse_date, say
from iop_facilitator.cli.export import PURPOSE, RECIPIENT


class NotesFormat(StrEnum):
    md = "md"
    json = "json"
    pdf = "pdf"
    fhir = "fhir"


SUFFIX = {"md": ".md", "json": ".json", "pdf": ".pdf", "fhir": ".fhir.json"}


def notes(
    ctx: typer.Context,
    fmt: Annotated[NotesFormat, typer.Option("--format", "-f", help="md, json, pdf or fhir (a FHIR R4 Bundle).")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The file to write (with --per-member: a directory, created if missing)."),
    ],
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="From this day (program timezone).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Up to this day, inclusive.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group (name or id).")] = None,
    member: Annotated[
        str | None,
        typer.Option("--member", help="Only this member (name, id or chart id); other members appear as initials."),
    ] = None,
    per_member: Annotated[
        bool, typer.Option("--per-member", help="One file per member in the --out directory, holding only their part.")
    ] = False,
    include_unsigned: Annotated[
        bool, typer.Option("--include-unsigned", help="Also export meetings not yet signed, marked DRAFT / UNSIGNED.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    recipient: Annotated[str | None, RECIPIENT] = None,
    purpose: Annotated[str | None, PURPOSE] = None,
) -> None:
    """Export signed group notes (every payer-required element, addenda, disclosure notice)."""
    first, last = parse_date(since, "--since"), parse_date(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until", param_hint="--since")
    from iop_facilitator.exports import output

    # Check the target before reading anything, so a typo costs nothing.
    if per_member:
        target = output.check_directory(out, force=force, check_only=True)  # created (0700) when writing
    else:
        target = output.check_target(out, force=force)

    import datetime as dt

    from iop_facilitator.clock import utcnow
    from iop_facilitator.exports import notes_data as nd
    from iop_facilitator.services.groups import resolve_group
    from iop_facilitator.services.members import resolve_member
    from iop_facilitator.services.settings import get_settings

    database = open_db(ctx)
    with database.session() as session:
        program = get_settings(session)
        group_id = resolve_group(session, group).id if group else None
        member_id = resolve_member(session, member).id if member else None
        filters = nd.Filters(first, last, group_id, member_id, include_unsigned)
        context = nd.ExportContext(
            program_name=program.clinic_name,
            disclosure_notice=output.disclosure_notice(program.disclosure_notice),
            timezone=program.timezone,
            exported_at=utcnow().astimezone(dt.UTC),
            filters=filters.describe(),
        )
        titles = _topic_titles()

        tally = {"meetings": 0, "drafts": 0, "awaiting": 0}
        people: list[Any] = []

        def audit(staging: output.Staging) -> None:
            # Committed once every file is completely written and before the first is
            # published (output.disclosure): an exported file always has its audit entry.
            with database.begin() as audit_session:
                output.record_export(
                    audit_session,
                    "notes",
                    command="export notes",
                    fmt=fmt.value,
                    records=tally["meetings"],
                    filters=filters.describe(),
                    staging=staging,
                    recipient=recipient,
                    purpose=purpose,
                    per_member=per_member,
                    members=[str(m) for m in people],
                    drafts=tally["drafts"],
                    awaiting_cosign=tally["awaiting"],
                )

        def withdrawn(reason: str) -> None:
            with database.begin() as audit_session:
                from iop_facilitator.services import audit as audit_log

                audit_log.record(audit_session, "export.withdrawn", record_type="export", command="export notes", reason=reason)

        created = per_member and not Path(target).exists()
        try:
            with output.disclosure(force=force, record=audit, withdrawn=withdrawn) as staging:
                _run(per_member, session, filters, context, fmt, target, force, quiet, titles, staging, tally, people,
                     member_id)
        except BaseException:
            if created:  # a folder this run made holds nothing now: take it back too
                with contextlib.suppress(OSError):
                    Path(target).rmdir()
            raise
        written = len(staging.files)
        meetings, drafts = tally["meetings"], tally["drafts"]
    draft_text = f", {drafts:,} unsigned marked DRAFT" if drafts else ""
    if tally["awaiting"]:
        draft_text += f", {tally['awaiting']:,} marked AWAITING CO-SIGNATURE"
    if per_member:
        say(
            f"Wrote {written:,} file(s) ({fmt.value}, 0600), one per member, "
            f"{meetings:,} meeting(s){draft_text}, in {target}"
        )
    else:
        say(f"Wrote {meetings:,} meeting(s) of notes ({fmt.value}){draft_text} to {target} (0600)")


def _run(per_member, session, filters, context, fmt, target, force, quiet, titles, staging, tally, people, member_id):
    from iop_facilitator.exports import notes_data as nd

    if per_member:
        people.extend(nd.member_ids(session, filters))
        _per_member(session, filters, context, fmt, target, force, quiet, titles, staging, tally, people)
    else:
        if member_id is not None:
            people.append(member_id)
        _single(session, filters, context, fmt, target, quiet, titles, staging, tally)


def _topic_titles() -> dict[str, str]:
    from iop_facilitator.exports.notes_data import library_titles

    return library_titles()


def _counting(docs: Any, progress: Any, tally: dict[str, int]) -> Any:
    for doc in docs:
        tally["meetings"] += 1
        tally["drafts"] += 0 if doc.signed else 1
        tally["awaiting"] += 1 if doc.awaiting_cosign else 0
        progress(tally["meetings"])
        yield doc


def _distinct(docs: Any, seen: set[str], tally: dict[str, int]) -> Any:
    """Count each meeting once across every member's file."""
    for doc in docs:
        if doc.meeting_id not in seen:
            seen.add(doc.meeting_id)
            tally["meetings"] += 1
            tally["drafts"] += 0 if doc.signed else 1
            tally["awaiting"] += 1 if doc.awaiting_cosign else 0
        yield doc


def _write(fmt: NotesFormat, docs: Any, context: Any, path: Path, staging: Any, member_id: Any = None) -> None:
    """Render ``docs`` into a staged file for ``path`` (0600; published with the others)."""
    member = str(member_id) if member_id is not None else None
    if fmt is NotesFormat.pdf:
        from iop_facilitator.exports import notes_pdf

        data, _count = notes_pdf.render(docs, context)
        with staging.open(path, binary=True, member_id=member) as handle:
            handle.write(data)
        return
    if fmt is NotesFormat.fhir:
        from iop_facilitator.exports import notes_fhir

        pieces = notes_fhir.render_stream(docs, context)
    else:
        from iop_facilitator.exports import notes_json, notes_md

        pieces = (notes_md if fmt is NotesFormat.md else notes_json).render(docs, context)
    with staging.open(path, member_id=member) as handle:
        for piece in pieces:
            handle.write(piece)


def _single(session, filters, context, fmt, target, quiet, titles, staging, tally) -> None:
    from dataclasses import replace

    from iop_facilitator.exports import notes_data as nd

    if filters.member_id is not None:
        # One member's notes: their copy only (other members as initials), like --per-member.
        context = replace(context, subject_member_id=str(filters.member_id))
        total = len(nd.meeting_ids(session, filters))
        docs = nd.iter_member_documents(session, filters, filters.member_id, topic_titles=titles)
    else:
        ids = nd.meeting_ids(session, filters)
        total = len(ids)
        docs = nd.iter_documents(session, filters, ids=ids, topic_titles=titles)
    from iop_facilitator.cli.progress import LazyProgress

    with LazyProgress("Exporting notes", quiet=quiet, total=total, unit="meetings") as progress:
        _write(fmt, _counting(docs, progress, tally), context, target, staging, filters.member_id)


def _per_member(session, filters, context, fmt, directory, force, quiet, titles, staging, tally, people) -> None:
    from dataclasses import replace

    from sqlmodel import col, select

    from iop_facilitator.exports import notes_data as nd
    from iop_facilitator.exports import output
    from iop_facilitator.models import Member

    charts: dict[Any, str | None] = {}
    for start in range(0, len(people), 500):
        batch = people[start : start + 500]
        for mid, chart in session.exec(select(Member.id, Member.external_chart_id).where(col(Member.id).in_(batch))):
            charts[mid] = chart
    paths = {}
    used: set[str] = set()
    for member_id in people:
        chart = charts.get(member_id)
        stem = f"notes-{chart}" if chart else f"notes-member-{member_id.hex[:12]}"
        path = output.member_file(directory, stem, SUFFIX[fmt.value])
        if path.name in used:  # two chart ids that clean to the same name
            path = output.member_file(directory, f"{stem}-{member_id.hex[:8]}", SUFFIX[fmt.value])
        used.add(path.name)
        paths[member_id] = path
    if not people:
        return
    output.check_directory(directory, force=force, names=[p.name for p in paths.values()])
    seen: set[str] = set()
    names = nd.name_index(session)  # every member the clinic ever had, once for all files
    from iop_facilitator.cli.progress import LazyProgress

    with LazyProgress("Exporting notes per member", quiet=quiet, total=len(people), unit="members") as progress:
        for done, member_id in enumerate(people, 1):
            docs = nd.iter_member_documents(session, filters, member_id, topic_titles=titles, names=names)
            mine = replace(context, subject_member_id=str(member_id))
            _write(fmt, _distinct(docs, seen, tally), mine, paths[member_id], staging, member_id)
            progress(done)
