"""DynamoDB: tables as directories, items as plain-JSON files (see :mod:`awsfs.itemjson`).

* hash-key table:        ``/dynamo/<region>/<table>/<pk>.json``
* hash+range-key table:  ``/dynamo/<region>/<table>/<pk>/<sk>.json``
* ``<table>/.table.json`` is DescribeTable's answer.

A table directory is one Scan (page by page, as far as readers go); a partition directory is
served from a finished Scan, else one Query; an item nobody listed costs one GetItem.
"""
from __future__ import annotations

import collections
import errno
import logging
import pickle
import time
from typing import Any, Optional

from .. import caller, itemjson
from ..errors import FsError, InputError
from ..nodes import DIR, FILE, Dir, File, Listing, enoent, render_json
from ..transaction import Mutation
from .common import RegionNode, RegionsDir

log = logging.getLogger("awsfs.dynamo")

SUFFIX = ".json"
TABLE_FILE = ".table.json"
SCAN_LIMIT: Optional[int] = None  # items per Scan page (None: DynamoDB's 1 MB pages)


# -- data, through the cache -----------------------------------------------------------------

def tables(fs, region: str) -> Listing:
    def fetch(token: Any):
        params: dict[str, Any] = {"Limit": 100}
        if token:
            params["ExclusiveStartTableName"] = token
        page = fs.aws.call("dynamodb", region, "ListTables", **params)
        return [(t, None) for t in page.get("TableNames", [])], page.get("LastEvaluatedTableName")
    return fs.cache.get(("dynamo", region, "tables"), lambda: Listing(fetch))


def describe(fs, region: str, table: str, path: str) -> dict:
    entry = fs.cache.peek(("dynamo", region, "tables"))
    if entry is not None:
        known, _ = entry.value.lookup(table)
        if known and table not in entry.value.index:
            raise enoent(path, f"no table {table} in {region}")
    return fs.cache.get(("dynamo", region, table, "desc"),
                        lambda: fs.aws.call("dynamodb", region, "DescribeTable", TableName=table)["Table"])


def schema(fs, region: str, table: str, path: str) -> list[tuple[str, str]]:
    """[(hash name, type), (range name, type)?] in key order (worked out once per description)."""
    desc = describe(fs, region, table, path)
    keys = _schemas.get(id(desc))
    if keys is None or keys[0] is not desc:
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        ks = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
        keys = (desc, [(k["AttributeName"], types[k["AttributeName"]]) for k in ks])
        if len(_schemas) > 1000:
            _schemas.clear()
        _schemas[id(desc)] = keys  # the entry holds desc, so its id is not reused meanwhile
    return keys[1]


_schemas: dict[int, tuple[dict, list[tuple[str, str]]]] = {}  # id(description) -> (it, key schema)


class PackedListing(Listing):
    """Items kept pickled: about a fifth of the memory of botocore's nested dicts. A listing keeps
    at most ``BUDGET`` bytes of items; past that it keeps names only, and an item whose value is
    asked for then costs a GetItem (``ls -f`` of a table of any size stays within the budget)."""

    BUDGET = 64 << 20
    kept_bytes = 0

    def keep(self, value: Any) -> Any:
        if self.kept_bytes > self.BUDGET:
            return self.UNKEPT
        packed = self.pack(value)
        self.kept_bytes += len(packed)
        return packed

    @staticmethod
    def pack(value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def unpack(stored: Any) -> Any:
        return pickle.loads(stored)


class ScanListing(PackedListing):
    """A table's Scan. For hash+range tables the entries are partitions and the items are
    grouped (packed) in ``partitions`` so that a finished Scan also answers partition listings."""

    def __init__(self, fs, region: str, table: str, keys: list[tuple[str, str]]) -> None:
        self.partitions: dict[str, dict[str, dict]] = {}
        self.keys = keys

        def fetch(token: Any):
            params: dict[str, Any] = {"TableName": table}
            if SCAN_LIMIT:
                params["Limit"] = SCAN_LIMIT
            if token:
                params["ExclusiveStartKey"] = token
            page = fs.aws.call("dynamodb", region, "Scan", **params)
            out: list[tuple[str, Any]] = []
            if len(keys) == 1:
                out = [(itemjson.key_name(item[keys[0][0]], SUFFIX), item) for item in page["Items"]]
                return out, page.get("LastEvaluatedKey")
            packed = [(itemjson.key_name(item[keys[0][0]]), itemjson.key_name(item[keys[1][0]], SUFFIX),
                       self.keep(item)) for item in page["Items"]]
            with self._lock:
                touched = self._touched or ()
                for pk, sk, item in packed:
                    if (pk, sk) not in touched:  # else written through since this page was asked for
                        self.partitions.setdefault(pk, {})[sk] = item
                    out.append((pk, None))
            return out, page.get("LastEvaluatedKey")
        super().__init__(fetch)

    def partition(self, pk: str) -> Optional["_Done"]:
        """A finished copy of one partition's items (None: no such partition)."""
        with self._lock:
            part = self.partitions.get(pk)
            return None if part is None else _Done(dict(part))

    def put_item(self, pk: str, sk: str, item: dict) -> None:
        with self._lock:
            self._touch((pk, sk))
            self.partitions.setdefault(pk, {})[sk] = self.pack(item)
        self.put(pk, None)

    def drop_item(self, pk: str, sk: str) -> None:
        with self._lock:
            self._touch((pk, sk))
            part = self.partitions.get(pk, {})
            part.pop(sk, None)
            empty = not part
            if empty:
                self.partitions.pop(pk, None)
        if empty:
            self.drop(pk)


def scan(fs, region: str, table: str, path: str) -> ScanListing:
    keys = schema(fs, region, table, path)
    return fs.cache.get(("dynamo", region, table, "scan"), lambda: ScanListing(fs, region, table, keys))


class _Done(PackedListing):
    """A listing already complete (a partition taken from a finished Scan; values packed)."""

    def __init__(self, entries: dict[str, Any]) -> None:
        super().__init__(lambda token: ([], None))
        self.names = list(entries)
        self.index = dict(entries)
        self.complete = True


def partition(fs, region: str, table: str, pkname: str, path: str) -> Listing:
    entry = fs.cache.peek(("dynamo", region, table, "scan"))
    if entry is not None and entry.value.complete:
        done = entry.value.partition(pkname)
        if done is None:
            raise enoent(path, "no such partition")
        return done
    keys = schema(fs, region, table, path)
    pk = itemjson.parse_key_name(pkname, keys[0][1])
    if pk is None:
        listing = scan(fs, region, table, path)
        listing.ensure()
        return partition(fs, region, table, pkname, path)

    def fetch(token: Any):
        params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "#pk = :pk",
                                  "ExpressionAttributeNames": {"#pk": keys[0][0]},
                                  "ExpressionAttributeValues": {":pk": pk}}
        if token:
            params["ExclusiveStartKey"] = token
        page = fs.aws.call("dynamodb", region, "Query", **params)
        found = [(itemjson.key_name(i[keys[1][0]], SUFFIX), i) for i in page.get("Items", [])]
        return found, page.get("LastEvaluatedKey")
    return fs.cache.get(("dynamo", region, table, "part", pkname), lambda: PackedListing(fetch))


def item(fs, region: str, table: str, pkname: Optional[str], name: str, path: str) -> dict:
    """One item by file name: from a listing when one is cached, else one GetItem."""
    return PackedListing.unpack(item_stored(fs, region, table, pkname, name, path))


def item_stored(fs, region: str, table: str, pkname: Optional[str], name: str, path: str) -> bytes:
    """The item as the cache keeps it (packed): the same object until the item changes."""
    keys = schema(fs, region, table, path)
    listing: Optional[Listing] = None
    if pkname is None:
        e = fs.cache.peek(("dynamo", region, table, "scan"))
        listing = e.value if e is not None else None
    else:
        e = fs.cache.peek(("dynamo", region, table, "scan"))
        if e is not None and e.value.complete:
            listing = e.value.partition(pkname) or _Done({})
        else:
            p = fs.cache.peek(("dynamo", region, table, "part", pkname))
            listing = p.value if p is not None else None
    if listing is None and fs.cache.peek(("dynamo", region, table, "item", pkname, name)) is None:
        # the command names more items here: they come in BatchGetItems (and are cached); else a
        # table that fits one Scan page is listed: that costs what one GetItem costs, and the
        # listing answers every later lookup (a copy of many new files into it, say)
        if not _prefetched(fs, region, table, keys, pkname, name) and _small(fs, region, table, path):
            whole = scan(fs, region, table, path)
            whole.ensure(1)
            if whole.complete:
                listing = whole if pkname is None else (whole.partition(pkname) or _Done({}))
    if listing is not None:
        known, value = listing.lookup_stored(name)
        if known:
            if value is None:
                raise enoent(path, "no such item")
            return value
    key = _key_from_names(keys, pkname, name)
    if key is None:
        # a name we cannot turn back into a key (a long key): find it in the listing
        whole = scan(fs, region, table, path) if pkname is None else partition(fs, region, table, pkname, path)
        whole.ensure()
        if pkname is not None and isinstance(whole, ScanListing):
            whole = whole.partition(pkname) or _Done({})
        known, value = whole.lookup_stored(name)
        if value is None:
            raise enoent(path, "no such item")
        return value

    def load() -> Optional[bytes]:
        # None is a definite "no such item" and is cached like an item
        got = fs.aws.call("dynamodb", region, "GetItem", TableName=table, Key=key).get("Item")
        return None if got is None else PackedListing.pack(got)
    got = fs.cache.get(("dynamo", region, table, "item", pkname, name), load)
    if got is None:
        raise enoent(path, "no such item")
    return got


BATCH_KEYS = 100  # BatchGetItem's limit
BATCH_AHEAD = 4   # BatchGetItems sent at once for the names a command gives
PREFETCH_SECONDS = 3.0   # a prefetch that takes longer is given up (the lookup asks for its item alone)
PREFETCH_PAUSE = 10.0    # after a failed prefetch, the same command's next lookups in the table do not try again
_failed: "collections.OrderedDict[tuple, float]" = collections.OrderedDict()  # (pid, region, table) -> when


def _prefetched(fs, region: str, table: str, keys: list[tuple[str, str]], pkname: Optional[str],
                name: str) -> bool:
    """:func:`_fetch_named`, as the prefetch it is: if the batch fails or is slow (a policy that
    allows GetItem but not BatchGetItem, a name AWS refuses as a key, throttling), the lookup goes
    the usual way, and the command's next lookups here do not try again for a while."""
    who = (fs.caller_pid(), region, table)
    failed = _failed.get(who)
    if failed is not None and time.monotonic() - failed < PREFETCH_PAUSE:
        return False
    try:
        return _fetch_named(fs, region, table, keys, pkname, name)
    except FsError as e:
        _failed[who] = time.monotonic()
        while len(_failed) > 1000:
            _failed.popitem(last=False)
        log.info("batch fetch failed; looking up one by one", extra={
            "event": "prefetch", "path": f"/dynamo/{region}/{table}", "errno": errno.errorcode.get(e.errno or 0, ""),
            "reason": e.reason})
        return False


def _fetch_named(fs, region: str, table: str, keys: list[tuple[str, str]], pkname: Optional[str],
                 name: str) -> bool:
    """Fetch ``name`` and the items the calling command names after it (up to 400: BatchGetItems
    of 100, sent at once), and cache each answer (an item, or a definite "no such item") as
    GetItem's would be. False (and no call) when the command names no other item here."""
    wanted: dict[str, dict] = {}
    for n in caller.named_from(fs.caller_pid(), name, BATCH_KEYS * BATCH_AHEAD):
        key = _key_from_names(keys, pkname, n)
        # only names spelled as AWS spells the key (an answer is matched back by its key's name),
        # and only keys AWS can hold (one it refuses would fail the whole batch)
        if key is None or itemjson.key_name(key[keys[-1][0]], SUFFIX) != n or not all(map(itemjson.storable_key, key.values())):
            continue
        if n == name or fs.cache.peek(("dynamo", region, table, "item", pkname, n)) is None:
            wanted[n] = key
    if name not in wanted or len(wanted) < 2:
        return False

    def name_of(item_or_key: dict) -> str:
        return itemjson.key_name(item_or_key[keys[-1][0]], SUFFIX)
    gens = {n: fs.cache.generation(("dynamo", region, table, "item", pkname, n)) for n in wanted}
    found: dict[str, dict] = {}
    pending = list(wanted.values())
    for _ in range(3):  # keys AWS leaves unprocessed are asked again, then left to GetItem
        pages = fs.aws.call_many("dynamodb", region, "BatchGetItem", [
            {"RequestItems": {table: {"Keys": pending[i:i + BATCH_KEYS]}}}
            for i in range(0, len(pending), BATCH_KEYS)], timeout=PREFETCH_SECONDS)
        pending = []
        for page in pages:
            found.update((name_of(it), it) for it in page["Responses"].get(table, []))
            pending += (page.get("UnprocessedKeys") or {}).get(table, {}).get("Keys", [])
        if not pending:
            break
    left = {name_of(k) for k in pending}
    for n in wanted:
        if n not in left:
            it = found.get(n)
            fs.cache.put_if_unchanged(("dynamo", region, table, "item", pkname, n),
                                      None if it is None else PackedListing.pack(it), gens[n])
    return True


# DescribeTable's figures are approximate (AWS refreshes them every few hours; moto reports 0 bytes)
SMALL_ITEMS, SMALL_BYTES = 5000, 1_000_000


def _small(fs, region: str, table: str, path: str) -> bool:
    """Whether the table (by DescribeTable's approximate figures) fits one Scan page."""
    desc = describe(fs, region, table, path)
    return desc.get("ItemCount", SMALL_ITEMS + 1) <= SMALL_ITEMS and desc.get("TableSizeBytes", 0) <= SMALL_BYTES


def write_through(fs, region: str, table: str, keys: list[tuple[str, str]],
                  put: Optional[dict] = None, delete: Optional[dict] = None) -> None:
    """After a successful write, make the cached listings of the table show it (no re-Scan)."""
    scan_e = fs.cache.peek(("dynamo", region, table, "scan"))
    for it, adding in ((delete, False), (put, True)):
        if it is None:
            continue
        sk = itemjson.key_name(it[keys[-1][0]], SUFFIX)
        pk = itemjson.key_name(it[keys[0][0]]) if len(keys) == 2 else None
        # the item itself, as a GetItem would now answer (None: definitely gone); names are
        # canonical, so this is the one entry for the key (a load in flight for it is not stored)
        fs.cache.invalidate(("dynamo", region, table, "item", pk, sk))
        fs.cache.put(("dynamo", region, table, "item", pk, sk), PackedListing.pack(it) if adding else None)
        if scan_e is not None:
            listing = scan_e.value
            if pk is None:
                listing.put(sk, it) if adding else listing.drop(sk)
            else:
                listing.put_item(pk, sk, it) if adding else listing.drop_item(pk, sk)
        if pk is not None:
            part_e = fs.cache.peek(("dynamo", region, table, "part", pk))
            if part_e is not None:
                part_e.value.put(sk, it) if adding else part_e.value.drop(sk)


def _key_from_names(keys: list[tuple[str, str]], pkname: Optional[str], name: str) -> Optional[dict]:
    if len(keys) == 1:
        pk = itemjson.parse_key_name(name, keys[0][1], SUFFIX)
        return None if pk is None else {keys[0][0]: pk}
    assert pkname is not None
    pk = itemjson.parse_key_name(pkname, keys[0][1])
    sk = itemjson.parse_key_name(name, keys[1][1], SUFFIX)
    if pk is None or sk is None:
        return None
    return {keys[0][0]: pk, keys[1][0]: sk}


def touched(region: str, table: str) -> list[tuple]:
    """Cache entries an item mutation makes stale (not the table's description)."""
    return [("dynamo", region, table, "scan"), ("dynamo", region, table, "part"), ("dynamo", region, table, "item")]


def is_item_name(name: str) -> bool:
    return name.endswith(SUFFIX) and len(name) > len(SUFFIX) and not name.startswith(".")


class ItemDir:
    """Mixin for a directory holding item files (a hash-key table, or a partition)."""

    def is_scratch(self, name: str) -> bool:
        return not is_item_name(name)

    def child_for_create(self, name: str) -> "ItemFile":
        return ItemFile(self.fs, f"{self.path}/{name}", **self.params, name=name)  # type: ignore

    def plan_unlink(self, name: str) -> list[Mutation]:
        if not is_item_name(name):
            raise FsError(errno.EACCES, f"{self.path}/{name}: cannot be removed")  # type: ignore
        node = self.child_for_create(name)
        value = node.item()
        keys = node.keys()
        region, table = node.region_ok(), node.params["table"]
        key = {n: value[n] for n, _ in keys}
        pk = self.params.get("pk")  # type: ignore[attr-defined]
        return [Mutation("dynamodb", region, "DeleteItem", {"TableName": table, "Key": key},
                         touched(region, table), f"delete {table}/{pk + '/' if pk else ''}{name}", repeatable=True,
                         update=lambda resp: write_through(self.fs, region, table, keys, delete=value))]


# -- nodes ------------------------------------------------------------------------------------

class TablesDir(RegionNode, Dir):
    def check(self) -> None:
        self.region_ok()

    def entries_from(self, offset: int):
        return ((t, DIR) for t, _ in tables(self.fs, self.region_ok()).iter_from(offset))

    def entries(self):
        return self.entries_from(0)


class TableNode(RegionNode):
    def desc(self) -> dict:
        return describe(self.fs, self.region_ok(), self.params["table"], self.path)  # type: ignore[attr-defined]

    def keys(self) -> list[tuple[str, str]]:
        return schema(self.fs, self.region_ok(), self.params["table"], self.path)  # type: ignore[attr-defined]

    def check(self) -> None:
        self.desc()

    def mtime_hint(self) -> Optional[float]:
        t = self.desc().get("CreationDateTime")
        return t.timestamp() if t else None


class TableDir(ItemDir, TableNode, Dir):
    def allows_mkdir(self, name: str) -> bool:
        # a partition directory for items about to be copied in (hash+range tables)
        return len(self.keys()) == 2 and not name.startswith(".")

    def plan_unlink(self, name: str) -> list[Mutation]:
        if name == TABLE_FILE:
            raise FsError(errno.EACCES, f"{self.path}/{name}: the table's description cannot be removed")
        if len(self.keys()) == 2:
            raise FsError(errno.EISDIR, f"{self.path}/{name}: a partition is a directory")
        return super().plan_unlink(name)

    def entries_from(self, offset: int):
        # offset 0 is .table.json, then the Scan's entries
        if offset == 0:
            yield TABLE_FILE, FILE
        kind = FILE if len(self.keys()) == 1 else DIR
        listing = scan(self.fs, self.region_ok(), self.params["table"], self.path)
        for name, value in listing.iter_from(max(0, offset - 1), values=False):
            yield name, None if value is Listing.GONE else kind  # a deleted entry keeps its slot

    def entries(self):
        return self.entries_from(0)


class TableInfo(TableNode, File):
    def content(self) -> bytes:
        return render_json(self.desc())


class PartitionDir(ItemDir, TableNode, Dir):
    made_of_entries = True

    def listing(self) -> Listing:
        return partition(self.fs, self.region_ok(), self.params["table"], self.params["pk"], self.path)

    def check(self) -> None:
        self.listing().ensure(1)
        if not self.listing().has_entries():
            raise enoent(self.path, "no such partition")

    def entries_from(self, offset: int):
        return ((n, None if v is Listing.GONE else FILE) for n, v in self.listing().iter_from(offset, values=False))

    def entries(self):
        return self.entries_from(0)


class ItemFile(TableNode, File):
    writable = True
    max_bytes = itemjson.TEXT_MAX  # the JSON of the largest item DynamoDB holds, as deep as it can be

    def stored(self) -> bytes:
        return item_stored(self.fs, self.region_ok(), self.params["table"], self.params.get("pk"),
                           self.params["name"], self.path)

    def item(self) -> dict:
        return PackedListing.unpack(self.stored())

    def _listed(self) -> bool:
        """Whether the item exists, as the cache knows it."""
        try:
            self.stored()
            return True
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return False

    def check(self) -> None:
        if not self.params["name"].endswith(SUFFIX):
            raise enoent(self.path, "item files end in .json")
        self.stored()  # ENOENT when there is no such item

    def mtime_hint(self) -> Optional[float]:
        return None

    def content(self) -> bytes:
        stored = self.stored()
        rendered = self.fs.rendered.get(self.path, stored)
        if rendered is None:
            rendered = self.fs.rendered.put(self.path, stored, itemjson.dumps(PackedListing.unpack(stored)))
        return rendered

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        region, table, name = self.region_ok(), self.params["table"], self.params["name"]
        keys = self.keys()
        where = f"{table}/{self.params['pk'] + '/' if self.params.get('pk') else ''}{name}"
        if not is_item_name(name):
            raise InputError(errno.EINVAL, f"{name!r}: item files are named <key>.json")
        item = itemjson.loads(new)
        key = itemjson.key_of(item, keys)
        pkname = self.params.get("pk")
        if pkname is not None:
            pk = itemjson.parse_key_name(pkname, keys[0][1])
            if pk is None or itemjson.key_of({keys[0][0]: pk}, keys[:1]) != key[:1]:
                raise InputError(errno.EINVAL, f"key mismatch: this item's {keys[0][0]} is "
                                               f"{_shown(item[keys[0][0]])} but its directory is {pkname!r}")
        hash_name = keys[0][0]
        params: dict[str, Any] = {"TableName": table, "Item": item,
                                  "ExpressionAttributeNames": {"#k": hash_name}}
        precheck = None
        if base is not None:
            base_item = itemjson.loads(base)
            if itemjson.key_of(base_item, keys) != key:
                raise InputError(errno.EINVAL, "key mismatch: the file holds the item with key "
                                 f"{_key_text(base_item, keys)}; the new content has {_key_text(item, keys)}. "
                                 "Copy it to a new file to create another item.")
            if itemjson.same_item(base_item, item) and self._listed():
                return []  # unchanged (if it is gone meanwhile, the check below says so)
            key_av = {n: item[n] for n, _ in keys}

            def precheck() -> None:
                got = self.aws.call("dynamodb", region, "GetItem", TableName=table, Key=key_av,
                                    ConsistentRead=True).get("Item")
                if got is not None and itemjson.same_item(got, item):
                    pass  # it already holds what is saved (an editor putting back its backup): no conflict
                elif got is None or not itemjson.same_item(got, base_item):
                    raise FsError(errno.ESTALE, f"{where} was {'deleted' if got is None else 'changed'} in "
                                  "DynamoDB since you read it; your save was refused and the other change kept "
                                  "(re-open the file to see it)")
                params.update(_unchanged_condition(hash_name, got))
            params["ConditionExpression"] = "attribute_exists(#k)"
        else:
            params["ConditionExpression"] = "attribute_not_exists(#k)"
        conflict = (f"{where}: the item was changed or deleted in DynamoDB since you read it; your save was "
                    "refused and the other change kept (re-open the file to see it)"
                    if base is not None else
                    f"{where}: an item with key {_key_text(item, keys)} already exists in {table} (created by "
                    "someone else, or listed under another name); open its file to change it")
        return [Mutation("dynamodb", region, "PutItem", params, touched(region, table), f"put {where}",
                         precheck=precheck, update=lambda resp: write_through(self.fs, region, table, keys, put=item),
                         conflict=conflict,
                         verify=lambda: _holds(self.fs, region, table, [
                             ({n: item[n] for n, _ in keys}, item, None if base is None else base_item)]))]

    def plan_rename(self, dst: File) -> list[Mutation]:
        """``mv a.json b.json``: the item takes b's key, in one transaction (put b, delete a)."""
        if not isinstance(dst, ItemFile) or (dst.params["region"], dst.params["table"]) != (
                self.params["region"], self.params["table"]):
            raise FsError(errno.EXDEV, "moving between tables copies then deletes")
        region, table, keys = self.region_ok(), self.params["table"], self.keys()
        cached = self.item()
        # move the item as DynamoDB has it now, not as the cache last saw it
        src = self.aws.call("dynamodb", region, "GetItem", TableName=table, ConsistentRead=True,
                            Key={n: cached[n] for n, _ in keys}).get("Item")
        if src is None:
            raise FsError(errno.ENOENT, f"{self.path}: the item was deleted in DynamoDB meanwhile")
        pk = dst.params.get("pk")
        if len(keys) == 2 and pk is None:
            raise FsError(errno.EXDEV, "moving into the table root copies then deletes")
        new_key = _key_from_names(keys, pk, dst.params["name"])
        if new_key is None:
            raise InputError(errno.EINVAL, f"{dst.params['name']!r} does not name a key: "
                             "item files are named <key>.json")
        if itemjson.key_of(new_key, keys) == itemjson.key_of(src, keys):
            return []
        moved = {**src, **new_key}
        old_key = {n: src[n] for n, _ in keys}
        return [Mutation("dynamodb", region, "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": table, "Item": moved}},
            {"Delete": {"TableName": table, "Key": old_key, "ConditionExpression": "attribute_exists(#k)",
                        "ExpressionAttributeNames": {"#k": keys[0][0]}}}]},
            touched(region, table), f"move {table}/{self.params['name']} to {dst.params['name']}",
            update=lambda resp: write_through(self.fs, region, table, keys, put=moved, delete=src),
            # one transaction: the source still there means none of it happened, whatever the target held
            verify=lambda: _holds(self.fs, region, table, [(new_key, moved, ANY), (old_key, None, src)]))]


ANY = object()  # in _holds: whatever the key held before does not matter


def _holds(fs, region: str, table: str, states: list[tuple[dict, Optional[dict], Any]]) -> Optional[bool]:
    """After a write whose outcome is unknown, ``states`` being ``(key, after, before)`` (None: no
    item; ANY: not looked at): True if every key now holds what the write made, False if every key
    still holds what it had before, None if neither (someone else changed it too: only a person
    can tell)."""
    now = [fs.aws.call("dynamodb", region, "GetItem", TableName=table, Key=key, ConsistentRead=True).get("Item")
           for key, _, _ in states]

    def same(a: Optional[dict], b: Any) -> bool:
        return b is ANY or a is None and b is None or a is not None and b is not None and itemjson.same_item(a, b)
    if all(same(got, after) for got, (_, after, _) in zip(now, states)):
        return True
    if all(same(got, before) for got, (_, _, before) in zip(now, states)):
        return False
    return None


CONDITION_CHARS = 4096  # DynamoDB's limit on an expression's length


def _unchanged_condition(hash_name: str, seen: dict) -> dict[str, Any]:
    """A put condition that holds only while the item is still ``seen`` (as DynamoDB gave it):
    every attribute it had, unchanged. DynamoDB checks it atomically with the put, closing the gap
    after the check's GetItem. Its limits: an attribute added meanwhile by someone else is not
    noticed by it (the GetItem just before is), and an item with so many attributes that the
    expression would pass DynamoDB's 4 KB is only checked by that GetItem."""
    names, values, terms = {"#k": hash_name}, {}, ["attribute_exists(#k)"]
    for i, (attr, av) in enumerate(sorted(seen.items())):
        names[f"#a{i}"], values[f":a{i}"] = attr, av
        terms.append(f"#a{i} = :a{i}")
    expression = " AND ".join(terms)
    if len(expression) > CONDITION_CHARS:
        return {}
    return {"ConditionExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values}


def _shown(av: dict) -> str:
    (t, v), = av.items()
    return repr(v) if t == "S" else str(v)


def _key_text(item: dict, keys: list[tuple[str, str]]) -> str:
    return ", ".join(f"{n}={_shown(item[n])}" for n, _ in keys)


def table_child(fs, path: str, region: str, table: str, name: str):
    """``<table>/<name>``: an item file (hash-key table) or a partition directory (hash+range)."""
    if region not in fs.regions:
        raise enoent(path, "region not served by this mount")
    if len(schema(fs, region, table, path)) == 1:
        return ItemFile(fs, path, region=region, table=table, name=name)
    return PartitionDir(fs, path, region=region, table=table, pk=name)


ROUTES = [
    ("/dynamo", RegionsDir),
    ("/dynamo/{region}", TablesDir),
    ("/dynamo/{region}/{table}", TableDir),
    ("/dynamo/{region}/{table}/.table.json", TableInfo),
    ("/dynamo/{region}/{table}/{name}", table_child),
    ("/dynamo/{region}/{table}/{pk}/{name}", ItemFile),
]
