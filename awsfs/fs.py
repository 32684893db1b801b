"""The filesystem in path terms: what FUSE asks, answered from nodes, handles and the cache.

No FUSE and no botocore here, so every behaviour can be driven in a test without a mount.
Methods raise :class:`~awsfs.errors.FsError`; the adapter turns it into an errno.
"""
from __future__ import annotations

import collections
import errno
import hashlib
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from .aws import Aws, current_path
from .cache import Cache
from .errors import FsError, RemoteError
from .nodes import DIR, FILE, LINK, Dir, File, Link, Node
from .router import Router
from .services import dynamo, ec2, elb, meta

__all__ = ["ErrorLog", "Filesystem", "Stat", "ROUTES"]

log = logging.getLogger("awsfs.fs")

#: The whole tree: path patterns -> node factories, in match order.
ROUTES = meta.ROUTES + ec2.ROUTES + dynamo.ROUTES + elb.ROUTES


@dataclass(frozen=True)
class Stat:
    kind: str
    mode: int
    size: int
    mtime: float
    ino: int
    uid: int
    gid: int
    nlink: int = 1


class ErrorLog:
    """Recent failures, newest last: what ``/.awsfs/errors`` shows."""

    def __init__(self, keep: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, path: str, op: str, err: FsError) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        name = errno.errorcode.get(err.errno or errno.EIO, str(err.errno))
        text = f"{when} {op} {path}: {name}: {err.reason}"
        with self._lock:
            self._lines.append(text)
        log.warning("operation failed", extra={"event": "error", "path": path, "op": op,
                                               "errno": name, "reason": err.reason})

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)


class Handle:
    """One open file: a snapshot of the content, and (for writers) the buffer being written."""

    def __init__(self, node: Node, data: bytes, writing: bool) -> None:
        self.node = node
        self.base = data
        self.data = bytearray(data)
        self.writing = writing
        self.dirty = False
        self.lock = threading.Lock()


def recorded(func):
    """Failures other than a plain "no such entry" go to the errors file and the log."""
    import functools

    @functools.wraps(func)
    def wrapper(self: "Filesystem", path: str, *args: Any, **kw: Any) -> Any:
        current_path.set(path)
        try:
            return func(self, path, *args, **kw)
        except FsError as e:
            if e.errno != errno.ENOENT or isinstance(e, RemoteError):
                self.errors.add(path, func.__name__, e)
            raise
    return wrapper


def ino_of(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(),
                          "little") >> 1 or 1


class Filesystem:
    def __init__(self, aws: Aws, regions: list[str], cache_ttl: float = 60.0, read_only: bool = False,
                 uid: Optional[int] = None, gid: Optional[int] = None, endpoint_url: Optional[str] = None) -> None:
        self.aws = aws
        self.regions = list(regions)
        self.cache = Cache(cache_ttl)
        self.read_only = read_only
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self.endpoint_url = endpoint_url
        self.router = Router(ROUTES)
        self.errors = ErrorLog()
        self.started = time.time()
        self._stamps: dict[str, tuple[bytes, float]] = {}
        self._stamp_lock = threading.Lock()
        self._handles: dict[int, Handle] = {}
        self._next_fh = 1
        self._hlock = threading.Lock()
        self._account: Optional[str] = None

    # -- lookup ---------------------------------------------------------------------------------
    def node(self, path: str) -> Node:
        current_path.set(path)
        node = self.router.resolve(self, path)
        node.check()
        return node

    def _mtime(self, path: str, node: Node, content: bytes) -> float:
        """Stable mtime: AWS's own time if it keeps one, else when this content was first seen."""
        digest = hashlib.blake2b(content, digest_size=16).digest()
        with self._stamp_lock:
            seen = self._stamps.get(path)
            if seen is not None and seen[0] == digest:
                return seen[1]
        hint = node.mtime_hint()
        when = time.time() if seen is not None or hint is None else hint
        if seen is None and hint is None:
            when = self.started if path.startswith("/.awsfs") else time.time()
        with self._stamp_lock:
            self._stamps[path] = (digest, when)
        return when

    def stat_node(self, path: str, node: Node) -> Stat:
        if isinstance(node, Dir):
            return Stat(DIR, stat.S_IFDIR | 0o755, 0, self.started, ino_of(path), self.uid, self.gid, 2)
        if isinstance(node, Link):
            target = node.target()
            return Stat(LINK, stat.S_IFLNK | 0o777, len(target), self.started, ino_of(path), self.uid, self.gid)
        assert isinstance(node, File)
        data = node.content()
        mode = 0o644 if node.writable and not self.read_only else 0o444
        return Stat(FILE, stat.S_IFREG | mode, len(data), self._mtime(path, node, data), ino_of(path),
                    self.uid, self.gid)

    @recorded
    def getattr(self, path: str, fh: Optional[int] = None) -> Stat:
        if fh is not None:
            h = self._handles.get(fh)
            if h is not None:
                st = self.stat_node(path, h.node) if not isinstance(h.node, File) else None
                if st is None:
                    with h.lock:
                        size = len(h.data)
                    mode = 0o644 if h.node.writable and not self.read_only else 0o444  # type: ignore
                    return Stat(FILE, stat.S_IFREG | mode, size, self._mtime(path, h.node, bytes(h.data)),
                                ino_of(path), self.uid, self.gid)
                return st
        return self.stat_node(path, self.node(path))

    def readdir(self, path: str, offset: int = 0) -> Iterator[tuple[str, int, int, int]]:
        """``(name, mode, ino, next_offset)`` from ``offset`` on; "." and ".." come first."""
        try:
            yield from self._readdir(path, offset)
        except FsError as e:
            if e.errno != errno.ENOENT or isinstance(e, RemoteError):
                self.errors.add(path, "readdir", e)
            raise

    def _readdir(self, path: str, offset: int) -> Iterator[tuple[str, int, int, int]]:
        node = self.node(path)
        if not isinstance(node, Dir):
            raise FsError(errno.ENOTDIR, f"{path}: not a directory")
        if offset <= 0:
            yield ".", stat.S_IFDIR | 0o755, ino_of(path), 1
        if offset <= 1:
            parent = os.path.dirname(path.rstrip("/")) or "/"
            yield "..", stat.S_IFDIR | 0o755, ino_of(parent), 2
        base = path.rstrip("/")
        n = max(offset, 2)
        for name, kind in node.entries_from(n - 2):
            n += 1
            mode = {DIR: stat.S_IFDIR | 0o755, LINK: stat.S_IFLNK | 0o777}.get(kind, stat.S_IFREG | 0o644)
            yield name, mode, ino_of(f"{base}/{name}"), n

    def listdir(self, path: str) -> list[str]:
        return [name for name, *_ in self.readdir(path) if name not in (".", "..")]

    @recorded
    def readlink(self, path: str) -> str:
        node = self.node(path)
        if not isinstance(node, Link):
            raise FsError(errno.EINVAL, f"{path}: not a symbolic link")
        return node.target()

    # -- open files -----------------------------------------------------------------------------
    @recorded
    def open(self, path: str, flags: int) -> int:
        node = self.node(path)
        if isinstance(node, Dir):
            raise FsError(errno.EISDIR, f"{path}: is a directory")
        if not isinstance(node, File):
            raise FsError(errno.ELOOP, f"{path}: is a symbolic link")
        writing = (flags & os.O_ACCMODE) != os.O_RDONLY
        if writing:
            raise FsError(errno.EROFS if self.read_only else errno.EACCES,
                          f"{path}: {'read-only mount' if self.read_only else 'this file cannot be written'}")
        return self._add_handle(Handle(node, node.content(), writing))

    def _add_handle(self, h: Handle) -> int:
        with self._hlock:
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = h
            return fh

    def handle(self, fh: int) -> Handle:
        h = self._handles.get(fh)
        if h is None:
            raise FsError(errno.EBADF, "bad file handle")
        return h

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        h = self.handle(fh)
        with h.lock:
            return bytes(h.data[offset:offset + size])

    def release(self, path: str, fh: int) -> None:
        with self._hlock:
            self._handles.pop(fh, None)

    def is_volatile(self, path: str) -> bool:
        """Files whose content changes by itself (read with direct I/O)."""
        return path.startswith("/.awsfs/")

    # -- the mount's own files -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "account": self.account(),
            "endpoint": self.endpoint_url or "(AWS default)",
            "regions": self.regions,
            "read_only": self.read_only,
            "cache": {"ttl_seconds": self.cache.ttl, "entries": len(self.cache), "hits": self.cache.hits,
                      "misses": self.cache.misses},
            "aws_calls": dict(sorted(self.aws.calls.items())),
            "aws_calls_total": self.aws.total_calls(),
            "aws_failures": dict(sorted(self.aws.failures.items())),
            "errors": len(self.errors.lines()),
            "open_files": len(self._handles),
        }

    def account(self) -> str:
        if self._account is None:
            try:
                region = self.regions[0] if self.regions else "us-east-1"
                self._account = self.aws.call("sts", region, "GetCallerIdentity")["Account"]
            except FsError as e:
                return f"unknown ({e.reason})"
        return self._account
