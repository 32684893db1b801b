"""Faults between a real mount and AWS: the tools see the whole listing or an error (never a
short listing with exit 0), never "No such file" for a transient fault, and the next try works."""
import pytest

R = "us-east-1"


def paged_mount(mount_awsfs, fault_proxy, *extra):
    """A mount through the fault proxy, its Scans in pages of 60 items and no table counted small
    (so an item nobody listed costs a GetItem, or a BatchGetItem for several named at once)."""
    return mount_awsfs("--endpoint-url", fault_proxy.url, *extra, setup=FAST_RETRIES +
                       "import awsfs.services.dynamo as d\nd.SCAN_LIMIT = 60\nd.SMALL_ITEMS = 0")


# retries back off from 10 ms instead of 200 ms: a lasting fault fails in a fraction of a second
FAST_RETRIES = "import functools, awsfs.aws as a\na.Aws.__init__ = functools.partialmethod(a.Aws.__init__, backoff=0.01)\n"


@pytest.mark.parametrize("fault,options", [("truncate", {"keep": 0}), ("5xx_text", {})],
                         ids=["truncate-empty", "5xx-text"])
def test_ls_and_find_of_a_table_with_a_damaged_page(mount_awsfs, fault_proxy, ddb_table, fault, options):
    t = ddb_table([{"id": f"k{i:03d}", "n": i} for i in range(201)])
    m = paged_mount(mount_awsfs, fault_proxy)
    d = f"dynamo/{R}/{t}"
    # once: retried inside awsfs; every entry is there
    fault_proxy.add("Scan", fault, skip=2, **options)
    assert len(m.sh(f"ls {d}").stdout.split()) == 201
    assert fault_proxy.rules[-1].hits == 1
    # lasting, on a fresh mount: ls and find fail (exit status), and say so; nothing short is kept
    m2 = paged_mount(mount_awsfs, fault_proxy)
    fault_proxy.add("Scan", fault, skip=1, times=None, **options)
    for cmd in (f"ls {d}", f"find {d} -name '*.json'"):
        r = m2.sh(cmd, check=False)
        assert r.returncode != 0 and "Input/output error" in r.stderr, (cmd, r.returncode, r.stderr)
    assert "damaged answer" in m2.errors() or "Scan" in m2.errors()
    fault_proxy.reset()
    assert len(m2.sh(f"ls {d}").stdout.split()) == 201
    assert len(m2.sh(f"find {d} -name '*.json'").stdout.split()) == 202  # and .table.json


@pytest.mark.parametrize("fault", ["throttle", "5xx_json", "drop_before", "truncate"])
def test_cat_of_named_items_while_batchgetitem_fails(mount_awsfs, fault_proxy, ddb_table, fault):
    """`cat a b c` fetches the three in one BatchGetItem; when that fails for good, each is read on
    its own, once, and the names are never "No such file"."""
    t = ddb_table([{"id": k, "v": k.upper()} for k in "abc"])
    m = paged_mount(mount_awsfs, fault_proxy)
    fault_proxy.add("BatchGetItem", fault, times=None)
    r = m.sh(f"cd dynamo/{R}/{t} && cat a.json b.json c.json")
    assert r.stdout.count('"v": ') == 3
    assert 1 <= fault_proxy.seen["BatchGetItem"] <= 5  # tried once (with its retries), not once per file
    # and nothing wrong was cached: the same command again is whole
    fault_proxy.reset()
    assert m.sh(f"cd dynamo/{R}/{t} && cat a.json b.json c.json").stdout.count('"v": ') == 3


def test_a_lasting_getitem_fault_is_eio_not_enoent(mount_awsfs, fault_proxy, ddb_table):
    t = ddb_table([{"id": "a", "v": "x"}])
    m = paged_mount(mount_awsfs, fault_proxy)
    fault_proxy.add("GetItem", "truncate", times=None, keep=0)
    r = m.sh(f"cat dynamo/{R}/{t}/a.json", check=False)
    assert r.returncode != 0 and "Input/output error" in r.stderr and "No such file" not in r.stderr
    fault_proxy.reset()
    assert '"v": "x"' in m.sh(f"cat dynamo/{R}/{t}/a.json").stdout


def test_echo_into_a_tag_when_the_answer_is_lost(mount_awsfs, fault_proxy, ec2_instances, boto):
    """The connection drops after CreateTags reached AWS: tagging again is harmless, so awsfs
    does, and `echo` succeeds with the tag set once."""
    iid, = ec2_instances(1)
    m = mount_awsfs("--endpoint-url", fault_proxy.url, setup=FAST_RETRIES)
    fault_proxy.add("CreateTags", "drop_after")
    r = m.sh(f"echo blue > ec2/{R}/instances/{iid}/tags/color", check=False)
    assert r.returncode == 0, r.stderr
    tags = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("color", "blue")]
