"""SSM Parameter Store: a parameter's name is its path, ``/app/db/host`` is ``/ssm/<region>/app/db/host``.

* Listings are GetParametersByPath(Recursive, WithDecryption), ten a page: names, values, types and
  versions at once (DescribeParameters has no values: it would add a GetParameters per ten). The
  region directory lists ``/``; a path below it is answered by any cached listing above it, else by
  the listing of its top-level directory (``/app``), so ``cat app/db/host`` never lists the region.
  A top-level name nobody listed costs one GetParameter.
* A value reads with a ``\\n`` added; a save drops one. A save is checked against what the writer
  read (ESTALE if it changed); SSM has no conditional put, so the answer's Version must follow the
  one checked, else a note says someone else wrote in between and where their value is: the
  history. New files are String parameters, put without Overwrite (EEXIST if taken meanwhile).
* SecureStrings read decrypted, mode 0600; ``mv`` keeps a parameter's type.
* Extended attributes ``user.aws.type``, ``version``, ``last_modified``, ``data_type`` (from the
  listing), ``tier``, ``description``, a SecureString's ``key_id`` (one DescribeParameters listing
  per region, asked when one is read); ``setfattr`` of type, tier, description or key_id puts
  the value again with it.
* ``NAME@history`` (not listed: ``@`` is in no parameter name): GetParameterHistory as JSON.
"""
from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from ..errors import FsError, InputError
from ..kit import Collection, Document, Hierarchy, NamesDir, RegionNode, RegionsDir
from ..nodes import File, Listing, enoent, is_tool_scratch, render_json
from ..transaction import Mutation

ROOT = "ssm"
HISTORY = "@history"
LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}  # bytes of a value, by tier
ATTRS = {"user.aws.type": "Type", "user.aws.version": "Version", "user.aws.last_modified": "LastModifiedDate",
         "user.aws.data_type": "DataType", "user.aws.tier": "Tier", "user.aws.description": "Description",
         "user.aws.key_id": "KeyId"}
DESCRIBED = ("Tier", "Description", "KeyId")  # what GetParametersByPath does not say
SETTABLE = {"user.aws.type": ("String", "StringList", "SecureString"),
            "user.aws.tier": ("Standard", "Advanced", "Intelligent-Tiering"), "user.aws.description": None,
            "user.aws.key_id": None}  # a SecureString's KMS key
_PART = re.compile(r"(?!\.\.?$)[A-Za-z0-9_.-]+")  # one level of a name


def valid(key: str) -> bool:
    return all(_PART.fullmatch(p) for p in key.split("/")) and not key.lower().startswith(("aws", "ssm"))


def ssm_name(key: str) -> str:
    """``app/db/host`` -> ``/app/db/host``; one level has no ``/`` (SSM takes ``/x`` for ``x``)."""
    return "/" + key if "/" in key else key


class ParamListing(Listing):
    def __init__(self, fetch: Any) -> None:
        super().__init__(fetch)
        self.tree = Hierarchy(self, lambda key: key.split("/"))


class Parameters(Collection):
    """The parameters below ``scope`` (a top-level directory; "": the region), with their values."""

    root, service, op, name = "ssm", "ssm", "GetParametersByPath", "@parameters"  # '@': no scope's name
    listing_class = ParamListing
    absent = "no such parameter"

    def __init__(self, ctx: Any, region: str, scope: str = "") -> None:
        super().__init__(ctx, region, *([scope] if scope else []))
        self.path, self.one = "/" + scope, None if scope else "@param"

    def list_params(self) -> dict[str, Any]:
        return {"Path": self.path, "Recursive": True, "WithDecryption": True, "MaxResults": 10}

    def name_of(self, p: dict) -> str:
        return p["Name"].lstrip("/")

    def get(self, group: Optional[str], key: str) -> Optional[dict]:
        return get_parameter(self.ctx, self.region, ssm_name(key))


class Described(Collection):
    root, service, op, name = "ssm", "ssm", "DescribeParameters", "@describe"

    def list_params(self) -> dict[str, Any]:
        return {"MaxResults": 50}

    def name_of(self, p: dict) -> str:
        return p["Name"].lstrip("/")


def get_parameter(ctx: Any, region: str, name: str) -> Optional[dict]:
    try:
        return ctx.aws.call("ssm", region, "GetParameter", Name=name, WithDecryption=True)["Parameter"]
    except FsError as e:
        if e.errno != errno.ENOENT:
            raise
        return None


def describe_one(ctx: Any, region: str, name: str) -> dict:
    """One parameter's DescribeParameters entry ({}: none; a filtered page may come back empty)."""
    flt = [{"Key": "Name", "Option": "Equals", "Values": [name]}]
    for page in ctx.aws.pages("ssm", region, "DescribeParameters", ParameterFilters=flt):
        for p in page["Parameters"]:
            return p
    return {}


def covering(ctx: Any, region: str, key: str, own: bool = False) -> Optional[ParamListing]:
    """A complete listing that knows ``key``: the region's if cached, else that of its top-level
    directory (when that is ``key`` itself, only with ``own``: it tells what is below ``key``, not
    whether ``key`` is a parameter); None: a get tells."""
    listing = Parameters(ctx, region).cached()
    if listing is None and (own or "/" in key):
        listing = Parameters(ctx, region, key.split("/")[0]).listing()
    if listing is not None:
        listing.ensure()
    return listing  # type: ignore[return-value]


def lookup(ctx: Any, region: str, key: str, path: str) -> dict:
    if not valid(key):
        raise enoent(path, "no such parameter")
    listing = covering(ctx, region, key)
    found = Parameters(ctx, region).lookup(key, path) if listing is None else listing.get(key)
    if found is None:
        raise enoent(path, "no such parameter")
    return found


def children(ctx: Any, region: str, key: str) -> Optional[dict]:
    """``name -> kind`` below ``key`` ("": the region); None when no parameter is named below it."""
    listing = covering(ctx, region, key, own=True) if key else Parameters(ctx, region).listing()
    return listing.tree.children(tuple(key.split("/")) if key else ())  # type: ignore[union-attr]


def written(ctx: Any, region: str, key: str, entry: Optional[dict]) -> None:
    """Write-through to the listings that hold ``key``; its history and descriptions are asked anew."""
    for coll in [Parameters(ctx, region)] + ([Parameters(ctx, region, key.split("/")[0])] if "/" in key else []):
        coll.put(key, entry) if entry is not None else coll.drop(key)
    ctx.cache.invalidate(("ssm", region, "@history", key), ("ssm", region, "@describe"))


class ParamDir(NamesDir):
    """The region, or a level of parameter names: a directory when names go on below it (it wins
    over a parameter of that name) or when there is no such parameter (mkdir made it here)."""
    absent = "no parameter is named below this"

    def names(self, parts: tuple[str, ...]) -> Optional[dict]:
        return children(self.ctx, self.region_ok(), "/".join(parts))

    def invalid(self, key: str) -> str:
        return "" if valid(key) else "a parameter name has only letters, digits and . _ - (and does not start with aws or ssm)"

    @classmethod
    def variant(cls, ctx: Any, path: str, region: str, name: str) -> Optional[File]:
        key = name[:-len(HISTORY)] if name.endswith(HISTORY) else name
        if region not in ctx.regions or not valid(key):
            raise enoent(path, "no such parameter")
        return History(ctx, path, region=region, name=key) if key != name else None

    @classmethod
    def is_document(cls, ctx: Any, region: str, key: str) -> bool:
        try:  # asked of the parameter itself: a top-level name costs a get, not the region's listing
            return children(ctx, region, key) is None and bool(lookup(ctx, region, key, key))
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return False

    def is_scratch(self, name: str) -> bool:
        """Editors' temp names (``.x.swp``, ``4913``, ``x~``) no parameter has here (``db.bak`` is
        a real name; a parameter ``.env`` is saved as one)."""
        return is_tool_scratch(name) and not ParamDir.is_document(self.ctx, self.region_ok(), self.key_of(name))

    def plan_unlink(self, name: str) -> list[Mutation]:
        if name.endswith(HISTORY):
            raise FsError(errno.EACCES, f"{self.path}/{name}: a parameter's history cannot be removed")
        return super().plan_unlink(name)


class Param(RegionNode, Document):
    what, service_name = "parameter", "SSM"

    def entry(self) -> dict:
        return lookup(self.ctx, self.region_ok(), self.params["name"], self.path)

    def found(self) -> Optional[dict]:
        try:
            return self.entry()
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return None

    def check(self) -> None:
        self.entry()

    def where(self) -> str:
        entry = self.found()
        return entry["Name"] if entry else ssm_name(self.params["name"])

    def content(self) -> bytes:
        return (self.entry()["Value"] + "\n").encode()

    def mtime_hint(self) -> Optional[float]:
        t = self.entry().get("LastModifiedDate")
        return t.timestamp() if t else None

    @property
    def mode_mask(self) -> int:  # type: ignore[override]
        kind = self.pending.get("Type") or ("SecureString" if self.private() else (self.found() or {}).get("Type"))
        return 0o600 if kind == "SecureString" else 0o777

    @property
    def max_bytes(self) -> int:  # type: ignore[override]
        """A value and its newline: 8 KB while the tier is unknown (parse knows it), 4 KB for a new one."""
        return 1 + LIMITS["Advanced" if self.found() else "Standard"]

    def described(self) -> dict:
        try:
            return Described(self.ctx, self.region_ok()).lookup(self.params["name"], self.path)
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return {}

    def xattrs(self) -> Mapping:
        return Attrs(self, self.entry())

    # -- the document: what the save skeleton (kit.Document.plan) works with ------------------------
    def parse(self, data: bytes) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(errno.EINVAL, "a parameter value is UTF-8 text") from None
        text = text[:-1] if text.endswith("\n") else text
        if not text:
            raise InputError(errno.EINVAL, "a parameter value cannot be empty; to delete the parameter, rm its file")
        size, entry = len(text.encode()), None
        if size > LIMITS["Standard"] and (entry := self.found()) is not None:
            tier = "Advanced" if len(entry["Value"].encode()) > LIMITS["Standard"] else \
                describe_one(self.ctx, self.region_ok(), entry["Name"]).get("Tier", "Standard")
        else:
            tier = "Standard"
        if size > LIMITS[tier]:
            hint = "; `setfattr -n user.aws.tier -v Advanced` on it allows 8 KB (advanced parameters are charged)"
            raise InputError(errno.EFBIG, f"{self.where()}: a {tier.lower()} parameter holds at most "
                             f"{LIMITS[tier]:,} bytes; this value has {size:,}{hint if entry and size <= 8192 else ''}")
        return text

    def same(self, a: Any, b: Any) -> bool:
        return (a["Value"] if isinstance(a, dict) else a) == (b["Value"] if isinstance(b, dict) else b)

    def fresh(self, value: Any) -> Optional[dict]:
        return get_parameter(self.ctx, self.region_ok(), self.where())

    def mutation(self, params: dict, what: str) -> Mutation:
        """A PutParameter; on success the listings show it, and an answer whose Version does not
        follow the one checked (``m.seen``) means someone else wrote in between: a note says so."""
        region, key, name = self.region_ok(), self.params["name"], params["Name"]

        def update(resp: dict) -> None:
            seen = getattr(m, "seen", None)
            if "Version" not in resp:  # an unknown outcome, verified: ask anew
                return self.ctx.cache.invalidate(("ssm", region))
            if seen and resp["Version"] != seen["Version"] + 1:
                self.ctx.errors.note(self.path, "save", f"{name} was also changed in SSM by someone else while this "
                                     f"save was sent: yours is version {resp['Version']}; theirs is in its history "
                                     f"({key.rsplit('/', 1)[-1]}{HISTORY})")
            written(self.ctx, region, key, {**(seen or {"Type": "String", "DataType": "text"}), **{
                k: params[k] for k in ("Name", "Value", "Type") if k in params},
                "Version": resp["Version"], "LastModifiedDate": datetime.now(timezone.utc)})
        m = Mutation("ssm", region, "PutParameter", params, [("ssm", region)], what, update=update)
        return m

    def put(self, value: str, base: str) -> Mutation:
        return self.mutation({"Name": self.where(), "Value": value, "Overwrite": True}, f"put parameter {self.where()}")

    def condition(self, m: Mutation, seen: Any) -> None:
        """SSM puts unconditionally: remember what was checked, and keep what an Overwrite without
        them would change (an advanced tier, a SecureString's own KMS key)."""
        m.seen = seen  # type: ignore[attr-defined]
        meta = describe_one(self.ctx, self.region_ok(), seen["Name"])
        if meta.get("Tier") in ("Advanced", "Intelligent-Tiering"):
            m.params.setdefault("Tier", meta["Tier"])
        if m.params.get("Type", seen.get("Type")) == "SecureString" and meta.get("KeyId"):
            m.params.setdefault("KeyId", meta["KeyId"])

    def pending_xattr(self, name: str, raw: bytes) -> bool:
        """``cp -a`` of a parameter (or ``setfattr`` before the first write): created with this
        type, tier, description or KMS key."""
        if name not in SETTABLE:
            return False
        self.pending[ATTRS[name]] = self.settable(name, raw)
        return True

    @property
    def pending(self) -> dict:
        got = self.__dict__.get("_pending")
        if got is None:
            got = self.__dict__["_pending"] = {}
        return got

    @staticmethod
    def settable(name: str, raw: bytes) -> str:
        accepted, text = SETTABLE[name], raw.decode("utf-8", "replace").strip()
        if accepted and text not in accepted:
            raise InputError(errno.EINVAL, f"{name} is one of {', '.join(accepted)}")
        return text

    def private(self) -> bool:
        """Created with no access for group and others (``umask 077``, ``install -m 600``): a
        new parameter is then a SecureString from its first version on."""
        return self.created_mode is not None and not self.created_mode & 0o077

    def create(self, value: str) -> Mutation:
        name, kind = self.where(), "SecureString" if self.private() else "String"
        params = {"Name": name, "Value": value, "Type": kind, **{k: v for k, v in self.pending.items() if v}}
        return self.mutation(params, f"create parameter {name}")

    def plan_delete(self) -> list[Mutation]:
        return [self.delete()]

    def delete(self) -> Mutation:
        region, key, name = self.region_ok(), self.params["name"], self.entry()["Name"]
        return Mutation("ssm", region, "DeleteParameter", {"Name": name}, [("ssm", region)],
                        f"delete parameter {name}", update=lambda resp: written(self.ctx, region, key, None),
                        verify=lambda: self.fresh(None) is None)

    def plan_setxattr(self, name: str, raw: bytes) -> list[Mutation]:
        if name not in SETTABLE:
            return super().plan_setxattr(name, raw)
        field, text = ATTRS[name], self.settable(name, raw)
        entry = self.entry()
        if field == "Tier" and text == "Standard" and self.described().get("Tier") == "Advanced":
            raise InputError(errno.EINVAL, f"{entry['Name']} is an advanced parameter: SSM never makes one standard "
                             "again (delete it and create it anew)")
        if (entry if field == "Type" else self.described()).get(field, "") == text:
            return []
        m = self.mutation({"Name": entry["Name"], "Overwrite": True, field: text}, f"set {field} of {entry['Name']}")

        def precheck() -> None:  # the value as it is now, put again
            seen = self.fresh(None)
            if seen is None:
                raise enoent(self.path, "the parameter was deleted in SSM meanwhile")
            m.params["Value"] = seen["Value"]
            self.condition(m, seen)
        m.precheck = precheck
        return [m]

    def plan_rename(self, dst: File) -> list[Mutation]:
        """``mv``: the value moves with its type (a SecureString stays one), then the old name goes."""
        if not isinstance(dst, Param) or dst.params["region"] != self.params["region"]:
            raise FsError(errno.EXDEV, "moving out of this region's parameters copies then deletes")
        src = self.fresh(None)  # as SSM has it now, not as the cache last saw it
        if src is None:
            raise enoent(self.path, "the parameter was deleted in SSM meanwhile")
        params = {"Name": dst.where(), "Value": src["Value"], "Type": src["Type"]}
        if dst.found() is not None:
            params["Overwrite"] = True
        put = dst.mutation(params, f"move parameter {src['Name']} to {dst.where()}")
        put.precheck = lambda: dst.condition(put, {**src, "Version": (dst.fresh(None) or {"Version": 0})["Version"]})
        return [put, self.delete()]


class Attrs(Mapping):
    """A parameter's metadata; DescribeParameters is asked only when what it holds is read."""

    def __init__(self, node: Param, entry: dict) -> None:
        self.node, self.entry = node, entry
        self.names = [n for n in ATTRS if n != "user.aws.key_id" or entry.get("Type") == "SecureString"]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> bytes:
        if name not in self.names:
            raise KeyError(name)
        value = (self.node.described() if ATTRS[name] in DESCRIBED else self.entry).get(ATTRS[name])
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).isoformat()
        return b"" if value is None else str(value).encode()


class History(RegionNode, File):
    """``NAME@history``: the versions SSM keeps, oldest first, values decrypted."""

    def param(self) -> Param:
        return Param(self.ctx, self.path[:-len(HISTORY)], **self.params)

    def check(self) -> None:
        self.param().check()

    def versions(self) -> list:
        region, name = self.region_ok(), self.param().where()
        return self.ctx.cache.get(("ssm", region, "@history", self.params["name"]), lambda: [
            v for page in self.aws.pages("ssm", region, "GetParameterHistory", Name=name, WithDecryption=True,
                                         MaxResults=50) for v in page["Parameters"]])

    def content(self) -> bytes:
        return render_json(self.versions())

    @property
    def mode_mask(self) -> int:  # type: ignore[override]
        return 0o600 if any(v.get("Type") == "SecureString" for v in self.versions()) else 0o777

    def mtime_hint(self) -> Optional[float]:
        return self.param().mtime_hint()


REQUIRED = {
    ("ssm", "GetParametersByPath"): ("Parameters",),
    ("ssm", "DescribeParameters"): ("Parameters",),
    ("ssm", "GetParameterHistory"): ("Parameters",),
    ("ssm", "GetParameter"): ("Parameter",),
    ("ssm", "PutParameter"): ("Version",),
}

ParamDir.document = Param

ROUTES = [
    ("/ssm", RegionsDir),
    ("/ssm/{region}", ParamDir),
    ("/ssm/{region}/{name...}", ParamDir.node),
]
