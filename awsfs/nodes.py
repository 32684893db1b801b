"""The node kinds every service builds its tree from.

A node is made by the router for one path. It renders AWS state (through the cache) and, when
writable, turns a finished write into mutations for the transaction layer. Nodes never call
FUSE and never catch AWS errors: those travel up as :class:`~awsfs.errors.FsError`.
"""
from __future__ import annotations

import errno
import json
import re
import threading
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from .errors import FsError

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context
    from .transaction import Mutation

__all__ = ["Dir", "File", "Link", "Listing", "Node", "StaticDir", "enoent", "is_editor_scratch", "is_tool_scratch",
           "is_tool_temp",
           "mkstemp_maker", "Version", "render_json", "shown"]

_SCRATCH = re.compile(r"""(
    \..*\.sw[a-z]x? |                     # vim swap files (and its .swpx probe)
    .*~ | .*\.save | .*\.bak | .*\.orig |  # backups
    sed[A-Za-z0-9]{6} |                    # sed -i
    \..+\.[A-Za-z0-9]{6}                   # rsync / mktemp style .NAME.XXXXXX
)$""", re.X)


def _vim_probe(name: str) -> bool:
    """vim's write probe: 4913, then +123 while that name is taken."""
    return name.isdigit() and int(name) >= 4913 and (int(name) - 4913) % 123 == 0


def is_tool_scratch(name: str) -> bool:
    """The scratch names that can never be a real name where any text is a name (tag keys):
    a leading dot (escaped as %2E in real names), a trailing ``~``, vim's write probe, sed's temp."""
    return (_vim_probe(name) or name.startswith(".") or name.endswith("~")
            or mkstemp_maker(name) == "sed")


def is_tool_temp(name: str) -> bool:
    """Editors' temp names where every other name is real, a leading dot included (S3 keys): vim's
    swap files, write probe and backups (``x~``). ``.htaccess``, ``.env.local`` or ``db.bak`` are
    objects like any other; for tools' mkstemp names see :func:`mkstemp_maker`."""
    return _vim_probe(name) or name.endswith("~") or re.fullmatch(r"\..+\.sw[a-z]x?", name) is not None


def mkstemp_maker(name: str) -> str:
    """The program whose mkstemp temps have the shape of ``name``: ``"sed"`` (``sed -i``'s
    ``sedXXXXXX``), ``"rsync"`` (``.x.XXXXXX``), or ``""``. Such a name is a temp only when that
    program makes it (:func:`awsfs.caller.temp_maker`): made by anyone else, ``.env.stage1`` or
    ``sedentary`` are real names."""
    if re.fullmatch(r"sed[A-Za-z0-9]{6}", name):
        return "sed"
    return "rsync" if re.fullmatch(r"\..+\.[A-Za-z0-9]{6}", name) else ""


def is_editor_scratch(name: str) -> bool:
    """Names that editors and tools create next to the file they edit."""
    return _vim_probe(name) or bool(_SCRATCH.match(name))

DIR, FILE, LINK = "dir", "file", "link"
SCRATCH_BYTES = 64 << 20  # what a local scratch file (an editor's swap or backup, a tool's temp) holds at most


def enoent(path: str, what: str = "") -> FsError:
    return FsError(errno.ENOENT, f"{path}: {what or 'no such entry'}")


class Node:
    """Something at a path. ``params`` are the pieces the route captured; ``ctx`` is the mount
    as a node sees it (:class:`~awsfs.context.Context`)."""

    kind = FILE

    def __init__(self, ctx: "Context", path: str, **params: str) -> None:
        self.ctx = ctx
        self.path = path
        self.params = params

    @property
    def aws(self) -> Any:
        return self.ctx.aws

    def check(self) -> None:
        """Raise ENOENT unless the thing exists (loads through the cache)."""

    def mtime_hint(self) -> Optional[float]:
        """A timestamp AWS keeps for this thing, if any."""
        return None

    def xattrs(self) -> dict[str, bytes]:
        """Extended attributes (``user.aws.type`` -> ``b"SecureString"``): metadata readable
        without the content, from what the listing already has."""
        return {}

    def plan_setxattr(self, name: str, value: bytes) -> list["Mutation"]:
        raise FsError(errno.ENOTSUP, f"{self.path}: extended attribute {name} cannot be set")


class Dir(Node):
    """A directory. Writable directories override the ``plan_*`` hooks and ``is_scratch``."""

    kind = DIR
    #: exists only while it has entries (a partition of items): ``rmdir`` of it empty succeeds
    made_of_entries = False
    #: what a scratch file here (:meth:`is_scratch`) may hold, on local disk
    scratch_bytes = SCRATCH_BYTES

    def is_scratch(self, name: str) -> bool:
        """Whether ``name`` is a local scratch file here (editor temp files); never reaches AWS."""
        return False

    def is_scratch_target(self, name: str) -> bool:
        """Whether a rename onto ``name`` keeps the file local (an editor's backup of what it
        edits); the names of :meth:`is_scratch` unless a directory says otherwise."""
        return self.is_scratch(name)

    def child_for_create(self, name: str) -> "File":
        """The writable node a new file called ``name`` would become (it need not exist yet)."""
        raise FsError(errno.EACCES, f"{self.path}: files cannot be created here")

    def plan_unlink(self, name: str) -> list["Mutation"]:
        raise FsError(errno.EACCES, f"{self.path}/{name}: cannot be removed")

    def plan_symlink(self, name: str, target: str) -> list["Mutation"]:
        raise FsError(errno.EACCES, f"{self.path}: symbolic links cannot be created here")

    def plan_rmdir(self) -> list["Mutation"]:
        """What removing this directory, now empty, changes in AWS (an S3 ``dir/`` marker)."""
        return []

    def plan_mkdir(self, name: str) -> list["Mutation"]:
        """What ``mkdir`` of ``name`` here makes in AWS; [] (the default): a local directory until
        something is written in it."""
        return []

    def why_no_mkdir(self, name: str) -> str:
        """What ``mkdir`` is told when :meth:`allows_mkdir` says no."""
        return "directories cannot be created here"

    def allows_mkdir(self, name: str) -> bool:
        return False

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
    #: ctl files run each line inside write(); documents commit whole buffers on flush/fsync
    ctl = False
    #: one-line values (a tag, the instance type) also commit as soon as their line is written
    line_value = False
    #: the most a writer may put in it (a write past this is refused at once)
    max_bytes = 4 << 20

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if (cls.line_value or cls.ctl) and "max_bytes" not in cls.__dict__:
            cls.max_bytes = 4096  # a value or a verb is one short line

    #: its content changes or grows by itself: never memoized, each read asks anew and may go past
    #: the size last reported (the mount's status and errors, a log stream)
    volatile = False
    #: permission bits it may show at most (0o600: a secret's value is its owner's alone)
    mode_mask = 0o777
    #: a new file may be empty (an S3 object: `touch`, `cp` of an empty file); an existing one is
    #: never emptied by a writer that closes it without writing (never a save from a truncate)
    empty_ok = False
    #: for a file being created: the permission bits its creator asked for (after its umask),
    #: or last gave it with chmod (``cp -a`` and ``mv`` create private, then chmod)
    created_mode: Optional[int] = None

    def pending_xattr(self, name: str, value: bytes) -> bool:
        """For a file being created: take ``user.*`` attribute ``name`` into what it is created
        with (True; InputError when the value cannot be), or not (False: not supported)."""
        return False

    def content(self) -> bytes:
        """All of it (documents: what a writer edits and a save is based on)."""
        raise NotImplementedError

    def size(self) -> int:
        """Its size in bytes, for ``stat`` (a big or growing file answers from AWS metadata
        without producing its bytes)."""
        return len(self.content())

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (a big file serves ranges without holding all of it)."""
        return self.content()[offset:offset + size]

    #: read through :meth:`read` for every request instead of from a copy taken at open (big
    #: objects, growing streams). A writable one is saved from a spool (on local disk when
    #: large), and the base of its save is the :class:`Version` its writer saw, not its bytes
    streamed = False

    def version(self) -> str:
        """A streamed document's version now (S3's ETag): what a save is checked against."""
        raise NotImplementedError

    def reader(self) -> "File":
        """The file one open reads through (a streamed document keeps the version it was opened
        at, so a reader never gets two versions mixed)."""
        return self

    def written(self, data: Any) -> None:
        """A writer has added to ``data``, a streamed document's spool (called under the writer's
        lock): the node may send what will not change before the save (an upload in parts, set on
        ``data.early``); the save completes it, and closing the spool drops it."""

    def read_only_error(self) -> FsError:
        """What a writer opening this file (not ``writable``) is told."""
        return FsError(errno.EACCES, f"{self.path}: this file is read-only")

    def plan(self, base: Optional[bytes], new: bytes) -> list["Mutation"]:
        """The mutations that make AWS hold ``new``. ``base`` is what the writer saw (None: new file)."""
        raise FsError(errno.EACCES, f"{self.path}: read-only file")

    def plan_line(self, line: str) -> list["Mutation"]:
        raise FsError(errno.EACCES, f"{self.path}: read-only file")

    def plan_rename(self, dst: "File") -> list["Mutation"]:
        """Mutations that move this thing to ``dst``'s name; EXDEV makes ``mv`` copy and delete."""
        raise FsError(errno.EXDEV, f"{self.path}: cannot be renamed in place")


class Version(str):
    """What a reader of a streamed document saw, standing for its bytes: its version (S3's ETag).
    A save's base is one of these for a streamed document, never a copy of its content."""


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

    #: the value of an entry deleted through awsfs: its slot stays, so readdir offsets stay valid
    GONE = object()
    #: the value of an entry listed but not kept (past the listing's memory budget): it is known to
    #: exist, and whoever needs its value asks AWS for it alone
    UNKEPT = object()

    def keep(self, value: Any) -> Any:
        """How a listed value is kept (a subclass with a memory budget may not keep it)."""
        return self.pack(value)

    #: how values are kept (a subclass may store them compactly) and given back
    @staticmethod
    def pack(value: Any) -> Any:
        return value

    @staticmethod
    def unpack(stored: Any) -> Any:
        return stored

    def __init__(self, fetch: Callable[[Any], tuple[list[tuple[str, Any]], Any]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()       # the entries: held only briefly, never across a call
        self._fetching = threading.Lock()   # one page fetch at a time
        self.names: list[str] = []
        self.index: dict[str, Any] = {}
        self.complete = False
        self.pages = 0
        self.version = 0  # bumped on every change (a page, a write-through)
        self._token: Any = None
        #: names written through while a page was being fetched: that page is older than them
        self._touched: Optional[set] = None

    def _fetch_page(self) -> None:
        # caller holds _fetching; lookups of what is known go on meanwhile (no head-of-line wait)
        with self._lock:
            token = self._token
            self._touched = set()
        try:
            entries, token = self._fetch(token)
            with self._lock:
                self.pages += 1
                for name, value in entries:
                    if name not in self.index:
                        self.names.append(name)
                    elif name in self._touched:
                        continue
                    self.index[name] = None if value is None else self.keep(value)
                self._token = token
                self.version += 1
                if not token:
                    self.complete = True
        finally:
            with self._lock:
                self._touched = None

    def _touch(self, name: Any) -> None:
        # caller holds _lock
        if self._touched is not None:
            self._touched.add(name)

    def ensure(self, count: Optional[int] = None) -> None:
        """Fetch pages until ``count`` entries are known (all of them when None)."""
        while not self.complete and (count is None or len(self.names) < count):
            with self._fetching:
                if not self.complete and (count is None or len(self.names) < count):
                    self._fetch_page()

    def iter_from(self, offset: int, values: bool = True) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` from entry ``offset`` on, fetching pages as needed; with
        ``values=False`` the value only tells a deleted entry (GONE) from a present one."""
        i = offset
        while True:
            self.ensure(i + 1)
            with self._lock:
                if i >= len(self.names):
                    return
                name = self.names[i]
                stored = self.index[name]
            yield name, stored if not values or stored is None or stored is self.GONE else self.unpack(stored)
            i += 1

    def put(self, name: str, value: Any) -> None:
        """Write-through: the entry as AWS now has it (appended when new)."""
        with self._lock:
            self._touch(name)
            if name not in self.index:
                self.names.append(name)
            self.index[name] = None if value is None else self.pack(value)
            self.version += 1

    def drop(self, name: str) -> None:
        """Write-through of a deletion: the entry is marked gone, keeping everyone's offsets."""
        with self._lock:
            self._touch(name)
            if name in self.index:
                self.index[name] = self.GONE
                self.version += 1

    def has_entries(self) -> bool:
        with self._lock:
            return any(v is not self.GONE for v in self.index.values())

    def all(self) -> dict[str, Any]:
        self.ensure()
        with self._lock:
            return {n: None if v is None else self.unpack(v) for n, v in self.index.items() if v is not self.GONE}

    def lookup(self, name: str) -> tuple[bool, Any]:
        """``(known, value)``: known is True when the answer is definite without fetching."""
        known, stored = self.lookup_stored(name)
        return known, None if stored is None else self.unpack(stored)  # lookup_stored never gives GONE

    def lookup_stored(self, name: str) -> tuple[bool, Any]:
        """Like :meth:`lookup`, giving the value as stored (its identity changes only when it does)."""
        with self._lock:
            if name in self.index:
                stored = self.index[name]
                if stored is self.UNKEPT:
                    return False, None
                return True, None if stored is self.GONE else stored
            return self.complete, None

    def get(self, name: str) -> Any:
        return self.lookup(name)[1]


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


def shown(text: str) -> str:
    """A word the user wrote, for a message: quoted when it looks like a word (a verb, an instance
    type), else only its size. Content (tag values, attribute values) is never quoted in messages
    or logs: it may be a secret."""
    if len(text) <= 32 and re.fullmatch(r"[A-Za-z0-9._:-]*", text):
        return repr(text)
    return f"a text of {len(text)} characters"


def line(text: Any) -> bytes:
    return f"{text}\n".encode()
