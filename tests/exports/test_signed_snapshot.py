"""Signed means frozen (issue 10): every export of a signed meeting is the signed record.

On SQLite and PostgreSQL: sign, export everything (notes as Markdown, JSON, PDF text,
FHIR; a member's own copy; attendance CSV and JSON on both paths), then change every
editable table a signed record draws on (staff names and credentials, members' names
and chart ids, goal texts, the group's name, type, level of care, audience, modality
and location, the program's timezone and service codes), through the services and
through raw SQL, and export again: byte for byte the same. ``iop db verify`` still
passes (only reference data changed), and ``iop audit --as-of`` can show what each
setting was before.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from iop_facilitator.enums import Audience, GroupType, LevelOfCare, Modality
from iop_facilitator.exports import attendance as att
from iop_facilitator.exports import notes_data as nd
from iop_facilitator.exports import notes_fhir, notes_json, notes_md, notes_pdf
from iop_facilitator.models import RowHistory
from iop_facilitator.services import history, integrity, members, settings, staff
from iop_facilitator.services.groups import update_group
from tests.exports import notes_clinic

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
CONTEXT = nd.ExportContext(
    program_name=notes_clinic.CLINIC,
    disclosure_notice="42 CFR part 2 prohibits unauthorized use or disclosure of these records.",
    timezone=notes_clinic.TZ,
    exported_at=NOW,
)


@pytest.fixture
def clinic(db, prebuilt):
    return prebuilt(db, "notes_clinic", notes_clinic.build)


def pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def every_export(db, clinic, folder: Path) -> dict[str, str | bytes]:
    folder.mkdir()
    out: dict[str, str | bytes] = {}
    with db.session() as s:
        docs = list(nd.iter_documents(s, nd.Filters(), topic_titles={}))
        sam = list(nd.iter_member_documents(s, nd.Filters(), uuid.UUID(clinic.sam), topic_titles={}))
    assert len(docs) == 2  # the signed meetings (the draft is not exported by default)
    out["md"] = notes_md.to_text(docs, CONTEXT)
    out["json"] = "".join(notes_json.render(docs, CONTEXT))
    out["fhir"] = "".join(notes_fhir.render_stream(docs, CONTEXT))
    out["pdf"] = pdf_text(notes_pdf.render(docs, CONTEXT)[0])
    mine = replace(CONTEXT, subject_member_id=clinic.sam)
    out["sam.md"] = notes_md.to_text(sam, mine)
    out["sam.json"] = "".join(notes_json.render(sam, mine))
    for fmt in att.FORMATS:
        for unsigned in (False, True):
            flt = att.AttendanceFilter(include_unsigned=unsigned)
            name = f"attendance-{unsigned}.{fmt}"
            att.export_database(db, folder / name, fmt=fmt, flt=flt, force=False, now=NOW)
            data = (folder / name).read_bytes()
            if db.backend == "sqlite":
                fast = folder / f"fast-{name}"
                assert att.export_sqlite(db.path, fast, fmt=fmt, flt=flt, force=False, now=NOW) is not None
                assert fast.read_bytes() == data  # both paths tell the same record
            if fmt == "json":  # the header describes this export (its program timezone is today's); the rows the record
                out[name + " header"] = {k: v for k, v in json.loads(data).items() if k not in ("rows", "timezone")}
            out[name] = signed_rows(data, fmt) if unsigned or fmt == "json" else data  # drafts are live
    return out


def signed_rows(data: bytes, fmt: str) -> str:
    if fmt == "csv":
        return "".join(line for line in data.decode("utf-8-sig").splitlines(keepends=True) if line.endswith('"yes"\r\n'))
    return json.dumps([row for row in json.loads(data)["rows"] if row["signed"]])


def test_exports_of_signed_meetings_never_change_when_reference_data_does(db, clinic, tmp_path) -> None:
    before = every_export(db, clinic, tmp_path / "before")
    assert "Dana Quinn, LCSW" in before["md"] and "H0015-HQ" in before["attendance-False.csv"].decode("utf-8-sig")

    edits_start = dt.datetime.now(dt.UTC)
    # Through the services: every editable table a signed record draws on.
    with db.begin() as s:
        dana = staff.resolve_staff(s, "Dana Quinn")
        staff.update_staff(s, dana.id, name="Henry Birchbrook", credentials="MD")
        staff.update_staff(s, staff.resolve_staff(s, "Lee Park").id, name="Lee Parkinson", credentials="LPC")
        staff.update_staff(s, staff.resolve_staff(s, "Riley Chen").id, credentials="LCSW", requires_cosign=False)
        for ref, new_name, chart in (("Sam K.", "Samuel K.", "MRN-9999"), ("Jordan M.", "Jordy M.", "")):
            person = members.resolve_member(s, ref)
            members.update_member(s, person.id, display_name=new_name, external_chart_id=chart)
            members.set_goals(s, person, ["A rewritten goal", "Another new goal"])
        from iop_facilitator.services.groups import resolve_group

        group = resolve_group(s, "Evening IOP")
        update_group(
            s, group.id, name="Renamed group", group_type=GroupType.process, level_of_care=LevelOfCare.OP,
            audience=Audience.adolescent, modality=Modality.telehealth, location="Somewhere else",
        )
        settings.update_settings(
            s, timezone="Asia/Tokyo",
            service_codes={"group_psychotherapy": "99999", "sud_iop_per_diem": "X0000", "group_modifier": "ZZ"},
        )
    # And through raw SQL, as a PostgreSQL client or a careless script would.
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE staff SET name = 'Raw Name', credentials = 'RAW'"))
        conn.execute(sa.text("UPDATE member SET display_name = 'Raw M.'"))
        conn.execute(sa.text("UPDATE goal SET text = 'raw goal text'"))
        conn.execute(sa.text("UPDATE therapy_group SET level_of_care = 'PHP', name = 'Raw group'"))
        conn.execute(sa.text("UPDATE program_settings SET timezone = 'Europe/Berlin'"))

    after = every_export(db, clinic, tmp_path / "after")
    for key in before:
        assert after[key] == before[key], f"{key} changed after reference data was edited"
    report = integrity.verify_database(db)
    assert report.ok, report.lines()  # only reference data changed: nothing signed did

    # What each setting was on a given moment stays answerable (row history, written by triggers).
    with db.session() as s:
        assert {r.values["name"] for r in history.as_of(s, "staff", dt.datetime.now(dt.UTC))} == {"Raw Name"}
        assert s.exec(select(func.count()).select_from(RowHistory).where(RowHistory.changed_at > edits_start)).one() > 5
        early = history.as_of(s, "staff", edits_start)
        groups_then = history.as_of(s, "group", edits_start)
        program_then = history.as_of(s, "settings", edits_start)
    assert {r.values["name"] for r in early} == {"Dana Quinn", "Lee Park", "Riley Chen"}
    assert {r.values["credentials"] for r in early} == {"LCSW", "CADC", "MHT (intern)"}
    assert {r.values["level_of_care"] for r in groups_then} == {"IOP"}
    assert [r.values["timezone"] for r in program_then] == [notes_clinic.TZ]


def test_a_meeting_awaiting_cosignature_is_marked_everywhere_and_not_billed(db, clinic, tmp_path) -> None:
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.services import live, notes
    from iop_facilitator.services.groups import resolve_group

    # An intern leads and signs a meeting; the supervisor has not co-signed yet.
    with db.begin() as s:
        tele = resolve_group(s, "Tele IOP")
        riley = staff.resolve_staff(s, "Riley Chen")
        day = dt.date(2026, 11, 12)
        meeting = live.start_meeting(s, tele, day, now=notes_clinic.at(day, 10, 0))
        meeting.facilitator_id = riley.id
        zoe = members.resolve_member(s, "Zo\u00eb W.")
        from iop_facilitator.enums import AttendanceStatus
        from iop_facilitator.library.load import load_library

        live.mark(s, meeting.id, zoe.id, AttendanceStatus.present, at=notes_clinic.at(day, 10, 0))
        for person in members.roster(s, tele, day):
            if person.id != zoe.id:
                live.mark(s, meeting.id, person.id, AttendanceStatus.absent_excused, at=notes_clinic.at(day, 10, 0))
        live.choose_topic(s, meeting.id, load_library().get("coping-with-triggers"))
        live.set_narrative(s, meeting.id, "Short telehealth group.")
        live.finish_meeting(s, meeting.id, at=notes_clinic.at(day, 13, 0))
        notes.save_note(s, meeting.id, zoe.id, goal_ids=[str(g.id) for g in members.goals_of(s, zoe)][:1],
                        intervention="Check-in and skills review.", response="Zo\u00eb practised a skill.",
                        plan="Continue IOP.")
        s.flush()
        notes.sign(s, meeting.id, riley.id, at=notes_clinic.at(day, 14, 0))
        mid = str(meeting.id)
    with db.session() as s:
        docs = {d.meeting_id: d for d in nd.iter_documents(s, nd.Filters(include_unsigned=True), topic_titles={})}
    doc = docs[mid]
    assert doc.signed and doc.awaiting_cosign and doc.signature_state == "awaiting co-signature"
    assert "AWAITING CO-SIGNATURE" in notes_md.to_text([doc], CONTEXT)
    assert '"signature_state": "awaiting co-signature"' in "".join(notes_json.render([doc], CONTEXT))
    assert "AWAITING CO-SIGNATURE" in pdf_text(notes_pdf.render([doc], CONTEXT)[0])
    fhir = "".join(notes_fhir.render_stream([doc], CONTEXT))
    assert '"docStatus": "preliminary"' in fhir and "AWAITING CO-SIGNATURE" in fhir
    # Billing: not exported as signed; with --include-unsigned, marked.
    for how in ("general", "fast") if db.backend == "sqlite" else ("general",):
        signed_only, everything = tmp_path / f"{how}-signed.csv", tmp_path / f"{how}-all.csv"
        for path, unsigned in ((signed_only, False), (everything, True)):
            flt = att.AttendanceFilter(include_unsigned=unsigned)
            if how == "fast":
                att.export_sqlite(db.path, path, fmt="csv", flt=flt, force=False, now=NOW)
            else:
                att.export_database(db, path, fmt="csv", flt=flt, force=False, now=NOW)
        assert "2026-11-12" not in signed_only.read_text(encoding="utf-8-sig")
        rows = [r for r in everything.read_text(encoding="utf-8-sig").splitlines() if r.startswith('"2026-11-12"')]
        assert rows and all(r.endswith('"awaiting co-signature"') for r in rows)
    with db.session() as s:
        assert s.get(GroupMeeting, uuid.UUID(mid)).cosigned_at is None


def test_every_format_tells_the_same_record(db, clinic) -> None:
    """One rule: each format shows every in-session note and safety event the signing hash covers."""
    with db.session() as s:
        docs = list(nd.iter_documents(s, nd.Filters(), topic_titles={}))
        content = {d.meeting_id: integrity.canonical_meeting(s, uuid.UUID(d.meeting_id)).decode() for d in docs}
    stories = [st.text for d in docs for m in d.members for st in m.stories]
    concerns = [e.concern for d in docs for m in d.members for e in m.safety_events] + [
        e.concern for d in docs for e in d.safety_events
    ]
    assert stories and concerns
    for text in stories + concerns:
        assert any(text in c for c in content.values())  # covered by the hash ...
    rendered = {
        "md": notes_md.to_text(docs, CONTEXT),
        "json": "".join(notes_json.render(docs, CONTEXT)),
        "pdf": " ".join(pdf_text(notes_pdf.render(docs, CONTEXT)[0]).split()),
    }
    for fmt, text in rendered.items():
        for needle in stories + concerns:
            assert " ".join(needle.split()) in text, (fmt, needle)
    # FHIR carries each member's own copy (other members as initials): its own stories and events, all of them.
    for d in docs:
        for m in d.members:
            view = nd.member_view(d, m.member_id)
            text = notes_md.meeting(view)
            for needle in [st.text for st in view.members[0].stories] + [e.concern for e in view.members[0].safety_events]:
                assert needle in text


def test_the_app_shows_a_signed_meeting_as_it_was_signed(db, clinic) -> None:
    from iop_facilitator.services import live_read
    from iop_facilitator.services.groups import resolve_group

    with db.begin() as s:
        staff.update_staff(s, staff.resolve_staff(s, "Dana Quinn").id, name="Henry Birchbrook", credentials="MD")
        sam = members.resolve_member(s, "Sam K.")
        members.update_member(s, sam.id, display_name="Samuel K.")
        members.set_goals(s, sam, ["A goal written later"])
        update_group(s, resolve_group(s, "Evening IOP").id, name="Renamed", level_of_care=LevelOfCare.OP)
        settings.update_settings(s, timezone="Asia/Tokyo")
    with db.session() as s:
        view = live_read.load_snapshot(s, uuid.UUID(clinic.signed))
    assert (view.facilitator, view.facilitator_credentials, view.signer) == ("Dana Quinn", "LCSW", "Dana Quinn")
    assert (view.group_name, view.level_of_care, view.timezone) == ("Evening IOP", "IOP", notes_clinic.TZ)
    line = next(m for m in view.members if m.member_id == sam.id)
    assert line.display_name == "Sam K." and [g.text for g in line.goals] == ["Use a coping skill when cravings hit"]


def test_stored_escape_sequences_never_reach_an_export(db, clinic, tmp_path) -> None:
    """Text that bypassed input cleaning (raw SQL, another client, a restored backup) is cleaned on output."""
    evil = "\x1b]0;owned\x07\x1b[31mRed\x1b[0m" + ("\x00" if db.backend == "sqlite" else "")  # PostgreSQL refuses NUL
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE member SET display_name = :v WHERE external_chart_id = 'MRN-4004'"), {"v": "Ana" + evil})
        conn.execute(
            sa.text("UPDATE meeting SET group_narrative = :v WHERE id = :mid").bindparams(sa.bindparam("mid", type_=sa.Uuid())),
            {"v": "Narrative " + evil, "mid": uuid.UUID(clinic.draft)},
        )
        conn.execute(sa.text("UPDATE therapy_group SET name = :v WHERE name = 'Evening IOP'"), {"v": "Evening" + evil})
    with db.session() as s:
        docs = list(nd.iter_documents(s, nd.Filters(include_unsigned=True), topic_titles={}))
    texts = [notes_md.to_text(docs, CONTEXT), "".join(notes_json.render(docs, CONTEXT)),
             "".join(notes_fhir.render_stream(docs, CONTEXT))]
    flt = att.AttendanceFilter(include_unsigned=True)
    for fmt in att.FORMATS:
        att.export_database(db, tmp_path / f"a.{fmt}", fmt=fmt, flt=flt, force=False, now=NOW)
        texts.append((tmp_path / f"a.{fmt}").read_text(encoding="utf-8-sig"))
        if db.backend == "sqlite":
            att.export_sqlite(db.path, tmp_path / f"fast.{fmt}", fmt=fmt, flt=flt, force=False, now=NOW)
            texts.append((tmp_path / f"fast.{fmt}").read_text(encoding="utf-8-sig"))
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text and "\\u001b" not in text
    assert "AnaRed" in texts[0] and "Narrative" in texts[0]
