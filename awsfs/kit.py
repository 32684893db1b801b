"""The service kit: what a service declares once, and the engine that serves it.

* :class:`Collection` — named AWS things listed by one paginated call (botocore's own paginator
  definition gives the tokens and where the entries are), each fetchable alone and optionally in
  batches. The engine answers a lookup from a cached listing, else by listing a collection small
  enough that a listing costs what one get costs, else with one get; it caches a definite absence
  (never a failure), fetches together the names the calling command names, and writes through.
* :class:`Document` — a writable file whose whole content is one AWS thing. It declares how it
  parses, compares, identifies itself, reads fresh and puts; :meth:`Document.plan` is the save
  skeleton: parse, identity check, no call when unchanged, conditional put (ESTALE when the thing
  changed since the writer read it, EEXIST when a create finds the name taken), verification of an
  unknown outcome, write-through.
* :class:`LineValue` — a one-line Document (a tag, an instance type, a parameter value).
* :class:`Hierarchy` — directories made from names that hold ``/`` (SSM, Secrets Manager,
  log groups), over one complete listing.
* :class:`RegionsDir`, :class:`RegionNode` — the per-region top of a regional service.

Nodes get a :class:`~awsfs.context.Context` (``self.ctx``), never the filesystem.
"""
from __future__ import annotations

import collections
import errno
import hashlib
import logging
import threading
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from . import caller
from .cache import Memo
from .errors import FsError, InputError, NotNow
from .nodes import DIR, FILE, Dir, File, Listing, Node, enoent, is_tool_scratch
from .transaction import Mutation

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["ANY", "Collection", "Document", "Hierarchy", "LineValue", "NamesDir", "RegionNode", "RegionsDir", "one_line"]

log = logging.getLogger("awsfs.kit")


# -- regions ------------------------------------------------------------------------------------

class RegionsDir(Dir):
    """``/<service>``: one directory per region this mount serves."""

    def entries(self):
        return [(r, DIR) for r in self.ctx.regions]


class RegionNode:
    """Mixin: ``region_ok`` fails for a region the mount does not serve."""

    params: dict

    def region_ok(self) -> str:
        region = self.params["region"]
        if region not in self.ctx.regions:  # type: ignore[attr-defined]
            raise enoent(self.path, "region not served by this mount")  # type: ignore[attr-defined]
        return region

    def check(self) -> None:
        self.region_ok()


# -- collections ----------------------------------------------------------------------------------

PREFETCH_SECONDS = 3.0   # a batch fetch that takes longer is given up (the lookup asks for its entry alone)
PREFETCH_PAUSE = 10.0    # after a failed batch, the same command's next lookups here do not try again
_failed: "collections.OrderedDict[tuple, float]" = collections.OrderedDict()  # (pid, prefix) -> when
_failed_lock = threading.Lock()


class Collection:
    """Named things of one kind in one place (a region, a table, a bucket prefix).

    Declare: ``root`` (the service's top directory: cache keys start with it), ``service`` (the
    boto3 client), ``op`` (the paginated listing call) with :meth:`list_params`, :meth:`name_of`
    (an entry's file name) and, when the listing's entries are not under the paginator's result
    key, :meth:`entries`. To fetch one entry without the listing: ``one`` (its cache key word) and
    :meth:`get`; to fetch several at once: ``batch`` (how many one call takes) and
    :meth:`get_batch`. ``group`` is a sub-directory of the collection (a DynamoDB partition),
    None for a flat one.
    """

    root = ""
    service = ""
    op = ""
    name = "listing"        #: the listing's cache key word
    one: Optional[str] = None  #: a single entry's cache key word (None: entries are found in the listing only)
    batch = 0               #: entries one batch call fetches (0: no batch call)
    batch_ahead = 4         #: batch calls sent at once for the names a command gives
    listing_class = Listing

    def __init__(self, ctx: "Context", region: str, *scope: str) -> None:
        self.ctx = ctx
        self.region = region
        self.scope = scope
        self.prefix: tuple = (self.root, region, *scope)

    # -- what a service declares --------------------------------------------------------------
    def list_params(self) -> dict[str, Any]:
        return {}

    def entries(self, page: dict[str, Any]) -> list[tuple[str, Any]]:
        """``(name, value)`` of one listing page."""
        key = self.ctx.aws.paging(self.service, self.op).result_key
        return [(self.name_of(e), e) for e in page.get(key, [])]

    def name_of(self, entry: Any) -> str:
        raise NotImplementedError

    def addressable(self, group: Optional[str], name: str) -> Optional[bool]:
        """Whether :meth:`get` can fetch ``name``: True; False (no entry can have this name); None
        (only the listing can tell: a name that cannot be turned back into a key)."""
        return True

    def get(self, group: Optional[str], name: str) -> Any:
        """One call: the entry, or None when AWS says there is none."""
        raise NotImplementedError

    def batchable(self, group: Optional[str], name: str) -> bool:
        """Whether ``name`` may go in a batch (one AWS refuses would fail the whole batch)."""
        return self.addressable(group, name) is True

    def get_batch(self, group: Optional[str], names: list[str]) -> dict[str, Any]:
        """The entries of ``names`` (None: AWS says there is none); a name left out was not answered."""
        raise NotImplementedError

    def small(self) -> bool:
        """Whether listing the whole collection costs what one get costs (then it is listed)."""
        return False

    def together(self, group: Optional[str], name: str) -> list[str]:
        """The names worth fetching in one batch with ``name`` (it first): by default, those the
        calling command names after it (``cat a b c``). A service may add others (the files of a
        directory the command has just listed)."""
        return caller.named_from(self.ctx.caller_pid(), name, self.batch * self.batch_ahead)

    # -- the engine ----------------------------------------------------------------------------
    def key(self, *more: Any) -> tuple:
        return (*self.prefix, self.name, *more)

    def one_key(self, group: Optional[str], name: str) -> tuple:
        return (*self.prefix, self.one, group, name) if self.grouped else (*self.prefix, self.one, name)

    grouped = False  #: entries live in groups (single-entry keys carry the group)

    def fetch_page(self, token: Any) -> tuple[list[tuple[str, Any]], Any]:
        page, token = self.ctx.aws.page(self.service, self.region, self.op, token, self.list_params())
        return self.entries(page), token

    def listing(self) -> Listing:
        return self.ctx.cache.get(self.key(), lambda: self.listing_class(self.fetch_page))

    def cached(self) -> Optional[Listing]:
        e = self.ctx.cache.peek(self.key())
        return None if e is None else e.value

    def known(self, group: Optional[str]) -> Optional[Listing]:
        """A cached listing that answers for ``group`` (None: none is cached)."""
        return self.cached()

    def view(self, whole: Listing, group: Optional[str]) -> Listing:
        """What of a complete listing answers for ``group``."""
        return whole

    def search(self, group: Optional[str]) -> Listing:
        """The whole listing of ``group`` (None: all of it), listed to the end."""
        whole = self.listing()
        whole.ensure()
        return self.view(whole, group)

    def lookup(self, name: str, path: str, group: Optional[str] = None) -> Any:
        stored = self.lookup_stored(name, path, group)
        return self.listing_class.unpack(stored)

    def lookup_stored(self, name: str, path: str, group: Optional[str] = None) -> Any:
        """The entry as the cache keeps it (the same object until it changes), or ENOENT."""
        listing = self.known(group)
        if listing is None and self.one is None:
            listing = self.search(group)
        if listing is None and self.ctx.cache.peek(self.one_key(group, name)) is None:
            # the command names more entries here: they come in batches (and are cached); else a
            # collection that fits one page is listed, and the listing answers every later lookup
            if not self._prefetched(group, name) and self.small():
                whole = self.listing()
                whole.ensure(1)
                if whole.complete:
                    listing = self.view(whole, group)
        if listing is not None:
            known, value = listing.lookup_stored(name)
            if known:
                if value is None:
                    raise enoent(path, self.absent)
                return value
        # without a single get, only the whole listing can tell (one still being read, or read anew
        # after a refresh, is read to its end)
        addressable = self.addressable(group, name) if self.one is not None else None
        if addressable is False:
            raise enoent(path, self.absent)
        if addressable is None:
            known, value = self.search(group).lookup_stored(name)
            if value is None:
                raise enoent(path, self.absent)
            return value

        def load() -> Any:
            got = self.get(group, name)  # None is a definite "no such entry", cached like an entry
            return None if got is None else self.listing_class.pack(got)
        got = self.ctx.cache.get(self.one_key(group, name), load)
        if got is None:
            raise enoent(path, self.absent)
        return got

    absent = "no such entry"  #: what ENOENT says

    def _prefetched(self, group: Optional[str], name: str) -> bool:
        """Fetch ``name`` and the entries :meth:`together` with it, in batches sent at once,
        caching each answer as a get's would be. False (and no call) when there is no batch call
        or no other entry goes with it. A batch that fails or is slow is given up:
        the lookup goes the usual way, and the command's next lookups here do not try for a while."""
        if not self.batch:
            return False
        pid = self.ctx.caller_pid()
        who = (pid, self.prefix)
        failed = _failed.get(who)
        if failed is not None and time.monotonic() - failed < PREFETCH_PAUSE:
            return False
        wanted = [n for n in self.together(group, name)
                  if self.batchable(group, n) and (n == name or self.ctx.cache.peek(self.one_key(group, n)) is None)]
        wanted = wanted[:self.batch * self.batch_ahead]
        if not wanted or wanted[0] != name or len(wanted) < 2:
            return False
        gens = {n: self.ctx.cache.generation(self.one_key(group, n)) for n in wanted}
        try:
            found = self.get_batch(group, wanted)
        except NotNow:
            return False  # not a failure: no AWS call now (the attributes sent with a listing)
        except FsError as e:
            with _failed_lock:
                _failed[who] = time.monotonic()
                while len(_failed) > 1000:
                    _failed.popitem(last=False)
            log.info("batch fetch failed; looking up one by one", extra={
                "event": "prefetch", "path": "/" + "/".join(map(str, self.prefix)),
                "errno": errno.errorcode.get(e.errno or 0, ""), "reason": e.reason})
            return False
        for n, value in found.items():
            if n in gens:
                self.ctx.cache.put_if_unchanged(self.one_key(group, n),
                                                None if value is None else self.listing_class.pack(value), gens[n])
        return True

    def touched(self) -> list[tuple]:
        """Cache entries a change in this collection makes stale."""
        return [self.prefix]

    def put(self, name: str, value: Any, group: Optional[str] = None) -> None:
        """Write-through of a saved entry: the cached listing and the single entry show it."""
        listing = self.cached()
        if listing is not None:
            listing.put(name, value)
        if self.one is not None:
            self.ctx.cache.put(self.one_key(group, name), self.listing_class.pack(value))

    def drop(self, name: str, group: Optional[str] = None) -> None:
        """Write-through of a deletion."""
        listing = self.cached()
        if listing is not None:
            listing.drop(name)
        if self.one is not None:
            self.ctx.cache.put(self.one_key(group, name), None)


class Hierarchy:
    """Directories made from the names of one complete listing, split at ``/`` (a leading ``/``
    is dropped: ``/app/db/host`` is ``app/db/host``). Worked out once per listing state."""

    def __init__(self, listing: Listing, split: Callable[[str], list[str]]) -> None:
        self.listing = listing
        self.split = split
        self._lock = threading.Lock()
        self._state: Any = None
        self._dirs: dict[tuple, dict[str, str]] = {}

    def _tree(self) -> dict[tuple, dict[str, str]]:
        self.listing.ensure()
        state = (len(self.listing.names), self.listing.version)
        with self._lock:
            if state == self._state:
                return self._dirs
        dirs: dict[tuple, dict[str, str]] = {(): {}}
        for name, value in self.listing.iter_from(0, values=False):
            if value is Listing.GONE:
                continue
            parts = tuple(self.split(name))
            for i in range(len(parts) - 1):
                dirs.setdefault(parts[:i], {}).setdefault(parts[i], DIR)
                dirs.setdefault(parts[:i + 1], {})
            if parts:
                here = dirs.setdefault(parts[:-1], {})
                if here.get(parts[-1]) != DIR:  # a name that is also a directory: the directory wins
                    here[parts[-1]] = FILE
        with self._lock:
            self._state, self._dirs = state, dirs
        return dirs

    def children(self, parts: tuple) -> Optional[dict[str, str]]:
        """``name -> kind`` under ``parts`` (None: no such directory)."""
        return self._tree().get(tuple(parts))


class NamesDir(RegionNode, Dir):
    """A directory of things whose names hold ``/`` (SSM parameters, secrets, log groups): the
    region (``name`` "") or a prefix of names, which exists while a name goes on below it (or
    ``mkdir`` made it here). Declare ``document`` (the class of the things' files),
    :meth:`names` (``name -> kind`` below some parts) and :meth:`invalid`; route
    ``/<root>/{region}/{name...}`` to :meth:`node`."""

    document: type = File
    absent = "no such file or directory"

    def names(self, parts: tuple[str, ...]) -> Optional[dict[str, str]]:
        """``name -> kind`` below ``parts`` (None: no name goes on below them)."""
        raise NotImplementedError

    def invalid(self, key: str) -> str:
        """Why ``key`` cannot name a thing here ("" when it can)."""
        return ""

    @classmethod
    def variant(cls, ctx: "Context", path: str, region: str, name: str) -> Optional[File]:
        """A file for a name that is no thing's (``NAME@history``, ``NAME:AWSPREVIOUS``), or None."""
        return None

    @classmethod
    def is_document(cls, ctx: "Context", region: str, key: str) -> bool:
        """Whether ``key`` names a thing (a directory of the same name wins over it)."""
        head, _, last = key.rpartition("/")
        kids = cls(ctx, "", region=region, name=head).names(tuple(p for p in head.split("/") if p))
        return bool(kids) and kids.get(last) == FILE

    @classmethod
    def node(cls, ctx: "Context", path: str, region: str, name: str) -> Node:
        variant = cls.variant(ctx, path, region, name)
        if variant is not None:
            return variant
        if region in ctx.regions and cls.is_document(ctx, region, name):
            return cls.document(ctx, path, region=region, name=name)
        return cls(ctx, path, region=region, name=name)

    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in self.params.get("name", "").split("/") if p)

    @property
    def made_of_entries(self) -> bool:  # type: ignore[override]
        return bool(self.parts())

    def children(self) -> dict[str, str]:
        got = self.names(self.parts())
        if got is None:
            raise enoent(self.path, self.absent)
        return got

    def check(self) -> None:
        if self.region_ok() and self.parts():
            self.children()

    def entries(self) -> list[tuple[str, str]]:
        return list(self.children().items())

    def key_of(self, name: str) -> str:
        return "/".join((*self.parts(), name))

    def child_for_create(self, name: str) -> File:
        key = self.key_of(name)
        why = self.invalid(key)
        if why:
            raise InputError(errno.EINVAL, f"{name!r}: {why}")  # a name is no secret: shown as it is
        return self.document(self.ctx, f"{self.path}/{name}", region=self.params["region"], name=key)

    def allows_mkdir(self, name: str) -> bool:
        return not self.invalid(self.key_of(name)) and not is_tool_scratch(name)

    def why_no_mkdir(self, name: str) -> str:
        return self.invalid(self.key_of(name)) or super().why_no_mkdir(name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        return self.child_for_create(name).plan_delete()  # type: ignore[attr-defined]


# -- documents ------------------------------------------------------------------------------------

ANY = object()  #: in a verification: whatever the thing held before does not matter
_SEEN_KEY = os.urandom(16)  # digests of what readers got are keyed: a memo never holds a value's plain hash
_seen = Memo(20_000)        # (mount, path, digest of the bytes a reader got) -> the version they were


class Document(File):
    """A writable file that is one AWS thing. Declare :meth:`parse`, :meth:`same` (and
    :meth:`identity` when a thing's content names it), :meth:`exists`, :meth:`fresh` (a consistent
    read for the check before a save), :meth:`put` / :meth:`create` (the mutation), and the words
    ``what`` and ``where``; :meth:`plan` does the rest."""

    writable = True

    # -- what a document declares ---------------------------------------------------------------
    def parse(self, data: bytes) -> Any:
        """The value ``data`` stands for; InputError (with line and column) when it is not valid."""
        raise NotImplementedError

    def same(self, a: Any, b: Any) -> bool:
        return a == b

    def identity(self, value: Any) -> Any:
        """What names the thing inside its content (a key); a save may not change it."""
        return None

    def identity_changed(self, base: Any, new: Any) -> InputError:
        return InputError(errno.EINVAL, f"{self.where()}: the new content names another thing; copy it to a new "
                          "file to create one")

    def check_new(self, value: Any) -> None:
        """Refuse (InputError) a value this place cannot hold (a key that does not match its directory)."""

    def exists(self) -> bool:
        """Whether the thing exists, as the cache knows it."""
        try:
            self.check()
            return True
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return False

    def fresh(self, value: Any) -> Any:
        """The thing ``value`` is saved as, as AWS has it now (None: there is none): what a save
        is checked against (a consistent read)."""
        raise NotImplementedError

    def put(self, value: Any, base: Any) -> Mutation:
        """The change that makes AWS hold ``value`` over ``base`` (what the writer read). Its
        ``params`` may be completed by :meth:`condition` once the check has read the thing."""
        raise NotImplementedError

    def condition(self, mutation: Mutation, seen: Any) -> None:
        """Make ``mutation`` hold only while the thing is still ``seen`` (where AWS can check it)."""

    def create(self, value: Any) -> Mutation:
        """The change that creates the thing (it must fail, EEXIST, when the name is taken)."""
        raise NotImplementedError

    def where(self) -> str:
        return self.path

    # -- the version a reader saw (for a service whose saves check a version, not the content) -----
    def shown(self, data: bytes, version: Any) -> bytes:
        """``data`` is what this file reads as, and it is ``version`` of the thing: a later save
        whose base is ``data`` is checked against that version (:meth:`seen`)."""
        _seen.put(self._seen_key(data), None, version)
        return data

    def seen(self, data: bytes) -> Any:
        """The version a reader got with ``data`` (None: not known)."""
        return _seen.get(self._seen_key(data), None)

    def _seen_key(self, data: bytes) -> tuple:
        return (id(self.ctx), self.path, hashlib.blake2b(data, digest_size=16, key=_SEEN_KEY).digest())

    what = "thing"  #: for messages: "item", "parameter", "secret"
    service_name = "AWS"  #: for messages: "DynamoDB", "SSM"

    # -- the save skeleton ---------------------------------------------------------------------------
    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        value = self.parse(new)
        self.check_new(value)
        if base is None:
            m = self.create(value)
            m.conflict_errno = errno.EEXIST
            m.conflict = m.conflict or (f"{self.where()}: a {self.what} of this name already exists (created by "
                                        f"someone else meanwhile); open its file to change it")
            m.verify = m.verify or (lambda: self.holds(value, None))
            return [m]
        base_value = self.parse(base)
        if self.identity(base_value) != self.identity(value):
            raise self.identity_changed(base_value, value)
        if self.same(base_value, value) and self.exists():
            return []  # unchanged (if it is gone meanwhile, the check below says so)
        m = self.put(value, base_value)
        stale = (f"{self.where()} was {{}} in {self.service_name} since you read it; your save was refused and "
                 "the other change kept (re-open the file to see it)")

        prepare = m.precheck  # the put's own preparation (uploading parts) comes after the check

        def precheck() -> None:
            got = self.fresh(value)
            if got is not None and self.same(got, value):
                pass  # it already holds what is saved (an editor putting back its backup): no conflict
            elif got is None or not self.same(got, base_value):
                raise FsError(errno.ESTALE, stale.format("deleted" if got is None else "changed"))
            self.condition(m, got)
            if prepare is not None:
                prepare()
        m.precheck = precheck
        m.conflict = m.conflict or stale.format("changed or deleted")
        m.verify = m.verify or (lambda: self.holds(value, base_value))
        return [m]

    def holds(self, after: Any, before: Any) -> Optional[bool]:
        """After a save whose outcome is unknown: True if AWS holds ``after``, False if it still
        holds ``before`` (None: no thing), None if neither (someone else changed it too)."""
        got = self.fresh(after)

        def same(a: Any, b: Any) -> bool:
            return b is ANY or a is None and b is None or a is not None and b is not None and self.same(a, b)
        if same(got, after):
            return True
        if same(got, before):
            return False
        return None


def one_line(new: bytes, what: str = "a value") -> str:
    """The text of a one-line value: UTF-8, one trailing newline dropped, no other newline."""
    try:
        text = new.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(errno.EINVAL, f"{what} must be UTF-8 text") from None
    text = text[:-1] if text.endswith("\n") else text
    if "\n" in text:
        raise InputError(errno.EINVAL, f"{what} is one line")
    return text


class LineValue(Document):
    """A one-line value file: content is the value plus ``\\n``; a write commits as soon as its
    line is complete. Declare :meth:`value` (the current one, from the cache), :meth:`validate`
    and :meth:`put`; :meth:`fresh` when the decision must be made on AWS's state (default: the
    cached value). Saving what is already held makes no call."""

    line_value = True
    absent = ""  #: what ENOENT says ("no such <what>" when empty)

    def value(self) -> Optional[str]:
        raise NotImplementedError

    def validate(self, text: str) -> str:
        """The value to save for ``text`` (stripped, checked), or InputError."""
        return text

    def content(self) -> bytes:
        value = self.value()
        if value is None:
            raise enoent(self.path, self.absent or f"no such {self.what}")
        return f"{value}\n".encode()

    def parse(self, data: bytes) -> str:
        article = "an" if self.what[:1] in "aeiou" else "a"
        return self.validate(one_line(data, f"{article} {self.what}"))

    def fresh(self, value: Any) -> Optional[str]:
        return self.value()

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        value = self.parse(new)
        self.check_new(value)
        if self.same(self.fresh(value), value):
            return []
        return [self.put(value, None if base is None else self.parse_base(base))]

    def parse_base(self, base: bytes) -> Optional[str]:
        try:
            return self.parse(base)
        except InputError:
            return None


def entries_of(listing: Listing, offset: int, kind: Any) -> Iterator[tuple[str, Any]]:
    """A listing's names as directory entries of ``kind`` from ``offset`` (deleted ones keep
    their slot as None)."""
    return ((n, None if v is Listing.GONE else kind) for n, v in listing.iter_from(offset, values=False))
