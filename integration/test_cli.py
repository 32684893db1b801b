"""The command line: --demo mounts and unmounts cleanly; problems are caught before mounting; signals
stop a mount cleanly; mount(8) and fstab run it as their helper."""
import contextlib
import errno
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

import pytest

from conftest import LIBFUSE, MOUNT_BASE, awsfs_cmd, awsfs_launched, unmount, wait_for


def run(args, env=None):
    return subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=90, env=env)


def test_demo_mounts_seeded_aws_and_unmounts_cleanly():
    path = tempfile.mkdtemp(prefix="awsfs-demo-", dir=MOUNT_BASE)
    try:
        r = run(["--demo", path])
        assert r.returncode == 0, r.stderr
        assert os.path.ismount(path)
        assert "alice.json" in os.listdir(f"{path}/dynamo/us-east-1/users")
        assert len(os.listdir(f"{path}/ec2/eu-west-1/instances")) == 2
        with open(f"{path}/.awsfs/status") as f:
            status = json.load(f)
        endpoint = status["endpoint"]
        # left to choose, awsfs takes libfuse 3 where it can mount with it (root here)
        assert status["binding"].startswith("libfuse 3." if "fuse3" in LIBFUSE else "libfuse 2.")
        port = urlparse(endpoint).port
        unmount(path)
        assert not os.path.ismount(path)
        # the local AWS stops with the filesystem
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the demo's local AWS still answers after unmount")
    finally:
        unmount(path)
        os.rmdir(path)


def test_non_empty_mountpoint_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run([str(tmp_path), "--endpoint-url", "http://127.0.0.1:1"])
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "not empty" in r.stderr
    assert not os.path.ismount(tmp_path)


def test_missing_mountpoint_names_the_fix(tmp_path):
    r = run([str(tmp_path / "nope")])
    assert r.returncode == 1 and "mkdir -p" in r.stderr


def test_missing_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)  # no ~/.aws either
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    mp = tmp_path / "mnt"
    mp.mkdir()
    r = run([str(mp), "--endpoint-url", "http://127.0.0.1:1"], env=env)
    assert r.returncode == 1
    assert "no AWS credentials" in r.stderr and r.stderr.count("\n") == 1
    assert not os.path.ismount(mp)


def test_unreachable_endpoint(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    r = run([str(tmp_path), "--endpoint-url", f"http://127.0.0.1:{port}"])
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and r.stderr.count("\n") == 1
    assert not os.path.ismount(tmp_path)


def test_aws_endpoint_url_environment_is_honoured(local_aws, seeded):
    path = tempfile.mkdtemp(prefix="awsfs-env-", dir=MOUNT_BASE)
    env = dict(os.environ, AWS_ENDPOINT_URL=local_aws.url)
    try:
        r = run([path, "--regions", "us-east-1"], env=env)
        assert r.returncode == 0, r.stderr
        assert "users" in os.listdir(f"{path}/dynamo/us-east-1")
    finally:
        unmount(path)
        os.rmdir(path)


def test_log_has_a_json_line_per_aws_call_and_mutation_and_no_secrets(local_aws, seeded, tmp_path):
    import uuid
    path = tempfile.mkdtemp(prefix="awsfs-log-", dir=MOUNT_BASE)
    log_file = tmp_path / "awsfs.log"
    secret = "s3cret-" + uuid.uuid4().hex
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDLOGTEST0001", "AWS_SECRET_ACCESS_KEY": secret}
    iid = seeded["us-east-1"]["instances"][0]
    r = run([path, "--endpoint-url", local_aws.url, "--regions", "us-east-1", "--log-file", str(log_file)], env=env)
    assert r.returncode == 0, r.stderr
    try:
        subprocess.run(["cat", f"{path}/dynamo/us-east-1/users/alice.json"], check=True, capture_output=True)
        subprocess.run(["bash", "-c", f"echo checked > {path}/ec2/us-east-1/instances/{iid}/tags/logtest"],
                       check=True, capture_output=True)
    finally:
        unmount(path)
    text = log_file.read_text()
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert all(line["mount"] == os.path.abspath(path) for line in lines)
    calls = [line for line in lines if line.get("event") == "aws_call"]
    read_call = next(c for c in calls if c["path"].startswith("/dynamo/us-east-1/users")
                     and c["operation"] in ("Scan", "GetItem", "BatchGetItem"))
    assert read_call["outcome"] == "ok"
    assert read_call["request_id"] and read_call["attempts"] == 1 and read_call["duration_ms"] >= 0
    mutation = next(m for m in lines if m.get("event") == "mutation")
    assert mutation["operation"] == "CreateTags" and mutation["outcome"] == "ok" and mutation["request_id"]
    assert mutation["attempts"] == 1 and mutation["duration_ms"] >= 0
    assert mutation["path"] == f"/ec2/us-east-1/instances/{iid}/tags/logtest"


# -- stopping: signals, dirty buffers, dead mounts ---------------------------------------------------

def log_lines(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@contextlib.contextmanager
def foreground(local_aws, libfuse, log_file, *extra, path=None):
    """``awsfs -f`` as a child process, mounted and answering; killed and unmounted afterwards."""
    path = path or tempfile.mkdtemp(prefix="awsfs-fg-", dir=MOUNT_BASE)
    p = subprocess.Popen(awsfs_cmd(path, "-f", "--endpoint-url", local_aws.url, "--regions", "us-east-1",
                                   "--log-file", str(log_file), *extra),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "FUSE_LIBRARY_NAME": libfuse})
    try:
        wait_for(lambda: os.path.ismount(path) or p.poll() is not None, what="the mount")
        assert p.poll() is None, p.communicate()[1]
        assert "dynamo" in os.listdir(path)  # served: a healthy, idle mount
        yield path, p
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=30)
        subprocess.run(["fusermount", "-u", "-z", path], capture_output=True)
        os.rmdir(path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_foreground_stops_cleanly_on_ctrl_c_and_sigterm(local_aws, libfuse, tmp_path, sig):
    """libfuse 3's fuse_main answers a signal with 8 (mfusepy: RuntimeError(8)), libfuse 2's with 0:
    both end as a clean stop, exit 0, no traceback, one unmount line naming the signal."""
    log_file = tmp_path / "awsfs.log"
    with foreground(local_aws, libfuse, log_file) as (path, p):
        p.send_signal(sig)
        _, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert "Traceback" not in err and "RuntimeError" not in err
        assert not os.path.ismount(path)
    lines = log_lines(log_file)
    stop = [line for line in lines if line.get("event") == "unmount"]
    assert len(stop) == 1 and stop[0]["signal"] == sig.name and stop[0]["discarded"] == 0, stop
    assert not [line for line in lines if line["level"] == "ERROR"]


def test_daemon_stops_cleanly_on_sigterm(mount_awsfs):
    m = mount_awsfs(regions="us-east-1")
    pid = next(line["pid"] for line in log_lines(m.log_file) if line.get("event") == "mount")
    assert os.listdir(m.path)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="the daemon to exit")
    assert not os.path.ismount(m.path)
    stop = [line for line in log_lines(m.log_file) if line.get("event") == "unmount"]
    assert len(stop) == 1 and stop[0]["signal"] == "SIGTERM", stop


def test_sigterm_commits_nothing_half_done_and_logs_the_discarded_buffer(local_aws, libfuse, tmp_path,
                                                                          ddb_table, boto):
    t = ddb_table([{"id": "a", "v": 1}])
    log_file = tmp_path / "awsfs.log"
    half = '{"id": "a", "v": 2'  # a save cut short: not even JSON yet
    with foreground(local_aws, libfuse, log_file) as (path, p):
        item = f"{path}/dynamo/us-east-1/{t}/a.json"
        writer = subprocess.Popen(
            [sys.executable, "-c", "import os, sys, time\n"
             "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)\n"
             "os.write(fd, sys.argv[2].encode())\n"
             "print('written', flush=True)\n"
             "time.sleep(60)\n", item, half], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == "written"
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=10)
            assert p.returncode == 0, err
            assert "Traceback" not in err
        finally:
            writer.kill()
            writer.communicate()
    assert boto("dynamodb").get_item(TableName=t, Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"},
                                                                                       "v": {"N": "1"}}
    lines = log_lines(log_file)
    discarded = [line for line in lines if line.get("event") == "discarded"]
    assert [(d["path"], d["bytes"]) for d in discarded] == [(f"/dynamo/us-east-1/{t}/a.json", len(half))]
    stop = next(line for line in lines if line.get("event") == "unmount")
    assert stop["signal"] == "SIGTERM" and stop["discarded"] == 1
    assert not [line for line in lines if line.get("event") == "mutation"]


def test_remounting_a_killed_mount_names_the_lazy_unmount(local_aws, libfuse, tmp_path):
    """A mount whose process was killed: os.path.exists says False, mkdir -p fails with "Transport
    endpoint is not connected". awsfs names the fix instead."""
    from awsfs.cli import unmount_command
    with foreground(local_aws, libfuse, tmp_path / "awsfs.log") as (path, p):
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        with pytest.raises(OSError) as e:
            os.stat(path)
        assert e.value.errno == errno.ENOTCONN  # the dead mount
        r = run([path, "--endpoint-url", local_aws.url, "--regions", "us-east-1"])
        assert r.returncode == 1 and r.stderr.count("\n") == 1
        assert f"`{unmount_command(path, lazy=True)}`" in r.stderr and " -u -z " in r.stderr
        assert "mkdir" not in r.stderr
        # the named fix works (test_concurrency's kill -9 test mounts the same path again afterwards)
        subprocess.run(unmount_command(path, lazy=True).split(), check=True, capture_output=True)
        assert os.path.isdir(path) and not os.listdir(path)


# -- regions ------------------------------------------------------------------------------------------

def test_unknown_regions_are_refused_before_mounting(local_aws, tmp_path):
    """Before, `--regions us-east-1,mars-1` mounted, and everything under mars-1 failed with EIO."""
    r = run([str(tmp_path), "--endpoint-url", local_aws.url, "--regions", "us-east-1,mars-1,us-east1"])
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "unknown regions mars-1, us-east1 (did you mean us-east-1?):" in r.stderr
    valid = r.stderr.split("the account's regions are ")[1].strip().split(", ")
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(valid) and "mars-1" not in valid
    assert not os.path.ismount(tmp_path)


# -- the log ------------------------------------------------------------------------------------------

def test_default_log_is_per_mount_point_and_rotated(local_aws, tmp_path):
    from awsfs.cli import default_log_file, escape_path
    if shutil.which("systemd-escape"):
        for p in ("/var/tmp/awsfs-x/a.b/.c", "/home/me/my aws/é", "/"):
            want = subprocess.run(["systemd-escape", "--path", p], capture_output=True, text=True).stdout.strip()
            assert escape_path(p) == want
    paths = [tempfile.mkdtemp(prefix="awsfs-log-", dir=MOUNT_BASE) for _ in range(2)]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    setup = "import awsfs.cli as c\nc.LOG_MAX_BYTES = 1000"  # rotate after a few lines
    try:
        for path in paths:
            r = subprocess.run(awsfs_launched(setup, path, "--endpoint-url", local_aws.url, "--regions",
                                              "us-east-1", "--cache-ttl", "0"),
                               capture_output=True, text=True, timeout=60, env=env)
            assert r.returncode == 0, r.stderr
        for _ in range(10):
            os.listdir(f"{paths[0]}/dynamo/us-east-1")
        logs = sorted(os.listdir(tmp_path / "cache" / "awsfs"))
        base = [os.path.basename(default_log_file(p)) for p in paths]
        assert base[0] in logs and base[1] in logs and f"{base[0]}.1" in logs, logs
        assert all(line["mount"] == paths[1] for line in log_lines(tmp_path / "cache" / "awsfs" / base[1]))
    finally:
        for path in paths:
            unmount(path)
            os.rmdir(path)


# -- mount(8), fstab ----------------------------------------------------------------------------------

def test_mount_helper_arguments_are_understood():
    from awsfs.cli import parse_args
    cfg = parse_args(["awsfs", "/mnt/aws", "-o", "rw,nofail,_netdev,x-systemd.automount,endpoint_url=http://h:1,"
                      "regions=us-east-1,eu-west-1,profile=prod,cache_ttl=5,ro,allow_other,dev,suid"])
    assert (cfg.source, cfg.mountpoint, cfg.endpoint_url, cfg.profile) == ("awsfs", "/mnt/aws", "http://h:1", "prod")
    assert cfg.regions == ("us-east-1", "eu-west-1") and cfg.cache_ttl == 5 and cfg.read_only
    assert cfg.fuse_options == {"allow_other": True}
    assert set(cfg.ignored_options) == {"rw", "nofail", "_netdev", "x-systemd.automount", "dev", "suid"}
    assert parse_args(["/m", "-o", "regions=a-1:b-2"]).regions == ("a-1", "b-2")
    assert parse_args(["/m", "--regions", "x-1", "-o", "regions=a-1"]).regions == ("x-1",)  # the flag wins


MOUNT_FUSE = next((p for p in ("/sbin/mount.fuse3", "/usr/sbin/mount.fuse3", "/sbin/mount.fuse",
                               "/usr/sbin/mount.fuse") if os.access(p, os.X_OK)), None)


def _private_mounts_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def test_mount_t_fuse_awsfs_and_an_fstab_line(local_aws, libfuse, tmp_path):
    """`mount -t fuse.awsfs awsfs DIR -o ...` and the fstab line of docs/fstab.md, through mount(8)
    and mount.fuse, which run `awsfs awsfs DIR -o OPTS,dev,suid` with mount(8)'s clean PATH (so the
    test lends it a /usr/local/sbin with awsfs in it, in a private mount namespace)."""
    path = tempfile.mkdtemp(prefix="awsfs-mount-", dir=MOUNT_BASE)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "awsfs").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m awsfs \"$@\"\n")
    (bindir / "awsfs").chmod(0o755)
    log_file = tmp_path / "awsfs.log"
    opts = f"endpoint_url={local_aws.url},regions=us-east-1,eu-west-1,ro,nofail,log_file={log_file}"
    env = {**os.environ, "FUSE_LIBRARY_NAME": libfuse}
    try:
        if MOUNT_FUSE and _private_mounts_work():
            fstab = tmp_path / "fstab"
            fstab.write_text(f"awsfs  {path}  fuse.awsfs  noauto,nofail,_netdev,x-systemd.automount,"
                             f"endpoint_url={local_aws.url},regions=us-east-1:eu-west-1,cache_ttl=30,"
                             f"log_file={log_file}  0  0\n")
            script = (f"set -e\nmount --bind {bindir} /usr/local/sbin\n"
                      f"trap 'fusermount -u -z {path} 2>/dev/null || true' EXIT\n"
                      f"mount -t fuse.awsfs awsfs {path} -o {opts}\n"
                      f"ls {path}/ec2\necho ---\ncat {path}/.awsfs/status\necho ---\n"
                      f"sh -c 'echo x > {path}/ec2/us-east-1/probe' 2>&1 || true\necho ---\n"
                      f"umount {path}\nmount --fstab {fstab} {path}\nls {path}/ec2\numount {path}\n")
            r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                               timeout=60, env=env, cwd=tmp_path)
            assert r.returncode == 0, r.stdout + r.stderr
            regions, status, write, again = r.stdout.split("---\n")
            assert regions.split() == ["eu-west-1", "us-east-1"] and again.split() == regions.split()
            assert json.loads(status)["binding"].startswith("libfuse 3." if libfuse == "fuse3" else "libfuse 2.")
            assert "Read-only file system" in write
        else:  # no mount(8) to try here: the argument form mount.fuse uses
            cmd = ([MOUNT_FUSE, "awsfs", path, "-t", "fuse.awsfs", "-o", opts] if MOUNT_FUSE
                   else awsfs_cmd("awsfs", path, "-o", f"{opts},dev,suid"))
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                               env={**env, "PATH": f"{bindir}:{os.environ.get('PATH', '')}"})
            assert r.returncode == 0, r.stderr
            assert sorted(os.listdir(f"{path}/ec2")) == ["eu-west-1", "us-east-1"]
            unmount(path)
        mounts = [line for line in log_lines(log_file) if line.get("event") == "mount"]
        assert mounts and all(set(m["ignored_options"]) >= {"dev", "suid"} or not MOUNT_FUSE for m in mounts)
        assert [line.get("event") for line in log_lines(log_file)].count("unmount") == len(mounts)
    finally:
        unmount(path)
        os.rmdir(path)
