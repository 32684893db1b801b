"""The fault suite without a mount: every read and write path, through a proxy that injects each
fault between awsfs and the local AWS (tests/faultproxy.py), checked against AWS afterwards.

For each read: a fault once is retried and the right content comes back; a fault that persists is
an honest errno (EIO, EAGAIN, never ENOENT, never a short listing), nothing of it is cached, and
the next try after the fault works. For each write: a fault once ends in the change made exactly
once (retried where that is safe, else looked up in AWS), or in EIO saying the outcome is unknown;
a fault that persists is an honest errno and AWS holds the change once or not at all.
"""
import errno
import os

import pytest

from awsfs.aws import Aws
from awsfs.errors import FsError
from awsfs.fs import Filesystem
from awsfs.services import dynamo
from helpers import create, make_table, read, save

R = "us-east-1"
W = os.O_WRONLY

FAULTS = [("throttle", {}), ("5xx_json", {}), ("5xx_text", {}), ("drop_before", {}), ("reset_before", {}),
          ("drop_after", {}), ("reset_after", {}), ("truncate", {}), ("truncate", {"keep": 0}),
          ("truncate", {"fix_length": False})]
FAULT_IDS = [f + ("-" + "-".join(f"{k}{v}" for k, v in o.items()) if o else "") for f, o in FAULTS]
#: faults after which AWS has the change although the writer got no answer
AFTER = {"drop_after", "reset_after", "truncate"}


def through(proxy, **kw) -> Filesystem:
    aws = Aws(endpoint_url=proxy.url, backoff=0.001, max_attempts=4)
    return Filesystem(aws, [R], endpoint_url=proxy.url, **kw)


@pytest.fixture(scope="module")
def world(local_aws, seeded):
    """A 201-item table (listed in pages of 60), a hash+range table, the seeded instances."""
    import boto3
    ddb = boto3.client("dynamodb", region_name=R, endpoint_url=local_aws.url)
    big = "faults-big"
    if big not in ddb.list_tables()["TableNames"]:
        make_table(ddb, big, [{"id": {"S": f"k{i:03d}"}, "n": {"N": str(i)}} for i in range(201)])
        ddb.create_table(TableName="faults-orders", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "c", "KeyType": "HASH"}, {"AttributeName": "o", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "c", "AttributeType": "S"},
                                               {"AttributeName": "o", "AttributeType": "N"}])
        for o in range(5):
            ddb.put_item(TableName="faults-orders", Item={"c": {"S": "alice"}, "o": {"N": str(o)}})
    return {"big": big, "orders": "faults-orders"}


READS = {
    "ListTables": lambda fs, w: sorted(fs.listdir(f"/dynamo/{R}")),
    "DescribeTable": lambda fs, w: read(fs, f"/dynamo/{R}/{w['big']}/.table.json"),
    "Scan": lambda fs, w: sorted(fs.listdir(f"/dynamo/{R}/{w['big']}")),
    "Query": lambda fs, w: sorted(fs.listdir(f"/dynamo/{R}/{w['orders']}/alice")),
    "GetItem": lambda fs, w: read(fs, f"/dynamo/{R}/{w['big']}/k123.json"),
    "DescribeInstances": lambda fs, w: [read(fs, f"/ec2/{R}/instances/{i}/state")
                                        for i in sorted(fs.listdir(f"/ec2/{R}/instances"))],
    "DescribeSecurityGroups": lambda fs, w: sorted(fs.listdir(f"/ec2/{R}/security-groups")),
    "DescribeImages": lambda fs, w: sorted(fs.listdir(f"/ec2/{R}/images")),
    "DescribeLoadBalancers": lambda fs, w: sorted(fs.listdir(f"/elb/{R}")),
}


_expected: dict = {}  # operation -> what the read shows without faults (nothing changes these resources)


@pytest.fixture
def paged(monkeypatch):
    monkeypatch.setattr(dynamo, "SCAN_LIMIT", 60)  # 201 items: four pages
    monkeypatch.setattr(dynamo, "SMALL_ITEMS", 0)   # an item nobody listed costs a GetItem


@pytest.mark.parametrize("fault,options", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("operation", list(READS))
def test_a_read_survives_a_fault_and_a_lasting_one_is_an_honest_error(fault_proxy, world, paged, operation,
                                                                      fault, options):
    if operation not in _expected:
        _expected[operation] = READS[operation](through(fault_proxy), world)
    expected = _expected[operation]
    assert expected  # the read has something to show
    # once: retried, whole
    fault_proxy.add(operation, fault, skip=1 if operation == "Scan" else 0, **options)
    fs = through(fault_proxy)
    assert READS[operation](fs, world) == expected
    assert fault_proxy.rules[0].hits == 1
    # lasting: an error that is not "no such file", and nothing of it stays
    fault_proxy.reset()
    fault_proxy.add(operation, fault, skip=1 if operation == "Scan" else 0, times=None, **options)
    fs = through(fault_proxy)
    with pytest.raises(FsError) as e:
        READS[operation](fs, world)
    assert e.value.errno in (errno.EIO, errno.EAGAIN), e.value
    fault_proxy.reset()
    assert READS[operation](fs, world) == expected


# -- writes -----------------------------------------------------------------------------------

class Case:
    """A write: ``setup(boto) -> ctx``, ``act(fs, ctx)``, ``done(boto, ctx)``: True once AWS has
    the change, False while it has not (anything else fails the test)."""

    def __init__(self, operation, setup, act, done, repeat_ok=True):
        self.operation, self.setup, self.act, self.done = operation, setup, act, done
        self.repeat_ok = repeat_ok  # False: the verb's outcome cannot be looked up (reboot)


def _table(boto, unique):
    name = unique("fw")
    make_table(boto("dynamodb"), name, [{"id": {"S": "a"}, "n": {"N": "1"}}])
    return name


def _get(boto, table, key):
    return boto("dynamodb").get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")


def _instance(boto, stopped=False, tags=None):
    ec2 = boto("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    kw = {"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v}
                                                                      for k, v in tags.items()]}]} if tags else {}
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", **kw)["Instances"][0]["InstanceId"]
    if stopped:
        ec2.stop_instances(InstanceIds=[iid])
    return iid


def _state(boto, iid):
    return boto("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def _tags(boto, iid):
    inst = boto("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def _balancer(boto, unique):
    name = unique("lb")
    boto("elb").create_load_balancer(LoadBalancerName=name, AvailabilityZones=[f"{R}a"],
                                     Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    return name


def _members(boto, lb):
    d = boto("elb").describe_load_balancers(LoadBalancerNames=[lb])["LoadBalancerDescriptions"][0]
    return [i["InstanceId"] for i in d["Instances"]]


_shared: dict = {}  # name -> an instance (or balancer) the cases of one kind take turns with


@pytest.fixture(scope="module", autouse=True)
def _leave_no_balancer(local_aws):
    """Other modules' tests list the region's balancers: the shared one goes with this module."""
    yield
    if "lb" in _shared:
        import boto3
        boto3.client("elb", region_name=R, endpoint_url=local_aws.url).delete_load_balancer(
            LoadBalancerName=_shared.pop("lb")[0])


def _kept(name, make):
    if name not in _shared:
        _shared[name] = make()
    return _shared[name]


def _power(boto, want):
    """The shared instance of start/stop cases, put in state ``want`` first."""
    iid = _kept("power", lambda: _instance(boto))
    ec2 = boto("ec2")
    if want == "stopped" and _state(boto, iid) != "stopped":
        ec2.stop_instances(InstanceIds=[iid])
    if want == "running" and _state(boto, iid) != "running":
        ec2.start_instances(InstanceIds=[iid])
    return iid


def _ctl(verb, before_state, after_states, stopped=False):
    setup = {"start": lambda boto, u: _power(boto, "stopped"), "stop": lambda boto, u: _power(boto, "running"),
             "terminate": lambda boto, u: _instance(boto)}[verb]
    return Case({"start": "StartInstances", "stop": "StopInstances", "terminate": "TerminateInstances",
                 "reboot": "RebootInstances"}[verb],
                setup,
                lambda fs, iid: save(fs, f"/ec2/{R}/instances/{iid}/ctl", f"{verb}\n".encode()),
                lambda boto, iid: _state(boto, iid) in after_states, repeat_ok=verb != "reboot")


WRITES = {
    "PutItem-create": Case(
        "PutItem", _table,
        lambda fs, t: create(fs, f"/dynamo/{R}/{t}/b.json", b'{"id": "b", "n": 2}\n'),
        lambda boto, t: _get(boto, t, "b") is not None),
    "PutItem-update": Case(
        "PutItem", _table,
        lambda fs, t: save(fs, f"/dynamo/{R}/{t}/a.json", b'{"id": "a", "n": 5}\n'),
        lambda boto, t: _get(boto, t, "a")["n"] == {"N": "5"}),
    "DeleteItem": Case(
        "DeleteItem", _table, lambda fs, t: fs.unlink(f"/dynamo/{R}/{t}/a.json"),
        lambda boto, t: _get(boto, t, "a") is None),
    "TransactWriteItems": Case(
        "TransactWriteItems", _table,
        lambda fs, t: fs.rename(f"/dynamo/{R}/{t}/a.json", f"/dynamo/{R}/{t}/c.json"),
        lambda boto, t: _get(boto, t, "a") is None and _get(boto, t, "c") is not None),
    "StartInstances": _ctl("start", "stopped", ("pending", "running"), stopped=True),
    "StopInstances": _ctl("stop", "running", ("stopping", "stopped")),
    "TerminateInstances": _ctl("terminate", "running", ("shutting-down", "terminated")),
    "RebootInstances": Case("RebootInstances", lambda boto, u: _kept("reboot", lambda: _instance(boto)),
                            lambda fs, iid: save(fs, f"/ec2/{R}/instances/{iid}/ctl", b"reboot\n"),
                            lambda boto, iid: None, repeat_ok=False),
    "ModifyInstanceAttribute": Case(
        "ModifyInstanceAttribute", lambda boto, u: (_kept("type", lambda: _instance(boto, stopped=True)),
                                                    _next_type()),
        lambda fs, c: save(fs, f"/ec2/{R}/instances/{c[0]}/type", f"{c[1]}\n".encode()),
        lambda boto, c: boto("ec2").describe_instances(InstanceIds=[c[0]])["Reservations"][0]["Instances"][0]
        ["InstanceType"] == c[1]),
    "CreateTags": Case(
        "CreateTags", lambda boto, u: (_kept("tags", lambda: _instance(boto)), u("k")),
        lambda fs, c: save(fs, f"/ec2/{R}/instances/{c[0]}/tags/{c[1]}", b"alice\n"),
        lambda boto, c: _tags(boto, c[0]).get(c[1]) == "alice"),
    "DeleteTags": Case(
        "DeleteTags", lambda boto, u: _tagged(boto, u("k")),
        lambda fs, c: fs.unlink(f"/ec2/{R}/instances/{c[0]}/tags/{c[1]}"),
        lambda boto, c: c[1] not in _tags(boto, c[0])),
    "RegisterInstancesWithLoadBalancer": Case(
        "RegisterInstancesWithLoadBalancer", lambda boto, u: _membership(boto, u, False),
        lambda fs, c: fs.symlink(f"/elb/{R}/{c[0]}/instances/{c[1]}", f"../../../../ec2/{R}/instances/{c[1]}"),
        lambda boto, c: c[1] in _members(boto, c[0])),
}


_TYPES = iter(f"{family}.{size}" for family in ("t3", "m5", "c5", "r5") for size in ("large", "xlarge", "2xlarge"))


def _next_type():
    return next(_TYPES)


def _tagged(boto, key):
    iid = _kept("tags", lambda: _instance(boto))
    boto("ec2").create_tags(Resources=[iid], Tags=[{"Key": key, "Value": "bob"}])
    return iid, key


def _membership(boto, unique, member):
    """The shared balancer and instance, the instance registered (``member``) or not."""
    lb, iid = _kept("lb", lambda: (_balancer(boto, unique), _instance(boto)))
    elb = boto("elb")
    if member and iid not in _members(boto, lb):
        elb.register_instances_with_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": iid}])
    if not member and iid in _members(boto, lb):
        elb.deregister_instances_from_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": iid}])
    return lb, iid


WRITES["DeregisterInstancesFromLoadBalancer"] = Case(
    "DeregisterInstancesFromLoadBalancer", lambda boto, u: _membership(boto, u, True),
    lambda fs, c: fs.unlink(f"/elb/{R}/{c[0]}/instances/{c[1]}"),
    lambda boto, c: c[1] not in _members(boto, c[0]))

WRITE_FAULTS = [f for f in FAULTS if f[1].get("fix_length", True)]


def _outcome_unknown(e: FsError) -> bool:
    return e.errno == errno.EIO and "outcome is unknown" in e.reason


@pytest.mark.parametrize("fault,options", WRITE_FAULTS, ids=[i for i, f in zip(FAULT_IDS, FAULTS) if f in WRITE_FAULTS])
@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_under_a_fault_is_made_once_or_honestly_unknown(fault_proxy, boto, unique, name, fault, options):
    case = WRITES[name]
    ctx = case.setup(boto, unique)
    fs = through(fault_proxy)
    fault_proxy.add(case.operation, fault, **options)
    try:
        case.act(fs, ctx)
        error = None
    except FsError as e:
        error = e
    sent = fault_proxy.seen[case.operation]
    assert fault_proxy.rules[0].hits == 1
    if case.repeat_ok:
        assert error is None, error  # retried where safe, else looked up: done
        assert case.done(boto, ctx) is True
    else:
        # a reboot that may have reached AWS cannot be looked up: it is not sent again
        if fault in AFTER or fault.startswith("5xx") or fault.endswith("_before"):
            assert error is not None and _outcome_unknown(error), error
            assert sent == 1
        else:
            assert error is None, error
    # nothing else fails afterwards: the mount goes on (and an undo is not needed)
    fault_proxy.reset()
    assert read(fs, "/.awsfs/status")


@pytest.mark.parametrize("name", ["PutItem-create", "PutItem-update", "TransactWriteItems", "CreateTags"])
@pytest.mark.parametrize("fault", ["throttle", "drop_before", "drop_after"])
def test_a_lasting_write_fault_is_an_honest_error_and_the_next_try_works(fault_proxy, boto, unique, name, fault):
    case = WRITES[name]
    ctx = case.setup(boto, unique)
    fs = through(fault_proxy)
    fault_proxy.add(case.operation, fault, times=None)
    try:
        case.act(fs, ctx)
        error = None
    except FsError as e:
        error = e
    if fault == "throttle":
        assert error is not None and error.errno == errno.EAGAIN, error
        assert case.done(boto, ctx) is False  # refused every time: nothing happened
    elif fault == "drop_after" and name != "CreateTags":
        # it reached AWS once; looking it up shows it was made: done, made once
        assert error is None, error
        assert case.done(boto, ctx) is True
        assert fault_proxy.seen[case.operation] == 1
    else:
        assert error is not None and _outcome_unknown(error), error
    fault_proxy.reset()
    if error is not None and not case.done(boto, ctx):
        case.act(fs, ctx)
        assert case.done(boto, ctx) is True


def test_a_put_racing_a_change_between_check_and_put_is_estale(fault_proxy, boto, unique):
    """The check (a GetItem) passes, then someone changes the item before the PutItem arrives: the
    put's own condition (the item is still what the check saw) refuses it atomically."""
    t = _table(boto, unique)
    fs = through(fault_proxy)
    p = f"/dynamo/{R}/{t}/a.json"
    before = read(fs, p)
    real_call = fs.aws.send

    def send(service, region, operation, params, repeatable=True, **kw):
        if operation == "PutItem":  # someone else's write lands between the check and the put
            boto("dynamodb").put_item(TableName=t, Item={"id": {"S": "a"}, "n": {"N": "99"}})
        return real_call(service, region, operation, params, repeatable, **kw)
    fs.aws.send = send
    fh = fs.open(p, os.O_RDWR)
    fs.write(p, before.replace(b'"n": 1', b'"n": 2'), 0, fh)
    with pytest.raises(FsError) as e:
        fs.flush(p, fh)
    fs.release(p, fh)
    assert e.value.errno == errno.ESTALE
    assert _get(boto, t, "a")["n"] == {"N": "99"}  # the other change is kept
