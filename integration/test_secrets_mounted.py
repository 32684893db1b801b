"""Secrets Manager through a real mount, driven by the programs people use.

Every test makes its own secrets under a prefix of its own (deleted afterwards) and checks what the
user sees, what Secrets Manager holds, and that no value ever reaches the mount's log.
"""
from __future__ import annotations

import errno
import json
import shlex
import sys

import pytest

R = "us-east-1"
SM = "secretsmanager"
MARK = "s3cr3t"  # in every value the tests write: never in the log
VIM_RENAME, VIM_COPY = "vim -N -u NONE -i NONE -es", "vim -u NONE -i NONE -es"  # rename save; in-place save


@pytest.fixture
def sm(boto):
    return boto(SM)


@pytest.fixture
def top(secrets_top):
    return secrets_top


def value(sm, name, stage="AWSCURRENT"):
    got = sm.get_secret_value(SecretId=name, VersionStage=stage)
    return got.get("SecretString", got.get("SecretBinary"))


def q(s: str) -> str:
    return shlex.quote(s)


def calls(mnt, op: str) -> int:
    return mnt.status()["aws_calls"].get(f"{SM}:{op}", 0)


def no_value_logged(mnt):
    with open(mnt.log_file) as f:
        log = f.read()
    assert "secretsmanager" in log and MARK not in log
    assert MARK not in mnt.errors() and MARK not in json.dumps(mnt.status())


def test_reading_with_cat_ls_grep_getfattr_and_cp(mount_awsfs, sm, top, tmp_path):
    blob = bytes(range(256))
    for name in ("a", "b", "c"):
        sm.create_secret(Name=f"{top}/d/{name}", SecretString=f"{MARK}-{name}")
    sm.create_secret(Name=f"{top}/db/password", SecretString=f"{MARK}-pw\nsecond line", Description="db")
    sm.put_secret_value(SecretId=f"{top}/db/password", SecretString=f"{MARK}-pw\nneedle here")
    sm.create_secret(Name=f"{top}/db/cert", SecretBinary=blob)
    m = mount_awsfs()
    d = f"secrets/{R}/{top}"
    # cat a b c: the three values in one BatchGetSecretValue
    assert m.sh(f"cat {d}/d/a {d}/d/b {d}/d/c").stdout == f"{MARK}-a\n{MARK}-b\n{MARK}-c\n"
    assert (calls(m, "BatchGetSecretValue"), calls(m, "GetSecretValue")) == (1, 0)
    # ls -lR: true sizes and 0600, the values fetched twenty a call as ls walks the listing
    out = m.sh(f"ls -lR {d}").stdout
    assert out.count("-rw------- ") == 5, out
    assert m.sh(f"stat -c %s {d}/db/cert").stdout.strip() == "256"
    assert m.sh(f"stat -c %s {d}/db/password").stdout.strip() == str(len(f"{MARK}-pw\nneedle here\n"))
    assert calls(m, "GetSecretValue") == 0 and calls(m, "BatchGetSecretValue") == 2
    # grep -r, the previous version (not listed), getfattr
    assert m.sh(f"grep -rl needle {d}").stdout.split() == [f"{d}/db/password"]
    assert m.sh(f"cat {d}/db/password:AWSPREVIOUS").stdout == f"{MARK}-pw\nsecond line\n"
    assert "AWSPREVIOUS" not in m.sh(f"ls -a {d}/db").stdout
    attrs = m.sh(f"getfattr -d {d}/db/password").stdout
    arn = sm.describe_secret(SecretId=f"{top}/db/password")["ARN"]
    assert f'user.aws.arn="{arn}"' in attrs and 'user.aws.description="db"' in attrs
    assert "user.aws.version=" in attrs and "user.aws.previous_version=" in attrs
    # cp -r out: every byte
    m.sh(f"cp -r {d} {tmp_path}/copy")
    assert (tmp_path / "copy/db/cert").read_bytes() == blob
    assert (tmp_path / "copy/d/b").read_text() == f"{MARK}-b\n"
    assert calls(m, "GetSecretValue") == 1  # the previous version; every current value came in a batch
    no_value_logged(m)


def test_writing_with_echo_cp_vim_and_rm(mount_awsfs, sm, top, tmp_path):
    sm.create_secret(Name=f"{top}/app/token", SecretString=f"{MARK}-0")
    sm.create_secret(Name=f"{top}/app/key", SecretBinary=b"\x00\x01")
    m = mount_awsfs()
    d = f"secrets/{R}/{top}/app"
    m.sh(f"echo {MARK}-1 > {d}/token")                                     # bash's echo >
    assert value(sm, f"{top}/app/token") == f"{MARK}-1"
    m.sh(f"printf '{MARK}-2\\nline two\\n' > {d}/token")                    # multi-line
    assert value(sm, f"{top}/app/token") == f"{MARK}-2\nline two"
    (tmp_path / "new").write_text(f"{MARK}-new\n")
    m.sh(f"cp {tmp_path}/new {d}/created")                                  # cp of a new file: CreateSecret
    assert value(sm, f"{top}/app/created") == f"{MARK}-new"
    (tmp_path / "bin").write_bytes(b"\xff\x00\xfe")
    m.sh(f"cp {tmp_path}/bin {d}/key")                                      # binary over binary
    assert value(sm, f"{top}/app/key") == b"\xff\x00\xfe"
    for n, vim in enumerate((VIM_RENAME, VIM_COPY)):                        # both of vim's ways to save
        r = m.sh(f"{vim} -c '%s/line .*/line {n}/' -c wq {d}/token", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert value(sm, f"{top}/app/token") == f"{MARK}-2\nline {n}"
    assert sorted(m.sh(f"ls -a {d}").stdout.split()) == [".", "..", "created", "key", "token"]  # no swap, no ~
    names = {s["Name"] for s in sm.list_secrets()["SecretList"] if s["Name"].startswith(top)}
    assert names == {f"{top}/app/{n}" for n in ("token", "key", "created")}
    assert m.sh(f"cat {d}/token:AWSPREVIOUS").stdout == f"{MARK}-2\nline 0\n"
    # mv is refused (Secrets Manager cannot rename; a copy-and-delete would lose the versions): cp
    # then rm does it, and rm schedules deletion, said so in the errors file; the name is then refused
    r = m.sh(f"mv {d}/created {d}/moved", check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    assert value(sm, f"{top}/app/created") == f"{MARK}-new"
    m.sh(f"cp {d}/created {d}/moved && rm {d}/created")
    assert value(sm, f"{top}/app/moved") == f"{MARK}-new"
    m.sh(f"rm {d}/moved")
    for gone in ("created", "moved"):
        assert sm.describe_secret(SecretId=f"{top}/app/{gone}").get("DeletedDate")
    assert m.sh(f"ls {d}").stdout.split() == ["key", "token"]
    notes = [line for line in m.errors().splitlines() if "note:" in line]
    assert any("EPERM" in line and "cannot rename" in line for line in m.errors().splitlines())
    assert len(notes) == 2 and all("scheduled for deletion" in n and "30-day" in n for n in notes), notes
    r = m.sh(f"/bin/echo again > {d}/created", check=False)
    assert r.returncode != 0 and "Device or resource busy" in r.stderr
    no_value_logged(m)


def test_conflicts_are_estale_and_eexist(mount_awsfs, sm, top, tmp_path, local_aws):
    sm.create_secret(Name=f"{top}/a", SecretString=f"{MARK}-original")
    m = mount_awsfs()
    d = f"secrets/{R}/{top}"
    # cat, then someone else changes it, then cp over it: ESTALE, theirs kept
    assert m.sh(f"cat {d}/a").stdout == f"{MARK}-original\n"
    sm.put_secret_value(SecretId=f"{top}/a", SecretString=f"{MARK}-theirs")
    (tmp_path / "mine").write_text(f"{MARK}-mine\n")
    r = m.sh(f"cp {tmp_path}/mine {d}/a", check=False)
    assert r.returncode == 1 and "Stale file handle" in r.stderr
    assert value(sm, f"{top}/a") == f"{MARK}-theirs"
    assert any("ESTALE" in line and "changed" in line for line in m.errors().splitlines())
    # vim: the other change lands while vim has the file open
    theirs = tmp_path / "theirs.py"
    theirs.write_text(f"import boto3\nboto3.client({SM!r}, region_name={R!r}, endpoint_url={local_aws.url!r})"
                      f".put_secret_value(SecretId={top + '/a'!r}, SecretString={MARK + '-again'!r})\n")
    m.sh(f"echo refresh {d} > .awsfs/ctl")
    r = m.sh(f"{VIM_RENAME} -c 's/theirs/vim/' -c {q('!' + sys.executable + ' ' + str(theirs))} -c wq {d}/a",
             check=False)
    assert r.returncode != 0
    assert value(sm, f"{top}/a") == f"{MARK}-again"
    assert m.sh(f"cat {d}/a").stdout == f"{MARK}-again\n"
    assert set(m.sh(f"ls -a {d}").stdout.split()) <= {".", "..", "a", "a~"}  # vim's backup stays local
    assert {s["Name"] for s in sm.list_secrets()["SecretList"] if s["Name"].startswith(top)} == {f"{top}/a"}
    # a new file whose name someone else takes between open and close: EEXIST
    with pytest.raises(OSError) as e:
        with open(m.p(f"{d}/new"), "w") as f:
            sm.create_secret(Name=f"{top}/new", SecretString=f"{MARK}-first")
            f.write(f"{MARK}-second\n")
    assert e.value.errno == errno.EEXIST
    assert value(sm, f"{top}/new") == f"{MARK}-first"
    no_value_logged(m)


def test_each_refused_save_is_a_line_of_its_own_even_the_same_one_again(mount_awsfs, sm, top):
    """bash's builtin echo ignores close()'s error: the errors file is where the user finds out, so
    three commands refused alike are three lines (and one command's fsync and close, one)."""
    sm.create_secret(Name=f"{top}/x", SecretString=f"{MARK}-1")
    sm.create_secret(Name=f"{top}/keep", SecretString=f"{MARK}-k")
    mnt = mount_awsfs(regions=R)
    d = f"secrets/{R}/{top}"
    mnt.sh(f"rm {d}/x")
    for i in range(3):
        mnt.sh(f"echo again{i} > {d}/x", check=False, executable="/bin/bash")
    r = mnt.sh(f"/bin/echo y > {d}/x", check=False)
    assert r.returncode != 0 and "Device or resource busy" in r.stderr
    busy = [ln for ln in mnt.errors().splitlines() if f"/{d}/x: EBUSY" in ln]
    assert len(busy) == 4 and "scheduled for deletion" in busy[0]
    assert mnt.status()["log_file"] == mnt.log_file  # where the same lines are, with every AWS call
