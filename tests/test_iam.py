"""IAM without a mount: the filesystem driven directly against the local AWS, IAM checked with boto3.

Until ``iam`` is in ``awsfs.services.SERVICES``, the filesystem here is given a router that holds
the module's routes too (as tests/test_kit.py does for its toy service)."""
import errno
import json
import logging

import boto3
import pytest

from awsfs import fs as fs_module
from awsfs.errors import FsError, errno_for_code
from awsfs.router import Router
from awsfs.services import iam as iam_service
from helpers import create, echo_into, read, save, spent_since

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
TRUST = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def shown(doc) -> bytes:
    """What a document file reads as: 2-space indent, AWS's key order, a newline."""
    return (json.dumps(doc, indent=2) + "\n").encode()


def with_action(doc, action):
    return {**doc, "Statement": [{**doc["Statement"][0], "Action": action}]}


@pytest.fixture
def ifs(make_fs):
    fs = make_fs(regions=["us-east-1"])
    if not any(p.startswith("/iam") for p in fs.router.patterns):
        fs.router = Router(fs_module.ROUTES + iam_service.ROUTES)
    return fs


@pytest.fixture
def iam(boto):
    return boto("iam")


@pytest.fixture
def world(iam, unique):
    """A user in a group, with an inline policy and a managed policy attached; a role with a trust
    policy, an inline policy and the same managed policy. Names are the test's own; all deleted after."""
    w = {k: unique(k) for k in ("user", "group", "role", "policy", "inline")}
    iam.create_user(UserName=w["user"])
    iam.create_group(GroupName=w["group"])
    iam.add_user_to_group(GroupName=w["group"], UserName=w["user"])
    iam.put_group_policy(GroupName=w["group"], PolicyName=w["inline"], PolicyDocument=json.dumps(DOC))
    iam.put_user_policy(UserName=w["user"], PolicyName=w["inline"], PolicyDocument=json.dumps(DOC))
    w["arn"] = iam.create_policy(PolicyName=w["policy"], PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=w["user"], PolicyArn=w["arn"])
    iam.create_role(RoleName=w["role"], AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=w["role"], PolicyName=w["inline"], PolicyDocument=json.dumps(DOC))
    iam.attach_role_policy(RoleName=w["role"], PolicyArn=w["arn"])
    yield w
    for name in iam.list_user_policies(UserName=w["user"])["PolicyNames"]:
        iam.delete_user_policy(UserName=w["user"], PolicyName=name)
    for name in iam.list_role_policies(RoleName=w["role"])["PolicyNames"]:
        iam.delete_role_policy(RoleName=w["role"], PolicyName=name)
    for name in iam.list_group_policies(GroupName=w["group"])["PolicyNames"]:
        iam.delete_group_policy(GroupName=w["group"], PolicyName=name)
    iam.detach_user_policy(UserName=w["user"], PolicyArn=w["arn"])
    iam.detach_role_policy(RoleName=w["role"], PolicyArn=w["arn"])
    iam.remove_user_from_group(GroupName=w["group"], UserName=w["user"])
    for v in iam.list_policy_versions(PolicyArn=w["arn"])["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=w["arn"], VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=w["arn"])
    iam.delete_user(UserName=w["user"])
    iam.delete_group(GroupName=w["group"])
    iam.delete_role(RoleName=w["role"])


def default_version(iam, arn):
    v = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return v, iam.get_policy_version(PolicyArn=arn, VersionId=v)["PolicyVersion"]["Document"]


# -- reading --------------------------------------------------------------------------------------

def test_the_tree_reads_from_listings(ifs, world):
    u, g, r, p = (world[k] for k in ("user", "group", "role", "policy"))
    assert sorted(ifs.listdir("/iam")) == ["aws-policies", "groups", "policies", "roles", "users"]
    assert u in ifs.listdir("/iam/users") and r in ifs.listdir("/iam/roles") and p in ifs.listdir("/iam/policies")
    assert sorted(ifs.listdir(f"/iam/users/{u}")) == ["access-keys", "attached", "groups", "info.json", "policies"]
    assert sorted(ifs.listdir(f"/iam/roles/{r}")) == ["attached", "info.json", "policies", "trust.json"]
    assert sorted(ifs.listdir(f"/iam/policies/{p}")) == ["document.json", "info.json", "versions"]
    before = dict(ifs.aws.calls)
    for name in ifs.listdir("/iam/users"):  # ls -l: attributes from the listing, no call per user
        ifs.getattr(f"/iam/users/{name}")
        ifs.getattr(f"/iam/users/{name}/info.json")
    assert spent_since(ifs, before) == {}
    info = json.loads(read(ifs, f"/iam/users/{u}/info.json"))
    assert info["UserName"] == u and info["Arn"].endswith(f":user/{u}")
    assert ifs.listdir(f"/iam/users/{u}/policies") == [f"{world['inline']}.json"]
    assert read(ifs, f"/iam/users/{u}/policies/{world['inline']}.json") == shown(DOC)
    assert read(ifs, f"/iam/roles/{r}/policies/{world['inline']}.json") == shown(DOC)
    assert read(ifs, f"/iam/roles/{r}/trust.json") == shown(TRUST)
    assert ifs.listdir(f"/iam/users/{u}/groups") == [g]
    assert ifs.readlink(f"/iam/users/{u}/groups/{g}") == f"../../../groups/{g}"
    assert ifs.readlink(f"/iam/users/{u}/attached/{p}") == f"../../../policies/{p}"
    assert ifs.readlink(f"/iam/roles/{r}/attached/{p}") == f"../../../policies/{p}"
    assert ifs.getattr(f"/iam/users/{u}/groups/{g}").kind == "link"
    assert read(ifs, f"/iam/policies/{p}/document.json") == shown(DOC)
    assert ifs.listdir(f"/iam/policies/{p}/versions") == ["v1.json"]
    assert read(ifs, f"/iam/policies/{p}/versions/v1.json") == shown(DOC)
    pinfo = json.loads(read(ifs, f"/iam/policies/{p}/info.json"))
    assert (pinfo["DefaultVersionId"], pinfo["AttachmentCount"]) == ("v1", 2)
    assert ifs.getattr(f"/iam/policies/{p}/document.json").mode & 0o777 == 0o644
    assert ifs.getattr(f"/iam/policies/{p}/versions/v1.json").mode & 0o777 == 0o444
    for missing in (f"/iam/users/{u}x", f"/iam/users/{u}/trust.json", f"/iam/users/{u}/policies/nope.json",
                    f"/iam/users/{u}/policies/{world['inline']}", f"/iam/groups/{g}/groups", "/iam/keys",
                    f"/iam/users/{u}/groups/other", f"/iam/policies/{p}/versions/v9.json"):
        with pytest.raises(FsError) as e:
            ifs.getattr(missing)
        assert e.value.errno == errno.ENOENT, missing


def test_a_listing_is_one_page_and_read_once(ifs, world):
    before = dict(ifs.aws.calls)
    ifs.listdir("/iam/users")
    read(ifs, f"/iam/users/{world['user']}/info.json")
    read(ifs, f"/iam/roles/{world['role']}/trust.json")
    assert spent_since(ifs, before) == {"iam:ListUsers": 1, "iam:ListRoles": 1}


def test_documents_arrive_url_encoded_and_a_full_policy_is_enospc():
    assert iam_service.as_doc("%7B%22Statement%22%3A%20%5B%5D%2C%20%22Version%22%3A%20%222012-10-17%22%7D") == \
        {"Statement": [], "Version": "2012-10-17"}
    assert list(iam_service.as_doc({"b": 1, "a": 2})) == ["b", "a"]  # AWS's key order is kept
    assert errno_for_code("LimitExceeded", 409, overrides=iam_service.FULL) == errno.ENOSPC
    assert errno_for_code("MalformedPolicyDocument", 400, overrides=iam_service.FULL) == errno.EINVAL


# -- saving ---------------------------------------------------------------------------------------

def test_saving_inline_trust_and_managed_documents(ifs, world, iam):
    u, r, p, inline = world["user"], world["role"], world["policy"], world["inline"]
    path = f"/iam/users/{u}/policies/{inline}.json"
    read(ifs, path)
    save(ifs, path, shown(with_action(DOC, "s3:*")))
    assert iam.get_user_policy(UserName=u, PolicyName=inline)["PolicyDocument"] == with_action(DOC, "s3:*")
    assert read(ifs, path) == shown(with_action(DOC, "s3:*"))

    create(ifs, f"/iam/users/{u}/policies/extra.json", json.dumps(DOC).encode())
    assert iam.get_user_policy(UserName=u, PolicyName="extra")["PolicyDocument"] == DOC
    assert sorted(ifs.listdir(f"/iam/users/{u}/policies")) == sorted([f"{inline}.json", "extra.json"])
    ifs.unlink(f"/iam/users/{u}/policies/extra.json")
    assert iam.list_user_policies(UserName=u)["PolicyNames"] == [inline]
    assert ifs.listdir(f"/iam/users/{u}/policies") == [f"{inline}.json"]

    trust = with_action(TRUST, ["sts:AssumeRole", "sts:TagSession"])
    read(ifs, f"/iam/roles/{r}/trust.json")
    save(ifs, f"/iam/roles/{r}/trust.json", shown(trust))
    assert iam.get_role(RoleName=r)["Role"]["AssumeRolePolicyDocument"] == trust
    assert read(ifs, f"/iam/roles/{r}/trust.json") == shown(trust)

    path = f"/iam/policies/{p}/document.json"
    read(ifs, path)
    save(ifs, path, shown(with_action(DOC, "s3:PutObject")))
    assert default_version(iam, world["arn"]) == ("v2", with_action(DOC, "s3:PutObject"))
    assert read(ifs, path) == shown(with_action(DOC, "s3:PutObject"))
    assert json.loads(read(ifs, f"/iam/policies/{p}/info.json"))["DefaultVersionId"] == "v2"
    assert sorted(ifs.listdir(f"/iam/policies/{p}/versions")) == ["v1.json", "v2.json"]
    save(ifs, path, shown(with_action(DOC, "s3:ListBucket")))  # saved again, on what it saved: v3
    assert default_version(iam, world["arn"]) == ("v3", with_action(DOC, "s3:ListBucket"))
    assert read(ifs, "/.awsfs/errors") == b""


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_every_principal_s_inline_policies_are_files(ifs, world, iam, kind):
    noun, name, inline = kind.capitalize(), world[kind], world["inline"]
    d = f"/iam/{kind}s/{name}/policies"

    def held(policy):
        return getattr(iam, f"get_{kind}_policy")(**{f"{noun}Name": name}, PolicyName=policy)["PolicyDocument"]
    assert ifs.listdir(d) == [f"{inline}.json"] and read(ifs, f"{d}/{inline}.json") == shown(DOC)
    save(ifs, f"{d}/{inline}.json", shown(with_action(DOC, "sqs:*")))
    assert held(inline) == with_action(DOC, "sqs:*")
    create(ifs, f"{d}/second.json", shown(DOC))
    assert held("second") == DOC
    with pytest.raises(FsError):
        ifs.getattr(f"{d}/third.json")  # not there (and so remembered, for the cache's TTL)
    getattr(iam, f"put_{kind}_policy")(**{f"{noun}Name": name}, PolicyName="third",
                                       PolicyDocument=json.dumps(with_action(DOC, "x:y")))
    with pytest.raises(FsError) as e:  # made meanwhile by someone else: not overwritten
        create(ifs, f"{d}/third.json", shown(DOC))
    assert e.value.errno == errno.EEXIST and held("third") == with_action(DOC, "x:y")
    ifs.unlink(f"{d}/second.json")
    with pytest.raises(FsError) as e:
        ifs.getattr(f"{d}/second.json")
    assert e.value.errno == errno.ENOENT
    assert sorted(getattr(iam, f"list_{kind}_policies")(**{f"{noun}Name": name})["PolicyNames"]) == [inline, "third"]
    create(ifs, f"{d}/.{inline}.json.swp", b"vim's swap")  # editors' files stay in the mount
    assert f".{inline}.json.swp" in ifs.listdir(d)
    assert sorted(getattr(iam, f"list_{kind}_policies")(**{f"{noun}Name": name})["PolicyNames"]) == [inline, "third"]


def test_bad_documents_are_einval_with_a_reason_and_make_no_call(ifs, world):
    paths = [f"/iam/users/{world['user']}/policies/{world['inline']}.json", f"/iam/roles/{world['role']}/trust.json",
             f"/iam/policies/{world['policy']}/document.json"]
    for path in paths:
        read(ifs, path)
    before = dict(ifs.aws.calls)
    for path in paths:
        for bad, says in ((b'{\n  "Statement": [\n}\n', "line 3 column 1"), (b"[]\n", '"Statement"'),
                          (b'{"Version": "2012-10-17"}', '"Statement"'), (b"\xff\xfe{}", "UTF-8")):
            with pytest.raises(FsError) as e:
                save(ifs, path, bad)
            assert e.value.errno == errno.EINVAL and says in e.value.reason, (path, e.value.reason)
    assert spent_since(ifs, before) == {}
    assert "invalid JSON at line 3 column 1" in read(ifs, "/.awsfs/errors").decode()


def test_what_iam_refuses_is_einval(ifs, world, iam):
    path = f"/iam/users/{world['user']}/policies/{world['inline']}.json"
    with pytest.raises(FsError) as e:
        save(ifs, path, json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps"}]}).encode())
    assert e.value.errno == errno.EINVAL and "MalformedPolicyDocument" in e.value.reason
    assert iam.get_user_policy(UserName=world["user"], PolicyName=world["inline"])["PolicyDocument"] == DOC
    with pytest.raises(FsError) as e:
        create(ifs, f"/iam/users/{world['user']}/policies/bad name.json", shown(DOC))
    assert e.value.errno == errno.EINVAL


def test_a_change_made_since_reading_is_estale_and_kept(ifs, world, iam):
    u, r, inline, arn = world["user"], world["role"], world["inline"], world["arn"]
    paths = {"inline": f"/iam/users/{u}/policies/{inline}.json", "trust": f"/iam/roles/{r}/trust.json",
             "managed": f"/iam/policies/{world['policy']}/document.json"}
    for path in paths.values():
        read(ifs, path)
    theirs = with_action(DOC, "ec2:*")
    iam.put_user_policy(UserName=u, PolicyName=inline, PolicyDocument=json.dumps(theirs))
    iam.update_assume_role_policy(RoleName=r, PolicyDocument=json.dumps(with_action(TRUST, "sts:TagSession")))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC), SetAsDefault=True)  # same content, v2
    for kind, path in paths.items():
        with pytest.raises(FsError) as e:
            save(ifs, path, shown(with_action(DOC if kind != "trust" else TRUST, "s3:*")))
        assert e.value.errno == errno.ESTALE and "since you read it" in e.value.reason, kind
    assert iam.get_user_policy(UserName=u, PolicyName=inline)["PolicyDocument"] == theirs
    assert iam.get_role(RoleName=r)["Role"]["AssumeRolePolicyDocument"] == with_action(TRUST, "sts:TagSession")
    assert default_version(iam, arn) == ("v2", DOC)
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 2
    read(ifs, paths["managed"])  # reading it again moves the base (the refused save forgot what was cached)
    save(ifs, paths["managed"], shown(with_action(DOC, "s3:*")))
    assert default_version(iam, arn) == ("v3", with_action(DOC, "s3:*"))


def test_unchanged_saves_make_no_call(ifs, world):
    paths = [f"/iam/users/{world['user']}/policies/{world['inline']}.json", f"/iam/roles/{world['role']}/trust.json",
             f"/iam/policies/{world['policy']}/document.json"]
    shown_now = {path: read(ifs, path) for path in paths}
    before = dict(ifs.aws.calls)
    for path in paths:
        save(ifs, path, shown_now[path])
        save(ifs, path, json.dumps(json.loads(shown_now[path])).encode())  # the same document, written otherwise
    assert spent_since(ifs, before) == {}


def test_at_five_versions_the_oldest_non_default_goes_first(ifs, world, iam):
    arn, p = world["arn"], world["policy"]
    for n in range(2, 6):  # v1 stays the default; v2..v5 are not
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(with_action(DOC, f"s3:Get{n}")))
    path = f"/iam/policies/{p}/document.json"
    assert read(ifs, path) == shown(DOC)
    save(ifs, path, shown(with_action(DOC, "s3:Sixth")))
    versions = {v["VersionId"]: v["IsDefaultVersion"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert versions == {"v1": False, "v3": False, "v4": False, "v5": False, "v6": True}
    assert default_version(iam, arn) == ("v6", with_action(DOC, "s3:Sixth"))
    assert sorted(ifs.listdir(f"/iam/policies/{p}/versions")) == ["v1.json", "v3.json", "v4.json", "v5.json", "v6.json"]
    errors = read(ifs, "/.awsfs/errors").decode()
    assert "note:" in errors and "v2, was deleted" in errors and path in errors
    assert "someone else" not in errors


def test_a_file_named_other_than_json_in_policies_is_refused_not_kept_silently(make_fs, boto, unique):
    from awsfs.errors import InputError
    import os as _os
    iam = boto("iam")
    user = unique("u")
    iam.create_user(UserName=user)
    try:
        fs = make_fs(regions=["us-east-1"])
        fs.listdir(f"/iam/users/{user}/policies")
        with pytest.raises(InputError) as e:
            fs.create(f"/iam/users/{user}/policies/no-ext", 0o644, _os.O_WRONLY | _os.O_CREAT)
        assert e.value.errno == errno.EINVAL and "<policy name>.json" in e.value.reason
    finally:
        iam.delete_user(UserName=user)


# -- links: attach, detach, group membership ------------------------------------------------------

@pytest.fixture
def extra(world, iam):
    """A second managed policy, attached to nothing (detached from the world's principals after)."""
    name = f"{world['policy']}-extra"
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    yield name, arn
    for kind in ("user", "role", "group"):
        try:
            getattr(iam, f"detach_{kind}_policy")(**{f"{kind.capitalize()}Name": world[kind]}, PolicyArn=arn)
        except iam.exceptions.NoSuchEntityException:
            pass
    iam.delete_policy(PolicyArn=arn)


def attached(iam, kind, name):
    got = getattr(iam, f"list_attached_{kind}_policies")(**{f"{kind.capitalize()}Name": name})["AttachedPolicies"]
    return sorted(p["PolicyName"] for p in got)


def attachments(ifs, policy):
    return json.loads(read(ifs, f"/iam/policies/{policy}/info.json"))["AttachmentCount"]


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_ln_s_attaches_a_policy_and_rm_detaches_it(ifs, world, iam, extra, kind):
    noun, name, (policy, _) = kind.capitalize(), world[kind], extra
    d = f"/iam/{kind}s/{name}/attached"
    before_listing, count = sorted(ifs.listdir(d)), attachments(ifs, policy)
    before = dict(ifs.aws.calls)
    ifs.symlink(f"{d}/{policy}", f"../../../policies/{policy}")
    assert spent_since(ifs, before) == {f"iam:Attach{noun}Policy": 1}
    assert policy in attached(iam, kind, name)
    assert sorted(ifs.listdir(d)) == sorted(before_listing + [policy])  # written through: no call
    assert ifs.readlink(f"{d}/{policy}") == f"../../../policies/{policy}"
    assert attachments(ifs, policy) == count + 1
    assert spent_since(ifs, before) == {f"iam:Attach{noun}Policy": 1}

    ifs.unlink(f"{d}/{policy}")
    assert policy not in attached(iam, kind, name)
    assert sorted(ifs.listdir(d)) == before_listing and attachments(ifs, policy) == count
    assert spent_since(ifs, before) == {f"iam:Attach{noun}Policy": 1, f"iam:Detach{noun}Policy": 1}
    with pytest.raises(FsError) as e:
        ifs.getattr(f"{d}/{policy}")
    assert e.value.errno == errno.ENOENT
    before = dict(ifs.aws.calls)
    with pytest.raises(FsError) as e:  # not attached (any more)
        ifs.unlink(f"{d}/{policy}")
    assert e.value.errno == errno.ENOENT and spent_since(ifs, before) == {}


def test_ln_s_adds_a_user_to_a_group_and_rm_removes_it(ifs, world, iam):
    u, g = world["user"], world["group"]
    d = f"/iam/users/{u}/groups"

    def groups():
        return [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]]
    assert ifs.listdir(d) == [g]
    ifs.unlink(f"{d}/{g}")
    assert groups() == [] and ifs.listdir(d) == []
    assert ifs.aws.calls["iam:RemoveUserFromGroup"] == 1
    ifs.symlink(f"{d}/{g}", f"../../../groups/{g}")
    assert groups() == [g] and ifs.listdir(d) == [g]
    assert ifs.readlink(f"{d}/{g}") == f"../../../groups/{g}"  # shown as awsfs shows every link
    assert ifs.aws.calls["iam:AddUserToGroup"] == 1


def test_already_linked_makes_no_call(ifs, world):
    u, p, g = world["user"], world["policy"], world["group"]
    ifs.listdir(f"/iam/users/{u}/attached")
    ifs.listdir(f"/iam/users/{u}/groups")
    ifs.listdir("/iam/policies")
    ifs.listdir("/iam/groups")
    before = dict(ifs.aws.calls)
    ifs.symlink(f"/iam/users/{u}/attached/{p}", f"../../../policies/{p}")
    ifs.symlink(f"/iam/users/{u}/groups/{g}", f"../../../groups/{g}")
    assert spent_since(ifs, before) == {}


def test_a_link_must_be_named_after_its_target_and_point_as_awsfs_shows(ifs, world, extra):
    r, g, (p, _) = world["role"], world["group"], extra
    d = f"/iam/roles/{r}/attached"
    refused = [
        (f"{d}/other", f"../../../policies/{p}", "named after"),             # the wrong name
        (f"{d}/{p}", f"../../policies/{p}", "must point at"),                 # not where awsfs points
        (f"{d}/{p}", f"../../../policies/{p}/", "must point at"),
        (f"{d}/{p}", f"../../../groups/{p}", "must point at"),                # another kind
        (f"{d}/{p}", f"../../../policies/{p}/../{p}", "must point at"),
        (f"{d}/{p}", f"/elsewhere/iam/policies/{p}", "must point at"),        # absolute: not taken
        (f"{d}/{p}", f"/iam/policies/{p}", "must point at"),
        (f"{d}/{p}", p, "must point at"),
        (f"/iam/users/{world['user']}/groups/{g}", f"../../../policies/{g}", "../../../groups/"),
    ]
    before = dict(ifs.aws.calls)
    for path, target, says in refused:
        with pytest.raises(FsError) as e:
            ifs.symlink(path, target)
        assert e.value.errno == errno.EINVAL and says in e.value.reason, (target, e.value.reason)
    for path, target in ((f"{d}/nope", "../../../policies/nope"),
                         (f"/iam/users/{world['user']}/groups/nope", "../../../groups/nope")):
        with pytest.raises(FsError) as e:  # no such policy, no such group
            ifs.symlink(path, target)
        assert e.value.errno == errno.ENOENT, target
    assert not [k for k in spent_since(ifs, before) if not k.startswith("iam:List")]
    assert f"link other points at policy {p}" in read(ifs, "/.awsfs/errors").decode()
    with pytest.raises(FsError) as e:  # links are made only in attached/ and groups/
        ifs.symlink(f"/iam/policies/{p}/{p}", f"../../../policies/{p}")
    assert e.value.errno == errno.EACCES


# -- a group's members: the other side of a user's groups/ ------------------------------------------

@pytest.fixture
def newcomer(world, iam, unique):
    """A second user, in no group (taken out of every group and deleted after)."""
    user = unique("newcomer")
    iam.create_user(UserName=user)
    yield user
    for g in iam.list_groups_for_user(UserName=user)["Groups"]:
        iam.remove_user_from_group(GroupName=g["GroupName"], UserName=user)
    iam.delete_user(UserName=user)


def members_of(iam, group):
    return sorted(u["UserName"] for u in iam.get_group(GroupName=group)["Users"])


def test_a_group_s_members_are_links_to_users(ifs, world):
    u, g = world["user"], world["group"]
    d = f"/iam/groups/{g}/members"
    assert sorted(ifs.listdir(f"/iam/groups/{g}")) == ["attached", "info.json", "members", "policies"]
    before = dict(ifs.aws.calls)
    assert ifs.listdir(d) == [u]
    assert spent_since(ifs, before) == {"iam:GetGroup": 1}  # (the group's entry: ListGroups, read above)
    st = ifs.getattr(f"{d}/{u}")
    assert st.kind == "link" and st.size == len(f"../../../users/{u}")
    assert ifs.readlink(f"{d}/{u}") == f"../../../users/{u}"
    assert spent_since(ifs, before) == {"iam:GetGroup": 1}  # ls -l: from the listing
    for missing in (f"{d}/{u}x", f"/iam/users/{u}/members", f"/iam/roles/{world['role']}/members"):
        with pytest.raises(FsError) as e:
            ifs.getattr(missing)
        assert e.value.errno == errno.ENOENT, missing


def test_ln_s_in_members_adds_and_rm_removes_written_through_both_ways(ifs, world, iam, newcomer):
    u, g, n = world["user"], world["group"], newcomer
    members, groups = f"/iam/groups/{g}/members", f"/iam/users/{n}/groups"
    assert ifs.listdir(members) == [u] and ifs.listdir(groups) == []
    before = dict(ifs.aws.calls)
    ifs.symlink(f"{members}/{n}", f"../../../users/{n}")
    assert members_of(iam, g) == sorted([u, n])
    assert sorted(ifs.listdir(members)) == sorted([u, n]) and ifs.listdir(groups) == [g]  # both sides, at once
    assert ifs.readlink(f"{members}/{n}") == f"../../../users/{n}"
    assert ifs.readlink(f"{groups}/{g}") == f"../../../groups/{g}"
    assert spent_since(ifs, before) == {"iam:AddUserToGroup": 1}

    ifs.unlink(f"{groups}/{g}")  # the other way round: rm in the user's groups/
    assert members_of(iam, g) == [u]
    assert ifs.listdir(members) == [u] and ifs.listdir(groups) == []
    with pytest.raises(FsError) as e:
        ifs.getattr(f"{members}/{n}")
    assert e.value.errno == errno.ENOENT
    ifs.symlink(f"{groups}/{g}", f"../../../groups/{g}")  # ln -s in the user's groups/
    assert sorted(ifs.listdir(members)) == sorted([u, n])
    ifs.unlink(f"{members}/{n}")  # rm in the group's members/
    assert members_of(iam, g) == [u] and ifs.listdir(groups) == [] and ifs.listdir(members) == [u]
    assert spent_since(ifs, before) == {"iam:AddUserToGroup": 2, "iam:RemoveUserFromGroup": 2}


def test_members_refusals_and_already_there(ifs, world, iam, newcomer):
    u, g, r = world["user"], world["group"], world["role"]
    d = f"/iam/groups/{g}/members"
    ifs.listdir(d)
    ifs.listdir("/iam/users")
    before = dict(ifs.aws.calls)
    ifs.symlink(f"{d}/{u}", f"../../../users/{u}")  # a member already: nothing to do
    refused = [(f"{d}/other", f"../../../users/{newcomer}", errno.EINVAL, "named after"),
               (f"{d}/{newcomer}", f"../../users/{newcomer}", errno.EINVAL, f"../../../users/{newcomer}"),
               (f"{d}/{newcomer}", f"/iam/users/{newcomer}", errno.EINVAL, "must point at"),
               (f"{d}/{newcomer}", f"../../../groups/{newcomer}", errno.EINVAL, "the user it is named after"),
               (f"{d}/{r}", f"../../../roles/{r}", errno.EINVAL, "must point at"),
               (f"{d}/nobody", "../../../users/nobody", errno.ENOENT, "")]
    for path, target, err, says in refused:
        with pytest.raises(FsError) as e:
            ifs.symlink(path, target)
        assert e.value.errno == err and says in e.value.reason, (target, e.value.reason)
    with pytest.raises(FsError) as e:  # not a member
        ifs.unlink(f"{d}/{newcomer}")
    assert e.value.errno == errno.ENOENT
    assert spent_since(ifs, before) == {}
    assert members_of(iam, g) == [u]
    assert f"link other points at user {newcomer}" in read(ifs, "/.awsfs/errors").decode()


def test_members_are_read_page_by_page_and_an_unknown_rm_is_checked_on_every_page(ifs, world, iam, newcomer):
    """moto answers GetGroup in one page; IAM pages by Marker. Here its answer is cut after the first
    member, and the first RemoveUserFromGroup is lost on the way (not sent, its outcome unknown)."""
    u, g, n = world["user"], world["group"], newcomer
    iam.add_user_to_group(GroupName=g, UserName=n)
    real, asked = ifs.aws.send, []

    def send(service, region, op, params, **kw):
        if op == "RemoveUserFromGroup" and not asked.count("lost"):
            asked.append("lost")
            err = FsError(errno.EIO, "connection reset before the answer")
            err.unknown = True
            raise err
        if op != "GetGroup":
            return real(service, region, op, params, **kw)
        asked.append(params.get("Marker"))
        whole = real(service, region, op, {k: v for k, v in params.items() if k != "Marker"}, **kw)
        users = sorted(whole["Users"], key=lambda x: x["UserName"] != u)  # the world's user first
        if params.get("Marker") is None:
            return {**whole, "Users": users[:1], "IsTruncated": True, "Marker": "page-2"}
        assert params["Marker"] == "page-2" and params["MaxItems"] == 1000
        return {**whole, "Users": users[1:], "IsTruncated": False}
    ifs.aws.send = send
    assert sorted(ifs.listdir(f"/iam/groups/{g}/members")) == sorted([u, n]) and asked == [None, "page-2"]
    ifs.unlink(f"/iam/groups/{g}/members/{n}")  # lost, looked up (both pages: still there), sent again
    assert asked == [None, "page-2", "lost", None, "page-2"]
    assert members_of(iam, g) == [u] and ifs.listdir(f"/iam/groups/{g}/members") == [u]


# -- access keys: metadata, never a secret ----------------------------------------------------------

@pytest.fixture
def keyed(iam, unique, local_aws):
    """A user with two access keys, the second one used once (an S3 call in eu-west-1) and Inactive:
    ``(user, [key, key])`` with their secrets (the test's own view). Deleted after."""
    user = unique("keyed")
    iam.create_user(UserName=user)
    keys = [iam.create_access_key(UserName=user)["AccessKey"] for _ in range(2)]
    boto3.client("s3", region_name="eu-west-1", endpoint_url=local_aws.url, aws_access_key_id=keys[1]["AccessKeyId"],
                 aws_secret_access_key=keys[1]["SecretAccessKey"]).list_buckets()
    iam.update_access_key(UserName=user, AccessKeyId=keys[1]["AccessKeyId"], Status="Inactive")
    yield user, keys
    for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName=user)


def key_status(iam, user):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_access_keys_are_files_of_metadata_and_last_use(ifs, keyed):
    user, keys = keyed
    d, (a, b) = f"/iam/users/{user}/access-keys", (k["AccessKeyId"] for k in keys)
    before = dict(ifs.aws.calls)
    assert sorted(ifs.listdir(d)) == sorted([f"{a}.json", f"{b}.json"])
    sizes = {n: ifs.getattr(f"{d}/{n}").size for n in ifs.listdir(d)}  # ls -l: true sizes
    assert spent_since(ifs, before) == {"iam:ListUsers": 1, "iam:ListAccessKeys": 1, "iam:GetAccessKeyLastUsed": 2}
    first, second = json.loads(read(ifs, f"{d}/{a}.json")), json.loads(read(ifs, f"{d}/{b}.json"))
    assert spent_since(ifs, before) == {"iam:ListUsers": 1, "iam:ListAccessKeys": 1, "iam:GetAccessKeyLastUsed": 2}
    assert sizes == {f"{a}.json": len(read(ifs, f"{d}/{a}.json")), f"{b}.json": len(read(ifs, f"{d}/{b}.json"))}
    assert sorted(first) == ["AccessKeyId", "AccessKeyLastUsed", "CreateDate", "Status", "UserName"]
    assert (first["UserName"], first["AccessKeyId"], first["Status"]) == (user, a, "Active")
    assert first["AccessKeyLastUsed"] == {"Region": "N/A", "ServiceName": "N/A"}  # never used: as IAM says
    assert second["Status"] == "Inactive"
    used = second["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("s3", "eu-west-1") and used["LastUsedDate"][:2] == "20"
    assert ifs.getattr(f"{d}/{a}.json").mode & 0o777 == 0o644
    for missing in (f"{d}/{a}", f"{d}/AKIANOSUCHKEY0000000.json", f"{d}/short.json"):
        with pytest.raises(FsError) as e:
            ifs.getattr(missing)
        assert e.value.errno == errno.ENOENT, missing


def test_no_secret_reaches_a_file_the_errors_the_status_or_the_log(ifs, keyed, iam, caplog):
    caplog.set_level(logging.DEBUG, logger="awsfs")
    user, keys = keyed
    d = f"/iam/users/{user}/access-keys"
    seen = [read(ifs, f"{d}/{n}") for n in ifs.listdir(d)] + [read(ifs, f"/iam/users/{user}/info.json")]
    save(ifs, f"{d}/{keys[1]['AccessKeyId']}.json", b"Active\n")
    with pytest.raises(FsError):
        create(ifs, f"{d}/AKIANEWKEY0000000000.json", b"{}")
    with pytest.raises(FsError):
        ifs.unlink(f"{d}/{keys[0]['AccessKeyId']}.json")  # Active: refused
    logged = "\n".join(json.dumps({**r.__dict__, "args": str(r.args)}, default=str) for r in caplog.records)
    assert "UpdateAccessKey" in logged and "GetAccessKeyLastUsed" in logged
    everything = b"".join(seen).decode() + logged + read(ifs, "/.awsfs/errors").decode() + \
        read(ifs, "/.awsfs/status").decode()
    for k in keys:
        assert k["SecretAccessKey"] not in everything and k["SecretAccessKey"][:12] not in everything


def test_status_is_changed_by_editing_the_json_or_writing_the_word(ifs, keyed, iam):
    user, keys = keyed
    a = keys[0]["AccessKeyId"]
    path = f"/iam/users/{user}/access-keys/{a}.json"
    doc = json.loads(read(ifs, path))
    before = dict(ifs.aws.calls)
    save(ifs, path, json.dumps({**doc, "Status": "Inactive"}, indent=2).encode())
    assert key_status(iam, user)[a] == "Inactive"
    assert spent_since(ifs, before) == {"iam:ListAccessKeys": 1, "iam:UpdateAccessKey": 1}  # the check, the change
    assert json.loads(read(ifs, path))["Status"] == "Inactive"  # written through
    echo_into(ifs, path, b"Active\n")  # echo Active > a.json
    assert key_status(iam, user)[a] == "Active" and json.loads(read(ifs, path))["Status"] == "Active"
    before = dict(ifs.aws.calls)
    save(ifs, path, read(ifs, path))  # unchanged: IAM is asked, nothing changed
    save(ifs, path, json.dumps({**json.loads(read(ifs, path)), "AccessKeyLastUsed": {}}).encode())  # ignored
    save(ifs, path, b"Active\n")
    assert spent_since(ifs, before) == {"iam:ListAccessKeys": 3}
    iam.update_access_key(UserName=user, AccessKeyId=a, Status="Inactive")  # behind awsfs's back
    save(ifs, path, b"Active\n")  # the cache still says Active; IAM is asked, and the key made Active
    assert key_status(iam, user)[a] == "Active"


def test_an_access_key_save_is_checked(ifs, keyed, iam):
    user, keys = keyed
    a = keys[0]["AccessKeyId"]
    path = f"/iam/users/{user}/access-keys/{a}.json"
    doc = json.loads(read(ifs, path))
    before = dict(ifs.aws.calls)
    for bad, says in (({**doc, "Status": "Disabled"}, "'Disabled'"), ({**doc, "Status": "x" * 40}, "40 characters"),
                      ({**doc, "Status": "Inactive", "UserName": "other"}, "not UserName"),
                      ({**doc, "Status": "Inactive", "CreateDate": "2001-01-01T00:00:00+00:00"}, "not CreateDate"),
                      ({**doc, "Status": "Inactive", "AccessKeyId": keys[1]["AccessKeyId"]}, "not AccessKeyId"),
                      ({"UserName": user}, '"Status"'), ([], '"Status"'), ("inactive", '"Status"')):
        with pytest.raises(FsError) as e:
            save(ifs, path, json.dumps(bad).encode())
        assert e.value.errno == errno.EINVAL and says in e.value.reason, (bad, e.value.reason)
    for bad, says in ((b"Inactive\nActive\n", "invalid JSON"), (b"\xff", "UTF-8")):
        with pytest.raises(FsError) as e:
            save(ifs, path, bad)
        assert e.value.errno == errno.EINVAL and says in e.value.reason
    assert spent_since(ifs, before) == {} and key_status(iam, user)[a] == "Active"
    iam.delete_access_key(UserName=user, AccessKeyId=a)  # deleted behind awsfs's back: not made anew
    with pytest.raises(FsError) as e:
        save(ifs, path, b"Inactive\n")
    assert e.value.errno == errno.ENOENT and "deleted meanwhile" in e.value.reason
    assert a not in key_status(iam, user)


def test_rm_deletes_an_inactive_key_only_and_no_key_is_created(ifs, keyed, iam):
    user, keys = keyed
    (a, b), d = (k["AccessKeyId"] for k in keys), f"/iam/users/{user}/access-keys"
    ifs.listdir(d)
    before = dict(ifs.aws.calls)
    with pytest.raises(FsError) as e:  # Active: refused, no call
        ifs.unlink(f"{d}/{a}.json")
    assert e.value.errno == errno.EPERM and "make it Inactive first" in e.value.reason
    assert spent_since(ifs, before) == {} and a in key_status(iam, user)
    iam.update_access_key(UserName=user, AccessKeyId=b, Status="Active")  # made Active behind awsfs's back
    with pytest.raises(FsError) as e:  # the cache says Inactive; IAM, asked before the delete, does not
        ifs.unlink(f"{d}/{b}.json")
    assert e.value.errno == errno.EPERM and "meanwhile" in e.value.reason and b in key_status(iam, user)
    iam.update_access_key(UserName=user, AccessKeyId=b, Status="Inactive")
    ifs.unlink(f"{d}/{b}.json")
    assert list(key_status(iam, user)) == [a] and ifs.listdir(d) == [f"{a}.json"]
    with pytest.raises(FsError) as e:
        ifs.getattr(f"{d}/{b}.json")
    assert e.value.errno == errno.ENOENT
    before = dict(ifs.aws.calls)
    for name in ("AKIANEWKEY0000000000.json", f"{b}.json", "new.json"):
        with pytest.raises(FsError) as e:
            create(ifs, f"{d}/{name}", b"Active\n")
        assert e.value.errno == errno.EPERM and "does not create access keys" in e.value.reason, name
    assert not [k for k in spent_since(ifs, before) if "Create" in k] and list(key_status(iam, user)) == [a]
    assert "does not create access keys" in read(ifs, "/.awsfs/errors").decode()
    create(ifs, f"{d}/.{a}.json.swp", b"vim's swap")  # editors' files stay in the mount
    assert f".{a}.json.swp" in ifs.listdir(d)


# -- AWS managed policies: behind a link, read-only -------------------------------------------------

AWS_ARN = "arn:aws:iam::aws:policy/"
LAMBDA = "AWSLambdaBasicExecutionRole"  # one with a path: arn:aws:iam::aws:policy/service-role/...


def test_aws_policies_are_a_link_that_recursive_tools_do_not_follow(ifs, world):
    assert "aws-policies" in ifs.listdir("/iam")
    assert ifs.getattr("/iam/aws-policies").kind == "link" and ifs.readlink("/iam/aws-policies") == ".aws-policies"
    assert ".aws-policies" not in ifs.listdir("/iam")  # (reached through the link only)
    before = dict(ifs.aws.calls)
    for name in ifs.listdir("/iam"):  # ls -l /iam, and what grep -r, find and du look at there
        ifs.getattr(f"/iam/{name}")
    assert spent_since(ifs, before) == {}
    names = ifs.listdir("/iam/.aws-policies")  # ls /iam/aws-policies/: the whole listing, on demand
    assert spent_since(ifs, before) == {"iam:ListPolicies": 2}  # 1,582 policies in moto: two pages of 1,000
    assert len(names) > 1000 and "ReadOnlyAccess" in names and LAMBDA in names
    assert world["policy"] not in names  # the account's own are in /iam/policies only
    assert "ReadOnlyAccess" not in ifs.listdir("/iam/policies")


def test_an_aws_policy_reads_like_the_account_s_own(ifs, iam):
    d = f"/iam/.aws-policies/{LAMBDA}"
    assert sorted(ifs.listdir(d)) == ["document.json", "info.json", "versions"]
    info = json.loads(read(ifs, f"{d}/info.json"))
    assert (info["Arn"], info["Path"]) == (f"{AWS_ARN}service-role/{LAMBDA}", "/service-role/")  # the path: in info
    want = iam.get_policy_version(PolicyArn=info["Arn"], VersionId=info["DefaultVersionId"])["PolicyVersion"]
    assert read(ifs, f"{d}/document.json") == shown(want["Document"])
    assert ifs.listdir(f"{d}/versions") == [f"{info['DefaultVersionId']}.json"]
    assert read(ifs, f"{d}/versions/{info['DefaultVersionId']}.json") == shown(want["Document"])
    for f in ("info.json", "document.json", f"versions/{info['DefaultVersionId']}.json"):
        st = ifs.getattr(f"{d}/{f}")
        assert st.mode & 0o777 == 0o444 and st.size == len(read(ifs, f"{d}/{f}")), f
    with pytest.raises(FsError) as e:
        ifs.getattr("/iam/.aws-policies/NoSuchPolicy/info.json")
    assert e.value.errno == errno.ENOENT


def test_every_change_to_an_aws_policy_is_erofs_with_a_reason(ifs, world):
    import os
    d = "/iam/.aws-policies/ReadOnlyAccess"
    read(ifs, f"{d}/document.json")
    before = dict(ifs.aws.calls)
    refused = [lambda: save(ifs, f"{d}/document.json", shown(DOC)), lambda: save(ifs, f"{d}/info.json", b"{}"),
               lambda: ifs.open(f"{d}/document.json", os.O_RDWR),
               lambda: create(ifs, f"{d}/trust.json", shown(DOC)), lambda: create(ifs, f"{d}/.document.json.swp", b"x"),
               lambda: create(ifs, f"{d}/versions/v9.json", shown(DOC)), lambda: ifs.unlink(f"{d}/document.json"),
               lambda: ifs.unlink(f"{d}/versions/{ifs.listdir(d + '/versions')[0]}")]
    for n, change in enumerate(refused):
        with pytest.raises(FsError) as e:
            change()
        assert e.value.errno == errno.EROFS and "managed by AWS" in e.value.reason, n
    assert not [k for k in spent_since(ifs, before) if not k.startswith(("iam:List", "iam:Get"))]
    assert "policy ReadOnlyAccess is managed by AWS and read-only" in read(ifs, "/.awsfs/errors").decode()
    with pytest.raises(FsError) as e:  # the account's own files that are read-only say so as before
        save(ifs, f"/iam/policies/{world['policy']}/info.json", b"{}")
    assert e.value.errno == errno.EACCES


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_ln_s_into_aws_policies_attaches_an_aws_policy(ifs, world, iam, kind):
    noun, name = kind.capitalize(), world[kind]
    d, arn = f"/iam/{kind}s/{name}/attached", f"{AWS_ARN}service-role/{LAMBDA}"
    detach = getattr(iam, f"detach_{kind}_policy")
    count = json.loads(read(ifs, f"/iam/.aws-policies/{LAMBDA}/info.json"))["AttachmentCount"]
    try:
        before = dict(ifs.aws.calls)
        ifs.symlink(f"{d}/{LAMBDA}", f"../../../aws-policies/{LAMBDA}")
        assert spent_since(ifs, before) == {f"iam:List{noun}s": 1, f"iam:ListAttached{noun}Policies": 1,
                                            f"iam:Attach{noun}Policy": 1}  # the AWS listing: read before
        assert (LAMBDA, arn) in [(p["PolicyName"], p["PolicyArn"]) for p in getattr(
            iam, f"list_attached_{kind}_policies")(**{f"{noun}Name": name})["AttachedPolicies"]]
        assert ifs.readlink(f"{d}/{LAMBDA}") == f"../../../aws-policies/{LAMBDA}"
        assert json.loads(read(ifs, f"/iam/.aws-policies/{LAMBDA}/info.json"))["AttachmentCount"] == count + 1
        before = dict(ifs.aws.calls)
        ifs.symlink(f"{d}/{LAMBDA}", f"../../../aws-policies/{LAMBDA}")  # already there: nothing
        assert spent_since(ifs, before) == {}
        ifs.unlink(f"{d}/{LAMBDA}")
        assert spent_since(ifs, before) == {f"iam:Detach{noun}Policy": 1}
        assert LAMBDA not in attached(iam, kind, name) and LAMBDA not in ifs.listdir(d)
        assert json.loads(read(ifs, f"/iam/.aws-policies/{LAMBDA}/info.json"))["AttachmentCount"] == count
    finally:
        try:
            detach(**{f"{noun}Name": name}, PolicyArn=arn)
        except iam.exceptions.NoSuchEntityException:
            pass


def test_aws_policies_attached_outside_awsfs_link_into_aws_policies(ifs, world, iam):
    r = world["role"]
    iam.attach_role_policy(RoleName=r, PolicyArn=f"{AWS_ARN}ReadOnlyAccess")
    try:
        before = dict(ifs.aws.calls)
        assert ifs.readlink(f"/iam/roles/{r}/attached/ReadOnlyAccess") == "../../../aws-policies/ReadOnlyAccess"
        assert ifs.readlink(f"/iam/roles/{r}/attached/{world['policy']}") == f"../../../policies/{world['policy']}"
        assert "iam:ListPolicies" not in spent_since(ifs, before)  # told by the ARN, not by a listing
        refused = [(f"../../../aws-policies/{world['policy']}", errno.ENOENT),  # not AWS's
                   ("../../../policies/ReadOnlyAccess", errno.ENOENT),  # not the account's own
                   ("../../aws-policies/ReadOnlyAccess", errno.EINVAL), ("../../../aws-policies/", errno.EINVAL)]
        for target, err in refused:
            name = target.rstrip("/").rpartition("/")[2] or "x"
            with pytest.raises(FsError) as e:
                ifs.symlink(f"/iam/users/{world['user']}/attached/{name}", target)
            assert e.value.errno == err, target
        with pytest.raises(FsError) as e:  # groups/ links into groups/ only
            ifs.symlink(f"/iam/users/{world['user']}/groups/ReadOnlyAccess", "../../../aws-policies/ReadOnlyAccess")
        assert e.value.errno == errno.EINVAL and "../../../groups/ReadOnlyAccess" in e.value.reason
        ifs.unlink(f"/iam/roles/{r}/attached/ReadOnlyAccess")
        assert "ReadOnlyAccess" not in attached(iam, "role", r)
    finally:
        try:
            iam.detach_role_policy(RoleName=r, PolicyArn=f"{AWS_ARN}ReadOnlyAccess")
        except iam.exceptions.NoSuchEntityException:
            pass


# -- reading many: the account's details, a few pages for the whole of /iam -------------------------

def walk(fs, top):
    """What `grep -r` reads below ``top``: every file (path -> bytes), the links not followed."""
    out = {}
    for name in fs.listdir(top):
        path = f"{top}/{name}"
        st = fs.getattr(path)
        if st.kind == "dir":
            out.update(walk(fs, path))
        elif st.kind == "file":
            assert st.size == len(read(fs, path)), path  # ls -l: sizes as read
            out[path] = read(fs, path)
    return out


ONE_BY_ONE = {f"iam:{op}" for op in ("GetUserPolicy", "GetRolePolicy", "GetGroupPolicy", "GetPolicyVersion",
                                     "ListUserPolicies", "ListRolePolicies", "ListGroupPolicies",
                                     "ListAttachedUserPolicies", "ListAttachedRolePolicies",
                                     "ListAttachedGroupPolicies", "ListGroupsForUser", "GetGroup",
                                     "ListPolicyVersions")}


def test_grep_r_of_iam_costs_a_few_pages_not_a_call_per_document(ifs, make_fs, world, iam):
    import os
    u, r, g, p, inline = (world[k] for k in ("user", "role", "group", "policy", "inline"))
    iam.create_policy_version(PolicyArn=world["arn"], PolicyDocument=json.dumps(with_action(DOC, "s3:Put")))
    ifs.caller_pid = lambda: os.getpid()  # one process, as grep is
    before = dict(ifs.aws.calls)
    seen = walk(ifs, "/iam")
    spent = spent_since(ifs, before)
    users = len(ifs.listdir("/iam/users"))
    assert spent.pop("iam:GetAccountAuthorizationDetails") == 4  # users, roles, groups, policies: a page each
    assert spent.pop("iam:ListAccessKeys") == users  # (IAM has no batch for them)
    keys = sum(len(iam.list_access_keys(UserName=n)["AccessKeyMetadata"]) for n in ifs.listdir("/iam/users"))
    assert spent.pop("iam:GetAccessKeyLastUsed", 0) == keys
    assert spent == {"iam:ListUsers": 1, "iam:ListRoles": 1, "iam:ListGroups": 1, "iam:ListPolicies": 1}
    assert seen[f"/iam/users/{u}/policies/{inline}.json"] == shown(DOC)
    assert seen[f"/iam/roles/{r}/policies/{inline}.json"] == shown(DOC)
    assert seen[f"/iam/groups/{g}/policies/{inline}.json"] == shown(DOC)
    assert seen[f"/iam/policies/{p}/versions/v2.json"] == shown(with_action(DOC, "s3:Put"))
    assert seen[f"/iam/policies/{p}/document.json"] == shown(DOC)
    assert not [k for k in seen if "aws-policies" in k]  # behind a link: not followed
    assert ifs.listdir(f"/iam/users/{u}/groups") == [g] and ifs.listdir(f"/iam/roles/{r}/attached") == [p]
    assert ifs.listdir(f"/iam/groups/{g}/members") == [u]  # (from the users' details: no GetGroup above)
    assert ifs.readlink(f"/iam/users/{u}/attached/{p}") == f"../../../policies/{p}"
    # what another mount reads one by one is what the details gave, byte for byte
    other = make_fs(regions=["us-east-1"])
    if not any(pat.startswith("/iam") for pat in other.router.patterns):
        other.router = ifs.router
    mine = {k: v for k, v in seen.items() if any(f"/{x}/" in k for x in (u, r, g, p))}
    assert len(mine) > 10 and {k: read(other, k) for k in mine} == mine
    assert ONE_BY_ONE & set(other.aws.calls) and "iam:GetAccountAuthorizationDetails" not in other.aws.calls


def test_many_read_one_by_one_turn_to_the_details_and_a_save_is_seen(ifs, iam, unique):
    import os
    users = [unique("many") for _ in range(14)]
    for n, user in enumerate(users):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(with_action(DOC, f"s3:A{n}")))
    try:
        ifs.caller_pid = lambda: os.getpid()  # (cat /iam/users/*/policies/p.json: /iam/users not listed)
        before = dict(ifs.aws.calls)
        docs = [read(ifs, f"/iam/users/{user}/policies/p.json") for user in users]
        assert docs == [shown(with_action(DOC, f"s3:A{n}")) for n in range(len(users))]
        spent = spent_since(ifs, before)
        assert spent["iam:GetUserPolicy"] == iam_service.ONE_BY_ONE  # then the details answer the rest
        assert spent["iam:GetAccountAuthorizationDetails"] == 1
        path = f"/iam/users/{users[-1]}/policies/p.json"
        save(ifs, path, shown(with_action(DOC, "s3:Saved")))  # written through; the details are dropped
        assert read(ifs, path) == shown(with_action(DOC, "s3:Saved"))
        assert read(ifs, f"/iam/users/{users[0]}/policies/p.json") == shown(with_action(DOC, "s3:A0"))
        assert iam.get_user_policy(UserName=users[-1], PolicyName="p")["PolicyDocument"] == with_action(DOC, "s3:Saved")
        ifs.unlink(path)
        with pytest.raises(FsError) as e:
            ifs.getattr(path)
        assert e.value.errno == errno.ENOENT
    finally:
        for user in users:
            for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
                iam.delete_user_policy(UserName=user, PolicyName=name)
            iam.delete_user(UserName=user)


def test_failing_details_fall_back_to_one_by_one_and_are_not_asked_for_each_file(ifs, world):
    import os
    ifs.caller_pid = lambda: os.getpid()
    real, asked = ifs.aws.call, []

    def call(service, region, op, **params):
        if op == "GetAccountAuthorizationDetails":
            asked.append(params["Filter"])
            raise FsError(errno.EACCES, "not authorised to GetAccountAuthorizationDetails")
        return real(service, region, op, **params)
    ifs.aws.call = call
    before = dict(ifs.aws.calls)
    names = ifs.listdir("/iam/users")
    for user in (world["user"], *names[:5]):
        ifs.listdir(f"/iam/users/{user}/policies")
        ifs.listdir(f"/iam/users/{user}/attached")
    assert read(ifs, f"/iam/users/{world['user']}/policies/{world['inline']}.json") == shown(DOC)
    assert ifs.listdir(f"/iam/users/{world['user']}/groups") == [world["group"]]
    assert "iam:ListUserPolicies" in spent_since(ifs, before) and "iam:GetUserPolicy" in spent_since(ifs, before)
    assert asked == [["User"]]  # tried once, then left alone for a while (kit.PREFETCH_PAUSE)
    assert read(ifs, "/.awsfs/errors") == b""  # a way of reading that failed, not a failure of a file


def test_a_process_reading_many_groups_gets_their_members_from_the_users_details(ifs, make_fs, world, iam,
                                                                                  newcomer, unique):
    import os
    u, g, n = world["user"], world["group"], newcomer
    ifs.caller_pid = lambda: os.getpid()  # one process, as grep -r /iam/groups is
    before = dict(ifs.aws.calls)
    walk(ifs, "/iam/groups")
    seen = {name: sorted(ifs.listdir(f"/iam/groups/{name}/members")) for name in ifs.listdir("/iam/groups")}
    assert spent_since(ifs, before) == {"iam:ListGroups": 1, "iam:GetAccountAuthorizationDetails": 2}  # Group, User
    assert seen[g] == [u]
    other = make_fs(regions=["us-east-1"])  # another mount, one by one: a GetGroup per group, the same members
    other.router = ifs.router
    assert {name: sorted(other.listdir(f"/iam/groups/{name}/members")) for name in seen} == seen
    assert other.aws.calls["iam:GetGroup"] == len(seen)

    ifs.symlink(f"/iam/groups/{g}/members/{n}", f"../../../users/{n}")  # written through to the details too
    assert sorted(ifs.listdir(f"/iam/groups/{g}/members")) == sorted([u, n])
    assert ifs.listdir(f"/iam/users/{n}/groups") == [g]
    assert read(ifs, f"/iam/groups/{g}/policies/{world['inline']}.json") == shown(DOC)  # (the details are kept)
    assert spent_since(ifs, before) == {"iam:ListGroups": 1, "iam:GetAccountAuthorizationDetails": 2,
                                        "iam:ListUsers": 1, "iam:AddUserToGroup": 1}  # (ln -s: is the user there?)
    ifs.unlink(f"/iam/users/{n}/groups/{g}")
    assert ifs.listdir(f"/iam/groups/{g}/members") == [u] and ifs.listdir(f"/iam/users/{n}/groups") == []
    assert spent_since(ifs, before)["iam:GetAccountAuthorizationDetails"] == 2 and members_of(iam, g) == [u]

    late = unique("late")  # a group made since the details were read, with a member: asked alone
    iam.create_group(GroupName=late)
    iam.add_user_to_group(GroupName=late, UserName=n)
    try:
        ifs.cache.invalidate(iam_service.things(ifs.ctx, "groups").key())  # (listed anew: it knows the group)
        before = dict(ifs.aws.calls)
        assert ifs.listdir(f"/iam/groups/{late}/members") == [n]
        assert spent_since(ifs, before) == {"iam:ListGroups": 1, "iam:GetGroup": 1}
    finally:
        iam.remove_user_from_group(GroupName=late, UserName=n)
        iam.delete_group(GroupName=late)


def test_the_details_are_read_page_by_page(ifs, world):
    """moto answers GetAccountAuthorizationDetails in one page whatever MaxItems says; AWS pages by
    Marker (IsTruncated). Here moto's answer is cut in two pages, as AWS would send it."""
    import os
    ifs.caller_pid = lambda: os.getpid()
    real, asked = ifs.aws.call, []

    def call(service, region, op, **params):
        if op != "GetAccountAuthorizationDetails" or params["Filter"] != ["User"]:
            return real(service, region, op, **params)
        asked.append(params.get("Marker"))
        whole = real(service, region, op, **{k: v for k, v in params.items() if k != "Marker"})
        users = whole["UserDetailList"]
        at = next(i for i, x in enumerate(users) if x["UserName"] == world["user"])  # the world's user: on page 2
        if params.get("Marker") is None:
            return {**whole, "UserDetailList": users[:at], "IsTruncated": True, "Marker": "page-2"}
        assert params["Marker"] == "page-2" and params["MaxItems"] == 1000
        return {**whole, "UserDetailList": users[at:], "IsTruncated": False}
    ifs.aws.call = call
    ifs.listdir("/iam/users")
    assert read(ifs, f"/iam/users/{world['user']}/policies/{world['inline']}.json") == shown(DOC)
    assert ifs.listdir(f"/iam/users/{world['user']}/groups") == [world["group"]]
    assert asked == [None, "page-2"]
    assert not ONE_BY_ONE & set(ifs.aws.calls)
