"""Open files and the local overlay.

* :class:`Handle` — one open file: the buffer being read or written and what the writer's content
  is based on (for conditional saves). A document is committed from the whole buffer only.
* :class:`Overlay` — what exists here and not (yet) in AWS: editor scratch files (``.x.swp``,
  ``x~``, ``sedXXXXXX``), files being created (committed on flush/fsync, then dropped), partition
  directories made for a copy, and *whiteouts*: an item renamed to a scratch name (an editor's
  backup) is hidden for a short while, so the editor's re-create of it is a new file whose failure
  can be undone locally. Nothing in the overlay is ever sent to AWS by itself.
"""
from __future__ import annotations

import collections
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .errors import FsError
from .nodes import SCRATCH_BYTES, File

__all__ = ["Handle", "LocalFile", "Overlay", "Spool"]

WHITEOUT_SECONDS = 30.0
SERVED_KEEP = 10000   # paths whose readers are remembered
READERS_KEEP = 64     # readers remembered per path


class Spool:
    """The bytes a writer is writing: in memory up to ``MEMORY``, then in a temporary file on local
    disk (a large file being written does not grow the daemon). Reads like ``bytes`` (``len``,
    slices, ``bytes(spool)``); written at offsets. Callers serialise access (the handle's lock)."""

    MEMORY = 8 << 20
    _ZEROS = 1 << 20

    def __init__(self, data: bytes = b"") -> None:
        self._mem: Optional[bytearray] = bytearray(data)
        self._file: Optional[Any] = None
        self._len = len(data)
        if self._len > self.MEMORY:
            self._to_disk()
        #: the lowest offset changed since :meth:`mark` (a part sent early is stale if below it)
        self.low = 1 << 62
        #: changes so far (a save knows whether the content it sent is still all of it)
        self.writes = 0
        #: what was sent of it before the save (an upload in parts), owned by the node that sent it
        self.early: Any = None

    def mark(self) -> None:
        self.low = 1 << 62

    def _to_disk(self) -> None:
        f = tempfile.TemporaryFile()
        assert self._mem is not None
        f.write(self._mem)
        self._file, self._mem = f, None

    def __len__(self) -> int:
        return self._len

    def __bytes__(self) -> bytes:
        return self.read(0, self._len)

    def __getitem__(self, s: slice) -> bytes:
        start, stop, _ = s.indices(self._len)
        return self.read(start, max(0, stop - start))

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self._len or size <= 0:
            return b""
        if self._mem is not None:
            return bytes(self._mem[offset:offset + size])
        self._file.seek(offset)
        return self._file.read(min(size, self._len - offset))

    def write(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        self.low = min(self.low, offset)
        self.writes += 1
        if self._mem is not None and max(end, self._len) > self.MEMORY:
            self._to_disk()
        if self._mem is not None:
            if offset > self._len:
                self._mem.extend(bytes(offset - self._len))
            self._mem[offset:end] = data
        else:
            if offset > self._len:
                self._zero_fill(offset)
            self._file.seek(offset)
            self._file.write(data)
        self._len = max(self._len, end)

    def _zero_fill(self, end: int) -> None:
        self._file.seek(self._len)
        while self._len < end:
            n = min(self._ZEROS, end - self._len)
            self._file.write(bytes(n))
            self._len += n

    def truncate(self, length: int) -> None:
        self.low = min(self.low, length)
        self.writes += 1
        if length > self._len:
            self.write(length, b"")
        elif self._mem is not None:
            del self._mem[length:]
        else:
            self._file.truncate(length)
        self._len = length

    def on_disk(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        """No longer needed: what was sent of it early is dropped (an unfinished upload is aborted)."""
        early, self.early = getattr(self, "early", None), None
        if early:
            early.drop()
        if self._file is not None:
            self._file.close()

    __del__ = close


Buffer = Union[bytes, Spool]


@dataclass
class LocalFile:
    """A file that lives only in this mount (scratch) or is being created (``node`` is set)."""

    data: Spool
    mtime: float
    node: Optional[File] = None        # pending: the AWS thing this file becomes when committed
    base: Optional[bytes] = None       # pending: what it replaces, as the writer saw it
    opens: int = 0
    refused: Optional[FsError] = None  # a write to it was refused: it is never committed
    saved: bool = False                # pending: committed at least once
    max_bytes: int = SCRATCH_BYTES     # scratch: what it may hold (its directory's ``scratch_bytes``)


@dataclass
class Handle:
    node: Optional[File]
    path: str
    data: Buffer                       # a reader's copy (bytes), a writer's spool
    base: Optional[bytes]              # what the writer saw (None: a new file)
    writing: bool
    local: Optional[LocalFile] = None  # set when the file lives in the overlay
    dirty: bool = False
    failed: Optional[tuple[bytes, FsError]] = None   # last failed commit: same bytes -> same error
    refused: Optional[FsError] = None  # a write was refused: this buffer is never committed
    early: Optional[tuple[Optional[bytes]]] = None   # a one-line value committed early: what it replaced
    removed: bool = False              # rm removed its name while it was open: never committed
    mtime: Optional[float] = None      # when last written through this handle, then when saved
    append: bool = False               # O_APPEND: every write goes at the end of the buffer
    live: bool = False                 # reads go to the node each time (streamed or volatile content)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Overlay:
    def __init__(self) -> None:
        self.files: dict[str, LocalFile] = {}
        self.dirs: set[str] = set()
        self._whiteouts: dict[str, tuple[float, Optional[bytes]]] = {}
        self._served: collections.OrderedDict[str, dict[tuple[str, int], bytes]] = collections.OrderedDict()
        self.lock = threading.RLock()

    # what each path last showed each reader: the base of that reader's later save
    def seen(self, path: str, who: tuple[int, int], data: bytes) -> bytes:
        """Remember that process ``who[0]`` (of session ``who[1]``) read (or saved) ``data`` at ``path``."""
        with self.lock:
            readers = self._served.get(path)
            if readers is None:
                readers = self._served[path] = {}
                while len(self._served) > SERVED_KEEP:
                    self._served.popitem(last=False)
            else:
                self._served.move_to_end(path)
            pid, sid = who
            readers[("pid", pid)] = data
            if sid:
                readers[("sid", sid)] = data
            if len(readers) > READERS_KEEP:  # many short-lived readers of one path: the oldest go
                for k in list(readers)[:len(readers) - READERS_KEEP]:
                    del readers[k]
            return data

    def base_for(self, path: str, who: tuple[int, int]) -> Optional[bytes]:
        """What ``who`` last read at ``path``: that process's own reading, else its session's
        (``cat f``, edit a copy, ``cp copy f`` are one session's commands); None if neither read it."""
        with self.lock:
            readers = self._served.get(path)
            if readers is None:
                return None
            pid, sid = who
            got = readers.get(("pid", pid))
            if got is None and sid:
                got = readers.get(("sid", sid))
            return got

    def forget_served(self, path: str, who: tuple[int, int]) -> None:
        """``who`` removed or moved what was at ``path``: its own reading of it is over. Other
        readers keep theirs, so their saves based on it are refused (ESTALE), not applied over
        what is there now."""
        with self.lock:
            readers = self._served.get(path)
            if readers is None:
                return
            pid, sid = who
            readers.pop(("pid", pid), None)
            if sid:
                readers.pop(("sid", sid), None)
            if not readers:
                del self._served[path]

    def whiteout(self, path: str, base: Optional[bytes]) -> None:
        with self.lock:
            self._whiteouts[path] = (time.monotonic() + WHITEOUT_SECONDS, base)

    def whiteout_of(self, path: str) -> Optional[tuple[float, Optional[bytes]]]:
        if not self._whiteouts:  # the common case, without taking the lock
            return None
        with self.lock:
            w = self._whiteouts.get(path)
            if w is not None and w[0] < time.monotonic():
                del self._whiteouts[path]
                return None
            return w

    def clear_whiteout(self, path: str) -> None:
        with self.lock:
            self._whiteouts.pop(path, None)

    def children(self, dirpath: str) -> list[str]:
        """Names the overlay adds in ``dirpath``."""
        prefix = dirpath.rstrip("/") + "/"
        with self.lock:
            names = [p[len(prefix):] for p in list(self.files) + list(self.dirs) if p.startswith(prefix)]
        return [n for n in names if "/" not in n]

    def hidden(self, dirpath: str) -> set[str]:
        prefix = dirpath.rstrip("/") + "/"
        with self.lock:
            return {p[len(prefix):] for p in list(self._whiteouts) if p.startswith(prefix) and self.whiteout_of(p)}
