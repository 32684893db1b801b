"""The command line: --demo mounts and unmounts cleanly; problems are caught before mounting."""
import os
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse

from conftest import LIBFUSE, MOUNT_BASE, awsfs_cmd, unmount


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
            status = __import__("json").load(f)
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
    import json
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
