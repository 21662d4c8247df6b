"""The Review and sign step: the payer-ready checklist, the meeting summary, safety events, signing.

* The checklist is :func:`iop_facilitator.services.notes.checklist`, each item
  as ``[✓]`` / ``[ ]`` text; one key goes to the first missing item
  (a :class:`GotoStep` to the step that fixes it), Enter goes to the item under
  the cursor.
* Safety events need a risk level and a disposition before signing (a dialog).
* Start and stop times can be corrected (HH:MM in the program's timezone), and
  the group finished if nobody did at check-out.
* Signing asks first ("Sign as <name>, <credentials>? ..."); the signer is this
  laptop's facilitator (``app.facilitator_id()``) or else the meeting's.
  :func:`~iop_facilitator.services.notes.sign` refuses while anything is
  missing. A signed meeting shows "SIGNED by ... at ..." and refuses edits.
* Sign-time checks (:mod:`iop_facilitator.services.signcheck`, run in the store
  after every snapshot): notes too similar to each other or to the member's
  previous note, and other members' names, are listed under "Before signing"
  with the repeated sentences highlighted; Enter on one goes to the member's note
  with the cursor on the part to fix; ``i`` replaces the names by initials.
  Signing with warnings says so in the confirmation and audits the
  acknowledgement (counts and kinds only). An open safety event blocks (it is a
  checklist item).
* A signed meeting shows its addenda under the original; ``a`` writes one
  (:class:`AddendumDialog`, author = this laptop's facilitator) and ``c``
  co-signs when the meeting awaits a co-signature and the facilitator identity
  is an active supervisor or admin with credentials.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from iop_facilitator.enums import AttendanceStatus, MeetingStatus, RiskLevel
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.timefmt import local_hhmm, parse_hhmm
from iop_facilitator.tui.dialogs.review import (
    RISK_LABELS,
    AddendumDialog,
    ConfirmCosign,
    ConfirmSign,
    DispositionDialog,
    TimesDialog,
)
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.steps.base import LOCKED_MESSAGE, Edit, GotoStep, StepPane, TextSave

if TYPE_CHECKING:
    from iop_facilitator.services.live_read import SafetyView, Snapshot
    from iop_facilitator.services.notes import CheckItem
    from iop_facilitator.services.signcheck import Finding
    from iop_facilitator.services.staff import Person

MODALITY_LABELS = {"in_person": "In person", "telehealth": "Telehealth"}


def _nothing(_session: Any) -> None:
    """An edit that changes nothing: asks the screen for a fresh snapshot after queued saves."""


def zone_name(snapshot: Snapshot) -> str:
    """The timezone's abbreviation on the meeting's day (e.g. CST)."""
    from iop_facilitator.clock import to_local

    local = to_local(snapshot.actual_start or snapshot.scheduled_start, snapshot.timezone)
    return local.format("zz") if local is not None else snapshot.timezone


def risk_label(value: str) -> str:
    try:
        return RISK_LABELS[RiskLevel(value)]
    except ValueError:
        return clean_line(value)


def member_name(snapshot: Snapshot, member_id: uuid.UUID | None) -> str:
    if member_id is None:
        return "the group"
    line = next((m for m in snapshot.members if m.member_id == member_id), None)
    return clean_line(line.display_name) if line else "a former member"


class ReviewPane(StepPane):
    STEP = "review"
    TITLE = "Review and sign"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "first_missing", "First missing", id="review.first_missing",
                tooltip="Go to the first missing checklist item"),
        Binding("d", "disposition", "Disposition", id="review.disposition",
                tooltip="Set a safety event's risk level and disposition"),
        Binding("t", "times", "Times", id="review.times", tooltip="Correct the start and stop times"),
        Binding("f", "finish", "Finish", id="review.finish", tooltip="Finish the group (record the stop time)"),
        Binding("s", "sign", "Sign", id="review.sign", tooltip="Sign and lock the meeting"),
        Binding("i", "initials", "Names to initials", id="review.initials",
                tooltip="Replace other members' names in notes and story notes by their initials"),
        Binding("a", "addendum", "Addendum", id="review.addendum",
                tooltip="Add a dated, signed correction to the signed meeting"),
        Binding("c", "cosign", "Co-sign", id="review.cosign", tooltip="Co-sign the signed meeting as a supervisor"),
    ]


    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._signer_credentials: dict[uuid.UUID, str] = {}
        self.findings: list[Finding] = []  # the sign-time checks of the current snapshot
        self._me_can_cosign = False
        self._disposition_of: dict[str, tuple[uuid.UUID, str, str, RiskLevel]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="review-status")
        with Horizontal(id="review-body"):
            with VerticalScroll(id="review-left"):
                yield Static("Meeting", classes="review-title", markup=False)
                yield Static("", id="review-summary")
                yield Static("Safety events", classes="review-title", markup=False)
                yield Static("", id="review-events-none", markup=False)
                yield OptionList(id="review-events")
                yield Static("Before signing: check these", id="review-findings-title", classes="review-title",
                             markup=False)
                yield OptionList(id="review-findings")
                yield Static("", id="review-findings-note", markup=False)
                yield Static("Addenda (corrections; the signed original above is unchanged)",
                             id="review-addenda-title", classes="review-title", markup=False)
                yield Static("", id="review-addenda")
            with Vertical(id="review-right"):
                yield Static("Payer-ready checklist", classes="review-title", markup=False)
                yield OptionList(id="review-checklist")
        yield Static("", id="review-hint", markup=False)

    def on_mount(self) -> None:
        for ident in ("#review-findings-title", "#review-findings", "#review-findings-note", "#review-addenda-title",
                      "#review-addenda"):
            self.query_one(ident).display = False
        self._render_hint()

    def _render_hint(self) -> None:
        key = self._key
        if self.locked:
            hint = f"{key('review.addendum')} add an addendum (correction)"
            if self.snapshot is not None and self.snapshot.awaiting_cosign:
                hint += f" · {key('review.cosign')} co-sign (supervisors)"
        else:
            hint = (f"{key('review.first_missing')} first missing · Enter goes to an item · "
                    f"{key('review.disposition')} safety disposition · {key('review.times')} correct times · "
                    f"{key('review.finish')} finish group · {key('review.sign')} sign and lock")
        self.query_one("#review-hint", Static).update(Text(hint))

    def _key(self, binding_id: str) -> str:
        return key_label(self, binding_id, ReviewPane)

    def on_show(self) -> None:
        # Other steps save typing without reloading: ask for a fresh snapshot when the step opens.
        if self.snapshot is not None:
            self.post_message(Edit(_nothing))

    # -- state -------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self.snapshot is not None and self.snapshot.status == MeetingStatus.signed

    def items(self) -> list[CheckItem]:
        from iop_facilitator.services.notes import checklist

        return checklist(self.snapshot) if self.snapshot is not None else []

    def _refuse_if_locked(self) -> bool:
        if self.locked:
            self.notify(LOCKED_MESSAGE, severity="warning", markup=False)
            return True
        return self.snapshot is None

    # -- rendering -----------------------------------------------------------------
    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.is_mounted:
            return
        if self.locked:
            self.findings = []
        self._render_status()
        self._render_summary()
        self._render_events()
        self._render_checklist()
        self._render_findings()
        self._render_addenda()
        self._render_hint()
        if self.locked and snapshot.meeting_id not in self._signer_credentials:
            self._read_signer_credentials(snapshot.meeting_id)
        # Only while this step is shown: other steps' edits must not queue checks behind their saves.
        if self.display:
            if self.locked:
                self._read_cosigner()
            else:
                self._run_checks(snapshot.meeting_id)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "initials":
            return not self.locked and any(f.kind == "name" for f in self.findings)
        if action == "addendum":
            return self.locked
        if action == "cosign":
            return self.locked and self.snapshot is not None and self.snapshot.awaiting_cosign and self._me_can_cosign
        return True

    # -- sign-time checks ---------------------------------------------------------------
    def _run_checks(self, meeting_id: uuid.UUID) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return

        def check(session: Any) -> list[Finding]:
            from iop_facilitator.services.signcheck import sign_checks

            return sign_checks(session, meeting_id)

        def got(findings: list[Finding]) -> None:
            if self.snapshot is None or self.snapshot.meeting_id != meeting_id or self.locked:
                return
            self.findings = findings
            if self.is_mounted:
                self._render_findings()
                self._render_status()
                self.refresh_bindings()

        store.read(check, got, failed=lambda _problem: None)

    def shown_findings(self) -> list[Finding]:
        """The warnings listed under "Before signing" (blocking ones are checklist items already)."""
        return [f for f in self.findings if not f.blocking]

    def _render_findings(self) -> None:
        shown = self.shown_findings()
        self.query_one("#review-findings-title").display = bool(shown)
        listing = self.query_one("#review-findings", OptionList)
        note = self.query_one("#review-findings-note", Static)
        listing.display = note.display = bool(shown)
        highlighted = listing.highlighted
        listing.clear_options()
        if not shown:
            note.update("")
            return
        options = []
        for index, finding in enumerate(shown):
            text = Text()
            text.append("⚠ ", style="bold")
            text.append(clean_line(finding.message))
            for sentence in finding.sentences:
                text.append("\n  repeated: ", style="dim")
                text.append(clean_line(sentence), style="reverse")
            for name in finding.names:
                text.append("\n  name: ", style="dim")
                text.append(clean_line(name), style="reverse")
            options.append(Option(text, id=str(index)))
        listing.add_options(options)
        if highlighted is not None:
            listing.highlighted = min(highlighted, len(options) - 1)
        words = Text()
        words.append("Enter on a warning goes to the member's note, on the part to fix.", style="italic")
        if any(f.kind == "name" for f in shown):
            words.append(f"\n{self._key('review.initials')} replaces the names by initials.", style="italic")
        words.append("\nSigning with these warnings records that you reviewed them.", style="italic")
        note.update(words)

    @on(OptionList.OptionSelected, "#review-findings")
    def _finding_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a payer-lens warning: the member's note, with the cursor on the part to fix."""
        event.stop()
        shown = self.shown_findings()
        try:
            finding = shown[int(event.option.id or "")]
        except (ValueError, IndexError):
            return
        if finding.member_id is None:
            return
        if finding.where == "story":
            self.post_message(GotoStep("stories", finding.member_id))
        else:
            self.post_message(GotoStep("notes", finding.member_id, finding.where or "observation"))

    def action_initials(self) -> None:
        if self._refuse_if_locked():
            return
        if not any(f.kind == "name" for f in self.findings):
            self.notify("No other member's name was found in the notes.", markup=False)
            return
        from iop_facilitator.services.signcheck import replace_names_with_initials

        assert self.snapshot is not None

        def done(count: int) -> None:
            self.notify(f"Names replaced by initials in {count} text(s).", markup=False)

        self.edit(replace_names_with_initials, self.snapshot.meeting_id, done=done)

    # -- addenda and co-signature (signed meetings) ------------------------------------------
    def _render_addenda(self) -> None:
        from iop_facilitator.clock import to_local

        snapshot = self.snapshot
        assert snapshot is not None
        title = self.query_one("#review-addenda-title")
        box = self.query_one("#review-addenda", Static)
        title.display = box.display = self.locked
        if not self.locked:
            return
        text = Text()
        if not snapshot.addenda:
            text.append(f"None. {self._key('review.addendum')} adds a correction.", style="dim")
        for index, item in enumerate(snapshot.addenda, start=1):
            if index > 1:
                text.append("\n")
            when = to_local(item.created_at, snapshot.timezone)
            about = f" · about {clean_line(item.member_name)}" if item.member_name else ""
            text.append(f"#{index} {when.format('YYYY-MM-DD HH:mm') if when else '?'} · "
                        f"{clean_line(item.author)}, {clean_line(item.author_credentials)}{about}\n", style="bold")
            text.append("Reason: ", style="italic")
            text.append(clean_line(item.reason) + "\n")
            text.append(clean(item.text).strip())
        box.update(text)

    def _read_cosigner(self) -> None:
        snapshot = self.snapshot
        store = getattr(self.app, "store", None)
        me = self.app.facilitator_id() if hasattr(self.app, "facilitator_id") else None
        if store is None or snapshot is None or not snapshot.awaiting_cosign or me is None:
            self._me_can_cosign = False
            return

        def read(session: Any) -> bool:
            from iop_facilitator.services.cosign import may_cosign

            return may_cosign(session, me)

        def got(allowed: bool) -> None:
            self._me_can_cosign = allowed
            if self.is_mounted:
                self.refresh_bindings()
                self._render_status()

        store.read(read, got, failed=lambda _problem: None)

    def action_addendum(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if not self.locked:
            self.notify("This meeting is not signed yet: edit the draft instead of adding an addendum.",
                        markup=False)
            return
        me = self.app.facilitator_id() if hasattr(self.app, "facilitator_id") else None
        if me is None:
            self.notify("Set who you are (Settings, facilitator identity) before writing an addendum.",
                        severity="error", markup=False)
            return
        members = [(m.display_name, m.member_id) for m in snapshot.members if m.attended or m.note is not None]
        heading = f"Addendum to {clean_line(snapshot.group_name)} · {snapshot.local_date.isoformat()}"

        def closed(ident: uuid.UUID | None) -> None:
            if ident is not None:
                self.notify("Addendum added; the signed original is unchanged.", markup=False)
                self.post_message(Edit(_nothing))

        self.app.push_screen(AddendumDialog(snapshot.meeting_id, me, heading, members), closed)

    def action_cosign(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if not self.locked:
            self.notify("Sign the meeting first; a supervisor co-signs a signed meeting.", markup=False)
            return
        if snapshot.cosigned_at is not None:
            self.notify("This meeting is already co-signed.", markup=False)
            return
        store = getattr(self.app, "store", None)
        me = self.app.facilitator_id() if hasattr(self.app, "facilitator_id") else None
        if store is None or me is None:
            self.notify("Set who you are (Settings, facilitator identity) before co-signing.", severity="error",
                        markup=False)
            return

        def who(session: Any) -> Person | None:
            from iop_facilitator.services.staff import person

            return person(session, me)

        store.read(who, self._confirm_cosign)

    def _confirm_cosign(self, person: Person | None) -> None:
        snapshot = self.snapshot
        if snapshot is None or person is None:
            return
        question = (f"Co-sign as {clean_line(person.name)}, {clean_line(person.credentials) or 'no credentials'}? "
                    "Your co-signature is recorded with the time.")
        meeting_id = snapshot.meeting_id

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            from iop_facilitator.services.cosign import cosign

            self.edit(cosign, meeting_id, person.id,
                      done=lambda _m: self.notify("Co-signed.", markup=False))

        self.app.push_screen(ConfirmCosign(question), answered)

    def watch_library(self) -> None:
        if self.snapshot is not None and self.is_mounted:
            self._render_summary()

    def _render_status(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        status = self.query_one("#review-status", Static)
        status.set_class(self.locked, "-signed")
        if self.locked:
            from iop_facilitator.clock import to_local

            credentials = self._signer_credentials.get(snapshot.meeting_id, "")
            who = clean_line(snapshot.signer or "?") + (f", {clean_line(credentials)}" if credentials else "")
            signed = to_local(snapshot.signed_at, snapshot.timezone)
            when = signed.format("YYYY-MM-DD HH:mm zz") if signed else "?"
            line = f"SIGNED by {who} at {when} · locked"
            if snapshot.cosigned_at is not None:
                cosigned = to_local(snapshot.cosigned_at, snapshot.timezone)
                line += (f" · co-signed by {clean_line(snapshot.cosigner or '?')}, "
                         f"{clean_line(snapshot.cosigner_credentials or '')}"
                         f" at {cosigned.format('YYYY-MM-DD HH:mm') if cosigned else '?'}")
            elif snapshot.awaiting_cosign:
                line += " · awaiting co-signature"
                if self._me_can_cosign:
                    line += f" ({self._key('review.cosign')} co-signs)"
            status.update(Text(line))
            return
        gaps = [item for item in self.items() if not item.ok]
        if gaps:
            status.update(Text(f"Not ready to sign: {len(gaps)} item{'s' if len(gaps) != 1 else ''} missing "
                               f"(first: {clean_line(gaps[0].label)}). {self._key('review.first_missing')} goes there."))
        else:
            warned = [f for f in self.findings if not f.blocking]
            extra = (f" {len(warned)} warning{'s' if len(warned) != 1 else ''} to review below first."
                     if warned else "")
            status.update(Text(f"Ready to sign: every item is complete. {self._key('review.sign')} signs and locks "
                               f"the meeting.{extra}"))

    def _render_summary(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        tz = snapshot.timezone
        rows: list[tuple[str, str]] = []
        rows.append(("Date", snapshot.local_date.strftime("%a %Y-%m-%d")))
        start, stop = local_hhmm(snapshot.actual_start, tz), local_hhmm(snapshot.actual_end, tz)
        times = f"{start or 'not started'} – {stop or 'not finished'} {zone_name(snapshot)}"
        if snapshot.actual_start and snapshot.actual_end:
            times += f" ({int((snapshot.actual_end - snapshot.actual_start).total_seconds() // 60)} min)"
        rows.append(("Time", times))
        scheduled = f"{local_hhmm(snapshot.scheduled_start, tz)} – {local_hhmm(snapshot.scheduled_end, tz)}"
        rows.append(("Scheduled", f"{scheduled} {zone_name(snapshot)}"))
        modality = MODALITY_LABELS.get(snapshot.modality, snapshot.modality)
        if snapshot.location.strip():
            modality += f" · {clean_line(snapshot.location)}"
        rows.append(("Modality", modality))
        kind = snapshot.group_type.replace("_", " ")
        rows.append(("Group", f"{clean_line(snapshot.group_name)} · {kind} · {snapshot.level_of_care}"))
        if snapshot.topic_id is None:
            rows.append(("Topic", "not chosen"))
        else:
            loaded = self.library.topics.get(snapshot.topic_id.strip().lower()) if self.library else None
            title = clean_line(loaded.topic.title) if loaded else clean_line(snapshot.topic_id)
            rows.append(("Topic", title))
            rows.append(("Guide", f"{clean_line(snapshot.topic_id)} v{clean_line(snapshot.topic_version or '?')}"))
        lead = clean_line(snapshot.facilitator or "none")
        credentials = clean_line(snapshot.facilitator_credentials)
        rows.append(("Facilitator", f"{lead}, {credentials}" if credentials else f"{lead} (no credentials on file)"))
        if snapshot.co_facilitator:
            rows.append(("Co-facilitator", clean_line(snapshot.co_facilitator)))
        attended = snapshot.attended
        late = sum(1 for m in attended if m.status == AttendanceStatus.late)
        left = sum(1 for m in attended if m.status == AttendanceStatus.left_early)
        extras = [f"{late} late"] if late else []
        if left:
            extras.append(f"{left} left early")
        present = f"{len(attended)} of {len(snapshot.members)} members"
        if extras:
            present += f" ({', '.join(extras)})"
        if snapshot.absent:
            present += f" · {snapshot.absent} absent"
        if snapshot.unmarked:
            present += f" · {snapshot.unmarked} not marked"
        rows.append(("Present", present))
        rows.append(("Note format", snapshot.note_format))
        text = Text()
        for index, (label, value) in enumerate(rows):
            if index:
                text.append("\n")
            text.append(f"{label:<15}", style="bold")
            text.append(value)
        self.query_one("#review-summary", Static).update(text)

    def _event_prompt(self, event: SafetyView) -> Text:
        snapshot = self.snapshot
        assert snapshot is not None
        text = Text()
        text.append(f"{local_hhmm(event.occurred_at, snapshot.timezone)}  ")
        text.append(member_name(snapshot, event.member_id), style="bold")
        text.append(f": {clean_line(event.concern) or '(concern not described)'}")
        key = f"disposition:{event.id}"
        recipe = self._recipes.get(key)
        if recipe is not None and key in self.unsaved_keys() and key not in self._conflicts:
            text.append(f"\n  disposition: {clean_line(recipe.text)} · ")
            text.append("⚠ not saved yet", style="bold")
        elif event.disposition.strip():
            text.append(f"\n  risk: {risk_label(event.risk_level)} · disposition: {clean_line(event.disposition)}")
        else:
            text.append(f"\n  [ ] disposition needed ({self._key('review.disposition')})")
        return text

    def _render_events(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        events = self.query_one("#review-events", OptionList)
        none = self.query_one("#review-events-none", Static)
        none.display = not snapshot.safety_events
        events.display = bool(snapshot.safety_events)
        none.update(Text(f"None recorded ({key_label(self, 'app.crisis', type(self.app))} records one)."))
        self._refill(events, [Option(self._event_prompt(e), id=str(e.id)) for e in snapshot.safety_events])

    def _render_checklist(self) -> None:
        checklist = self.query_one("#review-checklist", OptionList)
        options = []
        for item in self.items():
            text = Text("[✓] " if item.ok else "[ ] ", style="bold" if not item.ok else "")
            text.append(clean_line(item.label))
            options.append(Option(text, id=item.key))
        self._refill(checklist, options)

    @staticmethod
    def _refill(listing: OptionList, options: list[Option]) -> None:
        """Replace the options, keeping the cursor on the same item when it is still there."""
        old = listing.highlighted_option.id if listing.highlighted_option else None
        index = listing.highlighted
        ids = [o.id for o in options]
        if ids == [o.id for o in listing.options]:
            for option in options:
                listing.replace_option_prompt(option.id or "", option.prompt)
            return
        listing.clear_options()
        listing.add_options(options)
        if not options:
            return
        if old in ids:
            listing.highlighted = ids.index(old)
        else:
            listing.highlighted = min(index or 0, len(options) - 1)

    def _read_signer_credentials(self, meeting_id: uuid.UUID) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return

        def read(session: Any) -> str:
            from iop_facilitator.services.meetings import signer_credentials

            return signer_credentials(session, meeting_id)

        def got(credentials: str) -> None:
            self._signer_credentials[meeting_id] = credentials
            if self.snapshot is not None and self.is_mounted:
                self._render_status()

        store.read(read, got)

    # -- focus -----------------------------------------------------------------------
    def focus_first(self) -> None:
        checklist = self.query_one("#review-checklist", OptionList)
        items = self.items()
        first = next((i for i, item in enumerate(items) if not item.ok), None)
        if first is not None and first < checklist.option_count:
            checklist.highlighted = first
        checklist.focus()

    def focus_member(self, member_id: Any) -> None:
        """A checklist item here for a member: their safety event (the first one needing a disposition)."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        mine = [e for e in snapshot.safety_events if e.member_id == member_id]
        target = next((e for e in mine if not e.disposition.strip()), mine[0] if mine else None)
        if target is None:
            self.focus_first()
            return
        self._focus_event(target.id)

    def _focus_event(self, event_id: uuid.UUID) -> None:
        events = self.query_one("#review-events", OptionList)
        try:
            events.highlighted = events.get_option_index(str(event_id))
        except OptionDoesNotExist:  # not listed yet
            return
        events.focus()

    # -- going to a checklist item -------------------------------------------------------
    def _go_to(self, item: CheckItem) -> None:
        from iop_facilitator.enums import FlowStep

        if item.step != FlowStep.review:
            self.post_message(GotoStep(item.step.value, item.member_id))
            return
        if item.key.startswith("safety:"):
            self._focus_event(uuid.UUID(item.key.split(":", 1)[1]))
            self.notify(f"Press {self._key('review.disposition')} to set this safety event's risk level and "
                        "disposition.", markup=False)
        elif item.key == "facilitator":
            self.notify("The meeting's facilitator needs credentials on file (staff records) before signing.",
                        severity="warning", markup=False)

    def action_first_missing(self) -> None:
        if self.snapshot is None:
            return
        gaps = [item for item in self.items() if not item.ok]
        if not gaps:
            self.notify("Nothing is missing: the meeting is ready to sign." if not self.locked
                        else "Nothing is missing.", markup=False)
            return
        self._go_to(gaps[0])

    @on(OptionList.OptionSelected, "#review-checklist")
    def _item_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        item = next((i for i in self.items() if i.key == event.option.id), None)
        if item is not None and not item.ok:
            self._go_to(item)

    @on(OptionList.OptionSelected, "#review-events")
    def _event_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_disposition()

    # -- safety dispositions -----------------------------------------------------------
    def action_disposition(self) -> None:
        if self._refuse_if_locked():
            return
        snapshot = self.snapshot
        assert snapshot is not None
        if not snapshot.safety_events:
            self.notify("No safety events were recorded in this meeting.", markup=False)
            return
        events = self.query_one("#review-events", OptionList)
        target = None
        if events.has_focus and events.highlighted_option is not None:
            target = next((e for e in snapshot.safety_events if str(e.id) == events.highlighted_option.id), None)
        if target is None:
            target = next((e for e in snapshot.safety_events if not e.disposition.strip()), snapshot.safety_events[0])
        heading = (f"Safety event: {member_name(snapshot, target.member_id)} at "
                   f"{local_hhmm(target.occurred_at, snapshot.timezone)}")
        event_id = target.id

        key = f"disposition:{event_id}"
        self.loaded(key, target.disposition)  # the edit is based on the disposition the dialog shows
        recipe = self._recipes.get(key) if key in self.unsaved_keys() else None
        shown = recipe.text if recipe is not None else target.disposition
        self._open_disposition(event_id, heading, target.concern, target.risk_level, shown)

    def _open_disposition(self, event_id: uuid.UUID, heading: str, concern: str, risk: str, text: str,
                          problem: str = "") -> None:
        def chosen(result: tuple[RiskLevel, str] | None) -> None:
            if result is None or self.locked:
                return
            level, body = result
            self.save_text(self._disposition_save(event_id, heading, concern, level, body), later=False)

        self.app.push_screen(DispositionDialog(heading, concern, risk, text, problem), chosen)

    def _disposition_save(self, event_id: uuid.UUID, heading: str, concern: str, level: RiskLevel,
                          text: str) -> TextSave:
        from iop_facilitator.services.safety import set_disposition

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: set_disposition(session, event_id, risk_level=level, disposition=body,
                                                   disposition_based_on=based_on)

        save = TextSave(f"disposition:{event_id}", text, make, title=f"Disposition · {heading}",
                        label=f"Disposition · {heading} · {self.place()}", what="disposition")
        self._disposition_of[save.key] = (event_id, heading, concern, level)
        return save

    # -- the step contract for text others may edit too (the disposition) ---------------
    def current_text(self, key: str) -> str | None:
        recipe = self._recipes.get(key)
        return recipe.text if recipe is not None else None

    def show_text(self, key: str, text: str | None) -> None:
        if self.snapshot is not None and self.is_mounted:
            self._render_events()

    def _text_held(self, save: TextSave, words: str) -> None:
        super()._text_held(save, words)
        self.show_text(save.key, save.text)

    def _text_saved(self, save: TextSave, result: Any) -> None:
        super()._text_saved(save, result)
        self.show_text(save.key, save.text)

    def text_not_saved(self, save: TextSave, problem: str) -> None:
        """The dialog comes back with the text typed and the problem, so nothing is lost."""
        self.show_text(save.key, save.text)
        found = self._disposition_of.get(save.key)
        if found is None or self.locked:
            super().text_not_saved(save, problem)
            return
        event_id, heading, concern, level = found
        self._open_disposition(event_id, heading, concern, level.value, save.text, f"Not saved: {problem}")

    # -- times and finishing ----------------------------------------------------------------
    def action_times(self) -> None:
        if self._refuse_if_locked():
            return
        snapshot = self.snapshot
        assert snapshot is not None
        tz = snapshot.timezone
        dialog = TimesDialog(local_hhmm(snapshot.actual_start, tz), local_hhmm(snapshot.actual_end, tz),
                             f"{tz}, {zone_name(snapshot)}")

        def chosen(result: tuple[str, str] | None) -> None:
            if result is None or self.snapshot is None or self.locked:
                return
            self.correct_times(*result)

        self.app.push_screen(dialog, chosen)

    def correct_times(self, start: str, stop: str) -> None:
        """Save ``HH:MM`` start and stop (empty: unchanged) in the program's timezone."""
        from iop_facilitator.services.live import UNSET, set_times

        snapshot = self.snapshot
        if snapshot is None or self._refuse_if_locked():
            return
        try:
            begin = parse_hhmm(start, snapshot.local_date, snapshot.timezone) if start else UNSET
            end = parse_hhmm(stop, snapshot.local_date, snapshot.timezone) if stop else UNSET
        except ValueError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if begin is UNSET and end is UNSET:
            return
        self.edit(set_times, snapshot.meeting_id, start=begin, end=end,
                  done=lambda _m: self.notify("Times corrected.", markup=False))

    def action_finish(self) -> None:
        if self._refuse_if_locked():
            return
        snapshot = self.snapshot
        assert snapshot is not None
        if snapshot.actual_end is not None:
            self.notify(f"The group already finished at {local_hhmm(snapshot.actual_end, snapshot.timezone)}; "
                        f"{self._key('review.times')} corrects the times.", markup=False)
            return
        from iop_facilitator.services.live import finish_meeting

        self.edit(finish_meeting, snapshot.meeting_id,
                  done=lambda _m: self.notify("Group finished: stop time recorded.", markup=False))

    # -- signing ---------------------------------------------------------------------------
    def action_sign(self) -> None:
        if self._refuse_if_locked():
            return
        snapshot = self.snapshot
        assert snapshot is not None
        gaps = [item for item in self.items() if not item.ok]
        if gaps:
            # The same refusal services.notes.sign gives (it checks again when signing).
            self.notify(f"cannot sign yet: {len(gaps)} item(s) missing, first: {clean_line(gaps[0].label)}",
                        title="Not signed", severity="error", timeout=10, markup=False)
            return
        store = getattr(self.app, "store", None)
        if store is None:
            return
        me = self.app.facilitator_id() if hasattr(self.app, "facilitator_id") else None
        meeting_id = snapshot.meeting_id

        def who(session: Any) -> Person | None:
            from iop_facilitator.services.staff import signer

            return signer(session, meeting_id, me)

        store.read(who, self._confirm_sign)

    def _confirm_sign(self, signer: Person | None) -> None:
        if self.snapshot is None or self.locked:
            return
        if signer is None:
            self.notify("Nobody to sign as: set facilitator_id in config.toml or give the meeting a facilitator.",
                        severity="error", markup=False)
            return
        credentials = clean_line(signer.credentials)
        if not credentials:
            self.notify(f"{clean_line(signer.name)} has no credentials on file; add them before signing.",
                        severity="error", markup=False)
            return
        question = f"Sign as {clean_line(signer.name)}, {credentials}? Signing locks the meeting."
        warned = [f for f in self.findings if not f.blocking]
        if warned:
            question += (f"\n\n{len(warned)} sign-time warning{'s' if len(warned) != 1 else ''} "
                         "(similar notes or other members' names) are listed on the review step. "
                         "Signing records that you reviewed them.")
        meeting_id = self.snapshot.meeting_id
        kinds = sorted({f.kind for f in warned})
        count = len(warned)

        def answered(yes: bool | None) -> None:
            if not yes or self.locked:
                return

            def sign_acknowledging(session: Any) -> Any:
                from iop_facilitator.services import audit
                from iop_facilitator.services.notes import sign

                meeting = sign(session, meeting_id, signer.id)
                if count:
                    audit.record(session, "meeting.sign_warnings_acknowledged", record_type="meeting",
                                 record_id=meeting_id, warnings=count, kinds=kinds)
                return meeting

            self.edit(sign_acknowledging, done=lambda _m: self._signed(meeting_id, credentials))

        self.app.push_screen(ConfirmSign(question), answered)

    def _signed(self, meeting_id: uuid.UUID, credentials: str) -> None:
        self._signer_credentials[meeting_id] = credentials
        self.notify("Signed and locked.", markup=False)
