"""S3: every bucket of the account, its objects as files, ``/``-delimited prefixes as directories.

* ``/s3/<bucket>/`` for each bucket ListBuckets gives, whatever its region: calls go to the
  bucket's own region (GetBucketLocation, once per bucket). ``.bucket.json`` at a bucket's top
  describes it (region, versioning, encryption, tags).
* A directory is one ListObjectsV2 listing (Delimiter ``/``, 1,000 a page, read as far as it is
  read): sizes and times come from it, never a HeadObject per file. A zero-byte ``dir/`` marker is
  the directory itself. A key that cannot be a path (an empty, ``.`` or ``..`` component, one over
  255 bytes) is not listed, and ``/.awsfs/errors`` says where it is; when ``a`` is both an object
  and a prefix (``a/b``), the directory wins.
* A command going down a tree (it read a directory to its end, then lists a subdirectory: ``find``,
  ``du``, ``grep -r``, ``cp -r``, ``rsync``) gets the keys below listed flat instead, as a boto3
  script would list them (see :class:`Walk`): ``find`` over 10,000 objects in 50 prefixes is the
  top's listing and 10 pages, not 51 listings.
* Reading is ranged GETs of 8 MB, conditional on the ETag the listing showed (a change while
  reading is ESTALE, never a mix of two versions), four ranges ahead of a sequential reader,
  shared by every reader, at most 8 kept (what a sequential reader passed is let go). ``stat`` and ``open`` download nothing.
* Saving follows the document rules: scratch names stay local; the content is committed from the
  complete spool (on local disk when large), conditional on the ETag the writer saw (If-Match;
  ESTALE when it changed); a new name is created with If-None-Match ``*`` (EEXIST when taken).
  Up to 8 MB it is one PutObject; above, a multipart upload of 8 MB parts sent eight at a time,
  completed only once all are up, aborted when anything fails (the old object stays as it was).
  Content-Type and user metadata are kept across a save.
* ``.versions/<key>/`` (not listed) holds the key's versions, each readable by its version id
  (ListObjectVersions, GetObject VersionId), read-only.
* ``rm`` is DeleteObject (``rm -r``: 1,000 to a DeleteObjects, see :meth:`PrefixDir.rm_batch`); ``rmdir`` deletes a ``dir/`` marker; ``mkdir`` stays local until an object
  is written under it; ``mv`` is CopyObject (CopySourceIfMatch) then DeleteObject; above 5 GB
  the copy is a multipart upload of UploadPartCopy ranges. ``setfattr -n user.s3.content-type`` is
  CopyObject onto itself.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import errno
import itertools
import hashlib
import mimetypes
import threading
import time
import urllib.parse
import weakref
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Iterator, NamedTuple, Optional

from ..cache import Memo
from ..caller import removes_tree, temp_maker
from ..errors import FsError, InputError
from ..kit import Collection, Document
from ..nodes import (DIR, FILE, Dir, File, Listing, Node, Version, enoent, is_tool_temp, mkstemp_maker,
                     render_json)
from ..transaction import Mutation

ROOT, REGIONAL = "s3", False
HOME = "us-east-1"          # where ListBuckets and GetBucketLocation are asked
DIRECTORY = "/"             # a listing's value for a prefix
PAGE = 1000                 # keys of one ListObjectsV2 page (its most)
CHUNK = 8 << 20             # bytes of one ranged GET
AHEAD = 4                   # ranges fetched ahead of a sequential reader
READ_THREADS = 2 * AHEAD    # ranged GETs at once, all readers together
KEEP = 8                    # ranges kept, across all readers (64 MB at most; a sequential reader
                            # keeps the one it reads, the one before and four ahead)
PART = 8 << 20              # bytes of a multipart upload's part; smaller objects are one PutObject
PARTS_AT_ONCE = 8
MAX_COPY = 5 << 30          # CopyObject's limit; above it, a multipart copy of COPY_PART ranges
COPY_PART = 512 << 20
MAX_PARTS = 10_000          # of one multipart upload
STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER",
                   "DEEP_ARCHIVE", "REDUCED_REDUNDANCY")
STALE = {"PreconditionFailed": errno.ESTALE}
KEPT_HEADERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl",
                "Metadata", "StorageClass", "ServerSideEncryption", "SSEKMSKeyId")  # what a save keeps


# -- buckets ------------------------------------------------------------------------------------

class Buckets(Collection):
    root, service, op, name = ROOT, "s3", "ListBuckets", "@buckets"
    absent = "no such bucket in this account"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx, HOME)
        self.prefix = (ROOT, "@account")  # (cache keys: no bucket is named so)

    def name_of(self, bucket: dict) -> str:
        return bucket["Name"]


def bucket_entry(ctx: Any, bucket: str, path: str) -> dict:
    return Buckets(ctx).lookup(bucket, path)


def region_of(ctx: Any, bucket: str) -> str:
    def load() -> str:
        loc = ctx.aws.call("s3", HOME, "GetBucketLocation", Bucket=bucket).get("LocationConstraint")
        return "us-east-1" if not loc else "eu-west-1" if loc == "EU" else loc
    return ctx.cache.get((ROOT, "@region", bucket), load)


class BucketsDir(Dir):
    def entries_from(self, offset: int) -> Iterator[tuple[str, Any]]:
        return ((n, DIR) for n, _ in Buckets(self.ctx).listing().iter_from(offset, values=False))


class BucketInfo(File):
    """``.bucket.json``: where the bucket is and how it keeps objects."""

    def check(self) -> None:
        bucket_entry(self.ctx, self.params["bucket"], self.path)

    def content(self) -> bytes:
        bucket = self.params["bucket"]
        entry, region = bucket_entry(self.ctx, bucket, self.path), region_of(self.ctx, bucket)

        def ask(op: str, key: str, absent: str) -> Any:
            try:
                return self.aws.send("s3", region, op, {"Bucket": bucket}, overrides={absent: errno.ENOENT}).get(key)
            except FsError as e:
                if e.errno != errno.ENOENT:
                    raise
                return None
        rules = ask("GetBucketEncryption", "ServerSideEncryptionConfiguration",
                    "ServerSideEncryptionConfigurationNotFoundError")
        tags = ask("GetBucketTagging", "TagSet", "NoSuchTagSet") or []
        return render_json({"Name": bucket, "Region": region, "CreationDate": entry.get("CreationDate"),
                            "Versioning": ask("GetBucketVersioning", "Status", "NoSuchBucket") or "Disabled",
                            "Encryption": (rules or {}).get("Rules"), "Tags": {t["Key"]: t["Value"] for t in tags}})


def bucket_dir(ctx: Any, path: str, bucket: str) -> "PrefixDir":
    bucket_entry(ctx, bucket, path)
    return PrefixDir(ctx, path, bucket=bucket)


# -- objects ------------------------------------------------------------------------------------

def unfit(name: str) -> str:
    """Why a key's component cannot be a file name ("" when it can)."""
    if name in ("", ".", ".."):
        return "an empty component (from '//')" if not name else f"a {name!r} component"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "a component over 255 bytes"
    return ""


_noted = Memo(10_000)  # (mount, bucket, key) already said in /.awsfs/errors


def note_unlisted(ctx: Any, bucket: str, key: str, why: str) -> None:
    if _noted.get((id(ctx), bucket, key), None) is None:
        _noted.put((id(ctx), bucket, key), None, True)
        what = f"the objects under {key!r} are" if key.endswith("/") else f"object {key!r} is"
        ctx.errors.note(f"/s3/{bucket}", "list", f"{what} not shown: the key has {why}; list them with "
                        f"`aws s3api list-objects-v2 --bucket {bucket} --prefix '{key}'`")


def _entry(key: str, size: int, modified: Any, etag: str, storage: Optional[str] = None) -> dict:
    return {"Key": key, "Size": size, "LastModified": modified, "ETag": etag, "StorageClass": storage or "STANDARD"}


class ObjectsListing(Listing):
    """A directory's listing that asks for its next page while a reader is still going through this
    one (``ls -l`` of 10,000 objects: the kernel's work on a page overlaps the next page's call).
    Only a reader going through it asks ahead, not a lookup; a failed page ahead is not kept (the
    reader asks again and gets the error)."""

    _ahead: Optional[threading.Thread] = None

    def iter_from(self, offset: int, values: bool = True) -> Iterator[tuple[str, Any]]:
        for i, item in enumerate(super().iter_from(offset, values), offset):
            if not self.complete and i * 2 >= len(self.names) and (self._ahead is None or not self._ahead.is_alive()):
                self._ahead = threading.Thread(target=contextvars.copy_context().run, args=(self._next_page,),
                                               name="awsfs-s3-list-ahead", daemon=True)
                self._ahead.start()
            yield item

    def _next_page(self) -> None:
        try:
            self.ensure(len(self.names) + 1)
        except Exception:  # noqa: BLE001 - the reader's own ensure() asks again and gets it
            pass


class Objects(Collection):
    """The objects and prefixes right below ``prefix`` ("" or ``a/b/``) of a bucket."""

    root, service, op, name, one = ROOT, "s3", "ListObjectsV2", "@list", "@head"
    listing_class = ObjectsListing
    absent = "no such object"

    def __init__(self, ctx: Any, bucket: str, prefix: str = "", after: str = "") -> None:
        super().__init__(ctx, region_of(ctx, bucket), bucket, prefix)
        self.bucket, self.key_prefix, self.after = bucket, prefix, after
        self.prefix = (ROOT, bucket, prefix)  # cached by bucket and directory, whatever its region

    def list_params(self) -> dict[str, Any]:
        return {"Bucket": self.bucket, "Prefix": self.key_prefix, "Delimiter": "/", "MaxKeys": PAGE,
                **({"StartAfter": self.after} if self.after else {})}

    def listing(self) -> Listing:
        return self.ctx.cache.get(self.key(), self._load)

    def _load(self) -> Listing:
        walked = walk_for(self)
        return walked if walked is not None else self.listing_class(self.fetch_page)

    def entries(self, page: dict) -> list[tuple[str, Any]]:
        found = sorted([(o["Key"], _entry(o["Key"], o["Size"], o["LastModified"], o["ETag"], o.get("StorageClass")))
                        for o in page.get("Contents", [])] +
                       [(p["Prefix"], DIRECTORY) for p in page.get("CommonPrefixes", [])], key=lambda kv: kv[0])
        out, objects = [], set()
        for key, value in found:
            name = key[len(self.key_prefix):]
            if value == DIRECTORY:
                name = name[:-1]
                if name in objects:  # `a` and `a/...`: the directory wins (its entry replaces the object's)
                    note_unlisted(self.ctx, self.bucket, key[:-1], "the name of a directory (objects below it)")
            elif not name:
                continue  # the directory's own zero-byte marker
            else:
                objects.add(name)
            why = unfit(name)
            if why:
                note_unlisted(self.ctx, self.bucket, key, why)
                continue
            out.append((name, value))
        return out

    def get(self, group: Optional[str], name: str) -> Optional[dict]:
        key = self.key_prefix + name
        try:
            h = self.ctx.aws.call("s3", self.region, "HeadObject", Bucket=self.bucket, Key=key)
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return None
        return _entry(key, h["ContentLength"], h["LastModified"], h["ETag"], h.get("StorageClass"))

    def first_page(self) -> Any:
        listing = self.listing()
        listing.ensure(1)
        return listing


# -- walks: a command going down a tree gets it listed flat ----------------------------------------

WALK_BUDGET = 4    # pages one request may read past what it asked for before the walk gives up
WALK_IDLE = 10.0   # seconds a walk waits for its command's next directory
WALKS_KEEP = 64
_walks: "collections.OrderedDict[tuple, Walk]" = collections.OrderedDict()  # (mount, bucket, pid)
_walks_lock = threading.Lock()
#: (mount, bucket, prefix) -> the pid that read that directory to its end: (its listing, how many
#: entries it had then)
_read_by = Memo(4096)
RM_BATCH = 1000          # keys of one DeleteObjects (its most)
#: (mount, bucket, key) -> the rm whose batch deleted it: (the listing it was in, its entry). That
#: rm's unlink of it is done at once; to everyone else it is gone.
_removed = Memo(20_000)


class Walk:
    """A command that read a directory to its end and then lists one of its subdirectories is going
    down the tree (``find``, ``du``, ``grep -r``, ``cp -r``, ``tar c``, ``rsync``). Instead of one
    delimited listing per directory, the keys below that directory are listed flat (ListObjectsV2
    without a delimiter, ``PAGE`` keys a page, as a boto3 script would list them), and each directory
    below gets its listing as soon as the flat listing has passed it: keys come sorted, so the keys
    of a prefix are contiguous. A request that would need more than ``WALK_BUDGET`` pages (a deep
    tree below a directory the command may not go into) ends the walk, and that directory goes on
    with its own delimited listing from the last key seen: nothing read is read again."""

    def __init__(self, objects: Objects, top: str, after: str) -> None:
        self.ctx, self.bucket, self.region, self.top, self.after = \
            objects.ctx, objects.bucket, objects.region, top, after
        self.token: Any = None
        self.last = after     # the last key the flat listing gave
        self.done = False     # it gave them all
        self.ended = False    # no more requests are served
        self.used = time.monotonic()
        self.lock = threading.Lock()
        #: the directories the flat listing is inside, outermost first: their keys so far, as a
        #: delimited page, and the cache's epoch before the page that showed them first
        self.open: dict[str, tuple[dict, int]] = {}
        self.target, self.got = "", None
        self.served = 0       # requests answered
        #: the next page, asked for while the command goes through what it has (once it is a walk)
        self.ahead: Optional[concurrent.futures.Future] = None

    def serve(self, objects: Objects) -> Optional[Listing]:
        """The listing of ``objects``'s directory made from the flat listing, or None."""
        q = objects.key_prefix
        with self.lock:
            self.used = time.monotonic()
            if self.ended or (q not in self.open and q <= self.last):
                return None  # ended, or passed (and its listing no longer cached)
            self.target, self.got = q, None
            pages = 0
            while not self.done and (q in self.open or self.last < q):
                if pages == WALK_BUDGET:
                    self.ended = True
                    return self._give_up(q)
                self._page()
                pages += 1
            if q in self.open:  # the flat listing ended inside it
                self._close(q)
            got, self.target, self.got = self.got, "", None
            self.served += 1
            if self.done:
                self.ended = True  # all it listed is published: a directory made since is listed on its own
            if self.served >= 2 and not self.done and self.ahead is None:
                self._ask_ahead()
            return got if got is not None else self._listing(q, {})

    def _ask(self, token: Any) -> tuple[dict, Any, int]:
        epoch = self.ctx.cache.epoch()
        params = {"Bucket": self.bucket, "Prefix": self.top, "MaxKeys": PAGE,
                  **({"StartAfter": self.after} if self.after else {})}
        page, token = self.ctx.aws.page("s3", self.region, "ListObjectsV2", token, params)
        return page, token, epoch

    def _ask_ahead(self) -> None:
        """Ask for the next page now (only the call: it is read into listings by the request that
        needs it, in its own context). A page ahead that failed is asked again by that request."""
        ahead, token = concurrent.futures.Future(), self.token

        def run() -> None:
            try:
                ahead.set_result(self._ask(token))
            except BaseException as e:  # noqa: BLE001 - handed to the request that needs the page
                ahead.set_exception(e)
        threading.Thread(target=contextvars.copy_context().run, args=(run,), name="awsfs-s3-walk-ahead",
                         daemon=True).start()
        self.ahead = ahead

    def _page(self) -> None:
        asked, self.ahead = self.ahead, None
        try:
            page, self.token, epoch = asked.result() if asked is not None else self._ask(self.token)
        except FsError:
            if asked is None:
                raise
            page, self.token, epoch = self._ask(self.token)
        for o in page.get("Contents", []):
            key = o["Key"]
            for prefix in reversed([p for p in self.open if not key.startswith(p)]):
                self._close(prefix)
            self._add(key, o, epoch)
            self.last = key
        if not self.token:
            self.done = True
            for prefix in reversed(list(self.open)):
                self._close(prefix)

    def _add(self, key: str, o: dict, epoch: int) -> None:
        parts = key[len(self.top):].split("/")[:-1]
        prefix = self.top
        for part in parts:
            parent, prefix = prefix, prefix + part + "/"
            if prefix not in self.open:
                self.open[prefix] = ({"Contents": [], "CommonPrefixes": []}, epoch)
                if parent in self.open:
                    self.open[parent][0]["CommonPrefixes"].append({"Prefix": prefix})
        if prefix in self.open:  # (not the top's own objects: its listing has them)
            self.open[prefix][0]["Contents"].append(o)

    def _listing(self, prefix: str, page: dict) -> Listing:
        entries = Objects(self.ctx, self.bucket, prefix).entries(page)
        listing = ObjectsListing(lambda token: (entries, None))
        listing.ensure()
        return listing

    def _close(self, prefix: str) -> None:
        page, epoch = self.open.pop(prefix)
        listing = self._listing(prefix, page)
        if prefix == self.target:
            self.got = listing
        if self.ended:
            return  # a write since (end_walks): this page may be older than it
        self.ctx.cache.put_if_unchanged(Objects(self.ctx, self.bucket, prefix).key(), listing, epoch)

    def _give_up(self, q: str) -> Optional[Listing]:
        opened, self.open = self.open.get(q), {}
        if opened is None:
            return None
        rest = Objects(self.ctx, self.bucket, q, after=self.last)
        listing = ObjectsListing(rest.fetch_page)
        for name, value in rest.entries(opened[0]):
            listing.put(name, value)
        return listing


def walk_for(objects: Objects) -> Optional[Listing]:
    """The listing of ``objects``'s directory from the walk its command is on (started here when
    the command read the parent to its end), or None: it is listed on its own."""
    ctx, q, bucket = objects.ctx, objects.key_prefix, objects.bucket
    pid = ctx.caller_pid()
    if pid <= 0 or not q or objects.after:
        return None
    key = (id(ctx), bucket, pid)
    with _walks_lock:
        walk = _walks.get(key)
        if walk is not None and (walk.ended or time.monotonic() - walk.used > WALK_IDLE):
            del _walks[key]
            walk = None
    if walk is not None and q.startswith(walk.top):
        got = walk.serve(objects)
        if got is None:  # another request of the command may have had the walk list it meanwhile
            e = ctx.cache.peek(objects.key())
            got = None if e is None else e.value
        return got
    parent, name = split(q[:-1])
    listed = Objects(ctx, bucket, parent).cached()
    if _read_by.get((id(ctx), bucket, parent), pid) is None or listed is None or listed.get(name) != DIRECTORY:
        return None
    walk = Walk(objects, parent, q[:-1])
    with _walks_lock:
        _walks[key] = walk
        while len(_walks) > WALKS_KEEP:
            _walks.popitem(last=False)
    return walk.serve(objects)


def end_walks(ctx: Any, bucket: str) -> None:
    """A change in ``bucket`` through the mount: flat listings read before it must not make
    directory listings after it."""
    with _walks_lock:
        for (mount, b, _), walk in _walks.items():
            if mount == id(ctx) and b == bucket:
                walk.ended = True


def split(key: str) -> tuple[str, str]:
    """(the prefix of its directory, its name): ``a/b/c`` -> (``a/b/``, ``c``)."""
    head, _, name = key.rpartition("/")
    return (head + "/" if head else ""), name


ABSENT = "-"  #: what find() says of a name its directory's complete listing does not have


def find(ctx: Any, bucket: str, key: str, path: str = "") -> Any:
    """What ``key`` is: an object's entry, DIRECTORY, ABSENT (its directory's listing says there is
    nothing), or None (nothing is there). The listing of its directory answers (its first page is
    read anyway to resolve the path); past its known part, a HeadObject (cached), then the first
    page of the directory ``key`` would be."""
    prefix, name = split(key)
    objects = Objects(ctx, bucket, prefix)
    listing = objects.first_page()
    taken = taken_by_rm(ctx, bucket, key, listing)
    if taken is not None:
        return taken
    known, value = listing.lookup(name)
    if known:
        return ABSENT if value is None else value
    try:
        return objects.lookup(name, path)
    except FsError as e:
        if e.errno != errno.ENOENT:
            raise
    return DIRECTORY if Objects(ctx, bucket, key + "/").first_page().has_entries() else None


def taken_by_rm(ctx: Any, bucket: str, key: str, listing: Listing) -> Any:
    """What an ``rm -r`` batch's deletion makes of ``key`` of ``listing``: to that rm, still its
    entry (the kernel looks each name up before rm's unlink of it); to everyone else ABSENT while
    ``listing`` is the one it was taken from; None when no batch took it."""
    gone = _removed.peek((id(ctx), bucket, key)) if _removed else None
    if gone is None:
        return None
    pid, (ref, entry) = gone
    if pid == ctx.caller_pid():
        return entry
    return ABSENT if ref() is listing else None


def written(ctx: Any, bucket: str, key: str, entry: Optional[dict]) -> None:
    """Write-through: the object's listing shows it (or not), and every listed directory above a
    new object shows the directories it is in. A directory whose last object went stays listed,
    empty, until rmdir (as tools expect: mv and rm -r remove the files, then the directory)."""
    end_walks(ctx, bucket)
    _removed.drop((id(ctx), bucket, key))  # (written again after an rm -r batch took it)
    versions = (ROOT, bucket, "@versions", key)
    if ctx.cache.peek((*versions, Versions.name)) is not None:  # (a versioned bucket: one more version)
        ctx.cache.invalidate(versions)
    prefix, name = split(key)
    objects = Objects(ctx, bucket, prefix)
    objects.put(name, entry) if entry is not None else objects.drop(name)
    while prefix and entry is not None:
        up, dirname = split(prefix[:-1])
        parent = Objects(ctx, bucket, up).cached()
        if parent is None:
            return
        if parent.get(dirname) != DIRECTORY:
            parent.put(dirname, DIRECTORY)
        prefix = up


def node(ctx: Any, path: str, bucket: str, key: str) -> Node:
    bucket_entry(ctx, bucket, path)
    if any(unfit(part) for part in key.split("/")):
        raise enoent(path, "no such object")
    found = find(ctx, bucket, key, path)
    if isinstance(found, dict):
        return ObjectFile(ctx, path, bucket=bucket, key=key)
    d = PrefixDir(ctx, path, bucket=bucket, key=key)  # a directory, or one mkdir may make here
    d.listed, d.absent = found == DIRECTORY, found in (ABSENT, None)
    return d


class PrefixDir(Dir):
    """A bucket's top (``key`` "") or a prefix: it exists while objects are below it."""

    listed = False  #: its parent's listing shows it (it exists: nothing to ask)
    #: a tool's temp here (rsync's, sed's) becomes an object when renamed: as big as one may be
    #: (it is spooled to local disk)
    scratch_bytes = 5 << 40
    absent = False  #: nothing is there (mkdir may make it: a local directory)

    def prefix(self) -> str:
        key = self.params.get("key", "")
        return key + "/" if key else ""

    def objects(self) -> Objects:
        return Objects(self.ctx, self.params["bucket"], self.prefix())

    @property
    def made_of_entries(self) -> bool:  # type: ignore[override]
        return bool(self.params.get("key"))

    def check(self) -> None:
        bucket_entry(self.ctx, self.params["bucket"], self.path)
        if self.absent:
            raise enoent(self.path, "no such object or directory")
        if self.params.get("key") and not self.listed and not self.objects().first_page().has_entries() \
                and not self.marker():
            raise enoent(self.path, "no such object or directory")

    def marker(self) -> bool:
        """Whether a zero-byte ``dir/`` object makes this directory."""
        if not self.params.get("key"):
            return False
        try:
            self.aws.call("s3", region_of(self.ctx, self.params["bucket"]), "HeadObject",
                          Bucket=self.params["bucket"], Key=self.prefix())
            return True
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return False

    def entries_from(self, offset: int) -> Iterator[tuple[str, Any]]:
        # (.bucket.json is not listed: cp -r, rsync and grep -r of a bucket stay out of it)
        listing, bucket = self.objects().listing(), self.params["bucket"]
        for name, value in listing.iter_from(offset):
            if value is Listing.GONE or taken_by_rm(self.ctx, bucket, self.key_of(name), listing) is ABSENT:
                yield name, None  # (keeps its slot)
            else:
                yield name, DIR if value == DIRECTORY else FILE
        # (for walks, and for rm -r: what it read is what it may delete in a batch)
        _read_by.put((id(self.ctx), bucket, self.prefix()), self.ctx.caller_pid(),
                     (weakref.ref(listing), len(listing.names)))

    def entries(self) -> list[tuple[str, Any]]:
        return list(self.entries_from(0))

    def is_scratch(self, name: str) -> bool:
        """Editors' temp names (``x~``, ``.x.swp``) and the mkstemp temps of the program making one
        (``sedXXXXXX`` by ``sed -i``, ``.x.XXXXXX`` by rsync), when no object has the name: they
        stay in the mount, and a rename onto a real name saves them. Other names are objects,
        ``.htaccess`` too, and so is ``.env.stage1`` made by ``cp``."""
        maker = mkstemp_maker(name)
        temp = is_tool_temp(name) or bool(maker) and temp_maker(self.ctx.caller_pid()) == maker
        return temp and not self.holds(name)

    def is_scratch_target(self, name: str) -> bool:
        """sed and rsync rename their temps onto real names (``sed -i`` of ``sedentary``): only an
        editor's backup name stays local."""
        return is_tool_temp(name) and not self.holds(name)

    def holds(self, name: str) -> bool:
        return isinstance(find(self.ctx, self.params["bucket"], self.key_of(name)), dict)

    def key_of(self, name: str) -> str:
        return self.prefix() + name

    def child_for_create(self, name: str) -> "ObjectFile":
        if unfit(name):
            raise InputError(errno.EINVAL, f"{name!r}: an object's name has {unfit(name)}")
        return ObjectFile(self.ctx, f"{self.path}/{name}", bucket=self.params["bucket"], key=self.key_of(name))

    def allows_mkdir(self, name: str) -> bool:
        return not unfit(name) and not is_tool_temp(name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        key = self.key_of(name)
        pid = self.ctx.caller_pid()
        if _removed.get((id(self.ctx), self.params["bucket"], key), pid) is not None:  # its command's batch
            written(self.ctx, self.params["bucket"], key, None)  # took it: now it is gone from the listing too
            return []
        return [*self.rm_batch(name, pid), *self.child_for_create(name).plan_delete()]

    def rm_batch(self, name: str, pid: int) -> list[Mutation]:
        """``rm -r`` of this directory (or one above) unlinks every object in it, one request at a
        time: its first unlink here deletes the others it will ask for in one DeleteObjects (1,000
        keys at most; a failure is logged, and those unlinks then ask on their own). Only the
        objects rm saw when it read the directory to its end (not one made since, not one another
        batch took), and never for ``rm -i``/``-I``."""
        bucket, mount, prefix = self.params["bucket"], id(self.ctx), self.prefix()
        listing, seen = self.objects().cached(), _read_by.get((mount, bucket, prefix), pid)
        if listing is None or seen is None or seen[0]() is not listing or not self.ctx.mountpoint or \
                not removes_tree(pid, self.ctx.mountpoint + self.path):
            return []
        names = [(n, v) for n, v in itertools.islice(listing.iter_from(0), seen[1])
                 if isinstance(v, dict) and n != name and _removed.peek((mount, bucket, prefix + n)) is None]
        at = sum(1 for n, _ in names if n < name)  # rm goes in listing order: from this name on first
        batch = (names[at:] + names[:at])[:RM_BATCH - 1]
        if not batch:
            return []
        ref = weakref.ref(listing)

        def update(resp: dict) -> None:
            # they stay listed to rm until it unlinks each (as with one call each: the kernel looks
            # a name up before unlinking it); to the others they are gone
            failed = {e.get("Key") for e in resp.get("Errors", [])}
            for n, entry in batch:
                if prefix + n not in failed:
                    _removed.put((mount, bucket, prefix + n), pid, (ref, entry))
            end_walks(self.ctx, bucket)
        return [Mutation("s3", region_of(self.ctx, bucket), "DeleteObjects",
                         {"Bucket": bucket, "Delete": {"Objects": [{"Key": prefix + n} for n, _ in batch],
                                                       "Quiet": True}},
                         [(ROOT, bucket)], f"delete {len(batch)} more objects of {self.path} (rm -r)",
                         repeatable=True, ahead=True, update=update)]

    def plan_rmdir(self) -> list[Mutation]:
        """Empty as listed: its ``dir/`` marker goes with it; a key below it that cannot be shown as
        a path keeps it (ENOTEMPTY, naming the key)."""
        bucket, prefix = self.params["bucket"], self.prefix()
        region = region_of(self.ctx, bucket)
        keys = [o["Key"] for o in self.aws.call("s3", region, "ListObjectsV2", Bucket=bucket, Prefix=prefix,
                                                MaxKeys=2).get("Contents", [])]
        hidden = [k for k in keys if k != prefix]
        if hidden:
            raise FsError(errno.ENOTEMPTY, f"{self.path}: S3 holds {hidden[0]!r} below it, which cannot be shown "
                          f"as a path; remove it with `aws s3 rm 's3://{bucket}/{hidden[0]}'`")
        end_walks(self.ctx, bucket)
        up, name = split(prefix[:-1])
        if _noted.get((id(self.ctx), bucket, prefix[:-1]), None) is not None:  # it hid an object: shown now
            _noted.drop((id(self.ctx), bucket, prefix[:-1]))
            self.ctx.cache.invalidate(Objects(self.ctx, bucket, up).key())
        elif (parent := Objects(self.ctx, bucket, up).cached()) is not None:
            parent.drop(name)
        if prefix not in keys:
            return []
        return [Mutation("s3", region, "DeleteObject", {"Bucket": bucket, "Key": prefix}, [(ROOT, bucket)],
                         f"delete s3://{bucket}/{prefix}", repeatable=True)]


# -- reading: ranges, read ahead, shared --------------------------------------------------------

class Ranges:
    """Ranges of objects being read, fetched once and shared by every reader: at most ``KEEP`` kept;
    a reader going on from where it was has the next ``AHEAD`` fetched at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: "collections.OrderedDict[tuple, concurrent.futures.Future]" = collections.OrderedDict()
        self._last: "collections.OrderedDict[tuple, int]" = collections.OrderedDict()
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None

    def read(self, node: "ObjectFile", offset: int, size: int) -> bytes:
        e = node.entry()
        end, out = min(offset + size, e["Size"]), []
        while offset < end:
            i = offset // CHUNK
            data = self._chunk(node, e, i)
            out.append(data[offset - i * CHUNK:end - i * CHUNK])
            offset = (i + 1) * CHUNK
        return b"".join(out)

    def _chunk(self, node: "ObjectFile", e: dict, i: int) -> bytes:
        obj = (id(node.ctx), node.params["bucket"], e["Key"], e["ETag"])
        with self._lock:
            last = self._last.pop(obj, None)
            self._last[obj] = i
            while len(self._last) > 1000:
                self._last.popitem(last=False)
            wanted = self._want(node, e, obj, i)
            if last is not None and i in (last, last + 1):  # sequential: the next ranges at once,
                for j in range(i + 1, min(i + AHEAD, (e["Size"] - 1) // CHUNK) + 1):
                    self._want(node, e, obj, j)
                behind = self._kept.get((*obj, i - 2))          # and what it has passed is let go
                if behind is not None and behind.done():
                    del self._kept[(*obj, i - 2)]
            self._trim()
        try:
            return wanted.result()
        except BaseException:
            with self._lock:  # a failure is never kept: the next read asks again
                if self._kept.get((*obj, i)) is wanted:
                    del self._kept[(*obj, i)]
            raise

    def _want(self, node: "ObjectFile", e: dict, obj: tuple, i: int) -> concurrent.futures.Future:
        # caller holds _lock
        got = self._kept.get((*obj, i))
        if got is not None and got.done() and got.exception() is not None:
            got = None  # a read-ahead that failed is asked again, never handed out
        if got is None:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(READ_THREADS, thread_name_prefix="awsfs-s3-read")
            got = self._kept[(*obj, i)] = self._pool.submit(contextvars.copy_context().run, fetch, node, e, i)
        self._kept.move_to_end((*obj, i))
        return got

    def _trim(self) -> None:
        for k in list(self._kept)[:max(0, len(self._kept) - KEEP)]:
            if self._kept[k].done():
                del self._kept[k]


def fetch(node: "ObjectFile", e: dict, i: int) -> bytes:
    start, end = i * CHUNK, min((i + 1) * CHUNK, e["Size"]) - 1
    got = node.aws.send("s3", node.region(), "GetObject", {
        "Bucket": node.params["bucket"], "Key": e["Key"], "Range": f"bytes={start}-{end}", "IfMatch": e["ETag"]},
        overrides=STALE)
    if len(got["Body"]) != end - start + 1:
        raise FsError(errno.EIO, f"{node.path}: a range of {len(got['Body']):,} bytes where {end - start + 1:,} "
                      "were asked")
    return got["Body"]


RANGES = Ranges()


# -- objects as documents -----------------------------------------------------------------------

class Body(NamedTuple):
    """A save's content (a spool or bytes), or only the ETag of what a writer saw."""
    data: Any
    etag: Optional[str]


def md5_etag(data: Any) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for offset in range(0, len(data), CHUNK):
        h.update(data[offset:offset + CHUNK])
    return f'"{h.hexdigest()}"'


def kept_settings(node: "ObjectFile", head: dict) -> dict:
    """What a save (or a new upload) keeps of the object it replaces: content type, metadata,
    storage class, encryption, and its tags (one GetObjectTagging, only when it has some)."""
    kept = {k: head[k] for k in KEPT_HEADERS if head.get(k) and not (k == "ServerSideEncryption" and
                                                                     head[k] == "AES256")}
    if head.get("TagCount"):
        tags = node.aws.call("s3", node.region(), "GetObjectTagging", Bucket=node.params["bucket"],
                             Key=node.params["key"])["TagSet"]
        kept["Tagging"] = urllib.parse.urlencode([(t["Key"], t["Value"]) for t in tags])
    return kept


_PARTS = threading.BoundedSemaphore(PARTS_AT_ONCE)  # part bodies queued or in flight, all writers together
#: each part of an upload carries its CRC32 and the complete names them all, as boto3's transfers
#: do: S3 checks every part, and keeps the object's checksum as the composite of the parts' (with
#: no algorithm named, S3 computes a CRC64NVME of the whole object at the complete)
CHECKSUM = {"ChecksumAlgorithm": "CRC32"}


def part_of(number: int, answer: dict) -> dict:
    """An uploaded part as CompleteMultipartUpload names it: its number, ETag and checksum."""
    return {"PartNumber": number, "ETag": answer["ETag"],
            **({"ChecksumCRC32": answer["ChecksumCRC32"]} if answer.get("ChecksumCRC32") else {})}


class Early:
    """A multipart upload sent while the writer goes on: each 8 MB part once the writer is past it
    (eight at most in flight: the writer waits, memory stays bounded). A write below what was sent
    (a seek back) spoils it: the save then sends everything. The save completes it; a writer that
    goes away without saving aborts it (Spool.close)."""

    _pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
    _pool_lock = threading.Lock()

    def __init__(self, node: "ObjectFile", params: dict) -> None:
        self.node, self.region = node, node.region()
        self.bucket, self.key = node.params["bucket"], node.params["key"]
        self.upload = node.aws.call("s3", self.region, "CreateMultipartUpload", **params, **CHECKSUM)["UploadId"]
        self.sent: list[concurrent.futures.Future] = []
        self.spoiled = False

    @classmethod
    def pool(cls) -> concurrent.futures.ThreadPoolExecutor:
        with cls._pool_lock:
            if cls._pool is None:
                cls._pool = concurrent.futures.ThreadPoolExecutor(PARTS_AT_ONCE, thread_name_prefix="awsfs-s3-up")
            return cls._pool

    def grow(self, data: Any) -> None:
        if data.low < len(self.sent) * PART:  # written below what was sent, since the last look
            self.spoiled = True
        data.mark()
        while not self.spoiled and len(data) > (len(self.sent) + 1) * PART:  # part n is not the last one
            n = len(self.sent)
            _PARTS.acquire()  # memory: a bounded number of part bodies for all writers together
            body = data[n * PART:(n + 1) * PART]
            sent = self.pool().submit(contextvars.copy_context().run, self.node.aws.call, "s3", self.region,
                                      "UploadPart", Bucket=self.bucket, Key=self.key, UploadId=self.upload,
                                      PartNumber=n + 1, Body=body, **CHECKSUM)
            sent.add_done_callback(lambda _: _PARTS.release())
            self.sent.append(sent)
            waiting = [f for f in self.sent if not f.done()]
            if len(waiting) >= PARTS_AT_ONCE:
                concurrent.futures.wait(waiting, return_when=concurrent.futures.FIRST_COMPLETED)

    def parts(self, data: Any) -> Optional[list[dict]]:
        """The parts sent, if they still hold ``data``'s bytes and all went up (else None)."""
        if self.spoiled or data.low < len(self.sent) * PART:
            return None
        try:
            return [part_of(n + 1, f.result()) for n, f in enumerate(self.sent)]
        except FsError:
            return None

    def drop(self) -> None:
        for f in self.sent:
            f.cancel()
        concurrent.futures.wait(self.sent)
        try:
            self.node.aws.call("s3", self.region, "AbortMultipartUpload", Bucket=self.bucket, Key=self.key,
                               UploadId=self.upload)
        except FsError:
            pass  # S3 drops an unfinished upload by the bucket's lifecycle rules, or it lingers unseen


class Listed(File):
    """A file for one listed S3 entry (:meth:`entry`): its size and time come from the listing."""
    streamed = True

    def entry(self) -> dict:
        raise NotImplementedError

    def region(self) -> str:
        return region_of(self.ctx, self.params["bucket"])

    def check(self) -> None:
        self.entry()

    def size(self) -> int:
        return self.entry()["Size"]

    def mtime_hint(self) -> Optional[float]:
        return self.entry()["LastModified"].timestamp()

    def content(self) -> bytes:
        return self.read(0, self.size())


class ObjectFile(Listed, Document):
    streamed, what, service_name, empty_ok = True, "object", "S3", True
    max_bytes = 5 << 40  # S3's own limit; a writer's spool is on local disk

    pinned: Optional[dict] = None  #: the entry a reader opened: its reads are of that version only

    def entry(self) -> dict:
        if self.pinned is not None:
            return self.pinned
        found = find(self.ctx, self.params["bucket"], self.params["key"], self.path)
        if not isinstance(found, dict):
            raise enoent(self.path, "no such object")
        return found

    def reader(self) -> "ObjectFile":
        """What one open file reads: the version it opened (a change meanwhile is ESTALE)."""
        pinned = ObjectFile(self.ctx, self.path, **self.params)
        pinned.pinned = self.entry()
        return pinned

    def version(self) -> str:
        return self.entry()["ETag"]

    def read(self, offset: int, size: int) -> bytes:
        return RANGES.read(self, offset, size)

    def where(self) -> str:
        return f"s3://{self.params['bucket']}/{self.params['key']}"

    def head(self) -> dict:
        bucket, key, region = self.params["bucket"], self.params["key"], self.region()
        return self.ctx.cache.get((ROOT, bucket, "@meta", key, self.version()),
                                  lambda: self.aws.call("s3", region, "HeadObject", Bucket=bucket, Key=key))

    def xattrs(self) -> Mapping:
        return Attrs(self)

    def plan_setxattr(self, name: str, raw: bytes) -> list[Mutation]:
        """``user.s3.content-type``, ``user.s3.storage-class``, ``user.s3.meta.<name>``: a CopyObject
        of the object onto itself (checked against the ETag listed) with that changed."""
        text, head = raw.decode("utf-8", "replace").strip(), None
        if name == "user.s3.content-type":
            if "/" not in text or "\n" in text:
                raise InputError(errno.EINVAL, f"{text!r} is not a media type (like text/plain)")
            change: dict = {"ContentType": text}
        elif name == "user.s3.storage-class":
            if text not in STORAGE_CLASSES:
                raise InputError(errno.EINVAL, f"a storage class is one of {', '.join(STORAGE_CLASSES)}")
            change = {"StorageClass": text}
        elif name.startswith("user.s3.meta.") and name[len("user.s3.meta."):].isascii() and text.isascii():
            head = self.head()
            change = {"Metadata": {**(head.get("Metadata") or {}), name[len("user.s3.meta."):]: text}}
        else:
            return super().plan_setxattr(name, raw)
        e, head, bucket, region = self.entry(), head or self.head(), self.params["bucket"], self.region()
        kept = {k: head[k] for k in KEPT_HEADERS if head.get(k)}
        return [Mutation("s3", region, "CopyObject", {
            "Bucket": bucket, "Key": e["Key"], "CopySource": {"Bucket": bucket, "Key": e["Key"]},
            "CopySourceIfMatch": e["ETag"], "MetadataDirective": "REPLACE", **kept, **change},
            [(ROOT, bucket)], f"set {name[len('user.s3.'):]} of {self.where()}", overrides=STALE, repeatable=True,
            conflict=f"{self.where()} changed since it was read; nothing was set",
            update=lambda resp: (self.ctx.cache.invalidate((ROOT, bucket, "@meta", e["Key"])), written(
                self.ctx, bucket, e["Key"], {**e, "ETag": resp["CopyObjectResult"]["ETag"],
                                             "StorageClass": change.get("StorageClass", e["StorageClass"]),
                                             "LastModified": datetime.now(timezone.utc)})))]

    # -- the document ------------------------------------------------------------------------------
    def parse(self, data: Any) -> Body:
        return Body(None, str(data)) if isinstance(data, Version) else Body(data, None)

    def same(self, a: Body, b: Body) -> bool:
        """By ETag: a single-part upload's is the MD5 of its content (a multipart one never
        equals new content: such a save is sent)."""
        return self.etag_of(a) == self.etag_of(b)

    def etag_of(self, body: Body) -> Optional[str]:
        if body.etag or body.data is None:
            return body.etag
        memo, state = getattr(self, "_md5", None), (len(body.data), getattr(body.data, "writes", None))
        if memo is None or memo[0] is not body.data or memo[1] != state:
            memo = self._md5 = (body.data, state, md5_etag(body.data))
        return memo[2]

    def fresh(self, value: Body) -> Optional[Body]:
        bucket, key = self.params["bucket"], self.params["key"]
        try:
            head = self.aws.call("s3", self.region(), "HeadObject", Bucket=bucket, Key=key)
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return None
        self.replaced = head  # what a save keeps of it (its content type, metadata, class, tags)
        return Body(None, head["ETag"])

    def condition(self, m: Mutation, seen: Body) -> None:
        m.params["IfMatch"] = seen.etag
        m.params.update(kept_settings(self, self.replaced))

    def put(self, value: Body, base: Body) -> Mutation:
        return self.upload(value.data, f"save {self.where()}")

    def create(self, value: Body) -> Mutation:
        m = self.upload(value.data, f"create {self.where()}")
        m.params["IfNoneMatch"] = "*"
        kind = mimetypes.guess_type(self.params["key"])[0]
        if kind:
            m.params.setdefault("ContentType", kind)
        return m

    def written(self, data: Any) -> None:
        """Past one part, a new object (or one written over whole) goes up while it is written."""
        if data.early is None and len(data) > 2 * PART and data.low == 0:
            data.mark()
            try:
                data.early = Early(self, self.upload_params())
            except FsError:
                data.early = False  # not now: the save sends it all
        if data.early:
            data.early.grow(data)

    def upload_params(self) -> dict:
        """What a new upload is created with: the replaced object's settings, or the content type
        the name suggests."""
        bucket, key = self.params["bucket"], self.params["key"]
        try:
            if not isinstance(find(self.ctx, bucket, key, self.path), dict):  # a new name (as listed): no call
                raise enoent(self.path)
            kept = kept_settings(self, self.aws.call("s3", self.region(), "HeadObject", Bucket=bucket, Key=key))
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            kind = mimetypes.guess_type(key)[0]
            kept = {"ContentType": kind} if kind else {}
        return {"Bucket": bucket, "Key": key, **kept}

    def upload(self, data: Any, what: str) -> Mutation:
        """One PutObject; above one part, a multipart upload whose parts go up after the check and
        which the mutation completes (or aborts: nothing of a failed save stays)."""
        bucket, key, region, size = self.params["bucket"], self.params["key"], self.region(), len(data)

        def update(resp: dict) -> None:
            if "ETag" not in resp:  # a verified outcome: ask anew
                return self.ctx.cache.invalidate((ROOT, bucket))
            written(self.ctx, bucket, key, _entry(key, size, datetime.now(timezone.utc), resp["ETag"],
                                                  m.params.get("StorageClass") or getattr(m, "storage", None)))
        if size <= PART:
            m = Mutation("s3", region, "PutObject", {"Bucket": bucket, "Key": key, "Body": bytes(data)},
                         [(ROOT, bucket)], what, update=update)
            return m
        m = Mutation("s3", region, "CompleteMultipartUpload", {"Bucket": bucket, "Key": key},
                     [(ROOT, bucket)], what, update=update)

        def send_parts() -> None:
            conditions = {k: m.params.pop(k) for k in ("IfMatch", "IfNoneMatch") if k in m.params}
            m.storage = m.params.get("StorageClass")  # type: ignore[attr-defined]  # (for the write-through)
            early, data.early = getattr(data, "early", None), None
            parts = early.parts(data) if early and early.key == key and early.bucket == bucket else None
            if parts is None:
                if early:
                    early.drop()
                parts, upload = [], self.aws.call("s3", region, "CreateMultipartUpload", **m.params,
                                                  **CHECKSUM)["UploadId"]
            else:
                upload = early.upload  # sent while it was written: only the rest goes now
            m.params = {"Bucket": bucket, "Key": key, "UploadId": upload, **conditions}
            count = -(-size // PART)
            for first in range(len(parts), count, PARTS_AT_ONCE):  # memory: PARTS_AT_ONCE parts at most
                batch = [{"Bucket": bucket, "Key": key, "UploadId": upload, "PartNumber": n + 1,
                          "Body": data[n * PART:(n + 1) * PART], **CHECKSUM}
                         for n in range(first, min(count, first + PARTS_AT_ONCE))]
                answers = self.aws.call_many("s3", region, "UploadPart", batch)
                parts += [part_of(p["PartNumber"], a) for p, a in zip(batch, answers)]
            m.params["MultipartUpload"] = {"Parts": parts}

        def verify() -> Optional[bool]:
            """Did the complete land? S3's ETag of it is the MD5 of its parts' MD5s, "-" their count."""
            parts = m.params.get("MultipartUpload", {}).get("Parts", [])
            want = hashlib.md5(b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in parts),
                               usedforsecurity=False).hexdigest() + f"-{len(parts)}"
            got = self.fresh(Body(None, None))
            return True if got is not None and got.etag.strip('"') == want else None

        def abort() -> None:
            if "UploadId" in m.params:
                self.aws.call("s3", region, "AbortMultipartUpload", Bucket=bucket, Key=key,
                              UploadId=m.params["UploadId"])
        m.precheck, m.abort, m.verify = send_parts, abort, verify
        return m

    def plan_delete(self) -> list[Mutation]:
        e, bucket, region = self.entry(), self.params["bucket"], self.region()
        return [Mutation("s3", region, "DeleteObject", {"Bucket": bucket, "Key": e["Key"]}, [(ROOT, bucket)],
                         f"delete {self.where()}", repeatable=True,
                         update=lambda resp: written(self.ctx, bucket, e["Key"], None))]

    def plan_rename(self, dst: File) -> list[Mutation]:
        """``mv``: CopyObject of exactly what was listed (CopySourceIfMatch), then DeleteObject."""
        if not isinstance(dst, ObjectFile):
            raise FsError(errno.EXDEV, "moving out of S3 copies then deletes")
        e = self.entry()
        if e["Size"] > MAX_COPY:
            return [self.copy_in_parts(e, dst), *self.plan_delete()]
        bucket, key, region = dst.params["bucket"], dst.params["key"], dst.region()
        copy = Mutation("s3", region, "CopyObject", {
            "Bucket": bucket, "Key": key, "CopySource": {"Bucket": self.params["bucket"], "Key": e["Key"]},
            "CopySourceIfMatch": e["ETag"], **({"StorageClass": e["StorageClass"]} if e["StorageClass"] != "STANDARD"
                                               else {})}, [(ROOT, bucket)], f"copy {self.where()} to {dst.where()}",
            overrides=STALE, repeatable=True, conflict=f"{self.where()} changed since it was listed; nothing was moved",
            update=lambda resp: written(self.ctx, bucket, key, {**e, "Key": key, "ETag": resp["CopyObjectResult"]["ETag"],
                                                                "LastModified": datetime.now(timezone.utc)}))
        return [copy, *self.plan_delete()]

    def copy_in_parts(self, e: dict, dst: "ObjectFile") -> Mutation:
        """Above CopyObject's 5 GB: a multipart upload made of UploadPartCopy of ranges of exactly
        what was listed (CopySourceIfMatch, and the source's ETag once they are copied: ESTALE when
        it changed), all sent at once after the check, keeping the source's settings and tags; completed by the mutation, aborted when
        anything fails (nothing is moved)."""
        bucket, key, region, size = dst.params["bucket"], dst.params["key"], dst.region(), e["Size"]
        step = max(COPY_PART, -(-size // MAX_PARTS))
        source = {"Bucket": self.params["bucket"], "Key": e["Key"]}
        m = Mutation("s3", region, "CompleteMultipartUpload", {"Bucket": bucket, "Key": key}, [(ROOT, bucket)],
                     f"copy {self.where()} to {dst.where()}", overrides=STALE,
                     conflict=f"{self.where()} changed since it was listed; nothing was moved",
                     update=lambda resp: written(self.ctx, bucket, key, {**e, "Key": key, "ETag": resp["ETag"],
                                                                         "LastModified": datetime.now(timezone.utc)}))

        def send_parts() -> None:
            settings = kept_settings(self, self.head())
            m.params["UploadId"] = upload = self.aws.call("s3", region, "CreateMultipartUpload", Bucket=bucket,
                                                          Key=key, **settings)["UploadId"]
            batch = [{"Bucket": bucket, "Key": key, "UploadId": upload, "PartNumber": n + 1, "CopySource": source,
                      "CopySourceIfMatch": e["ETag"], "CopySourceRange": f"bytes={at}-{min(at + step, size) - 1}"}
                     for n, at in enumerate(range(0, size, step))]
            answers = []
            for first in range(0, len(batch), PARTS_AT_ONCE):  # (the shared pool serves other saves too)
                answers += self.aws.call_many("s3", region, "UploadPartCopy", batch[first:first + PARTS_AT_ONCE])
            now = self.aws.call("s3", self.region(), "HeadObject", **source)["ETag"]
            if now != e["ETag"]:  # (S3 checks each range's CopySourceIfMatch; a lenient endpoint may not)
                raise FsError(errno.ESTALE, m.conflict)
            m.params["MultipartUpload"] = {"Parts": [{"PartNumber": p["PartNumber"], "ETag": a["CopyPartResult"]["ETag"]}
                                                     for p, a in zip(batch, answers)]}

        def abort() -> None:
            if "UploadId" in m.params:
                self.aws.call("s3", region, "AbortMultipartUpload", Bucket=bucket, Key=key,
                              UploadId=m.params["UploadId"])
        m.precheck, m.abort = send_parts, abort
        return m


class Attrs(Mapping):
    """An object's metadata: what the listing says at once; Content-Type and user metadata ask
    one HeadObject, when read."""
    LISTED = {"user.s3.etag": "ETag", "user.s3.storage-class": "StorageClass"}

    def __init__(self, node: ObjectFile) -> None:
        self.node = node

    def _all(self) -> dict[str, bytes]:
        e, head = self.node.entry(), self.node.head()
        got = {n: str(e[f]) for n, f in self.LISTED.items()}
        got["user.s3.content-type"] = head.get("ContentType", "")
        got.update({f"user.s3.meta.{k}": v for k, v in (head.get("Metadata") or {}).items()})
        return {k: v.encode() for k, v in got.items() if v}

    def __getitem__(self, name: str) -> bytes:
        if name in self.LISTED:
            return str(self.node.entry()[self.LISTED[name]]).encode()
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


# -- versions: s3/<bucket>/.versions/<key>/<version id> ------------------------------------------------

class Versions(Collection):
    """The versions of one key (ListObjectVersions, its prefix, only that key), newest first."""
    root, service, op, name = ROOT, "s3", "ListObjectVersions", "@versions"

    def __init__(self, ctx: Any, bucket: str, key: str) -> None:
        super().__init__(ctx, region_of(ctx, bucket), bucket, "@versions", key)
        self.bucket, self.key_name = bucket, key
        self.prefix = (ROOT, bucket, "@versions", key)

    def list_params(self) -> dict[str, Any]:
        return {"Bucket": self.bucket, "Prefix": self.key_name}

    def entries(self, page: dict) -> list[tuple[str, Any]]:
        return [(v["VersionId"], _entry(v["Key"], v["Size"], v["LastModified"], v["ETag"], v.get("StorageClass")))
                for v in page.get("Versions", []) if v["Key"] == self.key_name]


def versions_node(ctx: Any, path: str, bucket: str, key: str) -> Node:
    """``.versions/<key>``: a directory of the key's versions; ``.versions/<key>/<id>``: one of them."""
    bucket_entry(ctx, bucket, path)
    head, _, last = key.rpartition("/")
    if head and Versions(ctx, bucket, head).search(None).get(last) is not None:
        return VersionFile(ctx, path, bucket=bucket, key=head, version=last)
    return VersionsDir(ctx, path, bucket=bucket, key=key)


class VersionsDir(Dir):
    """``.versions/<key>/``: the key's versions; ``.versions/`` and ``.versions/<prefix>/`` (on the
    way to a key, for the kernel looks each part up) list the names the bucket has there."""

    def listing(self) -> Any:
        return Versions(self.ctx, self.params["bucket"], self.params["key"]).listing()

    def on_the_way(self) -> bool:
        key = self.params["key"]
        return not key or find(self.ctx, self.params["bucket"], key, self.path) == DIRECTORY

    def check(self) -> None:
        bucket_entry(self.ctx, self.params["bucket"], self.path)
        if not self.params["key"]:
            return
        self.listing().ensure()
        if not self.listing().has_entries() and not self.on_the_way():
            raise enoent(self.path, "no versions of such an object")

    def entries(self) -> list[tuple[str, Any]]:
        if self.params["key"] and self.listing().has_entries():
            return [(vid, FILE) for vid in self.listing().all()]
        # on the way: the names the bucket has here, each a way on (to a key's versions, or further)
        key = self.params["key"]
        names = Objects(self.ctx, self.params["bucket"], key + "/" if key else "").listing().all()
        return [(name, DIR) for name in names]


class VersionFile(Listed):
    """One version of an object, read-only, read by ranges."""

    def entry(self) -> dict:
        got = Versions(self.ctx, self.params["bucket"], self.params["key"]).search(None).get(self.params["version"])
        if got is None:
            raise enoent(self.path, "no such version")
        return got

    def read(self, offset: int, size: int) -> bytes:
        e, end = self.entry(), min(offset + size, self.size())
        if offset >= end:
            return b""
        return self.aws.call("s3", self.region(), "GetObject", Bucket=self.params["bucket"], Key=e["Key"],
                             VersionId=self.params["version"], Range=f"bytes={offset}-{end - 1}")["Body"]


REQUIRED = {
    ("s3", "ListObjectsV2"): ("IsTruncated",),
    ("s3", "HeadObject"): ("ETag", "ContentLength"),
    ("s3", "GetObject"): ("Body", "ETag"),
    ("s3", "PutObject"): ("ETag",),
    ("s3", "CompleteMultipartUpload"): ("ETag",),
    ("s3", "UploadPart"): ("ETag",),
    ("s3", "CreateMultipartUpload"): ("UploadId",),
}


def cache_prefix(parts: list[str]) -> tuple:
    """``s3``: everything; ``s3/<bucket>``: that bucket; ``s3/<bucket>/<dir>``: that directory's listing."""
    if len(parts) <= 2:
        return tuple(parts)
    return (ROOT, parts[1], "/".join(parts[2:]) + "/")


ROUTES = [
    ("/s3", BucketsDir),
    ("/s3/{bucket}", bucket_dir),
    ("/s3/{bucket}/.bucket.json", BucketInfo),
    ("/s3/{bucket}/.versions", lambda ctx, path, bucket: VersionsDir(ctx, path, bucket=bucket, key="")),
    ("/s3/{bucket}/.versions/{key...}", versions_node),
    ("/s3/{bucket}/{key...}", node),
]
