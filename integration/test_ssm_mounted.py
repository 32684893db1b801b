"""SSM parameters through a real mount, by the programs people use.

Every test makes its parameters under a prefix of its own and checks what the user sees (exit
codes, messages, listings, /.awsfs/errors, the log) and what SSM holds.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import uuid

import pytest

from conftest import Tmux, wait_for

R = "us-east-1"
VIM = {"rename": "vim -N -u NONE -es", "copy": "vim -u NONE -es"}  # backupcopy=auto / =yes


@pytest.fixture
def params(boto):
    """``make({name: value or (value, type)})`` -> the mount-relative directory of a new prefix;
    its parameters are deleted afterwards."""
    ssm = boto("ssm", R)
    prefix = f"/it-{uuid.uuid4().hex[:8]}"

    def make(values: dict) -> str:
        for name, v in values.items():
            value, kind = v if isinstance(v, tuple) else (v, "String")
            ssm.put_parameter(Name=f"{prefix}{name}", Value=value, Type=kind)
        return f"ssm/{R}{prefix}"
    make.prefix = prefix
    yield make
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
        for p in page["Parameters"]:
            ssm.delete_parameter(Name=p["Name"])


def get(boto, name: str) -> dict | None:
    ssm = boto("ssm", R)
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        return None


def ls_a(mnt, rel: str) -> set[str]:
    return set(mnt.sh(f"ls -a {shlex.quote(rel)}").stdout.split("\n")) - {"", ".", ".."}


def xattrs(path: str) -> dict[str, str]:
    return {n: os.getxattr(path, n).decode() for n in os.listxattr(path)}


def test_ls_cat_grep_getfattr_and_a_second_pass_costs_nothing(mount_awsfs, params):
    d = params({"/db/host": "db.local", "/db/password": ("hunter2-pw", "SecureString"),
                "/hosts": ("a,b,c", "StringList"), "/motd": "hello\nworld"})
    mnt = mount_awsfs(regions=R)
    mnt.calls()  # the status file asks for the account once
    before = mnt.calls()
    out = mnt.sh(f"ls -lR {d}").stdout
    assert "db:" in out and "hosts" in out and "motd" in out
    assert "-rw------- " in next(line for line in out.splitlines() if line.endswith(" password"))
    assert "-rw-r--r-- " in next(line for line in out.splitlines() if line.endswith(" host"))
    assert mnt.sh(f"cat {d}/motd").stdout == "hello\nworld\n"
    assert mnt.sh(f"cat {d}/hosts").stdout == "a,b,c\n"
    assert mnt.sh(f"grep -r hunter2 {d}").stdout == f"{d}/db/password:hunter2-pw\n"
    listed = mnt.calls() - before
    assert listed == 1  # one page of GetParametersByPath for the prefix
    mnt.sh(f"ls -lR {d} && grep -rq world {d} && cat {d}/db/host")
    assert mnt.calls() == before + listed  # within the cache's TTL: nothing asked again
    attrs = xattrs(mnt.p(f"{d}/db/password"))
    assert attrs["user.aws.type"] == "SecureString" and attrs["user.aws.version"] == "1"
    assert attrs["user.aws.tier"] == "Standard" and attrs["user.aws.key_id"] == "alias/aws/ssm"
    if shutil.which("getfattr"):
        out = mnt.sh(f"getfattr -d {d}/hosts").stdout
        assert 'user.aws.type="StringList"' in out and 'user.aws.version="1"' in out
    history = json.loads(mnt.sh(f"cat {d}/db/host@history").stdout)
    assert [v["Value"] for v in history] == ["db.local"]
    assert "host@history" not in mnt.sh(f"ls -a {d}/db").stdout
    assert mnt.errors() == ""


@pytest.mark.parametrize("mode", VIM)
def test_vim_saves_a_multi_line_secret_and_keeps_it_secret(mount_awsfs, params, boto, mode):
    d = params({"/cert": ("-----BEGIN-----\nred\n-----END-----", "SecureString")})
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"{VIM[mode]} -c '%s/red/blue/' -c wq {d}/cert", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    got = get(boto, f"{params.prefix}/cert")
    assert (got["Value"], got["Type"]) == ("-----BEGIN-----\nblue\n-----END-----", "SecureString")
    assert ls_a(mnt, d) == {"cert"}  # no cert~, .cert.swp or 4913 left, none reached SSM
    assert os.stat(mnt.p(f"{d}/cert")).st_mode & 0o777 == 0o600
    assert mnt.errors() == ""


def test_sed_echo_cp_rm_and_mkdir_p(mount_awsfs, params, boto, tmp_path):
    d = params({"/conf/a": "one", "/conf/b": "two"})
    p = params.prefix
    mnt = mount_awsfs(regions=R)
    mnt.sh(f"sed -i 's/one/ONE/' {d}/conf/a")
    mnt.sh(f"echo 'new value' > {d}/conf/c", executable="/bin/bash")
    mnt.sh(f"/bin/echo changed > {d}/conf/b")
    assert [get(boto, f"{p}/conf/{n}")["Value"] for n in "abc"] == ["ONE", "changed", "new value"]
    # cp -r out, edit there, and back in: under a new name, and over the original
    mnt.sh(f"cp -r {d}/conf {tmp_path}/")
    assert (tmp_path / "conf" / "a").read_text() == "ONE\n"
    (tmp_path / "conf" / "a").write_text("edited\n")
    mnt.sh(f"cp -r {tmp_path}/conf {d}/copy && cp -r {tmp_path}/conf/. {d}/conf/")
    assert {n: get(boto, f"{p}/copy/{n}")["Value"] for n in "abc"} == {"a": "edited", "b": "changed", "c": "new value"}
    assert get(boto, f"{p}/conf/a")["Value"] == "edited" and get(boto, f"{p}/conf/a")["Version"] == 3
    mnt.sh(f"mkdir -p {d}/x/y/z && echo deep > {d}/x/y/z/leaf")
    assert get(boto, f"{p}/x/y/z/leaf")["Value"] == "deep"
    mnt.sh(f"rm -r {d}/copy {d}/x && rm {d}/conf/c")
    assert get(boto, f"{p}/copy/a") is None and get(boto, f"{p}/x/y/z/leaf") is None
    assert get(boto, f"{p}/conf/c") is None
    assert ls_a(mnt, d) == {"conf"} and ls_a(mnt, f"{d}/conf") == {"a", "b"}
    assert mnt.errors() == ""


def test_refusals_efbig_estale_eexist(mount_awsfs, params, boto):
    d = params({"/v": "mine"})
    p = params.prefix
    mnt = mount_awsfs(regions=R)
    r = mnt.sh(f"head -c 5000 /dev/zero | tr '\\0' x > {d}/big", check=False)
    assert r.returncode != 0 and "File too large" in r.stderr and get(boto, f"{p}/big") is None
    r = mnt.sh(f"head -c 5000 /dev/zero | tr '\\0' x > {d}/v", check=False)  # a standard one: 4 KB
    assert r.returncode != 0 and get(boto, f"{p}/v")["Value"] == "mine"
    assert "at most 4,096 bytes" in mnt.errors() and "user.aws.tier" in mnt.errors()
    # changed in SSM after this session read it: the save is refused, the other value kept
    mnt.sh(f"cat {d}/v")
    boto("ssm", R).put_parameter(Name=f"{p}/v", Value="theirs", Overwrite=True)
    r = mnt.sh(f"/bin/echo new > {d}/v", check=False)
    assert r.returncode == 1 and "Stale file handle" in r.stderr
    assert get(boto, f"{p}/v")["Value"] == "theirs"
    # created in SSM between open and close
    f = open(mnt.p(f"{d}/n"), "w")
    f.write("mine\n")
    boto("ssm", R).put_parameter(Name=f"{p}/n", Value="theirs", Type="String")
    with pytest.raises(FileExistsError):
        f.close()
    assert get(boto, f"{p}/n")["Value"] == "theirs"
    errors = mnt.errors()
    assert "changed in SSM since you read it" in errors and "already exists" in errors


def test_secrets_never_reach_the_log_errors_or_status(mount_awsfs, params, boto):
    secret, secret2 = "S3cr3t-Alpha-9876", "S3cr3t-Beta-5432"
    d = params({"/pw": (secret, "SecureString")})
    mnt = mount_awsfs(regions=R)
    assert mnt.sh(f"cat {d}/pw").stdout == secret + "\n"
    mnt.sh(f"/bin/echo {secret2} > {d}/pw && cat {d}/pw@history > /dev/null")
    mnt.sh(f"printf '%05000d' 0 > {d}/pw", check=False)  # refused
    boto("ssm", R).put_parameter(Name=f"{params.prefix}/pw", Value=secret, Type="SecureString", Overwrite=True)
    mnt.sh(f"/bin/echo {secret2}x > {d}/pw", check=False)  # a conflict
    assert get(boto, f"{params.prefix}/pw")["Value"] == secret
    status, errors = json.dumps(mnt.status()), mnt.errors()
    with open(mnt.log_file) as f:
        log = f.read()
    assert "PutParameter" in log and "/pw" in errors
    for s in (secret, secret2):
        assert s not in log and s not in errors and s not in status


@pytest.mark.skipif(not shutil.which("setfattr"), reason="setfattr (package attr) is not installed")
def test_setfattr_makes_a_secure_string(mount_awsfs, params, boto):
    d = params({"/token": "placeholder"})
    mnt = mount_awsfs(regions=R)
    mnt.sh(f"setfattr -n user.aws.type -v SecureString {d}/token && /bin/echo real-token > {d}/token")
    got = get(boto, f"{params.prefix}/token")
    assert (got["Value"], got["Type"]) == ("real-token", "SecureString")
    assert os.stat(mnt.p(f"{d}/token")).st_mode & 0o777 == 0o600
    r = mnt.sh(f"setfattr -n user.aws.type -v Binary {d}/token", check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr


def test_a_file_created_private_is_a_secure_string_from_its_first_version(mount_awsfs, params, boto):
    """`umask 077` (or `install -m 600`): the value never exists as a plain String, not even in
    the history; a file created with the usual umask is a String."""
    d = params({"/keep": "k"})
    mnt = mount_awsfs(regions=R)
    mnt.sh(f"(umask 077 && /bin/echo s3cr3t > {d}/token) && /bin/echo plain > {d}/note")
    assert (get(boto, f"{params.prefix}/token")["Type"], get(boto, f"{params.prefix}/note")["Type"]) == \
        ("SecureString", "String")
    history = boto("ssm", R).get_parameter_history(Name=f"{params.prefix}/token")["Parameters"]
    assert [v["Type"] for v in history] == ["SecureString"]
    assert os.stat(mnt.p(f"{d}/token")).st_mode & 0o777 == 0o600
    assert mnt.sh(f"cat {d}/token").stdout == "s3cr3t\n"


def test_mv_of_a_directory_and_cp_a_out_and_back_keep_every_type(mount_awsfs, params, boto, tmp_path):
    """mv (copy and delete across directories) and cp -a create files private, then chmod them:
    the types come from the copied user.aws.type, never from that passing 0600."""
    d = params({"/d1/plain": "p", "/d1/list": ("a,b", "StringList"), "/d1/secret": ("s", "SecureString")})
    p = params.prefix
    mnt = mount_awsfs(regions=R)
    want = {"plain": "String", "list": "StringList", "secret": "SecureString"}
    mnt.sh(f"mv {d}/d1 {d}/d2")
    assert {n: get(boto, f"{p}/d2/{n}")["Type"] for n in want} == want
    assert get(boto, f"{p}/d1/plain") is None
    mnt.sh(f"cp -a {d}/d2 {tmp_path}/backup && cp -a {tmp_path}/backup {d}/d3")
    assert {n: get(boto, f"{p}/d3/{n}")["Type"] for n in want} == want
    assert [get(boto, f"{p}/d3/{n}")["Value"] for n in want] == ["p", "a,b", "s"]
    assert os.stat(mnt.p(f"{d}/d3/plain")).st_mode & 0o777 == 0o644
    assert mnt.errors() == ""


@pytest.mark.skipif(not shutil.which("tmux") or not shutil.which("nano"), reason="needs tmux and nano")
def test_nano_save_in_tmux(mount_awsfs, params, boto):
    d = params({"/greeting": "hello red world"})
    mnt = mount_awsfs(regions=R)
    ed = Tmux(mnt.p(d), "nano greeting")
    try:
        ed.wait("hello red world", "nano to show the value")
        ed.nano_replace_all("red", "green", "hello green")
        assert "Wrote" in ed.nano_save(), ed.screen()
        ed.keys("C-x")
        wait_for(lambda: not ed.alive(), what="nano to exit")
    finally:
        ed.kill()
    assert get(boto, f"{params.prefix}/greeting")["Value"] == "hello green world"
    assert ls_a(mnt, d) == {"greeting"} and mnt.errors() == ""
