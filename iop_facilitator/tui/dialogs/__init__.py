"""The TUI's modal dialogs: each a ``ModalScreen`` that asks one thing and dismisses with the answer.

Full screens live in :mod:`iop_facilitator.tui.screens`, the meeting's step panes in
:mod:`iop_facilitator.tui.steps`; a dialog keeps its stylesheet beside it (``name.tcss``).

* :mod:`.confirm`: yes-or-no questions (:class:`~.confirm.Confirm`, leaving the meeting).
* :mod:`.checkin`: a drop-in member, a brand-new member.
* :mod:`.review`: a safety event's disposition, the group's times, signing and co-signing, an addendum.
* :mod:`.crisis`: the crisis panel (numbers, recording a safety event).
* :mod:`.form`: the admin forms (:class:`~.form.FormScreen`, one field a row).

A widget's own question stays with the widget: the field with a limit asks about a paste
that would not fit (:class:`~iop_facilitator.tui.widgets.fields.PasteTooLong`), since
widgets are the TUI's bottom layer and import no dialog.
"""
