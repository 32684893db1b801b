"""``/`` and ``/.awsfs``: the mount's own status, its recent errors, and its ctl.

``/.awsfs/ctl`` takes ``refresh`` (forget everything cached: the next look asks AWS) or
``refresh PATH`` (a directory or file of the mount, absolute or relative to the mount's root:
what is cached for it and under it). ``touch`` of a directory refreshes it too.
"""
from __future__ import annotations

import errno
from typing import Any

from ..errors import InputError
from ..nodes import DIR, FILE, Dir, File, StaticDir, render_json, shown


class Root(Dir):
    def entries(self):
        from . import roots  # the list of services
        return [(".awsfs", DIR)] + [(r, DIR) for r in roots()]


class MetaDir(StaticDir):
    children = (("status", FILE), ("errors", FILE), ("ctl", FILE))


def status(ctx) -> dict[str, Any]:
    cache, aws = ctx.cache, ctx.aws
    return {
        "account": ctx.account(),
        "endpoint": aws.endpoint_url or "(AWS default)",
        "regions": ctx.regions,
        "read_only": ctx.read_only,
        **{name: fact() for name, fact in ctx.facts.items()},
        "cache": {"ttl_seconds": cache.ttl, "entries": len(cache), "hits": cache.hits,
                  "misses": cache.misses, "oldest_seconds": cache.oldest()},
        "aws_calls": dict(sorted(aws.calls.items())),
        "aws_calls_total": aws.total_calls(),
        "aws_failures": dict(sorted(aws.failures.items())),
        "errors": len(ctx.errors.lines()),
    }


class Status(File):
    volatile = True

    def content(self) -> bytes:
        return render_json(status(self.ctx))

    def reader(self) -> File:
        """One rendering per open: a reader reading it in pieces never gets halves of two (the
        counts change all the time; the JSON would not parse)."""
        return Rendered(self.ctx, self.path, data=self.content())


class Rendered(File):
    """What a file held when it was opened."""
    volatile = True

    def content(self) -> bytes:
        return self.params["data"]


class Errors(File):
    volatile = True

    def content(self) -> bytes:
        return "".join(line + "\n" for line in self.ctx.errors.lines()).encode()


class MetaCtl(File):
    writable = True
    ctl = True
    volatile = True

    def content(self) -> bytes:
        return b"verbs: refresh [PATH]\n"

    def plan_line(self, line: str):
        verb, _, arg = line.strip().partition(" ")
        if verb != "refresh":
            raise InputError(errno.EINVAL, f"unknown verb {shown(verb)} (accepted: refresh [PATH])")
        arg = arg.strip()
        self.ctx.refresh(arg if arg.startswith("/") else "/" + arg)
        return []


ROUTES = [
    ("/", Root),
    ("/.awsfs", MetaDir),
    ("/.awsfs/status", Status),
    ("/.awsfs/errors", Errors),
    ("/.awsfs/ctl", MetaCtl),
]
