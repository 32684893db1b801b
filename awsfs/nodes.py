"""The node kinds every service builds its tree from.

A node is made by the router for one path. It renders AWS state (through the cache) and, when
writable, turns a finished write into mutations for the transaction layer. Nodes never call
FUSE and never catch AWS errors: those travel up as :class:`~awsfs.errors.FsError`.
"""
from __future__ import annotations

import errno
import json
import threading
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from .errors import FsError

if TYPE_CHECKING:  # pragma: no cover
    from .fs import Filesystem

__all__ = ["Dir", "File", "Link", "Listing", "Node", "StaticDir", "enoent", "render_json"]

DIR, FILE, LINK = "dir", "file", "link"


def enoent(path: str, what: str = "") -> FsError:
    return FsError(errno.ENOENT, f"{path}: {what or 'no such entry'}")


class Node:
    """Something at a path. ``params`` are the pieces the route captured."""

    kind = FILE

    def __init__(self, fs: "Filesystem", path: str, **params: str) -> None:
        self.fs = fs
        self.path = path
        self.params = params

    @property
    def aws(self) -> Any:
        return self.fs.aws

    def check(self) -> None:
        """Raise ENOENT unless the thing exists (loads through the cache)."""

    def mtime_hint(self) -> Optional[float]:
        """A timestamp AWS keeps for this thing, if any."""
        return None


class Dir(Node):
    kind = DIR

    def entries(self) -> Iterable[tuple[str, str]]:
        """``(name, kind)`` pairs. Attributes come from the cache the listing filled."""
        raise NotImplementedError

    def entries_from(self, offset: int) -> Iterator[tuple[str, str]]:
        """Entries starting at ``offset`` (streamed listings override this to fetch lazily)."""
        for i, e in enumerate(self.entries()):
            if i >= offset:
                yield e


class StaticDir(Dir):
    """A directory with fixed children (class attribute ``children``)."""

    children: tuple[tuple[str, str], ...] = ()

    def entries(self) -> Iterable[tuple[str, str]]:
        return self.children


class File(Node):
    writable = False

    def content(self) -> bytes:
        raise NotImplementedError


class Link(Node):
    kind = LINK

    def target(self) -> str:
        raise NotImplementedError


class Listing:
    """A directory's entries, fetched from AWS page by page and kept in order.

    ``fetch(token) -> (entries, next_token)`` loads one page; each entry is ``(name, value)``.
    Entries are de-duplicated by name (a Scan may show a partition more than once). The
    listing is shared by every reader of the directory while it is cached; pages are fetched
    only as far as somebody reads.
    """

    def __init__(self, fetch: Callable[[Any], tuple[list[tuple[str, Any]], Any]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self.names: list[str] = []
        self.index: dict[str, Any] = {}
        self.complete = False
        self.pages = 0
        self._token: Any = None

    def _fetch_page(self) -> None:
        # caller holds the lock
        entries, token = self._fetch(self._token)
        self.pages += 1
        for name, value in entries:
            if name not in self.index:
                self.names.append(name)
            self.index[name] = value
        self._token = token
        if not token:
            self.complete = True

    def ensure(self, count: Optional[int] = None) -> None:
        """Fetch pages until ``count`` entries are known (all of them when None)."""
        with self._lock:
            while not self.complete and (count is None or len(self.names) < count):
                self._fetch_page()

    def iter_from(self, offset: int) -> Iterator[tuple[str, Any]]:
        i = offset
        while True:
            self.ensure(i + 1)
            with self._lock:
                if i >= len(self.names):
                    return
                name = self.names[i]
                value = self.index[name]
            yield name, value
            i += 1

    def all(self) -> dict[str, Any]:
        self.ensure()
        return self.index

    def lookup(self, name: str) -> tuple[bool, Any]:
        """``(known, value)``: known is True when the answer is definite without fetching."""
        with self._lock:
            if name in self.index:
                return True, self.index[name]
            return self.complete, None


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        if o.tzinfo is None:
            o = o.replace(tzinfo=timezone.utc)
        return o.isoformat()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, (bytes, bytearray)):
        return o.decode("utf-8", "replace")
    if isinstance(o, set):
        return sorted(o)
    return str(o)


def render_json(obj: Any) -> bytes:
    """2-space indent, sorted keys, ISO 8601 timestamps, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=_json_default, ensure_ascii=False) + "\n").encode()


def line(text: Any) -> bytes:
    return f"{text}\n".encode()
