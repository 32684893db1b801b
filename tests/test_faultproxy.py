"""Self-tests of tests/faultproxy.py against the session's moto server: what each fault looks like
to a plain botocore client (no botocore retries, as awsfs configures them)."""
from __future__ import annotations

import concurrent.futures
import socket
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ChecksumError, ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.exceptions import ReadTimeoutError
from botocore.parsers import ResponseParserError
from faultproxy import FaultProxy, operation_of

REGION = "us-east-1"


@pytest.fixture
def proxy(fault_proxy):
    """The session's proxy (conftest.py), with no rules."""
    return fault_proxy


@pytest.fixture
def via(proxy):
    """A boto3 client through the proxy, configured like awsfs's (botocore does not retry)."""
    def make(service: str, mode: str = "standard", **config):
        cfg = Config(retries={"total_max_attempts": 1, "mode": mode}, connect_timeout=2,
                     read_timeout=config.pop("read_timeout", 5), **config)
        return boto3.client(service, region_name=REGION, endpoint_url=proxy.url, config=cfg)
    return make


@pytest.fixture(scope="module")
def table(local_aws):
    """A table made directly (not through the proxy), with one item."""
    name = f"fp-{uuid.uuid4().hex[:8]}"
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=local_aws.url)
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    ddb.put_item(TableName=name, Item={"k": {"S": "known"}, "v": {"S": "x" * 200}})
    return name


def key() -> dict:
    return {"k": {"S": uuid.uuid4().hex}}


def stored(boto, table: str, k: dict) -> bool:
    return "Item" in boto("dynamodb").get_item(TableName=table, Key=k, ConsistentRead=True)


def test_passthrough(via, proxy, boto, unique):
    ddb = via("dynamodb")
    name = unique("fp")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    ddb.put_item(TableName=name, Item={"k": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}})
    assert ddb.get_item(TableName=name, Key={"k": {"S": "a"}})["Item"] == \
        {"k": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}}
    assert stored(boto, name, {"k": {"S": "a"}})
    ec2 = via("ec2")
    direct = boto("ec2").describe_instances()["Reservations"]
    assert ec2.describe_instances()["Reservations"] == direct
    assert "LoadBalancerDescriptions" in via("elb").describe_load_balancers()
    assert via("sts").get_caller_identity()["Account"]
    assert proxy.seen == {"CreateTable": 1, "PutItem": 1, "GetItem": 1, "DescribeInstances": 1,
                          "DescribeLoadBalancers": 1, "GetCallerIdentity": 1}


def test_keep_alive(via, proxy, table):
    ddb = via("dynamodb")
    for _ in range(5):
        ddb.get_item(TableName=table, Key={"k": {"S": "known"}})
    assert proxy.connections == 1 and proxy.seen["GetItem"] == 5


def test_operation_of():
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert operation_of({"X-Amz-Target": "DynamoDB_20120810.GetItem"}, "/", b"{}") == "GetItem"
    assert operation_of(form, "/", b"Action=DescribeInstances&Version=2016-11-15") == "DescribeInstances"
    assert operation_of({}, "/?Action=GetCallerIdentity&Version=2011-06-15", b"") == "GetCallerIdentity"
    assert operation_of({}, "/", b"") == "?"
    s3 = {("GET", "/"): "ListBuckets", ("GET", "/b?list-type=2&delimiter=%2F"): "ListObjectsV2",
          ("GET", "/b?location"): "GetBucketLocation", ("HEAD", "/b/k"): "HeadObject", ("GET", "/b/a/k"): "GetObject",
          ("PUT", "/b/k"): "PutObject", ("PUT", "/b/k?partNumber=2&uploadId=u"): "UploadPart",
          ("POST", "/b/k?uploads"): "CreateMultipartUpload", ("POST", "/b/k?uploadId=u"): "CompleteMultipartUpload",
          ("DELETE", "/b/k?uploadId=u"): "AbortMultipartUpload", ("DELETE", "/b/k"): "DeleteObject"}
    assert {k: operation_of({}, k[1], b"", k[0]) for k in s3} == s3
    assert operation_of({"x-amz-copy-source": "b/k"}, "/b/k2", b"", "PUT") == "CopyObject"


@pytest.mark.parametrize("service,call,code,status", [
    ("dynamodb", lambda c, t: c.put_item(TableName=t, Item=key()), "ThrottlingException", 400),
    ("ec2", lambda c, t: c.describe_instances(), "RequestLimitExceeded", 503),
    ("elb", lambda c, t: c.describe_load_balancers(), "Throttling", 400),
    ("sts", lambda c, t: c.get_caller_identity(), "Throttling", 400),
    ("s3", lambda c, t: c.list_buckets(), "SlowDown", 503),
])
def test_throttle(via, proxy, table, service, call, code, status):
    client = via(service)
    rule = proxy.add("*", "throttle")
    with pytest.raises(ClientError) as e:
        call(client, table)
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert rule.hits == 1
    call(client, table)                           # times=1: the next one passes


def test_throttled_write_not_applied(via, proxy, boto, table):
    k = key()
    proxy.add("PutItem", "throttle")
    with pytest.raises(ClientError):
        via("dynamodb").put_item(TableName=table, Item=k)
    assert not stored(boto, table, k)


@pytest.mark.parametrize("service,call,code", [
    ("dynamodb", lambda c, t: c.get_item(TableName=t, Key=key()), "InternalServerError"),
    ("ec2", lambda c, t: c.describe_instances(), "InternalError"),
    ("elb", lambda c, t: c.describe_load_balancers(), "InternalError"),
])
def test_5xx_json(via, proxy, table, service, call, code):
    proxy.add("*", "5xx_json")
    with pytest.raises(ClientError) as e:
        call(via(service), table)
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_5xx_text(via, proxy, table):
    """A plain-text 503 is a ClientError with code "503" for JSON, a ResponseParserError for XML."""
    proxy.add("*", "5xx_text", times=2)
    with pytest.raises(ClientError) as e:
        via("dynamodb").get_item(TableName=table, Key=key())
    assert e.value.response["Error"] == {"Code": "503", "Message": "Service Unavailable"}
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ResponseParserError, match="invalid XML"):
        via("ec2").describe_instances()


@pytest.mark.parametrize("fault,applied", [("drop_before", False), ("reset_before", False),
                                           ("drop_after", True), ("reset_after", True)])
def test_connection_faults(via, proxy, boto, table, fault, applied):
    ddb = via("dynamodb")
    ddb.get_item(TableName=table, Key=key())      # the request below goes on a reused connection
    k = key()
    proxy.add("PutItem", fault)
    with pytest.raises(ConnectionClosedError):
        ddb.put_item(TableName=table, Item=k)
    assert proxy.seen["PutItem"] == 1             # neither botocore nor urllib3 retried
    assert stored(boto, table, k) is applied
    ddb.put_item(TableName=table, Item=key())     # the client recovers on a new connection


@pytest.mark.parametrize("fault,seen", [("reset_before", ConnectionResetError), ("drop_before", b"")])
def test_reset_is_rst_and_drop_is_fin(proxy, fault, seen):
    proxy.add("GetItem", fault)
    body = b"{}"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        if seen is ConnectionResetError:
            with pytest.raises(ConnectionResetError):
                s.recv(100)
        else:
            assert s.recv(100) == seen


@pytest.mark.parametrize("options", [{}, {"keep": 0}, {"fix_length": False}])
def test_truncate_dynamodb(via, proxy, table, options):
    """The hard case: a cut JSON body parses to ``{}`` (the item looks absent), even with the
    original Content-Length (botocore reads with enforce_content_length=False). Only the legacy
    retry mode checks DynamoDB's x-amz-crc32; the standard mode awsfs uses does not."""
    proxy.add("GetItem", "truncate", times=2, **options)
    got = via("dynamodb").get_item(TableName=table, Key={"k": {"S": "known"}})
    got.pop("ResponseMetadata")
    assert got == {}
    with pytest.raises(ChecksumError):
        via("dynamodb", mode="legacy").get_item(TableName=table, Key={"k": {"S": "known"}})


@pytest.mark.parametrize("options", [{}, {"keep": 0}, {"fix_length": False}])
def test_truncate_xml(via, proxy, options):
    proxy.add("DescribeInstances", "truncate", **options)
    with pytest.raises(ResponseParserError):
        via("ec2").describe_instances()


def test_stall_released(via, proxy, boto, table):
    rule = proxy.add("PutItem", "stall", seconds=30)
    k = key()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(via("dynamodb").put_item, TableName=table, Item=k)
        deadline = time.monotonic() + 5
        while rule.hits == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert rule.hits == 1 and not future.done() and not stored(boto, table, k)
        proxy.release()
        future.result(timeout=5)
    assert stored(boto, table, k)


def test_stall_past_read_timeout_still_applies(via, proxy, boto, table):
    """The client gives up (ReadTimeoutError), yet the write reaches AWS afterwards."""
    proxy.add("PutItem", "stall", seconds=30)
    k = key()
    with pytest.raises(ReadTimeoutError):
        via("dynamodb", read_timeout=0.3).put_item(TableName=table, Item=k)
    assert not stored(boto, table, k)
    proxy.release()
    deadline = time.monotonic() + 5
    while not stored(boto, table, k):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_delay(via, proxy, table):
    ddb = via("dynamodb")
    proxy.add("GetItem", "delay", seconds=0.3)
    start = time.monotonic()
    assert "Item" in ddb.get_item(TableName=table, Key={"k": {"S": "known"}})
    assert time.monotonic() - start >= 0.3


def test_skip_and_times(via, proxy, table):
    ddb = via("dynamodb")
    rule = proxy.add("GetItem", "throttle", times=2, skip=1)
    outcomes = []
    for _ in range(4):
        try:
            ddb.get_item(TableName=table, Key={"k": {"S": "known"}})
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    assert outcomes == ["ok", "ThrottlingException", "ThrottlingException", "ok"]
    assert rule.hits == 2 and rule.matched == 4 and proxy.seen["GetItem"] == 4


def test_forever_wildcard_and_order(via, proxy, table):
    ddb, ec2 = via("dynamodb"), via("ec2")
    first = proxy.add("GetItem", "5xx_json")
    forever = proxy.add("*", "throttle", times=None)
    codes = []
    for call in [lambda: ddb.get_item(TableName=table, Key=key()), ec2.describe_instances,
                 lambda: ddb.get_item(TableName=table, Key=key())]:
        with pytest.raises(ClientError) as e:
            call()
        codes.append(e.value.response["Error"]["Code"])
    assert codes == ["InternalServerError", "RequestLimitExceeded", "ThrottlingException"]
    assert (first.hits, forever.hits) == (1, 2)
    proxy.reset()
    assert not proxy.rules and not proxy.seen
    ddb.get_item(TableName=table, Key=key())


def test_unknown_fault(proxy):
    with pytest.raises(ValueError):
        proxy.add("GetItem", "explode")


def test_stop(local_aws, table):
    proxy = FaultProxy(local_aws.url).start()
    cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=1)
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=proxy.url, config=cfg)
    ddb.get_item(TableName=table, Key=key())
    proxy.stop()
    with pytest.raises(EndpointConnectionError):
        ddb.get_item(TableName=table, Key=key())
