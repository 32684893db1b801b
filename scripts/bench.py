"""awsfs against hand-written boto3, side by side, with AWS latency injected.

Run through ``scripts/bench`` (``--help`` for options). What happens:

1. A moto server and a latency proxy (scripts/bench_servers.py) start on 127.0.0.1. The proxy
   delays every request by ``--latency-ms`` (default 20) and counts requests per AWS operation.
2. Seeding goes straight to moto (not through the proxy: uncounted, undelayed): one DynamoDB
   table ``bench`` (hash key ``id``) with ``--items`` items and ``--instances`` EC2 instances in
   ``--region``.
3. Each row runs the awsfs command (real tools via subprocess, on a mount whose AWS endpoint is
   the proxy) and the equivalent boto3 code (clients on the same proxy, created inside the timed
   section just as awsfs creates its clients on first use). AWS calls are deltas of the proxy's
   counters; wall times are measured around the command / the code.

Cache state: every awsfs row except the stat row runs on a fresh mount (nothing cached, the
kernel's dentry cache empty too): "cold". The mount's own startup probe is not counted. The
stat row is "warm": the file was listed first. boto3 has no cache: every boto3 run is cold.

The rows and their boto3 equivalents (the least a good hand-written script does):

* ``ls -l`` of the instances directory: paginated describe_instances (MaxResults=1000).
* The boto3 side of every table row is a *generic* script, like awsfs: it learns the table's key
  schema with one DescribeTable before it can name a file (or condition a put) by key, as the
  ``find`` row always did. The schema-hard-coded variant is shown for reference.
* ``ls -l`` of the table: DescribeTable + paginated Scan.
* ``grep -r VALUE`` over the table: paginated Scan, render each item, search.
* ``cat`` of ``--files`` item files named in one command, on a fresh mount (the table not listed;
  awsfs decides between listing the table and one GetItem per file). boto3 candidates: a
  paginated Scan, or BatchGetItem in chunks of 100; the boto3 columns take the fewest calls of
  either and the fastest time of either (both are named). ``--files`` x GetItem is shown for
  reference.
* ``cp`` of ``--files`` new item files into the table: ``--files`` x PutItem with
  ``attribute_not_exists`` (awsfs's semantics: a new file never clobbers an item; BatchWriteItem
  cannot be conditional, so it is shown for reference only). Items are deleted afterwards.
* ``find`` over the region's ec2 and dynamo trees: every paginated Describe/List the tree needs,
  plus DescribeTable per table (a generic script must learn each table's key schema).
* cached ``stat``: os.stat in a tight loop on an already-listed item file, against a trivial
  in-memory mfusepy filesystem (scripts/bench_trivialfs.py) mounted with awsfs's FUSE options;
  the two alternate in 0.5 s rounds so that load from elsewhere hits both alike.
* daemon peak RSS: VmHWM of the awsfs daemon after the cold ``ls -l`` of the table.
* ``--big-items N``: a table of N small items (seeded by parallel BatchWriteItem), then
  ``ls -f | head`` and ``ls -f | wc -l``, each on a fresh mount, with the daemon's VmHWM.

S3 rows (``s3-*``; each makes buckets of its own, named anew every run; boto3 clients use
path-style addressing on the local endpoint, as awsfs does):

* ``s3-ls``: ``ls -l`` of a prefix holding ``--s3-objects`` objects against
  list_objects_v2(Prefix, Delimiter "/") paginated. awsfs also makes ListBuckets,
  GetBucketLocation and one listing of the bucket's top to find the prefix (counted; a reference
  script doing the same is shown). Its own target: ceil(N/1000) ListObjectsV2 for the prefix.
* ``s3-find``: ``find`` and ``du -s`` of a bucket of ``--s3-objects`` objects in ``--s3-prefixes``
  prefixes, each on a fresh mount, against two scripts: a Delimiter walk (one listing per
  directory, as awsfs) and one flat listing without Delimiter.
* ``s3-grep``: warm: ``ls -l`` of a prefix of ``--s3-grep-objects`` small objects on a fresh mount
  (not counted), then ``grep -r`` over it (counted: the GetObjects only), against a loop of
  get_object over the same keys (a script with 10 threads is shown for reference).
* ``s3-big``: ``cat`` of an object of ``--s3-big-mb`` MB piped to sha256sum against
  download_fileobj (default TransferConfig) into a hashing writer, and ``cp`` of a local file of
  that size (on disk, under AWSFS_BENCH_MOUNT_BASE) into the bucket against upload_fileobj
  (default TransferConfig); the sha256 of what was read / what landed is checked, and the
  daemon's peak RSS (VmHWM) is a target of its own (< 200 MB).
* ``s3-cp-small``: ``mkdir`` + ``cp`` of ``--s3-files`` 1 KB local files into a new prefix
  against a loop of put_object (with IfNoneMatch "*", awsfs's semantics, and without); target
  1.2x.

CloudWatch Logs and IAM rows (each seeds its own data straight to moto; a log group named anew every
run; IAM is global, so ``iam-grep`` greps whatever IAM holds: the fresh moto server's, its own):

* ``logs-grep``: ``grep -r`` over a group of ``--logs-events`` events in ``--logs-streams`` streams
  (the last hour) against a filter_log_events loop over the group from an hour ago, rendering each
  event as awsfs's line. awsfs also makes one DescribeLogGroups to find the group (a reference
  script doing the same is shown). Its own target: the group's FilterLogEvents pages only.
* ``logs-tail``: ``tail -n 0 -f`` of ``@streams/<s>`` (and of ``@events``, reported in the check)
  on a mount while ``--tail-samples`` events are put with boto3 (straight to moto) at random
  moments; the seconds from each put's return to its line on tail's output, median. Against a
  boto3 follower asking get_log_events from its forward token every second (as ``aws logs tail
  --follow`` does). Calls are compared per second (both ask while idle).
* ``iam-grep``: ``grep -r`` over ``/iam`` (``--iam-principals`` users and roles, a fifth as many
  groups, half as many managed policies of two versions, an inline policy each) against two
  scripts: list users/roles/groups/policies and get every document, and one
  GetAccountAuthorizationDetails (paginated). Its own target: awsfs reads IAM with
  GetAccountAuthorizationDetails.

"floor" is the same command on the trivial filesystem holding as many files of the same size:
the kernel's and the binding's share with awsfs's FUSE options (no awsfs logic, no AWS).

Each row runs ``--repeat`` times (awsfs and boto3 alternating); wall times are medians, and the
ratio is the median of each repetition's awsfs/boto3 ratio (a pair runs under the same load from
elsewhere; the JSON also has the ratio of the medians). Note that
moto itself is slow at Scan (about 1-2 s for 2,000 items on 2 cores, more per page on big
tables): those rows are dominated by moto on both sides, so their ratios are kinder to awsfs
than real DynamoDB would be.

Targets (reported, not asserted): awsfs calls <= the boto3 minimum on every row; awsfs wall
time <= 1.3x boto3 (S3 ``cp`` of small files: 1.2x); cached stat >= 0.8x a trivial mfusepy
filesystem; daemon peak RSS < 200 MB; the S3 rows' own targets (``TARGET:`` lines).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import math
import os
import platform
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"
TABLE = "bench"
BIG_TABLE = "bench-big"
NEEDLE = "needle-4242"
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
MOUNT_BASE = os.environ.get("AWSFS_BENCH_MOUNT_BASE", "/var/tmp")

TARGET_RATIO = 1.3
TARGET_STAT = 0.8
TARGET_RSS_MB = 200.0
TARGET_RATIO_S3_CP_SMALL = 1.2
S3_NEEDLE = "needle-s3-4242"
S3_PATH_STYLE = {"addressing_style": "path"}  # the local endpoint has no per-bucket host names
LOGS_NEEDLE = "needle-logs-4242"
IAM_NEEDLE = "needle-iam-4242"
SELF_SEEDED = ("s3-", "logs-", "iam-")  # rows that make their own data (the table and instances are not seeded)

sys.path.insert(0, ROOT)
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- processes and mounts ------------------------------------------------------------------------

class Server:
    """A helper process that prints ``READY <port>`` and exits when its stdin closes."""

    def __init__(self, argv: list[str], log_path: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     cwd=ROOT, env=child_env(), start_new_session=True)
        line = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"READY") or not line:
                break
        if not line.startswith(b"READY"):
            self.stop()
            raise RuntimeError(f"{argv[1:3]} did not start; see {log_path}:\n{tail(log_path)}")
        self.port = int(line.split()[1])
        self.url = f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except Exception:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.update(CREDS)
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def tail(path: str, n: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
    except OSError:
        return ""


def pids_of_mount(mnt: str) -> list[int]:
    """Processes whose command line names this mount point (the awsfs daemon)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if mnt.encode() in argv and any(b"awsfs" in a for a in argv):
            found.append(int(d))
    return found


def proc_status_kb(pid: int, field: str) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def unmount(path: str) -> None:
    for _ in range(50):
        r = subprocess.run(["fusermount", "-u", path], capture_output=True)
        if r.returncode == 0 or not os.path.ismount(path):
            return
        time.sleep(0.1)
    subprocess.run(["fusermount", "-uz", path], capture_output=True)


class Mount:
    def __init__(self, path: str, pid: Optional[int], log_file: str, kind: str) -> None:
        self.path = path
        self.pid = pid
        self.log_file = log_file
        self.kind = kind
        self.proc: Optional[subprocess.Popen] = None

    def p(self, rel: str) -> str:
        return os.path.join(self.path, rel)

    def hwm_mb(self) -> Optional[float]:
        kb = proc_status_kb(self.pid, "VmHWM") if self.pid else None
        return None if kb is None else kb / 1024

    def rss_mb(self) -> Optional[float]:
        kb = proc_status_kb(self.pid, "VmRSS") if self.pid else None
        return None if kb is None else kb / 1024


# -- DynamoDB values --------------------------------------------------------------------------------

def plain(av: dict) -> Any:
    """A typed attribute value as plain JSON (what a hand-written script would print)."""
    (t, v), = av.items()
    if t == "S":
        return v
    if t == "N":
        return Decimal(v)
    if t in ("BOOL",):
        return v
    if t == "NULL":
        return None
    if t == "L":
        return [plain(x) for x in v]
    if t == "M":
        return {k: plain(x) for k, x in v.items()}
    if t in ("SS", "NS"):
        return sorted(v)
    return str(v)


def render(item: dict) -> str:
    return json.dumps({k: plain(v) for k, v in item.items()}, indent=2, sort_keys=True, default=str) + "\n"


def make_item(i: int, prefix: str = "item") -> dict:
    colors = ["red", "green", "blue", "amber", "violet"]
    notes = f"note for {prefix} {i}: " + ("lorem ipsum dolor sit amet " * 4)
    if i % 500 == 7:
        notes += NEEDLE
    return {
        "id": {"S": f"{prefix}-{i:06d}"},
        "name": {"S": f"{prefix.title()} number {i}"},
        "color": {"S": colors[i % len(colors)]},
        "count": {"N": str(i * 7 % 1000)},
        "price": {"N": f"{i % 100}.{i % 97:02d}"},
        "active": {"BOOL": i % 3 == 0},
        "tags": {"SS": ["bench", f"group-{i % 10}"]},
        "owner": {"M": {"name": {"S": f"user-{i % 50}"}, "email": {"S": f"user-{i % 50}@example.com"}}},
        "notes": {"S": notes},
    }


def plain_item_json(i: int, prefix: str) -> bytes:
    """A new item as awsfs's plain JSON file (``cp`` source)."""
    it = make_item(i, prefix)
    obj = {k: plain(v) for k, v in it.items() if k not in ("tags",)}
    obj["tags"] = {"$ss": sorted(it["tags"]["SS"])}
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


# -- the benchmark ----------------------------------------------------------------------------------

def hash_key(ddb) -> str:
    """What a generic script (like awsfs) must learn before it can name files by key."""
    schema = ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"]
    return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")


class Bench:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.region = a.region
        self.tmp = tempfile.mkdtemp(prefix="awsfs-bench-")
        self.servers: list[Server] = []
        self.mounts: list[Mount] = []
        self.mount_count = 0
        self.rows: list[dict] = []
        self.extra: dict[str, Any] = {}
        self.moto: Optional[Server] = None
        self.proxy: Optional[Server] = None
        self.item_ids: list[str] = []
        self.item_size = 400
        self.instance_ids: list[str] = []
        self.run_id = uuid.uuid4().hex[:8]  # in every bucket's name: unique per run

    # -- servers and clients
    def start(self) -> None:
        py = sys.executable
        t = time.monotonic()
        self.moto = Server([py, os.path.join(HERE, "bench_servers.py"), "moto"], os.path.join(self.tmp, "moto.log"))
        self.servers.append(self.moto)
        self.proxy = Server([py, os.path.join(HERE, "bench_servers.py"), "proxy", "--upstream-port",
                             str(self.moto.port), "--latency-ms", str(self.a.latency_ms)],
                            os.path.join(self.tmp, "proxy.log"))
        self.servers.append(self.proxy)
        log(f"moto on {self.moto.url}, latency proxy ({self.a.latency_ms:g} ms) on {self.proxy.url} "
            f"({time.monotonic() - t:.1f}s)")

    def direct(self, service: str) -> Any:
        """A client straight to moto: seeding and checks, never counted."""
        return boto3.session.Session().client(service, region_name=self.region, endpoint_url=self.moto.url,
                                              config=Config(max_pool_connections=32, s3=S3_PATH_STYLE), **_creds())

    def counts(self) -> dict:
        with urllib.request.urlopen(f"{self.proxy.url}/__bench/counts", timeout=10) as r:
            return json.load(r)

    # -- seeding
    def seed(self) -> None:
        t = time.monotonic()
        ec2 = self.direct("ec2")
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        left, n = self.a.instances, 0
        while left > 0:
            k = min(100, left)
            env = ["prod", "staging", "dev"][n % 3]
            r = ec2.run_instances(ImageId=ami, MinCount=k, MaxCount=k, InstanceType="t3.micro",
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                      {"Key": "Name", "Value": f"bench-{n}"}, {"Key": "env", "Value": env},
                                      {"Key": "team", "Value": "bench"}]}])
            self.instance_ids += [i["InstanceId"] for i in r["Instances"]]
            left -= k
            n += 1
        ddb = self.direct("dynamodb")
        create_table(ddb, TABLE)
        self.item_ids = [f"item-{i:06d}" for i in range(self.a.items)]
        batch_write(self, TABLE, (make_item(i) for i in range(self.a.items)), threads=4)
        got = ddb.describe_table(TableName=TABLE)["Table"].get("ItemCount")
        sample = [make_item(i) for i in range(0, self.a.items, max(1, self.a.items // 50))]
        try:  # the size of awsfs's own rendering, for the trivial filesystem's files
            from awsfs import itemjson
            self.item_size = int(statistics.mean(len(itemjson.dumps(it)) for it in sample))
        except Exception:
            self.item_size = int(statistics.mean(len(render(it).encode()) for it in sample))
        log(f"seeded {len(self.instance_ids)} instances and {self.a.items} items in {self.region} "
            f"({time.monotonic() - t:.1f}s; table reports {got} items)")

    # -- awsfs mounts
    def mount(self) -> Mount:
        path = tempfile.mkdtemp(prefix="awsfs-bench-mnt-", dir=MOUNT_BASE)
        self.mount_count += 1
        log_file = os.path.join(self.tmp, f"awsfs-{self.mount_count}.log")
        argv = [sys.executable, "-m", "awsfs", path, "--endpoint-url", self.proxy.url, "--regions", self.region,
                "--log-file", log_file, *self.a.awsfs_args.split()]
        m = Mount(path, None, log_file, "awsfs")
        self.mounts.append(m)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, env=child_env())
        if r.returncode != 0 or not os.path.ismount(path):
            raise RuntimeError(f"awsfs did not mount (exit {r.returncode}): {r.stderr.strip()}\n{tail(log_file)}")
        pids = pids_of_mount(path)
        m.pid = pids[0] if len(pids) == 1 else None
        return m

    def mount_trivial(self, files: int, size: int, prefix: str) -> Mount:
        path = tempfile.mkdtemp(prefix="awsfs-bench-trivial-", dir=MOUNT_BASE)
        self.mount_count += 1
        log_file = os.path.join(self.tmp, f"trivialfs-{self.mount_count}.log")
        m = Mount(path, None, log_file, "trivial")
        self.mounts.append(m)
        with open(log_file, "wb") as lf:
            m.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "bench_trivialfs.py"), path,
                                       "--files", str(files), "--size", str(size), "--prefix", prefix],
                                      stdin=subprocess.PIPE, stdout=lf, stderr=lf, cwd=ROOT, env=child_env(),
                                      start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.ismount(path):
            if m.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the trivial filesystem did not mount:\n{tail(log_file)}")
            time.sleep(0.02)
        m.pid = m.proc.pid
        return m

    def unmount(self, m: Mount) -> None:
        if os.path.ismount(m.path):
            unmount(m.path)
        if m.proc is not None and m.proc.poll() is None:
            try:
                m.proc.stdin.close()
                m.proc.wait(5)
            except Exception:
                m.proc.kill()
        if m.pid and m.kind == "awsfs":
            for _ in range(50):  # the daemon exits once unmounted
                if not os.path.exists(f"/proc/{m.pid}") or _zombie(m.pid):
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(m.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        try:
            os.rmdir(m.path)
        except OSError:
            pass
        if m in self.mounts:
            self.mounts.remove(m)

    def cleanup(self) -> None:
        for m in list(self.mounts):
            try:
                self.unmount(m)
            except Exception as e:  # keep going: everything must be stopped
                log(f"cleanup: unmount {m.path}: {e}")
        for s in reversed(self.servers):
            try:
                s.stop()
            except Exception as e:
                log(f"cleanup: stop server: {e}")
        self.servers.clear()

    # -- measuring
    def run_awsfs(self, m: Mount, argv: list[str] | str, shell: bool = False) -> dict:
        before = self.counts()
        t = time.perf_counter()
        r = subprocess.run(argv, shell=shell, cwd=m.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=self.a.timeout, executable="/bin/bash" if shell else None)
        seconds = time.perf_counter() - t
        after = self.counts()
        ops = delta(before, after)
        out = {"seconds": seconds, "calls": sum(ops.values()), "ops": ops, "exit": r.returncode,
               "stdout_lines": r.stdout.count(b"\n"), "stdout_bytes": len(r.stdout),
               "stdout_head": r.stdout[:200].decode("utf-8", "replace"),
               "stderr": r.stderr.decode("utf-8", "replace")[-500:], "daemon_hwm_mb": m.hwm_mb(),
               "daemon_rss_mb": m.rss_mb()}
        if m.kind == "awsfs":
            self._self_count(m, out)
        return out

    def _self_count(self, m: Mount, out: dict) -> None:
        """awsfs's own count of its AWS calls (a cross-check; read after the proxy's delta was taken)."""
        try:
            with open(m.p(".awsfs/status")) as f:
                out["awsfs_status_calls"] = json.load(f).get("aws_calls")
        except (OSError, ValueError):
            pass

    def awsfs_cold(self, argv: list[str] | str, shell: bool = False) -> dict:
        """Run on a fresh mount (nothing cached), then unmount."""
        m = self.mount()
        try:
            hwm0 = m.hwm_mb()
            out = self.run_awsfs(m, argv, shell)
            out["daemon_hwm_before_mb"] = hwm0
            return out
        finally:
            self.unmount(m)

    def run_boto3(self, fn: Callable[[Callable[[str], Any]], Any]) -> dict:
        session = boto3.session.Session(region_name=self.region, **_creds())

        def mk(service: str) -> Any:
            if service == "s3":
                return session.client(service, endpoint_url=self.proxy.url, config=Config(s3=S3_PATH_STYLE))
            return session.client(service, endpoint_url=self.proxy.url)
        before = self.counts()
        t = time.perf_counter()
        result = fn(mk)
        seconds = time.perf_counter() - t
        ops = delta(before, self.counts())
        return {"seconds": seconds, "calls": sum(ops.values()), "ops": ops, "result": result}

    def floor(self, cmd: Callable[[str], list[str]]) -> Optional[dict]:
        """The same command on the trivial mfusepy filesystem holding as many files of the same size as the
        table (freshly mounted): what the kernel and the binding cost without any awsfs logic."""
        if self.a.no_floor:
            return None
        m = self.mount_trivial(files=len(self.item_ids), size=self.item_size, prefix="item")
        try:
            t = time.perf_counter()
            r = subprocess.run(cmd("."), cwd=m.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=self.a.timeout)
            return {"seconds": time.perf_counter() - t, "exit": r.returncode}
        finally:
            self.unmount(m)

    def compare(self, name: str, state: str, shown: str, awsfs_once: Callable[[int], dict],
                candidates: dict[str, tuple[str, Callable[[int], Callable]]],
                references: Optional[dict[str, tuple[str, Callable[[int], Callable]]]] = None,
                check: Optional[Callable[[dict, dict], dict]] = None,
                floor_cmd: Optional[Callable[[str], list[str]]] = None,
                after_rep: Optional[Callable[[int], None]] = None) -> dict:
        """Run awsfs and each boto3 candidate ``--repeat`` times, alternating; medians of wall time.

        The boto3 columns are the best a hand-written script gets: the fewest calls of any candidate
        strategy and the shortest median time of any (say which when they differ). References are
        shown for context only (run once). The ratio is the median of each repetition's ratio (awsfs
        against the fastest strategy's run right after it), so that load from elsewhere, which
        moves both runs of a pair alike, cancels out, as in the stat row; the ratio of the medians
        is kept in the JSON as ``ratio_of_medians``.
        """
        aw_runs: list[dict] = []
        cand_runs: dict[str, list[dict]] = {k: [] for k in candidates}
        ref_runs: dict[str, dict] = {}
        floors: list[float] = []
        for rep in range(self.a.repeat):
            aw_runs.append(awsfs_once(rep))
            for k, (_, make) in candidates.items():
                cand_runs[k].append(self.run_boto3(make(rep)))
            if rep == 0:
                for k, (_, make) in (references or {}).items():
                    ref_runs[k] = self.run_boto3(make(rep))
            if floor_cmd is not None:
                f = self.floor(floor_cmd)
                if f is not None:
                    floors.append(f["seconds"])
            if after_rep is not None:
                after_rep(rep)
        aw = aggregate(aw_runs)
        cands = {k: aggregate(v) for k, v in cand_runs.items()}
        by_calls = min(cands, key=lambda k: (cands[k]["calls"], cands[k]["seconds"]))
        by_time = min(cands, key=lambda k: cands[k]["seconds"])
        b3 = {"calls": cands[by_calls]["calls"], "ops": cands[by_calls]["ops"], "seconds": cands[by_time]["seconds"],
              "calls_by": by_calls, "seconds_by": by_time, "result": cands[by_calls].get("result"),
              "strategies": {k: {"code": candidates[k][0], **cands[k]} for k in cands}}
        if by_calls == by_time:
            desc = candidates[by_calls][0]
        else:
            desc = f"fewest calls: {candidates[by_calls][0]}; fastest: {candidates[by_time][0]}"
        pairs = [a["seconds"] / c["seconds"] for a, c in zip(aw_runs, cand_runs[by_time]) if c["seconds"] > 0]
        ratio = statistics.median(pairs) if pairs else None
        floor_s = statistics.median(floors) if floors else None
        row = {"row": name, "state": state, "awsfs_command": shown, "awsfs": aw, "boto3": b3, "boto3_code": desc,
               "ratio": ratio, "ratios_all": [round(r, 3) for r in pairs],
               "ratio_of_medians": aw["seconds"] / b3["seconds"] if b3["seconds"] > 0 else None,
               "floor_seconds": floor_s, "repeat": self.a.repeat,
               "references": [{"code": references[k][0], **v} for k, v in ref_runs.items()] if references else [],
               "check": check(aw, b3) if check else {},
               "targets": {"calls": "PASS" if aw["calls"] <= b3["calls"] else "MISS",
                           "time": "PASS" if ratio is not None and ratio <= TARGET_RATIO else "MISS"}}
        if any(r.get("exit", 0) != 0 for r in aw_runs):
            bad = next(r for r in aw_runs if r.get("exit", 0) != 0)
            row["targets"]["error"] = f"awsfs command exited {bad['exit']}: {bad.get('stderr', '')[:300]}"
        if len(set(aw["calls_all"])) > 1:
            row["targets"]["note"] = f"awsfs calls varied between repetitions: {aw['calls_all']} (median shown)"
        self.rows.append(row)
        log(f"{name}: awsfs {aw['calls']} calls {aw['seconds']:.3f}s | boto3 {b3['calls']} calls "
            f"{b3['seconds']:.3f}s | ratio {fmt_ratio(ratio)}"
            + (f" | floor {floor_s:.3f}s" if floor_s is not None else ""))
        return row

    # -- rows -----------------------------------------------------------------------------------
    def bench_ls_instances(self) -> None:
        rel = f"ec2/{self.region}/instances"

        def code(rep):
            def run(mk):
                ec2 = mk("ec2")
                lines = []
                for page in pages(ec2.describe_instances, "NextToken", "NextToken", MaxResults=1000):
                    for r in page["Reservations"]:
                        for i in r["Instances"]:
                            lines.append(f"{i['InstanceId']} {i['State']['Name']} {i['LaunchTime']:%Y-%m-%d %H:%M}")
                return len(lines)
            return run
        self.compare("ls -l instances", "cold (fresh mount)", f"ls -l MNT/{rel}",
                     lambda rep: self.awsfs_cold(["ls", "-l", rel]),
                     {"describe": ("describe_instances(MaxResults=1000), paginated", code)},
                     check=lambda aw, b3: {"awsfs_entries": aw["stdout_lines"] - 1, "boto3_entries": b3["result"]})

    def bench_ls_table(self) -> None:
        rel = f"dynamo/{self.region}/{TABLE}"

        def code(rep, generic=True):
            def run(mk):
                ddb = mk("dynamodb")
                key = hash_key(ddb) if generic else "id"
                lines = []
                for page in pages(ddb.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=TABLE):
                    for it in page["Items"]:
                        lines.append(f"{it[key]['S']}.json {len(render(it).encode())}")
                return len(lines)
            return run
        row = self.compare("ls -l table", "cold (fresh mount)", f"ls -l MNT/{rel}",
                           lambda rep: self.awsfs_cold(["ls", "-l", rel]),
                           {"scan": ("describe_table (key schema) + scan(TableName), paginated; name + rendered "
                                     "JSON size per item", code)},
                           references={"scan_known_schema": ("scan only (key schema hard-coded)",
                                                             lambda rep: code(rep, generic=False))},
                           check=lambda aw, b3: {"awsfs_entries": aw["stdout_lines"] - 1, "boto3_entries": b3["result"]},
                           floor_cmd=lambda d: ["ls", "-l", d])
        aw = row["awsfs"]
        self.extra["rss_listing"] = {"dir": f"MNT/{rel}", "entries": len(self.item_ids),
                                     "hwm_before_mb": aw.get("daemon_hwm_before_mb"),
                                     "hwm_after_mb": aw.get("daemon_hwm_mb")}

    def bench_grep(self) -> None:
        rel = f"dynamo/{self.region}/{TABLE}"

        def code(rep, generic=True):
            def run(mk):
                ddb = mk("dynamodb")
                if generic:
                    hash_key(ddb)  # a file per item is named by its key
                hits = 0
                for page in pages(ddb.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=TABLE):
                    for it in page["Items"]:
                        hits += sum(1 for line in render(it).splitlines() if NEEDLE in line)
                return hits
            return run
        self.compare("grep -r table", "cold (fresh mount)", f"grep -r {NEEDLE} MNT/{rel}",
                     lambda rep: self.awsfs_cold(["grep", "-r", NEEDLE, rel]),
                     {"scan": ("describe_table + scan(TableName), paginated; render each item, search it", code)},
                     references={"scan_known_schema": ("scan only (key schema hard-coded)",
                                                       lambda rep: code(rep, generic=False))},
                     check=lambda aw, b3: {"awsfs_matches": aw["stdout_lines"], "boto3_matches": b3["result"]},
                     floor_cmd=lambda d: ["grep", "-r", NEEDLE, d])

    def pick_ids(self, n: int) -> list[str]:  # noqa: D401
        step = max(1, len(self.item_ids) // n)
        return self.item_ids[::step][:n]

    def bench_cat(self) -> None:
        n = min(self.a.files, len(self.item_ids))
        ids = self.pick_ids(n)
        want = set(ids)
        rel = f"dynamo/{self.region}/{TABLE}"

        def by_scan(rep):
            def run(mk):
                ddb = mk("dynamodb")
                hash_key(ddb)
                out = []
                for page in pages(ddb.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=TABLE):
                    out += [render(it) for it in page["Items"] if it["id"]["S"] in want]
                return len(out)
            return run

        def by_batch(rep):
            def run(mk):
                ddb = mk("dynamodb")
                hash_key(ddb)
                out = []
                for k in range(0, len(ids), 100):
                    req = {TABLE: {"Keys": [{"id": {"S": i}} for i in ids[k:k + 100]]}}
                    while req:
                        r = ddb.batch_get_item(RequestItems=req)
                        out += [render(it) for it in r["Responses"].get(TABLE, [])]
                        req = r.get("UnprocessedKeys") or {}
                return len(out)
            return run

        def by_get(rep):
            def run(mk):
                ddb = mk("dynamodb")
                return len([render(ddb.get_item(TableName=TABLE, Key={"id": {"S": i}})["Item"]) for i in ids])
            return run
        self.compare(f"cat {n} items", "cold (fresh mount; names known, table not listed)",
                     f"cat MNT/{rel}/<{n} ids>.json",
                     lambda rep: self.awsfs_cold(["cat", *[f"{rel}/{i}.json" for i in ids]]),
                     {"scan": ("describe_table + scan(TableName) paginated, keep the wanted items", by_scan),
                      "batch_get_item": (f"describe_table + batch_get_item, {math.ceil(n / 100)} x 100 keys",
                                         by_batch)},
                     references={"get_item": (f"{n} x get_item", by_get)},
                     check=lambda aw, b3: {"awsfs_bytes": aw["stdout_bytes"], "boto3_items": b3["result"]},
                     floor_cmd=lambda d: ["cat", *[f"{d}/{i}.json" for i in ids]])

    def bench_cp(self) -> None:
        n = self.a.files
        rel = f"dynamo/{self.region}/{TABLE}"

        def awsfs_once(rep):
            src = os.path.join(self.tmp, f"cp-src-{rep}")
            os.makedirs(src, exist_ok=True)
            for i in range(n):
                with open(os.path.join(src, f"cpa{rep}-{i:06d}.json"), "wb") as f:
                    f.write(plain_item_json(i, f"cpa{rep}"))
            out = self.awsfs_cold("cp " + os.path.join(src, "*.json") + f" {rel}/", shell=True)
            out["created"] = count_prefix(self, TABLE, f"cpa{rep}-")
            shutil.rmtree(src, ignore_errors=True)
            return out

        def conditional(rep):
            def run(mk):
                ddb = mk("dynamodb")
                key = hash_key(ddb)
                for i in range(n):
                    ddb.put_item(TableName=TABLE, Item=make_item(i, f"cpb{rep}"),
                                 ConditionExpression="attribute_not_exists(#k)", ExpressionAttributeNames={"#k": key})
                return n
            return run

        def batched(rep):
            def run(mk):
                ddb = mk("dynamodb")
                items = [make_item(i, f"cpc{rep}") for i in range(n)]
                for k in range(0, n, 25):
                    req = {TABLE: [{"PutRequest": {"Item": it}} for it in items[k:k + 25]]}
                    while req:
                        req = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}
                return n
            return run
        self.compare(f"cp {n} new items", "cold (fresh mount; table not listed)", f"cp SRC/*.json MNT/{rel}/",
                     awsfs_once,
                     {"put_item": (f"{n} x put_item with ConditionExpression attribute_not_exists "
                                   "(awsfs's semantics: a new file never clobbers an item)", conditional)},
                     references={"batch_write_item": (f"batch_write_item, {math.ceil(n / 25)} x 25 "
                                                      "(unconditional: may overwrite)", batched)},
                     check=lambda aw, b3: {"items_created_by_awsfs": aw.get("created"), "wanted": n},
                     after_rep=lambda rep: delete_prefixes(self, TABLE, (f"cpa{rep}-", f"cpb{rep}-", f"cpc{rep}-")))

    def bench_find(self) -> None:
        rels = [f"ec2/{self.region}", f"dynamo/{self.region}"]
        region = self.region

        def code(rep):
            def run(mk):
                ec2, ddb = mk("ec2"), mk("dynamodb")
                paths = [f"ec2/{region}", f"ec2/{region}/instances", f"ec2/{region}/security-groups",
                         f"ec2/{region}/images", f"dynamo/{region}"]
                used = set()
                for page in pages(ec2.describe_instances, "NextToken", "NextToken", MaxResults=1000):
                    for r in page["Reservations"]:
                        for i in r["Instances"]:
                            d = f"ec2/{region}/instances/{i['InstanceId']}"
                            paths += [d] + [f"{d}/{c}" for c in ("info.json", "state", "type", "tags", "ctl", "image",
                                                                 "security-groups")]
                            paths += [f"{d}/tags/{t['Key']}" for t in i.get("Tags", [])]
                            paths += [f"{d}/security-groups/{g['GroupId']}" for g in i.get("SecurityGroups", [])]
                            if i.get("ImageId"):
                                used.add(i["ImageId"])
                for page in pages(ec2.describe_security_groups, "NextToken", "NextToken", MaxResults=1000):
                    for g in page["SecurityGroups"]:
                        paths += [f"ec2/{region}/security-groups/{g['GroupId']}",
                                  f"ec2/{region}/security-groups/{g['GroupId']}/info.json"]
                images = set()
                for page in pages(ec2.describe_images, "NextToken", "NextToken", Owners=["self"], MaxResults=1000):
                    images |= {im["ImageId"] for im in page["Images"]}
                missing = sorted(used - images)
                if missing:
                    images |= {im["ImageId"] for im in ec2.describe_images(ImageIds=missing)["Images"]}
                for ami in sorted(images):
                    paths += [f"ec2/{region}/images/{ami}", f"ec2/{region}/images/{ami}/info.json"]
                for page in pages(ddb.list_tables, "ExclusiveStartTableName", "LastEvaluatedTableName", Limit=100):
                    for t in page["TableNames"]:
                        desc = ddb.describe_table(TableName=t)["Table"]
                        keys = [k["AttributeName"] for k in
                                sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")]
                        paths += [f"dynamo/{region}/{t}", f"dynamo/{region}/{t}/.table.json"]
                        parts = set()
                        for sp in pages(ddb.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=t):
                            for it in sp["Items"]:
                                vals = [str(plain(it[k])) for k in keys]
                                if len(keys) == 1:
                                    paths.append(f"dynamo/{region}/{t}/{vals[0]}.json")
                                else:
                                    if vals[0] not in parts:
                                        parts.add(vals[0])
                                        paths.append(f"dynamo/{region}/{t}/{vals[0]}")
                                    paths.append(f"dynamo/{region}/{t}/{vals[0]}/{vals[1]}.json")
                return len(paths)
            return run
        self.compare("find region", "cold (fresh mount)", f"find MNT/ec2/{region} MNT/dynamo/{region}",
                     lambda rep: self.awsfs_cold(["find", *rels]),
                     {"describe": ("describe_instances + describe_security_groups + describe_images (Owners=self, "
                                   "then the used ImageIds) + list_tables + per table describe_table (key schema) "
                                   "and scan; all paginated", code)},
                     check=lambda aw, b3: {"awsfs_paths": aw["stdout_lines"], "boto3_paths": b3["result"]})

    def bench_stat(self) -> None:
        """Cached stat: awsfs and the trivial filesystem mounted side by side, measured in alternating
        short rounds (so that load from elsewhere hits both alike); medians."""
        rel_dir = f"dynamo/{self.region}/{TABLE}"
        name = f"{self.item_ids[0]}.json"
        rounds = max(2, int(self.a.stat_seconds / 0.5))
        m = self.mount()
        t = self.mount_trivial(files=8, size=self.item_size, prefix="item")
        try:
            subprocess.run(["ls", rel_dir], cwd=m.path, stdout=subprocess.DEVNULL, check=True, timeout=self.a.timeout)
            ap, tp = m.p(f"{rel_dir}/{name}"), t.p(name)
            os.stat(ap)
            os.stat(tp)
            before = self.counts()
            aw_rates, tr_rates = [], []
            for _ in range(rounds):
                aw_rates.append(stat_loop(ap, 0.5)[0])
                tr_rates.append(stat_loop(tp, 0.5)[0])
            ops = delta(before, self.counts())
        finally:
            self.unmount(t)
            self.unmount(m)
        aw_rate, tr_rate = statistics.median(aw_rates), statistics.median(tr_rates)
        ratio = statistics.median(a / b for a, b in zip(aw_rates, tr_rates))
        self.extra["stat"] = {
            "row": "cached stat", "state": "warm (directory listed first)",
            "awsfs_command": f"os.stat(MNT/{rel_dir}/{name}) in a loop, {rounds} rounds of 0.5 s",
            "awsfs_stats_per_s": aw_rate, "awsfs_rates": aw_rates, "awsfs_calls": sum(ops.values()), "awsfs_ops": ops,
            "trivial_stats_per_s": tr_rate, "trivial_rates": tr_rates, "ratio": ratio,
            "target": "PASS" if ratio >= TARGET_STAT else "MISS"}
        log(f"cached stat: awsfs {aw_rate:,.0f}/s, trivial {tr_rate:,.0f}/s, ratio {fmt_ratio(ratio)}")

    def bench_big(self) -> None:
        n = self.a.big_items
        ddb = self.direct("dynamodb")
        create_table(ddb, BIG_TABLE)
        t = time.monotonic()

        def small(i: int) -> dict:
            return {"id": {"S": f"big-{i:08d}"}, "n": {"N": str(i)}, "color": {"S": ["red", "blue"][i % 2]},
                    "note": {"S": "x" * 40}}
        batch_write(self, BIG_TABLE, (small(i) for i in range(n)), threads=8)
        log(f"big: seeded {n} items in {time.monotonic() - t:.1f}s")
        rel = f"dynamo/{self.region}/{BIG_TABLE}"
        out: dict[str, Any] = {"items": n}
        for label, cmd, code in [
            ("ls -f | head", f"ls -f {rel} | head", "first scan page only"),
            ("ls -f | wc -l", f"ls -f {rel} | wc -l", "scan, paginated to the end"),
        ]:
            aw = self.awsfs_cold(cmd, shell=True)
            first_only = "head" in label

            def scan_code(mk, first_only=first_only):
                c = mk("dynamodb")
                k = 0
                for page in pages(c.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=BIG_TABLE):
                    k += len(page["Items"])
                    if first_only:
                        break
                return k
            b3 = self.run_boto3(scan_code)
            shown = aw["stdout_head"].strip().splitlines()
            check = {"awsfs_lines": len(shown)} if first_only else {
                "awsfs_entries": shown[0] if shown else "?", "expected": n + 3}  # ., .., .table.json
            out[label] = {"awsfs_command": cmd.replace(rel, f"MNT/{rel}"), "awsfs": aw, "boto3": b3, "check": check,
                          "boto3_code": code, "ratio": aw["seconds"] / b3["seconds"] if b3["seconds"] else None,
                          "rss_target": "PASS" if (aw["daemon_hwm_mb"] or 1e9) < TARGET_RSS_MB else "MISS"}
            log(f"big {label}: awsfs {aw['calls']} calls {aw['seconds']:.2f}s hwm {_mb(aw['daemon_hwm_mb'])} | "
                f"boto3 {b3['calls']} calls {b3['seconds']:.2f}s")
        self.extra["big"] = out


    # -- S3 rows --------------------------------------------------------------------------------
    def s3_bucket(self, what: str, objects=None, threads: int = 8) -> str:
        """A new bucket (its name unique to this run), seeded straight to moto (not counted)."""
        name = f"bench-{self.run_id}-{what}"
        s3 = self.direct("s3")
        s3.create_bucket(Bucket=name)
        t, n = time.monotonic(), 0
        if objects is not None:
            with concurrent.futures.ThreadPoolExecutor(threads) as ex:
                for _ in ex.map(lambda kv: s3.put_object(Bucket=name, Key=kv[0], Body=kv[1]), objects):
                    n += 1
            log(f"s3: seeded {n} objects in {name} ({time.monotonic() - t:.1f}s)")
        return name

    def s3_keys(self, bucket: str, prefix: str = "") -> list[dict]:
        s3, out = self.direct("s3"), []
        for page in pages(s3.list_objects_v2, "ContinuationToken", "NextContinuationToken", Bucket=bucket,
                          Prefix=prefix):
            out += page.get("Contents", [])
        return out

    def s3_sha256(self, bucket: str, key: str) -> str:
        """What landed, read straight from moto (not counted)."""
        h = hashlib.sha256()
        body = self.direct("s3").get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()

    def s3_delete(self, bucket: str, keys: list[str]) -> None:
        s3 = self.direct("s3")
        for k in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": x} for x in keys[k:k + 1000]], "Quiet": True})

    def awsfs_warm(self, prepare: list[str] | str, argv: list[str] | str, shell: bool = False) -> dict:
        """On a fresh mount: ``prepare`` (not counted, not timed), then ``argv``; then unmount."""
        m = self.mount()
        try:
            hwm0 = m.hwm_mb()
            t = time.perf_counter()
            subprocess.run(prepare, shell=isinstance(prepare, str), cwd=m.path, stdout=subprocess.DEVNULL,
                           check=True, timeout=self.a.timeout)
            prepared = time.perf_counter() - t
            out = self.run_awsfs(m, argv, shell)
            out["daemon_hwm_before_mb"], out["prepare_seconds"] = hwm0, prepared
            return out
        finally:
            self.unmount(m)

    @staticmethod
    def row_target(row: dict, ok: bool, text: str) -> None:
        """A row's own target (shown as a TARGET: line and in the summary)."""
        row["targets"]["row"] = "PASS" if ok else "MISS"
        row["targets"]["target"] = f"{text}: {'PASS' if ok else 'MISS'}"

    def bench_s3_ls(self) -> None:
        n = self.a.s3_objects
        bucket = self.s3_bucket("ls", ((f"many/{i:06d}.txt", f"object {i}\n".encode() * (1 + i % 7))
                                       for i in range(n)))
        rel = f"s3/{bucket}/many"

        def code(rep, like_awsfs=False):
            def run(mk):
                s3 = mk("s3")
                if like_awsfs:  # find the bucket and the prefix as a path does
                    [x for x in s3.list_buckets()["Buckets"] if x["Name"] == bucket]
                    s3.get_bucket_location(Bucket=bucket)
                    s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1000)
                lines = []
                for page in pages(s3.list_objects_v2, "ContinuationToken", "NextContinuationToken", Bucket=bucket,
                                  Prefix="many/", Delimiter="/", MaxKeys=1000):
                    for o in page.get("Contents", []):
                        lines.append(f"{o['Size']} {o['LastModified']:%b %d %H:%M} {o['Key'][5:]}")
                return len(lines)
            return run
        row = self.compare("s3 ls -l prefix", "cold (fresh mount)", f"ls -l MNT/s3/<bucket>/many ({n} objects)",
                           lambda rep: self.awsfs_cold(["ls", "-l", rel]),
                           {"list": ("list_objects_v2(Prefix='many/', Delimiter='/'), paginated; size, time, name",
                                     code)},
                           references={"like_awsfs": ("list_buckets + get_bucket_location + list_objects_v2 of the "
                                                      "top, then the prefix (the calls awsfs makes)",
                                                      lambda rep: code(rep, like_awsfs=True))},
                           check=lambda aw, b3: {"awsfs_entries": aw["stdout_lines"] - 1, "boto3_entries": b3["result"]})
        ops, pages_wanted = row["awsfs"]["ops"], math.ceil(n / 1000)
        extra = {k: v for k, v in ops.items() if k != "s3:ListObjectsV2"}
        self.row_target(row, ops.get("s3:ListObjectsV2", 0) - 1 == pages_wanted
                        and set(extra) <= {"s3:ListBuckets", "s3:GetBucketLocation"},
                        f"ListObjectsV2 of the prefix = ceil({n}/1000) = {pages_wanted} (awsfs: "
                        f"{ops.get('s3:ListObjectsV2', 0)} ListObjectsV2, one of them the bucket's top; also "
                        f"{fmt_ops(extra)})")

    def bench_s3_find(self) -> None:
        n, k = self.a.s3_objects, max(1, self.a.s3_prefixes)
        bucket = self.s3_bucket("find", ((f"p{i % k:03d}/obj-{i:06d}.dat", b"x" * (100 + i * 37 % 1900))
                                         for i in range(n)))
        root = f"s3/{bucket}"

        def walk(rep, du=False):
            def run(mk):
                s3 = mk("s3")
                paths, blocks, todo = [root], 0, [""]
                while todo:
                    prefix = todo.pop()
                    for page in pages(s3.list_objects_v2, "ContinuationToken", "NextContinuationToken", Bucket=bucket,
                                      Prefix=prefix, Delimiter="/", MaxKeys=1000):
                        for p in page.get("CommonPrefixes", []):
                            paths.append(f"{root}/{p['Prefix'][:-1]}")
                            todo.append(p["Prefix"])
                        for o in page.get("Contents", []):
                            if o["Key"] != prefix:
                                paths.append(f"{root}/{o['Key']}")
                                blocks += (o["Size"] + 511) // 512
                return -(-blocks // 2) if du else len(paths)
            return run

        def flat(rep, du=False):
            def run(mk):
                s3 = mk("s3")
                paths, dirs, blocks = [root], set(), 0
                for page in pages(s3.list_objects_v2, "ContinuationToken", "NextContinuationToken", Bucket=bucket,
                                  MaxKeys=1000):
                    for o in page.get("Contents", []):
                        parts = o["Key"].split("/")
                        for j in range(1, len(parts)):
                            d = "/".join(parts[:j])
                            if d not in dirs:
                                dirs.add(d)
                                paths.append(f"{root}/{d}")
                        if parts[-1]:
                            paths.append(f"{root}/{o['Key']}")
                            blocks += (o["Size"] + 511) // 512
                return -(-blocks // 2) if du else len(paths)
            return run
        dirs = min(n, k)
        for label, argv, du in (("find", ["find", root], False), ("du -s", ["du", "-s", root], True)):
            row = self.compare(f"s3 {label} bucket", "cold (fresh mount)",
                               f"{label} MNT/s3/<bucket> ({n} objects in {dirs} prefixes)",
                               lambda rep, argv=argv: self.awsfs_cold(argv),
                               {"walk": (f"list_objects_v2 with Delimiter='/', per directory ({dirs + 1} listings), "
                                         "paginated", lambda rep, du=du: walk(rep, du)),
                                "flat": ("list_objects_v2 without Delimiter, paginated; directories from the keys",
                                         lambda rep, du=du: flat(rep, du))},
                               check=(lambda aw, b3: {"awsfs_kb": (aw["stdout_head"].split() or ["?"])[0],
                                                      "boto3_kb": b3["result"]}) if du else
                               (lambda aw, b3: {"awsfs_paths": aw["stdout_lines"], "boto3_paths": b3["result"]}))
            ops = row["awsfs"]["ops"]
            # the top's own listing (read before anything says a walk is on), then the flat
            # listing's pages, as many as the boto3 script's
            wanted = 1 + math.ceil(n / 1000)
            extra = {x: v for x, v in ops.items() if x not in ("s3:ListObjectsV2", "s3:ListBuckets",
                                                                "s3:GetBucketLocation")}
            self.row_target(row, ops.get("s3:ListObjectsV2", 0) <= wanted and not extra,
                            f"the top's listing and one flat ListObjectsV2 page per 1,000 keys = {wanted}, nothing "
                            f"else but ListBuckets and GetBucketLocation (awsfs: {fmt_ops(ops)})")

    def bench_s3_grep(self) -> None:
        n = self.a.s3_grep_objects
        body = lambda i: ("".join(f"{i:06d} line {j}: lorem ipsum dolor sit amet\n" for j in range(6))
                          + (f"{S3_NEEDLE} in {i}\n" if i % 100 == 7 else "")).encode()
        bucket = self.s3_bucket("grep", ((f"logs/{i:06d}.log", body(i)) for i in range(n)))
        rel = f"s3/{bucket}/logs"
        keys = [o["Key"] for o in self.s3_keys(bucket, "logs/")]
        spans: list[float] = []

        def awsfs_once(rep):
            out = self.awsfs_warm(["ls", "-l", rel], ["grep", "-r", S3_NEEDLE, rel])
            spans.append(round(out["prepare_seconds"] + out["seconds"], 1))
            return out

        def loop(rep):
            def run(mk):
                s3, hits = mk("s3"), 0
                for key in keys:
                    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    hits += sum(1 for line in data.splitlines() if S3_NEEDLE.encode() in line)
                return hits
            return run

        def threads(rep):
            def run(mk):
                s3 = mk("s3")

                def one(key):
                    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    return sum(1 for line in data.splitlines() if S3_NEEDLE.encode() in line)
                with concurrent.futures.ThreadPoolExecutor(10) as ex:
                    return sum(ex.map(one, keys))
            return run
        row = self.compare("s3 grep -r prefix", "warm (ls -l of the prefix first, same mount; not counted)",
                           f"grep -r {S3_NEEDLE} MNT/s3/<bucket>/logs ({n} objects)",
                           awsfs_once,
                           {"loop": (f"{n} x get_object, one after another (keys known)", loop)},
                           references={"threads": (f"{n} x get_object on 10 threads (keys known)", threads)},
                           check=lambda aw, b3: {"awsfs_matches": aw["stdout_lines"], "boto3_matches": b3["result"],
                                                 "seconds_from_listing_to_grep_end": spans,
                                                 "calls_per_run": aw["calls_all"]})
        ops = row["awsfs"]["ops"]
        self.row_target(row, ops == {"s3:GetObject": n}, f"{n} GetObject and nothing else (awsfs: {fmt_ops(ops)})")

    def bench_s3_big(self) -> None:
        mb = self.a.s3_big_mb
        size = mb << 20
        work = tempfile.mkdtemp(prefix="awsfs-bench-s3big-", dir=MOUNT_BASE)  # on disk, not /dev/shm
        src = os.path.join(work, "big.bin")
        try:
            h = hashlib.sha256()
            with open(src, "wb") as f:
                for _ in range(0, size, 8 << 20):
                    chunk = os.urandom(min(8 << 20, size - f.tell()))
                    h.update(chunk)
                    f.write(chunk)
            want = h.hexdigest()
            bucket = self.s3_bucket("big")
            t = time.monotonic()
            self.direct("s3").upload_file(src, bucket, "big.bin")
            log(f"s3: seeded a {mb} MB object in {bucket} ({time.monotonic() - t:.1f}s); source on {fs_type(src)}")
            self._s3_big_cat(bucket, mb, want)
            self._s3_big_cp(bucket, mb, src, want)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _s3_big_cat(self, bucket: str, mb: int, want: str) -> None:
        rel, got = f"s3/{bucket}/big.bin", []

        def awsfs_once(rep):
            out = self.awsfs_cold(f"set -o pipefail; cat {rel} | sha256sum", shell=True)
            got.append((out["stdout_head"].split() or ["?"])[0])
            return out

        class HashSink:  # a writer that keeps nothing: what a script piping the object on would do
            def __init__(self) -> None:
                self.h = hashlib.sha256()

            def write(self, data: bytes) -> int:
                self.h.update(data)
                return len(data)

        def download(rep):
            def run(mk):
                sink = HashSink()
                mk("s3").download_fileobj(bucket, "big.bin", sink)
                return sink.h.hexdigest()
            return run

        def stream(rep):
            def run(mk):
                h, body = hashlib.sha256(), mk("s3").get_object(Bucket=bucket, Key="big.bin")["Body"]
                for chunk in iter(lambda: body.read(1 << 20), b""):
                    h.update(chunk)
                return h.hexdigest()
            return run
        row = self.compare(f"s3 cat {mb} MB", "cold (fresh mount)", "cat MNT/s3/<bucket>/big.bin | sha256sum",
                           awsfs_once,
                           {"download_fileobj": ("download_fileobj (default TransferConfig: 8 MB ranges, 10 threads) "
                                                 "into a sha256 writer", download)},
                           references={"get_object": ("one get_object, its body streamed into sha256", stream)},
                           check=lambda aw, b3: {"awsfs_sha256_ok": all(x == want for x in got),
                                                 "boto3_sha256_ok": b3["result"] == want,
                                                 "daemon_hwm_mb": round(aw.get("daemon_hwm_mb") or 0, 1)})
        hwm = row["awsfs"].get("daemon_hwm_mb")
        self.row_target(row, hwm is not None and hwm < TARGET_RSS_MB and all(x == want for x in got),
                        f"daemon peak RSS (VmHWM, the highest of {len(got)} runs) {_mb(hwm)} < {TARGET_RSS_MB:g} MB, "
                        "sha256 right")

    def _s3_big_cp(self, bucket: str, mb: int, src: str, want: str) -> None:
        landed: list[bool] = []

        def awsfs_once(rep):
            key = f"in-awsfs-{rep}.bin"
            out = self.awsfs_cold(["cp", src, f"s3/{bucket}/{key}"])
            landed.append(self.s3_sha256(bucket, key) == want)
            return out

        def upload(rep):
            def run(mk):
                with open(src, "rb") as f:
                    mk("s3").upload_fileobj(f, bucket, f"in-boto3-{rep}.bin")
                return None
            return run

        def after(rep):
            landed_b3.append(self.s3_sha256(bucket, f"in-boto3-{rep}.bin") == want)
            self.s3_delete(bucket, [f"in-awsfs-{rep}.bin", f"in-boto3-{rep}.bin"])
        landed_b3: list[bool] = []
        row = self.compare(f"s3 cp {mb} MB in", "cold (fresh mount; a new key)", f"cp {mb}MB-FILE MNT/s3/<bucket>/",
                           awsfs_once,
                           {"upload_fileobj": ("upload_fileobj (default TransferConfig: 8 MB parts, 10 threads)",
                                               upload)},
                           check=lambda aw, b3: {"awsfs_sha256_ok": all(landed), "boto3_sha256_ok": all(landed_b3),
                                                 "source": fs_type(src),
                                                 "daemon_hwm_mb": round(aw.get("daemon_hwm_mb") or 0, 1)},
                           after_rep=after)
        hwm = row["awsfs"].get("daemon_hwm_mb")
        self.row_target(row, hwm is not None and hwm < TARGET_RSS_MB and all(landed),
                        f"daemon peak RSS (VmHWM, the highest of {len(landed)} runs) {_mb(hwm)} < {TARGET_RSS_MB:g} MB, "
                        "sha256 of what landed right")

    def bench_s3_cp_small(self) -> None:
        n = self.a.s3_files
        bucket = self.s3_bucket("cp", [("README.txt", b"an object already there\n")])
        made: dict[int, int] = {}

        def content(i: int, who: str) -> bytes:
            line = f"{who} file {i:06d} ".encode()
            return (line * (1024 // len(line) + 1))[:1023] + b"\n"

        def awsfs_once(rep):
            src = tempfile.mkdtemp(prefix="awsfs-bench-cpsmall-", dir=MOUNT_BASE)
            try:
                for i in range(n):
                    with open(os.path.join(src, f"f{i:06d}.txt"), "wb") as f:
                        f.write(content(i, "awsfs"))
                dst = f"s3/{bucket}/new-awsfs-{rep}"
                out = self.awsfs_cold(f"mkdir {dst} && cp {src}/*.txt {dst}/", shell=True)
            finally:
                shutil.rmtree(src, ignore_errors=True)
            made[rep] = len(self.s3_keys(bucket, f"new-awsfs-{rep}/"))
            return out

        def loop(rep, conditional=True):
            src = tempfile.mkdtemp(prefix="awsfs-bench-cpsmall-", dir=MOUNT_BASE)
            for i in range(n):
                with open(os.path.join(src, f"f{i:06d}.txt"), "wb") as f:
                    f.write(content(i, "boto3"))
            tag = "ifnonematch" if conditional else "plain"

            def run(mk):
                try:
                    s3 = mk("s3")
                    for name in sorted(os.listdir(src)):
                        with open(os.path.join(src, name), "rb") as f:
                            extra = {"IfNoneMatch": "*"} if conditional else {}
                            s3.put_object(Bucket=bucket, Key=f"new-{tag}-{rep}/{name}", Body=f.read(),
                                          ContentType="text/plain", **extra)
                    return n
                finally:
                    shutil.rmtree(src, ignore_errors=True)
            return run

        def after(rep):
            self.s3_delete(bucket, [o["Key"] for o in self.s3_keys(bucket, "new-")])
        row = self.compare(f"s3 cp {n} small files", "cold (fresh mount; a new prefix)",
                           f"mkdir MNT/s3/<bucket>/new && cp SRC/*.txt MNT/s3/<bucket>/new/ ({n} x 1 KB)",
                           awsfs_once,
                           {"put_if_none_match": (f"{n} x put_object with IfNoneMatch '*' (awsfs's semantics: a new "
                                                  "file never clobbers an object)", loop),
                            "put": (f"{n} x put_object", lambda rep: loop(rep, conditional=False))},
                           check=lambda aw, b3: {"objects_created_by_awsfs": sorted(set(made.values())), "wanted": n},
                           after_rep=after)
        ratio = row["ratio"]
        row["targets"]["time"] = "PASS" if ratio is not None and ratio <= TARGET_RATIO_S3_CP_SMALL else "MISS"
        ops = row["awsfs"]["ops"]
        self.row_target(row, ratio is not None and ratio <= TARGET_RATIO_S3_CP_SMALL and ops.get("s3:PutObject") == n
                        and all(v == n for v in made.values()),
                        f"wall time <= {TARGET_RATIO_S3_CP_SMALL}x boto3 ({fmt_ratio(ratio)}), {n} PutObject, {n} "
                        f"objects created (awsfs: {fmt_ops(ops)})")


    # -- CloudWatch Logs and IAM rows ----------------------------------------------------------------
    def manual_row(self, name: str, state: str, shown: str, aw: dict, b3: dict, code: str, check: dict,
                   samples: int) -> dict:
        """A row measured by hand (not by :meth:`compare`), in the same shape."""
        ratio = aw["seconds"] / b3["seconds"] if b3["seconds"] > 0 else None
        row = {"row": name, "state": state, "awsfs_command": shown, "awsfs": aw,
               "boto3": {**b3, "calls_by": "follow", "seconds_by": "follow", "strategies": {"follow": {"code": code,
                                                                                                     **b3}}},
               "boto3_code": code, "ratio": ratio, "ratios_all": [], "ratio_of_medians": ratio, "floor_seconds": None,
               "repeat": samples, "references": [], "check": check,
               "targets": {"calls": "PASS" if aw["calls"] <= b3["calls"] else "MISS",
                           "time": "PASS" if ratio is not None and ratio <= TARGET_RATIO else "MISS"}}
        self.rows.append(row)
        log(f"{name}: awsfs {aw['calls']} calls {aw['seconds']:.3f}s | boto3 {b3['calls']} calls {b3['seconds']:.3f}s "
            f"| ratio {fmt_ratio(ratio)}")
        return row

    def logs_group(self, what: str, streams: list[str], events: int, span_s: float = 3000.0) -> tuple[str, int]:
        """A new log group (named anew every run) seeded straight to moto (not counted): ``events``
        events over the last ``span_s`` seconds, dealt round the streams; returns (name, start ms)."""
        name = f"/bench/{self.run_id}/{what}"
        c = self.direct("logs")
        c.create_log_group(logGroupName=name)
        for s in streams:
            c.create_log_stream(logGroupName=name, logStreamName=s)
        t = time.monotonic()
        start = int((time.time() - span_s - 60) * 1000)
        per: dict[str, list[dict]] = {s: [] for s in streams}
        for i in range(events):
            pad = "lorem ipsum dolor sit amet " * 2
            msg = f"{i:07d} GET /api/items/{i % 977} 200 {i * 37 % 1000}ms user=u{i % 50} {pad}"
            if i % 500 == 7:
                msg += f" ERROR {LOGS_NEEDLE}"
            per[streams[i % len(streams)]].append({"timestamp": start + int(i * span_s * 1000 / max(1, events)),
                                                   "message": msg})
        for s, evs in per.items():
            for k in range(0, len(evs), 5000):
                c.put_log_events(logGroupName=name, logStreamName=s, logEvents=evs[k:k + 5000])
        if events:
            log(f"logs: seeded {events} events in {len(streams)} streams of {name} ({time.monotonic() - t:.1f}s)")
        return name, start

    def bench_logs_grep(self) -> None:
        n, k = self.a.logs_events, max(1, self.a.logs_streams)
        group, _ = self.logs_group("grep", [f"web-{i:02d}" for i in range(k)], n)
        rel = f"logs/{self.region}{group}"

        def line(e: dict) -> str:  # awsfs's line: UTC time (ms), the stream, the message
            when = datetime.datetime.fromtimestamp(e["timestamp"] / 1000, datetime.timezone.utc)
            return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z {e['logStreamName']} {e['message']}"

        def code(rep, like_awsfs=False):
            def run(mk):
                c, hits = mk("logs"), 0
                if like_awsfs:  # find the group as the path does
                    [g for p in pages(c.describe_log_groups, "nextToken", "nextToken") for g in p["logGroups"]]
                since = int((time.time() - 3600) * 1000)
                for page in pages(c.filter_log_events, "nextToken", "nextToken", logGroupName=group, startTime=since):
                    hits += sum(1 for e in page["events"] if LOGS_NEEDLE in line(e))
                return hits
            return run
        row = self.compare("logs grep -r group", "cold (fresh mount)",
                           f"grep -r {LOGS_NEEDLE} MNT/logs/<region>/<group> ({n} events in {k} streams, last hour)",
                           lambda rep: self.awsfs_cold(["grep", "-r", LOGS_NEEDLE, rel]),
                           {"filter": ("filter_log_events(logGroupName, startTime=now-1h), paginated; render each "
                                       "event as awsfs's line, search it", code)},
                           references={"like_awsfs": ("describe_log_groups (finding the group), then the same",
                                                      lambda rep: code(rep, like_awsfs=True))},
                           check=lambda aw, b3: {"awsfs_matches": aw["stdout_lines"], "boto3_matches": b3["result"]})
        ops, b3ops = row["awsfs"]["ops"], row["boto3"]["ops"]
        want = b3ops.get("logs:FilterLogEvents", 0)
        self.row_target(row, ops.get("logs:FilterLogEvents", 0) <= want + 1
                        and set(ops) <= {"logs:FilterLogEvents", "logs:DescribeLogGroups"},
                        f"the group's FilterLogEvents pages ({want}, one more when the read comes a second after the "
                        f"size) and DescribeLogGroups only; no DescribeLogStreams, no GetLogEvents (awsfs: "
                        f"{fmt_ops(ops)})")

    def bench_logs_tail(self) -> None:
        """tail -f latency: an event put with boto3 (straight to moto) -> its line on tail's output."""
        samples = max(1, self.a.tail_samples)
        group, _ = self.logs_group("tail", ["live"], 3)
        logs_c = self.direct("logs")
        rnd = random.Random(4242)

        def put(marker: str) -> float:
            logs_c.put_log_events(logGroupName=group, logStreamName="live",
                                  logEvents=[{"timestamp": int(time.time() * 1000), "message": marker}])
            return time.perf_counter()

        def sample(lines: "queue.Queue[tuple[float, str]]", who: str) -> tuple[list[float], dict, float]:
            """Puts ``samples`` events at random moments; the seconds from each put's return to its line."""
            got: list[float] = []
            before, t0 = self.counts(), time.perf_counter()
            for i in range(samples):
                time.sleep(rnd.uniform(0.2, 1.2))
                marker = f"tail-{self.run_id}-{who}-{i}"
                sent = put(marker)
                deadline = sent + 30
                while True:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        raise RuntimeError(f"{who}: {marker} not shown within 30 s")
                    try:
                        at, text = lines.get(timeout=left)
                    except queue.Empty:
                        continue
                    if marker in text:
                        got.append(at - sent)
                        break
            return got, delta(before, self.counts()), time.perf_counter() - t0

        def awsfs_tail(rel: str) -> tuple[list[float], dict, float]:
            m = self.mount()
            lines: "queue.Queue[tuple[float, str]]" = queue.Queue()
            p = subprocess.Popen(["tail", "-n", "0", "-f", rel], cwd=m.path, stdout=subprocess.PIPE, text=True)

            def pump() -> None:
                for text in p.stdout:
                    lines.put((time.perf_counter(), text))
            threading.Thread(target=pump, daemon=True).start()
            try:
                time.sleep(2.5)  # tail has opened the file and polls it
                return sample(lines, rel.rsplit("/", 1)[1])
            finally:
                p.kill()
                p.wait()
                p.stdout.close()
                self.unmount(m)

        def boto3_follow() -> tuple[list[float], dict, float]:
            lines: "queue.Queue[tuple[float, str]]" = queue.Queue()
            stop = threading.Event()
            c = boto3.session.Session(region_name=self.region, **_creds()).client("logs", endpoint_url=self.proxy.url)

            def follow() -> None:  # what `aws logs tail --follow` does for one stream: ask every second
                token, since = None, int(time.time() * 1000)
                while not stop.is_set():
                    kw: dict[str, Any] = {"logGroupName": group, "logStreamName": "live", "startFromHead": True,
                                          "startTime": since}
                    if token:
                        kw["nextToken"] = token
                    r = c.get_log_events(**kw)
                    for e in r["events"]:
                        lines.put((time.perf_counter(), e["message"]))
                    token = r.get("nextForwardToken") or token
                    stop.wait(1.0)
            th = threading.Thread(target=follow, daemon=True)
            th.start()
            try:
                time.sleep(1.5)
                return sample(lines, "boto3")
            finally:
                stop.set()
                th.join(10)

        rel = f"logs/{self.region}{group}"
        aw, aw_ops, aw_t = awsfs_tail(f"{rel}/@streams/live")
        ev, ev_ops, ev_t = awsfs_tail(f"{rel}/@events")
        b3, b3_ops, b3_t = boto3_follow()
        med = statistics.median
        row = self.manual_row(
            "logs tail -f stream", f"followed ({samples} events put at random moments, each with boto3)",
            "tail -n 0 -f MNT/logs/<region>/<group>/@streams/live (seconds: median from the put to the line)",
            {"seconds": med(aw), "seconds_all": [round(x, 3) for x in aw], "calls": sum(aw_ops.values()), "ops": aw_ops,
             "calls_per_s": round(sum(aw_ops.values()) / aw_t, 2), "exit": 0},
            {"seconds": med(b3), "seconds_all": [round(x, 3) for x in b3], "calls": sum(b3_ops.values()),
             "ops": b3_ops, "calls_per_s": round(sum(b3_ops.values()) / b3_t, 2)},
            "a boto3 follower: get_log_events from the forward token every second (as `aws logs tail --follow`)",
            {"awsfs_min_max_s": [round(min(aw), 3), round(max(aw), 3)], "boto3_min_max_s": [round(min(b3), 3),
                                                                                           round(max(b3), 3)],
             "awsfs_calls_per_s": round(sum(aw_ops.values()) / aw_t, 2),
             "boto3_calls_per_s": round(sum(b3_ops.values()) / b3_t, 2),
             "events_file_median_s": round(med(ev), 3), "events_file_all_s": [round(x, 3) for x in ev],
             "events_file_ops": ev_ops, "events_file_calls_per_s": round(sum(ev_ops.values()) / ev_t, 2)},
            samples)
        rate_aw, rate_b3 = sum(aw_ops.values()) / aw_t, sum(b3_ops.values()) / b3_t
        row["targets"]["calls"] = "PASS" if rate_aw <= rate_b3 * 1.1 else "MISS"  # calls per second, not totals
        self.row_target(row, med(aw) <= 2.5, f"median {med(aw):.2f} s from the put to the line (tail polls every "
                        f"second, awsfs asks AWS at most once a second: <= 2.5 s); {rate_aw:.2f} AWS calls/s "
                        f"(boto3 follower {rate_b3:.2f}); @events: median {med(ev):.2f} s")

    def iam_seed(self, n: int) -> dict:
        """``n`` users and roles, n/5 groups, n/2 managed policies of two versions, inline policies;
        the needle in some documents. Straight to moto (not counted)."""
        iam, t = self.direct("iam"), time.monotonic()

        def doc(i: int, what: str) -> str:
            res = f"arn:aws:s3:::{IAM_NEEDLE}-{what}-{i}" if i % 10 == 3 else f"arn:aws:s3:::bucket-{what}-{i}/*"
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": res}]})
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        p = self.run_id
        arns = []
        for i in range(max(1, n // 2)):
            arn = iam.create_policy(PolicyName=f"{p}-policy-{i}", PolicyDocument=doc(i, "v1"))["Policy"]["Arn"]
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(i + 1, "v2"), SetAsDefault=True)
            arns.append(arn)
        groups = [f"{p}-group-{i}" for i in range(max(1, n // 5))]
        for i, g in enumerate(groups):
            iam.create_group(GroupName=g)
            iam.put_group_policy(GroupName=g, PolicyName="inline", PolicyDocument=doc(i, "group"))
        for i in range(n):
            u = f"{p}-user-{i}"
            iam.create_user(UserName=u)
            iam.put_user_policy(UserName=u, PolicyName="inline", PolicyDocument=doc(i, "user"))
            if i % 2 == 0:
                iam.add_user_to_group(GroupName=groups[i % len(groups)], UserName=u)
            if i % 3 == 0:
                iam.attach_user_policy(UserName=u, PolicyArn=arns[i % len(arns)])
            r = f"{p}-role-{i}"
            iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust)
            iam.put_role_policy(RoleName=r, PolicyName="inline", PolicyDocument=doc(i, "role"))
        log(f"iam: seeded {n} users, {n} roles, {len(groups)} groups, {len(arns)} policies of 2 versions "
            f"({time.monotonic() - t:.1f}s)")
        return {"users": n, "roles": n, "groups": len(groups), "policies": len(arns)}

    def bench_iam_grep(self) -> None:
        n = max(1, self.a.iam_principals)
        seeded = self.iam_seed(n)

        def text(d: Any) -> str:  # a document as awsfs shows it (URL-encoded JSON from some calls)
            return json.dumps(json.loads(urllib.parse.unquote(d)) if isinstance(d, str) else d, indent=2) + "\n"

        def hits(docs: list) -> int:
            return sum(1 for d in docs for ln in text(d).splitlines() if IAM_NEEDLE in ln)

        def loop(rep):
            def run(mk):
                iam, docs = mk("iam"), []

                def listed(method, key, **kw):
                    return [x for pg in pages(method, "Marker", "Marker", MaxItems=1000, **kw) for x in pg[key]]
                for u in listed(iam.list_users, "Users"):
                    for pn in listed(iam.list_user_policies, "PolicyNames", UserName=u["UserName"]):
                        docs.append(iam.get_user_policy(UserName=u["UserName"], PolicyName=pn)["PolicyDocument"])
                for r in listed(iam.list_roles, "Roles"):
                    docs.append(r["AssumeRolePolicyDocument"])
                    for pn in listed(iam.list_role_policies, "PolicyNames", RoleName=r["RoleName"]):
                        docs.append(iam.get_role_policy(RoleName=r["RoleName"], PolicyName=pn)["PolicyDocument"])
                for g in listed(iam.list_groups, "Groups"):
                    for pn in listed(iam.list_group_policies, "PolicyNames", GroupName=g["GroupName"]):
                        docs.append(iam.get_group_policy(GroupName=g["GroupName"], PolicyName=pn)["PolicyDocument"])
                for pol in listed(iam.list_policies, "Policies", Scope="Local"):
                    for v in listed(iam.list_policy_versions, "Versions", PolicyArn=pol["Arn"]):
                        docs.append(v["Document"] if "Document" in v else iam.get_policy_version(
                            PolicyArn=pol["Arn"], VersionId=v["VersionId"])["PolicyVersion"]["Document"])
                return hits(docs)
            return run

        def details(rep):
            def run(mk):
                iam, docs = mk("iam"), []
                for pg in pages(iam.get_account_authorization_details, "Marker", "Marker",
                                Filter=["User", "Role", "Group", "LocalManagedPolicy"]):
                    for u in pg.get("UserDetailList", []):
                        docs += [x["PolicyDocument"] for x in u.get("UserPolicyList", [])]
                    for r in pg.get("RoleDetailList", []):
                        docs += [r["AssumeRolePolicyDocument"]] + [x["PolicyDocument"] for x in
                                                                     r.get("RolePolicyList", [])]
                    for g in pg.get("GroupDetailList", []):
                        docs += [x["PolicyDocument"] for x in g.get("GroupPolicyList", [])]
                    for pol in pg.get("Policies", []):
                        docs += [v["Document"] for v in pol.get("PolicyVersionList", [])]
                return hits(docs)
            return run
        row = self.compare("iam grep -r", "cold (fresh mount)",
                           f"grep -r {IAM_NEEDLE} MNT/iam ({seeded['users']} users, {seeded['roles']} roles, "
                           f"{seeded['groups']} groups, {seeded['policies']} policies x 2 versions)",
                           lambda rep: self.awsfs_cold(["grep", "-r", IAM_NEEDLE, "iam"]),
                           {"loop": ("list users/roles/groups/policies (Scope=Local), per principal list + get each "
                                     "inline policy, per policy list_policy_versions (+ get_policy_version when the "
                                     "listing has no Document)", loop),
                            "details": ("get_account_authorization_details(Filter=User,Role,Group,"
                                        "LocalManagedPolicy), paginated", details)},
                           check=lambda aw, b3: {"awsfs_matches": aw["stdout_lines"], "boto3_matches": b3["result"]})
        ops = row["awsfs"]["ops"]
        self.row_target(row, "iam:GetAccountAuthorizationDetails" in ops,
                        "reads IAM with GetAccountAuthorizationDetails (another engineer's change in progress; "
                        f"measured as it is: {fmt_ops(ops)})")

ROWS = {
    "ls-instances": Bench.bench_ls_instances,
    "ls-table": Bench.bench_ls_table,
    "grep": Bench.bench_grep,
    "cat": Bench.bench_cat,
    "cp": Bench.bench_cp,
    "find": Bench.bench_find,
    "stat": Bench.bench_stat,
    "big": Bench.bench_big,  # only with --big-items N
    "s3-ls": Bench.bench_s3_ls,
    "s3-find": Bench.bench_s3_find,
    "s3-grep": Bench.bench_s3_grep,
    "s3-big": Bench.bench_s3_big,
    "s3-cp-small": Bench.bench_s3_cp_small,
    "logs-grep": Bench.bench_logs_grep,
    "logs-tail": Bench.bench_logs_tail,
    "iam-grep": Bench.bench_iam_grep,
}


# -- helpers ----------------------------------------------------------------------------------------

def _creds() -> dict:
    return {"aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"]}


def fs_type(path: str) -> str:
    """The type of the filesystem ``path`` is on (from /proc/mounts: the longest mount point above it)."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return f"{kind} ({best})"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def aggregate(runs: list[dict]) -> dict:
    """The median run by AWS calls (its details and per-operation counts) with the median wall time;
    every run's figures are kept."""
    mid = sorted(runs, key=lambda r: r["calls"])[(len(runs) - 1) // 2]
    out = dict(mid)
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["seconds_all"] = [round(r["seconds"], 4) for r in runs]
    out["calls_all"] = [r["calls"] for r in runs]
    hwm = [r["daemon_hwm_mb"] for r in runs if r.get("daemon_hwm_mb") is not None]
    if hwm:
        out["daemon_hwm_mb"] = max(hwm)
    return out


def delta(before: dict, after: dict) -> dict[str, int]:
    b, a = before["counts"], after["counts"]
    return {k: a[k] - b.get(k, 0) for k in sorted(a) if a[k] - b.get(k, 0)}


def pages(method: Callable[..., dict], token_in: str, token_out: str, **params: Any):
    while True:
        page = method(**params)
        yield page
        token = page.get(token_out)
        if not token:
            return
        params[token_in] = token


def stat_loop(path: str, seconds: float) -> tuple[float, int]:
    st = os.stat
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(200):
            st(path)
        n += 200
        now = time.perf_counter()
        if now >= end:
            return n / (now - t0), n


def create_table(ddb: Any, name: str) -> None:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])


def batch_write(b: Bench, table: str, items, threads: int) -> None:
    local = threading.local()

    def client() -> Any:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = b.direct("dynamodb")
        return c

    def write(chunk: list[dict]) -> None:
        req = {table: [{"PutRequest": {"Item": it}} for it in chunk]}
        while req:
            req = client().batch_write_item(RequestItems=req).get("UnprocessedItems") or {}

    def chunks():
        buf = []
        for it in items:
            buf.append(it)
            if len(buf) == 25:
                yield buf
                buf = []
        if buf:
            yield buf
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        pending = set()
        for c in chunks():
            pending.add(ex.submit(write, c))
            if len(pending) >= threads * 4:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for f in done:
                    f.result()
        for f in pending:
            f.result()


def scan_ids(b: Bench, table: str) -> list[str]:
    ddb = b.direct("dynamodb")
    ids = []
    for page in pages(ddb.scan, "ExclusiveStartKey", "LastEvaluatedKey", TableName=table, ProjectionExpression="id"):
        ids += [it["id"]["S"] for it in page["Items"]]
    return ids


def count_prefix(b: Bench, table: str, prefix: str) -> int:
    return sum(1 for i in scan_ids(b, table) if i.startswith(prefix))


def delete_prefixes(b: Bench, table: str, prefixes: tuple[str, ...]) -> None:
    doomed = [i for i in scan_ids(b, table) if i.startswith(prefixes)]
    ddb = b.direct("dynamodb")
    for k in range(0, len(doomed), 25):
        req = {table: [{"DeleteRequest": {"Key": {"id": {"S": i}}}} for i in doomed[k:k + 25]]}
        while req:
            req = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}


def fmt_ratio(r: Optional[float]) -> str:
    return "-" if r is None else f"{r:.2f}x"


def git_info() -> dict:
    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "awsfs"))}


# -- report -----------------------------------------------------------------------------------------

def print_report(b: Bench, params: dict) -> None:
    w = sys.stdout.write
    w("\nawsfs benchmark: %g ms injected per AWS call; %d items, %d instances in %s; %d run(s) per row "
      "(median wall time)\n" % (params["latency_ms"], params["items"], params["instances"], params["region"],
                               params["repeat"]))
    w("AWS calls are counted by the latency proxy. cold = a fresh awsfs mount, nothing cached. boto3 = the best\n"
      "hand-written code (clients created inside the timed section, like awsfs's). floor = the same command on a\n"
      "trivial in-memory mfusepy filesystem with the same number and size of files (kernel + binding cost).\n")
    if any(r["row"].startswith("s3 ") for r in b.rows):
        w("S3: %d objects in the ls prefix and the find bucket (%d prefixes), grep over %d, %d MB cat/cp, cp of %d "
          "files of 1 KB\n" % (params["s3_objects"], params["s3_prefixes"], params["s3_grep_objects"],
                               params["s3_big_mb"], params["s3_files"]))
    w("\n")
    head = ["row", "state", "awsfs command", "awsfs calls", "awsfs s", "boto3 calls", "boto3 s", "ratio", "floor s",
            "calls", "time"]
    table = []
    for r in b.rows:
        table.append([r["row"], r["state"].split(" (")[0], r["awsfs_command"], str(r["awsfs"]["calls"]),
                      f"{r['awsfs']['seconds']:.3f}", str(r["boto3"]["calls"]), f"{r['boto3']['seconds']:.3f}",
                      fmt_ratio(r["ratio"]), "-" if r.get("floor_seconds") is None else f"{r['floor_seconds']:.3f}",
                      r["targets"]["calls"], r["targets"]["time"]])
    st = b.extra.get("stat")
    if st:
        table.append(["cached stat", "warm", "os.stat loop, stat/s (ratio: awsfs/floor)", str(st["awsfs_calls"]),
                      f"{st['awsfs_stats_per_s']:,.0f}/s", "-", "-", fmt_ratio(st["ratio"]),
                      f"{st['trivial_stats_per_s']:,.0f}/s", "-", st["target"]])
    rss = b.extra.get("rss_listing")
    if rss:
        hwm = rss["hwm_after_mb"]
        table.append(["daemon peak RSS", "cold", f"ls -l {rss['dir']} ({rss['entries']} entries)", "-", _mb(hwm), "-",
                      "-", "-", "-", "-", "PASS" if hwm is not None and hwm < TARGET_RSS_MB else "MISS"])
    widths = [max(len(x[i]) for x in [head] + table) for i in range(len(head))]
    right = {3, 4, 5, 6, 7, 8}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells))
    if table:
        w(line(head) + "\n" + "  ".join("-" * x for x in widths) + "\n")
        for cells in table:
            w(line(cells) + "\n")
    w(f"\ntargets: calls = awsfs calls <= boto3 minimum; time = awsfs <= {TARGET_RATIO}x boto3; cached stat >= "
      f"{TARGET_STAT}x the trivial filesystem; daemon peak RSS (VmHWM) < {TARGET_RSS_MB:g} MB\n"
      "ratio: the median of the repetitions' awsfs/boto3 ratios (each awsfs run is paired with the boto3 run "
      "right after it)\n")
    if st:
        w(f"cached stat: {st['awsfs_command']}; the trivial fs alternates with it; ratio = median of the rounds' ratios; "
          f"{st['awsfs_calls']} AWS calls during the loop\n")
    if rss:
        w(f"daemon peak RSS: {_mb(rss['hwm_before_mb'])} after mount -> {_mb(rss['hwm_after_mb'])} after "
          f"ls -l {rss['dir']}\n")

    big = b.extra.get("big")
    if big:
        w(f"\nbig table ({big['items']} items), each command on a fresh mount:\n")
        for label in ("ls -f | head", "ls -f | wc -l"):
            x = big[label]
            w(f"  {x['awsfs_command']}: awsfs {x['awsfs']['calls']} calls {x['awsfs']['seconds']:.2f}s, "
              f"peak RSS {_mb(x['awsfs'].get('daemon_hwm_before_mb'))} -> {_mb(x['awsfs']['daemon_hwm_mb'])} "
              f"(< {TARGET_RSS_MB:g} MB: {x['rss_target']}); boto3 ({x['boto3_code']}) {x['boto3']['calls']} calls "
              f"{x['boto3']['seconds']:.2f}s; ratio {fmt_ratio(x['ratio'])}; "
              f"check: {', '.join(f'{k}={v}' for k, v in x['check'].items())}\n")

    if b.rows:
        w("\nper row: AWS operations, the boto3 code, checks\n")
    for r in b.rows:
        w(f"  {r['row']} ({r['state']}):\n")
        w(f"    awsfs: {fmt_ops(r['awsfs']['ops'])}"
          + (f"   runs: {', '.join(f'{x:.3f}' for x in r['awsfs']['seconds_all'])}s" if r["repeat"] > 1 else "")
          + "\n")
        w(f"    boto3: {fmt_ops(r['boto3']['ops'])}  <- {r['boto3_code']}\n")
        strategies = r["boto3"]["strategies"]
        if len(strategies) > 1:
            for k, s in strategies.items():
                w(f"      strategy {s['code']}: {s['calls']} calls, {s['seconds']:.3f}s\n")
        for ref in r["references"]:
            w(f"    (for reference) {ref['code']}: {ref['calls']} calls, {ref['seconds']:.3f}s\n")
        if r["check"]:
            w(f"    check: {', '.join(f'{k}={v}' for k, v in r['check'].items())}\n")
        for k in ("error", "note", "target"):
            if r["targets"].get(k):
                w(f"    {k.upper()}: {r['targets'][k]}\n")

    w("\nsummary\n")
    rows_calls = [r for r in b.rows if r["targets"]["calls"] == "MISS"]
    rows_time = [r for r in b.rows if r["targets"]["time"] == "MISS"]
    if b.rows:
        w(f"  AWS calls <= boto3 minimum on every row: {'MISS' if rows_calls else 'PASS'}"
          + (f" ({', '.join(r['row'] for r in rows_calls)})" if rows_calls else "") + "\n")
        w(f"  wall time <= {TARGET_RATIO}x boto3 on every row: {'MISS' if rows_time else 'PASS'}"
          + (f" ({', '.join(r['row'] for r in rows_time)})" if rows_time else "") + "\n")
        if rows_calls or rows_time:
            w("  (README.md, \"Benchmark\", says which misses are expected and why: the boto3 minimum is the\n"
              "   fewest calls of any strategy, e.g. a Scan for `cat`, while the time is the fastest one's;\n"
              "   `cp` must learn whether its targets exist. --quick runs each row once: timings are noisy.)\n")
    own = [r for r in b.rows if r["targets"].get("row")]
    if own:
        missed = [r["row"] for r in own if r["targets"]["row"] == "MISS"]
        w(f"  the S3 rows' own targets (TARGET: lines): {'MISS' if missed else 'PASS'}"
          + (f" ({', '.join(missed)})" if missed else "") + "\n")
    if st:
        w(f"  cached stat >= {TARGET_STAT}x trivial filesystem: {st['target']} ({fmt_ratio(st['ratio'])})\n")
    if rss:
        hwm = rss["hwm_after_mb"]
        w(f"  daemon RSS < {TARGET_RSS_MB:g} MB: {'PASS' if hwm is not None and hwm < TARGET_RSS_MB else 'MISS'} "
          f"({_mb(hwm)})\n")
    if big:
        for label in ("ls -f | head", "ls -f | wc -l"):
            x = big[label]
            w(f"  big table {label}: daemon RSS < {TARGET_RSS_MB:g} MB: {x['rss_target']} "
              f"({_mb(x['awsfs']['daemon_hwm_mb'])})\n")


def _mb(x: Optional[float]) -> str:
    return "?" if x is None else f"{x:.1f} MB"


def fmt_ops(ops: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in ops.items()) or "none"


def targets_summary(b: Bench) -> dict:
    st, rss, big = b.extra.get("stat"), b.extra.get("rss_listing"), b.extra.get("big")
    out: dict[str, Any] = {}
    if b.rows:
        out["calls"] = "MISS" if any(r["targets"]["calls"] == "MISS" for r in b.rows) else "PASS"
        out["time"] = "MISS" if any(r["targets"]["time"] == "MISS" for r in b.rows) else "PASS"
        out["rows"] = {r["row"]: r["targets"] for r in b.rows}
    if st:
        out["stat"] = st["target"]
    if rss:
        out["rss"] = "PASS" if rss["hwm_after_mb"] is not None and rss["hwm_after_mb"] < TARGET_RSS_MB else "MISS"
    if big:
        out["big_rss"] = {label: big[label]["rss_target"] for label in ("ls -f | head", "ls -f | wc -l")}
    return out


# -- main -------------------------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-ms", type=float, default=20.0, help="delay per AWS call at the proxy (default 20)")
    p.add_argument("--items", type=int, default=2000, help="items in the DynamoDB table (default 2000)")
    p.add_argument("--instances", type=int, default=500, help="EC2 instances (default 500)")
    p.add_argument("--files", type=int, default=200, help="items read by cat / written by cp (default 200)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--stat-seconds", type=float, default=2.0, help="length of each stat loop (default 2)")
    p.add_argument("--big-items", type=int, default=0, metavar="N",
                   help="also seed a table of N items (e.g. 100000) and measure ls -f | head and ls -f | wc -l")
    p.add_argument("--s3-objects", type=int, default=10000,
                   help="objects in the s3-ls prefix and in the s3-find bucket (default 10000, --quick 1000)")
    p.add_argument("--s3-prefixes", type=int, default=50,
                   help="prefixes the s3-find bucket's objects are in (default 50, --quick 10)")
    p.add_argument("--s3-grep-objects", type=int, default=2000,
                   help="small objects s3-grep reads (default 2000, --quick 200)")
    p.add_argument("--s3-big-mb", type=int, default=256,
                   help="size of the object s3-big reads and of the file it writes (default 256, --quick 32)")
    p.add_argument("--s3-files", type=int, default=1000,
                   help="1 KB files s3-cp-small copies into a new prefix (default 1000, --quick 100)")
    p.add_argument("--logs-events", type=int, default=20000,
                   help="events in the logs-grep group, over the last hour (default 20000, --quick 2000)")
    p.add_argument("--logs-streams", type=int, default=10, help="streams they are in (default 10, --quick 4)")
    p.add_argument("--tail-samples", type=int, default=9,
                   help="events logs-tail puts, one at a time, timing each to tail's output (default 9, --quick 5)")
    p.add_argument("--iam-principals", type=int, default=50,
                   help="users and roles iam-grep seeds (and a fifth as many groups, half as many policies; "
                        "default 50, --quick 10)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each row, awsfs and boto3 alternating; wall times are medians (default 3, --quick 1)")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the floor measurements (the same command on a trivial mfusepy filesystem)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (200 items, 50 instances, cat/cp 50 files; S3: 1,000 objects in 10 "
                        "prefixes, grep 200, 32 MB, cp 100 files; one repetition)")
    p.add_argument("--only", default="", help=f"comma-separated rows to run (of {', '.join(ROWS)})")
    p.add_argument("--json", default="bench-results.json", help="where to write results (default ./bench-results.json)")
    p.add_argument("--awsfs-args", default="", metavar="ARGS",
                   help="extra awsfs options for every mount, e.g. '--cache-ttl 5' or '--log-level DEBUG'")
    p.add_argument("--timeout", type=float, default=900.0, help="per-command timeout in seconds")
    a = p.parse_args(argv)
    if a.quick:
        a.items = min(a.items, 200) if "--items" in (argv or sys.argv) else 200
        a.instances = min(a.instances, 50) if "--instances" in (argv or sys.argv) else 50
        a.files = min(a.files, 50) if "--files" in (argv or sys.argv) else 50
        a.stat_seconds = min(a.stat_seconds, 1.0)
        for opt, small in (("s3_objects", 1000), ("s3_prefixes", 10), ("s3_grep_objects", 200), ("s3_big_mb", 32),
                           ("s3_files", 100)):
            given = "--" + opt.replace("_", "-") in (argv or sys.argv)
            setattr(a, opt, min(getattr(a, opt), small) if given else small)
        a.repeat = a.repeat if "--repeat" in (argv or sys.argv) else 1
        for opt, small in (("logs_events", 2000), ("logs_streams", 4), ("tail_samples", 5), ("iam_principals", 10)):
            given = "--" + opt.replace("_", "-") in (argv or sys.argv)
            setattr(a, opt, min(getattr(a, opt), small) if given else small)
    a.files = max(1, min(a.files, a.items))
    a.repeat = max(1, a.repeat)
    return a


def main(argv: Optional[list[str]] = None) -> int:
    a = parse_args(argv)
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in ROWS]
    if unknown:
        print(f"bench: unknown rows {unknown}; choose from {', '.join(ROWS)}", file=sys.stderr)
        return 2
    for tool in ("fusermount", "ls", "grep", "cat", "cp", "find", "du", "sha256sum"):
        if not shutil.which(tool):
            print(f"bench: {tool} is missing (scripts/install sets things up)", file=sys.stderr)
            return 2
    if not os.path.exists("/dev/fuse"):
        print("bench: /dev/fuse is missing", file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    params = {k: getattr(a, k) for k in ("latency_ms", "items", "instances", "files", "region", "stat_seconds",
                                          "big_items", "quick", "repeat", "awsfs_args", "s3_objects", "s3_prefixes",
                                          "s3_grep_objects", "s3_big_mb", "s3_files", "logs_events",
                                          "logs_streams", "tail_samples", "iam_principals")}
    started = datetime.datetime.now(datetime.timezone.utc)
    b = Bench(a)
    error = None
    ok = False
    try:
        b.start()
        if not only or any(not x.startswith(SELF_SEEDED) for x in only):  # S3, Logs, IAM rows seed their own
            b.seed()
        for name, fn in ROWS.items():
            if (only and name not in only) or (name == "big" and not a.big_items):
                continue
            log(f"row {name} ...")
            fn(b)
        ok = True
    except KeyboardInterrupt as e:
        error = f"interrupted ({e})" if str(e) else "interrupted (Ctrl-C)"
        log(error)
    except Exception as e:
        import traceback
        error = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    finally:
        log("cleaning up (unmounting, stopping servers)")
        b.cleanup()

    if b.rows or b.extra:
        print_report(b, params)
    result = {
        "timestamp": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1),
        "params": params, "git": git_info(),
        "host": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                 "boto3": boto3.__version__},
        "targets": {"calls_at_most_boto3": True, "time_ratio_max": TARGET_RATIO, "stat_ratio_min": TARGET_STAT,
                    "rss_mb_max": TARGET_RSS_MB},
        "summary": targets_summary(b),
        "rows": b.rows, **b.extra, "error": error,
    }
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2, default=str)
        f.write("\n")
    print(f"\nresults written to {os.path.abspath(a.json)}")
    if ok:
        shutil.rmtree(b.tmp, ignore_errors=True)
    else:
        print(f"logs kept in {b.tmp}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
