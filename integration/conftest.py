"""Real mounts: awsfs runs as its own (daemonized) process against the session's moto server."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

# Outside /tmp on purpose: vim's default 'backupskip' covers /tmp/* and would hide its rename-save.
MOUNT_BASE = os.environ.get("AWSFS_TEST_MOUNT_BASE", "/var/tmp")

if not os.path.exists("/dev/fuse") or not shutil.which("fusermount"):
    pytest.skip("FUSE is not available (scripts/install sets it up)", allow_module_level=True)


def awsfs_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "awsfs", *args]


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


@pytest.fixture
def mount_awsfs(local_aws, tmp_path):
    made: list[str] = []

    def mount(*extra: str, regions: str = "us-east-1,eu-west-1") -> Mount:
        path = tempfile.mkdtemp(prefix="awsfs-it-", dir=MOUNT_BASE)
        log_file = str(tmp_path / f"awsfs-{len(made)}.log")
        args = [path, "--endpoint-url", local_aws.url, "--regions", regions, "--log-file", log_file, *extra]
        r = subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=60)
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
