"""A small least-recently-used cache, for the arrays kept between updates."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A mapping that keeps its ``size`` most recently used entries.

    Parameters
    ----------
    size : int
        How many entries to keep; the least recently used one goes first.

    Examples
    --------
    >>> cache = LRU[str, int](2)
    >>> cache.get_or_make("a", lambda: 1), cache.get_or_make("b", lambda: 2)
    (1, 2)
    >>> _ = cache.get("a"); _ = cache.put("c", 3)
    >>> sorted(cache.keys())
    ['a', 'c']
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU cache keeps at least one entry")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """Return the entry for ``key`` (now the most recently used), or None."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key``, dropping the least recently used entry if full."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """Return the entry for ``key``, making and keeping it first if absent."""
        found = self.get(key)
        return self.put(key, make()) if found is None else found

    def keys(self) -> list[K]:
        """Return the keys, least recently used first."""
        return list(self._entries)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
