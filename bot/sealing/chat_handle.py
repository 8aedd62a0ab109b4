"""A chat id sealed in memory, for the lifetime of one open conversation (docs/cover.md).

In cover mode the bot must be able to erase a report's messages *without the reporter*: at the
idle timeout and before a restart (SIGTERM), when nobody writes and so no update carries the chat
id. An open conversation keeps a :class:`ChatHandle` for that: its chat id sealed with
``nacl.secret.SecretBox`` under a random key made when the process starts (:class:`ChatHandles`),
never written, never logged. The handle is dropped when the conversation ends, in any way.

What it protects against: a scan of the heap, a swap file or a core for the number (its decimal
digits or its int object are nowhere while the conversation waits), and a handle that ends up in
a ``repr`` (an exception report, a log line): it shows no digits. What it does not protect
against: someone who reads the live process, who can take the key beside it (and sees every
incoming update anyway).

The one decrypt of this module opens a chat id the bot sealed itself, with a key that opens
nothing else (tests/test_no_decrypt_path.py lists it, with this reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import nacl.utils
from nacl.secret import SecretBox

CHAT_ID_BYTES: Final = 8
"""A Telegram chat id fits in a signed 64-bit integer."""


class ChatHandle:
    """One sealed chat id. Its repr and str show no digits; it holds no int."""

    __slots__ = ("sealed",)

    def __init__(self, sealed: bytes) -> None:
        self.sealed = sealed
        """The chat id under :class:`ChatHandles`' key (nonce and tag included)."""

    def __repr__(self) -> str:
        return "ChatHandle(<sealed>)"

    __str__ = __repr__


class ChatHandles:
    """Seals and opens chat handles under one key per process (made here, held only here)."""

    __slots__ = ("_box",)

    def __init__(self, random_bytes: Callable[[int], bytes] = nacl.utils.random) -> None:
        self._box = SecretBox(random_bytes(SecretBox.KEY_SIZE))

    def __repr__(self) -> str:
        return "ChatHandles(<key>)"

    def seal(self, chat_id: int) -> ChatHandle:
        plain = chat_id.to_bytes(CHAT_ID_BYTES, "big", signed=True)
        return ChatHandle(bytes(self._box.encrypt(plain)))

    def open(self, handle: ChatHandle) -> int:
        """The chat id, for the erase about to be made (held no longer than that)."""
        plain = self._box.decrypt(handle.sealed)
        return int.from_bytes(plain, "big", signed=True)
