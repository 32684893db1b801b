"""Fixtures shared by tests/ and integration/: one local AWS (a moto server) per session."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import boto3
import pytest

from awsfs.aws import Aws
from awsfs.demo import DEMO_ENV, DEMO_REGIONS, LocalAws, seed
from awsfs.fs import Filesystem
from tests.faultproxy import FaultProxy

for _k, _v in DEMO_ENV.items():
    os.environ[_k] = _v
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def local_aws():
    server = LocalAws().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seeded(local_aws):
    """The demo resources, created once; tests that write make their own resources."""
    return seed(local_aws.url)


@pytest.fixture
def boto(local_aws):
    """A direct boto3 client factory against the local AWS (the test's own view of AWS)."""
    def make(service: str, region: str = "us-east-1"):
        return boto3.client(service, region_name=region, endpoint_url=local_aws.url)
    return make


@pytest.fixture
def make_fs(local_aws):
    def make(**kw) -> Filesystem:
        aws = Aws(endpoint_url=local_aws.url, backoff=kw.pop("backoff", 0.01))
        return Filesystem(aws, kw.pop("regions", DEMO_REGIONS), endpoint_url=local_aws.url, **kw)
    return make


@pytest.fixture
def fs(make_fs, seeded) -> Filesystem:
    return make_fs()


@pytest.fixture
def unique():
    return lambda prefix="t": f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def fault_proxy_server(local_aws):
    proxy = FaultProxy(local_aws.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(fault_proxy_server):
    """The fault-injecting proxy in front of the local AWS (tests/faultproxy.py), with no rules."""
    fault_proxy_server.reset()
    yield fault_proxy_server
    fault_proxy_server.reset()


@pytest.fixture(autouse=True, scope="module")
def _drop_tables_made():
    """Tables a module's tests made with tests/helpers.make_table go with the module."""
    yield
    helpers = sys.modules.get("helpers")
    for ddb, name in getattr(helpers, "MADE", ()):
        try:
            ddb.delete_table(TableName=name)
        except Exception:
            pass
    if helpers is not None:
        helpers.MADE.clear()


@pytest.fixture
def command_line():
    """``start(*args)``: a process whose command line is ``python -c ... *args`` (what a `cat` or
    `cp` would show the filesystem); stopped afterwards."""
    procs = []

    def start(*args: str) -> int:
        p = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", *args], stdin=subprocess.PIPE)
        procs.append(p)
        return p.pid
    yield start
    for p in procs:
        p.stdin.close()
        p.wait(10)


@pytest.fixture
def log_group(boto, unique):
    """``make(suffix, streams)`` -> the name of a new log group ``/it/<unique>/<suffix>`` in
    us-east-1 holding those streams; deleted afterwards."""
    logs = boto("logs", "us-east-1")
    made = []
    top = unique("g")

    def make(suffix: str = "api", streams=("s1",)) -> str:
        name = f"/it/{top}/{suffix}"
        logs.create_log_group(logGroupName=name)
        for s in streams:
            logs.create_log_stream(logGroupName=name, logStreamName=s)
        made.append(name)
        return name
    yield make
    for name in made:
        logs.delete_log_group(logGroupName=name)


@pytest.fixture
def put_log(boto):
    """``put_log(group, stream, *messages, at=0)``: events into a stream with boto3, a millisecond
    apart, from ``at`` (default: now)."""
    def put(group: str, stream: str, *messages: str, at: float = 0.0) -> None:
        now = int((at or time.time()) * 1000)
        boto("logs", "us-east-1").put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now + i, "message": m} for i, m in enumerate(messages)])
    return put


@pytest.fixture
def secrets_top(boto, unique):
    """A prefix of the test's own (``s-1a2b3c4d``) in us-east-1's Secrets Manager; every secret under
    it is deleted afterwards, scheduled ones too."""
    sm = boto("secretsmanager", "us-east-1")
    prefix = unique("s")
    yield prefix
    for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
        for s in page["SecretList"]:
            if s["Name"].lstrip("/").startswith(prefix + "/"):
                sm.delete_secret(SecretId=s["ARN"], ForceDeleteWithoutRecovery=True)

