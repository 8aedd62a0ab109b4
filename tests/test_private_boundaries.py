"""No module reaches into another object's private (underscore) attributes.

``handlers.followup`` once drove ``ReporterChats`` through fifteen of its underscore methods; a
handler now works through public interfaces only (``handlers.turn.Turn``, ``ReporterChats.erase``,
``bot.receipts.followups.FollowupService``). An object may use its own private attributes and those
of another instance of its own class (``other._digits`` in an ``__eq__``), nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIRS = ("bot", "handlers", "storage")

SAME_CLASS: dict[str, str] = {
    "bot/receipts/codes.py": "ReceiptCode.__eq__ compares with another ReceiptCode's digits",
}
"""Modules where a private attribute of another instance *of the same class* is read."""


def foreign_private_uses(source: str) -> list[str]:
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()`` (an override calling the
    method it overrides, on the same object; dunder names are public)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if (
            isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "super"
            and not node.value.args
        ):
            continue
        found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_runtime_module_calls_another_objects_private_methods() -> None:
    offenders = []
    for folder in RUNTIME_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            uses = foreign_private_uses(path.read_text(encoding="utf-8"))
            if rel in SAME_CLASS:
                uses = [u for u in uses if not u.split(": ", 1)[1].startswith("other.")]
            offenders += [f"{rel}:{u}" for u in uses]
    assert offenders == []


def test_the_check_catches_a_handler_driving_another_through_its_underscores() -> None:
    source = (
        "class Followups:\n"
        "    async def send(self, turn):\n"
        "        ids = self.chats._wipe(turn)\n"
        "        await self._say(turn, 'x')\n"
        "        ReporterChats._file_of(msg)\n"
        "    async def _post(self, data):\n"
        "        await super()._post(data)\n"
        "        await super(Other, chats)._post(data)\n"
    )
    assert foreign_private_uses(source) == [
        "3: self.chats._wipe",
        "5: ReporterChats._file_of",
        "8: super(Other, chats)._post",
    ]
