"""Trust through a real mount: two programs on one item, readers during saves, TTL 0, a killed
daemon. Each program is its own process, as users run them."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import awsfs_cmd, unmount, wait_for

R = "us-east-1"


def py(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout)


def get(boto, table, key):
    return boto("dynamodb").get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")


def test_two_programs_saving_one_item_the_second_gets_estale(mnt, ddb_table, boto):
    """Both read the item, the first saves, the second saves its version of the old content: the
    second is refused (ESTALE) and the first change is kept."""
    t = ddb_table([{"id": "a", "n": 0}])
    p = mnt.p(f"dynamo/{R}/{t}/a.json")
    second = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, json
        p = sys.argv[1]
        old = open(p).read()
        sys.stdout.write("read\\n"); sys.stdout.flush()
        sys.stdin.readline()                       # wait until the first program has saved
        try:
            with open(p, "w") as f:
                f.write(old.replace('"n": 0', '"n": 2'))
            print("saved")
        except OSError as e:
            print("refused", e.errno)
        """), p], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert second.stdout.readline() == "read\n"
    first = py("""
        import sys
        p = sys.argv[1]
        old = open(p).read()
        with open(p, "w") as f:
            f.write(old.replace('"n": 0', '"n": 1'))
        """, p)
    assert first.returncode == 0, first.stderr
    out, _ = second.communicate("go\n", timeout=60)
    import errno
    assert out.strip() == f"refused {errno.ESTALE}"
    assert get(boto, t, "a")["n"] == {"N": "1"}
    assert "changed" in mnt.errors()


READER = """
import os, sys, time
p, small, big, stop = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), float(sys.argv[4])
reads = bad = refused = 0
while time.time() < stop:
    stage = "open"
    try:
        fd = os.open(p, os.O_RDONLY)
        try:
            stage = "read"
            got = b""
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                got += chunk
        finally:
            os.close(fd)
    except OSError as e:
        if stage == "open" and e.errno in (2, 116):
            refused += 1  # libfuse's node of the old version went with the rename (see the test)
        else:
            bad += 1
            print("error", stage, e.errno, file=sys.stderr)
        continue
    reads += 1
    if got not in (small, big):
        bad += 1
        print("torn", len(got), file=sys.stderr)
print(reads, bad, refused)
"""

WRITER = """
import os, sys
p, small, big, n, style = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), int(sys.argv[4]), sys.argv[5]
d = os.path.dirname(p)
for i in range(n):
    data = big if i % 2 == 0 else small
    if style == "in-place":
        with open(p, "wb") as f:   # O_TRUNC, write, close
            f.write(data)
    else:                           # sed -i: a scratch file renamed onto the item
        tmp = os.path.join(d, "sedAb%04d" % i)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, p)
print("done")
"""


def test_readers_during_saves_get_one_version_whole_and_nothing_hangs(mnt, ddb_table, boto, tmp_path, libfuse):
    """One writer saves an item again and again (120 B and 40 KB versions, in place and by
    rename) while three reader processes read it in a loop: every read is one version, whole;
    no read fails; the writer and the readers finish (a deadlock used to hang every lookup)."""
    t = ddb_table([{"id": "a", "v": "s"}])
    p = mnt.p(f"dynamo/{R}/{t}/a.json")
    small = tmp_path / "small.json"
    big = tmp_path / "big.json"
    small.write_text(json.dumps({"id": "a", "v": "s" * 90}, indent=2) + "\n")
    big.write_text(json.dumps({"id": "a", "v": "b" * 40_000}, indent=2) + "\n")
    os.system(f"cp {small} {p}")
    for style in ("in-place", "rename"):
        stop = time.time() + 8
        readers = [subprocess.Popen([sys.executable, "-c", READER, p, str(small), str(big), str(stop)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        w = subprocess.run([sys.executable, "-c", WRITER, p, str(small), str(big), "40", style],
                           capture_output=True, text=True, timeout=60)
        assert w.returncode == 0 and w.stdout.strip() == "done", (style, w.stderr)
        for r in readers:
            out, err = r.communicate(timeout=60)
            reads, bad, refused = map(int, out.split())
            assert reads > 0 and bad == 0, (style, err[:500])
            # An open that reaches libfuse while a rename onto the item is being committed waits
            # for libfuse's lock on the item's node, and that node is gone when the rename is done:
            # libfuse 3 answers ESTALE, and the kernel then looks the name up again and opens the
            # new version (measured: about 1 in 10,000 opens still refused under 40 saves a
            # second). libfuse 2 answers ENOENT, which the kernel does not retry: 5% of such opens
            # fail there (README, "Known limits"). In-place saves refuse no open on either.
            if style == "in-place":
                assert refused == 0
            elif libfuse == "fuse3":
                assert refused <= max(3, reads // 1000), (style, reads, refused)
    with open(p) as f:
        assert json.load(f)["v"] == "s" * 90  # the last version saved
    assert get(boto, t, "a")["v"] == {"S": "s" * 90}


def test_ttl_zero_lists_once_per_command(mount_awsfs, ddb_table, boto):
    t = ddb_table([{"c": "alice", "o": i, "v": "x"} for i in range(40)], hash=("c", "S"), range=("o", "N"))
    m = mount_awsfs("--cache-ttl", "0")
    d = f"dynamo/{R}/{t}/alice"
    before = m.calls()
    r = m.sh(f"ls -l {d}")
    assert len(r.stdout.splitlines()) == 41  # "total" and 40 items
    assert m.calls() - before <= 8, m.status()["aws_calls"]  # a handful, not one per item
    assert m.sh(f"ls {d}").stdout.split()  # the partition does not vanish
    boto("dynamodb").put_item(TableName=t, Item={"c": {"S": "alice"}, "o": {"N": "99"}})
    assert "99.json" in m.sh(f"ls {d}").stdout.split()  # a new command asks again


def test_kill_9_mid_copy_leaves_every_item_whole_and_remounting_works(local_aws, ddb_table, boto, tmp_path, libfuse):
    """`cp -r` of 200 items into a table, and the daemon killed with SIGKILL half way: every item in
    AWS is whole (one of the copied files, exactly), and after `fusermount -u -z` the same mount
    point mounts again."""
    t = ddb_table([])
    src = tmp_path / "items"
    src.mkdir()
    for i in range(200):
        (src / f"k{i:03d}.json").write_text(json.dumps({"id": f"k{i:03d}", "pad": "p" * 2000, "n": i}) + "\n")
    import tempfile
    from conftest import MOUNT_BASE
    path = tempfile.mkdtemp(prefix="awsfs-kill-", dir=MOUNT_BASE)
    env = {**os.environ, "FUSE_LIBRARY_NAME": libfuse}
    args = [path, "--endpoint-url", local_aws.url, "--regions", R, "--log-file", str(tmp_path / "log")]
    try:
        r = subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        daemon = int(subprocess.run(["pgrep", "-f", f"awsfs {path}"], capture_output=True, text=True).stdout.split()[0])
        cp = subprocess.Popen(f"cp -r {src}/. {path}/dynamo/{R}/{t}/", shell=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: boto("dynamodb").scan(TableName=t, Select="COUNT")["Count"] >= 50, timeout=60,
                 what="the copy to be under way")
        os.kill(daemon, signal.SIGKILL)
        cp.wait(timeout=60)
        assert cp.returncode != 0  # the copy was cut short, and cp says so
        got = boto("dynamodb").scan(TableName=t)["Items"]
        assert 50 <= len(got) < 200
        for it in got:
            i = int(it["n"]["N"])
            assert it == {"id": {"S": f"k{i:03d}"}, "pad": {"S": "p" * 2000}, "n": {"N": str(i)}}
        subprocess.run(["fusermount" if shutil.which("fusermount") else "fusermount3", "-u", "-z", path],
                       capture_output=True)
        r = subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert len(os.listdir(f"{path}/dynamo/{R}/{t}")) == len(got) + 1
    finally:
        unmount(path)
        os.rmdir(path)


@pytest.mark.parametrize("op", ["vim", "mv"])
def test_kill_9_mid_save_or_move_leaves_the_old_or_the_new_item(local_aws, fault_proxy, ddb_table, boto, tmp_path,
                                                               libfuse, op):
    """The daemon is killed (SIGKILL) while its PutItem (a vim save) or TransactWriteItems (mv) is
    on its way to AWS, held at the proxy; the request then arrives or not. Either way the item is
    the old version or the new one, whole, under one name."""
    t = ddb_table([{"id": "a", "color": "red", "pad": "p" * 5000}])
    import tempfile
    from conftest import MOUNT_BASE
    path = tempfile.mkdtemp(prefix="awsfs-kill-", dir=MOUNT_BASE)
    env = {**os.environ, "FUSE_LIBRARY_NAME": libfuse}
    args = [path, "--endpoint-url", fault_proxy.url, "--regions", R, "--log-file", str(tmp_path / "log")]
    operation = {"vim": "PutItem", "mv": "TransactWriteItems"}[op]
    try:
        assert subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=60, env=env).returncode == 0
        daemon = int(subprocess.run(["pgrep", "-f", f"awsfs {path}"], capture_output=True, text=True).stdout.split()[0])
        d = f"{path}/dynamo/{R}/{t}"
        fault_proxy.add(operation, "stall", seconds=60)
        cmd = (f"vim -N -u NONE -i NONE -es -c '%s/red/blue/' -c wq {d}/a.json" if op == "vim"
               else f"mv {d}/a.json {d}/b.json")
        tool = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: fault_proxy.rules[0].hits == 1, timeout=30, what=f"the {operation} to be held")
        os.kill(daemon, signal.SIGKILL)
        tool.wait(timeout=30)
        fault_proxy.release()
        time.sleep(0.5)  # the held request reaches AWS, or not
        items = boto("dynamodb").scan(TableName=t, ConsistentRead=True)["Items"]
        assert len(items) == 1, items
        (item,) = items
        assert item["pad"] == {"S": "p" * 5000}
        if op == "vim":
            assert item["id"] == {"S": "a"} and item["color"]["S"] in ("red", "blue")
        else:
            assert item["id"]["S"] in ("a", "b") and item["color"] == {"S": "red"}
        subprocess.run(["fusermount" if shutil.which("fusermount") else "fusermount3", "-u", "-z", path],
                       capture_output=True)
        assert subprocess.run(awsfs_cmd(*args), capture_output=True, text=True, timeout=60, env=env).returncode == 0
        assert os.listdir(d)
    finally:
        fault_proxy.reset()
        unmount(path)
        os.rmdir(path)
