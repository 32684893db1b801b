"""IAM through a real mount, by the programs people use (needs ``iam`` in awsfs.services.SERVICES).

Every test makes its users, roles and policies under names of its own, and checks what the user
sees (exit codes, listings, /.awsfs/errors, the calls counted in /.awsfs/status) and what IAM holds.
"""
from __future__ import annotations

import json
import uuid

import pytest

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
TRUST = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
VIM = {"rename": "vim -N -u NONE -es", "copy": "vim -u NONE -es"}  # backupcopy=auto / =yes


def shown(doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


def spent(mnt, before: dict) -> dict:
    after = mnt.status()["aws_calls"]
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


@pytest.fixture
def world(boto):
    """A user with an inline policy and a managed policy attached, and a role; deleted afterwards."""
    iam, tag = boto("iam"), uuid.uuid4().hex[:8]
    w = {"user": f"it-user-{tag}", "role": f"it-role-{tag}", "policy": f"it-policy-{tag}", "inline": "inline"}
    iam.create_user(UserName=w["user"])
    iam.put_user_policy(UserName=w["user"], PolicyName="inline", PolicyDocument=json.dumps(DOC))
    w["arn"] = iam.create_policy(PolicyName=w["policy"], PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=w["user"], PolicyArn=w["arn"])
    iam.create_role(RoleName=w["role"], AssumeRolePolicyDocument=json.dumps(TRUST))
    yield w
    iam.delete_user_policy(UserName=w["user"], PolicyName="inline")
    iam.detach_user_policy(UserName=w["user"], PolicyArn=w["arn"])
    for v in iam.list_policy_versions(PolicyArn=w["arn"])["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=w["arn"], VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=w["arn"])
    iam.delete_user(UserName=w["user"])
    iam.delete_role(RoleName=w["role"])


def default_version(boto, arn):
    iam = boto("iam")
    v = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return v, iam.get_policy_version(PolicyArn=arn, VersionId=v)["PolicyVersion"]["Document"]


def test_ls_l_of_users_is_one_listing_and_cat_reads_documents(mount_awsfs, world):
    mnt = mount_awsfs(regions="us-east-1")
    assert "iam" in mnt.sh("ls").stdout.split()
    before = mnt.status()["aws_calls"]
    out = mnt.sh("ls -l iam/users").stdout
    assert world["user"] in out
    assert spent(mnt, before) == {"iam:ListUsers": 1}  # one page, no call per user
    u = f"iam/users/{world['user']}"
    before = mnt.status()["aws_calls"]
    mnt.sh(f"ls -l iam/users {u}")
    assert spent(mnt, before) == {}  # within the cache's TTL: nothing asked again
    assert json.loads(mnt.sh(f"cat {u}/info.json").stdout)["UserName"] == world["user"]
    assert mnt.sh(f"cat {u}/policies/inline.json").stdout == shown(DOC)
    assert mnt.sh(f"readlink {u}/attached/{world['policy']}").stdout == f"../../../policies/{world['policy']}\n"
    assert mnt.sh(f"cat {u}/attached/{world['policy']}/document.json").stdout == shown(DOC)  # through the link
    assert mnt.sh(f"cat iam/roles/{world['role']}/trust.json").stdout == shown(TRUST)
    assert mnt.sh(f"ls iam/policies/{world['policy']}/versions").stdout == "v1.json\n"
    assert mnt.errors() == ""


@pytest.mark.parametrize("mode", VIM)
def test_vim_saves_a_policy_document_twice(mount_awsfs, world, boto, mode):
    mnt = mount_awsfs(regions="us-east-1")
    d = f"iam/policies/{world['policy']}"
    r = mnt.sh(f"{VIM[mode]} -c '%s/s3:GetObject/s3:PutObject/' -c w -c '%s/s3:PutObject/s3:ListBucket/' -c wq "
               f"{d}/document.json", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    want = {**DOC, "Statement": [{**DOC["Statement"][0], "Action": "s3:ListBucket"}]}
    assert default_version(boto, world["arn"]) == ("v3", want)
    versions = boto("iam").list_policy_versions(PolicyArn=world["arn"])["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3"]
    assert mnt.sh(f"cat {d}/document.json").stdout == shown(want)
    assert sorted(mnt.sh(f"ls -a {d}").stdout.split()) == [".", "..", "document.json", "info.json", "versions"]
    assert mnt.errors() == ""


def test_sed_i_of_a_trust_policy_and_a_refused_edit(mount_awsfs, world, boto):
    mnt = mount_awsfs(regions="us-east-1")
    trust = f"iam/roles/{world['role']}/trust.json"
    mnt.sh(f"sed -i 's/ec2.amazonaws.com/lambda.amazonaws.com/' {trust}")
    got = boto("iam").get_role(RoleName=world["role"])["Role"]["AssumeRolePolicyDocument"]
    assert got["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "lambda.amazonaws.com" in mnt.sh(f"cat {trust}").stdout
    r = mnt.sh(f"sed -i 's/\"Statement\"/\"Statements\"/' {trust}", check=False)  # not a policy any more
    assert r.returncode != 0
    assert "EINVAL" in mnt.errors() and '"Statement"' in mnt.errors()
    got = boto("iam").get_role(RoleName=world["role"])["Role"]["AssumeRolePolicyDocument"]
    assert got["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(mnt.sh(f"ls -a iam/roles/{world['role']}").stdout.split()) == \
        [".", "..", "attached", "info.json", "policies", "trust.json"]


def test_ln_s_attaches_and_joins_rm_detaches_and_leaves(mount_awsfs, world, boto):
    iam, mnt = boto("iam"), mount_awsfs(regions="us-east-1")
    r, u, p, g = world["role"], world["user"], world["policy"], f"it-group-{world['role'][8:]}"
    iam.create_group(GroupName=g)
    try:
        d = f"iam/roles/{r}/attached"
        assert mnt.sh(f"ls {d}").stdout == ""
        count = json.loads(mnt.sh(f"cat iam/policies/{p}/info.json").stdout)["AttachmentCount"]
        mnt.sh(f"ln -s ../../../policies/{p} {d}/{p}")
        assert [a["PolicyName"] for a in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]] == [p]
        assert mnt.sh(f"readlink {d}/{p}").stdout == f"../../../policies/{p}\n"
        assert f"{p} -> ../../../policies/{p}" in mnt.sh(f"ls -l {d}").stdout
        assert mnt.sh(f"cat {d}/{p}/document.json").stdout == shown(DOC)  # through the new link
        assert json.loads(mnt.sh(f"cat iam/policies/{p}/info.json").stdout)["AttachmentCount"] == count + 1
        mnt.sh(f"rm {d}/{p}")
        assert iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"] == []
        assert mnt.sh(f"ls {d}").stdout == ""
        assert json.loads(mnt.sh(f"cat iam/policies/{p}/info.json").stdout)["AttachmentCount"] == count

        groups = f"iam/users/{u}/groups"
        mnt.sh(f"ln -s ../../../groups/{g} {groups}/{g}")
        assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g]
        assert mnt.sh(f"readlink {groups}/{g}").stdout == f"../../../groups/{g}\n"
        assert f"{g} -> ../../../groups/{g}" in mnt.sh(f"ls -l {groups}").stdout
        mnt.sh(f"rm {groups}/{g}")
        assert iam.list_groups_for_user(UserName=u)["Groups"] == [] and mnt.sh(f"ls {groups}").stdout == ""
        assert mnt.errors() == ""

        before = mnt.status()["aws_calls"]
        r1 = mnt.sh(f"ln -s ../../../policies/{p} {d}/other", check=False)  # not named after its policy
        r2 = mnt.sh(f"ln -s ../../../policies/nope {d}/nope", check=False)
        assert r1.returncode == 1 and "Invalid argument" in r1.stderr
        assert r2.returncode == 1 and "No such file or directory" in r2.stderr
        assert not [k for k in spent(mnt, before) if not k.startswith("iam:List")]
        assert f"link other points at policy {p}" in mnt.errors()
        assert iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"] == []
    finally:
        for x in iam.list_groups_for_user(UserName=u)["Groups"]:
            iam.remove_user_from_group(GroupName=x["GroupName"], UserName=u)
        for a in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=r, PolicyArn=a["PolicyArn"])
        iam.delete_group(GroupName=g)


def test_a_group_s_members_by_ls_ln_s_readlink_and_rm(mount_awsfs, world, boto):
    iam, mnt = boto("iam"), mount_awsfs(regions="us-east-1")
    u, g = world["user"], f"it-members-{world['role'][8:]}"
    other = f"{u}-2"
    iam.create_group(GroupName=g)
    iam.create_user(UserName=other)
    iam.add_user_to_group(GroupName=g, UserName=other)

    def held():
        return sorted(x["UserName"] for x in iam.get_group(GroupName=g)["Users"])
    try:
        d, groups = f"iam/groups/{g}/members", f"iam/users/{u}/groups"
        assert f"{other} -> ../../../users/{other}" in mnt.sh(f"ls -l {d}").stdout
        assert mnt.sh(f"ls {groups}").stdout == ""
        before = mnt.status()["aws_calls"]
        mnt.sh(f"ln -s ../../../users/{u} {d}/{u}")
        assert held() == sorted([u, other])
        assert mnt.sh(f"readlink {d}/{u}").stdout == f"../../../users/{u}\n"
        assert f"{u} -> ../../../users/{u}" in mnt.sh(f"ls -l {d}").stdout
        assert f"{g} -> ../../../groups/{g}" in mnt.sh(f"ls -l {groups}").stdout  # the other side, at once
        assert spent(mnt, before) == {"iam:AddUserToGroup": 1}
        assert mnt.sh(f"cat {d}/{u}/policies/inline.json").stdout == shown(DOC)  # through the link
        before = mnt.status()["aws_calls"]
        mnt.sh(f"rm {groups}/{g}")  # and back, from the user's side
        assert held() == [other] and mnt.sh(f"ls {d}").stdout == f"{other}\n"
        mnt.sh(f"rm {d}/{other}")
        assert held() == [] and mnt.sh(f"ls {d}").stdout == ""
        assert spent(mnt, before) == {"iam:RemoveUserFromGroup": 2}
        assert mnt.errors() == ""

        r1 = mnt.sh(f"ln -s ../../../users/{u} {d}/someone", check=False)  # not named after its user
        r2 = mnt.sh(f"ln -s ../../../users/nobody {d}/nobody", check=False)
        r3 = mnt.sh(f"rm {d}/{u}", check=False)  # not a member
        assert r1.returncode == 1 and "Invalid argument" in r1.stderr
        assert r2.returncode == 1 and "No such file or directory" in r2.stderr
        assert r3.returncode == 1 and "No such file or directory" in r3.stderr
        assert f"link someone points at user {u}" in mnt.errors() and held() == []
        assert spent(mnt, before) == {"iam:RemoveUserFromGroup": 2}  # (refused before any call)
    finally:
        for x in iam.get_group(GroupName=g)["Users"]:
            iam.remove_user_from_group(GroupName=g, UserName=x["UserName"])
        iam.delete_group(GroupName=g)
        iam.delete_user(UserName=other)


def test_access_keys_by_ls_cat_sed_echo_and_rm(mount_awsfs, world, boto):
    iam, mnt = boto("iam"), mount_awsfs(regions="us-east-1")
    u = world["user"]
    keys = [iam.create_access_key(UserName=u)["AccessKey"] for _ in range(2)]
    a, b = (k["AccessKeyId"] for k in keys)
    d = f"iam/users/{u}/access-keys"

    def status():
        return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]}
    try:
        listing = mnt.sh(f"ls -l {d}").stdout
        assert f"{a}.json" in listing and f"{b}.json" in listing and "-rw-r--r--" in listing
        got = json.loads(mnt.sh(f"cat {d}/{a}.json").stdout)
        assert (got["AccessKeyId"], got["Status"], got["UserName"]) == (a, "Active", u)
        assert mnt.sh(f"stat -c %s {d}/{a}.json").stdout.strip() == str(len(mnt.sh(f"cat {d}/{a}.json").stdout))
        mnt.sh(f"sed -i 's/\"Active\"/\"Inactive\"/' {d}/{a}.json")
        assert status() == {a: "Inactive", b: "Active"}
        mnt.sh(f"echo Inactive > {d}/{b}.json")
        assert status() == {a: "Inactive", b: "Inactive"}
        assert json.loads(mnt.sh(f"cat {d}/{b}.json").stdout)["Status"] == "Inactive"
        v = mnt.sh(f"{VIM['rename']} -c '%s/\"Inactive\"/\"Active\"/' -c wq {d}/{b}.json", check=False)
        assert v.returncode == 0 and status() == {a: "Inactive", b: "Active"}, v.stderr
        assert sorted(mnt.sh(f"ls -a {d}").stdout.split()) == sorted([".", "..", f"{a}.json", f"{b}.json"])
        mnt.sh(f"/bin/echo Inactive > {d}/{b}.json")
        mnt.sh(f"/bin/echo Active > {d}/{b}.json")
        assert status() == {a: "Inactive", b: "Active"}
        r = mnt.sh(f"rm {d}/{b}.json", check=False)  # Active: refused
        assert r.returncode == 1 and "Operation not permitted" in r.stderr and b in status()
        assert "make it Inactive first" in mnt.errors()
        mnt.sh(f"rm {d}/{a}.json")  # Inactive: deleted
        assert status() == {b: "Active"} and mnt.sh(f"ls {d}").stdout == f"{b}.json\n"
        r = mnt.sh(f"cp /dev/null {d}/AKIANEWKEY0000000000.json", check=False)
        assert r.returncode == 1 and "Operation not permitted" in r.stderr
        assert "does not create access keys" in mnt.errors() and list(status()) == [b]
        r = mnt.sh(f"echo '{{\"Status\": \"Gone\"}}' > {d}/{b}.json", check=False)
        assert '"Status" is "Active" or "Inactive"' in mnt.errors() and status() == {b: "Active"}
        for k in keys:
            assert k["SecretAccessKey"] not in mnt.sh(f"cat {d}/* .awsfs/errors .awsfs/status").stdout
            with open(mnt.log_file) as f:
                assert k["SecretAccessKey"] not in f.read()
    finally:
        for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=u, AccessKeyId=k["AccessKeyId"])


def test_aws_policies_are_read_by_name_not_by_grep_r_and_attach_with_ln_s(mount_awsfs, world, boto):
    iam, mnt = boto("iam"), mount_awsfs(regions="us-east-1")
    r = world["role"]
    assert "aws-policies -> .aws-policies" in mnt.sh("ls -l iam").stdout
    before = mnt.status()["aws_calls"]
    r1 = mnt.sh("grep -rl logs:CreateLogStream iam", check=False)  # in AWS's policies only: not read
    assert r1.returncode == 1 and r1.stdout == ""
    assert mnt.sh("find iam -name ReadOnlyAccess").stdout == ""
    assert spent(mnt, before).get("iam:ListPolicies") == 1  # the account's own (one page), not AWS's (two)
    assert int(mnt.sh("ls iam/aws-policies | wc -l").stdout) > 1000
    info = json.loads(mnt.sh("cat iam/aws-policies/ReadOnlyAccess/info.json").stdout)
    assert info["Arn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    doc = mnt.sh("cat iam/aws-policies/ReadOnlyAccess/document.json").stdout
    assert json.loads(doc)["Statement"]
    assert "-r--r--r--" in mnt.sh("ls -l iam/aws-policies/ReadOnlyAccess/document.json").stdout

    w = mnt.sh("echo '{}' > iam/aws-policies/ReadOnlyAccess/document.json", check=False)
    assert w.returncode != 0 and "Read-only file system" in w.stderr
    v = mnt.sh(f"{VIM['rename']} -c '%s/Allow/Deny/' -c 'w!' -c 'q!' iam/aws-policies/ReadOnlyAccess/document.json",
               check=False)
    assert v.returncode != 0
    s = mnt.sh("sed -i s/Allow/Deny/ iam/aws-policies/ReadOnlyAccess/document.json", check=False)
    assert s.returncode != 0 and "Read-only file system" in s.stderr
    assert mnt.sh("cat iam/aws-policies/ReadOnlyAccess/document.json").stdout == doc
    assert "policy ReadOnlyAccess is managed by AWS and read-only" in mnt.errors()
    assert sorted(mnt.sh("ls -a iam/aws-policies/ReadOnlyAccess").stdout.split()) == \
        [".", "..", "document.json", "info.json", "versions"]

    d = f"iam/roles/{r}/attached"
    try:
        mnt.sh(f"ln -s ../../../aws-policies/ReadOnlyAccess {d}/ReadOnlyAccess")
        assert [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]] == \
            ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        assert mnt.sh(f"readlink {d}/ReadOnlyAccess").stdout == "../../../aws-policies/ReadOnlyAccess\n"
        assert mnt.sh(f"cat {d}/ReadOnlyAccess/document.json").stdout == doc  # through both links
        mnt.sh(f"rm {d}/ReadOnlyAccess")
        assert iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"] == []
    finally:
        for a in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=r, PolicyArn=a["PolicyArn"])


def test_grep_r_of_iam_is_a_few_pages_of_account_details(mount_awsfs, world, boto):
    iam, mnt = boto("iam"), mount_awsfs(regions="us-east-1")
    u, p, g = world["user"], world["policy"], f"it-grep-{world['role'][8:]}"
    iam.create_group(GroupName=g)  # its members/ come from the users' details: no GetGroup
    iam.add_user_to_group(GroupName=g, UserName=u)
    try:
        before = mnt.status()["aws_calls"]
        found = mnt.sh("grep -rl s3:GetObject iam").stdout.split()
        assert f"iam/users/{u}/policies/inline.json" in found and f"iam/policies/{p}/document.json" in found
        assert f"iam/policies/{p}/versions/v1.json" in found and not [f for f in found if "aws-policies" in f]
        spent_now = spent(mnt, before)
        users = len(mnt.sh("ls iam/users").stdout.split())
        kinds = [k for k in ("users", "roles", "groups", "policies") if mnt.sh(f"ls iam/{k}").stdout]
        assert spent_now.pop("iam:GetAccountAuthorizationDetails") == len(kinds)  # a page for each kind walked into
        assert spent_now.pop("iam:ListAccessKeys") == users  # (IAM has no batch for them)
        keys = sum(len(iam.list_access_keys(UserName=n)["AccessKeyMetadata"])
                   for n in mnt.sh("ls iam/users").stdout.split())
        assert spent_now.pop("iam:GetAccessKeyLastUsed", 0) == keys
        assert spent_now == {"iam:ListUsers": 1, "iam:ListRoles": 1, "iam:ListGroups": 1, "iam:ListPolicies": 1}
        before = mnt.status()["aws_calls"]
        assert mnt.sh(f"cat iam/users/{u}/policies/inline.json").stdout == shown(DOC)  # cached: no call
        assert f"iam/groups/{g}/members/{u}\n" in mnt.sh("find iam -type l").stdout  # (all of it, cached)
        assert spent(mnt, before) == {}
        assert mnt.errors() == ""
    finally:
        iam.remove_user_from_group(GroupName=g, UserName=u)
        iam.delete_group(GroupName=g)
