"""What you see is AWS and what you save is kept, without a mount: listings that outlive their
cache entry, saves based on what each writer read, TTL 0, no head-of-line waits."""
import errno
import os
import subprocess
import sys
import threading
import time

import pytest

from awsfs.aws import Aws
from awsfs.errors import FsError
from awsfs.fs import Filesystem
from awsfs.services import dynamo
from helpers import make_table, read, save

R = "us-east-1"
W = os.O_WRONLY


def items(n):
    return [{"id": {"S": f"k{i:03d}"}, "n": {"N": str(i)}} for i in range(n)]


def ls_through_handle(fs, path, between=None, at=60):
    """`ls` as the kernel reads a directory: opendir, readdir from offsets, releasedir.
    ``between()`` runs once ``at`` entries have been read."""
    fh = fs.opendir(path)
    names, offset, called = [], 0, False
    try:
        while True:
            got = 0
            for name, _mode, _ino, nxt in fs.readdir(path, offset, fh):
                if name not in (".", ".."):
                    names.append(name)
                offset, got = nxt, got + 1
                if got == 25:
                    break  # the kernel's buffer is full: it comes back for more
            if not got:
                return names
            if between is not None and not called and len(names) >= at:
                between()
                called = True
    finally:
        fs.releasedir(path, fh)


@pytest.mark.parametrize("change", ["expired", "dropped"])
def test_a_directory_read_goes_on_over_the_listing_it_started_with(make_fs, boto, unique, monkeypatch, change):
    """Another writer deletes items while `ls` is half way, and the cached Scan expires (or a
    failed write drops it): the rest of the read comes from the same listing, no name skipped or
    repeated (it used to resume by position in the new, shorter listing)."""
    monkeypatch.setattr(dynamo, "SCAN_LIMIT", 50)
    t = unique("ls")
    ddb = make_table(boto("dynamodb"), t, items(200))
    fs = make_fs(regions=[R], cache_ttl=0.2 if change == "expired" else 60)
    d = f"/dynamo/{R}/{t}"

    def behind_our_back():
        for i in range(40):
            ddb.delete_item(TableName=t, Key={"id": {"S": f"k{i:03d}"}})
        if change == "expired":
            time.sleep(0.3)
        else:
            fs.cache.invalidate(("dynamo", R, t))
    names = ls_through_handle(fs, d, behind_our_back)
    assert len(names) == len(set(names)), "a name was listed twice"
    assert sorted(names) == [".table.json"] + [f"k{i:03d}.json" for i in range(200)]
    # a new read is a new listing: it shows what AWS has now
    assert len(ls_through_handle(fs, d)) == 161


def test_ttl_zero_asks_once_per_command_and_never_loses_a_partition(make_fs, boto, unique):
    t = unique("orders")
    ddb = boto("dynamodb")
    ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "c", "KeyType": "HASH"}, {"AttributeName": "o", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "c", "AttributeType": "S"},
                                           {"AttributeName": "o", "AttributeType": "N"}])
    for o in range(30):
        ddb.put_item(TableName=t, Item={"c": {"S": "alice"}, "o": {"N": str(o)}, "v": {"S": "x"}})
    fs = make_fs(regions=[R], cache_ttl=0)
    pid = [1111]
    fs.caller_pid = lambda: pid[0]
    d = f"/dynamo/{R}/{t}/alice"
    before = fs.aws.total_calls()
    names = fs.listdir(d)  # `ls -l`: the listing, then every entry's attributes
    assert len(names) == 30
    for n in names:
        fs.getattr(f"{d}/{n}")
    one_command = fs.aws.total_calls() - before
    assert one_command <= 4, fs.aws.calls  # DescribeTable, the partition's Query: not one call per item
    # the next command asks AWS again
    ddb.put_item(TableName=t, Item={"c": {"S": "alice"}, "o": {"N": "99"}})
    pid[0] = 2222
    assert "99.json" in fs.listdir(d)


def test_a_save_is_based_on_what_that_writer_read(make_fs, boto, unique):
    """Two programs read an item; the first saves; the second saves its version of the old
    content: ESTALE, and the first change is kept (it used to succeed and lose it)."""
    t = unique("base")
    ddb = make_table(boto("dynamodb"), t, [{"id": {"S": "a"}, "n": {"N": "0"}}])
    fs = make_fs(regions=[R])
    pid = [101]
    fs.caller_pid = lambda: pid[0]
    p = f"/dynamo/{R}/{t}/a.json"

    v0 = read(fs, p)
    pid[0] = 102
    assert read(fs, p) == v0
    pid[0] = 101
    save(fs, p, v0.replace(b'"n": 0', b'"n": 1'))
    pid[0] = 102
    with pytest.raises(FsError) as e:
        save(fs, p, v0.replace(b'"n": 0', b'"n": 2'))
    assert e.value.errno == errno.ESTALE
    got = ddb.get_item(TableName=t, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1"}
    # once it reads again, its save is based on that
    v1 = read(fs, p)
    save(fs, p, v1.replace(b'"n": 1', b'"n": 2'))
    # a program that never read the item saves against what AWS has
    pid[0] = 103
    save(fs, p, b'{"id": "a", "n": 3}\n')
    got = ddb.get_item(TableName=t, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "3"}


def test_a_stale_reader_is_refused_even_after_someone_else_saw_the_change(make_fs, boto, unique):
    t = unique("base")
    ddb = make_table(boto("dynamodb"), t, [{"id": {"S": "a"}, "n": {"N": "0"}}])
    fs = make_fs(regions=[R], cache_ttl=0.1)
    pid = [201]
    fs.caller_pid = lambda: pid[0]
    p = f"/dynamo/{R}/{t}/a.json"
    v0 = read(fs, p)
    ddb.put_item(TableName=t, Item={"id": {"S": "a"}, "n": {"N": "7"}})
    time.sleep(0.3)
    pid[0] = 202
    assert b'"n": 7' in read(fs, p)  # an unrelated `cat` shows the change
    pid[0] = 201
    fh = fs.open(p, W | os.O_TRUNC)
    fs.write(p, v0.replace(b'"n": 0', b'"n": 1'), 0, fh)
    with pytest.raises(FsError) as e:
        fs.flush(p, fh)
    fs.release(p, fh)
    assert e.value.errno == errno.ESTALE
    assert ddb.get_item(TableName=t, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]["n"] == {"N": "7"}


def test_what_is_listed_is_served_while_the_next_page_is_stalled(fault_proxy, boto, unique, monkeypatch):
    monkeypatch.setattr(dynamo, "SCAN_LIMIT", 50)
    t = unique("hol")
    make_table(boto("dynamodb"), t, items(120))
    fs = Filesystem(Aws(endpoint_url=fault_proxy.url, backoff=0.001), [R], endpoint_url=fault_proxy.url)
    d = f"/dynamo/{R}/{t}"
    fault_proxy.add("Scan", "stall", skip=1, seconds=20)
    first = []
    lister = threading.Thread(target=lambda: first.extend(fs.listdir(d)))
    lister.start()
    try:
        deadline = time.monotonic() + 10
        while fault_proxy.rules[0].hits == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # page 1 is in, page 2 is stalled
        assert fault_proxy.rules[0].hits == 1
        start = time.monotonic()
        st = fs.getattr(f"{d}/k000.json")  # listed on page 1
        assert time.monotonic() - start < 2.0
        assert st.size > 0
    finally:
        fault_proxy.release()
        lister.join(30)
    assert len(first) == 121


def test_a_failed_prefetch_is_not_repeated_for_every_file(fault_proxy, boto, unique, monkeypatch):
    """`cat a.json b.json c.json` while BatchGetItem hangs: the prefetch is given up once, after a
    few seconds, and each file is read on its own (it used to wait for every file)."""
    monkeypatch.setattr(dynamo, "SMALL_ITEMS", 0)
    from awsfs import kit
    monkeypatch.setattr(kit, "PREFETCH_SECONDS", 1.0)  # the batch fetch is the kit's (DynamoDB declares BatchGetItem)
    t = unique("pf")
    make_table(boto("dynamodb"), t, items(3))
    fs = Filesystem(Aws(endpoint_url=fault_proxy.url, backoff=0.001), [R], endpoint_url=fault_proxy.url)
    names = [f"k{i:03d}.json" for i in range(3)]
    # a command line naming the three files
    cat = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *names])
    try:
        fs.caller_pid = lambda: cat.pid
        fault_proxy.add("BatchGetItem", "stall", times=None, seconds=20)
        start = time.monotonic()
        bodies = [read(fs, f"/dynamo/{R}/{t}/{n}") for n in names]
        took = time.monotonic() - start
    finally:
        cat.kill()
        fault_proxy.release()
    assert all(b'"id": "k00' in b for b in bodies)
    assert fault_proxy.seen["BatchGetItem"] == 1
    assert took < 3.0, took


def test_a_save_of_an_item_deleted_since_it_was_read_is_estale_not_a_re_create(make_fs, boto, unique):
    t = unique("del")
    ddb = make_table(boto("dynamodb"), t, [{"id": {"S": "a"}, "n": {"N": "0"}}])
    fs = make_fs(regions=[R], cache_ttl=0.05)
    fs.caller_pid = lambda: 301
    p = f"/dynamo/{R}/{t}/a.json"
    v0 = read(fs, p)
    ddb.delete_item(TableName=t, Key={"id": {"S": "a"}})
    time.sleep(0.1)  # the cache no longer lists it
    for data in (v0.replace(b'"n": 0', b'"n": 1'), v0):  # changed, or written back as read
        with pytest.raises(FsError) as e:
            save(fs, p, data)
        assert e.value.errno == errno.ESTALE and "deleted" in e.value.reason
    assert "Item" not in ddb.get_item(TableName=t, Key={"id": {"S": "a"}})
    with pytest.raises(FsError):
        read(fs, p)  # reading that it is gone is a reading too: now it is a new item
    save(fs, p, v0)
    assert "Item" in ddb.get_item(TableName=t, Key={"id": {"S": "a"}})


def test_another_process_mv_onto_what_i_read_makes_my_save_estale(make_fs, boto, unique):
    t = unique("mv")
    ddb = make_table(boto("dynamodb"), t, [{"id": {"S": "a"}, "n": {"N": "1"}}, {"id": {"S": "b"}, "n": {"N": "5"}}])
    fs = make_fs(regions=[R])
    pid = [401]
    fs.caller_pid = lambda: pid[0]
    d = f"/dynamo/{R}/{t}"
    vb = read(fs, f"{d}/b.json")
    pid[0] = 402
    fs.rename(f"{d}/a.json", f"{d}/b.json")  # b now holds what a held
    pid[0] = 401
    with pytest.raises(FsError) as e:
        save(fs, f"{d}/b.json", vb.replace(b'"n": 5', b'"n": 9'))
    assert e.value.errno == errno.ESTALE
    assert ddb.get_item(TableName=t, Key={"id": {"S": "b"}})["Item"]["n"] == {"N": "1"}


@pytest.mark.parametrize("fault", ["5xx_json", "drop_before"])
def test_mv_onto_an_existing_item_after_a_failure_aws_did_not_apply(fault_proxy, boto, unique, fault):
    t = unique("mvx")
    ddb = make_table(boto("dynamodb"), t, [{"id": {"S": "a"}, "n": {"N": "1"}}, {"id": {"S": "b"}, "n": {"N": "5"}}])
    fs = Filesystem(Aws(endpoint_url=fault_proxy.url, backoff=0.001), [R], endpoint_url=fault_proxy.url)
    d = f"/dynamo/{R}/{t}"
    fault_proxy.add("TransactWriteItems", fault)
    fs.rename(f"{d}/a.json", f"{d}/b.json")  # looked up: not made, so sent again
    assert fault_proxy.seen["TransactWriteItems"] == 2
    assert "Item" not in ddb.get_item(TableName=t, Key={"id": {"S": "a"}})
    assert ddb.get_item(TableName=t, Key={"id": {"S": "b"}})["Item"]["n"] == {"N": "1"}
