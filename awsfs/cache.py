"""A thread-safe, time-limited cache of AWS state.

Keys are tuples naming what was loaded, e.g. ``("ec2", "us-east-1", "instances")``.
Invalidating a key drops it and every key it prefixes, so invalidating a table also drops
its partitions. Concurrent misses for the same key run the loader once (single flight),
and a load that raced with an invalidation is not stored.

Two things keep one command's view consistent whatever the TTL:

* an entry outlives its TTL for the command (process) that loaded it while that command keeps
  using it (``COMMAND_SECONDS`` between uses, ``COMMAND_MAX`` in all): with ``--cache-ttl 0``
  each new command asks AWS again, but one ``ls -l`` lists a directory once;
* :meth:`Cache.pinned` makes every lookup inside it answer with the entries it answered with
  before (a directory being read goes on over the listing it started with, even once that
  listing has expired or been dropped).

Answers derived from cached entries (a file's attributes, a checked node) are reused while the
*places* they were read from are unchanged: a place is a key's first three parts (``("dynamo",
region, table)``, ``("ec2", region, "instances")``); a store, a write-through or an invalidation
changes its own place (and, for a shorter prefix, every place under it), nothing else.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional

from .errors import NotNow

__all__ = ["Cache", "Entry", "Memo"]

Key = tuple[Hashable, ...]

COMMAND_SECONDS = 2.0   # an expired entry stays its loading command's while used this often
COMMAND_MAX = 30.0      # and at most this long after it was loaded
SWEEP_EVERY = 1000      # stores between two sweeps of expired entries (so the cache stays bounded)
GENERATIONS_KEEP = 2_000  # invalidated prefixes remembered (for loads in flight) before a reset

_pins: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("awsfs_pins", default=None)
_reading: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("awsfs_reading", default=None)
PLACE = 3  # a key's place: its first parts


@dataclass
class Entry:
    value: Any
    loaded_at: float          # wall clock, for mtimes
    expires: float            # monotonic
    owner: int = 0            # the pid of the command that loaded it (0: unknown)
    used: float = 0.0         # monotonic: when its owner last used it


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None


class Cache:
    def __init__(self, ttl: float, caller: Callable[[], int] = lambda: 0) -> None:
        self.ttl = ttl
        self.caller = caller  # the pid behind the request being served (0: unknown)
        self._data: dict[Key, Entry] = {}
        self._flights: dict[Key, _Flight] = {}
        self._generation: dict[Key, int] = {}
        self._epoch = 0
        self._floor = 0      # every generation token below it is stale (see invalidate)
        self._stores = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: place (or shorter prefix) -> changes made there: see :meth:`unchanged`
        self._places: dict[Key, int] = {}
        #: changes anywhere: while it is what it was, everything derived is still good (a fast path)
        self.version = 0

    def _fresh(self, e: Optional[Entry], now: float) -> bool:
        if e is None:
            return False
        if now <= e.expires:
            return True
        if e.owner and now - e.used < COMMAND_SECONDS and now - e.expires + self.ttl < COMMAND_MAX \
                and e.owner == self.caller():
            e.used = now
            return True
        return False

    def _changed(self, key: Key) -> None:
        """Caller holds the lock: what was derived from ``key``'s place is stale."""
        p = key[:PLACE]
        self._places[p] = self._places.get(p, 0) + 1
        self.version += 1

    def _mark(self, key: Key) -> int:
        """How many changes the place of ``key`` has seen, its prefixes' included."""
        places = self._places
        return sum(places.get(key[:i], 0) for i in range(min(len(key), PLACE) + 1))

    def _read(self, key: Key) -> None:
        reading = _reading.get()
        if reading is not None:
            p = key[:PLACE]
            if p not in reading:
                reading[p] = self._mark(p)

    @contextlib.contextmanager
    def reading(self):
        """Inside, the places of the keys read are recorded (in the dict yielded, with how many
        changes each had seen): what is computed inside holds while :meth:`unchanged` says so."""
        outer = _reading.get()
        places: dict[Key, int] = {}
        token = _reading.set(places)
        try:
            yield places
        finally:
            _reading.reset(token)
            if outer is not None:
                for p, n in places.items():
                    outer.setdefault(p, n)

    def unchanged(self, places: dict[Key, int], version: int = -1) -> bool:
        """Whether nothing has changed in ``places`` (from :meth:`reading`, begun at ``version``)
        since; the places are then also read by an enclosing :meth:`reading`."""
        if version != self.version:
            for p, n in places.items():
                if self._mark(p) != n:
                    return False
        outer = _reading.get()
        if outer is not None:
            for p, n in places.items():
                outer.setdefault(p, n)
        return True

    def _entry(self, value: Any) -> Entry:
        now = time.monotonic()
        return Entry(value, time.time(), now + self.ttl, self.caller(), now)

    def _stored(self) -> None:
        """Count a store (caller holds the lock); now and then drop what has expired for good."""
        self._stores += 1
        if self._stores % SWEEP_EVERY == 0:
            now = time.monotonic()
            for k in [k for k, e in self._data.items() if now > e.expires and now - e.used >= COMMAND_SECONDS]:
                del self._data[k]

    @contextlib.contextmanager
    def pinned(self, pins: dict):
        """Inside, a key answered before (recorded in ``pins``) answers the same again."""
        token = _pins.set(pins)
        try:
            yield
        finally:
            _pins.reset(token)

    def peek(self, key: Key) -> Optional[Entry]:
        """The fresh entry for ``key`` or None; never loads."""
        self._read(key)
        pins = _pins.get()
        if pins is not None and key in pins:
            return pins[key]
        with self._lock:
            e = self._data.get(key)
            if not self._fresh(e, time.monotonic()):
                return None
        if pins is not None:
            pins[key] = e
        return e

    def get(self, key: Key, loader: Callable[[], Any]) -> Any:
        """The cached value, or the loader's result (one loader per key at a time)."""
        return self.get_entry(key, loader).value

    def get_entry(self, key: Key, loader: Callable[[], Any]) -> Entry:
        self._read(key)
        pins = _pins.get()
        if pins is not None:
            e = pins.get(key)
            if e is None:
                e = pins[key] = self._get_entry(key, loader)
            return e
        return self._get_entry(key, loader)

    def _get_entry(self, key: Key, loader: Callable[[], Any]) -> Entry:
        with self._lock:
            e = self._data.get(key)
            if self._fresh(e, time.monotonic()):
                self.hits += 1
                return e  # type: ignore[return-value]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = _Flight()
                self._flights[key] = flight
                self.misses += 1
                gen = self._gen(key)
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                if isinstance(flight.error, NotNow):
                    return self._get_entry(key, loader)  # the leader was not allowed to ask AWS: ask
                raise flight.error
            return flight.value
        try:
            value = loader()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
            raise
        entry = self._entry(value)
        with self._lock:
            if self._gen(key) == gen:
                self._data[key] = entry
                self._changed(key)
                self._stored()
            self._flights.pop(key, None)
        flight.value = entry
        flight.done.set()
        return entry

    def put(self, key: Key, value: Any) -> None:
        entry = self._entry(value)
        with self._lock:
            self._data[key] = entry
            self._changed(key)
            self._stored()

    def generation(self, key: Key) -> int:
        """A token for :meth:`put_if_unchanged`: taken before loading ``key`` outside :meth:`get`."""
        with self._lock:
            return self._gen(key)

    def epoch(self) -> int:
        """A token for :meth:`put_if_unchanged` good for any key: taken before loading several keys
        at once (one listing page that answers for several)."""
        with self._lock:
            return self._epoch

    def put_if_unchanged(self, key: Key, value: Any, generation: int) -> None:
        """Store a value loaded outside :meth:`get` (a prefetch), unless ``key`` was invalidated
        meanwhile or got a fresh entry some other way (which is at least as new)."""
        entry = self._entry(value)
        with self._lock:
            e = self._data.get(key)
            if self._gen(key) <= generation and (e is None or e.expires < time.monotonic()):
                self._data[key] = entry
                self._changed(key)
                self._stored()

    def touch(self, *keys: Key) -> None:
        """Cached values under ``keys`` were changed in place (write-through): answers derived
        from them are stale (no keys: from anything)."""
        with self._lock:
            for key in keys or ((),):
                self._changed(key)

    def invalidate(self, *prefixes: Key) -> None:
        """Drop every key that starts with one of ``prefixes``; loads in flight are not stored."""
        with self._lock:
            self._epoch += 1
            for prefix in prefixes:
                self._changed(prefix)
                n = len(prefix)
                for k in [k for k in self._data if k[:n] == prefix]:
                    del self._data[k]
                self._generation[prefix] = self._epoch
            # loads in flight under these prefixes must not be stored
            for k in self._flights:
                for prefix in prefixes:
                    if k[:len(prefix)] == prefix:
                        self._generation[k] = self._epoch
            if len(self._generation) > GENERATIONS_KEEP:
                # forget them all at once: every token taken so far is now stale, so a load that
                # started before this is not stored (it may be loaded again), and nothing grows
                self._floor = self._epoch
                self._generation.clear()

    def _gen(self, key: Key) -> int:
        # the newest invalidation that covers key (any of its prefixes)
        g = self._floor
        for i in range(1, len(key) + 1):
            g = max(g, self._generation.get(key[:i], 0))
        return g

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def oldest(self) -> Optional[float]:
        """Seconds since the oldest entry still fresh was loaded (None: nothing cached)."""
        now, mono = time.time(), time.monotonic()
        with self._lock:
            ages = [now - e.loaded_at for e in self._data.values() if mono <= e.expires]
        return round(max(ages), 1) if ages else None


class Memo:
    """A bounded map of derived answers (rendered bytes, attributes), each valid while the
    ``token`` it was computed from is unchanged. The oldest stored entries go first (a hit does
    not take the lock: it is on every ``stat``)."""

    def __init__(self, keep: int, max_bytes: int = 0) -> None:
        self.keep = keep
        self.max_bytes = max_bytes  # values are bytes, and at most this many in all (0: no byte limit)
        self.bytes = 0
        self._data: "collections.OrderedDict[Hashable, tuple[Any, Any]]" = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, token: Any) -> Any:
        hit = self._data.get(key)  # one dict lookup: atomic
        if hit is None or not (hit[0] is token or hit[0] == token):
            return None
        return hit[1]

    def peek(self, key: Hashable) -> Optional[tuple[Any, Any]]:
        """``(token, value)`` whatever the token, or None."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: Hashable, token: Any, value: Any) -> Any:
        with self._lock:
            old = self._data.pop(key, None)
            if self.max_bytes:
                self.bytes += len(value) - (len(old[1]) if old is not None else 0)
            self._data[key] = (token, value)
            while len(self._data) > self.keep or self.max_bytes and self.bytes > self.max_bytes and len(self._data) > 1:
                _, (_, gone) = self._data.popitem(last=False)
                if self.max_bytes:
                    self.bytes -= len(gone)
        return value

    def drop(self, key: Hashable) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None and self.max_bytes:
                self.bytes -= len(old[1])

    def __len__(self) -> int:
        return len(self._data)
