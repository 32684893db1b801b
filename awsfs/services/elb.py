"""Classic ELB: one directory per load balancer; registered instances as symlinks into /ec2."""
from __future__ import annotations

import errno
import posixpath
import re
from typing import Any, Optional

from ..errors import FsError, InputError
from ..transaction import Mutation
from ..nodes import DIR, FILE, LINK, Dir, File, Link, Listing, StaticDir, enoent, render_json
from .common import RegionNode, RegionsDir


def balancers(fs, region: str) -> Listing:
    def fetch(token: Any):
        params: dict[str, Any] = {"PageSize": 400}
        if token:
            params["Marker"] = token
        page = fs.aws.call("elb", region, "DescribeLoadBalancers", **params)
        return ([(lb["LoadBalancerName"], lb) for lb in page.get("LoadBalancerDescriptions", [])],
                page.get("NextMarker"))
    return fs.cache.get(("elb", region, "balancers"), lambda: Listing(fetch))


class BalancersDir(RegionNode, Dir):
    def check(self) -> None:
        self.region_ok()

    def entries_from(self, offset: int):
        return ((n, DIR) for n, _ in balancers(self.fs, self.region_ok()).iter_from(offset))

    def entries(self):
        return self.entries_from(0)


class BalancerNode(RegionNode):
    def lb(self) -> dict:
        listing = balancers(self.fs, self.region_ok())
        listing.ensure()
        value = listing.get(self.params["name"])
        if value is None:
            raise enoent(self.path, "no such load balancer")  # type: ignore[attr-defined]
        return value

    def check(self) -> None:
        self.lb()

    def mtime_hint(self) -> Optional[float]:
        t = self.lb().get("CreatedTime")
        return t.timestamp() if t else None

    def members(self) -> list[str]:
        return [i["InstanceId"] for i in self.lb().get("Instances", [])]


class BalancerDir(BalancerNode, StaticDir):
    children = (("info.json", FILE), ("instances", DIR))


class BalancerInfo(BalancerNode, File):
    def content(self) -> bytes:
        return render_json(self.lb())


class MembersDir(BalancerNode, Dir):
    def entries(self):
        return [(iid, LINK) for iid in self.members()]

    def _mutation(self, op: str, iid: str, what: str) -> list[Mutation]:
        region, name = self.region_ok(), self.params["name"]
        return [Mutation("elb", region, op, {"LoadBalancerName": name, "Instances": [{"InstanceId": iid}]},
                         [("elb", region, "balancers")], f"{what} {iid} {'with' if 'reg' in what else 'from'} {name}",
                         repeatable=True)]  # registering a member (or deregistering a non-member) again changes nothing

    def plan_symlink(self, name: str, target: str) -> list[Mutation]:
        """``ln -s ../../../../ec2/<region>/instances/<id> <id>`` registers the instance."""
        if not re.fullmatch(r"i-[0-9a-f]+", name):
            raise InputError(errno.EINVAL, f"{name!r}: name the link after the instance id (i-...)")
        region = self.params["region"]
        want = f"/ec2/{region}/instances/{name}"
        resolved = posixpath.normpath(posixpath.join(self.path, target)) if not target.startswith("/") else target
        if resolved != want and not resolved.endswith(want):
            raise InputError(errno.EINVAL, f"link {name} must point at ../../../../ec2/{region}/instances/{name} "
                                           "(an instance of this load balancer's region)")
        try:
            self.fs.node(want)
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            raise InputError(errno.EINVAL, f"there is no instance {name} in {region}") from None
        if name in self.members():
            raise FsError(errno.EEXIST, f"{name} is already registered with {self.params['name']}")
        return self._mutation("RegisterInstancesWithLoadBalancer", name, "register")

    def plan_unlink(self, name: str) -> list[Mutation]:
        if name not in self.members():
            raise FsError(errno.ENOENT, f"{name} is not registered with {self.params['name']}")
        return self._mutation("DeregisterInstancesFromLoadBalancer", name, "deregister")


class MemberLink(BalancerNode, Link):
    def check(self) -> None:
        if self.params["iid"] not in self.members():
            raise enoent(self.path, "instance not registered with this load balancer")

    def target(self) -> str:
        return f"../../../../ec2/{self.params['region']}/instances/{self.params['iid']}"


ROUTES = [
    ("/elb", RegionsDir),
    ("/elb/{region}", BalancersDir),
    ("/elb/{region}/{name}", BalancerDir),
    ("/elb/{region}/{name}/info.json", BalancerInfo),
    ("/elb/{region}/{name}/instances", MembersDir),
    ("/elb/{region}/{name}/instances/{iid}", MemberLink),
]
