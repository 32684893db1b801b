"""EC2 instances (ctl, type, tags) and classic ELB membership, written through a real mount.

Each test launches its own instances (and load balancer) with boto3 and checks what the user
sees and what AWS holds afterwards. ``echo`` here is bash's builtin, as people type it.
"""
from __future__ import annotations

import os

import pytest

R = "us-east-1"
VERB_ERROR = "unknown verb 'bogus' (accepted: start, stop, reboot, terminate)"


def bash(mnt, cmd: str, check: bool = True):
    return mnt.sh(cmd, check=check, executable="/bin/bash")


def describe(boto, iid: str, region: str = R) -> dict:
    return boto("ec2", region).describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def state(boto, iid: str) -> str:
    return describe(boto, iid)["State"]["Name"]


def tags(boto, iid: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in describe(boto, iid).get("Tags", [])}


def calls(mnt, op: str) -> int:
    return mnt.status()["aws_calls"].get(f"ec2:{op}", 0)


def inst_dir(iid: str) -> str:
    return f"ec2/{R}/instances/{iid}"


# -- ctl -------------------------------------------------------------------------------------------

def test_ctl_verbs_change_the_instance_state(mnt, ec2_instances, boto):
    iid, = ec2_instances()
    d = inst_dir(iid)
    assert mnt.sh(f"cat {d}/state").stdout == "running\n"

    bash(mnt, f"echo stop > {d}/ctl")
    assert mnt.sh(f"cat {d}/state").stdout == "stopped\n"
    assert state(boto, iid) == "stopped"
    assert mnt.sh(f"cat {d}/ctl").stdout == "state: stopped\nverbs: start terminate\n"

    # stopping a stopped instance is a no-op that succeeds (and calls nothing)
    stops = calls(mnt, "StopInstances")
    r = bash(mnt, f"echo stop > {d}/ctl", check=False)
    assert r.returncode == 0 and r.stderr == ""
    assert calls(mnt, "StopInstances") == stops
    assert state(boto, iid) == "stopped"

    bash(mnt, f"echo start > {d}/ctl")
    assert mnt.sh(f"cat {d}/state").stdout == "running\n"
    assert state(boto, iid) == "running"

    reboots = calls(mnt, "RebootInstances")
    bash(mnt, f"echo reboot > {d}/ctl")
    assert calls(mnt, "RebootInstances") == reboots + 1
    assert state(boto, iid) == "running"

    bash(mnt, f"printf terminate > {d}/ctl")  # one write, no newline
    assert state(boto, iid) == "terminated"
    assert mnt.sh(f"cat {d}/state").stdout == "terminated\n"
    assert mnt.errors() == ""


def test_ctl_unknown_verb_is_refused(mnt, ec2_instances, boto):
    iid, = ec2_instances()
    d = inst_dir(iid)
    r = bash(mnt, f"echo bogus > {d}/ctl", check=False)
    assert r.returncode == 1
    assert "write error: Invalid argument" in r.stderr
    assert VERB_ERROR in mnt.errors()
    assert state(boto, iid) == "running"
    # /bin/echo and python see it too
    r = mnt.sh(f"/bin/echo bogus > {d}/ctl", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    with pytest.raises(OSError) as e:
        with open(mnt.p(f"{d}/ctl"), "w") as f:
            f.write("bogus\n")
    assert e.value.errno == 22
    assert state(boto, iid) == "running"


# -- type ------------------------------------------------------------------------------------------

def test_type_changes_on_a_stopped_instance(mnt, ec2_instances, boto):
    iid, = ec2_instances(itype="t3.micro", stopped=True)
    d = inst_dir(iid)
    assert mnt.sh(f"cat {d}/type").stdout == "t3.micro\n"
    bash(mnt, f"echo t3.large > {d}/type")
    assert describe(boto, iid)["InstanceType"] == "t3.large"
    assert mnt.sh(f"cat {d}/type").stdout == "t3.large\n"
    # an editor's rename save works too
    r = mnt.sh(f"vim -N -u NONE -es -c '%s/large/xlarge/' -c wq {d}/type", check=False)
    assert r.returncode == 0, r.stderr
    assert describe(boto, iid)["InstanceType"] == "t3.xlarge"
    assert sorted(os.listdir(mnt.p(d))) == sorted(
        ["info.json", "state", "type", "tags", "ctl", "image", "security-groups"])
    # not an instance type
    r = mnt.sh(f"/bin/echo 'not a type' > {d}/type", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    assert describe(boto, iid)["InstanceType"] == "t3.xlarge"


def test_type_change_on_a_running_instance_is_busy(mnt, ec2_instances, boto):
    iid, = ec2_instances(itype="t3.micro")
    d = inst_dir(iid)
    r = mnt.sh(f"/bin/echo t3.large > {d}/type", check=False)
    assert r.returncode == 1 and "Device or resource busy" in r.stderr
    busy = [line for line in mnt.errors().splitlines() if "EBUSY" in line]
    assert busy and "type" in busy[0] and "running" in busy[0], mnt.errors()
    assert describe(boto, iid)["InstanceType"] == "t3.micro"
    assert mnt.sh(f"cat {d}/type").stdout == "t3.micro\n"
    assert calls(mnt, "ModifyInstanceAttribute") == 0


def test_builtin_echo_type_on_a_running_instance_reports_busy(mnt, ec2_instances, boto):
    iid, = ec2_instances(itype="t3.micro")
    r = bash(mnt, f"echo t3.large > {inst_dir(iid)}/type", check=False)
    assert describe(boto, iid)["InstanceType"] == "t3.micro"
    assert r.returncode != 0 and "Device or resource busy" in r.stderr


# -- tags ------------------------------------------------------------------------------------------

def test_tags_create_change_delete(mnt, ec2_instances, boto):
    iid, = ec2_instances(tags={"Name": "it-tags", "team": "qa"})
    d = f"{inst_dir(iid)}/tags"
    assert mnt.sh(f"ls {d}").stdout.split() == ["Name", "team"]

    bash(mnt, f"echo prod > {d}/env")
    assert tags(boto, iid) == {"Name": "it-tags", "team": "qa", "env": "prod"}
    assert mnt.sh(f"ls {d}").stdout.split() == ["Name", "env", "team"]
    assert mnt.sh(f"cat {d}/env").stdout == "prod\n"

    bash(mnt, f"echo staging > {d}/env")
    assert tags(boto, iid)["env"] == "staging"
    assert mnt.sh(f"cat {d}/env").stdout == "staging\n"

    bash(mnt, f"echo v1 > {d}/app%2Fversion")  # a key with a slash, escaped in the name
    assert tags(boto, iid)["app/version"] == "v1"

    mnt.sh(f"rm {d}/env {d}/app%2Fversion")
    assert tags(boto, iid) == {"Name": "it-tags", "team": "qa"}
    assert mnt.sh(f"ls -a {d}").stdout.split() == [".", "..", "Name", "team"]
    r = mnt.sh(f"cat {d}/env", check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr

    # reserved keys are refused
    r = mnt.sh(f"/bin/echo x > {d}/aws:owner", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    assert tags(boto, iid) == {"Name": "it-tags", "team": "qa"}

    # vim's rename save of a tag (listing not checked here: see the .fuse_hidden test below)
    r = mnt.sh(f"vim -N -u NONE -es -c 's/qa/ops/' -c wq {d}/team", check=False)
    assert r.returncode == 0, r.stderr
    assert tags(boto, iid) == {"Name": "it-tags", "team": "ops"}
    assert mnt.sh(f"cat {d}/team").stdout == "ops\n"


def test_unlinking_an_open_scratch_file_in_tags(mnt, ec2_instances, boto):
    iid, = ec2_instances(tags={"team": "qa"})
    d = mnt.p(f"{inst_dir(iid)}/tags")
    p = os.path.join(d, ".team.swp")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)   # as vim does with its swap file
    try:
        os.write(fd, b"swap")
        os.unlink(p)                                                # while still open
    finally:
        os.close(fd)
    assert tags(boto, iid) == {"team": "qa"}
    assert sorted(os.listdir(d)) == ["team"]


# -- ELB -------------------------------------------------------------------------------------------

@pytest.fixture
def load_balancer(boto, unique):
    elb = boto("elb")
    name = unique("lb")
    elb.create_load_balancer(LoadBalancerName=name, AvailabilityZones=[f"{R}a"],
                             Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    yield name
    try:
        elb.delete_load_balancer(LoadBalancerName=name)
    except Exception:
        pass


def members(boto, lb: str) -> list[str]:
    desc = boto("elb").describe_load_balancers(LoadBalancerNames=[lb])["LoadBalancerDescriptions"][0]
    return sorted(i["InstanceId"] for i in desc["Instances"])


def test_symlink_registers_and_rm_deregisters(mnt, ec2_instances, load_balancer, boto):
    a, b = ec2_instances(2)
    lb = load_balancer
    d = f"elb/{R}/{lb}/instances"
    assert os.listdir(mnt.p(d)) == []
    mnt.sh(f"ln -s ../../../../ec2/{R}/instances/{a} {d}/{a}")
    assert members(boto, lb) == [a]
    mnt.sh(f"ln -s ../../../../ec2/{R}/instances/{b} {d}/{b}")
    assert members(boto, lb) == sorted([a, b])
    assert sorted(os.listdir(mnt.p(d))) == sorted([a, b])
    assert mnt.sh(f"readlink {d}/{a}").stdout.strip() == f"../../../../ec2/{R}/instances/{a}"
    assert mnt.sh(f"cat {d}/{a}/state").stdout == "running\n"   # the link leads to the instance

    mnt.sh(f"rm {d}/{a}")
    assert members(boto, lb) == [b]
    assert os.listdir(mnt.p(d)) == [b]

    # a link not named after its target is refused
    r = mnt.sh(f"ln -s ../../../../ec2/{R}/instances/{b} {d}/{a}", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    assert members(boto, lb) == [b]


# -- read-only mount -------------------------------------------------------------------------------

def test_read_only_mount_refuses_every_write(mount_awsfs, ddb_table, ec2_instances, load_balancer, boto):
    t = ddb_table([{"id": "a", "v": "kept"}])
    iid, member = ec2_instances(2, tags={"env": "ro"})
    boto("elb").register_instances_with_load_balancer(LoadBalancerName=load_balancer,
                                                      Instances=[{"InstanceId": member}])
    m = mount_awsfs("--read-only")
    d, i, e = f"dynamo/{R}/{t}", inst_dir(iid), f"elb/{R}/{load_balancer}/instances"
    attempts = [
        f"""echo '{{"id": "a", "v": "changed"}}' > {d}/a.json""",
        f"""/bin/echo '{{"id": "a", "v": "changed"}}' > {d}/a.json""",
        f"rm {d}/a.json",
        f"mv {d}/a.json {d}/b.json",
        f"touch {d}/new.json",
        f"touch {d}/.a.json.swp",
        f"mkdir {d}/dir",
        f"echo stop > {i}/ctl",
        f"echo t3.large > {i}/type",
        f"echo prod > {i}/tags/env",
        f"rm {i}/tags/env",
        f"ln -s ../../../../ec2/{R}/instances/{iid} {e}/{iid}",
        f"rm {e}/{member}",
    ]
    for cmd in attempts:
        r = bash(m, cmd, check=False)
        assert r.returncode != 0, cmd
        assert "Read-only file system" in r.stderr, (cmd, r.stderr)
    r = m.sh(f"vim -N -u NONE -es -c '%s/kept/changed/' -c wq {d}/a.json", check=False)
    assert r.returncode != 0
    # AWS is unchanged
    assert boto("dynamodb").scan(TableName=t)["Items"] == [{"id": {"S": "a"}, "v": {"S": "kept"}}]
    assert state(boto, iid) == "running" and describe(boto, iid)["InstanceType"] == "t3.micro"
    assert tags(boto, iid) == {"env": "ro"}
    assert members(boto, load_balancer) == [member]
    assert all(not k.startswith(("dynamodb:Put", "dynamodb:Delete", "dynamodb:Transact", "ec2:Stop", "ec2:Create",
                                 "ec2:Delete", "ec2:Modify", "elb:Register", "elb:Deregister"))
               for k in m.status()["aws_calls"])
    # reading still works
    assert m.sh(f"cat {d}/a.json").stdout.count('"kept"') == 1
    assert m.status()["read_only"] is True
