"""The thin FUSE adapter: the only module that imports the FUSE binding (mfusepy).

Each callback logs, delegates to :class:`~awsfs.fs.Filesystem`, and turns exceptions into an
errno: an :class:`~awsfs.errors.FsError` keeps its own, anything else becomes EIO with a log line.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import itertools
import logging
import os
import shutil
import stat
import threading
import time
from typing import Any, Callable, Optional


def _libfuse_name() -> Optional[str]:
    """libfuse 3 where it can mount (as root, or with its fusermount3), else mfusepy's own choice.

    libfuse 3 lets a read-only open skip the FLUSH on close, answers a listing with each file's
    attributes (READDIRPLUS, no LOOKUP per name) and can make the kernel forget attributes, so the
    kernel may keep them: ``grep -r`` makes 3 kernel requests per file instead of 7.
    ``FUSE_LIBRARY_NAME=fuse`` (or ``fuse3``) decides, as mfusepy documents.
    """
    if os.environ.get("FUSE_LIBRARY_NAME") or os.environ.get("FUSE_LIBRARY_PATH"):
        return None
    if ctypes.util.find_library("fuse3") and (os.geteuid() == 0 or shutil.which("fusermount3")):
        return "fuse3"
    return None


_chosen = _libfuse_name()
if _chosen:  # mfusepy reads the environment when it is imported, and only then
    os.environ["FUSE_LIBRARY_NAME"] = _chosen
try:
    import mfusepy as fuse  # noqa: E402
finally:
    if _chosen:
        del os.environ["FUSE_LIBRARY_NAME"]

#: "libfuse 2.9" or "libfuse 3.14": shown in /.awsfs/status
BINDING = f"libfuse {fuse.fuse_version_major}.{fuse.fuse_version_minor}"
_READDIR_PLUS = 1  # libfuse 3: fuse_readdir_flags FUSE_READDIR_PLUS
_FILL_DIR_PLUS = 2  # libfuse 3: fuse_fill_dir_flags FUSE_FILL_DIR_PLUS

from .errors import FsError
from .fs import Filesystem
from .names import NAME_MAX

__all__ = ["AwsfsOperations", "mount"]

log = logging.getLogger("awsfs.fuse")


_threads = threading.local()
_kept: dict[int, int] = {}  # native thread id -> its kept PyThreadState*
_kept_lock = threading.Lock()
_api = ctypes.pythonapi
_api.PyThreadState_Get.restype = ctypes.c_void_p
_api.PyThreadState_Clear.argtypes = [ctypes.c_void_p]
_api.PyThreadState_Delete.argtypes = [ctypes.c_void_p]


def keep_thread_state() -> None:
    """Keep this FUSE worker thread's Python thread state between callbacks.

    ctypes gives a foreign thread a fresh thread state for every callback and frees it afterwards,
    which maps and unmaps the frame stack each time (a TLB shootdown across CPUs per upcall). One
    extra, never released ``PyGILState_Ensure`` per worker thread keeps it: open+close went from
    ~230 to ~130 us, cached stat from ~18k/s to ~35k/s (scripts/bench). libfuse 2 ends a worker when
    more than ten are idle, so each new worker first frees the states kept for workers that are
    gone: at most one state per live worker, plus the last one to exit. Python's own threads
    (which never serve FUSE requests) manage their states themselves and are left alone.
    """
    if getattr(_threads, "kept", False) or not isinstance(threading.current_thread(), threading._DummyThread):
        return
    _api.PyGILState_Ensure()
    _threads.kept = True
    with _kept_lock:
        for tid in [t for t in _kept if not os.path.exists(f"/proc/self/task/{t}")]:
            state = _kept.pop(tid)
            _api.PyThreadState_Clear(state)
            _api.PyThreadState_Delete(state)
        _kept[threading.get_native_id()] = _api.PyThreadState_Get()


def _op(func: Callable[..., Any]) -> Callable[..., Any]:
    name = func.__name__

    @functools.wraps(func)
    def wrapper(self: "AwsfsOperations", path: Optional[str], *args: Any) -> Any:
        keep_thread_state()
        debug = log.isEnabledFor(logging.DEBUG)
        start = time.monotonic() if debug else 0.0
        try:
            return func(self, path or "", *args)
        except FsError as e:
            if e.errno != errno.ENOENT:
                log.debug("fuse op failed", extra={"event": "fuse", "op": name, "path": path,
                                                   "errno": errno.errorcode.get(e.errno or 0, ""),
                                                   "reason": e.reason})
            raise fuse.FuseOSError(e.errno or errno.EIO) from None
        except fuse.FuseOSError:
            raise
        except Exception as e:  # the mount must survive anything
            log.exception("internal error", extra={"event": "fuse", "op": name, "path": path})
            self.fs.errors.add(path or "", name, FsError(errno.EIO, f"internal error: {type(e).__name__}: {e}"))
            raise fuse.FuseOSError(errno.EIO) from None
        finally:
            if debug:
                log.debug("fuse op", extra={"event": "fuse", "op": name, "path": path,
                                            "duration_ms": round((time.monotonic() - start) * 1000, 2)})
    return wrapper


_UTIME_NOW, _UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _utime(ns: int) -> Optional[float]:
    """A time from utimensat as libfuse passes it: seconds, or None for "leave it" (UTIME_OMIT);
    UTIME_NOW (`touch`) is now (it used to become 1970)."""
    if ns == _UTIME_OMIT:
        return None
    if ns == _UTIME_NOW:
        return time.time()
    return ns / 1e9


def _fh(fi: Any) -> int:
    return fi if isinstance(fi, int) else int(fi.fh)


class AwsfsOperations(fuse.Operations):
    use_ns = True
    # libfuse 2: a file open after its name is gone (rm, a rename onto it) reaches us with no path,
    # as libfuse 3 always does, instead of failing with ENOENT; awsfs serves it from the handle
    flag_nullpath_ok = True

    def __init__(self, fs: Filesystem, on_ready: Optional[Callable[[], None]] = None,
                 max_background: int = 0) -> None:
        self.fs = fs
        self._on_ready = on_ready
        self._max_background = max_background or MAX_BACKGROUND

    def init_with_config(self, conn_info: Any, config_3: Any) -> None:
        tune_connection(conn_info, self._max_background)
        if self._on_ready is not None:
            self._on_ready()

    @_op
    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        return self.fs.getattr(path, None if fh is None else _fh(fh)).as_dict

    @_op
    def opendir(self, path: str) -> int:
        return self.fs.opendir(path)

    @_op
    def releasedir(self, path: str, fh: int) -> int:
        self.fs.releasedir(path, fh)
        return 0

    @_op
    def readdir_with_offset(self, path: str, offset: int, fh: Any):
        entries = self.fs.readdir(path, offset, fh)
        return _started((name, {"st_mode": mode, "st_ino": ino}, nxt) for name, mode, ino, nxt in entries)

    @_op
    def readdir_plus(self, path: str, offset: int, fh: Optional[int] = None):
        """``(name, attrs, next offset, full)``: readdir_with_offset's entries with their attributes.

        Files' attributes come from the same cache as the listing (no AWS call per entry). A
        directory, an entry whose attributes cannot be had, and entries past the first PLUS_ENTRIES
        of a directory go out bare (``full`` False): the kernel looks them up as usual, and
        ``ls -f`` of a huge table renders nothing and stays small.
        """
        base = path.rstrip("/")

        def entries():
            for name, mode, ino, nxt in self.fs.readdir(path, offset, fh):
                attrs = None
                # directories go bare: their attributes are constant, but knowing one exists can
                # cost an AWS call (a table's DescribeTable), which a plain `ls` must not pay
                if nxt <= PLUS_ENTRIES and not stat.S_ISDIR(mode):
                    st = self.fs.listed_attributes(f"{base}/{name}")
                    attrs = st.as_dict if st is not None else None
                yield name, attrs or {"st_mode": mode, "st_ino": ino}, nxt, attrs is not None
        return _started(entries())

    @_op
    def readlink(self, path: str) -> str:
        return self.fs.readlink(path)

    @_op
    def open(self, path: str, fi: Any) -> int:
        fi.fh = self.fs.open(path, fi.flags)
        # every read is served from this handle's own copy, whatever size the kernel holds for the
        # file (which a writer's O_TRUNC, a save of another size or a change in AWS makes stale):
        # a reader gets the version it opened, whole, and the kernel need not be told to forget
        # sizes from inside a request (which could deadlock against a reader holding a page)
        fi.direct_io = 1
        no_flush_for_readers(fi)
        return 0

    @_op
    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        return self.fs.read(path, size, offset, _fh(fi))

    @_op
    def release(self, path: str, fi: Any) -> int:
        self.fs.release(path, _fh(fi))
        return 0

    @_op
    def create(self, path: str, mode: int, fi: Any) -> int:
        fi.fh = self.fs.create(path, mode, fi.flags)
        fi.direct_io = 1
        return 0

    @_op
    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        return self.fs.write(path, data, offset, _fh(fi))

    @_op
    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        self.fs.truncate(path, length, None if fh is None else _fh(fh))
        return 0

    @_op
    def flush(self, path: str, fi: Any) -> int:
        self.fs.flush(path, _fh(fi))
        return 0

    @_op
    def fsync(self, path: str, datasync: int, fi: Any) -> int:
        self.fs.fsync(path, datasync, _fh(fi))
        return 0

    @_op
    def unlink(self, path: str) -> int:
        self.fs.unlink(path)
        return 0

    @_op
    def rename(self, old: str, new: str) -> int:
        self.fs.rename(old, new)
        return 0

    @_op
    def symlink(self, path: str, target: str) -> int:
        # fusepy's order: symlink(link path, what it points to)
        self.fs.symlink(path, target)
        return 0

    @_op
    def mkdir(self, path: str, mode: int) -> int:
        self.fs.mkdir(path, mode)
        return 0

    @_op
    def rmdir(self, path: str) -> int:
        self.fs.rmdir(path)
        return 0

    @_op
    def chmod(self, path: str, mode: int) -> int:
        self.fs.chmod(path, mode)
        return 0

    @_op
    def chown(self, path: str, uid: int, gid: int) -> int:
        self.fs.chown(path, uid, gid)
        return 0

    @_op
    def utimens(self, path: str, times: Any = None) -> int:
        self.fs.utimens(path, None if times is None else (_utime(times[0]), _utime(times[1])))
        return 0

    @_op
    def setxattr(self, path: str, name: str, value: bytes, options: int, position: int = 0) -> int:
        self.fs.setxattr(path, name, value)
        return 0

    @_op
    def removexattr(self, path: str, name: str) -> int:
        raise fuse.FuseOSError(errno.ENOTSUP)

    @_op
    def statfs(self, path: str) -> dict[str, int]:
        # AWS has no capacity to report: a large size, all of it free (df shows 0% used, and
        # tools that check for space before copying find plenty)
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 30, "f_bfree": 1 << 30,
                "f_bavail": 1 << 30, "f_files": 1 << 30, "f_ffree": 1 << 30, "f_favail": 1 << 30,
                "f_namemax": NAME_MAX}

    @_op
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        return self.fs.getxattr(path, name)

    @_op
    def listxattr(self, path: str) -> list[str]:
        return self.fs.listxattr(path)

    @_op
    def access(self, path: str, amode: int) -> int:
        self.fs.getattr(path)
        return 0


_NOFLUSH = "noflush" in dict(f[:2] for f in fuse.fuse_file_info._fields_)
_CAP_READDIRPLUS_AUTO = 1 << 14  # libfuse 3: FUSE_CAP_READDIRPLUS_AUTO
#: entries of a listing that carry their attributes (libfuse 3 READDIRPLUS)
PLUS_ENTRIES = 5_000
#: kernel requests in flight at once (and libfuse 3's worker threads)
MAX_BACKGROUND = 64


def tune_connection(conn_info: Any, max_background: int) -> None:
    """Connection settings, from the binding's init callback (see docs/kernel-settings.md)."""
    if conn_info is None:
        return
    conn_info.max_background = max_background
    conn_info.congestion_threshold = max(1, max_background * 3 // 4)
    if fuse.fuse_version_major >= 3:
        # READDIRPLUS on every listing call, not only the first (the kernel's "auto" mode): ls -l,
        # grep -r and find then need no LOOKUP per name (`ls -l` of 2,000 items: 0.3 -> 0.18 s)
        conn_info.want &= ~_CAP_READDIRPLUS_AUTO


class Binding(fuse.FUSE):
    """mfusepy's FUSE plus what libfuse 3 offers and mfusepy leaves out (its own TODO)."""

    def readdir_fuse_3(self, path: Optional[bytes], buf, filler, offset: int, fip, flags: int) -> int:
        if not flags & _READDIR_PLUS or path is None:
            return super().readdir_fuse_3(path, buf, filler, offset, fip, flags)
        st = fuse.c_stat()
        for name, attrs, nxt, full in self.operations.readdir_plus(path.decode(self.encoding, self.errors), offset,
                                                                   fip.contents.fh):
            ctypes.memset(ctypes.byref(st), 0, ctypes.sizeof(st))
            fuse.set_st_attrs(st, attrs, use_ns=True)
            if filler(buf, name.encode(self.encoding, self.errors), st, nxt, _FILL_DIR_PLUS if full else 0):
                break
        return 0

    def truncate_fuse_3(self, path: Optional[bytes], length: int, fip) -> int:
        # ftruncate names its file handle (mfusepy drops it): only that writer's buffer is cut
        if not fip:
            return super().truncate_fuse_3(path, length, fip)
        return self.operations.truncate(None if path is None else path.decode(self.encoding, self.errors),
                                        length, fip.contents)

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        # RENAME_EXCHANGE (RENAME_NOREPLACE onto an existing name stops in the kernel): mfusepy
        # would make it a plain rename that replaces the target. ENOSYS makes the kernel answer
        # EINVAL to renames with flags from then on, as with libfuse 2
        if flags:
            return -errno.ENOSYS
        return super().rename_fuse_3(old, new, flags)


def no_flush_for_readers(fi: Any) -> None:
    """A reader has nothing to commit: its close() needs no FLUSH round trip (libfuse 3)."""
    if _NOFLUSH and fi.flags & os.O_ACCMODE == os.O_RDONLY:
        fi.noflush = 1


def _started(it):
    """The entries of ``it``, its first one taken now: errors of the listing surface in the
    callback that asked for it, not inside the binding's loop."""
    return _chain(list(itertools.islice(it, 1)), it)


def _chain(first, it):
    yield from first
    try:
        yield from it
    except FsError:
        raise  # an OSError with its errno: the binding answers this readdir call with it
    except Exception as e:
        log.exception("internal error", extra={"event": "fuse", "op": "readdir"})
        raise FsError(errno.EIO, f"internal error: {type(e).__name__}: {e}") from None


# Kernel cache settings (see docs/kernel-settings.md).
# attr_timeout is just under a second: `tail -f` looks at a file's size once a second, and with 1 s
# every other look was answered from the kernel's cache (a new log line showed up to 2 s late).
DEFAULT_OPTIONS = {"use_ino": True, "entry_timeout": 1, "attr_timeout": 0.9, "negative_timeout": 0,
                   "big_writes": True, "hard_remove": True}


def mount_options(options: Optional[dict[str, Any]] = None, read_only: bool = False) -> dict[str, Any]:
    """DEFAULT_OPTIONS, then ``options``, as the loaded libfuse takes them."""
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    opts.setdefault("fsname", "awsfs")
    opts.setdefault("subtype", "awsfs")
    if read_only:
        opts["ro"] = True
    if fuse.fuse_version_major >= 3:
        opts.pop("big_writes", None)  # always on in libfuse 3, which refuses the option
        if fuse.fuse_version_minor >= 12:
            # libfuse 3 serves with at most 10 threads by default; libfuse 2 has no limit. Requests
            # wait on AWS, so as many as the kernel sends in the background may wait at once.
            opts.setdefault("max_threads", MAX_BACKGROUND)
            # libfuse 3.12-3.14.0's fuse_main hands max_idle_threads' unset value (UINT_MAX) to
            # fuse_loop_cfg_set_idle_threads, which prints "Ignoring invalid max threads value
            # 4294967295 > max (100000)" on every mount; idle threads are never ended by default
            # since 3.12, and with max_threads = MAX_BACKGROUND this keeps it that way
            opts.setdefault("max_idle_threads", MAX_BACKGROUND)
    return opts


def mount(fs: Filesystem, mountpoint: str, foreground: bool = True, options: Optional[dict[str, Any]] = None,
          on_ready: Optional[Callable[[], None]] = None) -> None:
    fs.caller_pid = lambda: fuse.fuse_get_context()[2]
    fs.binding = BINDING
    fs.mountpoint = os.path.abspath(mountpoint)
    opts = mount_options(options, fs.read_only)
    ops = AwsfsOperations(fs, on_ready)
    Binding(ops, os.path.abspath(mountpoint), foreground=foreground, nothreads=False, raw_fi=True, **opts)
