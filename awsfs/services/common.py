"""Pieces shared by the service modules: region directories and the region check."""
from __future__ import annotations

from ..nodes import DIR, Dir, enoent


class RegionsDir(Dir):
    """``/<service>``: one directory per region this mount serves."""

    def entries(self):
        return [(r, DIR) for r in self.fs.regions]


class RegionNode:
    """Mixin: ``check`` fails for a region the mount does not serve."""

    params: dict

    def region_ok(self) -> str:
        region = self.params["region"]
        if region not in self.fs.regions:  # type: ignore[attr-defined]
            raise enoent(self.path, "region not served by this mount")  # type: ignore[attr-defined]
        return region
