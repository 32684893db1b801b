"""The read side through a real mount, driven by the programs people use."""
import collections
import ctypes
import errno
import json
import os
import time

import pytest

from conftest import LIBFUSE

R = "us-east-1"


def test_ls_l_shows_instances_and_their_files(mnt, seeded):
    out = mnt.sh(f"ls -l ec2/{R}/instances").stdout
    for iid in seeded[R]["instances"]:
        assert iid in out
    iid = seeded[R]["instances"][0]
    out = mnt.sh(f"ls -l ec2/{R}/instances/{iid}").stdout
    assert "-r--r--r--" in out and "info.json" in out
    assert "-rw-r--r--" in out and " type" in out
    assert f"image -> ../../images/{seeded[R]['image']}" in out


def test_cat_stat_and_sizes_agree(mnt, seeded):
    iid = seeded[R]["instances"][0]
    assert mnt.sh(f"cat ec2/{R}/instances/{iid}/state").stdout == "running\n"
    assert mnt.sh(f"cat ec2/{R}/instances/{iid}/tags/Name").stdout == "web-1\n"
    for rel in [f"ec2/{R}/instances/{iid}/info.json", f"dynamo/{R}/users/alice.json", f"elb/{R}/web-lb/info.json"]:
        size = int(mnt.sh(f"stat -c %s {rel}").stdout)
        assert size == len(mnt.sh(f"cat {rel}").stdout.encode()) > 0
    # stable mtime and inode
    a = mnt.sh(f"stat -c '%Y %i' dynamo/{R}/users/bob.json").stdout
    b = mnt.sh(f"stat -c '%Y %i' dynamo/{R}/users/bob.json").stdout
    assert a == b


def test_big_numbers_read_exactly_with_jq(mnt):
    out = mnt.sh(f"jq -r '.name' dynamo/{R}/users/alice.json").stdout
    assert out == "Alice Liddell\n"
    assert '"balance": 12345678901234567890.123456' in mnt.sh(f"cat dynamo/{R}/users/alice.json").stdout


def test_find_and_grep(mnt, seeded):
    found = mnt.sh(f"find dynamo/{R} -name '*.json'").stdout.split()
    assert f"dynamo/{R}/users/alice.json" in found
    assert f"dynamo/{R}/orders/alice/1001.json" in found
    assert f"dynamo/{R}/users/carol%2Fops.json" in found
    hits = mnt.sh(f"grep -rl shipped dynamo/{R}").stdout.split()
    assert hits == [f"dynamo/{R}/orders/alice/1001.json"]
    prod = mnt.sh(f"grep -rlx prod ec2/{R}/instances").stdout.split()
    assert sorted(prod) == sorted(f"ec2/{R}/instances/{i}/tags/env" for i in seeded[R]["instances"][:2])


def test_symlinks_resolve(mnt, seeded):
    ids = seeded[R]["instances"]
    target = mnt.sh(f"readlink elb/{R}/web-lb/instances/{ids[0]}").stdout.strip()
    assert target == f"../../../../ec2/{R}/instances/{ids[0]}"
    assert mnt.sh(f"cat elb/{R}/web-lb/instances/{ids[0]}/state").stdout == "running\n"
    sg = seeded[R]["security_group"]
    info = json.loads(mnt.sh(f"cat ec2/{R}/instances/{ids[0]}/security-groups/{sg}/info.json").stdout)
    assert info["GroupId"] == sg


def test_unknown_names(mnt):
    r = mnt.sh(f"cat dynamo/{R}/users/nobody.json", check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    r = mnt.sh("ls ec2/xx-nowhere-1", check=False)
    assert "No such file or directory" in r.stderr


def test_status_and_df(mnt):
    st = mnt.status()
    assert st["regions"] == ["us-east-1", "eu-west-1"]
    out = mnt.sh("df -h .").stdout
    assert "awsfs" in out
    used, avail = mnt.sh("df --output=used,avail -B1 .").stdout.split()[-2:]
    assert int(used) == 0 and int(avail) >= 1 << 40  # nothing "used", room to copy into
    assert mnt.sh("stat -f -c %l .").stdout.strip() == "255"


@pytest.fixture(scope="module")
def scale(local_aws):
    """A region of its own: 1,000 items in one table and 200 instances."""
    import boto3
    region = "us-west-2"
    ddb = boto3.client("dynamodb", region_name=region, endpoint_url=local_aws.url)
    ddb.create_table(TableName="big", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    for start in range(0, 1000, 25):
        ddb.batch_write_item(RequestItems={"big": [
            {"PutRequest": {"Item": {"id": {"S": f"item-{i:04d}"}, "n": {"N": str(i)},
                                     "color": {"S": "red" if i % 100 == 7 else "blue"}}}}
            for i in range(start, start + 25)]})
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=local_aws.url)
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, MinCount=200, MaxCount=200, InstanceType="t3.nano")
    return region


def test_call_counts_at_scale(mount_awsfs, scale, record_property):
    m = mount_awsfs(regions=scale)
    table, instances = f"dynamo/{scale}/big", f"ec2/{scale}/instances"
    counts = {}

    def cost(cmd):
        before = m.status()["aws_calls"]
        out = m.sh(cmd).stdout
        after = m.status()["aws_calls"]
        counts[cmd] = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        return out
    assert len(cost(f"ls -l {table}").splitlines()) == 1001  # "total" line + 1,000 items
    assert len(cost(f"grep -rl red {table}").split()) == 10
    assert len(cost(f"find {table}").split()) == 1002  # the table, .table.json, 1,000 items
    assert len(cost(f"ls -l {instances}").splitlines()) == 201
    cost(f"grep -r running {instances}")
    cost(f"find {instances}")
    record_property("aws_calls", json.dumps(counts))
    print(json.dumps(counts, indent=1))
    assert counts[f"ls -l {table}"] == {"dynamodb:DescribeTable": 1, "dynamodb:Scan": 1}
    assert counts[f"grep -rl red {table}"] == {}
    assert counts[f"find {table}"] == {}
    assert counts[f"ls -l {instances}"] == {"ec2:DescribeInstances": 1}
    # grep follows no symlinks with -r; reading every instance's files costs nothing more
    assert counts[f"grep -r running {instances}"] == {}
    assert counts[f"find {instances}"] == {}


def test_call_counts_for_the_benchmark_rows(mount_awsfs, scale, tmp_path):
    """cat of items in a table nobody listed, a second ls, cp of new items: counted, not timed."""
    m = mount_awsfs(regions=scale)
    table = f"dynamo/{scale}/big"

    def cost(cmd):
        before = m.status()["aws_calls"]
        m.sh(cmd)
        after = m.status()["aws_calls"]
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # cat opens its files one by one; the first lookup fetches every item the command line names
    names = " ".join(f"{table}/item-{i:04d}.json" for i in range(0, 1000, 50)) + f" {table}/item-9999.json"
    assert cost(f"cat {names} >/dev/null; true") == {"dynamodb:DescribeTable": 1, "dynamodb:BatchGetItem": 1}
    r = m.sh(f"cat {names}", check=False)
    assert r.stdout.count('"id": "item-') == 20 and "item-9999.json: No such file" in r.stderr
    assert cost(f"stat {names}; true") == {}  # all cached, the absent one too
    # one name alone in a table of 1,000 items (one Scan page): the first lookup lists the table
    assert cost(f"cat {table}/item-0001.json") == {"dynamodb:Scan": 1}
    assert cost(f"ls -l {table}") == {}  # listed within the TTL: nothing more
    src = tmp_path / "new"
    src.mkdir()
    for i in range(20):
        (src / f"new-{i:02d}.json").write_text(f'{{"id": "new-{i:02d}", "n": {i}}}')
    assert cost(f"cp {src}/*.json {table}/") == {"dynamodb:PutItem": 20}
    assert cost(f"ls {table} | grep -c new-") == {}  # the writes updated the listing in place
    assert len(m.sh(f"ls {table}").stdout.split()) == 1020
    assert cost(f"rm {table}/new-*.json") == {"dynamodb:DeleteItem": 20}  # and the table is as it was
    assert len(m.sh(f"ls {table}").stdout.split()) == 1000

    # on a fresh mount: cp asks whether its targets exist in one BatchGetItem per 100 names
    fresh = mount_awsfs(regions=scale)

    def fresh_cost(cmd):
        before = fresh.status()["aws_calls"]
        fresh.sh(cmd)
        after = fresh.status()["aws_calls"]
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert fresh_cost(f"cp {src}/*.json {table}/") == {"dynamodb:DescribeTable": 1, "dynamodb:BatchGetItem": 1,
                                                      "dynamodb:PutItem": 20}
    assert fresh_cost(f"cat {table}/new-07.json") == {}  # what cp wrote is what the cache shows
    assert json.loads(fresh.sh(f"cat {table}/new-07.json").stdout) == {"id": "new-07", "n": 7}
    assert fresh_cost(f"rm {table}/new-*.json; true") == {"dynamodb:Scan": 1, "dynamodb:DeleteItem": 20}


def test_served_by_the_libfuse_asked_for(mnt, libfuse):
    assert mnt.status()["binding"].startswith("libfuse 3." if libfuse == "fuse3" else "libfuse 2.")


def fuse_ops_logged(m, since: int) -> collections.Counter:
    """FUSE callbacks in the mount's DEBUG log from byte ``since`` on, by name."""
    with open(m.log_file, "rb") as f:
        f.seek(since)
        lines = [json.loads(line) for line in f.read().splitlines()]
    return collections.Counter(d["op"] for d in lines if d.get("message") == "fuse op")


def test_libfuse3_spares_a_lookup_and_a_flush_per_file(mount_awsfs, ddb_table, libfuse):
    """grep -r on libfuse 3: names come with their attributes (READDIRPLUS, no LOOKUP each) and
    read-only files close without a FLUSH; the same grep on libfuse 2 is the yardstick."""
    if libfuse != "fuse3" or "fuse" not in LIBFUSE:
        pytest.skip("compares libfuse 3 with libfuse 2 (runs once, needs both installed)")
    n = 40
    table = ddb_table([{"id": f"k{i:02d}", "colour": "red" if i == 7 else "blue"} for i in range(n)])
    ops, found = {}, {}
    for lib in ("fuse", "fuse3"):
        m = mount_awsfs("--log-level", "DEBUG", lib=lib)
        m.sh(f"ls -f dynamo/{R}/{table} >/dev/null")  # listed: the grep below costs no AWS call
        time.sleep(1.2)  # the names that listing left in the kernel expire (entry_timeout=1)
        since = os.path.getsize(m.log_file)
        found[lib] = m.sh(f"grep -rl red dynamo/{R}/{table}").stdout.split()
        ops[lib] = fuse_ops_logged(m, since)
    assert found["fuse3"] == found["fuse"] == [f"dynamo/{R}/{table}/k07.json"]
    assert ops["fuse"]["flush"] >= n and ops["fuse3"]["flush"] == 0
    assert ops["fuse3"]["readdir_plus"] >= 1
    assert ops["fuse3"]["getattr"] <= ops["fuse"]["getattr"] - n, ops


def test_attributes_in_listings_cost_no_aws_calls(mount_awsfs, seeded, libfuse, boto):
    """ls -R needs no attributes; on libfuse 3 they ride along with every listing. Either way the
    AWS calls are those of the listings alone: the same on both libraries."""
    if libfuse != "fuse3" or "fuse" not in LIBFUSE:
        pytest.skip("compares libfuse 3 with libfuse 2 (runs once, needs both installed)")
    calls = {}
    for lib in ("fuse", "fuse3"):
        for cmd in (f"ls dynamo/{R}", "ls -R ec2 dynamo elb"):
            m = mount_awsfs(lib=lib)  # fresh: nothing cached
            before = m.status()["aws_calls"]
            m.sh(f"{cmd} >/dev/null")
            after = m.status()["aws_calls"]
            calls[lib, cmd] = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    # ListTables pages hold 100 names: the tables other tests made may need more than one
    pages = -(-len(boto("dynamodb").get_paginator("list_tables").paginate().build_full_result()["TableNames"]) // 100)
    assert calls["fuse3", f"ls dynamo/{R}"] == calls["fuse", f"ls dynamo/{R}"] == {"dynamodb:ListTables": max(1, pages)}
    assert calls["fuse3", "ls -R ec2 dynamo elb"] == calls["fuse", "ls -R ec2 dynamo elb"], calls


def test_renames_with_flags_never_replace_a_file(mnt, ddb_table):
    """renameat2 with RENAME_NOREPLACE (mv -n) or RENAME_EXCHANGE: awsfs exchanges nothing (EINVAL,
    as on libfuse 2) and never turns either into a plain rename that replaces the target."""
    table = ddb_table([{"id": "a"}])
    d = mnt.p(f"dynamo/{R}/{table}")
    for name, text in (("x.txt", "mine"), ("y.txt", "theirs")):  # scratch files: not <key>.json
        with open(f"{d}/{name}", "w") as f:
            f.write(text)
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, noreplace, exchange = -100, 1, 2
    for flag, err in ((noreplace, errno.EEXIST), (exchange, errno.EINVAL)):
        r = libc.renameat2(at_fdcwd, f"{d}/x.txt".encode(), at_fdcwd, f"{d}/y.txt".encode(), flag)
        assert (r, ctypes.get_errno()) == (-1, err)
        for name, text in (("x.txt", "mine"), ("y.txt", "theirs")):
            with open(f"{d}/{name}") as f:
                assert f.read() == text
    mnt.sh(f"mv -n dynamo/{R}/{table}/x.txt dynamo/{R}/{table}/y.txt")
    with open(f"{d}/y.txt") as f:
        assert f.read() == "theirs"
    mnt.sh(f"mv dynamo/{R}/{table}/x.txt dynamo/{R}/{table}/z.txt")
    assert sorted(os.listdir(d)) == [".table.json", "a.json", "y.txt", "z.txt"]


def test_requests_the_kernel_sends_together_wait_on_aws_together(mount_awsfs, ddb_table):
    """16 listings of 16 tables at once: each one's Scan is held until all 16 are in flight, so this
    passes only if awsfs serves 16 requests at once (libfuse 3 uses at most 10 threads unless told
    otherwise; libfuse 2 has no limit)."""
    n = 16
    tables = [ddb_table([{"id": "a"}]) for _ in range(n)]
    m = mount_awsfs(barrier=("Scan", n))
    m.sh(" && ".join(f"stat dynamo/{R}/{t} >/dev/null" for t in tables))  # DescribeTables, one by one
    r = m.sh(" ".join(f"(ls dynamo/{R}/{t} >/dev/null || echo failed {t}) &" for t in tables) + " wait")
    assert r.stdout == "", r.stdout + m.errors()


def test_a_change_in_aws_is_read_whole_once_the_cache_expires(mount_awsfs, ddb_table, boto):
    """The kernel keeps a file's size for a second (libfuse 3); when awsfs's own cache expires
    sooner and the item has grown in AWS meanwhile, `cat` still gets all of it, not the old size's
    worth."""
    t = ddb_table([{"id": "a", "v": "short"}])
    m = mount_awsfs("--cache-ttl", "0.3")
    p = f"dynamo/{R}/{t}/a.json"
    assert json.loads(m.sh(f"cat {p}").stdout)["v"] == "short"
    longer = "much longer than before " * 4
    boto("dynamodb").put_item(TableName=t, Item={"id": {"S": "a"}, "v": {"S": longer}})
    time.sleep(0.5)  # awsfs's cache has expired; what the kernel was told has not
    assert json.loads(m.sh(f"cat {p}").stdout)["v"] == longer
    assert json.loads(m.sh(f"cat {p}").stdout)["v"] == longer


def test_status_read_in_pieces_while_calls_are_made_is_one_consistent_rendering(mnt):
    """The counts in /.awsfs/status change with every AWS call: an open reads one rendering of
    it, so a reader taking it 50 bytes at a time never gets a total that is not its map's sum."""
    import threading
    stop = threading.Event()

    def churn() -> None:  # an AWS call each time round
        while not stop.is_set():
            with open(mnt.p(".awsfs/ctl"), "w") as c:
                c.write("refresh ec2\n")
            os.listdir(mnt.p("ec2/us-east-1/instances"))
    t = threading.Thread(target=churn, daemon=True)
    t.start()
    torn = []
    try:
        for _ in range(150):
            with open(mnt.p(".awsfs/status"), "rb", buffering=0) as f:
                raw = b"".join(iter(lambda: f.read(50), b""))
            d = json.loads(raw)
            if sum(d["aws_calls"].values()) != d["aws_calls_total"]:
                torn.append(d["aws_calls_total"])
    finally:
        stop.set()
        t.join(timeout=10)
    assert torn == []
