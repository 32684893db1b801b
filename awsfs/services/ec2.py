"""EC2: instances (files for state, type, tags, ctl), security groups, images."""
from __future__ import annotations

import errno
import re
import unicodedata
from typing import Any, Optional

from ..errors import FsError, InputError
from ..names import escape, unescape
from ..kit import Collection, LineValue, RegionNode, RegionsDir
from ..nodes import DIR, FILE, LINK, Dir, File, Link, StaticDir, enoent, is_editor_scratch, is_tool_scratch
from ..nodes import line, render_json, shown
from ..transaction import Mutation

# -- data, through the cache -----------------------------------------------------------------

class Instances(Collection):
    root, service, op, name, one = "ec2", "ec2", "DescribeInstances", "instances", "instance"

    def list_params(self) -> dict[str, Any]:
        return {"MaxResults": 1000}

    def entries(self, page: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(i["InstanceId"], i) for r in page.get("Reservations", []) for i in r.get("Instances", [])]

    def addressable(self, group: Optional[str], iid: str) -> Optional[bool]:
        return iid.startswith("i-")

    def get(self, group: Optional[str], iid: str) -> Optional[dict]:
        try:
            return _describe_one(self.ctx, self.region, iid, "")
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return None  # definitely none: cached like an instance


def instance(ctx, region: str, iid: str, path: str) -> dict:
    coll = Instances(ctx, region)
    coll.absent = f"no instance {iid} in {region}"
    return coll.lookup(iid, path)


def _describe_one(ctx, region: str, iid: str, path: str) -> dict:
    page = ctx.aws.call("ec2", region, "DescribeInstances", InstanceIds=[iid])
    for r in page.get("Reservations", []):
        for i in r.get("Instances", []):
            if i["InstanceId"] == iid:
                return i
    raise enoent(path, f"no instance {iid} in {region}")


class SecurityGroups(Collection):
    root, service, op, name = "ec2", "ec2", "DescribeSecurityGroups", "security-groups"

    def list_params(self) -> dict[str, Any]:
        return {"MaxResults": 1000}

    def name_of(self, group: dict) -> str:
        return group["GroupId"]


class Images(Collection):
    """Images the account owns plus the images its instances use."""

    root, service, op, name = "ec2", "ec2", "DescribeImages", "images"

    def fetch_page(self, token: Any):
        used = sorted({i.get("ImageId") for i in Instances(self.ctx, self.region).listing().all().values()
                       if i.get("ImageId")})
        found: dict[str, dict] = {}
        for page in self.ctx.aws.pages("ec2", self.region, "DescribeImages", Owners=["self"], MaxResults=1000):
            found.update((im["ImageId"], im) for im in page.get("Images", []))
        missing = [i for i in used if i not in found]
        if missing:
            page = self.ctx.aws.call("ec2", self.region, "DescribeImages", ImageIds=missing)
            found.update((im["ImageId"], im) for im in page.get("Images", []))
        return sorted(found.items()), None


VERBS = {
    "pending": ("terminate",),
    "running": ("stop", "reboot", "terminate"),
    "stopping": ("terminate",),
    "stopped": ("start", "terminate"),
    "shutting-down": (),
    "terminated": (),
}


def tags_of(inst: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def fresh_instance(ctx, region: str, iid: str, path: str) -> dict:
    """The instance as AWS has it now (bypassing the cache): decisions are made on this."""
    ctx.cache.invalidate(("ec2", region, "instance", iid))
    return _describe_one(ctx, region, iid, path)


def touched(region: str, iid: str) -> list[tuple]:
    """Cache entries an instance mutation makes stale."""
    return [("ec2", region, "instances"), ("ec2", region, "instance", iid), ("elb", region)]


VERB_CALLS = {"start": "StartInstances", "stop": "StopInstances", "reboot": "RebootInstances",
              "terminate": "TerminateInstances"}
# states in which a verb has nothing left to do
SATISFIED = {"start": ("pending", "running"), "stop": ("stopping", "stopped"),
             "terminate": ("shutting-down", "terminated"), "reboot": ()}
_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


# -- nodes ------------------------------------------------------------------------------------

class RegionDir(RegionNode, StaticDir):
    children = (("instances", DIR), ("security-groups", DIR), ("images", DIR))


class InstancesDir(RegionNode, Dir):
    def entries(self):
        return self.entries_from(0)

    def entries_from(self, offset: int):
        return ((iid, DIR) for iid, _ in Instances(self.ctx, self.region_ok()).listing().iter_from(offset))


class InstanceNode(RegionNode):
    def inst(self) -> dict:
        return instance(self.ctx, self.region_ok(), self.params["iid"], self.path)  # type: ignore[attr-defined]

    def check(self) -> None:
        self.inst()

    def mtime_hint(self) -> Optional[float]:
        t = self.inst().get("LaunchTime")
        return t.timestamp() if t else None


class InstanceDir(InstanceNode, StaticDir):
    children = (("info.json", FILE), ("state", FILE), ("type", FILE), ("tags", DIR), ("ctl", FILE),
                ("image", LINK), ("security-groups", DIR))

    def is_scratch(self, name: str) -> bool:
        return is_editor_scratch(name)

    def child_for_create(self, name: str) -> File:
        if name == "type":  # an editor saving by rename creates it anew
            return InstanceType(self.ctx, f"{self.path}/type", **self.params)
        raise FsError(errno.EACCES, f"{self.path}/{name}: files cannot be created here")


class InstanceInfo(InstanceNode, File):
    def content(self) -> bytes:
        return render_json(self.inst())


class InstanceState(InstanceNode, File):
    def content(self) -> bytes:
        return line(self.inst()["State"]["Name"])


class InstanceType(InstanceNode, LineValue):
    what = "instance type"

    def value(self) -> str:
        return self.inst()["InstanceType"]

    def validate(self, text: str) -> str:
        value = text.strip()
        if not _TYPE.match(value):
            raise InputError(errno.EINVAL, f"{shown(value)} is not an instance type (like t3.large)")
        return value

    def fresh(self, value: Any) -> str:
        self.seen = fresh_instance(self.ctx, self.region_ok(), self.params["iid"], self.path)
        return self.seen["InstanceType"]

    def put(self, value: str, base: Any) -> Mutation:
        state = self.seen["State"]["Name"]
        if state in ("shutting-down", "terminated"):
            raise FsError(errno.EBUSY, f"the instance is {state}: its type can no longer change")
        if state != "stopped":
            raise FsError(errno.EBUSY, f"the instance is {state}; stop it to change its type "
                                       f"(echo stop > ctl)")
        region, iid = self.region_ok(), self.params["iid"]
        return Mutation("ec2", region, "ModifyInstanceAttribute",
                        {"InstanceId": iid, "InstanceType": {"Value": value}}, touched(region, iid),
                        f"set type of {iid} to {value}", repeatable=True)


class InstanceCtl(InstanceNode, File):
    writable = True
    ctl = True

    def plan_line(self, text: str) -> list[Mutation]:
        verb = text.strip()
        if verb not in VERB_CALLS:
            raise InputError(errno.EINVAL, f"unknown verb {shown(verb)} (accepted: {', '.join(VERB_CALLS)})")
        region, iid = self.region_ok(), self.params["iid"]
        state = fresh_instance(self.ctx, region, iid, self.path)["State"]["Name"]
        if state in SATISFIED[verb]:
            return []
        if verb not in VERBS.get(state, VERB_CALLS):
            accepted = ", ".join(VERBS.get(state, ())) or "none"
            raise FsError(errno.EBUSY, f"cannot {verb} an instance that is {state} (accepted now: {accepted})")
        # start, stop and terminate twice do what once does; a second reboot would reboot again
        return [Mutation("ec2", region, VERB_CALLS[verb], {"InstanceIds": [iid]}, touched(region, iid),
                         f"{verb} {iid}", repeatable=verb != "reboot")]

    def content(self) -> bytes:
        state = self.inst()["State"]["Name"]
        verbs = " ".join(VERBS.get(state, ())) or "(none)"
        return f"state: {state}\nverbs: {verbs}\n".encode()


class TagsDir(InstanceNode, Dir):
    def entries(self):
        return [(escape(k), FILE) for k in sorted(tags_of(self.inst()))]

    def is_scratch(self, name: str) -> bool:
        return is_tool_scratch(name)  # `db.bak` or `owner.orig` are real tag keys here

    def child_for_create(self, name: str) -> File:
        return TagFile(self.ctx, f"{self.path}/{name}", **self.params, key=name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        tag = TagFile(self.ctx, f"{self.path}/{name}", **self.params, key=name)
        tag.check()
        region, iid = self.region_ok(), self.params["iid"]
        return [Mutation("ec2", region, "DeleteTags", {"Resources": [iid], "Tags": [{"Key": tag.key()}]},
                         touched(region, iid), f"delete tag {tag.key()} of {iid}", repeatable=True)]


class TagFile(InstanceNode, LineValue):
    what, absent = "tag value", "no such tag"

    def key(self) -> str:
        key = unescape(self.params["key"])
        if key is None:
            raise enoent(self.path, "not a tag name")
        return key

    def check(self) -> None:
        if self.value() is None:
            raise enoent(self.path, self.absent)

    def value(self) -> Optional[str]:
        return tags_of(self.inst()).get(self.key())

    def validate(self, value: str) -> str:
        key = self.key()
        if len(key) > 128:
            raise InputError(errno.EINVAL, f"tag keys are at most 128 characters (this one has {len(key)})")
        if len(value) > 256:
            raise InputError(errno.EINVAL, f"tag values are at most 256 characters (this one has {len(value)})")
        if key.lower().startswith("aws:"):
            raise InputError(errno.EINVAL, "tag keys starting with 'aws:' are reserved by AWS")
        for what, text in (("key", key), ("value", value)):
            bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn")), None)
            if bad is not None:
                raise InputError(errno.EINVAL, f"a tag {what} cannot hold control or unassigned characters "
                                 f"(this one has U+{ord(bad):04X} at position {text.index(bad) + 1})")
        return value

    def put(self, value: str, base: Any) -> Mutation:
        region, iid, key = self.region_ok(), self.params["iid"], self.key()
        return Mutation("ec2", region, "CreateTags", {"Resources": [iid], "Tags": [{"Key": key, "Value": value}]},
                        touched(region, iid), f"tag {iid} {key} ({len(value)} characters)", repeatable=True)


class ImageLink(InstanceNode, Link):
    def check(self) -> None:
        if not self.inst().get("ImageId"):
            raise enoent(self.path, "instance has no image")

    def target(self) -> str:
        return f"../../images/{self.inst()['ImageId']}"


class InstanceGroupsDir(InstanceNode, Dir):
    def entries(self):
        return [(g["GroupId"], LINK) for g in self.inst().get("SecurityGroups", [])]


class InstanceGroupLink(InstanceNode, Link):
    def check(self) -> None:
        if self.params["sg"] not in {g["GroupId"] for g in self.inst().get("SecurityGroups", [])}:
            raise enoent(self.path)

    def target(self) -> str:
        return f"../../../security-groups/{self.params['sg']}"


class GroupsDir(RegionNode, Dir):
    def entries(self):
        return ((gid, DIR) for gid, _ in SecurityGroups(self.ctx, self.region_ok()).listing().iter_from(0))


class GroupNode(RegionNode):
    def group(self) -> dict:
        return SecurityGroups(self.ctx, self.region_ok()).lookup(self.params["sg"], self.path)  # type: ignore

    def check(self) -> None:
        self.group()


class GroupDir(GroupNode, StaticDir):
    children = (("info.json", FILE),)


class GroupInfo(GroupNode, File):
    def content(self) -> bytes:
        return render_json(self.group())


class ImagesDir(RegionNode, Dir):
    def entries(self):
        return ((ami, DIR) for ami, _ in Images(self.ctx, self.region_ok()).listing().iter_from(0))


class ImageNode(RegionNode):
    def image(self) -> dict:
        return Images(self.ctx, self.region_ok()).lookup(self.params["ami"], self.path)  # type: ignore

    def check(self) -> None:
        self.image()


class ImageDir(ImageNode, StaticDir):
    children = (("info.json", FILE),)


class ImageInfo(ImageNode, File):
    def content(self) -> bytes:
        return render_json(self.image())


ROOT = "ec2"
REQUIRED = {
    ("ec2", "DescribeInstances"): ("Reservations",),
    ("ec2", "DescribeSecurityGroups"): ("SecurityGroups",),
    ("ec2", "DescribeImages"): ("Images",),
}

ROUTES = [
    ("/ec2", RegionsDir),
    ("/ec2/{region}", RegionDir),
    ("/ec2/{region}/instances", InstancesDir),
    ("/ec2/{region}/instances/{iid}", InstanceDir),
    ("/ec2/{region}/instances/{iid}/info.json", InstanceInfo),
    ("/ec2/{region}/instances/{iid}/state", InstanceState),
    ("/ec2/{region}/instances/{iid}/type", InstanceType),
    ("/ec2/{region}/instances/{iid}/ctl", InstanceCtl),
    ("/ec2/{region}/instances/{iid}/tags", TagsDir),
    ("/ec2/{region}/instances/{iid}/tags/{key}", TagFile),
    ("/ec2/{region}/instances/{iid}/image", ImageLink),
    ("/ec2/{region}/instances/{iid}/security-groups", InstanceGroupsDir),
    ("/ec2/{region}/instances/{iid}/security-groups/{sg}", InstanceGroupLink),
    ("/ec2/{region}/security-groups", GroupsDir),
    ("/ec2/{region}/security-groups/{sg}", GroupDir),
    ("/ec2/{region}/security-groups/{sg}/info.json", GroupInfo),
    ("/ec2/{region}/images", ImagesDir),
    ("/ec2/{region}/images/{ami}", ImageDir),
    ("/ec2/{region}/images/{ami}/info.json", ImageInfo),
]
