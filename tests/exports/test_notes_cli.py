"""``iop export notes`` end to end (CliRunner), on SQLite and PostgreSQL (``db_target``).

Files 0600, the notice in every format, no overwrite without --force, one-line errors,
the audit entry (ids and dates, never names), --per-member copies that never name
another member, and unsigned meetings excluded unless asked (then marked as drafts).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.cli.app import app
from tests.exports import notes_clinic

runner = CliRunner()

NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
NAMES = {"jordan": "Jordan", "sam": "Sam", "zoe": "Zo\u00eb", "ana": "Ana"}


def iop(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def clinic(db_target: str, prebuilt):
    from iop_facilitator.db.engine import open_database

    database = open_database(db_target, create=True)
    try:
        built = prebuilt(database, "notes_clinic", notes_clinic.build)
    finally:
        database.dispose()
    return db_target, built


def export(target: str, *args: str):
    return iop("--db", target, "export", "notes", *args)


def one_line_error(result, match: str) -> None:
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert err.startswith("iop: error: ") and "\n" not in err and match in err, err
    assert "Traceback" not in result.output


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def read_any(path: Path) -> str:
    """Everything a reader of the file could see, as text (PDF text, FHIR attachments decoded)."""
    if path.suffix == ".pdf":
        return pdf_text(path)
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".fhir.json"):
        data = json.loads(text)
        for entry in data["entry"]:
            for content in entry["resource"].get("content", []):
                text += base64.b64decode(content["attachment"]["data"]).decode("utf-8")
    return text


def audit_entries(target: str) -> list[tuple[str, dict]]:
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import AuditEvent

    database = open_database(target)
    try:
        with database.session() as s:
            return [(e.actor, e.details) for e in s.exec(select(AuditEvent).where(AuditEvent.action == "export.notes"))]
    finally:
        database.dispose()


@pytest.mark.parametrize("fmt,name", [("md", "n.md"), ("json", "n.json"), ("pdf", "n.pdf"), ("fhir", "n.fhir.json")])
def test_every_format_is_private_carries_the_notice_and_is_audited(clinic, tmp_path, fmt, name) -> None:
    target, _ = clinic
    out = tmp_path / name
    result = export(target, "--format", fmt, "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Wrote 2 meeting(s) of notes ({fmt}) to {out} (0600)"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = read_any(out)
    assert NOTICE in text
    assert "Dana Quinn" in text and "DRAFT" not in text  # signed meetings only by default
    (actor, details), = audit_entries(target)
    assert actor == "test-runner"
    assert details["format"] == fmt and details["records"] == 2 and details["status"] == "published"
    # The file is named by its content's SHA-256 (and a hash of its name), never by its path.
    assert details["files"] == [{
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "bytes": out.stat().st_size,
        "name_sha256": hashlib.sha256(out.name.encode()).hexdigest(),
    }]
    assert str(tmp_path) not in json.dumps(details)
    assert details["command"] == "export notes"
    blob = json.dumps(details)
    assert not any(n in blob for n in ("Jordan", "Sam K", "Dana", "Riverside"))


def test_unsigned_meetings_only_with_the_flag_and_marked(clinic, tmp_path) -> None:
    target, c = clinic
    out = tmp_path / "all.md"
    result = export(target, "--format", "md", "--out", str(out), "--include-unsigned")
    assert result.exit_code == 0, result.output
    assert "1 unsigned marked DRAFT" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert "## 2026-11-04 \u00b7 Evening IOP \u2014 DRAFT / UNSIGNED" in text
    assert c.draft in text
    pdf = tmp_path / "all.pdf"
    assert export(target, "--format", "pdf", "--out", str(pdf), "--include-unsigned").exit_code == 0
    assert "DRAFT / UNSIGNED" in pdf_text(pdf)
    details = audit_entries(target)[0][1]
    assert details["filters"] == {"include_unsigned": True} and details["drafts"] == 1


def test_filters_reach_the_export_and_the_audit_as_ids(clinic, tmp_path) -> None:
    target, c = clinic
    out = tmp_path / "tele.json"
    result = export(target, "--format", "json", "--out", str(out), "--group", "Tele IOP", "--since", "2026-11-01",
                    "--until", "2026-11-30")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["meeting_id"] for r in data["records"]] == [c.telehealth]
    assert data["filters"]["group"] == c.tele_group
    details = audit_entries(target)[0][1]
    assert details["filters"] == {"since": "2026-11-01", "until": "2026-11-30", "group": c.tele_group}


def test_no_overwrite_without_force_and_clear_errors(clinic, tmp_path) -> None:
    target, _ = clinic
    out = tmp_path / "n.md"
    out.write_text("keep me", encoding="utf-8")
    one_line_error(export(target, "--format", "md", "--out", str(out)), "file exists")
    assert out.read_text(encoding="utf-8") == "keep me"
    assert export(target, "--format", "md", "--out", str(out), "--force").exit_code == 0
    assert NOTICE in out.read_text(encoding="utf-8") and stat.S_IMODE(out.stat().st_mode) == 0o600
    one_line_error(export(target, "--format", "md", "--out", str(tmp_path / "missing" / "n.md")), "does not exist")
    one_line_error(export(target, "--format", "md", "--out", str(tmp_path)), "directory")
    bad_range = export(target, "--format", "md", "--out", str(tmp_path / "x.md"), "--since", "2026-12-01", "--until", "2026-11-01")
    assert bad_range.exit_code == 2 and "--since is after --until" in bad_range.stderr
    one_line_error(export(target, "--format", "md", "--out", str(tmp_path / "y.md"), "--member", "Nobody Z."), "")
    assert not (tmp_path / "x.md").exists() and not (tmp_path / "y.md").exists()
    # A per-member folder is made only once there is something to write into it.
    folder = tmp_path / "charts"
    one_line_error(export(target, "--format", "md", "--out", str(folder), "--per-member", "--member", "Nobody Z."), "")
    assert not folder.exists()
    assert len(audit_entries(target)) == 1  # only the successful --force run


@pytest.mark.parametrize("fmt", ["md", "json", "pdf", "fhir"])
def test_per_member_files_never_name_another_member(clinic, tmp_path, fmt) -> None:
    target, c = clinic
    folder = tmp_path / "charts"
    result = export(target, "--format", fmt, "--out", str(folder), "--per-member", "--include-unsigned", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Wrote 4 file(s)" in result.stdout and "one per member, 3 meeting(s)" in result.stdout
    suffix = {"md": ".md", "json": ".json", "pdf": ".pdf", "fhir": ".fhir.json"}[fmt]
    files = {p.name: p for p in folder.iterdir()}
    assert sorted(files) == [f"notes-MRN-{n}{suffix}" for n in ("1042", "2001", "3003", "4004")]
    owners = {"1042": "jordan", "2001": "sam", "3003": "zoe", "4004": "ana"}
    for name, path in files.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        owner = owners[name.split("-")[2].split(".")[0]]
        text = read_any(path)
        assert NOTICE in text
        for key, first_name in NAMES.items():
            if key == owner:
                continue
            assert first_name not in text, f"{first_name} leaked into {name}"
    sam = read_any(files[f"notes-MRN-2001{suffix}"])
    assert "J.M." in sam  # Jordan appears only as initials
    assert "Sam practiced urge surfing" in sam
    details = audit_entries(target)[0][1]
    assert details["per_member"] is True and len(details["files"]) == 4 and sorted(details["members"]) == sorted(
        [c.jordan, c.sam, c.zoe, c.ana]
    )
    # Again without --force: refused before anything is replaced.
    one_line_error(export(target, "--format", fmt, "--out", str(folder), "--per-member", "--include-unsigned"), "file exists")


def test_member_option_exports_only_that_members_copy(clinic, tmp_path) -> None:
    target, _ = clinic
    out = tmp_path / "zoe.md"
    result = export(target, "--format", "md", "--out", str(out), "--member", "MRN-3003")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "group notes for Zo\u00eb W., chart MRN-3003" in text
    assert "Jordan" not in text and "J.M." in text


@pytest.mark.parametrize("fmt", ["pdf", "md"])
def test_an_export_stopped_halfway_leaves_nothing(clinic, tmp_path, fmt) -> None:
    """Ctrl+C (or a kill) while meetings are being written: no file, no staged part, no audit entry."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.exports.notes import export_notes

    target, _built = clinic
    out = tmp_path / "out" / f"notes.{fmt}"
    out.parent.mkdir()

    @contextlib.contextmanager
    def stop_after_one(_label: str, _total: int, _unit: str):
        def tick(done: int) -> None:
            if done >= 2:
                raise KeyboardInterrupt

        yield tick

    opened = []

    def database():
        opened.append(open_database(target))
        return opened[-1]

    try:
        with pytest.raises(KeyboardInterrupt):
            export_notes(database, out, fmt=fmt, progress=stop_after_one)
    finally:
        for d in opened:
            d.dispose()
    assert list(out.parent.iterdir()) == []
    assert audit_entries(target) == []
