"""S3 without a mount: the filesystem driven directly, S3 checked with boto3."""
import base64
import errno
import hashlib
import os
import subprocess
import time

import pytest

from awsfs.errors import FsError
from awsfs.services import s3
from helpers import create, read, save, spent_since

W = os.O_WRONLY
R = "us-east-1"


@pytest.fixture
def s3fs(make_fs):
    return make_fs(regions=[R])


@pytest.fixture
def bucket(boto, unique):
    """A bucket of the test's own (emptied and deleted afterwards); ``region`` picks where."""
    made = []

    def make(region: str = R) -> str:
        name = unique("b")
        s3 = boto("s3", region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        made.append((name, region))
        return name
    yield make
    for name, region in made:
        s3 = boto("s3", region)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)


def put(boto, b, key, body, region=R, **kw):
    return boto("s3", region).put_object(Bucket=b, Key=key, Body=body, **kw)


def get(boto, b, key, region=R):
    try:
        return boto("s3", region).get_object(Bucket=b, Key=key)["Body"].read()
    except boto("s3", region).exceptions.NoSuchKey:
        return None


def test_buckets_prefixes_and_objects_with_sizes_from_the_listing(s3fs, boto, bucket):
    b = bucket()
    e = bucket("eu-west-1")  # the mount serves us-east-1 only: buckets are not hidden by --regions
    for k in ("top.txt", "a/one", "a/two", "a/deep/three", "dir/"):
        put(boto, b, k, k.encode() * 3)
    put(boto, e, "x", b"in eu")
    assert {b, e} <= set(s3fs.listdir("/s3"))
    assert s3fs.listdir(f"/s3/{b}") == ["a", "dir", "top.txt"]  # .bucket.json is read by name only
    assert b'"Region": "us-east-1"' in read(s3fs, f"/s3/{b}/.bucket.json")
    assert s3fs.listdir(f"/s3/{b}/a") == ["deep", "one", "two"]
    calls = s3fs.aws.total_calls()
    st = s3fs.getattr(f"/s3/{b}/a/one")
    assert st.size == len(b"a/one" * 3) and s3fs.getattr(f"/s3/{b}/a/deep").kind == "dir"
    assert s3fs.aws.total_calls() == calls  # the listing gave sizes and times: no HeadObject
    assert read(s3fs, f"/s3/{b}/a/deep/three") == b"a/deep/three" * 3
    assert read(s3fs, f"/s3/{e}/x") == b"in eu"
    assert s3fs.listdir(f"/s3/{b}/dir") == []  # a zero-byte marker is a directory
    with pytest.raises(FsError) as err:
        s3fs.getattr(f"/s3/{b}/nope")
    assert err.value.errno == errno.ENOENT


def test_a_new_object_and_a_save_over_it_keep_its_content_type_and_metadata(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "page.html", b"<p>old</p>", ContentType="text/html; charset=utf-8", Metadata={"owner": "web"})
    with pytest.raises(FsError) as e:
        create(s3fs, f"/s3/{b}/notes/today.txt", b"first\n")   # no such directory yet
    assert e.value.errno == errno.ENOENT
    s3fs.mkdir(f"/s3/{b}/notes", 0o755)                       # local until an object is written in it
    create(s3fs, f"/s3/{b}/notes/today.txt", b"first\n")
    got = boto("s3").get_object(Bucket=b, Key="notes/today.txt")
    assert got["Body"].read() == b"first\n" and got["ContentType"] == "text/plain"  # guessed from the name
    assert read(s3fs, f"/s3/{b}/page.html") == b"<p>old</p>"
    save(s3fs, f"/s3/{b}/page.html", b"<p>new</p>")
    got = boto("s3").get_object(Bucket=b, Key="page.html")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"<p>new</p>", "text/html; charset=utf-8",
                                                                         {"owner": "web"})
    assert sorted(s3fs.listdir(f"/s3/{b}")) == ["notes", "page.html"]  # written through
    assert s3fs.getattr(f"/s3/{b}/page.html").size == len(b"<p>new</p>")


def test_unchanged_content_makes_no_call_and_a_change_since_reading_is_estale(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "f", b"mine?")
    assert read(s3fs, f"/s3/{b}/f") == b"mine?"
    before = sum(s3fs.aws.calls.values())
    save(s3fs, f"/s3/{b}/f", b"mine?")  # same bytes: its MD5 is the ETag
    assert sum(s3fs.aws.calls.values()) == before
    put(boto, b, "f", b"theirs")
    with pytest.raises(FsError) as e:
        save(s3fs, f"/s3/{b}/f", b"mine!")
    assert e.value.errno == errno.ESTALE and get(boto, b, "f") == b"theirs"
    assert read(s3fs, f"/s3/{b}/f") == b"theirs"  # reading again moves the base
    save(s3fs, f"/s3/{b}/f", b"mine!")
    assert get(boto, b, "f") == b"mine!"


def test_a_create_that_finds_the_name_taken_is_eexist_and_keeps_theirs(s3fs, boto, bucket):
    b = bucket()
    s3fs.listdir(f"/s3/{b}")
    fh = s3fs.create(f"/s3/{b}/new", 0o644, W | os.O_CREAT)
    s3fs.write(f"/s3/{b}/new", b"mine", 0, fh)
    put(boto, b, "new", b"theirs")
    with pytest.raises(FsError) as e:
        s3fs.flush(f"/s3/{b}/new", fh)
    s3fs.release(f"/s3/{b}/new", fh)
    assert e.value.errno == errno.EEXIST and get(boto, b, "new") == b"theirs"


def test_a_big_object_is_read_by_ranges_and_saved_by_a_multipart_upload(s3fs, boto, bucket, monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "CHUNK", 64 << 10)
    monkeypatch.setattr(s3, "PART", 5 << 20)  # S3's smallest part
    b = bucket()
    blob = os.urandom(11 << 20)
    put(boto, b, "big.bin", blob)
    fh = s3fs.open(f"/s3/{b}/big.bin", os.O_RDONLY)
    assert s3fs.read(f"/s3/{b}/big.bin", 4096, 5_000_000, fh) == blob[5_000_000:5_004_096]
    assert s3fs.aws.calls["s3:GetObject"] == 1  # one range, not the object
    got, offset = [], 0
    while offset < len(blob):
        got.append(s3fs.read(f"/s3/{b}/big.bin", 128 << 10, offset, fh))
        offset += len(got[-1])
    s3fs.release(f"/s3/{b}/big.bin", fh)
    assert b"".join(got) == blob
    new = os.urandom(12 << 20)
    save(s3fs, f"/s3/{b}/big.bin", new)
    assert hashlib.sha256(get(boto, b, "big.bin")).digest() == hashlib.sha256(new).digest()
    assert (s3fs.aws.calls["s3:UploadPart"], s3fs.aws.calls["s3:CompleteMultipartUpload"]) == (3, 1)
    import zlib                                # each part carried its CRC32: S3 keeps their composite
    want = b"".join(zlib.crc32(new[i:i + (5 << 20)]).to_bytes(4, "big") for i in range(0, len(new), 5 << 20))
    head = boto("s3").head_object(Bucket=b, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"].split("-")[0] == base64.b64encode(zlib.crc32(want).to_bytes(4, "big")).decode()
    assert head.get("ChecksumType", "COMPOSITE") == "COMPOSITE"  # (S3 shows it as "...-3"; moto without -3)


def test_a_failed_multipart_save_is_aborted_and_leaves_the_old_object(s3fs, boto, bucket, monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "PART", 5 << 20)
    b = bucket()
    put(boto, b, "big", b"old")
    read(s3fs, f"/s3/{b}/big")
    real_call, real_many = s3fs.aws.call, s3fs.aws.call_many

    def broken(params):
        if params.get("PartNumber") == 2:
            raise FsError(errno.EIO, "s3:UploadPart: connection reset")
    monkeypatch.setattr(s3fs.aws, "call", lambda svc, region, op, **p: (broken(p), real_call(svc, region, op, **p))[1])
    monkeypatch.setattr(s3fs.aws, "call_many", lambda svc, region, op, params, timeout=None: (
        [broken(p) for p in params], real_many(svc, region, op, params, timeout))[1])
    with pytest.raises(FsError) as e:
        save(s3fs, f"/s3/{b}/big", os.urandom(11 << 20))  # sent early, then again at the save: both fail
    assert e.value.errno == errno.EIO and get(boto, b, "big") == b"old"
    assert boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", []) == []  # both aborted
    assert "connection reset" in read(s3fs, "/.awsfs/errors").decode()


def test_a_big_new_object_goes_up_while_it_is_written_and_a_seek_back_is_still_saved_whole(s3fs, boto, bucket,
                                                                                            monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "PART", 5 << 20)
    b = bucket()
    s3fs.listdir(f"/s3/{b}")
    blob = bytearray(os.urandom(16 << 20))
    path = f"/s3/{b}/stream.bin"
    fh = s3fs.create(path, 0o644, W | os.O_CREAT)
    for offset in range(0, len(blob), 1 << 20):                  # sequential, like cp
        s3fs.write(path, bytes(blob[offset:offset + (1 << 20)]), offset, fh)
    ups = boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", [])
    assert len(ups) == 1                                         # under way before the close
    deadline, sent = time.monotonic() + 10, []
    while len(sent) < 3 and time.monotonic() < deadline:  # the three whole parts go up in the background
        sent = boto("s3").list_parts(Bucket=b, Key="stream.bin", UploadId=ups[0]["UploadId"]).get("Parts", [])
        time.sleep(0.05)
    assert len(sent) == 3 and get(boto, b, "stream.bin") is None  # nothing visible before the close
    s3fs.flush(path, fh)
    s3fs.release(path, fh)
    assert get(boto, b, "stream.bin") == bytes(blob)
    assert s3fs.aws.calls["s3:CreateMultipartUpload"] == 1
    # a writer that goes back below what was sent: the early upload is dropped, the save is whole
    fh = s3fs.open(path, W | os.O_TRUNC)
    for offset in range(0, len(blob), 1 << 20):
        s3fs.write(path, bytes(blob[offset:offset + (1 << 20)]), offset, fh)
    blob[100:104] = b"EDIT"
    s3fs.write(path, b"EDIT", 100, fh)
    s3fs.flush(path, fh)
    s3fs.release(path, fh)
    assert get(boto, b, "stream.bin") == bytes(blob)
    assert boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    # a writer that goes away without a save leaves no upload behind
    fh = s3fs.open(path, W | os.O_TRUNC)
    s3fs.write(path, os.urandom(11 << 20), 0, fh)
    assert len(boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", [])) == 1
    s3fs.release(path, fh)                                       # (no flush: the kernel always flushes; a crash)
    assert boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert get(boto, b, "stream.bin") == bytes(blob)


def test_rm_mv_rmdir_of_a_marker_and_content_type_by_setxattr(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "a/x.txt", b"x")
    put(boto, b, "empty/", b"")
    s3fs.mkdir(f"/s3/{b}/b", 0o755)
    s3fs.rename(f"/s3/{b}/a/x.txt", f"/s3/{b}/b/y.txt")
    assert get(boto, b, "a/x.txt") is None and get(boto, b, "b/y.txt") == b"x"
    assert sorted(s3fs.listdir(f"/s3/{b}")) == ["a", "b", "empty"]  # "a" stays, empty, until rmdir
    assert s3fs.listdir(f"/s3/{b}/a") == []
    s3fs.rmdir(f"/s3/{b}/a")
    s3fs.setxattr(f"/s3/{b}/b/y.txt", "user.s3.content-type", b"text/markdown")
    assert boto("s3").head_object(Bucket=b, Key="b/y.txt")["ContentType"] == "text/markdown"
    assert s3fs.getxattr(f"/s3/{b}/b/y.txt", "user.s3.content-type") == b"text/markdown"
    with pytest.raises(FsError) as e:
        s3fs.setxattr(f"/s3/{b}/b/y.txt", "user.s3.etag", b"x")
    assert e.value.errno in (errno.ENOTSUP, errno.EACCES, errno.EPERM)
    s3fs.unlink(f"/s3/{b}/b/y.txt")
    assert s3fs.listdir(f"/s3/{b}/b") == []  # made by mkdir: it stays (locally) until rmdir
    s3fs.rmdir(f"/s3/{b}/b")
    s3fs.rmdir(f"/s3/{b}/empty")
    assert boto("s3").list_objects_v2(Bucket=b).get("KeyCount") == 0
    assert s3fs.listdir(f"/s3/{b}") == []


def test_keys_that_cannot_be_paths_are_not_listed_and_said_where_they_are(s3fs, boto, bucket):
    b = bucket()
    for k in ("ok", "a//b", "dot/./x", "same", "same/inside", "x" * 300):
        put(boto, b, k, b"1")
    assert s3fs.listdir(f"/s3/{b}") == ["a", "dot", "ok", "same"]
    assert s3fs.getattr(f"/s3/{b}/same").kind == "dir"     # the directory wins
    assert s3fs.listdir(f"/s3/{b}/a") == []                # "a//b" has an empty component
    assert s3fs.listdir(f"/s3/{b}/dot") == []
    errors = read(s3fs, "/.awsfs/errors").decode()
    assert "under 'a//'" in errors and "object 'same'" in errors and "x" * 300 in errors
    assert "under 'dot/./'" in errors and "list-objects-v2" in errors


def test_the_versions_of_an_object_are_listed_and_readable_in_a_hidden_place(s3fs, boto, bucket):
    b = bucket()
    boto("s3").put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    ids = [put(boto, b, "docs/a.txt", f"v{n}\n".encode())["VersionId"] for n in range(3)]
    put(boto, b, "docs/a.txt.bak", b"other key")
    d = f"/s3/{b}/.versions/docs/a.txt"
    assert sorted(s3fs.listdir(d)) == sorted(ids)            # only that key's, not a.txt.bak's
    assert [read(s3fs, f"{d}/{i}") for i in ids] == [b"v0\n", b"v1\n", b"v2\n"]
    assert s3fs.getattr(f"{d}/{ids[0]}").size == 3
    assert ".versions" not in s3fs.listdir(f"/s3/{b}")        # hidden: find and grep -r stay out of it
    assert s3fs.listdir(f"/s3/{b}/.versions") == ["docs"]                  # on the way: the bucket's names
    assert sorted(s3fs.listdir(f"/s3/{b}/.versions/docs")) == ["a.txt", "a.txt.bak"]
    save(s3fs, f"/s3/{b}/docs/a.txt", b"v3\n")                             # a save through the mount:
    assert len(s3fs.listdir(d)) == 4                                         # one more version, at once
    with pytest.raises(FsError) as e:
        save(s3fs, f"{d}/{ids[0]}", b"x")
    assert e.value.errno in (errno.EACCES, errno.EROFS, errno.EPERM)
    with pytest.raises(FsError) as e:
        s3fs.listdir(f"/s3/{b}/.versions/docs/nope")
    assert e.value.errno == errno.ENOENT


def test_touch_and_cp_of_an_empty_file_make_empty_objects_but_nothing_empties_one(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "full", b"content")
    s3fs.listdir(f"/s3/{b}")
    fh = s3fs.create(f"/s3/{b}/new", 0o644, W | os.O_CREAT)    # touch
    s3fs.flush(f"/s3/{b}/new", fh)
    s3fs.release(f"/s3/{b}/new", fh)
    assert get(boto, b, "new") == b""
    fh = s3fs.open(f"/s3/{b}/full", W | os.O_TRUNC)             # `: > full`, or a writer that died
    s3fs.flush(f"/s3/{b}/full", fh)
    s3fs.release(f"/s3/{b}/full", fh)
    assert get(boto, b, "full") == b"content"


def test_rmdir_keeps_a_directory_holding_keys_that_cannot_be_paths_and_a_hidden_object_comes_back(s3fs, boto,
                                                                                                   bucket):
    b = bucket()
    put(boto, b, "weird/a//b", b"1")
    put(boto, b, "dup", b"the object")
    put(boto, b, "dup/inner", b"2")
    assert s3fs.listdir(f"/s3/{b}/weird/a") == []
    with pytest.raises(FsError) as e:
        s3fs.rmdir(f"/s3/{b}/weird/a")
    assert e.value.errno == errno.ENOTEMPTY and "'weird/a//b'" in e.value.reason
    assert s3fs.getattr(f"/s3/{b}/dup").kind == "dir"
    s3fs.unlink(f"/s3/{b}/dup/inner")
    s3fs.rmdir(f"/s3/{b}/dup")
    assert s3fs.getattr(f"/s3/{b}/dup").kind == "file" and read(s3fs, f"/s3/{b}/dup") == b"the object"


def test_setfattr_of_user_metadata_and_storage_class(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "f", b"x", ContentType="text/plain", Metadata={"owner": "web"})
    s3fs.setxattr(f"/s3/{b}/f", "user.s3.meta.team", b"infra")
    s3fs.setxattr(f"/s3/{b}/f", "user.s3.storage-class", b"STANDARD_IA")
    head = boto("s3").head_object(Bucket=b, Key="f")
    assert head["Metadata"] == {"owner": "web", "team": "infra"} and head["ContentType"] == "text/plain"
    assert head.get("StorageClass") == "STANDARD_IA"
    assert s3fs.getxattr(f"/s3/{b}/f", "user.s3.meta.team") == b"infra"
    with pytest.raises(FsError) as e:
        s3fs.setxattr(f"/s3/{b}/f", "user.s3.storage-class", b"FAST")
    assert e.value.errno == errno.EINVAL


def test_touching_a_directory_refreshes_it_alone_while_other_commands_go_on(s3fs, boto, bucket):
    """`touch dir` (rsync -a, mv and cp -a set directories' times) forgets that directory's
    listing only: reads elsewhere in the bucket go on, and the bucket is not looked up again."""
    import threading
    b = bucket()
    put(boto, b, "css/site.css", b"h1{}")
    put(boto, b, "logs/a.log", b"GET /")
    assert read(s3fs, f"/s3/{b}/logs/a.log") == b"GET /"
    before = dict(s3fs.aws.calls)
    failures = []

    def loop(fn):
        for _ in range(30):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - every failure is the test's
                failures.append(e)
    threads = [threading.Thread(target=loop, args=(lambda: s3fs.utimens(f"/s3/{b}/css"),)),
               threading.Thread(target=loop, args=(lambda: read(s3fs, f"/s3/{b}/logs/a.log"),))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert failures == []
    spent = {k: v - before.get(k, 0) for k, v in s3fs.aws.calls.items() if v != before.get(k, 0)}
    assert "s3:ListBuckets" not in spent and "s3:GetBucketLocation" not in spent
    boto("s3").put_object(Bucket=b, Key="css/new.css", Body=b"x")
    s3fs.utimens(f"/s3/{b}/css")
    assert sorted(s3fs.listdir(f"/s3/{b}/css")) == ["new.css", "site.css"]


# -- from the review -------------------------------------------------------------------------------

def test_a_second_save_through_one_open_file_is_kept(s3fs, boto, bucket):
    """O_RDWR, write, fsync (saved), rewrite the same bytes' length, close: the rewrite is saved."""
    b = bucket()
    put(boto, b, "f", b"....")
    path = f"/s3/{b}/f"
    fh = s3fs.open(path, os.O_RDWR)
    s3fs.write(path, b"AAAA", 0, fh)
    s3fs.fsync(path, 0, fh)
    assert get(boto, b, "f") == b"AAAA"
    s3fs.write(path, b"BBBB", 0, fh)
    s3fs.flush(path, fh)
    s3fs.release(path, fh)
    assert get(boto, b, "f") == b"BBBB"


def test_a_write_during_a_save_waits_for_it_and_is_saved_by_the_next_flush(s3fs, boto, bucket, monkeypatch):
    import threading
    b = bucket()
    s3fs.listdir(f"/s3/{b}")
    path = f"/s3/{b}/f"
    fh = s3fs.create(path, 0o644, W | os.O_CREAT)
    s3fs.write(path, b"first ", 0, fh)
    real = s3fs.aws.send

    def slow(service, region, op, params, **kw):
        if op == "PutObject":
            time.sleep(0.3)
        return real(service, region, op, params, **kw)
    monkeypatch.setattr(s3fs.aws, "send", slow)
    saving = threading.Thread(target=s3fs.flush, args=(path, fh))
    saving.start()
    time.sleep(0.1)
    s3fs.write(path, b"second", 6, fh)         # waits for the save of "first "
    saving.join()
    s3fs.flush(path, fh)
    s3fs.release(path, fh)
    assert get(boto, b, "f") == b"first second"


def test_a_file_renamed_while_being_written_is_saved_under_its_new_name(s3fs, boto, bucket, monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "PART", 5 << 20)
    b = bucket()
    s3fs.listdir(f"/s3/{b}")
    blob = os.urandom(16 << 20)
    fh = s3fs.create(f"/s3/{b}/out.part", 0o644, W | os.O_CREAT)
    for offset in range(0, len(blob), 1 << 20):
        s3fs.write(f"/s3/{b}/out.part", blob[offset:offset + (1 << 20)], offset, fh)
    s3fs.rename(f"/s3/{b}/out.part", f"/s3/{b}/out")
    s3fs.release(f"/s3/{b}/out", fh)
    assert get(boto, b, "out") == blob and get(boto, b, "out.part") is None
    assert boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", []) == []


def test_a_reader_never_gets_two_versions_mixed(s3fs, boto, bucket, monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "CHUNK", 64 << 10)
    monkeypatch.setattr(s3, "AHEAD", 0)
    b = bucket()
    put(boto, b, "f", b"a" * (256 << 10))
    fh = s3fs.open(f"/s3/{b}/f", os.O_RDONLY)
    assert s3fs.read(f"/s3/{b}/f", 4096, 0, fh) == b"a" * 4096
    put(boto, b, "f", b"b" * (256 << 10))
    s3fs.refresh(f"/s3/{b}")                                  # the listing shows the new version
    with pytest.raises(FsError) as e:
        s3fs.read(f"/s3/{b}/f", 4096, 128 << 10, fh)          # its next range: of the new one? no: ESTALE
    assert e.value.errno == errno.ESTALE
    s3fs.release(f"/s3/{b}/f", fh)
    assert read(s3fs, f"/s3/{b}/f")[:4] == b"bbbb"            # a new open reads the new version


def test_a_failed_read_ahead_is_asked_again(s3fs, boto, bucket, monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "CHUNK", 64 << 10)
    b = bucket()
    data = os.urandom(512 << 10)
    put(boto, b, "f", data)
    real, failed = s3.fetch, []

    def flaky(node, e, i):
        if i == 3 and not failed:
            failed.append(i)
            raise FsError(errno.EIO, "s3:GetObject: brief outage")
        return real(node, e, i)
    monkeypatch.setattr(s3, "fetch", flaky)
    got = read(s3fs, f"/s3/{b}/f")
    assert got == data and failed == [3]


def test_bash_redirect_into_a_new_object_never_shows_it_empty_first(s3fs, boto, bucket):
    """bash `echo x > new`: open, dup2, close (a flush before any write), write, close."""
    b = bucket()
    boto("s3").put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3fs.listdir(f"/s3/{b}")
    path = f"/s3/{b}/new"
    fh = s3fs.create(path, 0o644, W | os.O_CREAT | os.O_TRUNC)
    s3fs.flush(path, fh)                                       # the close of the fd dup2 copied
    s3fs.write(path, b"x\n", 0, fh)
    s3fs.flush(path, fh)
    s3fs.release(path, fh)
    versions = boto("s3").list_object_versions(Bucket=b, Prefix="new")["Versions"]
    assert [v["Size"] for v in versions] == [2]


def test_versions_read_by_name_when_nothing_is_cached(s3fs, boto, bucket):
    b = bucket()
    boto("s3").put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    vid = put(boto, b, "k", b"one")["VersionId"]
    put(boto, b, "k", b"two")
    assert read(s3fs, f"/s3/{b}/.versions/k/{vid}") == b"one"


def test_a_multipart_save_whose_answer_was_lost_is_found_done(s3fs, boto, bucket, monkeypatch):
    from awsfs.errors import RemoteError
    from awsfs.services import s3
    monkeypatch.setattr(s3, "PART", 5 << 20)
    b = bucket()
    s3fs.listdir(f"/s3/{b}")
    real = s3fs.aws.send

    def lost(service, region, op, params, **kw):
        got = real(service, region, op, params, **kw)
        if op == "CompleteMultipartUpload":
            err = RemoteError(errno.EIO, "s3:CompleteMultipartUpload: connection reset", "")
            err.unknown = True
            raise err
        return got
    monkeypatch.setattr(s3fs.aws, "send", lost)
    blob = os.urandom(6 << 20)
    fh = s3fs.create(f"/s3/{b}/big", 0o644, W | os.O_CREAT)
    s3fs.write(f"/s3/{b}/big", blob, 0, fh)
    s3fs.flush(f"/s3/{b}/big", fh)                             # no error: the verification found it
    s3fs.release(f"/s3/{b}/big", fh)
    assert get(boto, b, "big") == blob


def test_a_save_keeps_tags_and_storage_class_and_mv_keeps_the_class(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "f", b"old", StorageClass="STANDARD_IA", Tagging="team=infra&tier=2")
    read(s3fs, f"/s3/{b}/f")
    save(s3fs, f"/s3/{b}/f", b"new")
    head = boto("s3").head_object(Bucket=b, Key="f")
    tags = boto("s3").get_object_tagging(Bucket=b, Key="f")["TagSet"]
    assert head.get("StorageClass") == "STANDARD_IA"
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("team", "infra"), ("tier", "2")]
    s3fs.rename(f"/s3/{b}/f", f"/s3/{b}/g")
    assert boto("s3").head_object(Bucket=b, Key="g").get("StorageClass") == "STANDARD_IA"


def _walk(fs, path):
    """What find does: read a directory to its end, then go into each subdirectory in turn."""
    seen = []
    for name in fs.listdir(path):
        seen.append(f"{path}/{name}")
        if fs.getattr(f"{path}/{name}").kind == "dir":
            seen += _walk(fs, f"{path}/{name}")
    return seen


def _tree_keys(n_dirs, per_dir):
    keys = [f"top-{i}.txt" for i in range(3)]
    for d in range(n_dirs):
        keys += [f"d{d:02d}/f{i:03d}" for i in range(per_dir)]
        keys += [f"d{d:02d}/sub/g{i}" for i in range(3)] + [f"d{d:02d}/sub/deep/h"]
    return keys


def _fill(boto, b, keys):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: put(boto, b, k, k.encode()), keys))


@pytest.fixture
def pages_of_ten(monkeypatch):
    """Listing pages of 10 keys (AWS's are 1,000): the same paging, with a test-sized bucket."""
    from awsfs.services import s3
    monkeypatch.setattr(s3, "PAGE", 10)


def test_a_command_walking_a_bucket_lists_it_flat_and_sees_what_find_would(make_fs, boto, bucket, pages_of_ten):
    b = bucket()
    keys = _tree_keys(6, 8)  # 75 keys: 8 flat pages (the top's own three are in the first)
    _fill(boto, b, keys)
    walker = make_fs(regions=[R])
    walker.caller_pid = lambda: 7_000_001
    walker.listdir("/s3")
    before = walker.aws.calls["s3:ListObjectsV2"]
    seen = _walk(walker, f"/s3/{b}")
    # the top's delimited listing, then the flat listing's pages: not one listing per directory
    assert walker.aws.calls["s3:ListObjectsV2"] - before == 1 + 8
    plain = make_fs(regions=[R])  # pid 0: no walk, one delimited listing per directory
    assert seen == _walk(plain, f"/s3/{b}")
    assert plain.aws.calls["s3:ListObjectsV2"] == 19  # one page for each of the 19 directories
    files = {p[len(f"/s3/{b}/"):] for p in seen if plain.getattr(p).kind == "file"}
    assert files == set(keys)
    assert walker.getattr(f"/s3/{b}/d03/f007").size == len(b"d03/f007")


def test_a_walk_gives_up_below_a_deep_directory_and_lists_it_on_its_own(make_fs, boto, bucket, pages_of_ten):
    b = bucket()
    keys = ["a/x"] + [f"big/n{i:02d}/leaf" for i in range(60)] + ["big/zz", "c/y"]  # 7 flat pages
    _fill(boto, b, keys)
    fs = make_fs(regions=[R])
    fs.caller_pid = lambda: 7_000_002
    assert fs.listdir(f"/s3/{b}") == ["a", "big", "c"]
    assert fs.listdir(f"/s3/{b}/a") == ["x"]  # the walk starts: one flat page passes a/
    before = fs.aws.calls["s3:ListObjectsV2"]
    names = fs.listdir(f"/s3/{b}/big")  # more than four more pages below it: the walk gives up
    assert names == [f"n{i:02d}" for i in range(60)] + ["zz"]
    # four flat pages, then big/'s own delimited listing after the last key seen (two pages)
    assert fs.aws.calls["s3:ListObjectsV2"] - before == 4 + 2
    assert fs.listdir(f"/s3/{b}/big/n03") == ["leaf"]  # passed by the flat listing: no call
    assert fs.aws.calls["s3:ListObjectsV2"] - before == 4 + 2
    assert fs.listdir(f"/s3/{b}/c") == ["y"]


def test_a_write_during_a_walk_is_seen_by_the_directories_listed_after_it(make_fs, boto, bucket):
    b = bucket()
    _fill(boto, b, ["a/1", "b/1", "c/1"])
    fs = make_fs(regions=[R])
    fs.caller_pid = lambda: 7_000_003
    fs.listdir(f"/s3/{b}")
    assert fs.listdir(f"/s3/{b}/a") == ["1"]  # the walk read b/ and c/ along with a/
    save(fs, f"/s3/{b}/c/2", b"new")
    assert fs.listdir(f"/s3/{b}/c") == ["1", "2"]


def test_mv_above_copyobjects_limit_copies_in_parts_keeps_settings_and_is_estale_on_a_change(s3fs, boto, bucket,
                                                                                             monkeypatch):
    from awsfs.services import s3
    monkeypatch.setattr(s3, "MAX_COPY", 6 << 20)   # (5 GB in S3: moto would hold it in memory)
    monkeypatch.setattr(s3, "COPY_PART", 5 << 20)  # S3's smallest part
    b = bucket()
    body = os.urandom(12 << 20)
    put(boto, b, "big.bin", body, ContentType="application/x-thing", Metadata={"owner": "ops"},
        Tagging="team=data")
    s3fs.rename(f"/s3/{b}/big.bin", f"/s3/{b}/moved.bin")
    assert get(boto, b, "big.bin") is None and get(boto, b, "moved.bin") == body
    assert s3fs.aws.calls["s3:UploadPartCopy"] == 3 and s3fs.aws.calls["s3:CopyObject"] == 0
    head = boto("s3").head_object(Bucket=b, Key="moved.bin")
    assert head["ContentType"] == "application/x-thing" and head["Metadata"] == {"owner": "ops"}
    assert boto("s3").get_object_tagging(Bucket=b, Key="moved.bin")["TagSet"] == [{"Key": "team", "Value": "data"}]
    assert s3fs.listdir(f"/s3/{b}") == ["moved.bin"]
    s3fs.getattr(f"/s3/{b}/moved.bin")                 # listed, then changed behind awsfs's back
    put(boto, b, "moved.bin", b"theirs" * (2 << 20))
    with pytest.raises(FsError) as e:
        s3fs.rename(f"/s3/{b}/moved.bin", f"/s3/{b}/again.bin")
    assert e.value.errno == errno.ESTALE
    assert get(boto, b, "moved.bin") == b"theirs" * (2 << 20) and get(boto, b, "again.bin") is None
    assert boto("s3").list_multipart_uploads(Bucket=b).get("Uploads", []) == []  # the failed copy was aborted


def test_an_append_after_a_change_elsewhere_goes_after_what_s3_holds_now(s3fs, boto, bucket):
    b = bucket()
    put(boto, b, "log.txt", b"one\n")
    s3fs.caller_pid = lambda: 7_000_004
    assert read(s3fs, f"/s3/{b}/log.txt") == b"one\n"      # this process read it, long ago
    put(boto, b, "log.txt", b"one\ntwo\n")                # someone else appended meanwhile
    s3fs.refresh(f"/s3/{b}")
    fh = s3fs.open(f"/s3/{b}/log.txt", os.O_WRONLY | os.O_APPEND)
    s3fs.write(f"/s3/{b}/log.txt", b"three\n", 0, fh)      # (O_APPEND: at the end, whatever the offset)
    s3fs.flush(f"/s3/{b}/log.txt", fh)
    s3fs.release(f"/s3/{b}/log.txt", fh)
    assert get(boto, b, "log.txt") == b"one\ntwo\nthree\n"


@pytest.fixture
def program():
    """A running process whose command line is ``argv`` (a shell under that name, waiting): what
    awsfs reads from /proc to tell sed's and rsync's temps."""
    procs = []

    def start(*argv):
        p = subprocess.Popen([argv[0], "-c", "sleep 60; :", *argv[1:]], executable="/bin/sh")
        procs.append(p)
        for _ in range(200):  # (until its command line shows: the exec may still be going on)
            with open(f"/proc/{p.pid}/cmdline", "rb") as f:
                if f.read().startswith(argv[0].encode() + b"\0"):
                    return p.pid
            time.sleep(0.01)
        raise AssertionError(f"{argv} did not start")
    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_mkstemp_shaped_names_are_temps_only_when_sed_or_rsync_makes_them(s3fs, boto, bucket, program):
    b = bucket()
    d = f"/s3/{b}"
    create(s3fs, f"{d}/.env.stage1", b"A=1\n")           # by cp (not sed, not rsync): real names
    create(s3fs, f"{d}/sedentary", b"s\n")
    assert get(boto, b, ".env.stage1") == b"A=1\n" and get(boto, b, "sedentary") == b"s\n"

    s3fs.caller_pid = lambda pid=program("rsync", "-a"): pid
    create(s3fs, f"{d}/.env.prod.Qw12er", b"B=2\n")       # rsync's temp of .env.prod: local
    assert get(boto, b, ".env.prod.Qw12er") is None
    create(s3fs, f"{d}/.env.stage1.zxcvbn", b"A=2\n")     # (a temp of one letter kind too)
    s3fs.rename(f"{d}/.env.prod.Qw12er", f"{d}/.env.prod")
    s3fs.rename(f"{d}/.env.stage1.zxcvbn", f"{d}/.env.stage1")  # its real name has the temps' shape
    assert get(boto, b, ".env.prod") == b"B=2\n" and get(boto, b, ".env.stage1") == b"A=2\n"

    s3fs.caller_pid = lambda pid=program("rsync", "--inplace"): pid
    create(s3fs, f"{d}/.cache.abc123", b"C\n")           # --inplace writes the real name
    assert get(boto, b, ".cache.abc123") == b"C\n"

    s3fs.caller_pid = lambda pid=program("sed", "-i"): pid
    create(s3fs, f"{d}/sedQw12er", b"S\n")               # sed -i of sedentary
    assert get(boto, b, "sedQw12er") is None
    s3fs.rename(f"{d}/sedQw12er", f"{d}/sedentary")
    assert get(boto, b, "sedentary") == b"S\n"
    keys = sorted(o["Key"] for o in boto("s3").list_objects_v2(Bucket=b)["Contents"])
    assert keys == [".cache.abc123", ".env.prod", ".env.stage1", "sedentary"]
    assert sorted(s3fs.listdir(d)) == keys


def test_an_rm_r_batch_deletes_only_what_rm_read_and_the_others_see_it_gone(s3fs, boto, bucket, monkeypatch):
    b = bucket()
    d = f"/s3/{b}/d"
    for n in "abcde":
        put(boto, b, f"d/{n}", n.encode())
    rm, other = 7_100_001, 7_100_002
    monkeypatch.setattr(s3, "removes_tree", lambda pid, path: pid == rm)  # (rm -r's command line: caller.py)
    s3fs.mountpoint = "/mnt/t"
    s3fs.caller_pid = lambda: rm
    assert sorted(s3fs.listdir(d)) == list("abcde")       # rm reads the directory to its end
    s3fs.caller_pid = lambda: other
    create(s3fs, f"{d}/new", b"made after rm read it\n")
    s3fs.caller_pid = lambda: rm
    before = dict(s3fs.aws.calls)
    s3fs.unlink(f"{d}/a")                                 # its first unlink: a, and b..e in one batch
    assert spent_since(s3fs, before) == {"s3:DeleteObjects": 1, "s3:DeleteObject": 1}
    assert sorted(o["Key"] for o in boto("s3").list_objects_v2(Bucket=b)["Contents"]) == ["d/new"]
    s3fs.caller_pid = lambda: other
    assert sorted(s3fs.listdir(d)) == ["new"]             # gone for everyone else at once
    with pytest.raises(FsError) as e:
        s3fs.getattr(f"{d}/b")
    assert e.value.errno == errno.ENOENT
    s3fs.refresh(d)                                       # (its listing read again meanwhile)
    s3fs.caller_pid = lambda: rm
    before = dict(s3fs.aws.calls)
    for n in "bcde":                                      # rm still finds each, and its unlink is done
        assert s3fs.getattr(f"{d}/{n}").size == 1
        s3fs.unlink(f"{d}/{n}")
    assert spent_since(s3fs, before).get("s3:DeleteObject", 0) == 0
    assert s3fs.listdir(d) == ["new"] and get(boto, b, "d/new") == b"made after rm read it\n"
