"""Real mounts: awsfs runs as its own (daemonized) process against the session's moto server."""
from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

# Outside /tmp on purpose: vim's default 'backupskip' covers /tmp/* and would hide its rename-save.
MOUNT_BASE = os.environ.get("AWSFS_TEST_MOUNT_BASE", "/var/tmp")

if not os.path.exists("/dev/fuse") or not shutil.which("fusermount"):
    pytest.skip("FUSE is not available (scripts/install sets it up)", allow_module_level=True)

# Every mount test runs on each libfuse installed: awsfs prefers libfuse 3 and falls back to 2
# (FUSE_LIBRARY_NAME picks one, as mfusepy documents).
LIBFUSE = [name for name in ("fuse3", "fuse") if ctypes.util.find_library(name)]


def awsfs_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "awsfs", *args]


def awsfs_launched(setup: str, *args: str) -> list[str]:
    """``awsfs ARGS`` after running ``setup`` in the daemon's interpreter (a test launcher: it
    shortens a timer or holds AWS calls; awsfs itself is unchanged)."""
    code = f"import sys\n{setup}\nfrom awsfs.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return [sys.executable, "-c", code, *args]


def whiteout_setup(seconds: float) -> str:
    return ("import awsfs.handles as h\n"
            "assert hasattr(h, 'WHITEOUT_SECONDS'), 'awsfs.handles.WHITEOUT_SECONDS is gone: update the test'\n"
            f"h.WHITEOUT_SECONDS = {float(seconds)!r}")


def barrier_setup(operation: str, parties: int) -> str:
    """The first ``parties`` AWS calls of ``operation`` each wait until all of them are in flight
    (10 s at most: then they fail, and so does the request that made them)."""
    return ("import threading, awsfs.aws as a\n"
            f"b, left, lock, orig = threading.Barrier({parties}, timeout=10), [{parties}], threading.Lock(), a.Aws.call\n"
            "def call(self, service, region, operation, **kw):\n"
            "    with lock:\n"
            f"        wait = operation == {operation!r} and left[0] > 0\n"
            "        left[0] -= wait\n"
            "    if wait:\n"
            "        b.wait()\n"
            "    return orig(self, service, region, operation, **kw)\n"
            "a.Aws.call = call")


class Mount:
    def __init__(self, path: str, log_file: str) -> None:
        self.path = path
        self.log_file = log_file

    def p(self, rel: str) -> str:
        return os.path.join(self.path, rel.lstrip("/"))

    def sh(self, cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(cmd, shell=True, cwd=self.path, capture_output=True, text=True, timeout=60, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd!r} exited {r.returncode}: {r.stderr}")
        return r

    def status(self) -> dict:
        with open(self.p(".awsfs/status")) as f:
            return json.load(f)

    def calls(self) -> int:
        return self.status()["aws_calls_total"]

    def errors(self) -> str:
        with open(self.p(".awsfs/errors")) as f:
            return f.read()


def unmount(path: str) -> None:
    for _ in range(50):
        r = subprocess.run(["fusermount", "-u", path], capture_output=True)
        if r.returncode == 0 or not os.path.ismount(path):
            return
        time.sleep(0.1)
    subprocess.run(["fusermount", "-uz", path], capture_output=True)


@pytest.fixture(params=LIBFUSE)
def libfuse(request) -> str:
    return request.param


@pytest.fixture
def mount_awsfs(local_aws, tmp_path, libfuse):
    made: list[str] = []

    def mount(*extra: str, regions: str = "us-east-1,eu-west-1", whiteout_seconds: float | None = None,
              lib: str | None = None, barrier: tuple[str, int] | None = None, setup: str = "") -> Mount:
        """``whiteout_seconds`` shortens how long an item renamed to a scratch name stays hidden
        (awsfs.handles.WHITEOUT_SECONDS, 30 s), so tests can watch it expire. ``barrier``
        (operation, n) holds the first n calls of an AWS operation until all n are in flight.
        ``lib`` overrides the test's libfuse; ``setup`` is more launcher code (a test knob)."""
        path = tempfile.mkdtemp(prefix="awsfs-it-", dir=MOUNT_BASE)
        log_file = str(tmp_path / f"awsfs-{len(made)}.log")
        args = [path, "--endpoint-url", local_aws.url, "--regions", regions, "--log-file", log_file, *extra]
        setup = "\n".join(([whiteout_setup(whiteout_seconds)] if whiteout_seconds is not None else []) +
                           ([barrier_setup(*barrier)] if barrier else []) + ([setup] if setup else []))
        cmd = awsfs_launched(setup, *args) if setup else awsfs_cmd(*args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "FUSE_LIBRARY_NAME": lib or libfuse})
        assert r.returncode == 0, r.stderr
        assert os.path.ismount(path)
        made.append(path)
        return Mount(path, log_file)
    yield mount
    for path in made:
        unmount(path)
        os.rmdir(path)


@pytest.fixture
def mnt(mount_awsfs, seeded) -> Mount:
    return mount_awsfs()


# -- helpers and fixtures for the write tests -------------------------------------------------

def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "a condition"):
    """Poll until ``predicate()`` is truthy; return its value, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Tmux:
    """An interactive program (an editor) in a tmux session of its own: keys in, screen out."""

    def __init__(self, cwd: str, command: str) -> None:
        self.sock = f"awsfs-{uuid.uuid4().hex[:8]}"
        self("new-session", "-d", "-s", "ed", "-x", "120", "-y", "30", "-c", cwd, command)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                           timeout=10)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {args}: {r.stderr}")
        return r

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "ed").stdout

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "ed", *keys)

    def alive(self) -> bool:
        return self("has-session", "-t", "ed", check=False).returncode == 0

    def wait(self, text: str, what: str = "") -> None:
        wait_for(lambda: text in self.screen(), what=what or f"the screen to show {text!r}")

    def kill(self) -> None:
        self("kill-server", check=False)

    def nano_replace_all(self, old: str, new: str, shown: str) -> None:
        """In nano: replace every ``old`` with ``new`` (^\\, then All), until ``shown`` is on screen."""
        for keys, wanted in ((["C-\\"], "Search (to replace)"), (["C-u"], ""), (["-l", old], f": {old}"),
                             (["Enter"], "Replace with"), (["C-u"], ""), (["-l", new], f": {new}"),
                             (["Enter"], "Replace this instance"), (["a"], shown)):
            self.keys(*keys)
            if wanted:
                self.wait(wanted)

    def nano_save(self) -> str:
        """In nano: ^O and Enter; the screen once nano has written the file or failed to."""
        self.keys("C-o")
        self.wait("File Name to Write")
        self.keys("Enter")
        wait_for(lambda: "Wrote" in self.screen() or "Error" in self.screen(), what="nano to try the save")
        return self.screen()


@pytest.fixture
def ddb_table(boto, unique):
    """Make a DynamoDB table of the test's own: ``make(items, region=, hash=, range=)`` -> name.

    Items are plain Python (str, Decimal, set, bytes, dict, list); the table is deleted afterwards.
    """
    from boto3.dynamodb.types import TypeSerializer
    ser = TypeSerializer()
    made: list[tuple[str, str]] = []

    def make(items=(), region: str = "us-east-1", hash: tuple[str, str] = ("id", "S"),
             range: tuple[str, str] | None = None, name: str | None = None) -> str:
        name = name or unique("it")
        keys = [hash] + ([range] if range else [])
        ddb = boto("dynamodb", region)
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": k, "KeyType": t}
                                    for (k, _), t in zip(keys, ["HASH", "RANGE"])],
                         AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys])
        made.append((region, name))
        for item in items:
            ddb.put_item(TableName=name, Item={k: ser.serialize(v) for k, v in item.items()})
        return name
    yield make
    for region, name in made:
        try:
            boto("dynamodb", region).delete_table(TableName=name)
        except Exception:
            pass


@pytest.fixture
def ec2_instances(boto):
    """Launch instances of the test's own: ``make(n, tags={}, stopped=False, itype=)`` -> ids.

    Afterwards their tags are removed (read tests grep tags) and they are terminated.
    """
    made: list[tuple[str, str]] = []

    def make(n: int = 1, region: str = "us-east-1", itype: str = "t3.micro", tags: dict | None = None,
             stopped: bool = False) -> list[str]:
        ec2 = boto("ec2", region)
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        kw = {}
        if tags:
            kw["TagSpecifications"] = [{"ResourceType": "instance",
                                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
        r = ec2.run_instances(ImageId=ami, MinCount=n, MaxCount=n, InstanceType=itype, **kw)
        ids = [i["InstanceId"] for i in r["Instances"]]
        made.extend((region, i) for i in ids)
        if stopped:
            ec2.stop_instances(InstanceIds=ids)
        return ids
    yield make
    for region, iid in made:
        try:
            ec2 = boto("ec2", region)
            tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
            if tags:
                ec2.delete_tags(Resources=[iid], Tags=[{"Key": t["Key"]} for t in tags])
            ec2.terminate_instances(InstanceIds=[iid])
        except Exception:
            pass
