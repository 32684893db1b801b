"""Path patterns -> node factories: the whole tree in one table (see ``ROUTES``).

A pattern is a path whose ``{name}`` segments capture one path component. Patterns are tried
in order, so list a literal name (``.table.json``) before a capture at the same depth.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from .nodes import Node, enoent

if TYPE_CHECKING:  # pragma: no cover
    from .fs import Filesystem

__all__ = ["Router", "split"]

Factory = Callable[..., Optional[Node]]


def split(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


class Router:
    def __init__(self, routes: list[tuple[str, Factory]]) -> None:
        # bucket by depth so a lookup only tries patterns of the right length
        self._by_depth: dict[int, list[tuple[list[str], Factory]]] = {}
        self.patterns = [p for p, _ in routes]
        #: the top-level directories that hold AWS services (their first path component)
        self.services = {split(p)[0] for p in self.patterns if split(p) and not split(p)[0].startswith(".")}
        for pattern, factory in routes:
            parts = split(pattern)
            self._by_depth.setdefault(len(parts), []).append((parts, factory))

    def resolve(self, fs: "Filesystem", path: str) -> Node:
        """The node for ``path`` (not yet checked for existence), or ENOENT."""
        parts = split(path)
        for pattern, factory in self._by_depth.get(len(parts), []):
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts):
                if want.startswith("{"):
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                node = factory(fs, "/" + "/".join(parts), **params)
                if node is not None:
                    return node
        raise enoent(path)
