"""A bounded memo for what the engine computes once and reuses (engine/skeleton.py, the
citations of engine/render.py): bounded so memory stays flat, and sparing with the
garbage collector (see ``Memo.put``)."""

from __future__ import annotations

import threading
from typing import Any, Generic, Hashable, TypeVar

__all__ = ["ADMIT_EVERY", "MEMO_SIZE", "FrozenList", "Memo"]

#: Entries kept in each memo at most (a stage result or a skeleton is a few KB: 4,096 of
#: each is some tens of MB at most, and live traffic has far fewer distinct ones).
MEMO_SIZE = 4_096
#: When a memo is full, one new entry in this many replaces its oldest (``Memo.put``).
ADMIT_EVERY = 64

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A bounded dict: at ``size`` entries, one new entry in ``ADMIT_EVERY`` replaces the
    oldest, and the others are not kept. ``size`` 0 keeps nothing.

    Thread-safe: a lookup is one dict operation; stores are serialised by a lock, so the
    memo never holds more than ``size`` entries, whatever the threads do (two threads
    computing the same entry store equal values). ``hits`` and ``misses`` are statistics,
    counted without the lock: under concurrent lookups they may miss an increment."""

    __slots__ = ("size", "_data", "hits", "misses", "_declined", "_lock")

    def __init__(self, size: int = MEMO_SIZE) -> None:
        if size < 0:
            raise ValueError(f"memo size must be 0 or more, not {size}")
        self.size = size
        self._data: dict[K, V] = {}
        self.hits = 0
        self.misses = 0
        self._declined = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        found = self._data.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: K, value: V) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._put(key, value)

    def _put(self, key: K, value: V) -> None:
        data = self._data
        if key in data:
            data[key] = value
            return
        if len(data) >= self.size:
            # Full: only one new entry in ADMIT_EVERY takes an old one's place. Every entry
            # that survives and is later dropped makes work for the garbage collector's
            # oldest generation (measured: a full memo replaced entry by entry cost more than
            # it saved when few requests repeat); a workload that repeats still fills it.
            self._declined += 1
            if self._declined % ADMIT_EVERY:
                return
        while len(data) >= self.size:
            # The oldest entry goes, one at a time: never a mass release of thousands of
            # entries inside one decision (which showed as a latency spike).
            data.pop(next(iter(data)))
        data[key] = value

    def __len__(self) -> int:
        return len(self._data)


T = TypeVar("T")


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("this list is part of a decision's substance, shared by every decision made from it: "
                    "copy it (list(x)) to change it")


class FrozenList(list[T]):
    """A list that cannot be changed in place: the lists inside models that several decisions
    share (a memoised stage result's requirement results, conditions, missing items).
    Serialised, compared and copied as a list; ``list(x)`` or ``copy.copy`` gives a plain one."""

    __slots__ = ()

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __copy__(self) -> list[T]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[T]:
        import copy

        return [copy.deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))
