"""The Textual application and its entry point :func:`run`.

* Start-up stays light: the database (SQLAlchemy, SQLModel) is imported and
  opened in a thread worker after the first frame.
* Every ``Binding`` has an id, so the user's ``[keys]`` table in config.toml
  can change it (``App.set_keymap``); F1 lists the current screen's keys and
  the command palette (Ctrl+P) lists every action that has an id.
* Themes come from files (bundled ``themes/`` plus ``<config dir>/themes``);
  a bad file or setting is a warning notification, never a crash.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import ModalScreen

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui import messages
from iop_facilitator.tui.keys import KeepTypedKeysMixin
from iop_facilitator.tui.lock import LockMixin, LockState
from iop_facilitator.tui.paste import CleanPasteMixin, install_paste_safe_parser
from iop_facilitator.tui.screens.help import HelpScreen, binding_rows
from iop_facilitator.tui.screens.home import DEMO_MARKER, HomeScreen

if TYPE_CHECKING:
    import uuid
    from pathlib import Path

    from textual.dom import DOMNode
    from textual.timer import Timer

    from iop_facilitator.db.engine import Database
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.home_early import EarlyOverview
    from iop_facilitator.tui.dialogs.crisis import CrisisInfo
    from iop_facilitator.tui.store import Kept, Store

APP_TITLE = "iop-facilitator"
FILE_WATCH_SECONDS = 2.0  # how often the app checks that its database file is still there
SIGNAL_EXIT_GRACE_S = 3.0  # after SIGTERM/SIGHUP (and saving), exit by force if the terminal hangs
FALLBACK_THEME = "textual-dark"
PALETTE_HIDDEN = frozenset({"app.commands"})


class IopCommands(Provider):
    """Command palette entries: every action of the calling screen that has a binding id.

    The palette title is the binding's tooltip (e.g. "Refresh groups"); its
    help line names the key, so the palette also teaches the shortcuts.
    """

    def _commands(self) -> Iterator[tuple[str, str, object]]:
        seen: set[str] = set()
        app = self.app
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.id or binding.id in seen or binding.id in PALETTE_HIDDEN:
                continue
            seen.add(binding.id)
            title = binding.tooltip or binding.description or binding.action
            help_text = f"Key: {app.get_key_display(binding)}"
            yield title, help_text, partial(app.run_action, binding.action, active.node)

    async def discover(self) -> Hits:
        for title, help_text, callback in sorted(self._commands(), key=lambda c: c[0]):
            yield DiscoveryHit(title, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)  # type: ignore[arg-type]


class IopApp(LockMixin, CleanPasteMixin, KeepTypedKeysMixin, App[None]):
    """The group facilitator's app. Construct with the ``--db`` target; see :func:`run`."""

    CSS_PATH: ClassVar[list[str]] = ["app.tcss", "dialogs/crisis.tcss"]  # the crisis panel opens at once, anywhere
    TITLE = APP_TITLE
    COMMANDS: ClassVar = {IopCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit", priority=True),
        Binding("f1", "help", "Keys", id="app.help", tooltip="Show keys (help)"),
        Binding("ctrl+t", "change_theme", "Theme", id="app.theme", tooltip="Switch theme"),
        Binding("f8", "privacy", "Hide", id="app.privacy", tooltip="Hide the screen (privacy)", priority=True),
        Binding("f9", "crisis", "Crisis", id="app.crisis", tooltip="Crisis resources and safety event", priority=True),
        Binding(
            "ctrl+p",
            "command_palette",
            "Commands",
            id="app.commands",
            tooltip="Search every command",
            show=False,
            priority=True,
        ),
    ]

    alert: reactive[str] = reactive("")
    """A storage alert shown in every screen's top line (read-only database, database file gone)."""

    save_trouble: reactive[str] = reactive("")
    """Why changes are held back just now (a full disk...), in the leader's words; "" when all is saved."""

    def __init__(self, db_target: str, *, demo: bool = False, create: bool = False,
                 early: EarlyOverview | None = None) -> None:
        from iop_facilitator.config import load_config

        install_paste_safe_parser()  # a pasted escape sequence stays inside the paste (tui/paste.py)
        super().__init__()
        self.db_target = db_target
        self.demo = demo
        self.create = create
        self._early = early  # the home overview, read since the process started (services/home_early.py)
        self.database: Database | None = None
        self.store: Store | None = None
        self.library: Library | None = None
        self._library_requested = False
        self.crisis_info: CrisisInfo | None = None
        self.config, self._startup_problems = load_config()
        self._reported_clashes: set[frozenset[str]] = set()
        self.keymap: dict[str, str] = {}  # the user's [keys] (binding id -> keys), as installed
        self._waiting_for_store: list[Callable[[], None]] = []
        self._file_watch: Timer | None = None
        # Choose the theme before the stylesheet is first read: choosing it once the app runs
        # makes Textual parse and apply every CSS rule a second time before the first frame.
        self._startup_problems += self._install_themes()
        self.home = HomeScreen()
        self.lock_state = LockState()  # idle lock and unlock attempts (tui/lock.py); tests inject a clock
        #: Where unsaved text was copied on the way out (run() names it after the app ends).
        self.rescued_to: Path | None = None

    # -- start-up ---------------------------------------------------------
    def on_mount(self) -> None:
        import sys

        # The database writer thread must get the GIL promptly while the UI thread renders:
        # a status key is committed within a few milliseconds, not after a default 5 ms slice.
        sys.setswitchinterval(0.0001)
        problems = list(self._startup_problems)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        problems += self._install_keymap()
        if self.demo:
            self.sub_title = DEMO_MARKER
        early = self._early.result(timeout=0) if self._early is not None else None
        if early is not None:  # read already: the first frame shows the data
            self._show_program(early.clinic_name, early.is_demo)
            self.home.show_first(early)
        self.push_screen(self.home)
        for problem in problems:
            self.notify(problem, title="Settings", severity="warning", timeout=15, markup=False)
        # Open the database just after the first frame is on screen: its imports (SQLAlchemy)
        # would otherwise compete with painting that frame.
        self.set_timer(0.03, self.read_home_preview)
        self.start_idle_watch()
        self._install_signal_handlers()

    def _install_themes(self) -> list[str]:
        from iop_facilitator.config import DEFAULT_THEME, config_path, user_themes_dir
        from iop_facilitator.tui.themes import load_all

        themes, problems = load_all(user_themes_dir())
        for theme in themes:
            self.register_theme(theme)
        wanted = self.config.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else FALLBACK_THEME
            if wanted != DEFAULT_THEME or fallback != DEFAULT_THEME:
                problems.append(
                    f"{config_path()}: theme {wanted!r} is not installed; using {fallback!r}"
                )
            self.theme = fallback
        return problems

    def _theme_changed(self, theme: object) -> None:
        """Remember a theme chosen with Ctrl+T (or in Settings) in config.toml."""
        from iop_facilitator.config import save_config

        name = getattr(theme, "name", "")
        if not name or self.config.theme == name:
            return
        self.config.theme = name
        try:
            for problem in save_config(self.config):
                self.notify(problem, severity="warning", markup=False)
        except OSError as exc:
            self.notify(f"Theme not saved: {exc.strerror or exc}", severity="warning", markup=False)

    def _install_keymap(self) -> list[str]:
        from iop_facilitator.config import config_path

        if not self.config.keys:
            return []
        known = known_binding_ids()
        keymap: dict[str, str] = {}
        problems: list[str] = []
        for binding_id, keys in self.config.keys.items():
            if binding_id in known:
                keymap[binding_id] = keys
            else:
                problems.append(
                    f"{config_path()}: [keys] has no action {binding_id!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
        if keymap:
            self.keymap = dict(keymap)  # what tui.keys.key_label names keys after (Textual keeps its own private)
            self.set_keymap(keymap)
            for key, ids in keymap_clashes(keymap):
                self._reported_clashes.add(frozenset(ids))
                problems.append(
                    f"{config_path()}: [keys] gives key {key!r} to more than one action: "
                    f"{', '.join(ids)}; only one of them will work"
                )
        return problems

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: DOMNode) -> None:
        names = frozenset(binding.id or binding.action for binding in clashed_bindings)
        if any(names <= reported for reported in self._reported_clashes):
            return
        self._reported_clashes.add(names)
        lost = ", ".join(sorted(names))
        self.notify(
            f"[keys] in config.toml gives a key that was already in use; lost its key: {lost}",
            title="Settings",
            severity="warning",
            timeout=15,
            markup=False,
        )

    # -- database ---------------------------------------------------------
    @work(thread=True, group="preview", exit_on_error=False)
    def read_home_preview(self) -> None:
        """Show the home screen's data first, then open the database properly.

        Opening goes through SQLAlchemy and SQLModel, whose imports alone take about a quarter
        of a second. A plain SQLite file at the current schema can answer the home screen's
        questions through Python's own ``sqlite3`` well before that; anything else (a URL, an
        encrypted or older file, any doubt) skips the preview.
        """
        preview = None
        if self._early is not None:
            preview = self._early.result(timeout=30.0)
        elif "://" not in self.db_target:
            try:
                from iop_facilitator.services.home import overview_from_sqlite_file

                preview = overview_from_sqlite_file(os.path.expanduser(self.db_target))
            except Exception:  # noqa: BLE001 - the preview is an optimisation; the real open reports problems
                preview = None
        self.post_message(messages.HomePreview(preview))

    @on(messages.HomePreview)
    def _home_preview(self, message: messages.HomePreview) -> None:
        if message.overview is None:
            self.open_database()
            return
        overview = message.overview
        self._show_program(overview.clinic_name, overview.is_demo)  # the header, in the same frame
        self.home.preview(overview)
        # Open the database once the preview is painted: its imports would slow the painting.
        self.call_after_refresh(self.open_database)

    @work(thread=True, exclusive=True, group="database", exit_on_error=False)
    def open_database(self) -> None:
        """Open (and migrate) the database off the UI thread; report back with a message."""
        try:
            from iop_facilitator.db.engine import open_database
            from iop_facilitator.errors import PassphraseRequired, WrongPassphrase

            database = open_database(self.db_target, create=self.create, progress=self._upgrade_progress)
        except (PassphraseRequired, WrongPassphrase) as exc:
            # An encrypted database: the unlock screen asks for the passphrase (tui/lock.py).
            self.call_from_thread(self._passphrase_needed, isinstance(exc, WrongPassphrase))
            return
        except Exception as exc:
            if os.environ.get("IOP_DEBUG") and not _is_known(exc):
                raise
            self.post_message(messages.DatabaseFailed(messages.describe_problem(exc)))
            return
        self.post_message(messages.DatabaseReady(database))

    def _upgrade_progress(self, done: int, total: int, label: str, rows: tuple[int, int] | None = None) -> None:
        """A schema upgrade's progress (called in the opening worker): shown on the home screen."""
        self.post_message(messages.UpgradeProgress(done, total, label, rows))

    @on(messages.UpgradeProgress)
    def _show_upgrade_progress(self, message: messages.UpgradeProgress) -> None:
        self.home.show_progress(message.text())

    def _passphrase_needed(self, env_was_wrong: bool) -> None:
        from iop_facilitator.db.engine import PASSPHRASE_ENV

        if env_was_wrong:
            self.lock_state.failed()
        self.need_passphrase(f"{PASSPHRASE_ENV} did not open the database." if env_was_wrong else "")

    @on(messages.DatabaseReady)
    def _database_ready(self, message: messages.DatabaseReady) -> None:
        if self.database is not None:
            self.database.dispose()
        database = message.database
        self.database = database
        if database.created:
            self.notify(f"Started a new, empty database: {clean_line(database.display)}", markup=False)
        elif database.migrated_from is not None:
            self.notify("The database was upgraded to this version of the program.", markup=False)
        self._storage_warnings(database)
        from iop_facilitator.tui.store import Store

        if self.store is not None:
            self.store.close(1.0)
        self.store = Store(self, database, on_gone=self._database_gone, on_trouble=self._save_trouble_changed)
        if database.path is not None and not database.read_only and self._file_watch is None:
            self._file_watch = self.set_interval(FILE_WATCH_SECONDS, self._watch_database_file)
        self.home.database = database
        self.unlocked_for_opening()
        self.read_idle_minutes()
        self.audit_failed_unlocks()
        self.load_program()
        self.resume_open_meeting()
        waiting, self._waiting_for_store = self._waiting_for_store, []
        for action in waiting:  # keys pressed while the start-up preview was showing
            action()
        # The topic library (two dozen guides to parse) is read once the home screen shows its
        # data (see _program_loaded), or right away if a meeting opens first.

    def _storage_warnings(self, database: Database) -> None:
        if database.read_only:
            self.alert = f"READ-ONLY: {database.read_only}. Nothing can be changed or saved."
            self.notify(
                f"The database opened read-only: {database.read_only}. You can look at everything; "
                "nothing can be changed or saved until it is writable again (then restart the app).",
                title="Read-only", severity="warning", timeout=30, markup=False,
            )
        mode = database.loose_permissions
        if mode is not None:
            self.notify(
                f"The database file can be read by other users (mode {mode:04o}). Make it private with: "
                f"chmod 600 {clean_line(database.display)}",
                title="Privacy", severity="warning", timeout=30, markup=False,
            )

    def _watch_database_file(self) -> None:
        if self.store is not None:
            self.store.watch_file()

    def _database_gone(self, problem: str, rescued: str | None) -> None:
        """The database file was deleted or replaced while open: stop, say so, say where the rescue copy is."""
        if self._file_watch is not None:
            self._file_watch.stop()
        self.alert = "DATABASE FILE GONE: nothing more can be saved. Quit and restore it (see the message)."
        where = (
            f"Everything saved until now was copied to {rescued}: quit, then move that file back to "
            f"{self.database.display if self.database else 'its place'}."
            if rescued else "No copy could be made: do not quit; ask for help to recover the open file."
        )
        self.notify(f"{clean_line(problem)}. {where}", title="Database file gone", severity="error",
                    timeout=24 * 3600, markup=False)

    def _save_trouble_changed(self, words: str) -> None:
        """The store holds changes back (a passing fault), or has saved them all after one."""
        if words and words != self.save_trouble:
            self.notify(f"{words[:1].upper()}{words[1:]}.", title="Not saved yet", severity="error", timeout=20,
                        markup=False)
        elif not words and self.save_trouble:
            self.notify("Saved: everything that was waiting is in the database now.", title="Saved", timeout=8,
                        markup=False)
        self.save_trouble = words

    @on(messages.DatabaseFailed)
    def _database_failed(self, message: messages.DatabaseFailed) -> None:
        self.home.problem = message.problem

    @on(messages.ReopenDatabase)
    def _reopen(self) -> None:
        self.home.problem = ""
        self.open_database()

    @on(messages.ProgramLoaded)
    def _program_loaded(self, message: messages.ProgramLoaded) -> None:
        if self.store is not None:
            # Parse the topic guides once the home screen's data is painted, and not during the
            # start-up preview: parsing would compete with painting (and with opening the database).
            self.call_after_refresh(self._request_library)
        self._show_program(message.clinic_name, message.is_demo)

    def _show_program(self, clinic_name: str, is_demo: bool) -> None:
        self.title = clean_line(clinic_name) or APP_TITLE
        if is_demo and not self.demo:
            self.demo = True
            self.sub_title = DEMO_MARKER

    # -- program facts, topic library, meetings ----------------------------
    def _request_library(self) -> None:
        if self.library is None and not self._library_requested:
            self._library_requested = True
            self.load_library()

    def load_program(self) -> None:
        """Crisis resources and steps from the program settings (kept for the crisis key)."""
        from iop_facilitator.tui.dialogs.crisis import CrisisInfo

        def read(session):  # noqa: ANN001, ANN202
            from iop_facilitator.services.settings import get_settings

            program = get_settings(session)
            resources = tuple(
                (str(r.get("name", "")), str(r.get("contact", "")), str(r.get("when", "")))
                for r in program.crisis_resources
                if isinstance(r, dict)
            )
            return CrisisInfo(resources, tuple(str(step) for step in program.crisis_steps))

        if self.store is not None:
            self.store.read(read, self._program_read)

    def _program_read(self, info: CrisisInfo) -> None:
        self.crisis_info = info

    @work(thread=True, exclusive=True, group="library", exit_on_error=False)
    def load_library(self) -> None:
        from iop_facilitator.library.load import load_library

        library = load_library()
        self.call_from_thread(self._library_loaded, library)

    def _library_loaded(self, library: Library) -> None:
        self.library = library
        for problem in library.problems:
            self.notify(f"Topic file skipped: {problem}", title="Topics", severity="warning", timeout=12, markup=False)
        for override in library.overrides:
            self.notify(f"Topic {override.topic_id} from {override.path} replaces the bundled one.", title="Topics",
                        timeout=8, markup=False)
        from iop_facilitator.tui.screens.meeting import MeetingScreen

        for screen in self.screen_stack:
            if isinstance(screen, MeetingScreen):
                screen.set_library(library)

    def facilitator_id(self) -> uuid.UUID | None:
        import uuid

        try:
            return uuid.UUID(self.config.facilitator_id) if self.config.facilitator_id else None
        except ValueError:
            return None

    def when_store_ready(self, action: Callable[[], None]) -> bool:
        """Run ``action`` once the database is open; True when it had to wait.

        The home screen shows its data before the database is fully open (see
        :meth:`read_home_preview`), so a key pressed in that moment is kept, not lost.
        """
        if self.store is not None:
            return False
        self._waiting_for_store.append(action)
        return True

    def start_meeting(self, group_id: uuid.UUID) -> None:
        """Start (or resume) today's meeting of a group and open it."""
        if self.when_store_ready(partial(self.start_meeting, group_id)):
            return
        assert self.store is not None
        me = self.facilitator_id()

        def start(session):  # noqa: ANN001, ANN202
            from iop_facilitator.services.live import start_meeting

            return start_meeting(session, group_id, facilitator=me).id

        self.store.submit(start, done=self.open_meeting)

    def open_meeting(self, meeting_id: uuid.UUID, *, by_itself: bool = False) -> None:
        """Open a meeting's screen; ``by_itself``: nobody asked just now (resumed at start-up), so keys
        typed for the home screen as it opens are not given to it (tui/keys.py)."""
        from iop_facilitator.tui.screens.meeting import MeetingScreen

        if self.when_store_ready(partial(self.open_meeting, meeting_id, by_itself=by_itself)):
            return
        assert self.store is not None
        for screen in self.screen_stack:
            if isinstance(screen, MeetingScreen) and screen.meeting_id == meeting_id:
                return
        if self.library is None and not self._library_requested:
            self._library_requested = True
            self.load_library()
        screen = MeetingScreen(meeting_id, self.store, self.library, author_id=self.facilitator_id())
        if by_itself:
            self.push_screen_by_itself(screen, "today's meeting", callback=self._meeting_closed)
        else:
            self.push_screen(screen, callback=self._meeting_closed)

    def _meeting_closed(self, _result: object) -> None:
        self.home.reload()

    def resume_open_meeting(self) -> None:
        """Reopening the app resumes today's in-progress meeting at the step where it was."""

        def find(session):  # noqa: ANN001, ANN202 - imports in the store's thread, not the first frame's
            from iop_facilitator.services.meetings import in_progress_today

            return in_progress_today(session)

        if self.store is not None:
            self.store.read(find, lambda meeting_id: meeting_id and self.open_meeting(meeting_id, by_itself=True))

    # -- always at hand -----------------------------------------------------
    def action_privacy(self) -> None:
        from iop_facilitator.tui.screens.privacy import PrivacyScreen

        if isinstance(self.screen, PrivacyScreen):
            self.pop_screen()
            return
        hint = "F8"
        for active in self.screen.active_bindings.values():
            if active.binding.id == "app.privacy":
                hint = self.get_key_display(active.binding)
        self.push_screen(PrivacyScreen(hint))

    def action_crisis(self) -> None:
        from iop_facilitator.tui.dialogs.crisis import CrisisInfo, CrisisScreen
        from iop_facilitator.tui.screens.meeting import MeetingScreen
        from iop_facilitator.tui.screens.privacy import PrivacyScreen

        if isinstance(self.screen, (CrisisScreen, PrivacyScreen)):
            return
        info = self.crisis_info or CrisisInfo(
            (("988 Suicide & Crisis Lifeline", "Call or text 988", ""), ("Emergency services", "911", "")), ()
        )
        meeting = self.screen if isinstance(self.screen, MeetingScreen) else None
        members = None
        chosen = None
        if meeting is not None and meeting.snapshot is not None:
            # The member under the cursor is chosen, never the first of the list; no cursor: no choice.
            chosen = meeting.current_member_id()
            members = [(m.member_id, m.display_name) for m in meeting.snapshot.members
                       if m.status is None or m.attended or m.member_id == chosen]

        def recorded(result) -> None:  # noqa: ANN001
            if result is not None and meeting is not None:
                meeting.record_safety_event(result.member_id, result.concern)
                self.notify("Safety event recorded. Add its disposition before signing.", markup=False)

        self.push_screen(CrisisScreen(info, members, chosen=chosen), callback=recorded)

    # -- nothing lost ---------------------------------------------------------
    def save_everything(self, timeout: float = 3.0) -> bool:
        """Commit every draft of every open meeting screen; True when all are saved.

        While changes are held back (a full disk) or nothing can be written (the file gone,
        a read-only database) there is no point waiting long: the text is handed to the store
        and :meth:`unsaved` says what is not in the database.
        """
        from iop_facilitator.tui.screens.meeting import MeetingScreen

        store = self.store
        if store is not None and (store.trouble or store.gone):
            timeout = min(timeout, 0.3)
        ok = True
        for screen in self.screen_stack:
            if isinstance(screen, MeetingScreen):
                ok = screen.save_drafts_now(timeout) and ok
        if store is not None:
            ok = store.flush(timeout) and ok
        return ok

    def unsaved(self) -> tuple[list[Kept], int]:
        """Typed text not in the database, and how many other changes still wait (marks, ratings)."""
        store = self.store
        if store is None:
            return [], 0
        return store.unsaved(), store.held_without_text

    def _unsaved_reason(self) -> str:
        store = self.store
        if store is None:
            return ""
        if store.gone:
            return store.gone
        if self.database is not None and self.database.read_only:
            return f"the database is open read-only ({self.database.read_only})"
        if store.trouble:
            return store.trouble.split(":", 1)[0]
        return "some text was changed on another screen and waits for your choice"

    def write_rescue(self) -> Path | None:
        """Write every unsaved text to a rescue file (0600) and say where; None when there was none."""
        from iop_facilitator.errors import IopError
        from iop_facilitator.services.rescue import write_rescue_file

        kept, _others = self.unsaved()
        if not kept:
            return None
        display = self.database.display if self.database is not None else self.db_target
        try:
            path = write_rescue_file(kept, reason=self._unsaved_reason(), database=display)
        except IopError as exc:
            self.notify(f"{exc}. Nothing was dropped: the app stays open.", title="No rescue file",
                        severity="error", timeout=30, markup=False)
            raise
        return path

    def _install_signal_handlers(self) -> None:
        """Closing the terminal (SIGHUP) or SIGTERM: save what was typed, then exit cleanly."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - not in a running app
            return
        for signum in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - e.g. not the main thread
                pass

    def _on_signal(self, signum: int) -> None:
        """Save, then exit with 128 + the signal's number (143 for SIGTERM, 129 for SIGHUP), as shells expect."""
        import threading

        self.save_everything(3.0)
        self._rescue_on_the_way_out()
        code = 128 + signum
        # A closed terminal may never accept the driver's last writes: do not hang on them. A
        # daemon timer: it must not itself hold the process open once the app has exited.
        fallback = threading.Timer(SIGNAL_EXIT_GRACE_S, lambda: os._exit(code))
        fallback.daemon = True
        fallback.start()
        self.exit(return_code=code)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error: save what can be saved, then exit with one line, never a locals dump.

        Textual's own crash report is a traceback with every frame's local variables, which
        here are note text, names and the passphrase. This prints one PHI-free line instead
        (``IOP_DEBUG=1``: the traceback, still without locals) and exits 1.
        """
        from rich.segment import Segments
        from rich.text import Text

        self._return_code = 1
        if self._exception is None:  # Pilot re-raises the first error for the test that caused it
            self._exception = error
            self._exception_event.set()
        try:
            self.save_everything(2.0)
            self._rescue_on_the_way_out()
        except Exception:  # noqa: BLE001 - the app is already failing; the line below says what was saved
            pass
        self.bell()
        if os.environ.get("IOP_DEBUG"):
            from rich.traceback import Traceback

            report = Traceback.from_exception(type(error), error, error.__traceback__, show_locals=False)
        else:
            report = Text(crash_line(error))
        self._exit_renderables.append(Segments(self.console.render(report, self.console.options)))
        self._close_messages_no_wait()

    def _rescue_on_the_way_out(self) -> None:
        """Ending without a choice (a signal, a crash): unsaved text goes to a rescue file, named on stderr."""
        try:
            path = self.write_rescue()
        except Exception:  # noqa: BLE001 - nothing more can be done; the text stays in the store until exit
            return
        if path is not None:
            self.rescued_to = path

    async def action_quit(self) -> None:
        from iop_facilitator.tui.dialogs.unsaved import UnsavedOnQuit

        if isinstance(self.screen, UnsavedOnQuit):
            return
        self.save_everything(3.0)
        kept, others = self.unsaved()
        if not kept and not others:
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice == "saved":
                self.exit()
            elif choice == "rescue":
                from iop_facilitator.errors import IopError

                try:
                    path = self.write_rescue()
                except IopError:
                    return  # said on screen; the app stays open with the text
                if path is not None:
                    self.rescued_to = path
                self.exit()

        self.push_screen(UnsavedOnQuit(self._unsaved_reason(), kept, others, self.unsaved), callback=chosen)

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close(0.5 if (self.store.trouble or self.store.gone) else 3.0)
        if self.database is not None:
            self.database.dispose()
            self.database = None

    # -- actions ----------------------------------------------------------
    def action_help(self) -> None:
        from iop_facilitator.config import config_path

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        hint = f"Change keys in {config_path()} under [keys]."
        self.push_screen(HelpScreen(binding_rows(self.screen), config_hint=hint))


@lru_cache(maxsize=1)
def _screens_with_keys() -> tuple[type, ...]:
    """Every class whose bindings a keymap may name. Imported lazily: the meeting screen and its
    panes are not needed for the first frame."""
    from iop_facilitator.tui.dialogs.checkin import DropInScreen, NewMemberScreen
    from iop_facilitator.tui.dialogs.conflict import ConflictDialog
    from iop_facilitator.tui.dialogs.confirm import Confirm, LeaveConfirm
    from iop_facilitator.tui.dialogs.crisis import CrisisScreen
    from iop_facilitator.tui.dialogs.form import FormScreen
    from iop_facilitator.tui.dialogs.review import (
        AddendumDialog,
        ConfirmCosign,
        ConfirmSign,
        DispositionDialog,
        TimesDialog,
    )
    from iop_facilitator.tui.dialogs.unsaved import UnsavedOnQuit
    from iop_facilitator.tui.screens.groups import GroupsScreen
    from iop_facilitator.tui.screens.meeting import PANES, MeetingScreen
    from iop_facilitator.tui.screens.roster import RosterScreen
    from iop_facilitator.tui.screens.settings import SettingsScreen
    from iop_facilitator.tui.screens.unlock import UnlockScreen
    from iop_facilitator.tui.widgets.fields import PasteTooLong

    return (HomeScreen, HelpScreen, MeetingScreen, LeaveConfirm, CrisisScreen, *PANES, DropInScreen, NewMemberScreen,
            ConfirmSign, DispositionDialog, TimesDialog, Confirm, AddendumDialog, ConfirmCosign, PasteTooLong,
            RosterScreen, GroupsScreen, SettingsScreen, FormScreen, UnlockScreen, ConflictDialog, UnsavedOnQuit)


def known_binding_ids() -> set[str]:
    """Every binding id the keymap may name."""
    ids: set[str] = set()
    for owner in (IopApp, *_screens_with_keys()):
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
    return ids


def keymap_clashes(keymap: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Keys that ``keymap`` gives to two actions active together (app + a screen).

    Textual reports clashes only inside one set of bindings; an app binding
    and a screen binding on one key would silently shadow each other.
    """
    normal = App._normalize_keymap(keymap)
    app_bindings = [b for b in IopApp.BINDINGS if isinstance(b, Binding)]
    found: list[tuple[str, list[str]]] = []
    for screen_cls in _screens_with_keys():
        together = [b for b in screen_cls.BINDINGS if isinstance(b, Binding)]
        modal = issubclass(screen_cls, ModalScreen)
        together += [b for b in app_bindings if b.priority or not modal]
        users: dict[str, set[str]] = {}
        for binding in together:
            keys = normal.get(binding.id or "") or App._normalize_keymap({"k": binding.key})["k"]
            for key in keys.split(","):
                users.setdefault(key, set()).add(binding.id or binding.action)
        for key, ids in sorted(users.items()):
            clash = (key, sorted(ids))
            if len(ids) > 1 and any(i in keymap for i in ids) and clash not in found:
                found.append(clash)
    return found


NO_TERMINAL_EXIT = 2  # a usage problem, like Typer's bad options


def terminal_problem(stdin: object, stdout: object) -> str:
    """Why the app cannot run on these streams (empty when both are terminals)."""

    def is_tty(stream: object) -> bool:
        try:
            return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            return False

    missing = [name for name, stream in (("input", stdin), ("output", stdout)) if not is_tty(stream)]
    if not missing:
        return ""
    what = "input and output are not terminals" if len(missing) == 2 else f"{missing[0]} is not a terminal"
    return f"the app needs a terminal, but its {what}; run it in a terminal, or use the subcommands in scripts (iop --help)"


def crash_line(error: BaseException) -> str:
    """The one line printed when the app stops on an unexpected error (no message text: it may hold PHI)."""
    return (
        f"iop: internal error ({type(error).__name__}); everything saved before it is in the database. "
        "Run again with IOP_DEBUG=1 to see details."
    )


def _is_known(exc: BaseException) -> bool:
    from iop_facilitator.errors import IopError

    return isinstance(exc, IopError)


def run(db_target: str, *, demo: bool = False, create: bool = False, early: EarlyOverview | None = None) -> int:
    """Run the TUI on ``db_target`` until the user quits; return the process exit code.

    ``demo`` marks the screens "DEMO — fictional data" (the database's own
    ``is_demo`` flag does too). The app never creates a clinic: a missing file is a
    message on the home screen (``iop init`` and ``iop demo`` create databases);
    ``create`` exists for tests only. ``early``: the home overview, being read since the
    process started (``services/home_early.py``).

    Without a terminal (standard input or output redirected: a pipe, a cron job) it prints
    one line and returns 2, instead of drawing the screens into a pipe.
    """
    import sys

    problem = terminal_problem(sys.stdin, sys.stdout)
    if problem:
        print(f"iop: error: {problem}", file=sys.stderr)
        return NO_TERMINAL_EXIT
    app = IopApp(db_target=db_target, demo=demo, create=create, early=early)
    app.run()
    if app.rescued_to is not None:
        print(f"iop: text that was not saved in the database is in {app.rescued_to} (only you can read it); "
              "put it back in the app, then delete the file", file=sys.stderr)
    return app.return_code or 0
