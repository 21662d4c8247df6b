"""How to name a binding's key on screen, after the user's keymap."""

from __future__ import annotations

from typing import Any


def key_display(node: Any, binding_id: str, default: str) -> str:
    """The key currently bound to ``binding_id`` among ``node``'s active bindings, as Textual shows it."""
    for active in node.active_bindings.values():
        if active.binding.id == binding_id:
            return node.app.get_key_display(active.binding)
    return default
