"""Notes export as a FHIR R4 Bundle, validated with ``fhir.resources.R4B`` (not the default R5).

Pure: documents in, a JSON-ready dict out (:func:`bundle`), then :func:`validate` parses it
with the R4B models (R4B equals R4 for every resource used here). What is in it:

* ``Bundle`` (type ``collection``) with ``meta.security`` labels, ``identifier`` and
  ``timestamp`` (the export time);
* ``Patient`` per member (identifier: our member UUID; the chart id as an ``MR``
  identifier; name as the display name the program keeps);
* ``Practitioner`` per facilitator, co-facilitator, signer and co-signer (credentials as
  ``qualification.code.text``);
* ``Group`` per therapy group (type ``person``, ``actual``, its members in the export);
* ``Encounter`` per member per meeting: ``finished`` (attended; period = arrived to
  left or the meeting's start and stop, ``length`` in minutes) or ``cancelled`` (absent);
  ``class`` one Coding from v3 ActCode: ``AMB`` in person, ``VR`` telehealth;
  participants ``PPRF`` (facilitator) and ``SPRF`` (co-facilitator); ``serviceType``
  from a local code system (the group's type), with text;
* ``Observation`` per check-in and check-out rating (category ``survey``): no LOINC code
  fits a 0-10 group check-in self-rating, so they use the program's local code system
  ``urn:iop-facilitator:fhir:CodeSystem/checkin`` (codes ``checkin-mood``,
  ``checkin-urge``, ``checkout-rating``), ``valueInteger`` 0-10;
* ``DocumentReference`` per attending member per meeting: LOINC 11506-3 "Progress note",
  the member's own copy of the note (group context, their section, other members as
  initials) as a base64 ``text/markdown`` attachment; ``docStatus`` ``final`` (signed),
  ``amended`` (signed with addenda) or ``preliminary`` (unsigned, ``DRAFT / UNSIGNED`` in
  the description; or signed but awaiting a required co-signature, ``AWAITING
  CO-SIGNATURE`` in the description); ``authenticator`` the signer; ``securityLabel`` v3 Confidentiality
  ``R`` (restricted), v3 ActCode ``42CFRPart2`` and ``NORDSCLCD`` (no redisclosure
  without consent).

Identifiers are stable across exports so a receiving EHR can de-duplicate: ``system``
``urn:iop-facilitator:fhir:<kind>`` and our UUIDs (for encounters, observations and
documents a UUID5 of the meeting and member ids); ``fullUrl`` is ``urn:uuid:`` of the same
UUID.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from iop_facilitator.exports.notes_data import (
    ExportContext,
    MemberSection,
    NoteDocument,
    Person,
    local_iso,
    member_view,
)

SYSTEM = "urn:iop-facilitator:fhir"
CHECKIN_SYSTEM = f"{SYSTEM}:CodeSystem/checkin"
GROUP_TYPE_SYSTEM = f"{SYSTEM}:CodeSystem/group-type"
NAMESPACE = uuid.UUID("5b0f7a52-7c1e-4d7e-9a4f-2f1b0c6e9d11")  # never change: ids derive from it
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"

SECURITY = [
    {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {"system": ACT_CODE, "code": "NORDSCLCD", "display": "no redisclosure without consent directive"},
]
SURVEY = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey", "display": "Survey"}
RATINGS = (
    ("checkin-mood", "Check-in mood self-rating (0-10)", "checkin_mood"),
    ("checkin-urge", "Check-in urge/craving self-rating (0-10)", "checkin_urge"),
    ("checkout-rating", "Check-out closing self-rating (0-10)", "checkout_mood"),
)


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def _ref(kind: str, ident: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": f"urn:uuid:{ident}", "type": kind}
    if display:
        out["display"] = display
    return out


def _ident(kind: str, value: str) -> dict[str, Any]:
    return {"system": f"{SYSTEM}:{kind}", "value": value}


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class _Builder:
    def __init__(self, context: ExportContext, markdown: Any) -> None:
        self.context = context
        self.markdown = markdown
        # Shared resources (patients, practitioners, groups), kept until the end; per-meeting
        # resources (encounters, observations, documents) go to ``pending``, which the
        # streaming writer empties after every meeting.
        self.entries: dict[str, dict[str, Any]] = {}
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.group_members: dict[str, dict[str, str]] = {}
        self.group_names: dict[str, tuple[str, str, str]] = {}

    def add(self, ident: str, resource: dict[str, Any]) -> None:
        self.entries.setdefault(ident, resource)

    def practitioner(self, person: Person | None) -> dict[str, Any] | None:
        if person is None:
            return None
        resource: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": person.id,
            "identifier": [_ident("staff", person.id)],
            "name": [{"text": person.name}],
        }
        if person.credentials:
            resource["qualification"] = [{"code": {"text": person.credentials}}]
        self.add(person.id, resource)
        return _ref("Practitioner", person.id, person.name)

    def patient(self, m: MemberSection) -> dict[str, Any]:
        identifiers = [_ident("member", m.member_id)]
        if m.chart_id:
            identifiers.append(
                {
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    "system": f"{SYSTEM}:chart-id",
                    "value": m.chart_id,
                }
            )
        self.add(
            m.member_id,
            {"resourceType": "Patient", "id": m.member_id, "identifier": identifiers, "name": [{"text": m.display_name}]},
        )
        return _ref("Patient", m.member_id, m.display_name)

    def meeting(self, doc: NoteDocument) -> None:
        tz = doc.timezone
        lead = self.practitioner(doc.facilitator)
        co = self.practitioner(doc.co_facilitator)
        signer = self.practitioner(doc.signature.person) if doc.signature else None
        if doc.cosignature:
            self.practitioner(doc.cosignature.person)
        group_members = self.group_members.setdefault(doc.group_id, {})
        self.add(doc.group_id, {"resourceType": "Group", "id": doc.group_id})  # filled in at the end
        self.group_names[doc.group_id] = (doc.group_name, doc.group_type, doc.level_of_care)
        telehealth = doc.modality == "telehealth"
        klass = (
            {"system": ACT_CODE, "code": "VR", "display": "virtual"}
            if telehealth
            else {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}
        )
        service = {
            "coding": [{"system": GROUP_TYPE_SYSTEM, "code": doc.group_type, "display": doc.group_type.replace("_", " ")}],
            "text": f"{doc.level_of_care} group therapy ({doc.group_type.replace('_', ' ')})",
        }
        participants = []
        if lead:
            participants.append(
                {"type": [{"coding": [{"system": PARTICIPATION, "code": "PPRF", "display": "primary performer"}]}], "individual": lead}
            )
        if co:
            participants.append(
                {"type": [{"coding": [{"system": PARTICIPATION, "code": "SPRF", "display": "secondary performer"}]}], "individual": co}
            )
        for m in doc.members:
            patient = self.patient(m)
            group_members[m.member_id] = m.display_name
            enc_id = derived_id("encounter", doc.meeting_id, m.member_id)
            if m.attended:
                start = m.arrived_at or doc.actual_start or doc.scheduled_start
                end = m.left_at or doc.actual_end
                status = "finished" if doc.actual_end is not None else "in-progress"
            else:
                start, end, status = doc.scheduled_start, doc.scheduled_end, "cancelled"
            period = {"start": local_iso(start, tz)}
            if end is not None:
                period["end"] = local_iso(end, tz)
            encounter: dict[str, Any] = {
                "resourceType": "Encounter",
                "id": enc_id,
                "identifier": [_ident("encounter", f"{doc.meeting_id}:{m.member_id}")],
                "status": status,
                "class": klass,
                "serviceType": service,
                "subject": patient,
                "participant": participants,
                "period": period,
            }
            if m.attended:
                encounter["length"] = {
                    "value": m.minutes,
                    "unit": "min",
                    "system": "http://unitsofmeasure.org",
                    "code": "min",
                }
            if doc.location:
                encounter["location"] = [{"location": {"display": doc.location}}]
            self.pending.append((enc_id, encounter))
            if not m.attended:
                continue
            enc_ref = _ref("Encounter", enc_id)
            for code, display, attr in RATINGS:
                value = getattr(m, attr)
                if value is None:
                    continue
                obs_id = derived_id("observation", doc.meeting_id, m.member_id, code)
                when = (m.left_at or doc.actual_end or start) if code == "checkout-rating" else start
                observation = {
                    "resourceType": "Observation",
                    "id": obs_id,
                    "identifier": [_ident("observation", f"{doc.meeting_id}:{m.member_id}:{code}")],
                    "status": "final" if doc.signed and not doc.awaiting_cosign else "preliminary",
                    "category": [{"coding": [SURVEY]}],
                    "code": {"coding": [{"system": CHECKIN_SYSTEM, "code": code, "display": display}], "text": display},
                    "subject": patient,
                    "encounter": enc_ref,
                    "effectiveDateTime": local_iso(when, tz),
                    "valueInteger": value,
                }
                self.pending.append((obs_id, observation))
            self.document(doc, m, patient, enc_ref, lead, signer, period)

    def document(
        self,
        doc: NoteDocument,
        m: MemberSection,
        patient: dict[str, Any],
        enc_ref: dict[str, Any],
        lead: dict[str, Any] | None,
        signer: dict[str, Any] | None,
        period: dict[str, Any],
    ) -> None:
        view = doc if doc.subject_member_id == m.member_id else member_view(doc, m.member_id)
        assert view is not None
        text = self.markdown(view)
        doc_id = derived_id("document", doc.meeting_id, m.member_id)
        amended = bool(view.addenda or view.members[0].addenda)
        final = doc.signed and not doc.awaiting_cosign  # awaiting a required co-signature: not final yet
        status = ("amended" if amended else "final") if final else "preliminary"
        title = f"Group progress note, {doc.group_name}, {doc.local_date.isoformat()}"
        description = title if final else f"{'AWAITING CO-SIGNATURE' if doc.signed else 'DRAFT / UNSIGNED'}: {title}"
        resource: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": doc_id,
            "meta": {"security": SECURITY},
            "identifier": [_ident("progress-note", f"{doc.meeting_id}:{m.member_id}")],
            "status": "current",
            "docStatus": status,
            "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}], "text": "Group progress note"},
            "subject": patient,
            "date": _instant(doc.signature.at if doc.signature else self.context.exported_at),
            "description": description,
            "securityLabel": [{"coding": [label]} for label in SECURITY],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/markdown; charset=utf-8",
                        "language": "en-US",
                        "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                        "title": title,
                    }
                }
            ],
            "context": {"encounter": [enc_ref], "period": period},
        }
        if lead:
            resource["author"] = [lead]
        if signer:
            resource["authenticator"] = signer
        self.pending.append((doc_id, resource))

    def groups(self) -> None:
        names = self.group_names
        for group_id, members in self.group_members.items():
            name, group_type, level = names[group_id]
            self.entries[group_id] = {
                "resourceType": "Group",
                "id": group_id,
                "identifier": [_ident("group", group_id)],
                "active": True,
                "type": "person",
                "actual": True,
                "code": {"coding": [{"system": GROUP_TYPE_SYSTEM, "code": group_type}], "text": f"{level} {group_type.replace('_', ' ')} group"},
                "name": name,
                "quantity": len(members),
                "member": [
                    {"entity": _ref("Patient", mid, display)} for mid, display in sorted(members.items(), key=lambda kv: (kv[1].casefold(), kv[0]))
                ],
            }


def _head(context: ExportContext) -> dict[str, Any]:
    stamp = _instant(context.exported_at)
    bundle_id = derived_id("bundle", stamp, context.subject_member_id or "", json.dumps(context.filters, sort_keys=True))
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {
            "security": SECURITY,
            "tag": [{"system": f"{SYSTEM}:notice", "code": "disclosure", "display": context.disclosure_notice}],
        },
        "identifier": _ident("bundle", bundle_id),
        "type": "collection",
        "timestamp": stamp,
    }


def _builder(context: ExportContext) -> _Builder:
    from iop_facilitator.exports import notes_md

    def markdown(view: NoteDocument) -> str:
        return notes_md.to_text([view], context)

    return _Builder(context, markdown)


def _entry(ident: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{ident}", "resource": resource}


def bundle(docs: Iterable[NoteDocument], context: ExportContext) -> tuple[dict[str, Any], int]:
    """The Bundle as a JSON-ready dict and the number of meetings in it (not yet validated).

    Entries: each meeting's encounters, observations and documents in meeting order, then
    the shared patients, practitioners and groups.
    """
    builder = _builder(context)
    count = 0
    for doc in docs:
        builder.meeting(doc)
        count += 1
    builder.groups()
    entries = [_entry(i, r) for i, r in builder.pending] + [_entry(i, r) for i, r in builder.entries.items()]
    return {**_head(context), "entry": entries}, count


def _indented(value: Any, indent: int) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * indent)


def render_stream(docs: Iterable[NoteDocument], context: ExportContext, tally: dict[str, int] | None = None) -> Iterator[str]:
    """The same Bundle as :func:`bundle`, as JSON text in pieces, each resource validated
    with its R4B model as it is written: memory holds one meeting's resources plus the
    shared patients, practitioners and groups. ``tally["meetings"]`` counts meetings."""
    from fhir.resources.R4B.bundle import Bundle

    head = _head(context)
    Bundle.model_validate({**head, "entry": []})
    builder = _builder(context)
    tally = tally if tally is not None else {}
    tally.setdefault("meetings", 0)
    yield "{\n"
    for key, value in head.items():
        yield f"  {json.dumps(key)}: {_indented(value, 2)},\n"
    yield '  "entry": ['
    first = True

    def emit(ident: str, resource: dict[str, Any]) -> str:
        nonlocal first
        _check(ident, resource)
        text = ("" if first else ",") + "\n    " + _indented(_entry(ident, resource), 4)
        first = False
        return text

    for doc in docs:
        builder.meeting(doc)
        tally["meetings"] += 1
        for ident, resource in builder.pending:
            yield emit(ident, resource)
        builder.pending.clear()
    builder.groups()
    for ident, resource in builder.entries.items():
        yield emit(ident, resource)
    yield ("\n  ]" if not first else "]") + "\n}\n"


def _check(ident: str, resource: dict[str, Any]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    if resource.get("id") != ident:
        raise ValueError("a Bundle entry's fullUrl does not match its resource id")
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def validate(data: dict[str, Any], *, whole: bool = True) -> Any:
    """Check ``data`` with the R4B models; raises pydantic's ValidationError if invalid.

    ``whole=True`` parses the entire Bundle at once (returns the model). ``whole=False``
    parses the Bundle shell and then each entry's resource on its own (same checks: an
    entry's resource is validated by its own model either way), so memory holds one
    resource model at a time: what the CLI uses for large exports.
    """
    from fhir.resources.R4B.bundle import Bundle

    if whole:
        return Bundle.model_validate(data)
    Bundle.model_validate({**data, "entry": []})
    for entry in data.get("entry", []):
        resource = entry["resource"]
        if entry.get("fullUrl") != f"urn:uuid:{resource.get('id')}":
            raise ValueError("a Bundle entry's fullUrl does not match its resource id")
        _check(resource["id"], resource)
    return None


def render(docs: Iterable[NoteDocument], context: ExportContext) -> tuple[str, int]:
    """The validated Bundle as JSON text and the number of meetings in it."""
    data, count = bundle(docs, context)
    validate(data, whole=False)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n", count
