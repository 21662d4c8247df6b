"""The canonical content of signed records and its hashes (pure: the standard library only).

Signing stores ``GroupMeeting.content_hash`` = SHA-256 of :func:`canonical_bytes`:
compact JSON of the meeting's clinical fields, its attendance, individualized
progress notes, story notes, safety events and (format 3) the members' note facts. Each row is an array of its values in
the fixed field order below (:data:`MEETING_FIELDS` etc., format version
:data:`CANON_VERSION`); rows are sorted by id. Left out: ``created_at``/``updated_at``/
``version`` (bookkeeping), ``flow_step`` (where the app's screen stood), the
co-signature (added after signing) and the hash itself. Addenda are separate,
append-only rows. The signed snapshot, a co-signature and an addendum have hashes of
their own (:func:`snapshot_hash`, :func:`cosign_hash`, :func:`addendum_hash`).

Values are normalised to one form whatever produced them: ORM objects, raw driver
rows from SQLite or PostgreSQL, or the demo generator's storage-form tuples (UUID ->
32 hex digits, datetime -> ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC, date -> ISO, JSON text
-> parsed, booleans -> 0/1). So the demo clinic hashes its generated rows
(:class:`StorageHasher`) with the same rules the verifier uses on the database
(``services.integrity``, which reads the rows, seals and verifies). Changing the
canonical form needs a new ``CANON_VERSION``, keeping the old one for existing hashes.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

CANON_VERSION = 1  # meetings sealed without a snapshot (before schema 0006, and migrated ones)
CANON_VERSION_SNAPSHOT = 2  # the same body plus the signed snapshot's hash (see snapshot_hash)
# Format 2 plus the members' note facts (schema 0013). A meeting is sealed in it exactly when it
# has note facts rows, so meetings signed before (none) keep their format and hash, and facts
# added to or removed from a signed meeting change its hash either way.
CANON_VERSION_FACTS = 3
SNAPSHOT_VERSION = 1

# (column, kind) of each part of the canonical content, per table.
MEETING_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("group_id", "id"), ("local_date", "date"), ("scheduled_start", "dt"),
    ("scheduled_end", "dt"), ("actual_start", "dt"), ("actual_end", "dt"), ("modality", "str"),
    ("location", "str"), ("facilitator_id", "id"), ("co_facilitator_id", "id"), ("topic_id", "str"),
    ("topic_version", "str"), ("topic_hash", "str"), ("status", "str"), ("group_narrative", "str"),
    ("note_format", "str"), ("homework", "str"), ("topic_notes", "str"), ("prompts_done", "json"),
    ("signed_by_id", "id"), ("signed_at", "dt"), ("signer_credentials", "str"),
)
ATTENDANCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("status", "str"), ("arrived_at", "dt"), ("left_at", "dt"),
    ("minutes_attended", "int"), ("drop_in", "bool"), ("checkin_mood", "int"), ("checkin_urge", "int"),
    ("checkin_feeling", "str"), ("safety_concern", "bool"), ("checkout_mood", "int"),
    ("checkout_takeaway", "str"),
)
PROGRESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("goal_ids", "json"), ("intervention", "str"),
    ("response", "str"), ("plan", "str"),
)
STORY_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("recorded_at", "dt"), ("text", "str"), ("author_id", "id"),
)
SAFETY_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("occurred_at", "dt"), ("concern", "str"), ("risk_level", "str"),
    ("disposition", "str"), ("disposition_at", "dt"), ("recorded_by_id", "id"),
)
NOTE_FACTS_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("goal_progress", "json"), ("participation", "str"), ("affect", "json"),
    ("presentation", "str"), ("risk_screen", "str"), ("safety_event_id", "id"), ("substance_use", "str"),
    ("use_detail", "str"), ("observation", "str"), ("behavior", "str"), ("data", "str"), ("assessment", "str"),
    ("subjective", "str"), ("objective", "str"),
)
PARTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    # canonical key: (table, fields)
    "attendance": ("attendance", ATTENDANCE_FIELDS),
    "progress_notes": ("progress_note", PROGRESS_FIELDS),
    "story_notes": ("story_note", STORY_FIELDS),
    "safety_events": ("safety_event", SAFETY_FIELDS),
    "note_facts": ("note_facts", NOTE_FACTS_FIELDS),
}
# Parts holding JSON objects (``note_facts.goal_progress``): the canonical form sorts their keys,
# which SQLite's ``json()`` does not, so a row SQLite wrote as JSON is re-sorted (:func:`sorted_json`).
OBJECT_PARTS = frozenset({"note_facts"})
# Parts in the body only when the meeting has rows of them (they came with a later format).
OPTIONAL_PARTS = {"note_facts": CANON_VERSION_FACTS}
_STORAGE = "%Y-%m-%d %H:%M:%S.%f"

# The signed snapshot (``signed_snapshot`` and ``signed_member``): what a signed meeting
# shows and bills beyond its own locked rows. Hashed on its own (``snapshot_hash``); a
# meeting signed by the app seals that hash inside its content hash (CANON_VERSION_SNAPSHOT).
SNAPSHOT_FIELDS: tuple[tuple[str, str], ...] = (
    ("meeting_id", "id"), ("source", "str"), ("clinic_name", "str"), ("timezone", "str"),
    ("disclosure_version", "str"), ("group_name", "str"), ("group_type", "str"), ("level_of_care", "str"),
    ("audience", "str"), ("modality", "str"), ("location", "str"), ("local_start", "str"), ("local_end", "str"),
    ("facilitator_name", "str"), ("facilitator_credentials", "str"), ("co_facilitator_name", "str"),
    ("co_facilitator_credentials", "str"), ("signer_name", "str"), ("requires_cosign", "bool"),
    ("topic_title", "str"), ("service_code", "str"),
)
SIGNED_MEMBER_FIELDS: tuple[tuple[str, str], ...] = (
    ("member_id", "id"), ("display_name", "str"), ("chart_id", "str"), ("goals", "json"),
)
COSIGN_FIELDS: tuple[tuple[str, str], ...] = (
    ("meeting_id", "id"), ("cosigner_id", "id"), ("cosigner_name", "str"), ("cosigner_credentials", "str"),
    ("cosigned_at", "dt"),
)
ADDENDUM_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("meeting_id", "id"), ("member_id", "id"), ("author_id", "id"), ("author_credentials", "str"),
    ("reason", "str"), ("text", "str"), ("created_at", "dt"),
)
# Sources of a snapshot: which content-hash version seals the meeting.
SNAPSHOT_SOURCES = {"signing": CANON_VERSION_SNAPSHOT, "seed": CANON_VERSION_SNAPSHOT, "migration": CANON_VERSION}


def norm(kind: str, value: Any) -> Any:
    """``value`` in its canonical form for a field of ``kind`` (id, dt, date, str, json, bool, int)."""
    if value is None:
        return None
    if kind == "str":
        return value.value if isinstance(value, enum.Enum) else str(value)
    if kind == "id":
        return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "").lower()
    if kind == "dt":
        if isinstance(value, str):
            if len(value) == 26 and value[10] == " ":
                return value  # already the storage form
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime(_STORAGE)
    if kind == "date":
        return value if isinstance(value, str) else value.isoformat()
    if kind == "json":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if kind == "bool":
        return 1 if value else 0
    if kind == "int":
        return int(value)
    raise ValueError(kind)  # pragma: no cover


def _row(values: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> list[Any]:
    return [norm(kind, values.get(name)) for name, kind in fields]


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def canonical_bytes(
    meeting: Mapping[str, Any],
    attendance: Iterable[Mapping[str, Any]] = (),
    progress_notes: Iterable[Mapping[str, Any]] = (),
    story_notes: Iterable[Mapping[str, Any]] = (),
    safety_events: Iterable[Mapping[str, Any]] = (),
    snapshot_hash: str | None = None,
    note_facts: Iterable[Mapping[str, Any]] = (),
) -> bytes:
    """The canonical content of one meeting, from plain mappings of column -> value.

    With ``snapshot_hash`` (a meeting signed with its snapshot) the body is format
    :data:`CANON_VERSION_SNAPSHOT` and holds that hash; without, format :data:`CANON_VERSION`.
    With note facts rows the body also holds them and is format :data:`CANON_VERSION_FACTS`.
    """
    parts: dict[str, Iterable[Mapping[str, Any]]] = {
        "attendance": attendance, "progress_notes": progress_notes,
        "story_notes": story_notes, "safety_events": safety_events, "note_facts": note_facts,
    }
    body: dict[str, Any] = {"v": CANON_VERSION, "meeting": _row(meeting, MEETING_FIELDS)}
    for key, rows in parts.items():
        fields = PARTS[key][1]
        body[key] = sorted((_row(r, fields) for r in rows), key=_first)
    _finish(body, snapshot_hash)
    return _dump(body)


def _finish(body: dict[str, Any], snapshot_hash: str | None) -> None:
    """Set the format version: the snapshot's hash (format 2), optional parts present (format 3)."""
    if snapshot_hash is not None:
        body["v"] = CANON_VERSION_SNAPSHOT
        body["snapshot"] = snapshot_hash
    for key, version in OPTIONAL_PARTS.items():
        if body.get(key):
            body["v"] = max(body["v"], version)
        else:
            body.pop(key, None)


def hash_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def snapshot_bytes(snapshot: Mapping[str, Any], members: Iterable[Mapping[str, Any]]) -> bytes:
    """The canonical form of a signed snapshot: its row and its members (sorted by member id)."""
    body = {
        "v": SNAPSHOT_VERSION,
        "snapshot": _row(snapshot, SNAPSHOT_FIELDS),
        "members": sorted((_row(m, SIGNED_MEMBER_FIELDS) for m in members), key=_first),
    }
    return _dump(body)


def snapshot_hash(snapshot: Mapping[str, Any], members: Iterable[Mapping[str, Any]]) -> str:
    return hash_bytes(snapshot_bytes(snapshot, members))


def cosign_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of a co-signature as frozen at co-signing (:data:`COSIGN_FIELDS`)."""
    return hash_bytes(_dump({"v": 1, "cosign": _row(row, COSIGN_FIELDS)}))


def addendum_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of an addendum as written (:data:`ADDENDUM_FIELDS`)."""
    return hash_bytes(_dump({"v": 1, "addendum": _row(row, ADDENDUM_FIELDS)}))


def bulk_digest(lines: Iterable[str]) -> str:
    """SHA-256 over sorted ``kind:id:hash`` lines: what one audit entry anchors for many records."""
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode("ascii") + b"\n")
    return digest.hexdigest()


def hash_content(*args: Any, **kwargs: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_bytes` with the same arguments."""
    return hash_bytes(canonical_bytes(*args, **kwargs))


def _storage_dt(value: Any) -> Any:
    return value if type(value) is str and len(value) == 26 and value[10] == " " else norm("dt", value)


def _storage_id(value: Any) -> Any:
    return value if type(value) is str and len(value) == 32 else norm("id", value)


# Parsed values are only ever dumped again, never changed: repeated texts (a member's goal
# choices, their goals as signed) are parsed once.
_cached_json = lru_cache(maxsize=65536)(json.loads)


def _any_json(value: Any) -> Any:
    if type(value) is str:
        return _cached_json(value)
    return json.loads(value) if isinstance(value, bytes) else value


def _bit(value: Any) -> int:
    return 1 if value else 0


def storage_picker(
    columns: Sequence[str], fields: tuple[tuple[str, str], ...], *, lenient: bool = False
) -> tuple[Any, list[tuple[int, Any]]]:
    """(getter, fixes) turning a row of ``columns`` in SQLite storage form into its canonical values.

    Storage form is already canonical for ids, datetimes, dates, text and integers, so only
    JSON text and 0/1 booleans are converted; ``lenient`` also normalises ids and datetimes
    that are not in storage form (rows read back from a database, which raw SQL may have
    written in another form).
    """
    from operator import itemgetter

    index = {name: i for i, name in enumerate(columns)}
    # The seeder repeats a few JSON texts (each member's goal choices): parse each once.
    convert: dict[str, Any] = {"json": lru_cache(maxsize=65536)(json.loads), "bool": _bit}
    if lenient:
        convert.update(dt=_storage_dt, id=_storage_id, json=_any_json)
    positions = [index[name] for name, _ in fields]
    get = itemgetter(*positions) if len(positions) > 1 else (lambda row, _i=positions[0]: (row[_i],))
    fixes = [(pos, convert[kind]) for pos, (_, kind) in enumerate(fields) if kind in convert]
    return get, fixes


def pick_row(pick: tuple[Any, list[tuple[int, Any]]], row: Sequence[Any]) -> Any:
    """One row's canonical values through a :func:`storage_picker`."""
    get, fixes = pick
    values = get(row)
    if not fixes:
        return values
    values = list(values)
    for pos, conv in fixes:
        if values[pos] is not None:
            values[pos] = conv(values[pos])
    return values


class SnapshotHasher:
    """:func:`snapshot_hash` for raw SQLite rows (``SNAPSHOT_FIELDS`` and ``meeting_id`` + ``SIGNED_MEMBER_FIELDS``
    in that column order), normalised leniently like :class:`StorageHasher`; the same bytes."""

    def __init__(self) -> None:
        self._snapshot = storage_picker([n for n, _ in SNAPSHOT_FIELDS], SNAPSHOT_FIELDS, lenient=True)
        self._member = storage_picker(
            ["meeting_id", *(n for n, _ in SIGNED_MEMBER_FIELDS)], SIGNED_MEMBER_FIELDS, lenient=True
        )

    def __call__(self, snapshot: Sequence[Any], members: Iterable[Sequence[Any]]) -> str:
        body = {
            "v": SNAPSHOT_VERSION,
            "snapshot": pick_row(self._snapshot, snapshot),
            "members": sorted((pick_row(self._member, m) for m in members), key=_first),
        }
        return hashlib.sha256(_dump(body)).hexdigest()


class StorageHasher:
    """:func:`hash_content` for rows already in SQLite storage form (the seeder's tuples), faster.

    Built once from the seeder's column lists (table -> column names). Storage
    form is already canonical for ids, datetimes, dates, text and integers, so
    only JSON text and 0/1 booleans are converted; the bytes hashed are the same
    as :func:`canonical_bytes` would produce (a test holds the two together).
    """

    def __init__(self, columns: Mapping[str, Sequence[str]], *, lenient: bool = False) -> None:
        """``lenient`` also normalises ids and datetimes not in storage form (rows read back
        from a database, which raw SQL may have written in another form)."""
        self._meeting = storage_picker(columns["meeting"], MEETING_FIELDS, lenient=lenient)
        self._parts = {
            key: storage_picker(columns[table], fields, lenient=lenient)
            for key, (table, fields) in PARTS.items() if table in columns
        }

    def __call__(self, meeting: Sequence[Any], snapshot_hash: str | None = None, **parts: Iterable[Sequence[Any]]) -> str:
        body: dict[str, Any] = {"v": CANON_VERSION, "meeting": pick_row(self._meeting, meeting)}
        for key in PARTS:
            rows = parts.get(key, ())
            pick = self._parts.get(key)
            body[key] = sorted((pick_row(pick, r) for r in rows), key=_first) if pick else []
        _finish(body, snapshot_hash)
        return hashlib.sha256(_dump(body)).hexdigest()



def canonical_from_json(meeting: str, parts: Mapping[str, Sequence[str]], snapshot_hash: str | None = None) -> bytes:
    """:func:`canonical_bytes` assembled from each row already written as compact JSON (the SQL
    ``json_array`` of its canonical values, rows in id order): the same bytes, without Python
    touching every value. ``parts`` maps the canonical keys (``attendance``...) to row texts;
    an optional part (``note_facts``) is in the body, and raises the format, only with rows."""
    version = CANON_VERSION_SNAPSHOT if snapshot_hash is not None else CANON_VERSION
    keys: dict[str, str] = {"meeting": meeting}
    for key in PARTS:
        rows = parts.get(key, ())
        if key in OPTIONAL_PARTS:
            if not rows:
                continue
            version = max(version, OPTIONAL_PARTS[key])
        keys[key] = f"[{','.join(rows)}]"
    if snapshot_hash is not None:
        keys["snapshot"] = f'"{snapshot_hash}"'
    keys["v"] = str(version)
    return ("{" + ",".join(f'"{key}":{keys[key]}' for key in sorted(keys)) + "}").encode("utf-8")


def sorted_json(text: str) -> str:
    """A row written as JSON by SQLite in the canonical form: keys of its objects sorted."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def snapshot_from_json(snapshot: str, members: Sequence[str]) -> bytes:
    """:func:`snapshot_bytes` from the snapshot's and its members' rows as compact JSON (members by id)."""
    return f'{{"members":[{",".join(members)}],"snapshot":{snapshot},"v":{SNAPSHOT_VERSION}}}'.encode("utf-8")
