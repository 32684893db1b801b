"""The filesystem in path terms: what FUSE asks, answered from nodes, handles and the cache.

No FUSE and no botocore here, so every behaviour can be driven in a test without a mount.
Methods raise :class:`~awsfs.errors.FsError`; the adapter turns it into an errno.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import signal
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from . import services
from .aws import Aws, current_path, offline
from .caller import killed
from .cache import Memo
from .context import Context, ErrorLog
from .errors import FsError, InputError
from .handles import Buffer, Handle, LocalFile, Overlay, Spool
from .transaction import Transactions
from .nodes import DIR, FILE, LINK, SCRATCH_BYTES, Dir, File, Link, Node, Version
from .router import Router

__all__ = ["ErrorLog", "Filesystem", "Stat", "ROUTES"]

log = logging.getLogger("awsfs.fs")

#: The whole tree: path patterns -> node factories, in match order (from the list of services).
ROUTES = services.routes()


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
    volatile: bool = False  # of a file whose content changes by itself: never reused

    @functools.cached_property
    def as_dict(self) -> dict[str, int]:
        """The attributes as the FUSE binding takes them (computed once per Stat)."""
        ns = int(self.mtime * 1e9)
        return {"st_mode": self.mode, "st_size": self.size, "st_nlink": self.nlink, "st_ino": self.ino,
                "st_uid": self.uid, "st_gid": self.gid, "st_mtime": ns, "st_ctime": ns, "st_atime": ns,
                "st_blocks": (self.size + 511) // 512, "st_blksize": 4096}


_UNREMARKABLE = {errno.ENOENT, errno.EXDEV}  # "no such entry"; mv's way of asking to copy


def recorded(func):
    """Failures go to the errors file and the log (not "no such entry", nor mv's EXDEV)."""

    two_paths = func.__name__ in ("rename", "symlink")  # name both: "sed4gRnr2 -> item.json"

    @functools.wraps(func)
    def wrapper(self: "Filesystem", path: str, *args: Any, **kw: Any) -> Any:
        current_path.set(path)
        try:
            return func(self, path, *args, **kw)
        except FsError as e:
            if e.errno not in _UNREMARKABLE and not getattr(e, "recorded", False):
                self.errors.add(f"{path} -> {args[0]}" if two_paths and args else path,
                                func.__name__.strip("_").replace("set_user_xattr", "setxattr"), e)
                e.recorded = True  # type: ignore[attr-defined]  # close() repeating fsync's error
            raise
    return wrapper


def ino_of(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(),
                          "little") >> 1 or 1


STAT_MEMO_SECONDS = 1.0
SAVE_LOCKS = 64  # saves of paths that share one of these locks take turns
#: the token of a stamp set by a save (see Filesystem._saved): the next content seen is the saved one
SAVED = object()
LOCAL_OFFSET = 1 << 40  # readdir offsets of overlay entries start here


def _volatile(value: Any) -> bool:
    """Whether a computed node (or the attributes of one) must not be reused: its file changes by itself."""
    return getattr(value, "volatile", False)


class _EmptyDir(Dir):
    """A directory made here (mkdir) that AWS does not have yet."""

    def entries(self):
        return []


class Filesystem:
    def __init__(self, aws: Aws, regions: list[str], cache_ttl: float = 60.0, read_only: bool = False,
                 uid: Optional[int] = None, gid: Optional[int] = None, endpoint_url: Optional[str] = None) -> None:
        self.ctx = Context(aws, regions, cache_ttl, read_only)
        self.aws = aws
        self.regions = self.ctx.regions
        self.cache = self.ctx.cache
        self.read_only = read_only
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self.endpoint_url = endpoint_url
        self.router = Router(ROUTES)
        self.errors = self.ctx.errors
        self.started = self.ctx.started
        # bounded memories of derived answers (see cache.Memo)
        self._stamps = Memo(200_000)      # path -> (content digest, mtime)
        self._stat_memo = Memo(100_000)   # path -> (None, (cache places read, cache version, when, Stat))
        self.rendered = self.ctx.rendered
        self._node_memo = Memo(20_000)    # path -> (None, (cache places read, cache version, when, checked node))
        self._handles: dict[int, Handle] = {}
        self._save_locks = [threading.Lock() for _ in range(SAVE_LOCKS)]
        self._dirs: dict[int, dict] = {}  # open directory -> the cache entries its listing is read from
        self._next_fh = 1
        self._hlock = threading.Lock()
        self._writers: dict[str, set[int]] = {}
        self.overlay = Overlay()
        self.tx = Transactions(aws, self.cache, read_only)
        self.binding = "none (not mounted)"  # the FUSE library serving the mount: set by fuse_ops.mount
        self.ctx._resolve = self.node
        self.ctx._refresh = self.refresh
        self.ctx.facts.update(endpoint=lambda: self.endpoint_url or "(AWS default)", binding=lambda: self.binding,
                              open_files=self._open_files)

    def _open_files(self) -> int:
        """Open files of AWS things (not the mount's own files being read, such as the status itself)."""
        return sum(1 for h in list(self._handles.values()) if h.node is None or not h.node.volatile)

    @property
    def caller_pid(self) -> Callable[[], int]:
        """The pid of the process behind the request being served (0: unknown): the FUSE adapter
        sets it; lookups use that process's command line to fetch named files together."""
        return self.ctx.caller_pid

    @caller_pid.setter
    def caller_pid(self, get: Callable[[], int]) -> None:
        self.ctx.caller_pid = get

    @property
    def mountpoint(self) -> str:
        """Where it is mounted (absolute; "" when not mounted): set by fuse_ops.mount."""
        return self.ctx.mountpoint

    @mountpoint.setter
    def mountpoint(self, path: str) -> None:
        self.ctx.mountpoint = path

    # -- lookup ---------------------------------------------------------------------------------
    def node(self, path: str) -> Node:
        """The checked node for ``path``; reused while the cache is unchanged (a lookup, a
        getattr, an open and a read of one file resolve and check it once)."""
        current_path.set(path)
        return self._reused(self._node_memo, path, self._checked)

    def _checked(self, path: str) -> Node:
        node = self.router.resolve(self.ctx, path)
        node.check()
        return node

    def _reused(self, memo: Memo, path: str, compute: Callable[[str], Any]) -> Any:
        """``compute(path)``, reused for up to a second while the cache entries it was computed
        from are unchanged (a change elsewhere keeps it), never for a file whose content changes
        by itself. A hit is on every ``stat``: it takes no lock."""
        now = time.monotonic()
        hit = memo.get(path, None)
        if hit is not None and now - hit[2] < STAT_MEMO_SECONDS and self.cache.unchanged(hit[0], hit[1]):
            return hit[3]
        version = self.cache.version
        with self.cache.reading() as places:
            value = compute(path)
        if not _volatile(value):
            memo.put(path, None, (places, version, now, value))
        return value

    def _mtime(self, path: str, node: Node, content: bytes) -> float:
        """Stable mtime: AWS's own time if it keeps one, else when this content was first seen
        (or saved here: the first content seen after a save is the saved one, as rendered)."""
        digest = hashlib.blake2b(content, digest_size=16).digest()
        seen = self._stamps.peek(path)
        if seen is not None and seen[0] is SAVED:
            self._stamps.put(path, digest, seen[1])
            return float(seen[1])
        if seen is not None and seen[0] == digest:
            return float(seen[1])
        hint = node.mtime_hint()
        when = time.time() if seen is not None or hint is None else hint
        if seen is not None:
            when = max(when, float(seen[1]))  # a change never moves the mtime back
        if seen is None and hint is None:
            when = self.started if node.volatile else time.time()
        self._stamps.put(path, digest, when)
        return when

    def _saved(self, path: str, when: float) -> float:
        """A save of ``path`` has just succeeded: its mtime is ``when`` (the writer's last write),
        never earlier than the one it showed before, and stays so once the file is read from AWS
        (even as a re-rendering of what was written, or the same bytes as before the save)."""
        seen = self._stamps.peek(path)
        if seen is not None:
            when = max(when, float(seen[1]))
        self._stamps.put(path, SAVED, when)
        for memo in (self._stat_memo, self._node_memo):  # their attributes are stale (even if AWS is unchanged)
            memo.drop(path)
        return when

    def stat_node(self, path: str, node: Node) -> Stat:
        if isinstance(node, Dir):
            return Stat(DIR, stat.S_IFDIR | 0o755, 0, self.started, ino_of(path), self.uid, self.gid, 2)
        if isinstance(node, Link):
            target = node.target()
            return Stat(LINK, stat.S_IFLNK | 0o777, len(target), self.started, ino_of(path), self.uid, self.gid)
        assert isinstance(node, File)
        mode = (0o644 if node.writable and not self.read_only else 0o444) & node.mode_mask
        if node.streamed:  # its size and time come from AWS's metadata, not from its bytes
            return Stat(FILE, stat.S_IFREG | mode, node.size(), self._streamed_mtime(path, node), ino_of(path),
                        self.uid, self.gid, volatile=node.volatile)
        data = node.content()
        return Stat(FILE, stat.S_IFREG | mode, len(data), self._mtime(path, node, data), ino_of(path),
                    self.uid, self.gid, volatile=node.volatile)

    def _streamed_mtime(self, path: str, node: File) -> float:
        """A streamed file's time: AWS's, except that a writable one keeps the time a save here
        gave it while its version stays (vim compares the time it read with the time it saves)."""
        if node.writable:
            return self._mtime(path, node, node.version().encode())
        hint = node.mtime_hint()
        return self.started if hint is None else hint

    @recorded
    def getattr(self, path: str, fh: Optional[int] = None) -> Stat:
        h = self._handles.get(fh) if fh is not None else None
        # no path: the file is open but its name is gone (removed, or renamed over); the handle
        # still reads what it read
        if h is not None and (h.writing or h.local is not None or not path) and not (h.live and path):
            with h.lock:
                size = len(h.data)
            if h.local is not None:
                mtime = h.local.mtime
            elif h.mtime is not None:  # written through this handle
                mtime = h.mtime
            elif h.dirty or h.node is None:
                mtime = time.time()
            else:
                with h.lock:
                    mtime = self._streamed_mtime(path, h.node) if h.node.streamed else \
                        self._mtime(path, h.node, bytes(h.data))
            mask = h.node.mode_mask if h.node is not None else 0o777  # a secret being saved stays 0600
            return Stat(FILE, stat.S_IFREG | 0o644 & mask, size, mtime, ino_of(path), self.uid, self.gid)
        local = self.overlay.files.get(path)
        if local is not None:
            mask = local.node.mode_mask if local.node is not None else 0o777
            return Stat(FILE, stat.S_IFREG | 0o644 & mask, len(local.data), local.mtime, ino_of(path), self.uid,
                        self.gid)
        if path in self.overlay.dirs:
            return Stat(DIR, stat.S_IFDIR | 0o755, 0, self.started, ino_of(path), self.uid, self.gid, 2)
        if self.overlay.whiteout_of(path):
            raise FsError(errno.ENOENT, f"{path}: no such entry")
        # attributes are derived from cached AWS state: reuse them while the cache is unchanged
        return self._reused(self._stat_memo, path, self._stat_of)

    def _stat_of(self, path: str) -> Stat:
        return self.stat_node(path, self.node(path))

    def listed_attributes(self, path: str) -> Optional[Stat]:
        """The attributes of ``path`` if they can be had without asking AWS (None: they cannot), for
        a listing that sends them along (READDIRPLUS): an entry whose content a listing did not
        keep goes bare instead of costing a call per entry."""
        with offline():
            try:
                return Filesystem.getattr.__wrapped__(self, path)  # not a failure to record
            except FsError:
                return None

    def opendir(self, path: str) -> int:
        """A directory handle: its reads go on over the listing they started with."""
        with self._hlock:
            fh = self._next_fh
            self._next_fh += 1
            self._dirs[fh] = {}
            return fh

    def releasedir(self, path: str, fh: int) -> None:
        with self._hlock:
            self._dirs.pop(fh, None)

    def readdir(self, path: str, offset: int = 0, fh: Optional[int] = None) -> Iterator[tuple[str, int, int, int]]:
        """``(name, mode, ino, next_offset)`` from ``offset`` on; "." and ".." come first.

        Through a directory handle (``fh`` from :meth:`opendir`), every read after the first goes
        on over the same listing: a listing that expires or is dropped meanwhile (a failed write,
        the TTL) is neither mixed with a newer one nor skipped into; reading from 0 starts anew."""
        pins = self._dirs.get(fh) if fh is not None else None
        if pins is None:
            pins = {}
        elif offset == 0:
            pins.clear()  # rewinddir: a new listing
        it = self._readdir(path, offset)
        while True:
            with self.cache.pinned(pins):
                try:
                    entry = next(it)
                except StopIteration:
                    return
                except FsError as e:
                    if e.errno != errno.ENOENT:
                        self.errors.add(path, "readdir", e)
                    raise
            yield entry

    def _readdir(self, path: str, offset: int) -> Iterator[tuple[str, int, int, int]]:
        if path in self.overlay.dirs and not self._exists_remote(path):
            node: Node = _EmptyDir(self.ctx, path)
        else:
            node = self.node(path)
        if not isinstance(node, Dir):
            raise FsError(errno.ENOTDIR, f"{path}: not a directory")
        hidden = self.overlay.hidden(path)
        if offset <= 0:
            yield ".", stat.S_IFDIR | 0o755, ino_of(path), 1
        if offset <= 1:
            parent = os.path.dirname(path.rstrip("/")) or "/"
            yield "..", stat.S_IFDIR | 0o755, ino_of(parent), 2
        base = path.rstrip("/")
        kinds = {DIR: stat.S_IFDIR | 0o755, LINK: stat.S_IFLNK | 0o777}
        if offset < LOCAL_OFFSET:
            n = max(offset, 2)
            for name, kind in node.entries_from(n - 2):
                n += 1
                if name not in hidden and kind is not None:  # None: deleted, its offset kept
                    yield name, kinds.get(kind, stat.S_IFREG | 0o644), ino_of(f"{base}/{name}"), n
        # then what exists only here (scratch files, files being created, new partitions),
        # numbered from LOCAL_OFFSET so that resuming never confuses the two
        extra = LOCAL_OFFSET
        for name in sorted(self.overlay.children(path)):
            child = f"{base}/{name}"
            if name not in hidden and self._exists_remote(child):
                continue  # already listed
            extra += 1
            if extra > offset:
                mode = stat.S_IFDIR | 0o755 if child in self.overlay.dirs else stat.S_IFREG | 0o644
                yield name, mode, ino_of(child), extra

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
        writing = (flags & os.O_ACCMODE) != os.O_RDONLY
        if writing:
            self._writable_mount(path)
        local = self.overlay.files.get(path)
        if local is not None:
            if flags & os.O_TRUNC:
                local.data.truncate(0)
            return self._open_local(path, local, writing, dirty=bool(flags & os.O_TRUNC), flags=flags)
        if self.overlay.whiteout_of(path) and not writing:
            raise FsError(errno.ENOENT, f"{path}: no such entry")
        try:
            node = self.node(path) if not self.overlay.whiteout_of(path) else None
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            if not writing:
                self.overlay.forget_served(path, self.reader())  # it read that there is nothing here
                raise
            node = None
        if node is None:
            # the kernel remembers a name (for entry_timeout) that a failed create left behind,
            # or an editor re-opens a name it renamed away: opening it to write creates it
            return self.create(path, 0o644, flags)
        if isinstance(node, Dir):
            raise FsError(errno.EISDIR, f"{path}: is a directory")
        if not isinstance(node, File):
            raise FsError(errno.ELOOP, f"{path}: is a symbolic link")
        if not writing:
            if node.streamed or node.volatile:  # read as it is served: never a copy
                node = node.reader()
                if node.writable and node.streamed:  # what this reader saw: the base of its later save
                    self.overlay.seen(path, self.reader(), Version(node.version()))
                return self._add_handle(Handle(node, path, b"", None, writing=False, live=True))
            data = self.overlay.seen(path, self.reader(), node.content())
            return self._add_handle(Handle(node, path, data, data, writing=False))
        if not node.writable:
            raise node.read_only_error()
        if node.ctl:
            return self._add_handle(Handle(node, path, b"", None, writing=True))
        trunc = bool(flags & os.O_TRUNC)
        current, spool = self._copy(node, trunc)
        # the writer's base: what it reads through this handle (O_RDWR, O_APPEND), else what this process
        # (or its session) last read at this path (an editor read it earlier and now writes it
        # whole; `cp`/`>` after a `cat`), else what AWS has now (a writer that never read it)
        # (an O_APPEND writer's bytes go after what this handle copied now: that is its base)
        reads_here = ((flags & os.O_ACCMODE) == os.O_RDWR or bool(flags & os.O_APPEND)) and not trunc
        base = current if reads_here else (self.overlay.base_for(path, self.reader()) or current)
        return self._add_handle(Handle(node, path, spool, base, writing=True, dirty=trunc), flags)

    COPY_CHUNK = 8 << 20

    def _copy(self, node: File, empty: bool = False) -> tuple[Buffer, Spool]:
        """(what it is now, as a save's base; a spool holding its content, or nothing when
        ``empty``). A streamed file is copied range by range (to local disk when large) and its
        base is its version."""
        if not node.streamed:
            current = node.content()
            return current, Spool(b"" if empty else current)
        version, spool = Version(node.version()), Spool()
        size = 0 if empty else node.size()
        while len(spool) < size:
            chunk = node.read(len(spool), min(self.COPY_CHUNK, size - len(spool)))
            if not chunk:
                raise FsError(errno.EIO, f"{node.path}: its content ended at {len(spool):,} of {size:,} bytes")
            spool.write(len(spool), chunk)
        return version, spool

    @recorded
    def create(self, path: str, mode: int, flags: int = os.O_WRONLY) -> int:
        self._writable_mount(path)
        parent, name = self._parent(path)
        if len(name.encode("utf-8", "surrogateescape")) > 255:
            raise FsError(errno.ENAMETOOLONG, f"{name[:40]}...: names are at most 255 bytes")
        if path in self.overlay.files:
            return self.open(path, flags | os.O_TRUNC)
        whiteout = self.overlay.whiteout_of(path)
        if parent.is_scratch(name):
            local = LocalFile(Spool(), time.time(), max_bytes=parent.scratch_bytes)
        else:
            if whiteout is None and self._exists_remote(path):
                return self.open(path, (flags & ~os.O_CREAT) | os.O_TRUNC)
            target = parent.child_for_create(name)
            target.created_mode = mode & 0o777
            # what it replaces: an editor's backup of it, else what this writer last read here (an
            # item since deleted: its save is refused, not a silent re-create), else nothing
            base = whiteout[1] if whiteout else self.overlay.base_for(path, self.reader())
            local = LocalFile(Spool(), time.time(), node=target, base=base)
        self.overlay.files[path] = local
        return self._open_local(path, local, writing=True, dirty=False)

    def _open_local(self, path: str, local: LocalFile, writing: bool, dirty: bool, flags: int = 0) -> int:
        with self.overlay.lock:
            local.opens += 1
        return self._add_handle(Handle(local.node, path, local.data, local.base, writing, local=local, dirty=dirty),
                                flags)

    def _add_handle(self, h: Handle, flags: int = 0) -> int:
        h.append = bool(flags & os.O_APPEND)
        with self._hlock:
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = h
            if h.writing:
                self._writers.setdefault(h.path, set()).add(fh)
            return fh

    def handle(self, fh: int) -> Handle:
        h = self._handles.get(fh)
        if h is None:
            raise FsError(errno.EBADF, "bad file handle")
        return h

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        h = self.handle(fh)
        if h.live:
            current_path.set(path)  # the AWS calls a streamed read makes are logged under its path
            return h.node.read(offset, size)  # type: ignore[union-attr]
        with h.lock:
            return bytes(h.data[offset:offset + size])

    @recorded
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        h = self.handle(fh)
        if not h.writing:
            raise FsError(errno.EBADF, f"{path}: not open for writing")
        if h.node is not None and h.node.ctl and h.local is None:
            self._run_ctl(path, h.node, data)
            return len(data)
        with h.lock:
            if h.append:
                offset = len(h.data)  # not the kernel's idea of the size, which may be a second old
            self._within_limit(path, h, offset + len(data))
            h.data.write(offset, data)  # type: ignore[union-attr]
            h.dirty = True
            if h.node is not None and h.node.streamed:
                h.node.written(h.data)  # it may start sending what will not change
        h.mtime = time.time()
        if h.local is not None:
            h.local.mtime = h.mtime
        if h.node is not None and h.node.line_value:
            self._line_value_written(path, h)
        return len(data)

    def _line_value_written(self, path: str, h: Handle) -> None:
        """One-line values (a tag, the type) commit as soon as their line is complete, so that a
        refusal reaches even bash's builtin echo. Should a second line follow, the early commit is
        undone and the write refused: all of the content is saved, or none of it."""
        with h.lock:
            text = bytes(h.data)
        lines = text.count(b"\n")
        complete = lines == 1 and text.endswith(b"\n")
        if complete and h.dirty:
            if h.early is None:
                h.early = (h.local.base if h.local is not None else h.base,)
            self._commit(path, h)
        elif lines > 1 and h.early is None:
            # `echo more >> tags/k`, or a second line before the first was complete
            h.refused = InputError(errno.EINVAL, "a value is one line, this write makes it more: nothing changed")
            raise h.refused
        elif lines > 1 and h.early is not None:
            before, committed = h.early[0], (h.local.base if h.local is not None else h.base)
            h.early = None
            try:
                if before is None:  # the value did not exist before this write
                    parent, name = self._parent(path)
                    self.tx.run(path, parent.plan_unlink(name))
                else:
                    self.tx.run(path, h.node.plan(committed, before))  # type: ignore[union-attr]
            except FsError as e:
                raise FsError(errno.EIO, "a value is one line, this write has more; its first line, applied as "
                              f"soon as it was written, could not be undone ({e.reason}): the value now is "
                              "that first line") from e
            if h.local is not None:
                h.local.base = before
            h.base = before
            raise InputError(errno.EINVAL, "a value is one line, this write has more: nothing changed (its first "
                                           "line, applied as soon as it was written, was undone)")

    def _within_limit(self, path: str, h: Handle, size: int) -> None:
        """Refuse, at the first write past it, a file larger than its kind allows: nothing is
        buffered beyond the limit (memory stays bounded whatever is written)."""
        node = h.node if h.local is None or h.local.node is not None else None
        limit = node.max_bytes if node is not None else h.local.max_bytes if h.local is not None else SCRATCH_BYTES
        if size > limit:
            what = "this file" if node is None else ("a value" if node.line_value else "this file")
            h.refused = InputError(errno.EFBIG, f"{what} holds at most {limit:,} bytes; this content is not saved "
                                   "(nothing was changed in AWS)")
            if h.local is not None:
                h.local.refused = h.refused  # renamed onto an item later (sed -i), it is not saved either
            raise h.refused

    def _run_ctl(self, path: str, node: File, data: bytes) -> None:
        if len(data) > node.max_bytes:
            raise InputError(errno.EINVAL, f"ctl takes short verbs, one per line (at most {node.max_bytes} bytes "
                             "at a time)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(errno.EINVAL, "ctl takes text verbs, one per line") from None
        for line in text.splitlines():
            if line.strip():
                self.tx.run(path, node.plan_line(line))

    @recorded
    def truncate(self, path: str, length: int, fh: Optional[int] = None) -> None:
        self._writable_mount(path)
        if fh is not None:
            targets = [self.handle(fh)]
        else:
            with self._hlock:
                targets = [self._handles[f] for f in self._writers.get(path, ()) if f in self._handles]
        local = self.overlay.files.get(path)
        if local is not None:
            if length > len(local.data):
                for h in targets:
                    self._within_limit(path, h, length)
            local.data.truncate(length)
            for h in targets:
                h.dirty = True
            return
        if not targets:
            node = self.node(path)
            if isinstance(node, File) and node.writable and (node.ctl or length == node.size()):
                return
            raise FsError(errno.EPERM if isinstance(node, File) and node.writable else errno.EACCES,
                          f"{path}: awsfs saves whole files; open the file and write it instead of truncating")
        for h in targets:
            if h.node is not None and h.node.ctl:
                continue
            self._within_limit(path, h, length)
            with h.lock:
                h.data.truncate(length)  # type: ignore[union-attr]
                h.dirty = True

    @recorded
    def flush(self, path: str, fh: int) -> None:
        h = self.handle(fh)
        if h.writing and h.refused is None and (h.dirty or h.local is not None and h.local.node is not None):
            sig = killed(self.ctx.caller_pid())
            if sig:  # the kernel closing a killed writer's files: what it wrote is not finished
                h.refused = FsError(errno.EINTR, f"the writer was killed ({signal.Signals(sig).name}) before it "
                                    "closed the file: nothing of what it wrote was saved")
                if h.local is not None:
                    h.local.refused = h.refused  # (renamed later, it is not saved either)
                if h.dirty:
                    self.ctx.errors.add(path, "close", h.refused)
                h.dirty = False
                return
        self._commit(path, h)

    @recorded
    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._commit(path, self.handle(fh), syncing=True)

    def _commit(self, path: str, h: Handle, syncing: bool = False) -> None:
        """Commit a complete buffer: only when written to and not empty, never from release."""
        if not h.writing or not h.dirty or h.node is None or h.node.ctl and h.local is None:
            return
        if h.removed or not path or h.local is not None and self.overlay.files.get(path) is not h.local:
            return  # removed (or renamed away, or over) while open: nothing of it may reach AWS
        with h.lock:
            data: Buffer = h.data if h.node.streamed else bytes(h.data)  # type: ignore[assignment]
            writes = getattr(h.data, "writes", None)  # a write after this copy keeps the handle dirty
        sig = (id(data), writes) if h.node.streamed else data  # what the last failure was for
        base = h.local.base if h.local is not None else h.base
        if not len(data) and h.refused is None and not (h.node.empty_ok and base is None):
            if syncing:  # an editor saving an emptied buffer: say so instead of pretending
                raise InputError(errno.EINVAL, f"{path}: an empty file cannot be saved (nothing was changed "
                                 "in AWS); to delete it, rm the file")
            return
        if h.refused is not None:
            raise h.refused  # what the writer was told at write(): the buffer is incomplete
        if h.failed is not None and h.failed[0] == sig:
            raise h.failed[1]
        try:
            # a streamed file is saved from its spool itself: its writers wait until the save is done
            with self.saving(path), (h.lock if h.node.streamed else contextlib.nullcontext()):
                self.tx.run(path, h.node.plan(base, data))
                # the mtime the writer sees now (from its open file) is the file's from now on
                h.mtime = self._saved(path, h.local.mtime if h.local is not None else h.mtime or time.time())
        except FsError as e:
            # the answer for these bytes through this handle: a close() after a failed write() or
            # fsync() says the same, and does not quietly try again (and succeed behind the
            # error the writer was given); a new open tries anew
            h.failed = (sig, e)
            # after a conflict the base stays what the writer saw: an editor's attempt to put its
            # backup back must not overwrite the other change (reading the file again moves it)
            raise
        h.failed = None
        h.dirty = getattr(h.data, "writes", None) != writes  # written to meanwhile: the next flush saves that
        saved = self._saved_as(h.node, data)
        h.base = saved
        self.overlay.dirs.discard(os.path.dirname(path))  # a partition made by mkdir now exists in AWS
        if h.local is not None:
            h.local.mtime = h.mtime
            h.local.base = saved
            h.local.saved = True
        self.overlay.clear_whiteout(path)
        self.overlay.seen(path, self.reader(), saved)

    @staticmethod
    def _saved_as(node: File, data: Any) -> Any:
        """What a writer that has just saved ``data`` has seen: the base of its next save."""
        return Version(node.version()) if node.streamed else data

    def release(self, path: str, fh: int) -> None:
        with self._hlock:
            h = self._handles.pop(fh, None)
            if h is not None and h.writing:
                fhs = self._writers.get(h.path)
                if fhs is not None:
                    fhs.discard(fh)
                    if not fhs:
                        del self._writers[h.path]
        if h is None:
            return
        if h.local is None:
            if h.writing and isinstance(h.data, Spool):
                h.data.close()  # a writer's own spool: nothing of it is needed any more
            return
        with self.overlay.lock:
            h.local.opens -= 1
            # a file being created leaves the overlay once closed: committed, AWS has it; if not, it is gone
            done = h.local.node is not None and h.local.opens <= 0 and self.overlay.files.get(h.path) is h.local
            if done:
                del self.overlay.files[h.path]
        if done:
            if h.local.node.empty_ok and h.local.base is None and not h.local.data.writes and not h.local.saved \
                    and h.refused is None:
                self._create_empty(h.path, h.local.node)  # touch NEW: created once nothing can be written
            h.local.data.close()

    @recorded
    def _create_empty(self, path: str, node: File) -> None:
        """A new file closed without a write, where an empty one is a thing (an S3 object): made at
        release, so that a writer's early close (bash's `>` flushes before it writes) never shows
        an empty object first. A failure goes to the errors file (release has no one to tell)."""
        with self.saving(path):
            self.tx.run(path, node.plan(None, Spool()))

    # -- namespace changes ------------------------------------------------------------------------
    @recorded
    def unlink(self, path: str) -> None:
        self._writable_mount(path)
        with self.overlay.lock:
            if self.overlay.files.pop(path, None) is not None:
                return
            if self.overlay.whiteout_of(path):  # an item an editor renamed to its backup name
                self.overlay.clear_whiteout(path)
                return
        parent, name = self._parent(path)
        self.tx.run(path, parent.plan_unlink(name))
        self._forget(path)
        with self._hlock:
            for h in self._handles.values():
                if h.path == path:
                    h.removed = True  # still readable through its handle; never saved

    @recorded
    def rename(self, old: str, new: str) -> None:
        self._writable_mount(old)
        parent, name = self._parent(new)
        local = self.overlay.files.get(old)
        if local is not None:
            if parent.is_scratch_target(name):
                with self.overlay.lock:
                    self.overlay.files[new] = self.overlay.files.pop(old)
                return
            self._commit_local_onto(old, local, new, parent, name)
            return
        if old in self.overlay.dirs:
            raise FsError(errno.EXDEV, f"{old}: moving directories copies them")
        if self.overlay.whiteout_of(old):
            raise FsError(errno.ENOENT, f"{old}: no such entry")
        src = self.node(old)
        if not isinstance(src, File):
            raise FsError(errno.EXDEV, f"{old}: moving this copies then deletes")
        if not src.writable or src.ctl:
            raise FsError(errno.EACCES, f"{old}: cannot be renamed")
        if parent.is_scratch_target(name):
            # an editor's backup: a local copy; the original stays in AWS (see handles.Overlay).
            # It keeps the original's mtime, as rename does: put back after a failed save, the
            # file shows the mtime the editor last saw
            current, spool = self._copy(src)
            mtime = self._streamed_mtime(old, src) if src.streamed else self._mtime(old, src, current)
            self.overlay.files[new] = LocalFile(spool, mtime)
            self.overlay.whiteout(old, self.overlay.base_for(old, self.reader()) or current)
            return
        dst = self._existing_file(new) or parent.child_for_create(name)
        self.tx.run(old, src.plan_rename(dst))
        self._forget(old)
        self.overlay.forget_served(new, self.reader())

    def _commit_local_onto(self, old: str, local: LocalFile, new: str, parent: Dir, name: str) -> None:
        whiteout = self.overlay.whiteout_of(new)
        target = None if whiteout else self._existing_file(new)
        if target is not None:
            base = self.overlay.base_for(new, self.reader()) or \
                (Version(target.version()) if target.streamed else target.content())
        else:
            target = parent.child_for_create(name)
            base = whiteout[1] if whiteout else None
        if target.ctl:
            raise FsError(errno.EACCES, f"{new}: write verbs to ctl instead of replacing it")
        if local.refused is not None:
            raise local.refused
        data = local.data if target.streamed else bytes(local.data)
        with self.saving(new):
            self.tx.run(new, target.plan(base, data))
            local.mtime = self._saved(new, local.mtime)
        with self.overlay.lock:
            self.overlay.files.pop(old, None)
            self.overlay.files.pop(new, None)
            self.overlay.dirs.discard(os.path.dirname(new))
        self.overlay.clear_whiteout(new)
        self.overlay.seen(new, self.reader(), self._saved_as(target, data))

    @recorded
    def symlink(self, path: str, target: str) -> None:
        self._writable_mount(path)
        parent, name = self._parent(path)
        self.tx.run(path, parent.plan_symlink(name, target))

    @recorded
    def mkdir(self, path: str, mode: int) -> None:
        self._writable_mount(path)
        parent, name = self._parent(path)
        if self._exists_remote(path):
            raise FsError(errno.EEXIST, f"{path}: exists")
        if not parent.allows_mkdir(name):
            raise FsError(errno.EACCES, f"{path}: {parent.why_no_mkdir(name)}")
        made = parent.plan_mkdir(name)
        if made:  # a directory that is a thing of its own (a log group): made in AWS now
            self.tx.run(path, made)
            self._forget(path)
            return
        self.overlay.dirs.add(path)  # else local, until something is written in it

    @recorded
    def rmdir(self, path: str) -> None:
        self._writable_mount(path)
        if path in self.overlay.dirs:
            if self.overlay.children(path):
                raise FsError(errno.ENOTEMPTY, f"{path}: not empty")
            remote = self._exists_remote(path)
            self.overlay.dirs.discard(path)
            if not remote:
                return
            # it exists in AWS too (things were written in it): removed there, if empty, as below
        node = self.router.resolve(self.ctx, path)
        if isinstance(node, Dir) and node.made_of_entries:
            # a directory that exists through its entries (a partition: its items) is gone with
            # its last entry, which is what `rm -r` has just removed
            try:
                left = any(kind is not None for _, kind in node.entries())
            except FsError as e:
                if e.errno != errno.ENOENT:
                    raise
                left = False
            if left:
                raise FsError(errno.ENOTEMPTY, f"{path}: not empty")
            self.tx.run(path, node.plan_rmdir())
            return
        node.check()
        if isinstance(node, Dir) and any(True for _ in node.entries()):
            raise FsError(errno.ENOTEMPTY, f"{path}: not empty")
        raise FsError(errno.EACCES, f"{path}: cannot be removed")

    # -- extended attributes -----------------------------------------------------------------------
    def _xattr_node(self, path: str) -> Node:
        if path in self.overlay.files or path in self.overlay.dirs:
            return _EmptyDir(self.ctx, path)  # local: none
        return self.node(path)

    @recorded
    def listxattr(self, path: str) -> list[str]:
        return sorted(self._xattr_node(path).xattrs())

    def getxattr(self, path: str, name: str) -> bytes:
        # `ls` asks every file for security.selinux and ACLs: no lookup for what awsfs never has
        value = self._xattr_node(path).xattrs().get(name) if name.startswith("user.") else None
        if value is None:
            raise FsError(errno.ENODATA, f"{path}: no attribute {name}")
        return value

    def setxattr(self, path: str, name: str, value: bytes) -> None:
        # tools copy ACLs and security labels (sed -i, vim, cp -a): "not supported" is their
        # expected answer, not a failure to report; so is any attribute of a local scratch file
        local = self.overlay.files.get(path)
        if name.startswith("user.") and local is not None and local.node is not None and \
                self._set_pending_xattr(path, local.node, name, value):
            return  # cp -a of a file being created: what it is created as
        if not name.startswith("user.") or local is not None or path in self.overlay.dirs:
            raise FsError(errno.ENOTSUP, f"{path}: extended attribute {name} is not supported")
        self._set_user_xattr(path, name, value)

    @recorded
    def _set_pending_xattr(self, path: str, node: File, name: str, value: bytes) -> bool:
        return node.pending_xattr(name, value)

    @recorded
    def _set_user_xattr(self, path: str, name: str, value: bytes) -> None:
        self._writable_mount(path)
        self.tx.run(path, self.node(path).plan_setxattr(name, value))
        self._forget(path)

    def chmod(self, path: str, mode: int) -> None:
        """Accepted (cp -p, rsync, vim need it); AWS has no file modes to change. A file being
        created takes it: what it is created as may depend on it (a private SSM parameter)."""
        local = self.overlay.files.get(path)
        if local is not None and local.node is not None:
            local.node.created_mode = mode & 0o777
            return
        self.getattr(path)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self.getattr(path)

    def utimens(self, path: str, times: Optional[tuple[Optional[float], Optional[float]]] = None) -> None:
        """Accepted; a local file takes the new mtime (None: left as it is); ``touch`` of a
        directory of AWS things refreshes it (see :meth:`refresh`)."""
        st = self.getattr(path)
        if st.kind == DIR and path not in self.overlay.dirs:
            self.refresh(path)
        local = self.overlay.files.get(path)
        if local is not None:
            mtime = time.time() if times is None else times[1]
            if mtime is not None:
                local.mtime = mtime

    # -- helpers ------------------------------------------------------------------------------------
    def saving(self, path: str) -> threading.Lock:
        """Held while a document is checked and saved: saves of one path in this mount take turns,
        so two writers here cannot both pass the check before either puts."""
        return self._save_locks[hash(path) % SAVE_LOCKS]

    def reader(self) -> tuple[int, int]:
        """(pid, session id) of the process behind this request: whose reading a save is based on."""
        return self.ctx.reader()

    def _forget(self, path: str) -> None:
        """A name that is gone: nothing derived from it is kept (its mtime starts anew if it comes back)."""
        self.overlay.forget_served(path, self.reader())
        for memo in (self._stamps, self._stat_memo, self.rendered, self._node_memo):
            memo.drop(path)

    def refresh(self, path: str) -> None:
        """Forget what is cached for ``path`` and under it ("/": everything): the next look at it
        asks AWS (for a change made outside awsfs, before the TTL would show it)."""
        if self.mountpoint and (path + "/").startswith(self.mountpoint.rstrip("/") + "/"):
            path = path[len(self.mountpoint.rstrip("/")):] or "/"  # the mount's own absolute path
        parts = [p for p in path.split("/") if p]
        svc = services.by_root(parts[0]) if parts else None
        if parts and (svc is None or getattr(svc, "REGIONAL", True) and len(parts) > 1
                      and parts[1] not in self.regions):
            raise InputError(errno.EINVAL, f"refresh {path}: not a path of this mount")
        self.cache.invalidate(services.cache_prefix(parts) if parts else ())
        log.info("refresh", extra={"event": "refresh", "path": path})

    def _writable_mount(self, path: str) -> None:
        if self.read_only and not path.startswith("/.awsfs/"):  # its ctl works on a read-only mount
            raise FsError(errno.EROFS, f"{path}: read-only mount")

    def _parent(self, path: str) -> tuple[Dir, str]:
        parent_path, name = os.path.split(path.rstrip("/"))
        parent = self.router.resolve(self.ctx, parent_path or "/")
        if parent_path not in self.overlay.dirs:
            parent.check()
        if not isinstance(parent, Dir):
            raise FsError(errno.ENOTDIR, f"{parent_path}: not a directory")
        return parent, name

    def _remote(self, path: str) -> Optional[Node]:
        """The node AWS has at ``path``, or None when there is definitely none."""
        try:
            return self.node(path)
        except FsError as e:
            if e.errno == errno.ENOENT:
                return None
            raise

    def _exists_remote(self, path: str) -> bool:
        return self._remote(path) is not None

    def _existing_file(self, path: str) -> Optional[File]:
        node = None if self.overlay.whiteout_of(path) else self._remote(path)
        return node if isinstance(node, File) else None

    # -- the mount's own files -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return services.meta.status(self.ctx)
