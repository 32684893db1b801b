"""The ceiling for scripts/bench's stat row: a trivial in-memory mfusepy filesystem.

``python scripts/bench_trivialfs.py MOUNTPOINT [--files N --size BYTES]`` serves static files from a dict, on the
same binding as awsfs (mfusepy on the libfuse awsfs picks, through awsfs's Binding class), with the
same FUSE options, connection settings and callback style (use_ns, raw_fi, multithreaded, READDIRPLUS
and no FLUSH for readers on libfuse 3). It stays in the foreground and unmounts when stdin closes.
"""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
import time

# the library, options, connection settings and per-thread binding fix awsfs mounts with, so the
# comparison is like for like
from awsfs.fuse_ops import (MAX_BACKGROUND, Binding, fuse, keep_thread_state, mount_options, no_flush_for_readers,
                            tune_connection)

FILES: dict[str, bytes] = {}


def make_files(count: int, size: int, prefix: str = "file") -> None:
    """``count`` JSON files ``PREFIX-000000.json``... of about ``size`` bytes (like awsfs's item files)."""
    FILES.clear()
    for i in range(count):
        name = f"{prefix}-{i:06d}"
        head = f'{{\n  "id": "{name}",\n  "notes": "'
        tail = '"\n}\n'
        FILES[f"{name}.json"] = (head + "x" * max(0, size - len(head) - len(tail)) + tail).encode()
        self_ino[f"{name}.json"] = 2 + i


self_ino: dict[str, int] = {}


class Trivial(fuse.Operations):
    use_ns = True

    def __init__(self) -> None:
        self.t = int(time.time() * 1e9)
        self.uid, self.gid = os.getuid(), os.getgid()

    def getattr(self, path, fh=None):
        keep_thread_state()
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_ino": 1, "st_uid": self.uid,
                    "st_gid": self.gid, "st_mtime": self.t, "st_ctime": self.t, "st_atime": self.t}
        data = FILES.get(path[1:])
        if data is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1, "st_size": len(data),
                "st_ino": self_ino[path[1:]], "st_uid": self.uid, "st_gid": self.gid,
                "st_mtime": self.t, "st_ctime": self.t, "st_atime": self.t, "st_blocks": 1, "st_blksize": 4096}

    def init_with_config(self, conn_info, config_3):
        tune_connection(conn_info, MAX_BACKGROUND)

    def readdir_with_offset(self, path, offset, fh):
        keep_thread_state()
        if path != "/":
            raise fuse.FuseOSError(errno.ENOTDIR)
        # with use_ino a d_ino of 0 hides the entry (glibc skips it): give every entry its inode
        reg = stat.S_IFREG | 0o644
        entries = [(".", {"st_mode": stat.S_IFDIR | 0o755, "st_ino": 1}),
                   ("..", {"st_mode": stat.S_IFDIR | 0o755, "st_ino": 1})] + \
            [(name, {"st_mode": reg, "st_ino": self_ino[name]}) for name in FILES]
        return [(name, attrs, n) for n, (name, attrs) in enumerate(entries, 1) if n > offset]

    def readdir_plus(self, path, offset):
        for name, attrs, n in self.readdir_with_offset(path, offset, 0):
            full = name not in (".", "..")
            yield name, self.getattr("/" + name) if full else attrs, n, full

    def open(self, path, fi):
        keep_thread_state()
        if path[1:] not in FILES:
            raise fuse.FuseOSError(errno.ENOENT)
        fi.fh = 0
        no_flush_for_readers(fi)
        return 0

    def read(self, path, size, offset, fi):
        keep_thread_state()
        return FILES[path[1:]][offset:offset + size]

    def getxattr(self, path, name, position=0):
        raise fuse.FuseOSError(errno.ENOTSUP)

    def listxattr(self, path):
        return []


def main() -> None:
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("mountpoint")
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--size", type=int, default=400)
    p.add_argument("--prefix", default="file")
    a = p.parse_args()
    make_files(a.files, a.size, a.prefix)
    mnt = os.path.abspath(a.mountpoint)

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except Exception:
            pass
        subprocess.run(["fusermount", "-u", mnt], capture_output=True)
        time.sleep(2)
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
    opts = mount_options({"fsname": "benchtrivial", "subtype": "benchtrivial"})
    Binding(Trivial(), mnt, foreground=True, nothreads=False, raw_fi=True, **opts)
    os._exit(0)  # unmounted: skip interpreter shutdown, which aborts on the stdin watcher's buffered read


if __name__ == "__main__":
    main()
