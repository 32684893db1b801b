"""The read side of the tree, driven through the filesystem without a mount, against a moto server."""
import errno
import json
import os
import stat
import threading
import time

import pytest

from awsfs.errors import FsError
from helpers import make_table, read
from faults import Faults, aws_error, aws_error_xml

R = "us-east-1"



def test_top_level_and_regions(fs):
    assert fs.listdir("/") == [".awsfs", "ec2", "dynamo", "elb", "ssm", "secrets", "s3", "logs", "iam"]
    assert fs.listdir("/ec2") == ["us-east-1", "eu-west-1"]
    with pytest.raises(FsError) as e:
        fs.getattr("/ec2/ap-south-9")
    assert e.value.errno == errno.ENOENT


def test_instance_files(fs, seeded):
    iid = seeded[R]["instances"][0]
    base = f"/ec2/{R}/instances/{iid}"
    assert iid in fs.listdir(f"/ec2/{R}/instances")
    assert set(fs.listdir(base)) == {"info.json", "state", "type", "tags", "ctl", "image", "security-groups"}
    info = json.loads(read(fs, f"{base}/info.json"))
    assert info["InstanceId"] == iid
    assert read(fs, f"{base}/state") == b"running\n"
    assert read(fs, f"{base}/type") == b"t3.micro\n"
    assert read(fs, f"{base}/tags/Name") == b"web-1\n"
    assert sorted(fs.listdir(f"{base}/tags")) == ["Name", "env", "team"]
    assert read(fs, f"{base}/ctl") == b"state: running\nverbs: stop reboot terminate\n"
    assert fs.readlink(f"{base}/image") == f"../../images/{seeded[R]['image']}"
    sg = seeded[R]["security_group"]
    assert fs.listdir(f"{base}/security-groups") == [sg]
    assert fs.readlink(f"{base}/security-groups/{sg}") == f"../../../security-groups/{sg}"
    # the links resolve inside the tree
    assert json.loads(read(fs, f"/ec2/{R}/security-groups/{sg}/info.json"))["GroupName"] == "web"
    assert json.loads(read(fs, f"/ec2/{R}/images/{seeded[R]['image']}/info.json"))["ImageId"] == seeded[R]["image"]


def test_stopped_instance_ctl_lists_start(fs, seeded):
    iid = seeded[R]["instances"][2]
    assert read(fs, f"/ec2/{R}/instances/{iid}/state") == b"stopped\n"
    assert read(fs, f"/ec2/{R}/instances/{iid}/ctl").endswith(b"verbs: start terminate\n")


def test_json_files_are_sorted_indented_iso(fs, seeded):
    iid = seeded[R]["instances"][0]
    text = read(fs, f"/ec2/{R}/instances/{iid}/info.json").decode()
    obj = json.loads(text)
    assert text == json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "T" in obj["LaunchTime"] and obj["LaunchTime"][:4].isdigit()


def test_dynamo_items(fs):
    assert {"users", "orders"} <= set(fs.listdir(f"/dynamo/{R}"))  # other tests add their own tables
    assert sorted(fs.listdir(f"/dynamo/{R}/users")) == [".table.json", "alice.json", "bob.json", "carol%2Fops.json"]
    alice = read(fs, f"/dynamo/{R}/users/alice.json")
    assert b'"balance": 12345678901234567890.123456' in alice
    assert json.loads(alice)["roles"] == {"$ss": ["admin", "billing"]}
    assert json.loads(read(fs, f"/dynamo/{R}/users/carol%2Fops.json"))["user_id"] == "carol/ops"
    table = json.loads(read(fs, f"/dynamo/{R}/users/.table.json"))
    assert table["TableName"] == "users"
    assert sorted(fs.listdir(f"/dynamo/{R}/orders")) == [".table.json", "alice", "bob"]
    assert sorted(fs.listdir(f"/dynamo/{R}/orders/alice")) == ["1001.json", "1002.json"]
    assert json.loads(read(fs, f"/dynamo/{R}/orders/bob/2001.json"))["total"] == 120.5


def test_elb(fs, seeded):
    ids = seeded[R]["instances"]
    assert fs.listdir(f"/elb/{R}") == ["web-lb"]
    assert json.loads(read(fs, f"/elb/{R}/web-lb/info.json"))["LoadBalancerName"] == "web-lb"
    assert sorted(fs.listdir(f"/elb/{R}/web-lb/instances")) == sorted(ids[:2])
    assert fs.readlink(f"/elb/{R}/web-lb/instances/{ids[0]}") == f"../../../../ec2/{R}/instances/{ids[0]}"


def test_attributes(fs, seeded):
    iid = seeded[R]["instances"][0]
    for path in [f"/ec2/{R}/instances/{iid}/info.json", f"/dynamo/{R}/users/alice.json", "/.awsfs/status"]:
        st = fs.getattr(path)
        assert st.size == len(read(fs, path)) or path == "/.awsfs/status"
    st1 = fs.getattr(f"/dynamo/{R}/users/bob.json")
    time.sleep(0.02)
    st2 = fs.getattr(f"/dynamo/{R}/users/bob.json")
    assert (st1.mtime, st1.ino) == (st2.mtime, st2.ino)
    assert stat.S_IMODE(fs.getattr(f"/ec2/{R}/instances/{iid}/info.json").mode) == 0o444
    assert stat.S_IMODE(fs.getattr(f"/ec2/{R}/instances/{iid}/type").mode) == 0o644
    assert stat.S_IMODE(fs.getattr(f"/dynamo/{R}/users/bob.json").mode) == 0o644
    assert stat.S_IMODE(fs.getattr(f"/dynamo/{R}/users").mode) == 0o755
    assert fs.getattr(f"/dynamo/{R}/users").uid == os.getuid()
    # LaunchTime is the instance files' mtime
    launch = json.loads(read(fs, f"/ec2/{R}/instances/{iid}/info.json"))["LaunchTime"]
    from datetime import datetime
    assert abs(fs.getattr(f"/ec2/{R}/instances/{iid}/state").mtime - datetime.fromisoformat(launch).timestamp()) < 1


def test_read_only_mount_marks_files_read_only(make_fs, seeded):
    ro = make_fs(read_only=True)
    assert stat.S_IMODE(ro.getattr(f"/dynamo/{R}/users/bob.json").mode) == 0o444


@pytest.mark.parametrize("path", [
    "/nope", "/ec2/us-east-1/instances/i-0000000000000000f", "/ec2/us-east-1/instances/not-an-id/state",
    "/dynamo/us-east-1/users/nobody.json", "/dynamo/us-east-1/no-such-table", "/dynamo/us-east-1/users/x.txt",
    "/elb/us-east-1/no-lb", "/dynamo/us-east-1/orders/alice/9999.json",
])
def test_unknown_names_are_enoent(fs, path):
    with pytest.raises(FsError) as e:
        fs.getattr(path)
    assert e.value.errno == errno.ENOENT


def test_transient_failure_is_eio_and_not_cached_as_absent(make_fs, seeded):
    fs = make_fs()
    faults = Faults(fs.aws.client("dynamodb", R), "Scan")  # a small table is listed to find one item
    faults.plan = [aws_error("InternalServerError", 500)] * 10
    with pytest.raises(FsError) as e:
        fs.getattr(f"/dynamo/{R}/users/alice.json")
    assert e.value.errno == errno.EIO
    assert faults.sent == fs.aws.max_attempts  # retried, then gave up
    assert "InternalServerError" in e.value.reason
    faults.plan = []
    assert fs.getattr(f"/dynamo/{R}/users/alice.json").size > 0


def test_access_denied_is_eacces(make_fs, seeded):
    fs = make_fs()
    faults = Faults(fs.aws.client("ec2", R), "DescribeInstances")
    faults.plan = [aws_error_xml("UnauthorizedOperation", 403, "You are not authorized")]
    with pytest.raises(FsError) as e:
        fs.listdir(f"/ec2/{R}/instances")
    assert e.value.errno == errno.EACCES
    assert faults.sent == 1  # not retried


def test_throttling_is_retried_transparently(make_fs, seeded):
    fs = make_fs()
    faults = Faults(fs.aws.client("dynamodb", R), "Scan")
    faults.plan = [aws_error("ThrottlingException"), aws_error("ProvisionedThroughputExceededException")]
    assert "alice.json" in fs.listdir(f"/dynamo/{R}/users")
    assert faults.sent == 3


def test_status_reports_calls_and_regions(fs):
    fs.listdir(f"/ec2/{R}/instances")
    status = json.loads(read(fs, "/.awsfs/status"))
    assert status["account"] == "123456789012"
    assert status["regions"] == ["us-east-1", "eu-west-1"]
    assert status["aws_calls"]["ec2:DescribeInstances"] >= 1
    assert status["cache"]["ttl_seconds"] == 60


def test_looking_up_what_does_not_exist_is_no_aws_failure(fs):
    """`mkdir instances/i-new` or `cat` of a missing id asks AWS, which says "no such instance":
    an answer, so /.awsfs/status must not report it as a failure."""
    with pytest.raises(FsError) as e:
        fs.getattr(f"/ec2/{R}/instances/i-0123456789abcdef0")
    assert e.value.errno == errno.ENOENT
    status = json.loads(read(fs, "/.awsfs/status"))
    assert status["aws_calls"].get("ec2:DescribeInstances", 0) >= 1
    assert status["aws_failures"] == {}


def test_errors_file_explains_failures(make_fs, seeded):
    fs = make_fs()
    faults = Faults(fs.aws.client("elb", R), "DescribeLoadBalancers")
    faults.plan = [aws_error_xml("AccessDenied", 403, "no elb for you")]
    with pytest.raises(FsError):
        fs.listdir(f"/elb/{R}")
    text = read(fs, "/.awsfs/errors").decode()
    assert f"/elb/{R}" in text and "EACCES" in text and "no elb for you" in text


def test_concurrent_requests_run_aws_calls_in_parallel(make_fs, seeded):
    """Four listings of four tables are sent to AWS at the same time, not one after another:
    each Scan waits at a barrier that opens only when all four are in flight."""
    fs = make_fs()
    barrier = threading.Barrier(4, timeout=10)
    faults = [Faults(fs.aws.client("dynamodb", r), "Scan") for r in ("us-east-1", "eu-west-1")]
    for f in faults:
        f.hook = lambda: barrier.wait()
    dirs = [f"/dynamo/{r}/{t}" for r in ("us-east-1", "eu-west-1") for t in ("users", "orders")]
    for d in dirs:  # schema loads are not what we look at
        fs.getattr(d + "/.table.json")
    errors = []

    def ls(d):
        try:
            fs.listdir(d)
        except Exception as e:  # a broken barrier means the calls were serialized
            errors.append(e)
    threads = [threading.Thread(target=ls, args=(d,)) for d in dirs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(f.sent for f in faults) == 4  # two listings of each table at once make one Scan


def test_item_lists_parse_like_botocore(boto, local_aws, unique):
    """Scan, Query and BatchGetItem answers skip botocore's per-attribute parse; the items must be
    exactly what botocore gives (binary values as bytes, attributes named like type tags)."""
    from awsfs.aws import Aws
    table = unique("fast")
    items = [{"id": {"S": "bin"}, "b": {"B": b"\x00\xffhello"}, "bs": {"BS": [b"a", b"\xfe"]},
              "m": {"M": {"B": {"S": "not binary"}, "BS": {"N": "7"}, "l": {"L": [{"B": b"\x01"}, {"NULL": True}]}}}},
             {"id": {"S": "plain"}, "n": {"N": "12345678901234567890.5"}, "ok": {"BOOL": False},
              "ss": {"SS": ["x", "y"]}}]
    ddb = make_table(boto("dynamodb"), table, items)
    aws = Aws(endpoint_url=local_aws.url)
    keys = [{"id": it["id"]} for it in items]
    for op, params, pick in [
            ("Scan", {"TableName": table}, lambda r: r["Items"]),
            ("Query", {"TableName": table, "KeyConditionExpression": "id = :b",
                       "ExpressionAttributeValues": {":b": {"S": "bin"}}}, lambda r: r["Items"]),
            ("BatchGetItem", {"RequestItems": {table: {"Keys": keys}}}, lambda r: r["Responses"][table])]:
        ours = pick(aws.call("dynamodb", R, op, **params))
        theirs = pick(getattr(ddb, {"Scan": "scan", "Query": "query", "BatchGetItem": "batch_get_item"}[op])(**params))
        key = lambda it: it["id"]["S"]  # noqa: E731
        assert sorted(ours, key=key) == sorted(theirs, key=key), op
    assert sorted(aws.call("dynamodb", R, "Scan", TableName=table)["Items"], key=lambda i: i["id"]["S"])[0]["b"] == \
        {"B": b"\x00\xffhello"}
