"""Streamed listings: pages are fetched as readers go; offsets resume; failures never truncate."""
import errno
import json
import threading

import pytest

from awsfs.errors import FsError
from faults import Faults, aws_error
from helpers import make_table, read, spent_since

R = "us-east-1"
ITEMS = 30           # ~100 KB each: about ten items per 1 MB Scan page, so three or four pages


@pytest.fixture(scope="module")
def paged_table(local_aws):
    import boto3
    ddb = boto3.client("dynamodb", region_name=R, endpoint_url=local_aws.url)
    name = "paged"
    make_table(ddb, name, [{"id": {"S": f"k{i:03d}"}, "pad": {"S": "x" * 100_000}} for i in range(ITEMS)])
    pages = 0
    kw = {"TableName": name, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kw)
        pages += 1
        if "LastEvaluatedKey" not in page:
            break
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert pages >= 3
    return name, pages


def names(entries):
    return [e[0] for e in entries]


def test_first_entries_cost_one_page(make_fs, paged_table):
    table, pages = paged_table
    fs = make_fs(regions=[R])
    it = fs.readdir(f"/dynamo/{R}/{table}")
    first = [next(it) for _ in range(5)]
    assert names(first)[:3] == [".", "..", ".table.json"]
    assert fs.aws.calls["dynamodb:Scan"] == 1
    it.close()  # an interrupted listing
    everything = names(fs.readdir(f"/dynamo/{R}/{table}"))
    assert len(everything) == ITEMS + 3
    assert fs.aws.calls["dynamodb:Scan"] == pages
    # a second listing within the TTL costs nothing, and repeats the same order
    assert names(fs.readdir(f"/dynamo/{R}/{table}")) == everything
    assert fs.aws.calls["dynamodb:Scan"] == pages


def test_resuming_at_an_offset_continues_where_it_stopped(make_fs, paged_table):
    table, _ = paged_table
    fs = make_fs(regions=[R])
    path = f"/dynamo/{R}/{table}"
    collected, offset = [], 0
    while True:  # what the kernel does: ask again from the offset of the last entry it kept
        batch = []
        for name, _mode, _ino, nxt in fs.readdir(path, offset):
            batch.append(name)
            offset = nxt
            if len(batch) == 7:
                break
        if not batch:
            break
        collected += batch
    assert collected == names(fs.readdir(path))
    assert len(set(collected)) == len(collected) == ITEMS + 3


def test_a_failed_page_is_an_error_not_the_end_of_the_directory(make_fs, paged_table):
    table, pages = paged_table
    fs = make_fs(regions=[R])
    path = f"/dynamo/{R}/{table}"
    faults = Faults(fs.aws.client("dynamodb", R), "Scan")
    seen = []
    with pytest.raises(FsError) as e:
        for name, _m, _i, _n in fs.readdir(path):
            seen.append(name)
            if len(seen) == 5:
                faults.plan = [aws_error("InternalServerError", 500)] * fs.aws.max_attempts
    assert e.value.errno == errno.EIO
    assert 5 <= len(seen) < ITEMS + 3
    # the next listing picks up from the page that failed
    assert len(names(fs.readdir(path))) == ITEMS + 3


@pytest.fixture(scope="module")
def big_table(local_aws):
    """More items than DescribeTable's "small" figure: lookups go straight to GetItem."""
    import boto3
    ddb = boto3.client("dynamodb", region_name=R, endpoint_url=local_aws.url)
    make_table(ddb, "many")
    for start in range(0, 1025, 25):
        ddb.batch_write_item(RequestItems={"many": [
            {"PutRequest": {"Item": {"id": {"S": f"i{n}"}}}} for n in range(start, start + 25)]})
    return "many"


def test_reading_an_unlisted_item_is_one_get_item(make_fs, big_table, monkeypatch):
    from awsfs.services import dynamo
    monkeypatch.setattr(dynamo, "SMALL_ITEMS", 1000)  # 1,025 items is then "not small"
    fs = make_fs(regions=[R])
    fs.getattr(f"/dynamo/{R}/{big_table}/.table.json")
    before = dict(fs.aws.calls)
    assert fs.getattr(f"/dynamo/{R}/{big_table}/i7.json").size > 0
    with pytest.raises(FsError):
        fs.getattr(f"/dynamo/{R}/{big_table}/nope.json")
    with pytest.raises(FsError):  # a definite "no such item" is remembered
        fs.getattr(f"/dynamo/{R}/{big_table}/nope.json")
    spent = {k: v - before.get(k, 0) for k, v in fs.aws.calls.items() if v != before.get(k, 0)}
    assert spent == {"dynamodb:GetItem": 2}


def test_a_small_table_is_listed_once_instead_of_item_by_item(make_fs, boto, unique):
    table = unique("small")
    make_table(boto("dynamodb"), table, [{"id": {"S": f"i{n}"}} for n in range(20)])
    fs = make_fs(regions=[R])
    fs.getattr(f"/dynamo/{R}/{table}/.table.json")
    before = dict(fs.aws.calls)
    for n in range(20):
        fs.getattr(f"/dynamo/{R}/{table}/i{n}.json")
    for n in range(20, 40):  # what `cp` asks before creating new files
        with pytest.raises(FsError):
            fs.getattr(f"/dynamo/{R}/{table}/i{n}.json")
    spent = {k: v - before.get(k, 0) for k, v in fs.aws.calls.items() if v != before.get(k, 0)}
    assert spent == {"dynamodb:Scan": 1}


def named_pair(make_fs, boto, unique, command_line, prefix):
    """A table with items a and b (v = 1), and a filesystem whose requests come from a command
    naming both: ``(fs, ddb, table, table directory)``."""
    table = unique(prefix)
    ddb = make_table(boto("dynamodb"), table, [{"id": {"S": n}, "v": {"N": "1"}} for n in ("a", "b")])
    d = f"/dynamo/{R}/{table}"
    fs = make_fs(regions=[R])
    pid = command_line(f"{d}/a.json", f"{d}/b.json")
    fs.caller_pid = lambda: pid
    return fs, ddb, table, d


def test_items_a_command_names_come_in_one_batch_get(make_fs, boto, unique, command_line):
    """`cat t/a.json t/b.json ...` looks files up one by one; the first lookup fetches the names
    that follow on the command line too: one BatchGetItem per 100 instead of a GetItem each."""
    table = unique("named")
    make_table(boto("dynamodb"), table, [{"id": {"S": f"i{n:03d}"}, "n": {"N": str(n)}, "b": {"B": bytes([n])}}
                             for n in range(150)])
    d = f"/dynamo/{R}/{table}"
    wanted = [f"i{n:03d}.json" for n in range(150)] + ["absent.json"]
    fs = make_fs(regions=[R])
    pid = command_line("-n", *[f"{d}/{n}" for n in wanted])
    fs.caller_pid = lambda: pid
    fs.getattr(f"{d}/.table.json")
    before = dict(fs.aws.calls)
    both = threading.Barrier(2, timeout=10)  # opens only if the two BatchGetItems are in flight at once
    real = fs.aws.call

    def call(service, region, op, **params):
        if op == "BatchGetItem":
            both.wait()
        return real(service, region, op, **params)
    fs.aws.call = call
    got = {n: read(fs, f"{d}/{n}") for n in wanted[:150]}
    with pytest.raises(FsError) as e:
        fs.getattr(f"{d}/absent.json")
    assert e.value.errno == errno.ENOENT
    assert spent_since(fs, before) == {"dynamodb:BatchGetItem": 2}  # 100 and 51 names, sent together
    fs.aws.call = real
    # the same bytes as a GetItem per file gives
    plain = make_fs(regions=[R])
    assert all(got[n] == read(plain, f"{d}/{n}") for n in wanted[:150:7])
    assert json.loads(got["i007.json"]) == {"id": "i007", "n": 7, "b": {"$b": "Bw=="}}
    # a name the command line does not give takes the usual way (a small table: one Scan)
    before = dict(fs.aws.calls)
    with pytest.raises(FsError):
        fs.getattr(f"{d}/other.json")
    assert spent_since(fs, before) == {"dynamodb:Scan": 1}


def test_a_batch_answer_never_hides_a_write_made_meanwhile(make_fs, boto, unique, command_line):
    from awsfs.services import dynamo
    fs, ddb, table, d = named_pair(make_fs, boto, unique, command_line, "race")
    real = fs.aws.call

    def call(service, region, op, **params):
        answer = real(service, region, op, **params)
        if op == "BatchGetItem":  # a save of b.json lands while the batch is on its way back
            new = {"id": {"S": "b"}, "v": {"N": "2"}}
            ddb.put_item(TableName=table, Item=new)
            dynamo.write_through(fs, R, table, [("id", "S")], put=new)  # what a save through awsfs does
        return answer
    fs.aws.call = call
    assert json.loads(read(fs, f"{d}/a.json"))["v"] == 1
    assert json.loads(read(fs, f"{d}/b.json"))["v"] == 2



def test_a_failed_batch_leaves_lookups_to_the_usual_way(make_fs, boto, unique, command_line):
    """The batch is only a prefetch: a policy that denies BatchGetItem (but allows the rest) must
    not make an existing item unreadable."""
    fs, _, _, d = named_pair(make_fs, boto, unique, command_line, "deny")
    Faults(fs.aws.client("dynamodb", R), "BatchGetItem").plan = [aws_error("AccessDeniedException", status=400)]
    assert json.loads(read(fs, f"{d}/a.json")) == {"id": "a", "v": 1}
    assert json.loads(read(fs, f"{d}/b.json")) == {"id": "b", "v": 1}


def test_names_aws_cannot_hold_as_keys_stay_out_of_the_batch(make_fs, boto, unique, command_line):
    table = unique("numkey")
    make_table(boto("dynamodb"), table, [{"id": {"N": str(n)}} for n in (1, 2)], key_type="N")
    d = f"/dynamo/{R}/{table}"
    fs = make_fs(regions=[R])
    pid = command_line(f"{d}/1.json", f"{d}/{'9' * 42}.json", f"{d}/2.json")  # 42 digits: no DynamoDB number
    fs.caller_pid = lambda: pid
    sent = []
    real = fs.aws.call

    def call(service, region, op, **params):
        if op == "BatchGetItem":
            sent.extend(k["id"]["N"] for k in params["RequestItems"][table]["Keys"])
        return real(service, region, op, **params)
    fs.aws.call = call
    assert json.loads(read(fs, f"{d}/1.json")) == {"id": 1}
    assert sorted(sent) == ["1", "2"]


def test_a_save_that_lands_first_is_never_replaced_by_the_batch(make_fs, boto, unique, command_line):
    """A save through awsfs writes its item into the cache; a batch read that was already on its
    way (eventually consistent: it may show the item before the save) must not replace it."""
    from awsfs.services import dynamo
    fs, ddb, table, d = named_pair(make_fs, boto, unique, command_line, "race2")
    new = {"id": {"S": "b"}, "v": {"N": "2"}}
    real_generation = fs.cache.generation

    def generation(key):  # the save lands just before the batch takes its tokens
        if key[-1] == "a.json":
            dynamo.write_through(fs, R, table, [("id", "S")], put=new)
        return real_generation(key)
    fs.cache.generation = generation
    real = fs.aws.call

    def call(service, region, op, **params):
        answer = real(service, region, op, **params)  # read before the save reached the table
        if op == "BatchGetItem":
            ddb.put_item(TableName=table, Item=new)
        return answer
    fs.aws.call = call
    assert json.loads(read(fs, f"{d}/a.json"))["v"] == 1
    assert json.loads(read(fs, f"{d}/b.json"))["v"] == 2


def test_listing_with_attributes_matches_stat_costs_no_more_and_stops_at_the_limit(make_fs, boto, unique,
                                                                                   monkeypatch):
    """What the adapter answers a libfuse 3 READDIRPLUS with: the listing's own entries, each with
    the attributes stat gives, for no AWS call beyond the listing's; bare past PLUS_ENTRIES, and
    bare where the attributes cannot be had."""
    from awsfs import fuse_ops
    table = unique("plus")
    make_table(boto("dynamodb"), table, [{"id": {"S": f"k{i}"}, "v": {"N": str(i)}} for i in range(6)])
    fs = make_fs(regions=[R])
    path = f"/dynamo/{R}/{table}"
    listed = names(fs.readdir(path))
    calls = dict(fs.aws.calls)
    monkeypatch.setattr(fuse_ops, "PLUS_ENTRIES", 6)  # the first six entries (but "." and "..")
    broken = f"{path}/{listed[4]}"  # an item among them whose attributes cannot be had
    real = fs.listed_attributes
    monkeypatch.setattr(fs, "listed_attributes", lambda p: None if p == broken else real(p))
    entries = list(fuse_ops.AwsfsOperations(fs).readdir_plus(path, 0))
    assert fs.aws.calls == calls
    monkeypatch.setattr(fs, "listed_attributes", real)
    assert [e[0] for e in entries] == listed
    full = {name: attrs for name, attrs, _nxt, is_full in entries if is_full}
    assert sorted(full) == sorted(set(listed[:6]) - {".", "..", listed[4]})
    for name, attrs in full.items():
        assert attrs == fs.getattr(f"{path}/{name}").as_dict
        assert attrs["st_size"] == len(read(fs, f"{path}/{name}"))
    bare = [(name, attrs) for name, attrs, _nxt, is_full in entries if not is_full]
    assert len(bare) == len(listed) - 3 and all(set(a) == {"st_mode", "st_ino"} for _n, a in bare)
    assert fs.aws.calls == calls
