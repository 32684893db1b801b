"""SSM Parameter Store without a mount: the filesystem driven directly, AWS checked with boto3."""
import errno
import json
import logging
import os

import pytest

from awsfs.errors import FsError
from faults import Faults
from helpers import create, echo_into, read, save

R = "us-east-1"
W = os.O_WRONLY
COST_REGION = "ca-central-1"  # the call-count test's own region: nothing else lists parameters there


@pytest.fixture
def sfs(make_fs):
    return make_fs(regions=[R])


@pytest.fixture
def params(boto, unique):
    """``make({name: value or (value, type)})`` under a prefix of the test's own -> the prefix
    (``/p-xxxx``); everything below it is deleted afterwards."""
    ssm = boto("ssm", R)
    prefix = "/" + unique("p")

    def make(values: dict) -> str:
        for name, v in values.items():
            value, kind = v if isinstance(v, tuple) else (v, "String")
            ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type=kind)
        return prefix
    yield make
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
        for p in page["Parameters"]:
            ssm.delete_parameter(Name=p["Name"])


def value(boto, name, region=R):
    try:
        return boto("ssm", region).get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except boto("ssm", region).exceptions.ParameterNotFound:
        return None


def walk(fs, path):
    """What `ls -lR` and `grep -r` together ask: every entry's attributes, xattr names and content."""
    for name in fs.listdir(path):
        child = f"{path}/{name}"
        if fs.getattr(child).kind == "dir":
            walk(fs, child)
        else:
            fs.listxattr(child)
            read(fs, child)


# -- reading -------------------------------------------------------------------------------------

def test_names_are_paths_and_values_read_with_a_newline(sfs, params, boto):
    p = params({"db/host": "db.local", "db/port": "5432", "list": ("a,b,c", "StringList"), "flag": "on"})
    top = p.lstrip("/")
    boto("ssm", R).put_parameter(Name=f"{top}-plain", Value="no slash", Type="String")  # one level, no '/'
    try:
        root = f"/ssm/{R}"
        assert "ssm" in sfs.listdir("/") and sfs.listdir("/ssm") == [R]
        assert {top, f"{top}-plain"} <= set(sfs.listdir(root))
        assert sorted(sfs.listdir(f"{root}/{top}")) == ["db", "flag", "list"]
        assert sorted(sfs.listdir(f"{root}/{top}/db")) == ["host", "port"]
        assert sfs.getattr(f"{root}/{top}/db").kind == "dir"
        assert read(sfs, f"{root}/{top}/db/host") == b"db.local\n"
        assert sfs.getattr(f"{root}/{top}/db/host").size == len(b"db.local\n")
        assert read(sfs, f"{root}/{top}/list") == b"a,b,c\n"
        assert read(sfs, f"{root}/{top}-plain") == b"no slash\n"
        for missing in ("/ssm/ap-south-9", f"{root}/{top}/nope", f"{root}/{top}/./x", f"{root}/{top}/db/host/deeper",
                        f"{root}/{top}/bad name", f"{root}/{top}/db/host~", f"{root}/aws-reserved"):
            with pytest.raises(FsError) as e:
                sfs.getattr(missing)
            assert e.value.errno in (errno.ENOENT, errno.ENOTDIR)
    finally:
        boto("ssm", R).delete_parameter(Name=f"{top}-plain")


def test_a_lone_cat_lists_only_its_top_level_directory(make_fs, params, boto):
    p = params({"a/b/c": "deep", "other": "x"})
    fs = make_fs(regions=[R])
    assert read(fs, f"/ssm/{R}{p}/a/b/c") == b"deep\n"
    assert set(fs.aws.calls) == {"ssm:GetParametersByPath"} and fs.aws.calls["ssm:GetParametersByPath"] == 1


# -- values round-trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["plain", "ends with a newline\n", "two\nlines", "trailing\n\n\nnewlines\n",
                                  "  spaces  ", "ünïcødé ☃", "x" * 4096])
def test_values_round_trip_exactly(sfs, params, boto, text):
    p = params({"v": "seed"})
    path = f"/ssm/{R}{p}/v"
    save(sfs, path, text.encode() + b"\n")  # cat's output, edited: one newline added, one dropped
    assert value(boto, f"{p}/v")["Value"] == text
    shown = read(sfs, path)
    assert shown == text.encode() + b"\n"
    puts = sfs.aws.calls["ssm:PutParameter"]
    save(sfs, path, shown)  # saved back unchanged: no call
    assert sfs.aws.calls["ssm:PutParameter"] == puts
    if not text.endswith("\n"):
        save(sfs, path, text.encode())  # without the newline (printf): the same value
        assert sfs.aws.calls["ssm:PutParameter"] == puts
    assert value(boto, f"{p}/v")["Version"] == 2


def test_stringlist_reads_and_writes_its_comma_text(sfs, params, boto):
    p = params({"hosts": ("a,b", "StringList")})
    path = f"/ssm/{R}{p}/hosts"
    echo_into(sfs, path, read(sfs, path).replace(b"\n", b",c\n"))
    got = value(boto, f"{p}/hosts")
    assert (got["Value"], got["Type"]) == ("a,b,c", "StringList")


def test_empty_and_non_utf8_values_are_refused(sfs, params, boto):
    p = params({"v": "keep"})
    path = f"/ssm/{R}{p}/v"
    for data, reason in ((b"\n", "cannot be empty"), (b"\xff\xfe\n", "UTF-8")):
        with pytest.raises(FsError) as e:
            save(sfs, path, data)
        assert e.value.errno == errno.EINVAL and reason in e.value.reason
    assert value(boto, f"{p}/v")["Value"] == "keep"


# -- SecureString -----------------------------------------------------------------------------------

def test_secure_string_is_decrypted_0600_and_never_logged(make_fs, params, boto, caplog):
    caplog.set_level(logging.DEBUG, logger="awsfs")
    secret, secret2 = "hunter2-Sup3rS3cret", "n3w-S3cret-Valu3"
    p = params({"db/password": (secret, "SecureString")})
    fs = make_fs(regions=[R])
    path = f"/ssm/{R}{p}/db/password"
    assert read(fs, path) == secret.encode() + b"\n"
    assert fs.getattr(path).mode & 0o777 == 0o600
    save(fs, path, secret2.encode() + b"\n")
    got = value(boto, f"{p}/db/password")
    assert (got["Value"], got["Type"]) == (secret2, "SecureString")
    assert fs.getattr(path).mode & 0o777 == 0o600
    hist = f"{path}@history"
    assert fs.getattr(hist).mode & 0o777 == 0o400 and secret.encode() in read(fs, hist)
    # refusals and a conflict: their messages name the parameter, never its value
    with pytest.raises(FsError):
        save(fs, path, secret.encode() * 600)
    boto("ssm", R).put_parameter(Name=f"{p}/db/password", Value=secret + "x", Type="SecureString", Overwrite=True)
    with pytest.raises(FsError) as e:
        save(fs, path, secret.encode() + b"!\n")
    assert e.value.errno == errno.ESTALE
    from pythonjsonlogger.json import JsonFormatter
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    errors, status = read(fs, "/.awsfs/errors").decode(), read(fs, "/.awsfs/status").decode()
    assert "db/password" in logged and "db/password" in errors
    for s in (secret, secret2):
        assert s not in logged and s not in errors and s not in status


def test_setxattr_changes_type_tier_and_description(sfs, params, boto):
    p = params({"v": "value"})
    path = f"/ssm/{R}{p}/v"
    sfs.setxattr(path, "user.aws.type", b"SecureString")
    got = value(boto, f"{p}/v")
    assert (got["Value"], got["Type"]) == ("value", "SecureString")
    assert sfs.getattr(path).mode & 0o777 == 0o600 and sfs.getxattr(path, "user.aws.type") == b"SecureString"
    sfs.setxattr(path, "user.aws.description", b"the v")
    sfs.setxattr(path, "user.aws.tier", b"Advanced")
    meta = boto("ssm", R).describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [f"{p}/v"]}])["Parameters"][0]
    assert (meta["Description"], meta["Tier"], meta["Type"]) == ("the v", "Advanced", "SecureString")
    assert sfs.getxattr(path, "user.aws.tier") == b"Advanced"
    sfs.setxattr(path, "user.aws.key_id", b"alias/app-key")  # another KMS key, kept by the next save
    save(sfs, path, b"value\n")
    save(sfs, path, b"new value\n")
    assert sfs.getxattr(path, "user.aws.key_id") == b"alias/app-key"
    save(sfs, path, b"value\n")
    assert value(boto, f"{p}/v")["Value"] == "value"
    puts = sfs.aws.calls["ssm:PutParameter"]
    sfs.setxattr(path, "user.aws.tier", b"Advanced")  # already so: nothing put
    assert sfs.aws.calls["ssm:PutParameter"] == puts
    for name, raw, err in (("user.aws.type", b"Binary", errno.EINVAL), ("user.aws.version", b"7", errno.ENOTSUP),
                           ("user.aws.tier", b"Standard", errno.EINVAL)):  # AWS never makes an advanced one standard
        with pytest.raises(FsError) as e:
            sfs.setxattr(path, name, raw)
        assert e.value.errno == err


# -- attributes and history -----------------------------------------------------------------------------

def test_xattrs_from_the_listing_and_describe_only_when_asked(make_fs, params, boto):
    p = params({"a": "1", "b": ("x,y", "StringList"), "s": ("pw", "SecureString")})
    boto("ssm", R).put_parameter(Name=f"{p}/a", Value="2", Overwrite=True, Description="first one")
    fs = make_fs(regions=[R])
    d = f"/ssm/{R}{p}"
    walk(fs, d)
    assert "ssm:DescribeParameters" not in fs.aws.calls  # listing names costs nothing
    assert fs.listxattr(f"{d}/a") == ["user.aws.data_type", "user.aws.description", "user.aws.last_modified",
                                      "user.aws.tier", "user.aws.type", "user.aws.version"]
    assert "user.aws.key_id" in fs.listxattr(f"{d}/s")
    assert fs.getxattr(f"{d}/a", "user.aws.version") == b"2"
    assert fs.getxattr(f"{d}/b", "user.aws.type") == b"StringList"
    assert fs.getxattr(f"{d}/a", "user.aws.last_modified").decode().endswith("+00:00")
    assert "ssm:DescribeParameters" not in fs.aws.calls
    assert fs.getxattr(f"{d}/a", "user.aws.description") == b"first one"
    described = fs.aws.calls["ssm:DescribeParameters"]
    assert fs.getxattr(f"{d}/b", "user.aws.tier") == b"Standard"  # the same region listing answers
    assert fs.getxattr(f"{d}/s", "user.aws.key_id") == b"alias/aws/ssm"
    assert fs.aws.calls["ssm:DescribeParameters"] == described
    with pytest.raises(FsError) as e:
        fs.getxattr(f"{d}/a", "user.aws.nothing")
    assert e.value.errno == errno.ENODATA


def test_history_file_is_hidden_and_read_only(sfs, params, boto):
    p = params({"v": "one"})
    d = f"/ssm/{R}{p}"
    save(sfs, f"{d}/v", b"two\n")
    save(sfs, f"{d}/v", b"three\n")
    versions = json.loads(read(sfs, f"{d}/v@history"))
    assert [(v["Version"], v["Value"]) for v in versions] == [(1, "one"), (2, "two"), (3, "three")]
    assert sfs.listdir(d) == ["v"]
    assert sfs.getattr(f"{d}/v@history").mode & 0o222 == 0
    for action in (lambda: sfs.open(f"{d}/v@history", W), lambda: sfs.unlink(f"{d}/v@history")):
        with pytest.raises(FsError) as e:
            action()
        assert e.value.errno == errno.EACCES
    with pytest.raises(FsError) as e:
        sfs.getattr(f"{d}/none@history")
    assert e.value.errno == errno.ENOENT


# -- conflicts -----------------------------------------------------------------------------------------

def test_save_is_estale_when_changed_since_read_and_theirs_survives(sfs, params, boto):
    p = params({"v": "mine"})
    path = f"/ssm/{R}{p}/v"
    read(sfs, path)
    boto("ssm", R).put_parameter(Name=f"{p}/v", Value="theirs", Overwrite=True)
    with pytest.raises(FsError) as e:
        echo_into(sfs, path, b"new\n")
    assert e.value.errno == errno.ESTALE
    assert value(boto, f"{p}/v")["Value"] == "theirs"
    assert "changed in SSM since you read it" in read(sfs, "/.awsfs/errors").decode()
    assert read(sfs, path) == b"theirs\n"  # the refusal dropped what was cached


def test_a_write_between_check_and_put_is_reported_with_the_history(sfs, params, boto):
    p = params({"v": "mine"})
    path = f"/ssm/{R}{p}/v"
    read(sfs, path)
    faults = Faults(sfs.aws.client("ssm", R), "PutParameter")
    faults.hook = lambda: (faults.remove(), boto("ssm", R).put_parameter(Name=f"{p}/v", Value="theirs",
                                                                         Overwrite=True))
    echo_into(sfs, path, b"new\n")
    got = value(boto, f"{p}/v")
    assert (got["Value"], got["Version"]) == ("new", 3)
    note = read(sfs, "/.awsfs/errors").decode()
    assert "also changed in SSM by someone else" in note and "v@history" in note
    assert [v["Value"] for v in json.loads(read(sfs, f"{path}@history"))] == ["mine", "theirs", "new"]


def test_create_is_eexist_when_the_name_is_taken_meanwhile(sfs, params, boto):
    p = params({"here": "x"})
    path = f"/ssm/{R}{p}/new"
    fh = sfs.create(path, 0o644, W | os.O_CREAT)
    sfs.write(path, b"mine\n", 0, fh)
    boto("ssm", R).put_parameter(Name=f"{p}/new", Value="theirs", Type="String")
    with pytest.raises(FsError) as e:
        sfs.flush(path, fh)
    sfs.release(path, fh)
    assert e.value.errno == errno.EEXIST and "already exists" in e.value.reason
    assert value(boto, f"{p}/new")["Value"] == "theirs"


# -- files and directories ---------------------------------------------------------------------------

def test_create_rm_mkdir_p_and_mv(sfs, params, boto):
    p = params({"keep": "k", "secret": ("s3", "SecureString")})
    d = f"/ssm/{R}{p}"
    for level in ("a", "a/b", "a/b/c"):  # mkdir -p: local until a parameter is written below
        sfs.mkdir(f"{d}/{level}", 0o755)
    assert value(boto, f"{p}/a") is None and "a" in sfs.listdir(d)
    create(sfs, f"{d}/a/b/c/leaf", b"green\n")
    got = value(boto, f"{p}/a/b/c/leaf")
    assert (got["Value"], got["Type"]) == ("green", "String")
    assert sfs.listdir(f"{d}/a/b/c") == ["leaf"]
    with pytest.raises(FsError) as e:
        create(sfs, f"{d}/bad name", b"x\n")
    assert e.value.errno == errno.EINVAL
    sfs.unlink(f"{d}/a/b/c/leaf")
    assert value(boto, f"{p}/a/b/c/leaf") is None
    for level in ("a/b/c", "a/b", "a"):  # rm -r: the emptied directories go too
        sfs.rmdir(f"{d}/{level}")
    assert sorted(sfs.listdir(d)) == ["keep", "secret"]
    sfs.rename(f"{d}/secret", f"{d}/moved")  # mv keeps a SecureString one
    got = value(boto, f"{p}/moved")
    assert (got["Value"], got["Type"]) == ("s3", "SecureString") and value(boto, f"{p}/secret") is None
    assert sorted(sfs.listdir(d)) == ["keep", "moved"]
    with pytest.raises(FsError) as e:
        sfs.unlink(f"{d}/nothing")
    assert e.value.errno == errno.ENOENT


def test_editor_saves_and_scratch_names(sfs, params, boto):
    p = params({"doc": ("line one\nline two", "SecureString")})
    d = f"/ssm/{R}{p}"
    path = f"{d}/doc"
    original = read(sfs, path)
    # vim: rename to the backup, create anew, write, fsync, remove the backup
    sfs.rename(path, path + "~")
    fh = sfs.create(path, 0o644, W | os.O_CREAT | os.O_TRUNC)
    sfs.write(path, original.replace(b"two", b"2"), 0, fh)
    sfs.fsync(path, 0, fh)
    sfs.flush(path, fh)
    sfs.release(path, fh)
    sfs.unlink(path + "~")
    got = value(boto, f"{p}/doc")
    assert (got["Value"], got["Type"]) == ("line one\nline 2", "SecureString")
    # sed -i: a temp file renamed onto the parameter
    create(sfs, f"{d}/sedAb12Cd", b"line one\nline three\n")
    assert value(boto, f"{p}/sedAb12Cd") is None
    sfs.rename(f"{d}/sedAb12Cd", path)
    assert value(boto, f"{p}/doc")["Value"] == "line one\nline three"
    for name in (".doc.swp", "4913", "doc~", ".doc.Ab12Cd"):  # editors' scratch files stay here
        create(sfs, f"{d}/{name}", b"scratch\n")
        assert name in sfs.listdir(d)
        sfs.unlink(f"{d}/{name}")
    assert sfs.listdir(d) == ["doc"]
    names = [x["Name"] for x in boto("ssm", R).get_parameters_by_path(Path=p, Recursive=True)["Parameters"]]
    assert names == [f"{p}/doc"]


def test_a_parameter_with_a_scratch_like_name_is_saved_not_kept_local(sfs, params, boto):
    p = params({".env": "A=1"})
    path = f"/ssm/{R}{p}/.env"
    sfs.rename(path, path + "~")  # vim's save of .env
    create(sfs, path, b"A=2\n")
    sfs.unlink(path + "~")
    assert value(boto, f"{p}/.env")["Value"] == "A=2"
    assert sfs.listdir(f"/ssm/{R}{p}") == [".env"]


def test_mv_moves_the_value_ssm_has_now(sfs, params, boto):
    p = params({"a": "old"})
    d = f"/ssm/{R}{p}"
    read(sfs, f"{d}/a")
    boto("ssm", R).put_parameter(Name=f"{p}/a", Value="newer", Overwrite=True)
    sfs.rename(f"{d}/a", f"{d}/b")
    assert value(boto, f"{p}/b")["Value"] == "newer" and value(boto, f"{p}/a") is None


def test_values_over_the_tier_limit_are_efbig(sfs, params, boto):
    p = params({"std": "small"})
    d = f"/ssm/{R}{p}"
    fh = sfs.create(f"{d}/new", 0o644, W | os.O_CREAT)  # a new one is standard: refused at the write
    with pytest.raises(FsError) as e:
        sfs.write(f"{d}/new", b"x" * 5000, 0, fh)
    sfs.release(f"{d}/new", fh)
    assert e.value.errno == errno.EFBIG and value(boto, f"{p}/new") is None
    with pytest.raises(FsError) as e:  # an existing one: its tier says
        save(sfs, f"{d}/std", b"x" * 5000 + b"\n")
    assert e.value.errno == errno.EFBIG and "at most 4,096 bytes" in e.value.reason
    assert "user.aws.tier" in e.value.reason and value(boto, f"{p}/std")["Value"] == "small"
    sfs.setxattr(f"{d}/std", "user.aws.tier", b"Advanced")
    save(sfs, f"{d}/std", b"x" * 5000 + b"\n")
    assert value(boto, f"{p}/std")["Value"] == "x" * 5000
    save(sfs, f"{d}/std", b"y" * 6000 + b"\n")  # an advanced value stays advanced
    assert value(boto, f"{p}/std")["Value"] == "y" * 6000
    with pytest.raises(FsError) as e:
        save(sfs, f"{d}/std", b"x" * 9000)
    assert e.value.errno == errno.EFBIG


# -- costs ----------------------------------------------------------------------------------------------

@pytest.fixture
def three_hundred(boto):
    ssm = boto("ssm", COST_REGION)
    names = [f"/svc{i % 3}/env{i % 5}/key{i}" for i in range(290)] + [f"top{i}" for i in range(10)]
    for i, name in enumerate(names):
        ssm.put_parameter(Name=name, Value=f"value {i}", Type="SecureString" if i % 7 == 0 else "String")
    yield names
    for i in range(0, len(names), 10):
        ssm.delete_parameters(Names=names[i:i + 10])


def test_ls_lr_and_grep_r_cost_the_listing_pages_only(make_fs, three_hundred):
    fs = make_fs(regions=[COST_REGION])
    walk(fs, f"/ssm/{COST_REGION}")
    # ten a page; moto answers one empty page more after a full one
    assert dict(fs.aws.calls) == {"ssm:GetParametersByPath": len(three_hundred) // 10 + 1}
    fs.aws.calls.clear()
    walk(fs, f"/ssm/{COST_REGION}")
    assert dict(fs.aws.calls) == {}
    # below the region: only that directory's parameters are listed
    fs = make_fs(regions=[COST_REGION])
    walk(fs, f"/ssm/{COST_REGION}/svc1")
    assert dict(fs.aws.calls) == {"ssm:GetParametersByPath": 97 // 10 + 1}
