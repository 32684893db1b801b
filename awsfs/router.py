"""Path patterns -> node factories: the whole tree in one table (each service's ``ROUTES``).

A pattern is a path whose ``{name}`` segments capture one path component and whose last segment
may be ``{name...}``: the rest of the path, one component or more, joined by ``/`` (SSM parameter
names, S3 keys and log group names hold ``/``). Patterns of a fixed length are tried first, in
order, then rest-of-path patterns, in order: list a literal name (``.table.json``) before a
capture at the same depth. A factory may return None to let the next pattern try.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from .nodes import Node, enoent

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Router", "split"]

Factory = Callable[..., Optional[Node]]


def split(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _match(pattern: list[str], parts: list[str], rest: bool) -> Optional[dict[str, str]]:
    params: dict[str, str] = {}
    fixed = pattern[:-1] if rest else pattern
    for want, got in zip(fixed, parts):
        if want.startswith("{"):
            params[want[1:-1]] = got
        elif want != got:
            return None
    if rest:
        params[pattern[-1][1:-4]] = "/".join(parts[len(fixed):])
    return params


class Router:
    def __init__(self, routes: list[tuple[str, Factory]]) -> None:
        # bucket by depth so a lookup only tries patterns of the right length
        self._by_depth: dict[int, list[tuple[list[str], Factory]]] = {}
        self._rest: list[tuple[list[str], Factory]] = []
        self.patterns = [p for p, _ in routes]
        for pattern, factory in routes:
            parts = split(pattern)
            if parts and parts[-1].endswith("...}"):
                self._rest.append((parts, factory))
            else:
                self._by_depth.setdefault(len(parts), []).append((parts, factory))

    def resolve(self, ctx: "Context", path: str) -> Node:
        """The node for ``path`` (not yet checked for existence), or ENOENT."""
        parts = split(path)
        where = "/" + "/".join(parts)
        for pattern, factory in self._by_depth.get(len(parts), []):
            params = _match(pattern, parts, rest=False)
            if params is not None:
                node = factory(ctx, where, **params)
                if node is not None:
                    return node
        for pattern, factory in self._rest:
            if len(parts) >= len(pattern):
                params = _match(pattern, parts, rest=True)
                if params is not None:
                    node = factory(ctx, where, **params)
                    if node is not None:
                        return node
        raise enoent(path)
