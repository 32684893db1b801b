"""``/`` and ``/.awsfs``: the mount's own status and its recent errors."""
from __future__ import annotations

from ..nodes import DIR, FILE, File, StaticDir, render_json


class Root(StaticDir):
    children = ((".awsfs", DIR), ("ec2", DIR), ("dynamo", DIR), ("elb", DIR))


class MetaDir(StaticDir):
    children = (("status", FILE), ("errors", FILE))


class Status(File):
    def content(self) -> bytes:
        return render_json(self.fs.status())


class Errors(File):
    def content(self) -> bytes:
        return "".join(line + "\n" for line in self.fs.errors.lines()).encode()


ROUTES = [
    ("/", Root),
    ("/.awsfs", MetaDir),
    ("/.awsfs/status", Status),
    ("/.awsfs/errors", Errors),
]
