"""EC2: instances (files for state, type, tags, ctl), security groups, images."""
from __future__ import annotations

import errno
import re
import unicodedata
from typing import Any, Optional

from ..errors import FsError, InputError
from ..names import escape, unescape
from ..nodes import DIR, FILE, LINK, Dir, File, Link, Listing, StaticDir, enoent, is_editor_scratch, is_tool_scratch
from ..nodes import line, shown
from ..nodes import render_json
from ..transaction import Mutation
from .common import RegionNode, RegionsDir

# -- data, through the cache -----------------------------------------------------------------

def instances(fs, region: str) -> Listing:
    def fetch(token: Any):
        params: dict[str, Any] = {"MaxResults": 1000}
        if token:
            params["NextToken"] = token
        page = fs.aws.call("ec2", region, "DescribeInstances", **params)
        found = [(i["InstanceId"], i) for r in page.get("Reservations", []) for i in r.get("Instances", [])]
        return found, page.get("NextToken")
    return fs.cache.get(("ec2", region, "instances"), lambda: Listing(fetch))


def instance(fs, region: str, iid: str, path: str) -> dict:
    entry = fs.cache.peek(("ec2", region, "instances"))
    if entry is not None:
        known, inst = entry.value.lookup(iid)
        if known:
            if inst is None:
                raise enoent(path, f"no instance {iid} in {region}")
            return inst
    if not iid.startswith("i-"):
        raise enoent(path, "not an instance id")

    return fs.cache.get(("ec2", region, "instance", iid), lambda: _describe_one(fs, region, iid, path))


def _describe_one(fs, region: str, iid: str, path: str) -> dict:
    page = fs.aws.call("ec2", region, "DescribeInstances", InstanceIds=[iid])
    for r in page.get("Reservations", []):
        for i in r.get("Instances", []):
            if i["InstanceId"] == iid:
                return i
    raise enoent(path, f"no instance {iid} in {region}")


def security_groups(fs, region: str) -> Listing:
    def fetch(token: Any):
        params: dict[str, Any] = {"MaxResults": 1000}
        if token:
            params["NextToken"] = token
        page = fs.aws.call("ec2", region, "DescribeSecurityGroups", **params)
        return [(g["GroupId"], g) for g in page.get("SecurityGroups", [])], page.get("NextToken")
    return fs.cache.get(("ec2", region, "security-groups"), lambda: Listing(fetch))


def images(fs, region: str) -> Listing:
    """Images the account owns plus the images its instances use."""
    def fetch(token: Any):
        used = sorted({i.get("ImageId") for i in instances(fs, region).all().values() if i.get("ImageId")})
        found: dict[str, dict] = {}
        for page in fs.aws.pages("ec2", region, "DescribeImages", "NextToken", "NextToken", Owners=["self"],
                                 MaxResults=1000):
            found.update((im["ImageId"], im) for im in page.get("Images", []))
        missing = [i for i in used if i not in found]
        if missing:
            page = fs.aws.call("ec2", region, "DescribeImages", ImageIds=missing)
            found.update((im["ImageId"], im) for im in page.get("Images", []))
        return sorted(found.items()), None
    return fs.cache.get(("ec2", region, "images"), lambda: Listing(fetch))


def _listed(listing: Listing, name: str, path: str) -> dict:
    listing.ensure()
    known, value = listing.lookup(name)
    if value is None:
        raise enoent(path)
    return value


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


def fresh_instance(fs, region: str, iid: str, path: str) -> dict:
    """The instance as AWS has it now (bypassing the cache): decisions are made on this."""
    fs.cache.invalidate(("ec2", region, "instance", iid))
    return _describe_one(fs, region, iid, path)


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

    def check(self) -> None:
        self.region_ok()


class InstancesDir(RegionNode, Dir):
    def check(self) -> None:
        self.region_ok()

    def entries(self):
        return ((iid, DIR) for iid, _ in instances(self.fs, self.region_ok()).iter_from(0))

    def entries_from(self, offset: int):
        return ((iid, DIR) for iid, _ in instances(self.fs, self.region_ok()).iter_from(offset))


class InstanceNode(RegionNode):
    def inst(self) -> dict:
        return instance(self.fs, self.region_ok(), self.params["iid"], self.path)  # type: ignore[attr-defined]

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
            return InstanceType(self.fs, f"{self.path}/type", **self.params)
        raise FsError(errno.EACCES, f"{self.path}/{name}: files cannot be created here")


class InstanceInfo(InstanceNode, File):
    def content(self) -> bytes:
        return render_json(self.inst())


class InstanceState(InstanceNode, File):
    def content(self) -> bytes:
        return line(self.inst()["State"]["Name"])


class InstanceType(InstanceNode, File):
    writable = True
    line_value = True

    def content(self) -> bytes:
        return line(self.inst()["InstanceType"])

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        value = new.decode("utf-8", "replace").strip()
        if not _TYPE.match(value):
            raise InputError(errno.EINVAL, f"{shown(value)} is not an instance type (like t3.large)")
        region, iid = self.region_ok(), self.params["iid"]
        inst = fresh_instance(self.fs, region, iid, self.path)
        if inst["InstanceType"] == value:
            return []
        state = inst["State"]["Name"]
        if state in ("shutting-down", "terminated"):
            raise FsError(errno.EBUSY, f"the instance is {state}: its type can no longer change")
        if state != "stopped":
            raise FsError(errno.EBUSY, f"the instance is {state}; stop it to change its type "
                                       f"(echo stop > ctl)")
        return [Mutation("ec2", region, "ModifyInstanceAttribute",
                         {"InstanceId": iid, "InstanceType": {"Value": value}}, touched(region, iid),
                         f"set type of {iid} to {value}", repeatable=True)]


class InstanceCtl(InstanceNode, File):
    writable = True
    ctl = True

    def plan_line(self, text: str) -> list[Mutation]:
        verb = text.strip()
        if verb not in VERB_CALLS:
            raise InputError(errno.EINVAL, f"unknown verb {shown(verb)} (accepted: {', '.join(VERB_CALLS)})")
        region, iid = self.region_ok(), self.params["iid"]
        state = fresh_instance(self.fs, region, iid, self.path)["State"]["Name"]
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
        return TagFile(self.fs, f"{self.path}/{name}", **self.params, key=name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        tag = TagFile(self.fs, f"{self.path}/{name}", **self.params, key=name)
        tag.check()
        region, iid = self.region_ok(), self.params["iid"]
        return [Mutation("ec2", region, "DeleteTags", {"Resources": [iid], "Tags": [{"Key": tag.key()}]},
                         touched(region, iid), f"delete tag {tag.key()} of {iid}", repeatable=True)]


class TagFile(InstanceNode, File):
    writable = True
    line_value = True

    def key(self) -> str:
        key = unescape(self.params["key"])
        if key is None:
            raise enoent(self.path, "not a tag name")
        return key

    def check(self) -> None:
        if self.key() not in tags_of(self.inst()):
            raise enoent(self.path, "no such tag")

    def content(self) -> bytes:
        value = tags_of(self.inst()).get(self.key())
        if value is None:
            raise enoent(self.path, "no such tag")
        return line(value)

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        key = self.key()
        try:
            value = new.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(errno.EINVAL, "a tag value must be UTF-8 text") from None
        value = value[:-1] if value.endswith("\n") else value
        if "\n" in value:
            raise InputError(errno.EINVAL, "a tag value is one line")
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
        if base is not None and base == new:
            return []
        region, iid = self.region_ok(), self.params["iid"]
        return [Mutation("ec2", region, "CreateTags", {"Resources": [iid], "Tags": [{"Key": key, "Value": value}]},
                         touched(region, iid), f"tag {iid} {key} ({len(value)} characters)", repeatable=True)]


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
    def check(self) -> None:
        self.region_ok()

    def entries(self):
        return ((gid, DIR) for gid, _ in security_groups(self.fs, self.region_ok()).iter_from(0))


class GroupNode(RegionNode):
    def group(self) -> dict:
        return _listed(security_groups(self.fs, self.region_ok()), self.params["sg"], self.path)  # type: ignore

    def check(self) -> None:
        self.group()


class GroupDir(GroupNode, StaticDir):
    children = (("info.json", FILE),)


class GroupInfo(GroupNode, File):
    def content(self) -> bytes:
        return render_json(self.group())


class ImagesDir(RegionNode, Dir):
    def check(self) -> None:
        self.region_ok()

    def entries(self):
        return ((ami, DIR) for ami, _ in images(self.fs, self.region_ok()).iter_from(0))


class ImageNode(RegionNode):
    def image(self) -> dict:
        return _listed(images(self.fs, self.region_ok()), self.params["ami"], self.path)  # type: ignore

    def check(self) -> None:
        self.image()


class ImageDir(ImageNode, StaticDir):
    children = (("info.json", FILE),)


class ImageInfo(ImageNode, File):
    def content(self) -> bytes:
        return render_json(self.image())


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
