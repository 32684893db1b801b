"""The edges without a mount: writes past a file's limit refused at once, memory that stays
bounded (listings, caches), a refresh for changes made outside awsfs, `touch` times."""
import errno
import os
import time

import pytest

from awsfs import fuse_ops
from awsfs.errors import FsError
from awsfs.services import dynamo
from helpers import make_table, read

R = "us-east-1"
W = os.O_WRONLY


def items(n, pad=0):
    return [{"id": {"S": f"k{i:03d}"}, "n": {"N": str(i)}, "pad": {"S": "p" * pad}} for i in range(n)]


def test_a_huge_write_into_a_one_line_value_is_refused_at_the_first_write_past_it(make_fs, boto, seeded):
    fs = make_fs(regions=[R])
    iid = seeded[R]["instances"][0] if isinstance(seeded.get(R), dict) else None
    if iid is None:
        iid = fs.listdir(f"/ec2/{R}/instances")[0]
    p = f"/ec2/{R}/instances/{iid}/tags/huge"
    fh = fs.create(p, 0o644, W | os.O_CREAT)
    chunk = b"x" * (1 << 20)
    start = time.monotonic()
    with pytest.raises(FsError) as e:
        for i in range(100):  # 100 MB, as `yes | head -c 100M > tags/huge` would send
            fs.write(p, chunk, i << 20, fh)
    fs.release(p, fh)
    assert e.value.errno == errno.EFBIG and "at most 4,096 bytes" in e.value.reason
    assert time.monotonic() - start < 1.0
    tags = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert "huge" not in {t["Key"] for t in tags}


def test_an_item_file_past_its_limit_and_a_scratch_file_past_its_own(make_fs, boto, unique, monkeypatch):
    t = unique("big")
    make_table(boto("dynamodb"), t, items(1))
    fs = make_fs(regions=[R])
    p = f"/dynamo/{R}/{t}/k000.json"
    fh = fs.open(p, W | os.O_TRUNC)
    with pytest.raises(FsError) as e:
        for i in range(20):  # the limit: 16 MB of JSON (the deepest rendering of a 400 KB item)
            fs.write(p, b" " * (1 << 20), i << 20, fh)
    assert e.value.errno == errno.EFBIG
    with pytest.raises(FsError):
        fs.flush(p, fh)  # close says so too; nothing was sent
    fs.release(p, fh)
    assert boto("dynamodb").get_item(TableName=t, Key={"id": {"S": "k000"}})["Item"]["n"] == {"N": "0"}
    from awsfs.nodes import Dir
    monkeypatch.setattr(Dir, "scratch_bytes", 1000)  # (a table's directory: the default, 64 MB)
    s = f"/dynamo/{R}/{t}/.k000.json.swp"
    fh = fs.create(s, 0o600, W | os.O_CREAT)
    fs.write(s, b"x" * 1000, 0, fh)
    with pytest.raises(FsError) as e:
        fs.write(s, b"x", 1000, fh)
    assert e.value.errno == errno.EFBIG
    fs.release(s, fh)


def test_a_listing_keeps_at_most_its_budget_and_reads_the_rest_alone(make_fs, boto, unique, monkeypatch):
    monkeypatch.setattr(dynamo.PackedListing, "BUDGET", 20_000)
    t = unique("budget")
    make_table(boto("dynamodb"), t, items(100, pad=1000))  # about 100 KB of items
    fs = make_fs(regions=[R])
    d = f"/dynamo/{R}/{t}"
    assert len(fs.listdir(d)) == 101
    listing = fs.cache.peek(("dynamo", R, t, "scan")).value
    assert listing.kept_bytes <= 20_000 + 2_000  # the budget, and the item that crossed it
    before = fs.aws.calls["dynamodb:GetItem"]
    body = read(fs, f"{d}/k099.json")  # not kept: read on its own
    assert b'"n": 99' in body
    assert fs.aws.calls["dynamodb:GetItem"] == before + 1
    assert b'"n": 0' in read(fs, f"{d}/k000.json")  # kept: no call
    assert fs.aws.calls["dynamodb:GetItem"] == before + 1


def test_caches_stay_flat_over_repeated_passes(make_fs, boto, unique, monkeypatch):
    """Passes of ls, stat, cat and a save over the same items, with entries expiring all along:
    after the first passes no cache, memo or memory of readers grows."""
    from awsfs import cache
    monkeypatch.setattr(cache, "SWEEP_EVERY", 50)
    monkeypatch.setattr(cache, "GENERATIONS_KEEP", 50)
    monkeypatch.setattr(cache, "COMMAND_SECONDS", 0.01)  # what expired is swept at the next sweep
    t = unique("soak")
    make_table(boto("dynamodb"), t, items(60))
    fs = make_fs(regions=[R], cache_ttl=0.05)
    d = f"/dynamo/{R}/{t}"
    pid = [1]
    fs.caller_pid = lambda: pid[0]

    def sizes():
        return {"cache": len(fs.cache), "generations": len(fs.cache._generation),
                "stamps": len(fs._stamps), "stats": len(fs._stat_memo), "rendered": len(fs.rendered),
                "nodes": len(fs._node_memo), "served": len(fs.overlay._served), "handles": len(fs._handles),
                "dirs": len(fs._dirs)}
    seen = []
    for n in range(6):
        for name in fs.listdir(d):
            pid[0] += 1  # every command is a new process, as in a shell loop
            p = f"{d}/{name}"
            fs.getattr(p)
            if name.endswith(".json") and not name.startswith("."):
                body = read(fs, p)
                if name == "k007.json":
                    fh = fs.open(p, W | os.O_TRUNC)
                    fs.write(p, body.replace(b'"n": ', b'"n": 1'), 0, fh)
                    fs.flush(p, fh)
                    fs.release(p, fh)
        for i in range(20):  # items made and removed again: new names every pass
            p = f"{d}/new-{n}-{i}.json"
            fh = fs.create(p, 0o644, W | os.O_CREAT)
            fs.write(p, f'{{"id": "new-{n}-{i}"}}'.encode(), 0, fh)
            fs.flush(p, fh)
            fs.release(p, fh)
            fs.unlink(p)
        time.sleep(0.06)
        seen.append(sizes())
    assert all(seen[-1][k] <= max(seen[2][k], 60) + 5 for k in seen[2]), seen  # 60: the items, and the bound


def test_refresh_shows_a_change_made_outside_awsfs_before_the_ttl(make_fs, boto, unique):
    t = unique("refresh")
    ddb = make_table(boto("dynamodb"), t, items(2))
    fs = make_fs(regions=[R])
    d = f"/dynamo/{R}/{t}"
    assert b'"n": 1' in read(fs, f"{d}/k001.json")
    ddb.put_item(TableName=t, Item={"id": {"S": "k001"}, "n": {"N": "42"}})
    ddb.put_item(TableName=t, Item={"id": {"S": "k002"}, "n": {"N": "2"}})
    assert b'"n": 1' in read(fs, f"{d}/k001.json")  # cached for the TTL
    fh = fs.open("/.awsfs/ctl", W)
    fs.write("/.awsfs/ctl", f"refresh {d}\n".encode(), 0, fh)
    fs.release("/.awsfs/ctl", fh)
    assert b'"n": 42' in read(fs, f"{d}/k001.json")
    ddb.put_item(TableName=t, Item={"id": {"S": "k003"}, "n": {"N": "3"}})
    assert "k003.json" not in fs.listdir(d)
    fs.utimens(d)  # touch of the directory
    assert "k003.json" in fs.listdir(d)
    with pytest.raises(FsError) as e:
        fh = fs.open("/.awsfs/ctl", W)
        try:
            fs.write("/.awsfs/ctl", b"refresh /nowhere\n", 0, fh)
        finally:
            fs.release("/.awsfs/ctl", fh)
    assert e.value.errno == errno.EINVAL
    assert fs.status()["cache"]["oldest_seconds"] is not None


def test_touch_times_are_now_not_1970():
    assert abs(fuse_ops._utime(fuse_ops._UTIME_NOW) - time.time()) < 5
    assert fuse_ops._utime(fuse_ops._UTIME_OMIT) is None
    assert fuse_ops._utime(1_700_000_000 * 10**9) == 1_700_000_000


def test_values_never_reach_the_log_or_the_errors_file(make_fs, seeded, caplog):
    import logging
    caplog.set_level(logging.DEBUG, logger="awsfs")
    fs = make_fs(regions=[R])
    iid = fs.listdir(f"/ec2/{R}/instances")[0]
    secret = "hunter2-Sup3rS3cret"
    for path, data in ((f"/ec2/{R}/instances/{iid}/tags/db_password", secret + "\n"),           # accepted
                       (f"/ec2/{R}/instances/{iid}/tags/db_password", secret * 20 + "\n"),      # too long
                       (f"/ec2/{R}/instances/{iid}/type", secret + " x\n"),                   # not a type
                       (f"/ec2/{R}/instances/{iid}/ctl", secret + "!\n")):                    # not a verb
        try:
            fh = fs.open(path, W | os.O_TRUNC) if not path.endswith("password") else fs.create(path, 0o644, W)
            try:
                fs.write(path, data.encode(), 0, fh)
                fs.flush(path, fh)
            finally:
                fs.release(path, fh)
        except FsError:
            pass
    from pythonjsonlogger.json import JsonFormatter
    fmt = JsonFormatter()
    logged = "\n".join(fmt.format(r) for r in caplog.records)  # the lines as the log file has them
    errors = read(fs, "/.awsfs/errors").decode()
    assert "db_password" in logged and errors.count("\n") >= 3
    assert secret not in logged and secret not in errors
    assert "characters" in errors  # what was refused is described by its size
    fs.unlink(f"/ec2/{R}/instances/{iid}/tags/db_password")


@pytest.mark.parametrize("value", [b"a\x00b\n", b"tab\there\n", b"bell\x07\n", b"esc\x1b[31m\n"])
def test_control_characters_in_a_tag_value_are_refused(make_fs, boto, seeded, value):
    """AWS refuses them; moto took NUL and then failed every DescribeInstances of the region."""
    fs = make_fs(regions=[R])
    iid = fs.listdir(f"/ec2/{R}/instances")[0]
    p = f"/ec2/{R}/instances/{iid}/tags/ctrl"
    fh = fs.create(p, 0o644, W | os.O_CREAT)
    with pytest.raises(FsError) as e:
        fs.write(p, value, 0, fh)
    fs.release(p, fh)
    assert e.value.errno == errno.EINVAL and "control" in e.value.reason
    tags = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert "ctrl" not in {t["Key"] for t in tags}
    assert fs.listdir(f"/ec2/{R}/instances")  # the region still lists


def test_a_write_refused_as_too_big_leaves_the_whole_buffer_unsaved(make_fs, boto, unique):
    """The first write past the limit fails with EFBIG; close() says the same and the valid JSON
    already buffered is not saved (it used to be)."""
    t = unique("half")
    make_table(boto("dynamodb"), t, items(1))
    fs = make_fs(regions=[R])
    p = f"/dynamo/{R}/{t}/k000.json"
    fh = fs.open(p, W | os.O_TRUNC)
    fs.write(p, b'{"id": "k000", "n": "HALF-DONE"}', 0, fh)
    with pytest.raises(FsError) as e:
        offset = 32
        while True:
            fs.write(p, b" " * (1 << 20), offset, fh)
            offset += 1 << 20
    assert e.value.errno == errno.EFBIG
    with pytest.raises(FsError) as closing:
        fs.flush(p, fh)
    fs.release(p, fh)
    assert closing.value.errno == errno.EFBIG
    assert boto("dynamodb").get_item(TableName=t, Key={"id": {"S": "k000"}})["Item"]["n"] == {"N": "0"}


def test_appending_a_line_to_a_value_is_refused_at_write(make_fs, boto, seeded):
    fs = make_fs(regions=[R])
    iid = fs.listdir(f"/ec2/{R}/instances")[0]
    p = f"/ec2/{R}/instances/{iid}/tags/owner"
    from helpers import create
    create(fs, p, b"alice\n")
    fh = fs.open(p, W | os.O_APPEND)
    with pytest.raises(FsError) as e:
        fs.write(p, b"more\n", 6, fh)  # `echo more >> tags/owner`
    with pytest.raises(FsError):
        fs.flush(p, fh)
    fs.release(p, fh)
    assert e.value.errno == errno.EINVAL
    tags = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}["owner"] == "alice"
    fs.unlink(p)


def test_the_description_of_a_hash_range_table_cannot_be_removed(make_fs, seeded):
    fs = make_fs(regions=[R])
    with pytest.raises(FsError) as e:
        fs.unlink(f"/dynamo/{R}/orders/.table.json")
    assert e.value.errno == errno.EACCES


def test_an_editor_putting_back_a_backup_equal_to_aws_is_no_conflict(make_fs, boto, unique):
    """vim read v0; someone saved v1; a refresh showed v1 (and vim's backup is v1); vim's save of
    its edit gets ESTALE, and its restore of the backup (identical to AWS) succeeds."""
    t = unique("restore")
    ddb = make_table(boto("dynamodb"), t, items(1))
    fs = make_fs(regions=[R])
    p = f"/dynamo/{R}/{t}/k000.json"
    v0 = read(fs, p)
    ddb.put_item(TableName=t, Item={"id": {"S": "k000"}, "n": {"N": "1"}, "pad": {"S": ""}})
    fs.refresh(f"/dynamo/{R}/{t}")
    fs.rename(p, p + "~")  # vim's backup: the file as it is now (v1)
    fh = fs.create(p, 0o644, W | os.O_CREAT | os.O_TRUNC)
    fs.write(p, v0.replace(b'"n": 0', b'"n": 5'), 0, fh)
    with pytest.raises(FsError) as e:
        fs.fsync(p, 0, fh)
    assert e.value.errno == errno.ESTALE
    fs.release(p, fh)
    fs.unlink(p)
    fs.rename(p + "~", p)  # vim's restore
    assert ddb.get_item(TableName=t, Key={"id": {"S": "k000"}})["Item"]["n"] == {"N": "1"}
    assert "k000.json~" not in fs.listdir(f"/dynamo/{R}/{t}")


def test_refresh_takes_the_mounts_own_absolute_path(make_fs, boto, unique):
    t = unique("abs")
    ddb = make_table(boto("dynamodb"), t, items(1))
    fs = make_fs(regions=[R])
    fs.mountpoint = "/home/you/aws"
    d = f"/dynamo/{R}/{t}"
    assert b'"n": 0' in read(fs, f"{d}/k000.json")
    ddb.put_item(TableName=t, Item={"id": {"S": "k000"}, "n": {"N": "9"}})
    from helpers import save
    save(fs, "/.awsfs/ctl", f"refresh /home/you/aws{d}\n".encode())
    assert b'"n": 9' in read(fs, f"{d}/k000.json")


def test_a_listing_past_its_budget_sends_bare_entries_not_a_call_each(make_fs, boto, unique, monkeypatch):
    """READDIRPLUS attributes come only from what the listing kept: entries whose items it did not
    keep go bare (the kernel asks for them if someone stats them) instead of a GetItem each; and
    nothing of that lands in the errors file."""
    from awsfs import fuse_ops
    monkeypatch.setattr(dynamo.PackedListing, "BUDGET", 20_000)
    t = unique("bare")
    make_table(boto("dynamodb"), t, items(100, pad=1000))
    fs = make_fs(regions=[R])
    d = f"/dynamo/{R}/{t}"
    calls = fs.aws.total_calls()
    entries = list(fuse_ops.AwsfsOperations(fs).readdir_plus(d, 0))
    assert len(entries) == 103
    assert fs.aws.total_calls() - calls <= 2  # DescribeTable and the Scan: no GetItem per entry
    full = sum(1 for *_x, is_full in entries if is_full)
    assert 5 < full < 50
    assert read(fs, "/.awsfs/errors") == b""
