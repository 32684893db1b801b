"""``/`` and ``/.awsfs``: the mount's own status, its recent errors, and its ctl.

``/.awsfs/ctl`` takes ``refresh`` (forget everything cached: the next look asks AWS) or
``refresh PATH`` (a directory or file of the mount, absolute or relative to the mount's root:
what is cached for it and under it). ``touch`` of a directory refreshes it too.
"""
from __future__ import annotations

import errno

from ..errors import InputError
from ..nodes import DIR, FILE, File, StaticDir, render_json, shown


class Root(StaticDir):
    children = ((".awsfs", DIR), ("ec2", DIR), ("dynamo", DIR), ("elb", DIR))


class MetaDir(StaticDir):
    children = (("status", FILE), ("errors", FILE), ("ctl", FILE))


class Status(File):
    def content(self) -> bytes:
        return render_json(self.fs.status())


class Errors(File):
    def content(self) -> bytes:
        return "".join(line + "\n" for line in self.fs.errors.lines()).encode()


class MetaCtl(File):
    writable = True
    ctl = True

    def content(self) -> bytes:
        return b"verbs: refresh [PATH]\n"

    def plan_line(self, line: str):
        verb, _, arg = line.strip().partition(" ")
        if verb != "refresh":
            raise InputError(errno.EINVAL, f"unknown verb {shown(verb)} (accepted: refresh [PATH])")
        arg = arg.strip()
        self.fs.refresh(arg if arg.startswith("/") else "/" + arg)
        return []


ROUTES = [
    ("/", Root),
    ("/.awsfs", MetaDir),
    ("/.awsfs/status", Status),
    ("/.awsfs/errors", Errors),
    ("/.awsfs/ctl", MetaCtl),
]
