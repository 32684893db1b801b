"""Writes without a mount: the operation sequences real tools send, against a moto server."""
import errno
import json
import os

import pytest

from awsfs.errors import FsError
from helpers import echo_into, make_table, read
from faults import Faults, aws_error, aws_error_xml

R = "us-east-1"
W = os.O_WRONLY


@pytest.fixture
def table(boto, unique):
    name = unique("w")
    make_table(boto("dynamodb"), name, [{"id": {"S": "a"}, "n": {"N": "1"}, "big": {"N": "12345678901234567890.123456"}}])
    return name


@pytest.fixture
def wfs(make_fs):
    return make_fs(regions=[R])


def get(boto, table, key):
    return boto("dynamodb").get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")



def create_write(fs, path, data: bytes, sync=False):
    fh = fs.create(path, 0o644, W | os.O_CREAT)
    try:
        fs.write(path, data, 0, fh)
        if sync:
            fs.fsync(path, 0, fh)
        fs.flush(path, fh)
    finally:
        fs.release(path, fh)


def test_echo_updates_item_and_next_read_shows_it(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    read(wfs, p)
    echo_into(wfs, p, b'{"id": "a", "n": 2, "big": 12345678901234567890.123456}\n')
    assert get(boto, table, "a")["n"] == {"N": "2"}
    assert json.loads(read(wfs, p))["n"] == 2
    assert wfs.getattr(p).size == len(read(wfs, p))


def test_truncate_alone_changes_nothing(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    fh = wfs.open(p, W)
    wfs.truncate(p, 0)
    wfs.flush(p, fh)  # dirty but empty: nothing to commit
    wfs.release(p, fh)
    assert get(boto, table, "a")["n"] == {"N": "1"}


def test_unchanged_content_makes_no_aws_call(wfs, table):
    p = f"/dynamo/{R}/{table}/a.json"
    data = read(wfs, p)
    before = dict(wfs.aws.calls)
    echo_into(wfs, p, data)
    assert {k: v for k, v in wfs.aws.calls.items() if before.get(k) != v} == {}


def test_vim_rename_save_and_failed_save(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    p = f"{d}/a.json"
    original = read(wfs, p)
    # a failed save: rename to backup, create, write invalid JSON, fsync fails, unlink, rename back
    wfs.rename(p, p + "~")
    fh = wfs.create(p, 0o644, W | os.O_CREAT | os.O_TRUNC)
    wfs.write(p, b'{"id": "a", "n": }', 0, fh)
    with pytest.raises(FsError) as e:
        wfs.fsync(p, 0, fh)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(FsError):
        wfs.flush(p, fh)  # close reports it too
    wfs.release(p, fh)
    calls = dict(wfs.aws.calls)
    wfs.unlink(p)
    wfs.rename(p + "~", p)
    assert dict(wfs.aws.calls) == calls  # restoring the backup made no AWS call
    assert get(boto, table, "a")["n"] == {"N": "1"}
    assert read(wfs, p) == original
    assert "a.json~" not in wfs.listdir(d)
    assert "invalid JSON at line 1 column 18" in read(wfs, "/.awsfs/errors").decode()
    # a good save the same way
    wfs.rename(p, p + "~")
    create_write(wfs, p, original.replace(b'"n": 1', b'"n": 5'), sync=True)
    wfs.unlink(p + "~")
    assert get(boto, table, "a")["n"] == {"N": "5"}
    assert sorted(wfs.listdir(d)) == [".table.json", "a.json"]


def test_sed_style_temp_file_renamed_onto_item(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    data = read(wfs, f"{d}/a.json").replace(b'"n": 1', b'"n": 7')
    create_write(wfs, f"{d}/sedX1y2Z3", data)
    assert get(boto, table, "a")["n"] == {"N": "1"}  # a temp file never reaches DynamoDB
    wfs.rename(f"{d}/sedX1y2Z3", f"{d}/a.json")
    assert get(boto, table, "a")["n"] == {"N": "7"}
    assert "sedX1y2Z3" not in wfs.listdir(d)


def test_copy_in_under_any_name_lists_canonical(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    create_write(wfs, f"{d}/backup-1.json", b'{"id": "x/y", "v": {"$ss": ["p", "q"]}}')
    assert get(boto, table, "x/y")["v"] == {"SS": ["p", "q"]}
    names = wfs.listdir(d)
    assert "x%2Fy.json" in names and "backup-1.json" not in names


def test_key_change_is_refused(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    with pytest.raises(FsError) as e:
        echo_into(wfs, p, b'{"id": "b", "n": 1}')
    assert e.value.errno == errno.EINVAL and "key mismatch" in e.value.reason
    assert get(boto, table, "b") is None and get(boto, table, "a") is not None


def test_conflict_is_estale_and_other_change_survives(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    read(wfs, p)
    boto("dynamodb").put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "99"}})
    with pytest.raises(FsError) as e:
        echo_into(wfs, p, b'{"id": "a", "n": 3}')
    assert e.value.errno == errno.ESTALE
    assert get(boto, table, "a")["n"] == {"N": "99"}
    explained = read(wfs, "/.awsfs/errors").decode()
    assert "changed in DynamoDB since you read it" in explained and "deleted" not in explained


def test_rm_and_mv(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    wfs.rename(f"{d}/a.json", f"{d}/b.json")
    assert get(boto, table, "a") is None
    assert get(boto, table, "b")["big"] == {"N": "12345678901234567890.123456"}
    wfs.unlink(f"{d}/b.json")
    assert get(boto, table, "b") is None
    assert wfs.listdir(d) == [".table.json"]


def test_scratch_names_stay_local(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    for name in [".a.json.swp", "4913", "a.json~", "sedAb12Cd", ".a.json.Ab12Cd", "notes.txt"]:
        create_write(wfs, f"{d}/{name}", b'{"id": "zzz"}')
        assert name in wfs.listdir(d)
        wfs.unlink(f"{d}/{name}")
    assert boto("dynamodb").scan(TableName=table)["Count"] == 1


def test_throttled_save_retries_and_writes_once(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    faults = Faults(wfs.aws.client("dynamodb", R), "PutItem")
    faults.plan = [aws_error("ThrottlingException"), aws_error("ProvisionedThroughputExceededException")]
    echo_into(wfs, p, b'{"id": "a", "n": 4}')
    assert faults.sent == 3  # two throttled attempts, one that reached AWS
    assert get(boto, table, "a")["n"] == {"N": "4"}


def test_permanent_failure_reports_and_mount_keeps_working(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/a.json"
    faults = Faults(wfs.aws.client("dynamodb", R), "PutItem")
    faults.plan = [aws_error("AccessDeniedException", 400, "not allowed to PutItem")] * 3
    with pytest.raises(FsError) as e:
        echo_into(wfs, p, b'{"id": "a", "n": 4}')
    assert e.value.errno == errno.EACCES
    assert faults.sent == 1
    assert "not allowed to PutItem" in read(wfs, "/.awsfs/errors").decode()
    assert get(boto, table, "a")["n"] == {"N": "1"}
    faults.plan = []
    echo_into(wfs, p, b'{"id": "a", "n": 4}')
    assert get(boto, table, "a")["n"] == {"N": "4"}


def test_read_only_refuses_everything(make_fs, boto, table):
    ro = make_fs(regions=[R], read_only=True)
    d = f"/dynamo/{R}/{table}"
    for action in [lambda: ro.open(f"{d}/a.json", W), lambda: ro.create(f"{d}/n.json", 0o644),
                   lambda: ro.unlink(f"{d}/a.json"), lambda: ro.rename(f"{d}/a.json", f"{d}/b.json"),
                   lambda: ro.mkdir(f"{d}/x", 0o755)]:
        with pytest.raises(FsError) as e:
            action()
        assert e.value.errno == errno.EROFS
    assert not any(k.split(":")[1] in ("PutItem", "DeleteItem") for k in ro.aws.calls)


@pytest.fixture
def instance(boto, seeded):
    ec2 = boto("ec2")
    r = ec2.run_instances(ImageId=seeded[R]["image"], MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return r["Instances"][0]["InstanceId"]


def ctl(fs, path, data: bytes):
    fh = fs.open(path, W)
    try:
        fs.truncate(path, 0)
        return fs.write(path, data, 0, fh)
    finally:
        fs.release(path, fh)


def test_ctl_verbs(wfs, boto, instance):
    base = f"/ec2/{R}/instances/{instance}"
    ctl(wfs, f"{base}/ctl", b"stop\n")
    assert read(wfs, f"{base}/state") == b"stopped\n"
    calls = wfs.aws.calls["ec2:StopInstances"]
    ctl(wfs, f"{base}/ctl", b"stop")  # already satisfied: a no-op
    assert wfs.aws.calls["ec2:StopInstances"] == calls
    with pytest.raises(FsError) as e:
        ctl(wfs, f"{base}/ctl", b"bogus\n")
    assert e.value.errno == errno.EINVAL
    assert "unknown verb 'bogus' (accepted: start, stop, reboot, terminate)" in read(wfs, "/.awsfs/errors").decode()
    ctl(wfs, f"{base}/ctl", b"start")
    assert read(wfs, f"{base}/state") == b"running\n"


def test_termination_protection_is_eperm(wfs, boto, instance):
    base = f"/ec2/{R}/instances/{instance}"
    boto("ec2").modify_instance_attribute(InstanceId=instance, DisableApiTermination={"Value": True})
    with pytest.raises(FsError) as e:
        ctl(wfs, f"{base}/ctl", b"terminate\n")
    assert e.value.errno == errno.EPERM
    assert "OperationNotPermitted" in read(wfs, "/.awsfs/errors").decode()
    assert read(wfs, f"{base}/state") == b"running\n"


@pytest.mark.parametrize("code,expected", [("UnauthorizedOperation", errno.EACCES),
                                           ("IncorrectInstanceState", errno.EBUSY)])
def test_aws_refusals_map_to_errno(wfs, instance, code, expected):
    base = f"/ec2/{R}/instances/{instance}"
    faults = Faults(wfs.aws.client("ec2", R), "RebootInstances")
    faults.plan = [aws_error_xml(code, 400, f"refused: {code}")]
    with pytest.raises(FsError) as e:
        ctl(wfs, f"{base}/ctl", b"reboot\n")
    assert e.value.errno == expected
    assert f"refused: {code}" in read(wfs, "/.awsfs/errors").decode()


def test_type_needs_a_stopped_instance(wfs, boto, instance):
    base = f"/ec2/{R}/instances/{instance}"
    with pytest.raises(FsError) as e:
        echo_into(wfs, f"{base}/type", b"t3.large\n")
    assert e.value.errno == errno.EBUSY and "stop it" in e.value.reason
    ctl(wfs, f"{base}/ctl", b"stop\n")
    echo_into(wfs, f"{base}/type", b"t3.large\n")
    assert read(wfs, f"{base}/type") == b"t3.large\n"
    desc = boto("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert desc["InstanceType"] == "t3.large"


def test_tags(wfs, boto, instance):
    tags = f"/ec2/{R}/instances/{instance}/tags"
    create_write(wfs, f"{tags}/env", b"prod\n")
    assert wfs.listdir(tags) == ["env"]
    echo_into(wfs, f"{tags}/env", b"staging\n")
    assert read(wfs, f"{tags}/env") == b"staging\n"
    wfs.unlink(f"{tags}/env")
    assert wfs.listdir(tags) == []
    assert boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"] == []


def test_a_multi_line_value_is_refused_whole(wfs, boto, instance):
    tags = f"/ec2/{R}/instances/{instance}/tags"
    fh = wfs.create(f"{tags}/multi", 0o644, W | os.O_CREAT)
    with pytest.raises(FsError) as e:
        wfs.write(f"{tags}/multi", b"a\nb\n", 0, fh)  # one write holding two lines: refused at once
    with pytest.raises(FsError) as closing:
        wfs.flush(f"{tags}/multi", fh)  # and close says the same
    wfs.release(f"{tags}/multi", fh)
    assert e.value.errno == errno.EINVAL and "one line" in e.value.reason
    assert closing.value.errno == errno.EINVAL
    assert "ec2:CreateTags" not in wfs.aws.calls


def test_unknown_names_in_an_instance_directory_are_refused(wfs, instance):
    with pytest.raises(FsError) as e:
        wfs.create(f"/ec2/{R}/instances/{instance}/CTL", 0o644)
    assert e.value.errno == errno.EACCES


def test_verbs_not_accepted_in_this_state_are_busy(wfs, instance):
    base = f"/ec2/{R}/instances/{instance}"
    ctl(wfs, f"{base}/ctl", b"terminate\n")
    assert read(wfs, f"{base}/ctl").endswith(b"verbs: (none)\n")
    with pytest.raises(FsError) as e:
        ctl(wfs, f"{base}/ctl", b"start\n")
    assert e.value.errno == errno.EBUSY and "terminated" in e.value.reason
    assert "ec2:StartInstances" not in wfs.aws.calls


def test_errors_file_size_is_current(wfs, table):
    for n in range(2):
        with pytest.raises(FsError):
            echo_into(wfs, f"/dynamo/{R}/{table}/a.json", b"not json %d" % n)
        assert wfs.getattr("/.awsfs/errors").size == len(read(wfs, "/.awsfs/errors"))


def test_table_description_cannot_be_removed(wfs, table):
    with pytest.raises(FsError) as e:
        wfs.unlink(f"/dynamo/{R}/{table}/.table.json")
    assert e.value.errno == errno.EACCES


def test_elb_links_must_name_an_instance_of_the_region(wfs, boto, unique, instance, seeded):
    lb = unique("lb")
    boto("elb").create_load_balancer(LoadBalancerName=lb, AvailabilityZones=[f"{R}a"],
                                     Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    d = f"/elb/{R}/{lb}/instances"
    other = seeded["eu-west-1"]["instances"][0]
    for name, target in [(other, f"../../../../ec2/eu-west-1/instances/{other}"),
                         ("i-deadbeef", "../../../../ec2/us-east-1/instances/i-deadbeef"),
                         (instance, "../../somewhere/else")]:
        with pytest.raises(FsError) as e:
            wfs.symlink(f"{d}/{name}", target)
        assert e.value.errno == errno.EINVAL
    assert "elb:RegisterInstancesWithLoadBalancer" not in wfs.aws.calls
    wfs.symlink(f"{d}/{instance}", f"../../../../ec2/{R}/instances/{instance}")
    assert wfs.listdir(d) == [instance]
    boto("elb").delete_load_balancer(LoadBalancerName=lb)  # test_read lists the region's balancers


def test_a_second_line_undoes_the_early_commit(wfs, boto, instance):
    """`{ echo newteam; echo x; } > tags/team`: all of the content is saved, or none of it."""
    tags = f"/ec2/{R}/instances/{instance}/tags"
    create_write(wfs, f"{tags}/team", b"old\n")
    fh = wfs.open(f"{tags}/team", W)
    wfs.truncate(f"{tags}/team", 0)
    wfs.write(f"{tags}/team", b"newteam\n", 0, fh)
    with pytest.raises(FsError) as e:
        wfs.write(f"{tags}/team", b"x\n", 8, fh)
    wfs.release(f"{tags}/team", fh)
    assert e.value.errno == errno.EINVAL
    tags_now = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags_now] == [("team", "old")]
    # and a tag that did not exist before is removed again
    fh = wfs.create(f"{tags}/fresh", 0o644, W | os.O_CREAT)
    wfs.write(f"{tags}/fresh", b"a\n", 0, fh)
    with pytest.raises(FsError):
        wfs.write(f"{tags}/fresh", b"b\n", 2, fh)
    wfs.release(f"{tags}/fresh", fh)
    assert sorted(wfs.listdir(tags)) == ["team"]


def test_unlinked_while_open_never_reaches_aws(wfs, boto, table):
    p = f"/dynamo/{R}/{table}/new.json"
    fh = wfs.create(p, 0o644, W | os.O_CREAT)
    wfs.write(p, b'{"id": "new"}\n', 0, fh)
    wfs.unlink(p)
    wfs.flush(p, fh)
    wfs.release(p, fh)
    assert get(boto, table, "new") is None


def test_mv_moves_the_item_as_dynamodb_has_it_now(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    read(wfs, f"{d}/a.json")
    boto("dynamodb").put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}, "note": {"S": "theirs"}})
    wfs.rename(f"{d}/a.json", f"{d}/c.json")
    assert get(boto, table, "c")["note"] == {"S": "theirs"}
    assert get(boto, table, "a") is None


def test_saving_after_mv_onto_a_read_file_uses_the_moved_item(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    boto("dynamodb").put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "7"}})
    read(wfs, f"{d}/b.json")
    wfs.rename(f"{d}/a.json", f"{d}/b.json")
    echo_into(wfs, f"{d}/b.json", b'{"id": "b", "n": 99}')
    assert get(boto, table, "b")["n"] == {"N": "99"}


def test_tag_keys_that_look_like_backups_are_real_tags(wfs, boto, instance):
    tags = f"/ec2/{R}/instances/{instance}/tags"
    for key in ("db.bak", "owner.orig", "notes.save"):
        create_write(wfs, f"{tags}/{key}", b"v\n")
    got = boto("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
    assert sorted(t["Key"] for t in got) == ["db.bak", "notes.save", "owner.orig"]


def test_read_only_files_cannot_be_renamed_away(wfs, instance):
    with pytest.raises(FsError) as e:
        wfs.rename(f"/ec2/{R}/instances/{instance}/state", f"/ec2/{R}/instances/{instance}/state~")
    assert e.value.errno == errno.EACCES
    assert wfs.getattr(f"/ec2/{R}/instances/{instance}/state").size > 0


def test_listing_resumed_after_a_delete_skips_nothing(wfs, boto, table):
    d = f"/dynamo/{R}/{table}"
    for k in range(6):
        boto("dynamodb").put_item(TableName=table, Item={"id": {"S": f"k{k}"}})
    everything = wfs.listdir(d)
    first = list(wfs.readdir(d))[:5]
    victim = first[3][0]
    wfs.unlink(f"{d}/{victim}")
    rest = [name for name, *_ in wfs.readdir(d, first[-1][3])]
    # the victim was listed before it went; nothing after it is skipped or repeated
    assert [n for n, *_ in first] + rest == [".", ".."] + everything
    assert victim not in wfs.listdir(d)


def test_one_refusal_is_one_errors_line_naming_the_file_it_was_for(wfs, table):
    """vim's fsync and then close both get the refusal: one line. sed -i renames its temp file
    onto the item: the line names both."""
    d = f"/dynamo/{R}/{table}"
    fh = wfs.open(f"{d}/a.json", W | os.O_TRUNC)
    wfs.write(f"{d}/a.json", b'{"id": "a", "n": }', 0, fh)
    for step in (lambda: wfs.fsync(f"{d}/a.json", 0, fh), lambda: wfs.flush(f"{d}/a.json", fh)):
        with pytest.raises(FsError):
            step()
    wfs.release(f"{d}/a.json", fh)
    lines = [ln for ln in read(wfs, "/.awsfs/errors").decode().splitlines() if f"{d}/a.json" in ln]
    assert len(lines) == 1 and "invalid JSON" in lines[0]
    create_write(wfs, f"{d}/sedXyZ123", b'{"id": "a", "n": ]')  # sed's temp file: local scratch
    with pytest.raises(FsError):
        wfs.rename(f"{d}/sedXyZ123", f"{d}/a.json")
    assert f"rename {d}/sedXyZ123 -> {d}/a.json: EINVAL: invalid JSON" in read(wfs, "/.awsfs/errors").decode()
