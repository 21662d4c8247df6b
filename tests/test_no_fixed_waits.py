"""Tests wait on conditions, never on the clock.

A fixed pause (``time.sleep(1.1)``, ``await pilot.pause(0.9)``) either waits too long, which
slows the suite, or not long enough on a busy machine, which makes it flaky. What a test
really waits for is a condition (``tests.tui.meeting_kit.settle`` / ``wait_for``) or an
amount of program time (move the ``ManualClock`` on: ``pass_time``, ``clock.use``).

This scan finds sleeps and pauses of a fixed 0.1 s or more in the tests. Allowed: inside a
polling loop (a ``while``, or a ``for`` that can ``break``/``return``/``raise``: it waits for a
condition, the pause only spaces the checks), inside code given to a child process as a
string, and on a line that says why it is not a wait (``# not a wait: ...``).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SLEEPS = {"sleep", "pause"}  # time.sleep, asyncio.sleep, sleep, pilot.pause
LIMIT_S = 0.1
MARKER = "# not a wait:"


def _polling(loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    if isinstance(loop, ast.While):
        return True
    return any(isinstance(node, (ast.Break, ast.Return, ast.Raise)) for node in ast.walk(loop))


def fixed_waits(source: str, where: str) -> list[str]:
    lines = source.splitlines()
    found: list[str] = []

    def visit(node: ast.AST, in_poll: bool) -> None:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            in_poll = in_poll or _polling(node)
        if isinstance(node, ast.Call) and not in_poll:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args or [kw.value for kw in node.keywords if kw.arg in ("delay", "seconds", "secs")]
            if name in SLEEPS and args and isinstance(args[0], ast.Constant):
                value = args[0].value
                if isinstance(value, (int, float)) and value >= LIMIT_S and MARKER not in lines[node.lineno - 1]:
                    found.append(f"{where}:{node.lineno}: {lines[node.lineno - 1].strip()}")
        for child in ast.iter_child_nodes(node):
            visit(child, in_poll)

    visit(ast.parse(source), False)
    return found


def test_no_test_waits_a_fixed_time() -> None:
    found: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        found += fixed_waits(path.read_text(encoding="utf-8"), path.relative_to(TESTS.parent).as_posix())
    assert not found, "wait for a condition or move the test clock instead:\n" + "\n".join(found)


def test_the_scan_finds_fixed_waits_and_allows_polling() -> None:
    source = "\n".join([
        "import time",
        "async def t(pilot):",
        "    time.sleep(1.1)",                      # found
        "    await pilot.pause(0.9)",               # found
        "    await pilot.pause()",                  # waits for the app to be idle: fine
        "    await pilot.pause(0.02)",              # a turn of the loop: fine
        "    while not done():",
        "        time.sleep(0.5)",                  # polling: fine
        "    for _ in range(10):",
        "        if done():",
        "            break",
        "        await pilot.pause(0.2)",           # polling: fine
        "    for key in 'abc':",
        "        await pilot.pause(0.3)",           # a fixed wait per key: found
        "    time.sleep(0.3)  # not a wait: widens a race window",
    ])
    found = fixed_waits(source, "sample.py")
    assert [line.split(":")[1] for line in found] == ["3", "4", "14"]
