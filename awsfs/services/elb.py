"""Classic ELB: one directory per load balancer; registered instances as symlinks into /ec2."""
from __future__ import annotations

from typing import Any, Optional

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
        value = listing.index.get(self.params["name"])
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
