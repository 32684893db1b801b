"""Every AWS service of the tree, in one list: adding a service is one module plus one line here.

A service module declares:

* ``ROOT`` — its top-level directory (``"ec2"``);
* ``ROUTES`` — its path patterns and node factories (see :mod:`awsfs.router`);
* ``REGIONAL`` — whether the component after ``ROOT`` is a region (default True);
* optionally ``REQUIRED`` — ``{(client, operation): fields}`` a whole answer always has;
* optionally ``CLIENT_HOOKS`` — ``{client: {botocore event: handler}}`` for its clients;
* optionally ``cache_prefix(parts)`` — the cache keys of a path (``/.awsfs/ctl refresh PATH``),
  ``parts[:2]`` by default (``(service, region)``).
"""
from __future__ import annotations

from typing import Any, Callable

from . import dynamo, ec2, elb, iam, logs, meta, s3, secrets, ssm

SERVICES = [ec2, dynamo, elb, ssm, secrets, s3, logs, iam]


def routes() -> list:
    return meta.ROUTES + [r for svc in SERVICES for r in svc.ROUTES]


def roots() -> list[str]:
    return [svc.ROOT for svc in SERVICES]


def by_root(root: str) -> Any:
    return next((svc for svc in SERVICES if svc.ROOT == root), None)


def client_hooks(client: str) -> dict[str, Callable[..., None]]:
    hooks: dict[str, Callable[..., None]] = {}
    for svc in SERVICES:
        hooks.update(getattr(svc, "CLIENT_HOOKS", {}).get(client, {}))
    return hooks


def required_fields() -> dict[tuple[str, str], tuple[str, ...]]:
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for svc in SERVICES:
        out.update(getattr(svc, "REQUIRED", {}))
    return out


def cache_prefix(parts: list[str]) -> tuple:
    """The cache keys that hold what ``parts`` (a path of the mount, split) shows."""
    svc = by_root(parts[0])
    hook = getattr(svc, "cache_prefix", None)
    if hook is not None:
        return hook(parts)
    return tuple(parts[:2] if getattr(svc, "REGIONAL", True) else parts[:1])
