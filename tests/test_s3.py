"""S3 without a mount: the filesystem driven directly, S3 checked with boto3."""
import errno
import hashlib
import os

import pytest

from awsfs.errors import FsError
from helpers import create, read, save

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
    assert s3fs.listdir(f"/s3/{b}") == [".bucket.json", "a", "dir", "top.txt"]
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
