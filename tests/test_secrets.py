"""Secrets Manager without a mount: the filesystem driven directly, AWS checked with boto3."""
import errno
import json
import logging
import os

import pytest

from awsfs.errors import FsError
from helpers import create, read, save, spent_since

R = "us-east-1"
SM = "secretsmanager"


@pytest.fixture
def sm(boto):
    return boto(SM)


@pytest.fixture
def top(secrets_top):
    return secrets_top


@pytest.fixture
def sfs(make_fs):
    return make_fs(regions=[R])


def value(sm, name, stage="AWSCURRENT"):
    got = sm.get_secret_value(SecretId=name, VersionStage=stage)
    return got.get("SecretString", got.get("SecretBinary"))


def p(name):
    return f"/secrets/{R}/{name}"


# -- listing ----------------------------------------------------------------------------------------

def test_names_with_slashes_are_directories_and_listing_reads_no_value(sfs, sm, top):
    for name in ("app/db/password", "app/db/user", "app/api-key", "plain"):
        sm.create_secret(Name=f"{top}/{name}", SecretString=f"value of {name}")
    sm.create_secret(Name=f"/{top}/rooted/token", SecretString="t")  # a leading / is not shown
    sm.create_secret(Name=f"{top}/bad//empty", SecretString="x")     # no path can name this one
    sm.create_secret(Name=f"{top}/novalue")                           # created without a value
    sm.create_secret(Name=f"{top}/rooted/token", SecretString="plain")  # shown instead of /{top}/rooted/token
    assert top in sfs.listdir(f"/secrets/{R}")
    assert sorted(sfs.listdir(p(top))) == ["app", "novalue", "plain", "rooted"]  # not bad//empty
    assert sorted(sfs.listdir(p(f"{top}/app"))) == ["api-key", "db"]
    assert sorted(sfs.listdir(p(f"{top}/app/db"))) == ["password", "user"]
    assert sfs.listdir(p(f"{top}/rooted")) == ["token"]
    assert sfs.getattr(p(f"{top}/app")).kind == "dir"
    assert {k.split(":")[1] for k in sfs.aws.calls} == {"ListSecrets"}  # names and metadata only
    assert read(sfs, p(f"{top}/rooted/token")) == b"plain\n"
    assert read(sfs, p(f"{top}/novalue")) == b""
    assert sfs.getattr(p(f"{top}/novalue")).size == 0
    save(sfs, p(f"{top}/novalue"), b"first\n")  # its first version
    assert value(sm, f"{top}/novalue") == "first"
    for missing in (f"{top}/nope", f"{top}/app/nope", f"{top}/app/db/password/x", f"{top}/bad"):
        with pytest.raises(FsError) as e:
            sfs.getattr(p(missing))
        assert e.value.errno == errno.ENOENT
    with pytest.raises(FsError) as e:
        sfs.listdir("/secrets/ap-south-1")
    assert e.value.errno == errno.ENOENT


# -- values -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stored, shown", [
    ("abc", b"abc\n"),
    ("abc\n", b"abc\n\n"),
    ("line one\nline two", b"line one\nline two\n"),
    ("{\n  \"user\": \"admin\"\n}\n", b"{\n  \"user\": \"admin\"\n}\n\n"),
    ("caf\u00e9 \u2713", "caf\u00e9 \u2713\n".encode()),
])
def test_a_string_reads_with_one_newline_and_saves_back_exactly(sfs, sm, top, stored, shown):
    name = f"{top}/v"
    sm.create_secret(Name=name, SecretString="before")
    assert read(sfs, p(name)) == b"before\n"
    save(sfs, p(name), shown)
    assert value(sm, name) == stored
    assert read(sfs, p(name)) == shown
    assert sfs.getattr(p(name)).size == len(shown)
    fresh = sfs.__class__(sfs.aws, [R])  # what another mount reads from AWS
    assert read(fresh, p(name)) == shown


def test_a_write_without_a_newline_is_the_value_as_written(sfs, sm, top):
    name = f"{top}/v"
    sm.create_secret(Name=name, SecretString="before")
    read(sfs, p(name))
    save(sfs, p(name), b"no newline")
    assert value(sm, name) == "no newline"
    save(sfs, p(name), b"two\n\n")  # exactly one newline is dropped
    assert value(sm, name) == "two\n"


def test_binary_secrets_are_their_bytes_both_ways(sfs, sm, top):
    blob = bytes(range(256)) + b"\n"
    sm.create_secret(Name=f"{top}/bin", SecretBinary=blob)
    sm.create_secret(Name=f"{top}/str", SecretString="s")
    assert read(sfs, p(f"{top}/bin")) == blob
    assert sfs.getattr(p(f"{top}/bin")).size == len(blob)
    save(sfs, p(f"{top}/bin"), b"text\n")  # a binary secret stays binary, every byte kept
    assert sm.get_secret_value(SecretId=f"{top}/bin")["SecretBinary"] == b"text\n"
    create(sfs, p(f"{top}/new-bin"), b"\xff\xfe\x00")  # a new file that is not UTF-8 is a binary secret
    got = sm.get_secret_value(SecretId=f"{top}/new-bin")
    assert got["SecretBinary"] == b"\xff\xfe\x00" and "SecretString" not in got
    read(sfs, p(f"{top}/str"))
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/str"), b"\xff\xfe")
    assert e.value.errno == errno.EINVAL and "UTF-8" in e.value.reason
    assert value(sm, f"{top}/str") == "s"


def test_secret_files_are_their_owners_alone(sfs, sm, top, make_fs):
    sm.create_secret(Name=f"{top}/a", SecretString="1")
    sm.put_secret_value(SecretId=f"{top}/a", SecretString="2")
    assert sfs.getattr(p(f"{top}/a")).mode & 0o777 == 0o600
    assert sfs.getattr(p(f"{top}/a:AWSPREVIOUS")).mode & 0o777 == 0o400
    ro = make_fs(regions=[R], read_only=True)
    assert ro.getattr(p(f"{top}/a")).mode & 0o777 == 0o400


def test_empty_and_oversized_values_are_refused(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="keep")
    read(sfs, p(f"{top}/a"))
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a"), b"\n")
    assert e.value.errno == errno.EINVAL and "empty" in e.value.reason
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a"), b"x" * 65538)
    assert e.value.errno == errno.EFBIG
    assert value(sm, f"{top}/a") == "keep"
    save(sfs, p(f"{top}/a"), b"x" * 65536 + b"\n")  # the most a secret holds, plus the file's newline
    assert value(sm, f"{top}/a") == "x" * 65536


# -- metadata -----------------------------------------------------------------------------------------

def test_metadata_is_in_extended_attributes(sfs, sm, top):
    arn = sm.create_secret(Name=f"{top}/a", SecretString="1", Description="the db password",
                           KmsKeyId="alias/custom", Tags=[{"Key": "team", "Value": "db"}])["ARN"]
    version = sm.put_secret_value(SecretId=f"{top}/a", SecretString="2")["VersionId"]
    before = dict(sfs.aws.calls)
    attrs = {n: sfs.getxattr(p(f"{top}/a"), n) for n in sfs.listxattr(p(f"{top}/a"))}
    assert attrs["user.aws.arn"] == arn.encode()
    assert attrs["user.aws.name"] == f"{top}/a".encode()
    assert attrs["user.aws.version"] == version.encode()
    assert attrs["user.aws.previous_version"]
    assert attrs["user.aws.description"] == b"the db password"
    assert attrs["user.aws.kms_key_id"] == b"alias/custom"
    assert json.loads(attrs["user.aws.tags"]) == {"team": "db"}
    assert attrs["user.aws.last_changed"].decode().endswith("+00:00")
    assert all(n.startswith("user.aws.") for n in attrs)
    assert spent_since(sfs, before) == {f"{SM}:ListSecrets": 1}  # all from the listing: no value read
    with pytest.raises(FsError) as e:
        sfs.getxattr(p(f"{top}/a"), "user.aws.nope")
    assert e.value.errno == errno.ENODATA
    # after a save through awsfs they are the new version's
    read(sfs, p(f"{top}/a"))
    save(sfs, p(f"{top}/a"), b"3\n")
    now = sm.describe_secret(SecretId=f"{top}/a")["VersionIdsToStages"]
    current = next(v for v, s in now.items() if "AWSCURRENT" in s)
    assert sfs.getxattr(p(f"{top}/a"), "user.aws.version") == current.encode()
    assert sfs.getxattr(p(f"{top}/a"), "user.aws.previous_version") == version.encode()


def test_the_previous_version_is_readable_beside_the_secret_but_not_listed(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="old")
    sm.put_secret_value(SecretId=f"{top}/a", SecretString="new")
    assert read(sfs, p(f"{top}/a:AWSPREVIOUS")) == b"old\n"
    assert read(sfs, p(f"{top}/a:AWSCURRENT")) == b"new\n"
    assert sfs.listdir(p(top)) == ["a"]
    vid = sm.describe_secret(SecretId=f"{top}/a")["VersionIdsToStages"]
    old = next(v for v, s in vid.items() if "AWSPREVIOUS" in s)
    assert read(sfs, p(f"{top}/a:{old}")) == b"old\n"  # a version id works too
    assert sfs.getxattr(p(f"{top}/a:AWSPREVIOUS"), "user.aws.version") == old.encode()
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a:AWSPREVIOUS"), b"x\n")
    assert e.value.errno == errno.EACCES
    for missing in (f"{top}/a:AWSPENDING", f"{top}/nope:AWSPREVIOUS"):
        with pytest.raises(FsError) as e:
            sfs.getattr(p(missing))
        assert e.value.errno == errno.ENOENT
    # after a save through awsfs, the value it replaced is the previous one
    read(sfs, p(f"{top}/a"))
    save(sfs, p(f"{top}/a"), b"newest\n")
    assert read(sfs, p(f"{top}/a:AWSPREVIOUS")) == b"new\n"


# -- saves ----------------------------------------------------------------------------------------------

def test_a_save_is_one_check_one_put_one_describe_and_unchanged_is_none(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="1")
    data = read(sfs, p(f"{top}/a"))
    before = dict(sfs.aws.calls)
    save(sfs, p(f"{top}/a"), data)
    assert spent_since(sfs, before) == {}
    save(sfs, p(f"{top}/a"), b"2\n")
    assert spent_since(sfs, before) == {f"{SM}:GetSecretValue": 1, f"{SM}:PutSecretValue": 1, f"{SM}:DescribeSecret": 1}
    before = dict(sfs.aws.calls)
    assert read(sfs, p(f"{top}/a")) == b"2\n"  # written through: no call
    assert spent_since(sfs, before) == {}
    versions = sm.list_secret_version_ids(SecretId=f"{top}/a")["Versions"]
    assert len(versions) == 2


def test_a_save_over_a_change_made_since_reading_is_estale(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="original")
    assert read(sfs, p(f"{top}/a")) == b"original\n"
    sm.put_secret_value(SecretId=f"{top}/a", SecretString="theirs")
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a"), b"mine\n")
    assert e.value.errno == errno.ESTALE and "changed" in e.value.reason
    assert value(sm, f"{top}/a") == "theirs"
    assert any("ESTALE" in line for line in sfs.errors.lines())
    # the same bytes put back again by someone else are still another version: refused too
    sfs.refresh(p(top))
    assert read(sfs, p(f"{top}/a")) == b"theirs\n"
    sm.put_secret_value(SecretId=f"{top}/a", SecretString="theirs")
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a"), b"mine\n")
    assert e.value.errno == errno.ESTALE
    # reading again moves the base: then the save goes through
    sfs.refresh(p(top))
    read(sfs, p(f"{top}/a"))
    save(sfs, p(f"{top}/a"), b"mine\n")
    assert value(sm, f"{top}/a") == "mine"


def test_a_write_landing_between_the_check_and_the_put_is_named_in_the_errors(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="original")
    read(sfs, p(f"{top}/a"))
    real = sfs.aws.send

    def send(service, region, op, params, **kw):
        if op == "PutSecretValue":  # someone else's put lands after awsfs's check
            sm.put_secret_value(SecretId=f"{top}/a", SecretString="theirs")
        return real(service, region, op, params, **kw)
    sfs.aws.send = send
    save(sfs, p(f"{top}/a"), b"mine\n")
    sfs.aws.send = real
    assert value(sm, f"{top}/a") == "mine"
    assert value(sm, f"{top}/a", "AWSPREVIOUS") == "theirs"
    note = [line for line in sfs.errors.lines() if "note:" in line]
    assert len(note) == 1 and "AWSPREVIOUS" in note[0] and "a:AWSPREVIOUS" in note[0], note
    assert read(sfs, p(f"{top}/a:AWSPREVIOUS")) == b"theirs\n"


def test_a_new_file_is_create_secret_and_eexist_when_taken_meanwhile(sfs, sm, top):
    sfs.mkdir(p(top), 0o755)
    create(sfs, p(f"{top}/new"), b"fresh\n")
    assert value(sm, f"{top}/new") == "fresh"
    assert read(sfs, p(f"{top}/new")) == b"fresh\n"
    assert "new" in sfs.listdir(p(top))
    path = p(f"{top}/raced")
    fh = sfs.create(path, 0o644, os.O_WRONLY | os.O_CREAT)
    sm.create_secret(Name=f"{top}/raced", SecretString="theirs")  # behind awsfs's back, while open
    sfs.write(path, b"mine\n", 0, fh)
    with pytest.raises(FsError) as e:
        sfs.flush(path, fh)
    sfs.release(path, fh)
    assert e.value.errno == errno.EEXIST
    assert value(sm, f"{top}/raced") == "theirs"


def test_new_files_in_new_directories_and_beside_rooted_names(sfs, sm, top):
    sm.create_secret(Name=f"/{top}/rooted/a", SecretString="a")
    sfs.mkdir(p(f"{top}/made"), 0o755)
    sfs.mkdir(p(f"{top}/made/here"), 0o755)
    create(sfs, p(f"{top}/made/here/pw"), b"1\n")
    assert value(sm, f"{top}/made/here/pw") == "1"
    create(sfs, p(f"{top}/rooted/b"), b"b\n")  # its directory's names start with /: so does the new one
    assert value(sm, f"/{top}/rooted/b") == "b"
    assert sorted(sfs.listdir(p(f"{top}/rooted"))) == ["a", "b"]


def test_editor_scratch_names_stay_local(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="1")
    for scratch in (".a.swp", "4913", "a~", "sedAb12Cd", ".a.Xy12Zw"):
        create(sfs, p(f"{top}/{scratch}"), b"scratch\n")
        sfs.unlink(p(f"{top}/{scratch}"))
    create(sfs, p(f"{top}/.env"), b"dot names are secrets\n")
    for bad in ("my secret", "a:AWSPENDING", "caf\u00e9"):  # no secret can have these names
        with pytest.raises(FsError) as e:
            create(sfs, p(f"{top}/{bad}"), b"x\n")
        assert e.value.errno == errno.EINVAL
    names = {s["Name"] for s in sm.list_secrets()["SecretList"] if s["Name"].startswith(top)}
    assert names == {f"{top}/a", f"{top}/.env"}


# -- deletion ---------------------------------------------------------------------------------------------

def test_rm_schedules_deletion_with_the_default_window_and_says_so(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="1")
    sm.create_secret(Name=f"{top}/b", SecretString="2")
    read(sfs, p(f"{top}/a"))
    sfs.unlink(p(f"{top}/a"))
    d = sm.describe_secret(SecretId=f"{top}/a")
    left = (d["DeletedDate"] - d["LastChangedDate"]).days
    assert 29 <= left <= 30  # AWS's default recovery window
    assert sfs.listdir(p(top)) == ["b"]
    note = [line for line in sfs.errors.lines() if "note:" in line]
    assert len(note) == 1 and "scheduled for deletion" in note[0] and "restore-secret" in note[0] \
        and "30-day" in note[0], note
    with pytest.raises(FsError) as e:
        read(sfs, p(f"{top}/a"))
    assert e.value.errno == errno.ENOENT
    with pytest.raises(FsError) as e:
        create(sfs, p(f"{top}/a"), b"again\n")
    assert e.value.errno == errno.EBUSY and "scheduled for deletion" in e.value.reason
    # another mount knows too (ListSecrets says so), and a restore brings it back
    other = sfs.__class__(sfs.aws, [R])
    assert other.listdir(p(top)) == ["b"]
    with pytest.raises(FsError) as e:
        create(other, p(f"{top}/a"), b"again\n")
    assert e.value.errno == errno.EBUSY
    sm.restore_secret(SecretId=f"{top}/a")
    other.refresh(p(top))
    assert read(other, p(f"{top}/a")) == b"1\n"
    # rm -r: the directory goes with its last secret
    sfs.unlink(p(f"{top}/b"))
    sfs.refresh("/secrets")
    with pytest.raises(FsError) as e:
        sfs.rmdir(p(top))
    assert e.value.errno == errno.ENOTEMPTY  # a is back


def test_saving_a_secret_deleted_since_reading_says_it_is_scheduled(sfs, sm, top):
    sm.create_secret(Name=f"{top}/a", SecretString="1")
    read(sfs, p(f"{top}/a"))
    sm.delete_secret(SecretId=f"{top}/a")
    with pytest.raises(FsError) as e:
        save(sfs, p(f"{top}/a"), b"2\n")
    assert e.value.errno == errno.EBUSY and "scheduled for deletion" in e.value.reason


# -- batching -------------------------------------------------------------------------------------------

def test_cat_a_b_c_is_one_batch_get(sfs, sm, top, command_line):
    for n in "abcd":
        sm.create_secret(Name=f"{top}/d/{n}", SecretString=f"value {n}")
    pid = command_line(*(p(f"{top}/d/{n}") for n in "abc"))
    sfs.caller_pid = lambda: pid
    sfs.listdir(f"/secrets/{R}")  # the listing (another directory: no walk of d)
    before = dict(sfs.aws.calls)
    assert [read(sfs, p(f"{top}/d/{n}")) for n in "abc"] == [b"value a\n", b"value b\n", b"value c\n"]
    assert spent_since(sfs, before) == {f"{SM}:BatchGetSecretValue": 1}
    before = dict(sfs.aws.calls)
    assert read(sfs, p(f"{top}/d/d")) == b"value d\n"  # not named: alone
    assert spent_since(sfs, before) == {f"{SM}:GetSecretValue": 1}


def test_a_directory_walk_fetches_values_twenty_a_call_in_listing_order(sfs, sm, top):
    for n in range(45):
        sm.create_secret(Name=f"{top}/w/s{n:02d}", SecretString=f"v{n}")
    sm.create_secret(Name=f"{top}/w/novalue")
    sfs.caller_pid = lambda: os.getpid()
    before = dict(sfs.aws.calls)
    names = sfs.listdir(p(f"{top}/w"))
    sizes = {n: sfs.getattr(p(f"{top}/w/{n}")).size for n in names}  # ls -l
    assert sizes["s07"] == 3 and sizes["novalue"] == 0
    assert spent_since(sfs, before)[f"{SM}:BatchGetSecretValue"] == 3  # 20 + 20 + 5
    assert f"{SM}:GetSecretValue" not in spent_since(sfs, before)
    assert all(read(sfs, p(f"{top}/w/s{n:02d}")) == f"v{n}\n".encode() for n in range(45))
    # a file opened without its directory being listed (an application reading its one secret): alone
    other = sfs.__class__(sfs.aws, [R])
    other.caller_pid = lambda: os.getpid()
    before = dict(other.aws.calls)
    assert read(other, p(f"{top}/w/s30")) == b"v30\n"
    assert spent_since(other, before) == {f"{SM}:ListSecrets": 1, f"{SM}:GetSecretValue": 1}


def test_a_failed_batch_falls_back_to_one_by_one(sfs, sm, top):
    for n in range(3):
        sm.create_secret(Name=f"{top}/f/s{n}", SecretString=f"v{n}")
    sfs.caller_pid = lambda: os.getpid()
    real = sfs.aws.call

    def call(service, region, op, **params):
        if op == "BatchGetSecretValue":
            raise FsError(errno.EACCES, "not authorised to BatchGetSecretValue")
        return real(service, region, op, **params)
    sfs.aws.call = call
    names = sfs.listdir(p(f"{top}/f"))
    assert [read(sfs, p(f"{top}/f/{n}")) for n in names] == [b"v0\n", b"v1\n", b"v2\n"]


# -- nothing of a value in logs, errors or status ----------------------------------------------------------

def test_values_never_reach_the_log_the_errors_or_the_status(sfs, sm, top, caplog):
    caplog.set_level(logging.DEBUG, logger="awsfs")
    secret = "hunter2-" + top
    sm.create_secret(Name=f"{top}/a", SecretString=secret + "-v1")
    read(sfs, p(f"{top}/a"))
    save(sfs, p(f"{top}/a"), (secret + "-v2\n").encode())
    sm.put_secret_value(SecretId=f"{top}/a", SecretString=secret + "-v3")
    with pytest.raises(FsError):
        save(sfs, p(f"{top}/a"), (secret + "-v4\n").encode())   # ESTALE
    with pytest.raises(FsError):
        create(sfs, p(f"{top}/a"), (secret + "-v5\n").encode())  # exists
    create(sfs, p(f"{top}/b"), (secret + "-v6\n").encode())
    read(sfs, p(f"{top}/b:AWSCURRENT"))
    sfs.unlink(p(f"{top}/b"))
    logged = "\n".join(json.dumps({**r.__dict__, "args": str(r.args)}, default=str) for r in caplog.records)
    assert "mutation" in logged and "GetSecretValue" in logged
    shown = logged + "\n".join(sfs.errors.lines()) + json.dumps(sfs.status(), default=str)
    assert "hunter2" not in shown
    assert "hunter2" not in read(sfs, "/.awsfs/errors").decode() + read(sfs, "/.awsfs/status").decode()
