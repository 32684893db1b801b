"""Streamed listings: pages are fetched as readers go; offsets resume; failures never truncate."""
import errno

import pytest

from awsfs.errors import FsError
from faults import Faults, aws_error

R = "us-east-1"
ITEMS = 30           # ~100 KB each: about ten items per 1 MB Scan page, so three or four pages


@pytest.fixture(scope="module")
def paged_table(local_aws):
    import boto3
    ddb = boto3.client("dynamodb", region_name=R, endpoint_url=local_aws.url)
    name = "paged"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    for i in range(ITEMS):
        ddb.put_item(TableName=name, Item={"id": {"S": f"k{i:03d}"}, "pad": {"S": "x" * 100_000}})
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
    ddb.create_table(TableName="many", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
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
    ddb = boto("dynamodb")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    for n in range(20):
        ddb.put_item(TableName=table, Item={"id": {"S": f"i{n}"}})
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
