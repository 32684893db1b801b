"""What a node gets to work with: :class:`Context`, the narrow view of a mount.

A node renders AWS state and plans mutations; for that it needs the AWS choke point, the cache,
the regions served, who is asking (pid, session), the memo of rendered documents, and a way to
look at another path of the tree (a load balancer's member is an EC2 instance). It never sees the
:class:`~awsfs.fs.Filesystem` (open files, the overlay, the commit policy): those are path
semantics, not service logic.
"""
from __future__ import annotations

import collections
import errno
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from .aws import current_path
from .cache import Cache, Memo
from .errors import FsError

if TYPE_CHECKING:  # pragma: no cover
    from .aws import Aws
    from .nodes import Node

__all__ = ["Context", "ErrorLog"]

log = logging.getLogger("awsfs.fs")

RENDERED_BYTES = 32 << 20  # rendered documents kept for reuse, in all


class ErrorLog:
    """Recent failures, newest last: what ``/.awsfs/errors`` shows."""

    def __init__(self, keep: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self.written = 0  # lines ever added (the errors file grows by this; old lines drop off the front)

    def add(self, path: str, op: str, err: FsError) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        name = errno.errorcode.get(err.errno or errno.EIO, str(err.errno))
        text = f"{when} {op} {path}: {name}: {err.reason}"
        with self._lock:  # (close() repeating its write's or fsync's refusal re-raises that error, recorded once)
            self._lines.append(text)
            self.written += 1
        log.warning("operation failed", extra={"event": "error", "path": path, "op": op,
                                               "errno": name, "reason": err.reason})

    def note(self, path: str, op: str, text: str) -> None:
        """A line that is not a failure but that the user must see (a secret scheduled for deletion)."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            self._lines.append(f"{when} {op} {path}: note: {text}")
            self.written += 1
        log.info("note", extra={"event": "note", "path": path, "op": op, "reason": text})

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)


class Context:
    """The mount as a node sees it (one per mount)."""

    def __init__(self, aws: "Aws", regions: list[str], cache_ttl: float, read_only: bool = False) -> None:
        self.aws = aws
        self.regions = list(regions)
        self.read_only = read_only
        #: the pid of the process behind the request being served (0: unknown); the FUSE adapter
        #: sets it, and lookups use that process's command line to fetch named files together
        self.caller_pid: Callable[[], int] = lambda: 0
        self.mountpoint = ""  #: where it is mounted (absolute; "" when not mounted)
        self.cache = Cache(cache_ttl, caller=lambda: self.caller_pid())
        self.errors = ErrorLog()
        #: path -> (stored value, rendered bytes): a document rendered once while AWS is unchanged
        self.rendered = Memo(20_000, RENDERED_BYTES)
        self.started = time.time()
        #: facts about the mount for ``/.awsfs/status`` (binding, endpoint, open files, ...)
        self.facts: dict[str, Callable[[], Any]] = {}
        #: the mount's settings a service reads (``logs_since``: how far back a log file starts)
        self.settings: dict[str, Any] = {}
        self._resolve: Callable[[str], "Node"] = lambda path: (_ for _ in ()).throw(FsError(errno.ENOENT, path))
        self._refresh: Callable[[str], None] = lambda path: None
        self._account: Optional[str] = None

    def reader(self) -> tuple[int, int]:
        """(pid, session id) of the process behind this request."""
        pid = self.caller_pid()
        try:
            return pid, os.getsid(pid) if pid > 0 else 0
        except OSError:
            return pid, 0

    def lookup(self, path: str) -> "Node":
        """The checked node at another ``path`` of the tree; AWS calls made for it are still logged
        under the path the user touched."""
        token = current_path.set(current_path.get())
        try:
            return self._resolve(path)
        finally:
            current_path.reset(token)

    def refresh(self, path: str) -> None:
        self._refresh(path)

    def account(self) -> str:
        if self._account is None:
            try:
                region = self.regions[0] if self.regions else "us-east-1"
                self._account = self.aws.call("sts", region, "GetCallerIdentity")["Account"]
            except FsError as e:
                return f"unknown ({e.reason})"
        return self._account
