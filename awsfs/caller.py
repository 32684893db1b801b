"""The names the command behind a request gave on its command line.

``cat t/a.json t/b.json ...`` and ``cp a.json b.json ... t/`` open their files one at a time, so the
filesystem sees one lookup at a time; the command line shows what comes next. A lookup that has to
ask AWS anyway can then fetch the following names in the same call (DynamoDB: one BatchGetItem
for up to 100 items instead of one GetItem each). Only base names are used, never logged; a
command line that cannot be read (another user's process, a kernel request) just means one item
per call.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
import time

__all__ = ["killed", "named_from", "removes_tree", "temp_maker"]


def _argv(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(1 << 21)
    except OSError:
        return []
    return [os.fsdecode(a) for a in raw.split(b"\0") if a]


def _args(pid: int) -> list[str]:
    return _argv(pid)[1:]


_recent: dict[int, tuple[float, list[str], dict[str, int]]] = {}  # pid -> (when, names, positions)
_lock = threading.Lock()
RECENT_SECONDS = 2.0  # a command line is read once per command, not once per batch


def _names(pid: int) -> tuple[list[str], dict[str, int]]:
    now = time.monotonic()
    with _lock:
        hit = _recent.get(pid)
        if hit is not None and now - hit[0] < RECENT_SECONDS:
            return hit[1], hit[2]
    names = list(dict.fromkeys(os.path.basename(a.rstrip("/")) for a in _args(pid)))
    positions = {n: i for i, n in enumerate(names)}
    with _lock:
        for old in [p for p, v in _recent.items() if now - v[0] >= RECENT_SECONDS]:
            del _recent[old]
        _recent[pid] = (now, names, positions)
    return names, positions


def named_from(pid: int, name: str, limit: int) -> list[str]:
    """Base names on process ``pid``'s command line from ``name`` on (``name`` first, no repeats,
    at most ``limit``); [] when the command line does not name ``name``."""
    if pid <= 0:
        return []
    names, positions = _names(pid)
    at = positions.get(name)
    return [] if at is None else names[at:at + limit]


def removes_tree(pid: int, path: str) -> bool:
    """Whether process ``pid`` is ``rm -r`` (not interactive: no ``-i``, ``-I``, ``--interactive``)
    of ``path`` or of a directory above it: it is going to unlink everything below ``path``."""
    if pid <= 0:
        return False
    argv = _argv(pid)
    if not argv or os.path.basename(argv[0]) != "rm":
        return False
    recursive, operands, options = False, [], True
    for a in argv[1:]:
        if options and a == "--":
            options = False
        elif options and a.startswith("--"):
            recursive |= a == "--recursive"
            if a.startswith("--interactive") and a != "--interactive=never":
                return False
        elif options and a.startswith("-") and len(a) > 1:
            if set(a[1:]) & set("iI"):
                return False
            recursive |= bool(set(a[1:]) & set("rR"))
        else:
            operands.append(a)
    if not recursive:
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    for operand in operands:
        top = os.path.normpath(os.path.join(cwd, operand))
        if path == top or path.startswith(top.rstrip("/") + "/"):
            return True
    return False



_TEMP_MAKERS = {"sed": "sed", "gsed": "sed", "rsync": "rsync"}


def temp_maker(pid: int) -> str:
    """``"sed"`` when process ``pid`` is ``sed -i``, ``"rsync"`` when it is an rsync that writes
    through temps (not ``--inplace``/``--append``), else ``""``: the programs whose mkstemp names
    (``sedXXXXXX``, ``.name.XXXXXX``) are temps. Anyone else creating such a name means it."""
    if pid <= 0:
        return ""
    argv = _argv(pid)
    tool = _TEMP_MAKERS.get(os.path.basename(argv[0])) if argv else None
    if tool == "sed":
        return tool if any(a == "--in-place" or a.startswith("--in-place=") or
                           (a.startswith("-") and not a.startswith("--") and "i" in a) for a in argv[1:]) else ""
    if tool == "rsync":
        return "" if any(a in ("--inplace", "--append", "--append-verify") for a in argv[1:]) else tool
    return ""


PF_EXITING = 0x4  # linux/sched.h: the task is exiting (its files are being closed)
KILLED_WAIT = 0.25  # seconds a close waits to learn whether its process is dying
_probes = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="awsfs-killed")


def _killed(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        flags, code = int(fields[6]), int(fields[49])
    except (OSError, IndexError, ValueError):
        return 0
    return code & 0x7F if flags & PF_EXITING else 0


def killed(pid: int) -> int:
    """The signal that killed ``pid``'s process, when a close comes from it as it dies (the kernel
    closing its files on the way out: ``kill -9``, Ctrl-C of ``cp``); else 0. A writer that dies so
    did not finish what it was writing. /proc/PID/stat: flags (field 9) and exit_code (52).

    Read on a thread of its own, waited for ``KILLED_WAIT`` at most: a close made by ``execve``
    (close-on-exec, as in vim's ``:!``) holds the process's exec lock, which that read waits for,
    until the close returns. Such a process is not dying: no answer in time is 0."""
    if pid <= 0:
        return 0
    try:
        return _probes.submit(_killed, pid).result(KILLED_WAIT)
    except concurrent.futures.TimeoutError:
        return 0
