"""CloudWatch Logs: log groups as directories (the ``/`` in their names too), their events as files
that grow, ``tail -f`` included.

* ``logs/<region>/<group path>/`` for each group (DescribeLogGroups): ``/aws/lambda/api`` is
  ``logs/<region>/aws/lambda/api/``. In it: ``@events`` (every stream's events, interleaved,
  FilterLogEvents), ``@streams/<stream>`` (one stream's, GetLogEvents; names escaped like item
  keys), ``@info.json`` and ``@retention`` (``30`` or ``never``; writable). ``@`` is in no group
  name, so these never collide with sub-groups.
* A line per event: ``<UTC time, ms> <message>`` (``@events``: the stream's name between them); a
  message's own newlines are kept. Files start ``WINDOW`` seconds back (an hour) and grow: content
  is appended in the order AWS returns it, so a reader's offsets never shift; asking the size (as
  ``tail -f`` does, about once a second) asks AWS for what is new, at most once a second per file,
  from the forward token (never from the start); so does a read at the end of what it has shown
  (a read within it asks nothing).
* ``@since/<2h, 30m, 1d or an ISO time>/@events`` (and ``@streams/``) read another window without
  remounting (``--logs-since`` sets the default); ``@filter/<pattern>/events`` is FilterLogEvents
  with that filter pattern (the matching pages only).
* What a recursive reader (``grep -r``, ``find``, ``du``, ``rsync -r``) sees in a group: each event
  once, in ``@events``, and nothing else that costs a call. ``@streams`` is a symbolic link to
  ``@since/<the default window, 1h>/@streams``, which they do not follow (``ls``, ``cd``, ``cat``,
  ``tail -f`` and ``>>`` go through it; ``grep -r x <group>/@streams`` follows it, named on the
  command line); ``@since/`` and ``@filter/`` are listed and list nothing (any name below them is
  asked for); ``@info.json`` and ``@retention`` come from the group listing. So ``grep -r`` over
  a region costs its DescribeLogGroups pages and each group's FilterLogEvents pages: no
  DescribeLogStreams, no GetLogEvents. (Inside ``@since/<when>/``, named by hand, ``@streams/`` is
  the real directory: a recursive read of a window reads both.)
* Memory: a file is kept as stretches (``STRETCH``, 1 MB, at most), each remembered as the position
  it starts from in AWS (the GetLogEvents forward token or the FilterLogEvents query and nextToken
  that gave its first page), its length and a digest. Stretches' bytes are kept, ``KEEP_BYTES``
  (32 MB) for all the files of a mount: a file's first ones while there is room (``cat`` and
  ``grep`` start there), then the ones read or grown most recently (what a reader has passed
  makes room). A read of a stretch no longer kept asks AWS again from its position and checks the
  digest: the same bytes at the same offsets, or EIO (events expired or changed since), never
  other bytes. A file larger than what is kept costs the pages past the kept part twice when read
  cold (once for its size, once for its bytes).
* ``echo line >> @streams/<s>``: PutLogEvents, one event per line, time now, when the line is
  written; writing a stream that does not exist creates it first (CreateLogStream). Log groups
  and streams are never deleted through the mount (EPERM): a stray ``rm -r`` cannot wipe logs.
* ``mkdir`` of a new name is CreateLogGroup (a leading ``/`` below a level whose groups have one).
"""
from __future__ import annotations

import bisect
import errno
import hashlib
import itertools
import re
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from ..cache import Memo
from ..errors import FsError, InputError
from ..kit import Collection, Hierarchy, LineValue, NamesDir, RegionNode, RegionsDir
from ..names import escape, unescape
from ..nodes import DIR, FILE, LINK, Dir, File, Link, enoent, render_json
from ..transaction import Mutation

ROOT = "logs"
WINDOW = 3600.0            # seconds back a file starts
POLL = 1.0                 # a file asks AWS for new events at most this often
PAGE = 1000                # events a GetLogEvents page asks for (a shorter one is the end)
EVENTS_PAGE: Optional[int] = None  # events a FilterLogEvents page asks for (None: AWS's own, 10,000 or 1 MB)
KEEP_BYTES = 32 << 20      # the bytes of log files a mount keeps, in all (setting logs_keep_bytes)
STRETCH = 1 << 20          # a file is asked for again in stretches of at most this (a quarter of what is kept)
RETENTION = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
             3653)
SPECIAL = ("@events", "@info.json", "@retention", "@streams")
GROUP_PART = re.compile(r"[A-Za-z0-9._#-]+")


class Groups(Collection):
    root, service, op, name = ROOT, "logs", "DescribeLogGroups", "@groups"

    def name_of(self, g: dict) -> str:
        return g["logGroupName"]


def tree(ctx: Any, region: str) -> Hierarchy:
    listing = Groups(ctx, region).search(None)
    if getattr(listing, "tree", None) is None:
        listing.tree = Hierarchy(listing, group_parts)
    return listing.tree


def group_parts(name: str) -> list[str]:
    """Where a group is below its region; [] for none (a name with an empty or '.' component)."""
    parts = name.lstrip("/").split("/")
    return [] if any(p in ("", ".", "..") for p in parts) else parts


def group_of(ctx: Any, region: str, key: str) -> Optional[dict]:
    """The group a directory path names (``aws/lambda/api`` is ``/aws/lambda/api`` or ``aws/...``)."""
    listing = Groups(ctx, region).search(None)
    return listing.get("/" + key) or listing.get(key)


class GroupDir(NamesDir):
    """The region, or a level of group names; a group's own directory also holds its @ files."""
    absent = "no such log group"

    def names(self, parts: tuple[str, ...]) -> Optional[dict]:
        region = self.region_ok()
        kids = tree(self.ctx, region).children(parts)
        kids = None if kids is None else dict.fromkeys(kids, DIR)  # a group is a directory, a leaf one too
        if parts and group_of(self.ctx, region, "/".join(parts)) is not None:
            return {**(kids or {}), "@events": FILE, "@filter": DIR, "@info.json": FILE, "@retention": FILE,
                    "@since": DIR, "@streams": LINK}
        return kids

    @classmethod
    def is_document(cls, ctx: Any, region: str, key: str) -> bool:
        return False  # every group is a directory

    @classmethod
    def variant(cls, ctx: Any, path: str, region: str, name: str) -> Optional[Any]:
        """The @ places of a group, read left to right: ``<group>/[@since/<when>/][@filter/<pattern>/]``
        then ``@events`` (``events`` under @filter), ``@streams[/<stream>]``, ``@info.json``,
        ``@retention``; every level on the way is a directory (the kernel looks each one up)."""
        parts = name.split("/")
        at = next((i for i, p in enumerate(parts) if p.startswith("@")), None)
        if at is None:
            return None
        group, rest, query = "/".join(parts[:at]), parts[at:], {}
        here = dict(ctx=ctx, path=path, region=region, group=group)
        while rest and rest[0] in ("@since", "@filter") and rest[0] not in query:
            word = rest.pop(0)
            if not rest:
                return QueryDir(**here, **query, level=word)      # @since/ or @filter/ itself
            raw = rest.pop(0)
            query[word] = unescape(raw) or raw
            if word == "@since":
                since_ms(query[word], path)  # a bad one is ENOENT with the reason
            if not rest:
                return QueryDir(**here, **query)
        if "@filter" in query:
            if rest == ["events"]:
                return EventsFile(**here, **query)
            raise enoent(path, "@filter/<pattern>/ holds one file: events")
        if rest[:1] == ["@streams"] and len(rest) <= 2:
            if not query:  # a group's own: a link to its default window's (the kernel follows it)
                if len(rest) == 1:
                    return StreamsLink(**here)
                raise FsError(errno.ENOTDIR, f"{path}: a group's @streams is a link to @since/<window>/@streams")
            return StreamsDir(**here, **query) if len(rest) == 1 else StreamFile(**here, stream=rest[1], **query)
        if len(rest) == 1 and rest[0] in ("@events", "@info.json", "@retention") and not (query and rest[0] != "@events"):
            return {"@events": EventsFile, "@info.json": InfoFile, "@retention": RetentionFile}[rest[0]](**here, **query)
        raise enoent(path, "no such place in a log group (@events, @streams/, @info.json, @retention, @since/, "
                     "@filter/)")

    def invalid(self, key: str) -> str:
        if not all(GROUP_PART.fullmatch(p) for p in key.split("/")) or len(key) > 511:
            return "a log group's name has letters, digits and . _ - # in each part (512 characters at most)"
        return ""

    def plan_mkdir(self, name: str) -> list[Mutation]:
        """``mkdir``: CreateLogGroup, named like the groups beside it (a leading ``/`` below a level
        whose groups have one, as /aws/lambda/... do)."""
        region, key = self.region_ok(), self.key_of(name)
        listing = Groups(self.ctx, region).search(None)
        here = "/".join(self.parts())
        rooted = bool(here) and any(n.startswith(f"/{here}/") or n == f"/{here}" for n in list(listing.names))
        group = ("/" if rooted else "") + key
        return [Mutation("logs", region, "CreateLogGroup", {"logGroupName": group}, [(ROOT, region)],
                         f"create log group {group}", conflict_errno=errno.EEXIST,
                         conflict=f"{group}: a log group of this name exists")]

    def plan_unlink(self, name: str) -> list[Mutation]:
        raise FsError(errno.EPERM, f"{self.path}/{name}: logs are never deleted through the mount")


def since_ms(when: str, path: str = "") -> int:
    """``2h``, ``30m``, ``1d``, ``90s`` back from now, or an ISO 8601 time (UTC unless it says), as
    milliseconds since the epoch."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if when[:-1].isdigit() and when[-1:] in units:
        return int((time.time() - int(when[:-1]) * units[when[-1]]) * 1000)
    try:
        t = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise enoent(path, f"{when!r} is neither a duration (2h, 30m, 1d) nor an ISO 8601 time") from None
    return int((t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp() * 1000)


class QueryDir(RegionNode, Dir):
    """``@since/<when>/`` (its @events, @streams/ and @filter/) or ``@filter/<pattern>/`` (its events);
    ``@since/`` and ``@filter/`` themselves list nothing (any name below them is asked for)."""

    def entries(self) -> list[tuple[str, Any]]:
        if self.params.get("level"):
            return []
        if "@filter" in self.params:
            return [("events", FILE)]
        return [("@events", FILE), ("@filter", DIR), ("@streams", DIR)]

    def check(self) -> None:
        if group_of(self.ctx, self.region_ok(), self.params["group"]) is None:
            raise enoent(self.path, "no such log group")


class GroupNode(RegionNode):
    """A file or directory of one log group (``group``: its directory path)."""
    params: dict

    def group(self) -> dict:
        g = group_of(self.ctx, self.region_ok(), self.params["group"])  # type: ignore[attr-defined]
        if g is None:
            raise enoent(self.path, "no such log group")  # type: ignore[attr-defined]
        return g

    def group_name(self) -> str:
        return self.group()["logGroupName"]

    def check(self) -> None:
        self.group()


class InfoFile(GroupNode, File):
    def content(self) -> bytes:
        return render_json(self.group())


class RetentionFile(GroupNode, LineValue):
    what = "retention"

    def value(self) -> str:
        days = self.group().get("retentionInDays")
        return "never" if days is None else str(days)

    def validate(self, text: str) -> str:
        text = text.strip()
        if text != "never" and not (text.isdigit() and int(text) in RETENTION):
            raise InputError(errno.EINVAL, f"retention is 'never' or one of {', '.join(map(str, RETENTION))} (days)")
        return text

    def put(self, value: str, base: Any) -> Mutation:
        region, name = self.region_ok(), self.group_name()
        params: dict = {"logGroupName": name}
        if value != "never":
            params["retentionInDays"] = int(value)
        return Mutation("logs", region, "PutRetentionPolicy" if value != "never" else "DeleteRetentionPolicy",
                        params, [(ROOT, region)], f"set the retention of {name} to {value}", repeatable=True)


class Streams(Collection):
    root, service, op, name = ROOT, "logs", "DescribeLogStreams", "@streams"

    def __init__(self, ctx: Any, region: str, group: str) -> None:
        super().__init__(ctx, region, "@streams", group)
        self.group = group

    def list_params(self) -> dict[str, Any]:
        return {"logGroupName": self.group}

    def name_of(self, s: dict) -> str:
        return escape(s["logStreamName"])


def window_word(seconds: float) -> str:
    """``3600`` -> ``1h``: a window as ``@since/`` takes it, in its largest whole unit."""
    s = max(1, int(round(seconds)))
    return next((f"{s // n}{u}" for u, n in (("d", 86400), ("h", 3600), ("m", 60)) if s % n == 0), f"{s}s")


class StreamsLink(GroupNode, Link):
    """A group's ``@streams``: a symbolic link to ``@since/<the default window>/@streams``, which
    ``grep -r``, ``find``, ``du`` and ``rsync`` do not follow (they read each event once, in
    ``@events``) and ``ls``, ``cd``, ``cat``, ``tail`` and ``>>`` go through."""

    def target(self) -> str:
        return f"@since/{window_word(self.ctx.settings.get('logs_since', WINDOW))}/@streams"


class StreamsDir(GroupNode, Dir):
    def entries(self) -> list[tuple[str, Any]]:
        return [(n, FILE) for n in Streams(self.ctx, self.region_ok(), self.group_name()).listing().all()]

    def child_for_create(self, name: str) -> "StreamFile":
        return StreamFile(self.ctx, f"{self.path}/{name}", region=self.params["region"], group=self.params["group"],
                          stream=name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        raise FsError(errno.EPERM, f"{self.path}/{name}: log streams are never deleted through the mount")


# -- growing files ------------------------------------------------------------------------------

def line_of(event: dict, stream: bool = False) -> bytes:
    when = datetime.fromtimestamp(event["timestamp"] / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    message = event.get("message", "")
    middle = f" {event.get('logStreamName', '')}" if stream else ""
    return f"{when}{middle} {message}{'' if message.endswith(chr(10)) else chr(10)}".encode()


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class Stretch:
    """Bytes ``offset`` to ``offset + length`` of a file: the first ``length`` bytes AWS renders
    from ``start`` (a position as :meth:`Growing.pages` takes it), whose digest is ``digest``."""
    __slots__ = ("offset", "length", "start", "digest", "broken")

    def __init__(self, offset: int, start: Any) -> None:
        self.offset, self.length, self.start, self.digest, self.broken = offset, 0, start, b"", False


class Follow:
    """What one file has shown: where each stretch of it starts in AWS (its bytes kept in the
    mount's window while they fit, else asked for again), its size, and where AWS goes on from."""
    _serial = itertools.count()

    def __init__(self, start: Any) -> None:
        self.lock = threading.Lock()
        self.key = next(Follow._serial)   # its stretches' keys in the window
        self.stretches: list[Stretch] = []
        self.offsets: list[int] = []      # each stretch's offset (for bisect)
        self.size = 0
        self.next = start                 # the position AWS is asked from next
        self.polled = float("-inf")  # (never: the first size asks, however long the machine has been up)
        self._hash: Any = None            # the last stretch's digest, as it grows

    def append(self, window: Memo, chunk: bytes, start: Any, most: int) -> None:
        """``chunk``, the page AWS gave from ``start``: onto the last stretch, or a new one from
        ``start`` when the last holds ``most`` bytes (a stretch begins where a page does)."""
        if not chunk:
            return
        if not self.stretches or self.stretches[-1].length >= most:
            self.stretches.append(Stretch(self.size, start))
            self.offsets.append(self.size)
            self._hash, kept = hashlib.blake2b(digest_size=16), b""
        else:
            kept = window.get((self.key, len(self.stretches) - 1), None)  # None: not kept (asked again if read)
        last = self.stretches[-1]
        self._hash.update(chunk)
        last.length += len(chunk)
        last.digest = self._hash.digest()
        self.size += len(chunk)
        # a new stretch is kept while there is room (a file's first bytes stay: cat and grep start
        # there, and what they have passed makes room for what comes next); one kept grows
        if kept or kept is not None and window.bytes + len(chunk) <= window.max_bytes:
            window.put((self.key, len(self.stretches) - 1), None, kept + chunk)


class Place:
    """A mount's followed files and the window of their bytes it keeps (``logs_keep_bytes`` in all)."""

    def __init__(self, keep: int) -> None:
        self.follows = Memo(10_000)
        self.window = Memo(1_000_000, max(1, keep))
        self.stretch = max(1, min(STRETCH, keep // 4))


_places: "weakref.WeakKeyDictionary[Any, Place]" = weakref.WeakKeyDictionary()
_places_lock = threading.Lock()


def place(ctx: Any) -> Place:
    got = _places.get(ctx)
    if got is None:
        with _places_lock:
            got = _places.get(ctx)
            if got is None:
                got = _places[ctx] = Place(int(ctx.settings.get("logs_keep_bytes", KEEP_BYTES)))
    return got


class Growing(GroupNode, File):
    """A file of events that grows as they arrive (read live, never memoized; its size from what
    was fetched, not from a copy of it). Declare :meth:`first` (the position of its first page)
    and :meth:`pages` (AWS's pages from a position, each with the position after it)."""
    volatile = streamed = True

    def version(self) -> str:
        return str(self.size())

    def since(self) -> int:
        when = self.params.get("@since")
        return since_ms(when) if when else int((time.time() - self.ctx.settings.get("logs_since", WINDOW)) * 1000)

    def first(self) -> Any:
        raise NotImplementedError

    def pages(self, pos: Any) -> Iterator[tuple[bytes, Any]]:
        """The bytes of each page AWS gives from ``pos`` until it has nothing more for now, each
        with the position after it. Changes nothing: a stretch is asked for again with it."""
        raise NotImplementedError

    def follow(self) -> Follow:
        follows = place(self.ctx).follows
        key = (self.params["region"], self.path)
        got = follows.get(key, None)
        if got is None:
            with _places_lock:  # (two first readers at once share one)
                got = follows.get(key, None) or follows.put(key, None, Follow(self.first()))
        return got

    def caught_up(self) -> Follow:
        f, here = self.follow(), place(self.ctx)
        with f.lock:
            now = time.monotonic()
            if now - f.polled >= POLL:
                for chunk, after in self.pages(f.next):
                    f.append(here.window, chunk, f.next, here.stretch)
                    f.next = after
                f.polled = now  # from when it asked: tail's fstat a second later asks again
        return f

    def size(self) -> int:
        return self.caught_up().size

    def read(self, offset: int, size: int) -> bytes:
        f, window = self.follow(), place(self.ctx).window
        if offset + size > f.size:  # a read at its end asks AWS for what is new; one within it, nothing
            f = self.caught_up()
        with f.lock:
            end = min(offset + size, f.size)
            i = bisect.bisect_right(f.offsets, offset) - 1
            wanted = []
            while offset < end and i < len(f.stretches) and f.offsets[i] < end:
                s = f.stretches[i]
                wanted.append((i, s, s.length, s.digest, window.get((f.key, i), None)))
                i += 1
        out = []
        for i, s, length, sum_, data in wanted:
            if data is None:
                data = self.again(f, i, s, length, sum_)
            out.append(data[max(0, offset - s.offset):end - s.offset])
        return b"".join(out)

    def again(self, f: Follow, i: int, s: Stretch, length: int, sum_: bytes) -> bytes:
        """A stretch no longer kept, asked for again from its start: the same bytes, or EIO."""
        where = f"{self.path}: bytes {s.offset:,} to {s.offset + length:,}"
        if s.broken:
            raise FsError(errno.EIO, f"{where} are no longer what AWS returns; a window read anew shows what it has "
                          "now: @since/<when>/")
        got, pos = bytearray(), s.start
        try:
            while len(got) < length:
                before = len(got)
                for chunk, pos in self.pages(pos):
                    got += chunk
                    if len(got) >= length:
                        break
                if len(got) == before:
                    break
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise  # (a failure: asked for again by the next read)
            got = bytearray()  # the stream or group is gone: not what it was
        data = bytes(got[:length])
        if len(data) < length or digest(data) != sum_:
            s.broken = True
            raise FsError(errno.EIO, f"{where}, asked for again, are not what AWS returned before (events expired "
                          "or changed since): never other bytes at these offsets; a window read anew shows what it "
                          "has now: @since/<when>/")
        with f.lock:
            if s.length == length:  # (the last stretch may have grown meanwhile: kept when it is whole)
                place(self.ctx).window.put((f.key, i), None, data)
        return data

    def content(self) -> bytes:
        return self.read(0, self.size())

    def mtime_hint(self) -> Optional[float]:
        return time.time()


class EventsFile(Growing):
    """``@events``: FilterLogEvents from the window's start, page by page (its nextToken); once
    caught up, from the last event's time again (its ids remembered, so nothing shows twice). A
    position: (the query's startTime, its nextToken, the last event's time, the ids seen at it)."""

    def first(self) -> Any:
        since = self.since()
        return since, None, since, frozenset()

    def pages(self, pos: Any) -> Iterator[tuple[bytes, Any]]:
        start, token, last, seen = pos
        start = start if token else last  # a new query goes on from the last event's time
        seen = set(seen)
        region, name = self.region_ok(), self.group_name()
        while True:
            params: dict = {"logGroupName": name, "startTime": start}
            if self.params.get("@filter"):
                params["filterPattern"] = self.params["@filter"]
            if EVENTS_PAGE:
                params["limit"] = EVENTS_PAGE
            if token:
                params["nextToken"] = token
            page = self.aws.call("logs", region, "FilterLogEvents", **params)
            out = bytearray()
            for e in page.get("events", []):
                if e["eventId"] in seen:
                    continue
                if e["timestamp"] > last:
                    last, seen = e["timestamp"], set()
                seen.add(e["eventId"])
                out += line_of(e, stream=True)
            token = page.get("nextToken")
            yield bytes(out), (start, token, last, frozenset(seen))
            if not token:
                return


class StreamFile(Growing):
    """``@streams/<stream>``: GetLogEvents from the window's start, then from its forward token
    (the window's start sent along: a token goes on from where the query it came from was);
    lines written to it are PutLogEvents. A position: (the window's start, the forward token)."""
    writable, ctl, empty_ok = True, True, True
    max_bytes = 1 << 20

    def stream(self) -> str:
        got = unescape(self.params["stream"])
        if got is None:
            raise enoent(self.path, "not a stream name")
        return got

    def check(self) -> None:
        Streams(self.ctx, self.region_ok(), self.group_name()).lookup(self.params["stream"], self.path)

    def first(self) -> Any:
        return self.since(), None

    def pages(self, pos: Any) -> Iterator[tuple[bytes, Any]]:
        since, token = pos
        region, name, stream = self.region_ok(), self.group_name(), self.stream()
        while True:
            params: dict = {"logGroupName": name, "logStreamName": stream, "startFromHead": True, "limit": PAGE,
                            "startTime": since}
            if token:
                params["nextToken"] = token
            page = self.aws.call("logs", region, "GetLogEvents", **params)
            events = page.get("events", [])
            ahead = page.get("nextForwardToken") or token
            yield b"".join(line_of(e) for e in events), (since, ahead)
            if len(events) < PAGE or ahead == token:
                return  # a page short of the limit is the end: nothing to ask again until the next poll
            token = ahead

    def plan_line(self, line: str) -> list[Mutation]:
        region, name, stream = self.region_ok(), self.group_name(), self.stream()
        event = {"timestamp": int(time.time() * 1000), "message": line}
        return [Mutation("logs", region, "PutLogEvents", {"logGroupName": name, "logStreamName": stream,
                                                          "logEvents": [event]},
                         [(ROOT, region, "@streams")], f"put an event into {name} {stream}",
                         update=lambda resp: self.ask_again())]

    def ask_again(self) -> None:
        self.follow().polled = float("-inf")  # the next size asks AWS: the writer's own event shows

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        """A new stream (``touch``, or lines written to a name that is not one): CreateLogStream,
        then its lines."""
        region, name, stream = self.region_ok(), self.group_name(), self.stream()
        create = Mutation("logs", region, "CreateLogStream", {"logGroupName": name, "logStreamName": stream},
                          [(ROOT, region, "@streams")], f"create log stream {name} {stream}",
                          conflict_errno=errno.EEXIST, conflict=f"{stream}: a stream of this name exists")
        lines = bytes(new).decode("utf-8", "replace").splitlines()
        return [create] + [m for ln in lines if ln.strip() for m in self.plan_line(ln)]


REQUIRED = {
    ("logs", "DescribeLogGroups"): ("logGroups",),
    ("logs", "DescribeLogStreams"): ("logStreams",),
    ("logs", "FilterLogEvents"): ("events",),
    ("logs", "GetLogEvents"): ("events",),
}

ROUTES = [
    ("/logs", RegionsDir),
    ("/logs/{region}", GroupDir),
    ("/logs/{region}/{name...}", GroupDir.node),
]
