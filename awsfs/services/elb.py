"""Classic ELB: one directory per load balancer; registered instances as symlinks into /ec2."""
from __future__ import annotations

import errno
import posixpath
import re
from typing import Any, Optional

from ..errors import FsError, InputError
from ..transaction import Mutation
from ..kit import Collection, RegionNode, RegionsDir
from ..nodes import DIR, FILE, LINK, Dir, File, Link, StaticDir, enoent, render_json


class Balancers(Collection):
    root, service, op, name = "elb", "elb", "DescribeLoadBalancers", "balancers"
    absent = "no such load balancer"

    def list_params(self) -> dict[str, Any]:
        return {"PageSize": 400}

    def name_of(self, lb: dict) -> str:
        return lb["LoadBalancerName"]


class BalancersDir(RegionNode, Dir):
    def entries_from(self, offset: int):
        return ((n, DIR) for n, _ in Balancers(self.ctx, self.region_ok()).listing().iter_from(offset))

    def entries(self):
        return self.entries_from(0)


class BalancerNode(RegionNode):
    def lb(self) -> dict:
        return Balancers(self.ctx, self.region_ok()).lookup(self.params["name"], self.path)  # type: ignore

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
            self.ctx.lookup(want)
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


ROOT = "elb"
REQUIRED = {("elb", "DescribeLoadBalancers"): ("LoadBalancerDescriptions",)}

ROUTES = [
    ("/elb", RegionsDir),
    ("/elb/{region}", BalancersDir),
    ("/elb/{region}/{name}", BalancerDir),
    ("/elb/{region}/{name}/info.json", BalancerInfo),
    ("/elb/{region}/{name}/instances", MembersDir),
    ("/elb/{region}/{name}/instances/{iid}", MemberLink),
]
