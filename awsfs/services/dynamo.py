"""DynamoDB: tables as directories, items as plain-JSON files (see :mod:`awsfs.itemjson`).

* hash-key table:        ``/dynamo/<region>/<table>/<pk>.json``
* hash+range-key table:  ``/dynamo/<region>/<table>/<pk>/<sk>.json``
* ``<table>/.table.json`` is DescribeTable's answer.

A table directory is one Scan (page by page, as far as readers go); a partition directory is
served from a finished Scan, else one Query; an item nobody listed costs one GetItem.
"""
from __future__ import annotations

import base64
import errno
import json
import logging
import pickle
from typing import Any, Optional

from .. import itemjson, kit
from ..aws import check_answer
from ..errors import DamagedAnswer, FsError, InputError
from ..kit import ANY, Collection, Document, RegionNode, RegionsDir
from ..nodes import DIR, FILE, Dir, File, Listing, enoent, render_json
from ..transaction import Mutation

log = logging.getLogger("awsfs.dynamo")

SUFFIX = ".json"
TABLE_FILE = ".table.json"
SCAN_LIMIT: Optional[int] = None  # items per Scan page (None: DynamoDB's 1 MB pages)


# -- data, through the cache -----------------------------------------------------------------

class Tables(Collection):
    root, service, op, name = "dynamo", "dynamodb", "ListTables", "tables"
    absent = "no such table"

    def list_params(self) -> dict[str, Any]:
        return {"Limit": 100}

    def entries(self, page: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(t, None) for t in page.get("TableNames", [])]


def tables(ctx, region: str) -> Listing:
    return Tables(ctx, region).listing()


def describe(ctx, region: str, table: str, path: str) -> dict:
    listing = Tables(ctx, region).cached()
    if listing is not None:
        known, _ = listing.lookup(table)
        if known and table not in listing.index:
            raise enoent(path, f"no table {table} in {region}")
    return ctx.cache.get(("dynamo", region, table, "desc"),
                         lambda: ctx.aws.call("dynamodb", region, "DescribeTable", TableName=table)["Table"])


def schema(ctx, region: str, table: str, path: str) -> list[tuple[str, str]]:
    """[(hash name, type), (range name, type)?] in key order (worked out once per description)."""
    desc = describe(ctx, region, table, path)
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

    def __init__(self, items: "Items") -> None:
        self.partitions: dict[str, dict[str, dict]] = {}
        keys = self.keys = items.keys

        def fetch(token: Any):
            page, token = items.ctx.aws.page("dynamodb", items.region, "Scan", token, items.list_params())
            if len(keys) == 1:
                return [(itemjson.key_name(item[keys[0][0]], SUFFIX), item) for item in page["Items"]], token
            packed = [(itemjson.key_name(item[keys[0][0]]), itemjson.key_name(item[keys[1][0]], SUFFIX),
                       self.keep(item)) for item in page["Items"]]
            out: list[tuple[str, Any]] = []
            with self._lock:
                touched = self._touched or ()
                for pk, sk, item in packed:
                    if (pk, sk) not in touched:  # else written through since this page was asked for
                        self.partitions.setdefault(pk, {})[sk] = item
                    out.append((pk, None))
            return out, token
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


class _Done(PackedListing):
    """A listing already complete (a partition taken from a finished Scan; values packed)."""

    def __init__(self, entries: dict[str, Any]) -> None:
        super().__init__(lambda token: ([], None))
        self.names = list(entries)
        self.index = dict(entries)
        self.complete = True


BATCH_KEYS = 100  # BatchGetItem's limit
# DescribeTable's figures are approximate (AWS refreshes them every few hours; moto reports 0 bytes)
SMALL_ITEMS, SMALL_BYTES = 5000, 1_000_000


class Items(Collection):
    """A table's items: one Scan (a partition: one Query), one GetItem, BatchGetItems of 100.
    A group is a partition (hash+range tables), None for a hash-key table."""

    root, service, op, name, one = "dynamo", "dynamodb", "Scan", "scan", "item"
    grouped = True
    batch = BATCH_KEYS
    listing_class = PackedListing
    absent = "no such item"

    def __init__(self, ctx, region: str, table: str, path: str) -> None:
        super().__init__(ctx, region, table)
        self.table, self.path = table, path
        self.keys = schema(ctx, region, table, path)

    def list_params(self) -> dict[str, Any]:
        return {"TableName": self.table, **({"Limit": SCAN_LIMIT} if SCAN_LIMIT else {})}

    def listing(self) -> "ScanListing":
        return self.ctx.cache.get(self.key(), lambda: ScanListing(self))

    def known(self, group: Optional[str]) -> Optional[Listing]:
        whole = self.cached()
        if group is None:
            return whole
        if whole is not None and whole.complete:
            return whole.partition(group) or _Done({})
        part = self.ctx.cache.peek(self.key_part(group))
        return None if part is None else part.value

    def key_part(self, pk: str) -> tuple:
        return (*self.prefix, "part", pk)

    def view(self, whole: Listing, group: Optional[str]) -> Listing:
        return whole if group is None else (whole.partition(group) or _Done({}))  # type: ignore[attr-defined]

    def search(self, group: Optional[str]) -> Listing:
        if group is None:
            return super().search(group)
        whole = self.partition(group)
        whole.ensure()
        return whole

    def partition(self, pkname: str) -> Listing:
        """One partition's items: from a finished Scan, else one Query (page by page)."""
        whole = self.cached()
        if whole is not None and whole.complete:
            done = whole.partition(pkname)
            if done is None:
                raise enoent(self.path, "no such partition")
            return done
        keys = self.keys
        pk = itemjson.parse_key_name(pkname, keys[0][1])
        if pk is None:  # a name that is no key (a long one): the Scan finds it
            self.listing().ensure()
            return self.partition(pkname)

        def fetch(token: Any):
            page, token = self.ctx.aws.page("dynamodb", self.region, "Query", token, {
                "TableName": self.table, "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": keys[0][0]}, "ExpressionAttributeValues": {":pk": pk}})
            return [(itemjson.key_name(i[keys[1][0]], SUFFIX), i) for i in page.get("Items", [])], token
        return self.ctx.cache.get(self.key_part(pkname), lambda: PackedListing(fetch))

    def key_from_names(self, pkname: Optional[str], name: str) -> Optional[dict]:
        return _key_from_names(self.keys, pkname, name)

    def addressable(self, group: Optional[str], name: str) -> Optional[bool]:
        # a name we cannot turn back into a key (a long key) is found in the listing
        return None if self.key_from_names(group, name) is None else True

    def batchable(self, group: Optional[str], name: str) -> bool:
        # only names spelled as AWS spells the key (an answer is matched back by its key's name),
        # and only keys AWS can hold (one it refuses would fail the whole batch)
        key = self.key_from_names(group, name)
        return key is not None and self.name_of(key) == name and all(map(itemjson.storable_key, key.values()))

    def name_of(self, item_or_key: dict) -> str:
        return itemjson.key_name(item_or_key[self.keys[-1][0]], SUFFIX)

    def get(self, group: Optional[str], name: str) -> Optional[dict]:
        return self.ctx.aws.call("dynamodb", self.region, "GetItem", TableName=self.table,
                                 Key=self.key_from_names(group, name)).get("Item")

    def get_batch(self, group: Optional[str], names: list[str]) -> dict[str, Any]:
        found: dict[str, dict] = {}
        pending = [self.key_from_names(group, n) for n in names]
        for _ in range(3):  # keys AWS leaves unprocessed are asked again, then left to GetItem
            pages = self.ctx.aws.call_many("dynamodb", self.region, "BatchGetItem", [
                {"RequestItems": {self.table: {"Keys": pending[i:i + BATCH_KEYS]}}}
                for i in range(0, len(pending), BATCH_KEYS)], timeout=kit.PREFETCH_SECONDS)
            pending = []
            for page in pages:
                found.update((self.name_of(it), it) for it in page["Responses"].get(self.table, []))
                pending += (page.get("UnprocessedKeys") or {}).get(self.table, {}).get("Keys", [])
            if not pending:
                break
        left = {self.name_of(k) for k in pending}
        return {n: found.get(n) for n in names if n not in left}

    def small(self) -> bool:
        """Whether the table (by DescribeTable's approximate figures) fits one Scan page."""
        desc = describe(self.ctx, self.region, self.table, self.path)
        return desc.get("ItemCount", SMALL_ITEMS + 1) <= SMALL_ITEMS and desc.get("TableSizeBytes", 0) <= SMALL_BYTES


def scan(ctx, region: str, table: str, path: str) -> ScanListing:
    return Items(ctx, region, table, path).listing()


def item_stored(ctx, region: str, table: str, pkname: Optional[str], name: str, path: str) -> bytes:
    """The item as the cache keeps it (packed): the same object until the item changes."""
    return Items(ctx, region, table, path).lookup_stored(name, path, pkname)


def write_through(ctx, region: str, table: str, keys: list[tuple[str, str]],
                  put: Optional[dict] = None, delete: Optional[dict] = None) -> None:
    """After a successful write, make the cached listings of the table show it (no re-Scan)."""
    cache = ctx.cache
    scan_e = cache.peek(("dynamo", region, table, "scan"))
    for it, adding in ((delete, False), (put, True)):
        if it is None:
            continue
        sk = itemjson.key_name(it[keys[-1][0]], SUFFIX)
        pk = itemjson.key_name(it[keys[0][0]]) if len(keys) == 2 else None
        # the item itself, as a GetItem would now answer (None: definitely gone); names are
        # canonical, so this is the one entry for the key (a load in flight for it is not stored)
        cache.invalidate(("dynamo", region, table, "item", pk, sk))
        cache.put(("dynamo", region, table, "item", pk, sk), PackedListing.pack(it) if adding else None)
        if scan_e is not None:
            listing = scan_e.value
            if pk is None:
                listing.put(sk, it) if adding else listing.drop(sk)
            else:
                listing.put_item(pk, sk, it) if adding else listing.drop_item(pk, sk)
        if pk is not None:
            part_e = cache.peek(("dynamo", region, table, "part", pk))
            if part_e is not None:
                part_e.value.put(sk, it) if adding else part_e.value.drop(sk)
    cache.touch(*touched(region, table))


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
        return ItemFile(self.ctx, f"{self.path}/{name}", **self.params, name=name)  # type: ignore

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
                         update=lambda resp: write_through(self.ctx, region, table, keys, delete=value))]


# -- nodes ------------------------------------------------------------------------------------

class TablesDir(RegionNode, Dir):
    def check(self) -> None:
        self.region_ok()

    def entries_from(self, offset: int):
        return ((t, DIR) for t, _ in tables(self.ctx, self.region_ok()).iter_from(offset))

    def entries(self):
        return self.entries_from(0)


class TableNode(RegionNode):
    def desc(self) -> dict:
        return describe(self.ctx, self.region_ok(), self.params["table"], self.path)  # type: ignore[attr-defined]

    def keys(self) -> list[tuple[str, str]]:
        return schema(self.ctx, self.region_ok(), self.params["table"], self.path)  # type: ignore[attr-defined]

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
        listing = scan(self.ctx, self.region_ok(), self.params["table"], self.path)
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
        return Items(self.ctx, self.region_ok(), self.params["table"], self.path).partition(self.params["pk"])

    def check(self) -> None:
        self.listing().ensure(1)
        if not self.listing().has_entries():
            raise enoent(self.path, "no such partition")

    def entries_from(self, offset: int):
        return ((n, None if v is Listing.GONE else FILE) for n, v in self.listing().iter_from(offset, values=False))

    def entries(self):
        return self.entries_from(0)


class ItemFile(TableNode, Document):
    max_bytes = itemjson.TEXT_MAX  # the JSON of the largest item DynamoDB holds, as deep as it can be
    what, service_name = "item", "DynamoDB"

    def stored(self) -> bytes:
        return item_stored(self.ctx, self.region_ok(), self.params["table"], self.params.get("pk"),
                           self.params["name"], self.path)

    def item(self) -> dict:
        return PackedListing.unpack(self.stored())

    def check(self) -> None:
        if not self.params["name"].endswith(SUFFIX):
            raise enoent(self.path, "item files end in .json")
        self.stored()  # ENOENT when there is no such item

    def mtime_hint(self) -> Optional[float]:
        return None

    def content(self) -> bytes:
        stored = self.stored()
        rendered = self.ctx.rendered.get(self.path, stored)
        if rendered is None:
            rendered = self.ctx.rendered.put(self.path, stored, itemjson.dumps(PackedListing.unpack(stored)))
        return rendered

    # -- the document: what the save skeleton (kit.Document.plan) works with --------------------
    def where(self) -> str:
        return f"{self.params['table']}/{self.params['pk'] + '/' if self.params.get('pk') else ''}{self.params['name']}"

    def parse(self, data: bytes) -> dict:
        if not is_item_name(self.params["name"]):
            raise InputError(errno.EINVAL, f"{self.params['name']!r}: item files are named <key>.json")
        return itemjson.loads(data)

    same = staticmethod(itemjson.same_item)

    def identity(self, item: dict) -> tuple:
        return itemjson.key_of(item, self.keys())

    def identity_changed(self, base: dict, new: dict) -> InputError:
        keys = self.keys()
        return InputError(errno.EINVAL, "key mismatch: the file holds the item with key "
                          f"{_key_text(base, keys)}; the new content has {_key_text(new, keys)}. "
                          "Copy it to a new file to create another item.")

    def check_new(self, item: dict) -> None:
        keys, pkname = self.keys(), self.params.get("pk")
        key = itemjson.key_of(item, keys)
        if pkname is not None:
            pk = itemjson.parse_key_name(pkname, keys[0][1])
            if pk is None or itemjson.key_of({keys[0][0]: pk}, keys[:1]) != key[:1]:
                raise InputError(errno.EINVAL, f"key mismatch: this item's {keys[0][0]} is "
                                               f"{_shown(item[keys[0][0]])} but its directory is {pkname!r}")

    def fresh(self, item: dict) -> Optional[dict]:
        return self.aws.call("dynamodb", self.region_ok(), "GetItem", TableName=self.params["table"],
                             Key={n: item[n] for n, _ in self.keys()}, ConsistentRead=True).get("Item")

    def _put(self, item: dict, condition: str, conflict: str = "") -> Mutation:
        region, table, keys = self.region_ok(), self.params["table"], self.keys()
        params: dict[str, Any] = {"TableName": table, "Item": item, "ExpressionAttributeNames": {"#k": keys[0][0]},
                                  "ConditionExpression": condition}
        return Mutation("dynamodb", region, "PutItem", params, touched(region, table), f"put {self.where()}",
                        update=lambda resp: write_through(self.ctx, region, table, keys, put=item), conflict=conflict)

    def put(self, item: dict, base: dict) -> Mutation:
        return self._put(item, "attribute_exists(#k)")

    def condition(self, m: Mutation, seen: dict) -> None:
        m.params.update(_unchanged_condition(self.keys()[0][0], seen))

    def create(self, item: dict) -> Mutation:
        return self._put(item, "attribute_not_exists(#k)", conflict=(
            f"{self.where()}: an item with key {_key_text(item, self.keys())} already exists in "
            f"{self.params['table']} (created by someone else, or listed under another name); open its file to "
            "change it"))

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
            update=lambda resp: write_through(self.ctx, region, table, keys, put=moved, delete=src),
            # one transaction: the source still there means none of it happened, whatever the target held
            verify=lambda: _holds(self.ctx, region, table, [(new_key, moved, ANY), (old_key, None, src)]))]


def _holds(ctx, region: str, table: str, states: list[tuple[dict, Optional[dict], Any]]) -> Optional[bool]:
    """After a write whose outcome is unknown, ``states`` being ``(key, after, before)`` (None: no
    item; ANY: not looked at): True if every key now holds what the write made, False if every key
    still holds what it had before, None if neither (someone else changed it too: only a person
    can tell)."""
    now = [ctx.aws.call("dynamodb", region, "GetItem", TableName=table, Key=key, ConsistentRead=True).get("Item")
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


def table_child(ctx, path: str, region: str, table: str, name: str):
    """``<table>/<name>``: an item file (hash-key table) or a partition directory (hash+range)."""
    if region not in ctx.regions:
        raise enoent(path, "region not served by this mount")
    if len(schema(ctx, region, table, path)) == 1:
        return ItemFile(ctx, path, region=region, table=table, name=name)
    return PartitionDir(ctx, path, region=region, table=table, pk=name)


ROOT = "dynamo"


def cache_prefix(parts: list[str]) -> tuple:
    """A table's cache keys are (dynamo, region, table, ...)."""
    return tuple(parts[:3])


REQUIRED = {
    ("dynamodb", "Scan"): ("Items", "Count"),
    ("dynamodb", "Query"): ("Items", "Count"),
    ("dynamodb", "BatchGetItem"): ("Responses",),
    ("dynamodb", "ListTables"): ("TableNames",),
    ("dynamodb", "DescribeTable"): ("Table",),
}

# DynamoDB answers that carry many items. botocore walks its shape model for every attribute value
# (~0.1 s for a 2,000-item Scan page, about half the cost of a listing after moto's own); the JSON
# already is DynamoDB's AttributeValue form, so json.loads (~6 ms) plus decoding binary values gives
# the same response.
_ITEM_LISTS = ("Scan", "Query", "BatchGetItem")


def check_json(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                operation_model: Any, **_: Any) -> None:
    """A successful DynamoDB answer is a whole JSON object (botocore would take a body that does
    not parse, or an empty one, for an empty answer: a GetItem that found nothing)."""
    check_answer(response_dict)
    if not 200 <= (response_dict.get("status_code") or 0) < 300:
        return
    op = operation_model.name
    try:
        data = json.loads(response_dict["body"], object_hook=_binary if op in _ITEM_LISTS else None)
    except (KeyError, TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise DamagedAnswer("the answer is not a whole JSON object")
    if op in _ITEM_LISTS:
        customized_response_dict.update(data)
        response_dict["body"] = b"{}"


def _binary(d: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as botocore parses it: ``B`` and ``BS`` values become bytes."""
    b = d.get("B")
    if isinstance(b, str):
        d["B"] = base64.b64decode(b)
    bs = d.get("BS")
    if isinstance(bs, list) and all(isinstance(x, str) for x in bs):
        d["BS"] = [base64.b64decode(x) for x in bs]
    return d


CLIENT_HOOKS = {"dynamodb": {"before-parse": check_json}}

ROUTES = [
    ("/dynamo", RegionsDir),
    ("/dynamo/{region}", TablesDir),
    ("/dynamo/{region}/{table}", TableDir),
    ("/dynamo/{region}/{table}/.table.json", TableInfo),
    ("/dynamo/{region}/{table}/{name}", table_child),
    ("/dynamo/{region}/{table}/{pk}/{name}", ItemFile),
]
