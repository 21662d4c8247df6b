"""Notes export renderers: golden files (Markdown, JSON, FHIR), PDF text, FHIR R4B validation.

Golden files live in tests/exports/golden/notes/. Ids (random UUIDs) and signing content
hashes are replaced by placeholders in order of first appearance, so the same clinic
gives the same text on SQLite and PostgreSQL. To regenerate them after an intended change:

    IOP_REGEN_GOLDEN=1 python -m pytest -q tests/exports/test_notes_formats.py

then review the diff of tests/exports/golden/notes/ before committing.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
import io
import json
import os
import re
import uuid
from pathlib import Path

import pytest

from iop_facilitator.exports import notes_data as nd
from iop_facilitator.exports import notes_fhir, notes_json, notes_md, notes_pdf
from tests.exports import notes_clinic

GOLDEN = Path(__file__).parent / "golden" / "notes"
REGEN = os.environ.get("IOP_REGEN_GOLDEN", "").strip() not in ("", "0")
NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
CONTEXT = nd.ExportContext(
    program_name=notes_clinic.CLINIC,
    disclosure_notice=NOTICE,
    timezone=notes_clinic.TZ,
    exported_at=dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC),
    filters={"include_unsigned": True},
)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HASH_LINE = re.compile(r"(Content hash at signing \(sha256\): `?)[0-9a-f]{64}")


def normalise(text: str) -> str:
    seen: dict[str, str] = {}
    text = UUID_RE.sub(lambda m: seen.setdefault(m.group(0), f"<id-{len(seen) + 1}>"), text)
    return HASH_LINE.sub(r"\1<content-hash>", text)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with IOP_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (IOP_REGEN_GOLDEN=1 to accept)"


@pytest.fixture
def clinic(db, prebuilt):
    return prebuilt(db, "notes_clinic", notes_clinic.build)


@pytest.fixture
def documents(db, clinic):
    with db.session() as s:
        return list(nd.iter_documents(s, nd.Filters(include_unsigned=True)))


@pytest.fixture
def sam_documents(db, clinic):
    with db.session() as s:
        return list(nd.iter_member_documents(s, nd.Filters(include_unsigned=True), uuid.UUID(clinic.sam)))


def for_sam(sam_documents) -> nd.ExportContext:
    return dataclasses.replace(CONTEXT, subject_member_id=sam_documents[0].subject_member_id)


def json_for_golden(text: str) -> str:
    data = json.loads(text)
    for record in data["records"]:
        if record["content_hash"]:
            record["content_hash"] = "<content-hash>"
    return normalise(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fhir_for_golden(data: dict) -> str:
    data = copy.deepcopy(data)
    for entry in data["entry"]:
        for content in entry["resource"].get("content", []):
            attachment = content["attachment"]
            attachment["data"] = "<base64 of>\n" + base64.b64decode(attachment.pop("data")).decode("utf-8")
    return normalise(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- golden files


def test_markdown_golden(documents, sam_documents) -> None:
    check_golden("notes.md", normalise(notes_md.to_text(documents, CONTEXT)))
    check_golden("notes-sam.md", normalise(notes_md.to_text(sam_documents, for_sam(sam_documents))))


def test_json_golden_and_schema(documents, sam_documents) -> None:
    text = notes_json.to_text(documents, CONTEXT)
    data = json.loads(text)
    assert list(data)[:4] == ["schema_version", "kind", "program", "disclosure_notice"]
    assert data["schema_version"] == notes_json.SCHEMA_VERSION and data["disclosure_notice"] == NOTICE
    assert data["exported_at"] == "2026-11-27T15:00:00Z" and data["record_count"] == 3
    assert [r["draft"] for r in data["records"]] == [False, True, False]
    check_golden("notes.json", json_for_golden(text))
    check_golden("notes-sam.json", json_for_golden(notes_json.to_text(sam_documents, for_sam(sam_documents))))


def test_empty_exports_still_carry_the_notice() -> None:
    assert json.loads(notes_json.to_text([], CONTEXT))["records"] == []
    assert NOTICE in notes_md.to_text([], CONTEXT)
    data, count = notes_fhir.bundle([], CONTEXT)
    notes_fhir.validate(data)
    assert count == 0 and data["meta"]["tag"][0]["display"] == NOTICE


def test_fhir_golden(documents) -> None:
    data, count = notes_fhir.bundle(documents, CONTEXT)
    assert count == 3
    check_golden("notes.fhir.json", fhir_for_golden(data))


# --------------------------------------------------------------------------- Markdown details


def test_markdown_marks_drafts_and_keeps_user_text_plain(documents) -> None:
    text = notes_md.to_text(documents, CONTEXT)
    sections = text.split("\n## ")[1:]
    assert [("DRAFT / UNSIGNED" in s) for s in sections] == [False, True, False]
    assert text.count(NOTICE) == 2  # top and bottom
    assert notes_md.text_block("# not a heading\n<b>x</b> 1. y\n2. z") == "\\# not a heading\\\n&lt;b>x&lt;/b> 1. y\\\n2\\. z"
    assert notes_md.cell("a|b\nc") == "a\\|b c"


# --------------------------------------------------------------------------- PDF


def pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_pdf_text_has_every_key_element(documents) -> None:
    data, count = notes_pdf.render(documents, CONTEXT)
    assert count == 3 and data.startswith(b"%PDF")
    pages = pdf_pages(data)
    assert all(NOTICE in p for p in pages), "the notice is on every page"
    assert all(notes_clinic.CLINIC in p for p in pages), "the program name is on every page"
    text = "\n".join(pages)
    for expected in (
        "Evening IOP, 2026-11-02",
        "Start-stop: 18:00\u201321:00 (180 min)",
        "Coping with Potential Triggers (coping-with-triggers v1.0)",
        "Members present: 2",
        "Facilitator: Dana Quinn, LCSW",
        "Co-facilitator: Lee Park, CADC",
        "G \u00b7 Goal: 1. Use a coping skill when cravings hit",
        "Signed electronically by Dana Quinn, LCSW on 2026-11-02 21:30",
        "Co-signed by Dana Quinn, LCSW on 2026-11-05 15:00",
        "Sam called his sponsor after group",
        "Reason: Late entry: sponsor call",
        "Modality: telehealth, Video room",
        # Unicode survives: em dash, curly quotes, Cyrillic; the emoji is a visible placeholder.
        "check-in \u2014 members named one \u201ctrigger\u201d each",
        "\u201c\u0421\u043f\u0430\u0441\u0438\u0431\u043e\u201d",
        "[U+1F642]",
    ):
        assert expected in text, expected
    draft_pages = [p for p in pages if "2026-11-04" in p]
    assert draft_pages and all("DRAFT / UNSIGNED" in p for p in draft_pages)
    assert not any("DRAFT" in p for p in pages if "2026-11-02" in p.split("\n")[1])
    assert "shown as [U+XXXX]" in pages[-1]


def test_pdf_without_any_unicode_font_still_writes_everything(documents) -> None:
    data, _ = notes_pdf.render(documents, CONTEXT, fonts=None)
    text = "\n".join(pdf_pages(data))
    assert "[U+2014]" in text and "[U+201C]trigger[U+201D]" in text
    assert "Dana Quinn, LCSW" in text


def test_font_lookup_prefers_the_bundled_font_then_system_fonts(tmp_path) -> None:
    bundled = notes_pdf.find_fonts(system={})
    assert bundled is not None and bundled.source == "bundled" and bundled.regular.is_file()
    assert (notes_pdf.BUNDLED_FONTS / "LICENSE-DejaVu.txt").is_file()
    fake = tmp_path / "LiberationSans-Regular.ttf"
    fake.write_bytes(b"")
    system = notes_pdf.find_fonts(use_bundled=False, system={"LiberationSans-Regular.ttf": fake})
    assert system is not None and system.source == "system" and system.regular == fake
    assert notes_pdf.find_fonts(use_bundled=False, system={}) is None


# --------------------------------------------------------------------------- FHIR


def resources(data: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def test_fhir_bundle_validates_with_r4b_and_has_the_resources(documents, clinic) -> None:
    data, _ = notes_fhir.bundle(documents, CONTEXT)
    bundle = notes_fhir.validate(data)  # fhir.resources.R4B: raises if invalid
    assert type(bundle).__module__.startswith("fhir.resources.R4B")
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in data["entry"])
    groups = {g["name"]: g for g in resources(data, "Group")}
    assert sorted(groups) == ["Evening IOP", "Tele IOP"]
    assert {m["entity"]["display"] for m in groups["Evening IOP"]["member"]} == {"Ana R.", "Jordan M.", "Sam K."}
    encounters = resources(data, "Encounter")
    assert len(encounters) == 8  # one per member per meeting (3 + 3 + 2)
    assert all(isinstance(e["class"], dict) for e in encounters), "R4: class is one Coding"
    tele = [e for e in encounters if e["class"]["code"] == "VR"]
    assert len(tele) == 2 and all(e["status"] == "finished" for e in tele)
    assert {e["status"] for e in encounters} == {"finished", "cancelled"}
    first = next(e for e in encounters if e["status"] == "finished")
    assert first["participant"][0]["type"][0]["coding"][0]["code"] == "PPRF"
    assert first["serviceType"]["text"] and first["period"]["start"] and first["length"]["unit"] == "min"
    codes = sorted(o["code"]["coding"][0]["code"] for o in resources(data, "Observation"))
    assert codes == ["checkin-mood"] * 3 + ["checkin-urge"] * 3 + ["checkout-rating"]
    notes = resources(data, "DocumentReference")
    assert len(notes) == 6  # one per attending member per meeting
    labels = {(c["system"].rsplit("/", 1)[-1], c["code"]) for n in notes for s in n["securityLabel"] for c in s["coding"]}
    assert {("v3-Confidentiality", "R"), ("v3-ActCode", "42CFRPart2")} <= labels
    assert sorted(n["docStatus"] for n in notes) == ["amended", "amended", "final", "final", "preliminary", "preliminary"]
    assert all(n["description"].startswith("DRAFT / UNSIGNED") for n in notes if n["docStatus"] == "preliminary")
    sam_note = next(
        n for n in notes if n["subject"]["display"] == "Sam K." and n["docStatus"] == "amended"
    )
    text = base64.b64decode(sam_note["content"][0]["attachment"]["data"]).decode("utf-8")
    assert NOTICE in text and "Sam practiced urge surfing" in text and "Jordan" not in text


def test_fhir_r4_encounter_would_not_pass_the_default_r5_models(documents) -> None:
    from fhir.resources.encounter import Encounter as R5Encounter
    from pydantic import ValidationError

    data, _ = notes_fhir.bundle(documents, CONTEXT)
    encounter = resources(data, "Encounter")[0]
    with pytest.raises(ValidationError):
        R5Encounter.model_validate(encounter)


def test_fhir_identifiers_are_stable_across_exports(db, clinic, documents) -> None:
    later = nd.ExportContext(**{**CONTEXT.__dict__, "exported_at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)})
    with db.session() as s:
        again = list(nd.iter_documents(s, nd.Filters(include_unsigned=True)))
    first, _ = notes_fhir.bundle(documents, CONTEXT)
    second, _ = notes_fhir.bundle(again, later)

    def keys(data: dict) -> list[tuple[str, str]]:
        return [(e["fullUrl"], json.dumps(e["resource"].get("identifier"))) for e in data["entry"]]

    assert keys(first) == keys(second)
    assert first["timestamp"] != second["timestamp"]


def test_fhir_stream_writes_the_same_bundle_and_validates_each_resource(documents) -> None:
    data, _ = notes_fhir.bundle(documents, CONTEXT)
    tally: dict[str, int] = {}
    streamed = "".join(notes_fhir.render_stream(documents, CONTEXT, tally))
    assert json.loads(streamed) == data and tally["meetings"] == 3
    text, count = notes_fhir.render(documents, CONTEXT)
    assert json.loads(text) == data and count == 3
    notes_fhir.validate(data, whole=False)
    broken = copy.deepcopy(data)
    next(e for e in broken["entry"] if e["resource"]["resourceType"] == "Encounter")["resource"]["class"] = [
        {"code": "AMB"}
    ]
    from pydantic import ValidationError

    with pytest.raises(ValidationError):  # R5-style class (a list) is not R4
        notes_fhir.validate(broken, whole=False)


def test_pdf_wraps_long_paragraphs_and_words_without_losing_text(documents) -> None:
    long_word = "x" * 230
    paragraph = " ".join(f"word{i}" for i in range(400))
    doc = dataclasses.replace(documents[0], narrative=f"{paragraph}\n{long_word}\nend \u2014 fin")
    data, _ = notes_pdf.render([doc], CONTEXT)
    text = "\n".join(pdf_pages(data))
    words = text.split()
    positions = [words.index(f"word{i}") for i in range(400)]  # every word, once, in order
    assert positions == sorted(positions)
    flat = "".join(words)
    assert long_word in flat and "end\u2014fin" in flat


def test_pdf_draws_each_meeting_as_it_arrives_and_counts_them_on_the_cover(documents, monkeypatch) -> None:
    """The documents are never gathered into a list: each is drawn before the next is read."""
    pulled: list[str] = []
    drawn_after: list[int] = []
    real = notes_pdf._Writer.meeting

    def meeting(self, doc) -> None:  # noqa: ANN001
        drawn_after.append(len(pulled))
        real(self, doc)

    def stream():
        for doc in documents:
            pulled.append(doc.meeting_id)
            yield doc

    monkeypatch.setattr(notes_pdf._Writer, "meeting", meeting)
    data, count = notes_pdf.render(stream(), CONTEXT)
    assert count == len(documents) == 3 and drawn_after == [1, 2, 3]
    cover = pdf_pages(data)[0]
    assert f"Meetings in this file: {count}" in cover and "Group notes" in cover
    empty, none = notes_pdf.render(iter(()), CONTEXT)
    first = pdf_pages(empty)[0]
    assert none == 0 and "Meetings in this file: 0" in first and "No meetings match this export." in first
