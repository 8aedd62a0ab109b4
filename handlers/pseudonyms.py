"""Pseudonyms for reporters: a keyed hash of the Telegram id under a random key held in memory.

Telegram ids are enumerable, so a plain hash would be no protection; the key is random, never
written anywhere, and rotated (``rotate()``, from a job). After a rotation the previous key is kept
for one more period so that a conversation in progress is found once more and moved to its new
pseudonym; entries nobody touched for a whole period are then dropped with the old key.

:class:`PseudonymMap` is a bounded, least-recently-used map from pseudonym to a value; the raw id
is used only to compute the pseudonym and is never stored.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

KEY_BYTES = 32
PSEUDONYM_BYTES = 16

Pseudonym = bytes

V = TypeVar("V")


class PseudonymKeys:
    """The current and the previous hashing key; both random, in memory only."""

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._random = random_bytes
        self._current = random_bytes(KEY_BYTES)
        self._previous: bytes | None = None
        self.generation = 0

    def rotate(self) -> None:
        self._previous = self._current
        self._current = self._random(KEY_BYTES)
        self.generation += 1

    @staticmethod
    def _hash(key: bytes, user_id: int) -> Pseudonym:
        return hashlib.blake2b(
            str(int(user_id)).encode(),
            key=key,
            digest_size=PSEUDONYM_BYTES,
            person=b"reportbot-user",
        ).digest()

    def current(self, user_id: int) -> Pseudonym:
        return self._hash(self._current, user_id)

    def previous(self, user_id: int) -> Pseudonym | None:
        return None if self._previous is None else self._hash(self._previous, user_id)


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    generation: int


class PseudonymMap(Generic[V]):
    """Pseudonym -> value, at most ``capacity`` entries (the least recently used go first)."""

    def __init__(self, keys: PseudonymKeys, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._keys = keys
        self._capacity = capacity
        self._data: OrderedDict[Pseudonym, _Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def pseudonym(self, user_id: int) -> Pseudonym:
        return self._keys.current(user_id)

    def get(self, user_id: int) -> V | None:
        current = self._keys.current(user_id)
        entry = self._data.get(current)
        if entry is None:
            old = self._keys.previous(user_id)
            if old is not None:
                entry = self._data.pop(old, None)
                if entry is not None:
                    self._data[current] = entry
        if entry is None:
            return None
        entry.generation = self._keys.generation
        self._data.move_to_end(current)
        return entry.value

    def put(self, user_id: int, value: V) -> list[V]:
        """Store ``value``; returns the values evicted to stay within capacity."""
        current = self._keys.current(user_id)
        old = self._keys.previous(user_id)
        if old is not None:
            self._data.pop(old, None)
        return self.put_key(current, value)

    def pop(self, user_id: int) -> V | None:
        current = self._keys.current(user_id)
        entry = self._data.pop(current, None)
        old = self._keys.previous(user_id)
        if old is not None:
            older = self._data.pop(old, None)
            entry = entry or older
        return None if entry is None else entry.value

    def put_key(self, pseudonym: Pseudonym, value: V) -> list[V]:
        """Store under a pseudonym computed earlier (by a job that has no user id)."""
        self._data[pseudonym] = _Entry(value, self._keys.generation)
        self._data.move_to_end(pseudonym)
        evicted: list[V] = []
        while len(self._data) > self._capacity:
            _, entry = self._data.popitem(last=False)
            evicted.append(entry.value)
        return evicted

    def pop_key(self, pseudonym: Pseudonym) -> V | None:
        entry = self._data.pop(pseudonym, None)
        return None if entry is None else entry.value

    def items(self) -> Iterator[tuple[Pseudonym, V]]:
        for key, entry in list(self._data.items()):
            yield key, entry.value

    def drop_unreachable(self) -> list[V]:
        """After a rotation: drop entries whose key is gone (untouched for a whole period)."""
        gone = [k for k, e in self._data.items() if e.generation < self._keys.generation - 1]
        return [self._data.pop(k).value for k in gone]
