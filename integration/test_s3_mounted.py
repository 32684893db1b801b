"""S3 through a real mount, by the programs people use.

Every test makes a bucket of its own and checks what the user sees (exit codes, listings,
/.awsfs/errors) and what S3 holds, with boto3. Mounts live outside /tmp (editors behave there as
they do for users).
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from conftest import Tmux, wait_for

R = "us-east-1"
VIM = {"rename": "vim -N -u NONE -i NONE -es", "copy": "vim -u NONE -i NONE -es"}  # backupcopy=auto / =yes


@pytest.fixture
def bucket(boto):
    """A new bucket -> its name; emptied and deleted afterwards."""
    made = []

    def make(objects: dict | None = None) -> str:
        name = f"it-{uuid.uuid4().hex[:10]}"
        s3 = boto("s3", R)
        s3.create_bucket(Bucket=name)
        for key, body in (objects or {}).items():
            s3.put_object(Bucket=name, Key=key, Body=body)
        made.append(name)
        return name
    yield make
    s3 = boto("s3", R)
    for name in made:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)


def _empty(s3, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def crowded(local_aws):
    """One bucket for the tests that only read (both libfuse versions): 1,100 objects at its top
    (two pages), 1,200 under many/, and a few in a/ and a/b/."""
    import boto3
    from concurrent.futures import ThreadPoolExecutor
    s3 = boto3.client("s3", region_name=R, endpoint_url=local_aws.url)
    name = f"it-crowded-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    objects = {f"k{i:04d}": b"x" for i in range(1100)}
    objects.update({f"many/{i:04d}.txt": f"line {i}\n".encode() for i in range(1200)})
    objects.update({"a/x": b"needle here\n", "a/b/y": b"nothing\n", "top": b"needle\n"})
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=name, Key=kv[0], Body=kv[1]), objects.items()))
    yield name
    _empty(s3, name)


def body(boto, b: str, key: str) -> bytes | None:
    s3 = boto("s3", R)
    try:
        return s3.get_object(Bucket=b, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def calls(mnt, op: str) -> int:
    return mnt.status()["aws_calls"].get(f"s3:{op}", 0)


def q(s: str) -> str:
    return shlex.quote(s)


def test_ls_l_find_du_and_grep_cost_the_listing_pages_and_the_gets_only(mount_awsfs, crowded):
    """1,200 objects in one prefix: `ls -l` is its two ListObjectsV2 pages and, to find the prefix,
    the first page of the bucket's top (it is not there: a HeadObject tells it is no object); `find`
    and `du` of the bucket add the pages not yet listed (going down, a flat listing); `grep -r` adds one GetObject per file."""
    b = crowded
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"ls -l s3/{b}/many")
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("-")]
    assert len(rows) == 1200 and rows[0].split()[4] == str(len(b"line 0\n"))
    assert (calls(mnt, "ListObjectsV2"), calls(mnt, "HeadObject"), calls(mnt, "GetObject")) == (1 + 2, 1, 0)
    found = mnt.sh(f"find s3/{b} -type f").stdout.split()
    assert len(found) == 2303 and f"s3/{b}/a/b/y" in found
    listed = calls(mnt, "ListObjectsV2")
    # the top's second page, then find goes down: one flat page (no delimiter) from a/ on makes the
    # listings of a/ and a/b/ (many/ was listed already)
    assert listed == 3 + 2
    mnt.sh(f"du -s s3/{b}")
    assert calls(mnt, "ListObjectsV2") == listed and calls(mnt, "HeadObject") == 1
    hits = mnt.sh(f"grep -rl needle s3/{b}/a s3/{b}/top").stdout.split()
    assert sorted(hits) == [f"s3/{b}/a/x", f"s3/{b}/top"]
    assert calls(mnt, "GetObject") == 3 and calls(mnt, "HeadObject") == 1
    assert calls(mnt, "ListObjectsV2") == listed


def test_cp_in_and_out_big_and_small_and_dd_reads_what_it_reads(mount_awsfs, bucket, boto, tmp_path):
    b = bucket({"small.txt": b"hello\n"})
    mnt = mount_awsfs(regions=R)
    big = os.urandom(20 << 20)
    (tmp_path / "big.bin").write_bytes(big)
    mnt.sh(f"cp {tmp_path}/big.bin s3/{b}/big.bin")                       # a multipart upload
    assert hashlib.sha256(body(boto, b, "big.bin")).digest() == hashlib.sha256(big).digest()
    assert calls(mnt, "CompleteMultipartUpload") == 1 and calls(mnt, "UploadPart") == 3
    out = mnt.sh(f"sha256sum s3/{b}/big.bin").stdout.split()[0]
    assert out == hashlib.sha256(big).hexdigest()
    mnt.sh(f"cp s3/{b}/small.txt {tmp_path}/small.txt")
    assert (tmp_path / "small.txt").read_bytes() == b"hello\n"
    before = calls(mnt, "GetObject")
    r = subprocess.run(["dd", f"if={mnt.p(f's3/{b}/big.bin')}", "bs=4096", "skip=1000", "count=2", "status=none"],
                       capture_output=True, check=True)
    assert r.stdout == big[4096 * 1000:4096 * 1002]
    assert calls(mnt, "GetObject") - before <= 1 + 4  # the range it reads (and the read-ahead after it)
    assert mnt.errors() == ""


@pytest.mark.parametrize("way", sorted(VIM))
def test_vim_saves_twice_then_sed_i_and_append(mount_awsfs, bucket, boto, way):
    b = bucket({"conf/app.ini": b"[app]\nmode = slow\n"})
    mnt = mount_awsfs(regions=R)
    f = f"s3/{b}/conf/app.ini"
    for n, word in enumerate(("fast", "faster")):
        r = mnt.sh(f"{VIM[way]} -c '%s/mode = .*/mode = {word}/' -c wq {f}", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert body(boto, b, "conf/app.ini") == f"[app]\nmode = {word}\n".encode()
    mnt.sh(f"sed -i 's/faster/fastest/' {f} && /bin/echo 'debug = on' >> {f}")
    assert body(boto, b, "conf/app.ini") == b"[app]\nmode = fastest\ndebug = on\n"
    assert sorted(mnt.sh(f"ls -a s3/{b}/conf").stdout.split()) == [".", "..", "app.ini"]  # no swap, no backup
    # four saves: one check (HeadObject) and one PutObject each; one read each; editors' scratch
    # names cost nothing (the listing of conf/ answers for them)
    assert {op: calls(mnt, op) for op in ("ListObjectsV2", "HeadObject", "GetObject", "PutObject")} == {
        "ListObjectsV2": 2, "HeadObject": 4, "GetObject": 4, "PutObject": 4}
    assert mnt.errors() == ""


@pytest.mark.skipif(not shutil.which("tmux") or not shutil.which("nano"), reason="needs tmux and nano")
def test_nano_in_tmux_saves_an_object_in_place_and_keeps_its_content_type(mount_awsfs, bucket, boto):
    """nano writes over the file it opened (truncate, write, close): one PutObject of the whole
    new content, conditional on the ETag it read, with the object's settings kept."""
    b = bucket()
    boto("s3", R).put_object(Bucket=b, Key="site/index.html", Body=b"<h1>hello red world</h1>\n",
                             ContentType="text/html; charset=utf-8")
    mnt = mount_awsfs(regions=R)
    ed = Tmux(mnt.p(f"s3/{b}/site"), "nano index.html")
    try:
        ed.wait("hello red world", "nano to show the object")
        ed.nano_replace_all("red", "green", "hello green")
        assert "Wrote" in ed.nano_save(), ed.screen()
        ed.keys("C-x")
        wait_for(lambda: not ed.alive(), what="nano to exit")
    finally:
        ed.kill()
    assert body(boto, b, "site/index.html") == b"<h1>hello green world</h1>\n"
    head = boto("s3", R).head_object(Bucket=b, Key="site/index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert calls(mnt, "PutObject") == 1 and mnt.errors() == ""
    assert sorted(mnt.sh(f"ls -a s3/{b}/site").stdout.split()) == [".", "..", "index.html"]  # no lock file left


def test_cmp_tar_and_rsync_out_of_a_bucket_give_back_what_went_in(mount_awsfs, bucket, boto, tmp_path):
    """A tree with a multipart object goes in with cp -r, then comes out with cmp, tar c and
    rsync -a, byte for byte; a second rsync out copies nothing."""
    src = tmp_path / "tree"
    (src / "deep" / "er").mkdir(parents=True)
    big = os.urandom(20 << 20)
    (src / "big.bin").write_bytes(big)
    for n in range(5):
        (src / "deep" / f"f{n}.txt").write_text(f"file {n}\n")
    (src / "deep" / "er" / "last.txt").write_text("last\n")
    b = bucket()
    mnt = mount_awsfs(regions=R)
    mnt.sh(f"cp -r {src} s3/{b}/tree")
    assert calls(mnt, "UploadPart") == 3 and hashlib.sha256(body(boto, b, "tree/big.bin")).digest() == \
        hashlib.sha256(big).digest()
    mnt.sh(f"cmp {src}/big.bin s3/{b}/tree/big.bin")
    mnt.sh(f"tar -C s3/{b} -cf {tmp_path}/out.tar tree")
    (tmp_path / "untarred").mkdir()
    subprocess.run(["tar", "-C", str(tmp_path / "untarred"), "-xf", str(tmp_path / "out.tar")], check=True)
    subprocess.run(["diff", "-r", str(src), str(tmp_path / "untarred" / "tree")], check=True)
    r = mnt.sh(f"rsync -a --stats s3/{b}/tree/ {tmp_path}/synced/", check=False)
    assert r.returncode == 0, r.stderr
    subprocess.run(["diff", "-r", str(src), str(tmp_path / "synced")], check=True)
    r = mnt.sh(f"rsync -a --stats s3/{b}/tree/ {tmp_path}/synced/")
    assert "Number of regular files transferred: 0" in r.stdout  # sizes and times from the listing, kept
    assert mnt.errors() == ""


def test_a_save_over_a_change_made_since_reading_is_estale_and_theirs_is_kept(mount_awsfs, bucket, boto, tmp_path):
    """Two programs: this one read the object, another (boto3) changed it; this one's save is
    refused, and a new name someone else took meanwhile is EEXIST."""
    b = bucket({"shared.txt": b"original\n"})
    mnt = mount_awsfs(regions=R)
    f = f"s3/{b}/shared.txt"
    writer = subprocess.Popen(["bash", "-c", f"exec 3<>{q(mnt.p(f))}; cat <&3; read -r _; "
                               "printf 'mine\\n' >&3; exec 3>&-; /bin/true"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "original\n"           # it has read the object
    boto("s3", R).put_object(Bucket=b, Key="shared.txt", Body=b"theirs\n")
    writer.communicate("go\n", timeout=30)
    assert body(boto, b, "shared.txt") == b"theirs\n"           # its save was refused: theirs is kept
    assert "ESTALE" in mnt.errors()
    (tmp_path / "mine").write_text("mine\n")
    r = mnt.sh(f"cat {f} >/dev/null; cp {tmp_path}/mine {f}")             # read again: the base moves
    assert r.returncode == 0 and body(boto, b, "shared.txt") == b"mine\n"
    assert "ESTALE" in mnt.errors() and "changed in S3 since you read it" in mnt.errors()


def test_rm_r_mv_mkdir_rmdir_tar_and_rsync(mount_awsfs, bucket, boto, tmp_path):
    b = bucket({"old/a.txt": b"a\n", "old/sub/b.txt": b"b\n", "keep.txt": b"k\n"})
    mnt = mount_awsfs(regions=R)
    d = f"s3/{b}"
    mnt.sh(f"mv {d}/keep.txt {d}/kept.txt && mkdir {d}/new && mv {d}/kept.txt {d}/new/")
    assert body(boto, b, "keep.txt") is None and body(boto, b, "new/kept.txt") == b"k\n"
    mnt.sh(f"rm -r {d}/old")
    assert [o["Key"] for o in boto("s3", R).list_objects_v2(Bucket=b).get("Contents", [])] == ["new/kept.txt"]
    src = tmp_path / "src"
    (src / "x" / "y").mkdir(parents=True)
    (src / "x" / "one.txt").write_text("1\n")
    (src / "x" / "y" / "two.txt").write_text("2\n")
    subprocess.run(["tar", "-C", str(src), "-cf", str(tmp_path / "t.tar"), "x"], check=True)
    mnt.sh(f"mkdir {d}/untar && tar -C {d}/untar -xf {tmp_path}/t.tar")
    assert body(boto, b, "untar/x/y/two.txt") == b"2\n"
    (src / "x" / "one.txt").write_text("uno\n")
    r = mnt.sh(f"rsync -r {src}/x/ {d}/untar/x/", check=False)
    assert r.returncode == 0, r.stderr
    assert body(boto, b, "untar/x/one.txt") == b"uno\n"
    mnt.sh(f"mkdir {d}/empty && rmdir {d}/empty && rm {d}/new/kept.txt && rmdir {d}/new")
    assert sorted(mnt.sh(f"ls -a {d}").stdout.split()) == [".", "..", "untar"]
    assert mnt.errors() == ""


def test_dot_files_are_objects_and_tools_temps_stay_in_the_mount(mount_awsfs, bucket, boto, tmp_path):
    """.htaccess, .gitignore or .well-known/ are S3 objects like any other; only editors' temp
    names (vim's .x.swp and x~) and the mkstemp names of sed -i and rsync, made by them, stay
    local: .env.stage1 or sedentary made by cp, tar or rsync are objects."""
    b = bucket()
    mnt = mount_awsfs(regions=R)
    site = tmp_path / "site"
    (site / ".well-known").mkdir(parents=True)
    (site / ".config.Xy12ab").mkdir()
    (site / ".gitignore").write_text("*.log\n")
    (site / ".well-known" / "security.txt").write_text("Contact: ops@example.com\n")
    (site / "db.bak").write_text("backup\n")
    (site / ".env.stage1").write_text("STAGE=1\n")            # the shape of rsync's temps
    (site / ".config.Xy12ab" / "sedentary").write_text("sit\n")  # the shape of sed's
    subprocess.run(["tar", "-C", str(site), "-cf", str(tmp_path / "site.tar"), "."], check=True)
    mnt.sh(f"cp {site}/.gitignore s3/{b}/.htaccess && mkdir s3/{b}/t && tar -C s3/{b}/t -xf {tmp_path}/site.tar")
    mnt.sh(f"rsync -a {site}/ s3/{b}/r/ && sed -i 's/log/tmp/' s3/{b}/r/.gitignore && /bin/echo A=1 > s3/{b}/.env")
    mnt.sh(f"cp {site}/.env.stage1 s3/{b}/.cfg.Ab12cd && sed -i 's/sit/stand/' s3/{b}/r/.config.Xy12ab/sedentary")
    keys = sorted(o["Key"] for o in boto("s3", R).list_objects_v2(Bucket=b)["Contents"])
    tree = [".config.Xy12ab/sedentary", ".env.stage1", ".gitignore", ".well-known/security.txt", "db.bak"]
    assert keys == [".cfg.Ab12cd", ".env", ".htaccess", *(f"r/{k}" for k in tree), *(f"t/{k}" for k in tree)]
    assert body(boto, b, "r/.gitignore") == b"*.tmp\n" and body(boto, b, ".env") == b"A=1\n"
    assert body(boto, b, "r/.config.Xy12ab/sedentary") == b"stand\n"
    assert body(boto, b, "r/.env.stage1") == body(boto, b, ".cfg.Ab12cd") == b"STAGE=1\n"
    r = mnt.sh(f"rsync -a --inplace {site}/.env.stage1 s3/{b}/in/", check=False)  # --inplace: no temp
    assert r.returncode == 0, r.stderr
    assert body(boto, b, "in/.env.stage1") == b"STAGE=1\n"
    assert mnt.errors() == ""


def test_rsync_and_sed_i_of_a_file_bigger_than_a_scratch_file_elsewhere(mount_awsfs, bucket, boto, tmp_path):
    """rsync's and sed's temps in a bucket hold what an object may (on local disk), not 64 MB."""
    b = bucket()
    mnt = mount_awsfs(regions=R)
    big = b"".join(b"line %08d\n" % i for i in range(6_600_000))  # 92 MB
    (tmp_path / "big.txt").write_bytes(big)
    r = mnt.sh(f"rsync {tmp_path}/big.txt s3/{b}/big.txt", check=False)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(body(boto, b, "big.txt")).digest() == hashlib.sha256(big).digest()
    r = mnt.sh(f"sed -i 's/^line 00000000$/first/' s3/{b}/big.txt", check=False)
    assert r.returncode == 0, r.stderr
    assert body(boto, b, "big.txt")[:16] == b"first\nline 00000"
    assert mnt.errors() == ""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_writer_killed_midway_saves_nothing(mount_awsfs, bucket, boto, how):
    """The kernel closes a killed writer's files (a flush like any close): awsfs tells it from a
    close by its exit (a signal) and saves nothing: the old object stays, the parts sent early are
    aborted, a new name is not made, and the errors file says why."""
    b = bucket({"data/big.bin": b"old content\n"})
    mnt = mount_awsfs(regions=R)
    for key in ("data/big.bin", "data/new.bin"):
        # (cat dies of the signal; a program that handles it and then closes its file, as Python
        # and dd do on SIGINT, closes like one that is done: that is saved, see the README)
        sent = calls(mnt, "UploadPart")
        p = subprocess.Popen(["sh", "-c", f"exec cat /dev/urandom > {shlex.quote(mnt.p(f's3/{b}/{key}'))}"])
        wait_for(lambda: calls(mnt, "UploadPart") >= sent + 2 or p.poll() is not None, timeout=30,
                 what="parts to go up while the writer writes")
        assert p.poll() is None
        p.send_signal(getattr(signal, how))
        p.wait(timeout=30)
        wait_for(lambda: boto("s3", R).list_multipart_uploads(Bucket=b).get("Uploads", []) == [], timeout=10,
                 what="the early upload to be aborted")
        assert body(boto, b, "data/big.bin") == b"old content\n"
        assert body(boto, b, "data/new.bin") is None
        assert "killed" in mnt.errors() and key in mnt.errors()
    assert calls(mnt, "CompleteMultipartUpload") == 0 and calls(mnt, "PutObject") == 0
    assert sorted(mnt.sh(f"ls s3/{b}/data").stdout.split()) == ["big.bin"]
    assert mnt.sh(f"cat s3/{b}/data/big.bin").stdout == "old content\n"


def test_a_file_closed_by_an_exec_is_saved_and_the_exec_goes_on(mount_awsfs, bucket, boto):
    """A file left open across execve (close-on-exec, as vim's :! children and shells' `exec`
    make) is closed by the exec: a finished close, saved, and the exec is not held up."""
    b = bucket()
    mnt = mount_awsfs(regions=R)
    path = mnt.p(f"s3/{b}/exec.txt")
    code = ("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644); "
            "os.write(fd, b'written before exec\\n'); os.execv('/bin/true', ['true'])")
    r = subprocess.run([sys.executable, "-c", code, path], timeout=30)
    assert r.returncode == 0
    assert body(boto, b, "exec.txt") == b"written before exec\n"
    assert mnt.errors() == ""


def test_rm_r_deletes_a_directory_in_batches_and_rm_ri_one_by_one(mount_awsfs, bucket, boto):
    """rm -r's first unlink in a directory sends the others it will ask for in one DeleteObjects;
    rm -i (which may say no to any of them) gets one DeleteObject per yes."""
    objects = {f"gone/f{i:02d}": b"x" for i in range(40)}
    objects.update({f"gone/sub/g{i:02d}": b"y" for i in range(20)})
    objects.update({"asked/a": b"1", "asked/b": b"2", "asked/c": b"3", "keep/k": b"k"})
    b = bucket(objects)
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"rm -rv s3/{b}/gone", check=False)
    assert r.returncode == 0, r.stderr
    assert sum(1 for ln in r.stdout.splitlines() if ln.startswith("removed '")) == 60  # rm saw each unlink done
    assert (calls(mnt, "DeleteObjects"), calls(mnt, "DeleteObject")) == (2, 2)  # one batch + its own, per directory
    # yes: go into asked/, remove a; no: b; yes: c; then no more answers (no: the directory stays)
    mnt.sh(f"printf 'y\\ny\\nn\\ny\\n' | rm -ri s3/{b}/asked", check=False)
    assert (calls(mnt, "DeleteObjects"), calls(mnt, "DeleteObject")) == (2, 2 + 2)
    left = sorted(o["Key"] for o in boto("s3", R).list_objects_v2(Bucket=b).get("Contents", []))
    assert left == ["asked/b", "keep/k"]
    assert mnt.sh(f"ls s3/{b}").stdout.split() == ["asked", "keep"]
    assert mnt.errors() == ""


def test_mv_of_a_directory_to_another_bucket_and_rsync_a_again_and_again(mount_awsfs, bucket, boto, tmp_path):
    """mv across buckets copies, then removes each file and then each directory (which stays, empty,
    until its rmdir); rsync -a sets directories' times (a refresh of each) between its writes."""
    b1, b2 = bucket({"mvd/a.txt": b"a\n", "mvd/sub/b.txt": b"b\n"}), bucket()
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"mv s3/{b1}/mvd s3/{b2}/", check=False)
    assert (r.returncode, r.stderr) == (0, "")
    assert sorted(o["Key"] for o in boto("s3", R).list_objects_v2(Bucket=b2)["Contents"]) == ["mvd/a.txt",
                                                                                              "mvd/sub/b.txt"]
    assert boto("s3", R).list_objects_v2(Bucket=b1)["KeyCount"] == 0 and mnt.sh(f"ls s3/{b1}").stdout == ""
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    for n in range(3):  # (sizes differ: S3 keeps no mtime rsync sets, see the README's S3 limits)
        (src / "sub" / "x.txt").write_text("x" * (n + 1) + "\n")
        (src / "y.txt").write_text(f"y{n}\n")
        r = mnt.sh(f"rsync -a {src}/ s3/{b2}/synced/", check=False)
        assert r.returncode == 0, r.stderr
        assert body(boto, b2, "synced/sub/x.txt") == b"x" * (n + 1) + b"\n"
    assert mnt.errors() == ""


def test_the_versions_of_a_key_through_the_mount(mount_awsfs, bucket, boto):
    b = bucket()
    s3 = boto("s3", R)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket=b, Key="conf/app.ini", Body=f"release {n}\n".encode())["VersionId"] for n in range(3)]
    mnt = mount_awsfs(regions=R)
    d = f"s3/{b}/.versions/conf/app.ini"
    assert sorted(mnt.sh(f"ls {d}").stdout.split()) == sorted(ids)
    assert mnt.sh(f"cat {d}/{ids[0]}").stdout == "release 0\n"
    assert mnt.sh(f"cd s3/{b}/.versions/conf && ls app.ini/{ids[1]}").stdout.strip() == f"app.ini/{ids[1]}"
    r = mnt.sh(f"echo x > {d}/{ids[0]}", check=False)
    assert r.returncode != 0 and body(boto, b, "conf/app.ini") == b"release 2\n"
    assert ".versions" not in mnt.sh(f"ls -a s3/{b}").stdout and mnt.sh(f"ls s3/{b}/.versions").stdout.split() == ["conf"]


def test_getfattr_setfattr_and_bucket_json(mount_awsfs, bucket, boto):
    b = bucket()
    boto("s3", R).put_object(Bucket=b, Key="page.html", Body=b"<p>hi</p>", ContentType="text/html",
                             Metadata={"owner": "web"})
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"getfattr -d s3/{b}/page.html")
    assert 'user.s3.content-type="text/html"' in r.stdout and 'user.s3.meta.owner="web"' in r.stdout
    mnt.sh(f"setfattr -n user.s3.content-type -v 'text/html; charset=utf-8' s3/{b}/page.html")
    head = boto("s3", R).head_object(Bucket=b, Key="page.html")
    assert head["ContentType"] == "text/html; charset=utf-8" and head["Metadata"] == {"owner": "web"}
    r = mnt.sh(f"setfattr -n user.s3.etag -v x s3/{b}/page.html", check=False)
    assert r.returncode != 0
    info = mnt.sh(f"cat s3/{b}/.bucket.json").stdout
    assert f'"Name": "{b}"' in info and '"Region": "us-east-1"' in info


# -- faults between the mount and S3 (tests/faultproxy.py) ------------------------------------------

FAST_RETRIES = "import functools, awsfs.aws as a\na.Aws.__init__ = functools.partialmethod(a.Aws.__init__, backoff=0.01)\n"


def proxied(mount_awsfs, fault_proxy):
    return mount_awsfs("--endpoint-url", fault_proxy.url, regions=R, setup=FAST_RETRIES)


@pytest.mark.parametrize("fault,options", [("truncate", {"keep": 100, "fix_length": False}), ("5xx_json", {}),
                                           ("reset_before", {})], ids=["cut-body", "5xx", "reset"])
def test_a_read_that_fails_is_retried_or_eio_never_short_and_never_kept(mount_awsfs, fault_proxy, bucket, fault,
                                                                         options):
    data = os.urandom(300_000)
    b = bucket({"f.bin": data})
    m = proxied(mount_awsfs, fault_proxy)
    fault_proxy.add("GetObject", fault, **options)                     # once: retried inside awsfs
    assert m.sh(f"sha256sum s3/{b}/f.bin").stdout.split()[0] == hashlib.sha256(data).hexdigest()
    m2 = proxied(mount_awsfs, fault_proxy)
    fault_proxy.add("GetObject", fault, times=None, **options)         # lasting: an error, not a short file
    r = m2.sh(f"cat s3/{b}/f.bin | wc -c", check=False, executable="/bin/bash")
    assert "Input/output error" in r.stderr and r.stdout.strip() == "0"
    fault_proxy.reset()
    assert m2.sh(f"sha256sum s3/{b}/f.bin").stdout.split()[0] == hashlib.sha256(data).hexdigest()


def test_a_listing_that_fails_is_an_error_not_an_empty_or_short_directory(mount_awsfs, fault_proxy, crowded):
    b = crowded
    m = proxied(mount_awsfs, fault_proxy)
    fault_proxy.add("ListObjectsV2", "5xx_json", skip=1, times=None)   # the second page of the bucket's top
    r = m.sh(f"ls s3/{b} | wc -l", check=False, executable="/bin/bash")
    assert "Input/output error" in r.stderr, r.stderr
    assert m.sh(f"cat s3/{b}/k1099").stdout == "x"                    # past the known page: HeadObject, then read
    fault_proxy.reset()
    assert len(m.sh(f"ls s3/{b}").stdout.split()) == 1100 + 3          # k*, a, many, top


def test_find_down_a_bucket_whose_flat_listing_fails_says_so_and_hides_nothing(mount_awsfs, fault_proxy, bucket):
    b = bucket({f"d{d}/f{n}": b"x" for d in range(5) for n in range(3)})
    want = sorted(f"s3/{b}/d{d}/f{n}" for d in range(5) for n in range(3))
    m = proxied(mount_awsfs, fault_proxy)
    fault_proxy.add("ListObjectsV2", "5xx_json", skip=1, times=None)   # all but the top's own listing
    r = m.sh(f"find s3/{b} -type f", check=False)
    assert r.returncode != 0 and "Input/output error" in r.stderr, r.stderr
    assert r.stdout.split() == []                                       # no directory passed off as empty
    fault_proxy.reset()
    fault_proxy.add("ListObjectsV2", "throttle", skip=0, times=1)       # transient: retried, nothing missing
    assert sorted(m.sh(f"find s3/{b} -type f").stdout.split()) == want


def test_a_failed_multipart_upload_leaves_nothing_and_an_unknown_put_is_looked_up(mount_awsfs, fault_proxy, bucket,
                                                                                  boto, tmp_path):
    b = bucket({"big.bin": b"old"})
    m = proxied(mount_awsfs, fault_proxy)
    (tmp_path / "big").write_bytes(os.urandom(20 << 20))
    fault_proxy.add("UploadPart", "5xx_json", skip=1, times=None)
    r = m.sh(f"cat s3/{b}/big.bin >/dev/null; cp {tmp_path}/big s3/{b}/big.bin", check=False)
    assert r.returncode != 0 and body(boto, b, "big.bin") == b"old"
    assert boto("s3", R).list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    fault_proxy.reset()
    (tmp_path / "small").write_bytes(b"new small\n")
    fault_proxy.add("PutObject", "drop_after")                          # applied, but no answer came back
    m.sh(f"cp {tmp_path}/small s3/{b}/small.txt")
    assert body(boto, b, "small.txt") == b"new small\n" and fault_proxy.seen["PutObject"] == 1
