"""IAM (global: calls go to us-east-1): users, roles, groups, their access keys, and managed policies
(the account's own, and AWS's behind a link).

```
/iam/users/<name>/      info.json  policies/<inline>.json  groups/<group>@  attached/<policy>@
                        access-keys/<key id>.json
/iam/roles/<name>/      info.json  trust.json  policies/<inline>.json  attached/<policy>@
/iam/groups/<name>/     info.json  policies/<inline>.json  attached/<policy>@  members/<user>@
/iam/policies/<name>/   info.json  document.json  versions/<v>.json
/iam/aws-policies@      -> .aws-policies/<name>/  info.json  document.json  versions/<v>.json  (read-only)
```

* Listings are IAM's paginated calls, 1,000 a page (ListUsers, ListRoles, ListGroups, ListPolicies
  with Scope=Local, List{User,Role,Group}Policies, ListAttached...Policies, ListGroupsForUser,
  GetGroup's Users for ``members/``, ListPolicyVersions). ``info.json`` is the listed entry,
  ``trust.json`` the listed role's AssumeRolePolicyDocument: no call per thing. An inline policy is
  one Get{User,Role,Group}Policy, ``document.json`` one GetPolicyVersion of the default version;
  ``versions/<v>.json`` are read-only.
* Reading many (``grep -r /iam``, ``ls -R``, ``find``, a script): a process that lists ``/iam/<kind>``,
  or has made ten calls for one kind's things one by one (``cat /iam/users/*/policies/*.json``), gets
  the rest from GetAccountAuthorizationDetails with that kind's Filter (User, Role, Group,
  LocalManagedPolicy; 1,000 a page): every principal's inline policies with their documents, its
  attached policies and groups, every policy's versions with their documents. A group's members
  come from the users' details (each user's GroupList), for a group the groups' details know: a
  process reading many groups asks for the users' details (if it has not) rather than a GetGroup
  per group. So ``grep -r /iam`` costs the four listings, one details page per kind per 1,000
  things, and (no batch exists for them) one ListAccessKeys per user and one GetAccessKeyLastUsed
  per key; ``ls`` and ``cat`` of one thing by another process cost what they did. The details are
  kept like any listing (the cache's TTL) and dropped by every change made here but a membership
  (written through to the user's GroupList); a thing they do not know (made since) is asked for
  alone; when they fail, the process reads one by one (and does not try again for a while).
* Sizes are honest: every file is rendered whole for ``stat`` (the documents and metadata are
  small), so ``ls -l`` shows the bytes ``cat`` reads; that is why ``ls -l policies/`` reads its
  documents (one call each, or the details) and ``ls -l access-keys/`` asks each key's last use.
  A link's size is its target's length; a directory's is 0. Modes: 0644 for what a save changes
  (documents, access keys), 0444 for the rest (``info.json``, ``versions/``, AWS's policies).
* Documents (URL-encoded JSON from IAM) read as JSON, 2-space indent, AWS's key order, a newline.
  A save is parsed first (EINVAL with line and column; it must be an object with a "Statement");
  unchanged content makes no call; else it is checked against what the writer read (ESTALE when it
  changed since): the document itself (read again) for inline and trust policies, the default
  version for ``document.json``. Then Put{...}Policy, UpdateAssumeRolePolicy or CreatePolicyVersion
  (SetAsDefault). A new ``policies/<name>.json`` is a new inline policy (EEXIST if made meanwhile;
  other names there, editors' files, stay in the mount); ``rm`` is Delete{...}Policy.
  MalformedPolicyDocument is EINVAL, LimitExceeded ENOSPC.
* Five versions: a save at IAM's limit first deletes the policy's oldest non-default version
  (DeletePolicyVersion) and says so in ``/.awsfs/errors``. CreatePolicyVersion has no condition: a
  new version that does not follow the last one listed means someone else saved meanwhile (a note).
* ``groups/``, ``members/`` and ``attached/`` are symlinks into ``/iam/groups``, ``/iam/users``,
  ``/iam/policies`` and, for a policy AWS manages (its ARN says so: ``arn:aws:iam::aws:policy/...``),
  ``/iam/aws-policies``. ``ln -s ../../../policies/<p> <p>``, ``ln -s ../../../aws-policies/<p> <p>``,
  ``ln -s ../../../groups/<g> <g>`` (in a user's ``groups/``) or ``ln -s ../../../users/<u> <u>`` (in a
  group's ``members/``) is Attach{...}Policy or AddUserToGroup, nothing when already there (another
  target or name is EINVAL, a policy, group or user not listed ENOENT); ``rm`` is Detach{...}Policy or
  RemoveUserFromGroup. Written through: the links, a policy's AttachmentCount, and a membership on
  both sides (the user's ``groups/``, the group's ``members/``, the user's GroupList in the details):
  the next ``ls`` of either shows it without asking IAM again.
* AWS managed policies (ListPolicies Scope=AWS: some 1,300 in AWS, 1,582 in moto, two pages) are in
  ``/iam/.aws-policies``, which ``/iam`` does not list; ``/iam/aws-policies`` is a symlink to it. So
  ``ls /iam/aws-policies/`` and ``cat /iam/aws-policies/ReadOnlyAccess/document.json`` read them on
  demand, while the tools that walk a tree without following the symlinks they meet (``grep -r``,
  ``find``, ``du``, ``ls -R``, ``tree``, ``rsync -r``, ``cp -r``) never list or read them: ``grep -r
  /iam`` reads the account's IAM, not AWS's catalogue (``grep -R`` and ``find -L`` follow the link and
  read it all, as asked). An AWS policy's name is its file name; its path (``/service-role/``) is
  in ``info.json`` (IAM's names are unique whatever the path). Read-only (0444): every change there
  (a save, a new file, ``rm``) is EROFS, "managed by AWS and read-only here".
* ``access-keys/<id>.json``: a key's UserName, AccessKeyId, Status and CreateDate (ListAccessKeys) and
  its ``AccessKeyLastUsed`` (date, service, region: one GetAccessKeyLastUsed per key, kept), as
  IAM says them ("N/A" for a key never used). Never a secret: IAM lists none, and only those fields
  are kept whatever an answer holds. A save changes ``Status`` only (UpdateAccessKey): the JSON with
  another Status (any other field changed is EINVAL; ``AccessKeyLastUsed`` is ignored), or just the
  word (``echo Inactive > <id>.json``); each save asks IAM for the Status now (one ListAccessKeys)
  and changes it only when it differs. ``rm`` is DeleteAccessKey of an *Inactive* key only (it
  cannot be undone; IAM is asked first): an Active one is EPERM, "make it Inactive first". No key
  can be made here (its secret would have to be shown in a file): creating a file is EPERM.
"""
from __future__ import annotations

import collections
import errno
import json
import logging
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Optional
from urllib.parse import unquote

from .. import kit
from ..cache import Memo
from ..errors import FsError, InputError, NotNow
from ..kit import Collection, Document, entries_of
from ..nodes import DIR, FILE, LINK, Dir, File, Link, Listing, StaticDir, enoent, is_editor_scratch, render_json
from ..nodes import shown as quoted
from ..transaction import Mutation

log = logging.getLogger("awsfs.iam")

ROOT, REGIONAL, R = "iam", False, "us-east-1"
AWS = ".aws-policies"  # the directory of the policies AWS manages (``/iam/aws-policies`` links to it)
KINDS = {"users": ("User", "ListUsers"), "roles": ("Role", "ListRoles"), "groups": ("Group", "ListGroups"),
         "policies": ("Policy", "ListPolicies"), AWS: ("Policy", "ListPolicies")}  # -> (IAM's noun, its listing)
PRINCIPALS = ("users", "roles", "groups")
POLICIES = ("policies", AWS)
CHILDREN = {"users": ("info.json", "policies", "groups", "attached", "access-keys"),
            "roles": ("info.json", "trust.json", "policies", "attached"),
            "groups": ("info.json", "policies", "attached", "members"),
            "policies": ("info.json", "document.json", "versions"),
            AWS: ("info.json", "document.json", "versions")}


class Links(NamedTuple):
    """What a directory of links lists ({} is the owner's noun), and what ``ln -s`` and ``rm`` there call."""
    listing: str
    field: str  # an entry's name
    to: tuple   # the directories linked into (the kinds: ``aws-policies`` is AWS's)
    add: str
    remove: str
    ref: str    # the call's parameter naming the target (and the listed entry's field holding it)
    reverse: str = ""  # the target's directory of links back (a membership is listed on both sides)


LINKS = {"attached": Links("ListAttached{}Policies", "PolicyName", ("policies", "aws-policies"), "Attach{}Policy",
                           "Detach{}Policy", "PolicyArn"),
         "groups": Links("ListGroupsForUser", "GroupName", ("groups",), "AddUserToGroup", "RemoveUserFromGroup",
                         "GroupName", reverse="members"),
         "members": Links("GetGroup", "UserName", ("users",), "AddUserToGroup", "RemoveUserFromGroup", "UserName",
                          reverse="groups")}


def kind_of(linked_to: str) -> str:
    """The kind a link's directory (``policies``, ``aws-policies``, ``groups``) is the directory of."""
    return AWS if linked_to == "aws-policies" else linked_to


def policy_dir(arn: str) -> str:
    """Where a policy is shown: ``aws-policies`` for AWS's own (``arn:aws:iam::aws:policy/...``), else ``policies``."""
    return "aws-policies" if arn.split(":")[4:5] == ["aws"] else "policies"


NAME = re.compile(r"[\w+=,.@-]{1,128}")  # an inline policy's name
MAX_VERSIONS = 5
FULL = {"LimitExceeded": errno.ENOSPC}
KEY_ID = re.compile(r"\w{16,128}")  # an access key's id (AKIA...): a name, not a secret
KEY_FIELDS = ("UserName", "AccessKeyId", "Status", "CreateDate")  # all a key file shows of a listed key
USED_FIELDS = ("LastUsedDate", "ServiceName", "Region")            # and of GetAccessKeyLastUsed
STATUSES = ("Active", "Inactive")
NO_NEW_KEYS = ("awsfs does not create access keys: a new key's secret would have to be shown in a file "
               "(`aws iam create-access-key` prints it once)")


def as_doc(raw: Any) -> dict:
    """A policy document, as botocore decodes it or as IAM sends it (URL-encoded JSON), as plain dicts."""
    return json.loads(unquote(raw) if isinstance(raw, str) else json.dumps(raw))


def render(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def unless_absent(load: Callable[[], Any]) -> Any:
    try:
        return load()
    except FsError as e:
        if e.errno != errno.ENOENT:
            raise
        return None


class Listed(Collection):
    """One IAM listing: ``op`` with ``params``, its entries named by ``field`` (None: they are names)."""
    root, service = ROOT, "iam"
    absent = "no such entry in IAM"

    def __init__(self, ctx: Any, op: str, field: Optional[str], *scope: str, **params: Any) -> None:
        super().__init__(ctx, R, *scope)
        self.op, self.field, self.params = op, field, params

    def list_params(self) -> dict[str, Any]:
        return {**self.params, "MaxItems": 1000}

    def name_of(self, e: Any) -> str:
        return e if self.field is None else e[self.field]


# -- reading many of a kind: GetAccountAuthorizationDetails ------------------------------------------

DETAILS = {  # kind -> (the Filter, where a page has them, an entry's name, its inline policies)
    "users": ("User", "UserDetailList", "UserName", "UserPolicyList"),
    "roles": ("Role", "RoleDetailList", "RoleName", "RolePolicyList"),
    "groups": ("Group", "GroupDetailList", "GroupName", "GroupPolicyList"),
    "policies": ("LocalManagedPolicy", "Policies", "PolicyName", ""),
}
WALK_SECONDS = 30.0  # a process that listed /iam/<kind> (or read there through the details) walks it this long
ONE_BY_ONE = 10      # a process that made this many calls for one kind's things, one by one, is reading many
_readers: "collections.OrderedDict[tuple, list]" = collections.OrderedDict()  # (mount, pid, kind) -> [when, calls]
_readers_lock = threading.Lock()
_failed = Memo(1000)  # (mount, pid, kind) -> when the details failed for that process (not asked again a while)


def _reader(ctx: Any, kind: str) -> Optional[tuple]:
    pid = ctx.caller_pid()
    return (id(ctx), pid, kind) if pid > 0 and kind in DETAILS else None


def walked(ctx: Any, kind: str) -> None:
    """The calling process lists ``/iam/<kind>`` (``ls -R``, ``grep -r``, ``find``), or has just read there
    through the details: it is walking the kind."""
    who = _reader(ctx, kind)
    if who is not None:
        with _readers_lock:
            _readers[who] = [time.monotonic(), ONE_BY_ONE]
            _readers.move_to_end(who)
            while len(_readers) > 1000:
                _readers.popitem(last=False)


def one_by_one(ctx: Any, kind: str) -> None:
    """The calling process had a thing of ``kind`` listed or read alone (a call of its own)."""
    who = _reader(ctx, kind)
    if who is not None:
        with _readers_lock:
            now, seen = time.monotonic(), _readers.get(who)
            if seen is None or now - seen[0] > WALK_SECONDS:
                seen = _readers[who] = [now, 0]
            seen[1] += 1
            while len(_readers) > 1000:
                _readers.popitem(last=False)


def reading_many(ctx: Any, kind: str) -> bool:
    who = _reader(ctx, kind)
    if who is None:
        return False
    with _readers_lock:
        seen = _readers.get(who)
    return bool(seen and time.monotonic() - seen[0] <= WALK_SECONDS and seen[1] >= ONE_BY_ONE) and \
        not failed_lately(ctx, kind)


def failed_lately(ctx: Any, kind: str) -> bool:
    """Whether the details of ``kind`` failed for the calling process a moment ago (not asked again yet)."""
    failed = _failed.get(_reader(ctx, kind), None)
    return bool(failed and time.monotonic() - failed < kit.PREFETCH_PAUSE)


class Details(Listed):
    """GetAccountAuthorizationDetails with the Filter of one kind, 1,000 a page: every user's (role's,
    group's) inline policies with their documents, attached policies and groups, or every policy of
    the account's own with all its versions and their documents."""
    name = ":details"  # (':' is in no IAM name: no thing's cache keys start with it)

    def __init__(self, ctx: Any, kind: str) -> None:
        flt, self.at, field, _ = DETAILS[kind]
        super().__init__(ctx, "GetAccountAuthorizationDetails", field, kind, Filter=[flt])

    def entries(self, page: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(self.name_of(e), e) for e in page.get(self.at, [])]

    def name_of(self, e: Any) -> str:
        return e.get(self.field) or e["Arn"].rpartition("/")[2]  # (moto's Policies have no PolicyName)


def account_details(ctx: Any, kind: str, reader: str = "") -> Optional[Listing]:
    """The details of ``kind``, whole, when they are at hand: cached, or fetched (a few pages) for a
    process that reads many things of the kind (of ``reader``'s kind when given: a group's members
    are in the users' details). None: ask each thing's own calls (also when the details fail)."""
    reader = reader or kind
    if kind not in DETAILS:
        return None
    whole = Details(ctx, kind)
    listing = whole.cached()
    if listing is None or not listing.complete:
        if not reading_many(ctx, reader) or failed_lately(ctx, kind):
            return None
        try:
            listing = whole.search(None)
        except NotNow:
            return None  # (attributes sent with a listing: no call now)
        except FsError as e:
            _failed.put(_reader(ctx, kind), None, time.monotonic())
            log.info("account details failed; reading one by one", extra={
                "event": "prefetch", "path": f"/iam/{kind}", "errno": errno.errorcode.get(e.errno or 0, ""),
                "reason": e.reason})
            return None
    if reading_many(ctx, reader):
        walked(ctx, reader)  # (a long walk goes on being one)
    return listing


def details(ctx: Any, kind: str, name: str) -> Optional[dict]:
    """What GetAccountAuthorizationDetails says of ``name`` (a user, role, group, or policy of the
    account's own), when the details are at hand (:func:`account_details`). None: ask the thing's own
    calls (also when the details fail, or do not know ``name``: made since)."""
    listing = account_details(ctx, kind)
    return None if listing is None else listing.get(name)


class Whole(Listing):
    """A listing known whole at once (one thing's part of the details)."""

    def __init__(self, entries: dict[str, Any]) -> None:
        super().__init__(lambda token: ([], None))
        self.names, self.index, self.complete = list(entries), dict(entries), True


_views = Memo(20_000)  # (mount, kind, name, what) -> the Whole made from that details entry (its token)


def view(ctx: Any, kind: str, name: str, what: str, make: Callable[[dict], dict]) -> Optional[Listing]:
    """``what`` of ``name`` (its inline policies, attached policies, groups, versions) from the
    details, one listing object while the details entry is the same; None without details."""
    got = details(ctx, kind, name)
    if got is None:
        return None
    key = (id(ctx), kind, name, what)
    kept = _views.get(key, got)
    if kept is None:
        kept = _views.put(key, got, Whole(make(got)))
    return kept


def forget_details(ctx: Any, *kinds: str) -> list[tuple]:
    """After a change: the details of ``kinds`` are stale (dropped; their keys, for a Mutation)."""
    keys = [Details(ctx, k).key() for k in kinds if k in DETAILS]
    if keys:
        ctx.cache.invalidate(*keys)
    return keys


MEMBER_FIELDS = ("Path", "UserName", "UserId", "Arn", "CreateDate")  # a member as GetGroup lists it


def members(ctx: Any, group: str) -> Optional[Listing]:
    """A group's members from the users' details (each user's GroupList: the groups' details do not
    name members): for a process reading many groups, a page per 1,000 users for every group's
    ``members/``, not one GetGroup each. None (GetGroup is asked): no details at hand, or a group
    the groups' details do not know (made since)."""
    if details(ctx, "groups", group) is None:
        return None
    users = account_details(ctx, "users", reader="groups")
    if users is None:
        return None
    token = (users, users.version)  # (a membership written through changes the version)
    index = _views.get((id(ctx), "users", ":members"), token)
    if index is None:
        index = {}
        for name, user in users.all().items():
            for g in user.get("GroupList") or []:
                index.setdefault(g, {})[name] = {k: user[k] for k in MEMBER_FIELDS if k in user}
        _views.put((id(ctx), "users", ":members"), token, index)
    key = (id(ctx), "groups", group, "members")
    kept = _views.get(key, token)
    if kept is None:
        kept = _views.put(key, token, Whole(index.get(group, {})))
    return kept


def joined(ctx: Any, user: str, group: str, by: int) -> None:
    """A membership made (``by`` +1) or ended (-1) here, written through to the users' details (the
    user's GroupList); dropped when they do not hold the user."""
    listing = Details(ctx, "users").cached()
    entry = listing and listing.get(user)
    if not entry:
        forget_details(ctx, "users")
        return
    groups = [g for g in entry.get("GroupList") or [] if g != group]
    listing.put(user, {**entry, "GroupList": groups + [group] if by > 0 else groups})


class OwnCalls(Listed):
    """One thing's listing (its inline policies, links or versions), answered by the kind's details
    when they are at hand, else by its own List call (counted: a process making many of them is
    reading many things of the kind)."""
    owner_kind = ""

    def from_details(self) -> Optional[Listing]:
        return None

    def known(self, group: Optional[str]) -> Optional[Listing]:
        got = self.from_details()
        return got if got is not None else super().known(group)

    def listing(self) -> Listing:
        got = self.from_details()
        return got if got is not None else super().listing()

    def fetch_page(self, token: Any) -> tuple[list[tuple[str, Any]], Any]:
        got = super().fetch_page(token)
        one_by_one(self.ctx, self.owner_kind)
        return got


class Inline(OwnCalls):
    """A principal's inline policies: their names listed, each document one Get{...}Policy (kept);
    or all of them from the kind's details."""
    one = "@doc"

    def __init__(self, ctx: Any, noun: str, kind: str, name: str) -> None:
        super().__init__(ctx, f"List{noun}Policies", None, kind, name, "policies", **{f"{noun}Name": name})
        self.getter, self.owner_kind, self.owner = f"Get{noun}Policy", kind, name

    def from_details(self) -> Optional[Listing]:
        return view(self.ctx, self.owner_kind, self.owner, "inline", lambda d: {
            p["PolicyName"]: as_doc(p["PolicyDocument"]) for p in d.get(DETAILS[self.owner_kind][3]) or []})

    def known(self, group: Optional[str]) -> Optional[Listing]:
        return self.from_details()  # (the listing has names, not documents: a document is asked for, and kept)

    def get(self, group: Optional[str], name: str) -> Optional[dict]:
        got = unless_absent(lambda: self.ctx.aws.call("iam", R, self.getter, **self.params, PolicyName=name))
        one_by_one(self.ctx, self.owner_kind)
        return got and as_doc(got["PolicyDocument"])


class LinkListing(OwnCalls):
    """A principal's attached policies (ListAttached{...}Policies), a user's groups (ListGroupsForUser) or a
    group's members (GetGroup)."""

    def __init__(self, ctx: Any, sub: str, noun: str, kind: str, name: str) -> None:
        spec = LINKS[sub]
        super().__init__(ctx, spec.listing.format(noun), spec.field, kind, name, sub, **{f"{noun}Name": name})
        self.sub, self.owner_kind, self.owner = sub, kind, name

    def from_details(self) -> Optional[Listing]:
        if self.sub == "members":
            return members(self.ctx, self.owner)
        if self.sub == "groups":
            return view(self.ctx, "users", self.owner, "groups", lambda d: {
                g: {"GroupName": g} for g in d.get("GroupList") or []})
        return view(self.ctx, self.owner_kind, self.owner, "attached", lambda d: {
            p["PolicyName"]: {"PolicyName": p["PolicyName"], "PolicyArn": p["PolicyArn"]}
            for p in d.get("AttachedManagedPolicies") or []})


class VersionListing(OwnCalls):
    """A managed policy's versions (ListPolicyVersions); for the account's own, also from the details."""

    def __init__(self, ctx: Any, kind: str, name: str, arn: str) -> None:
        super().__init__(ctx, "ListPolicyVersions", "VersionId", kind, name, "versions", PolicyArn=arn)
        self.owner_kind, self.owner, self.arn = kind, name, arn

    def from_details(self) -> Optional[Listing]:
        got = details(self.ctx, self.owner_kind, self.owner)
        if got is None or got.get("Arn") != self.arn:
            return None
        return view(self.ctx, self.owner_kind, self.owner, "versions", lambda d: {
            v["VersionId"]: v for v in d.get("PolicyVersionList") or []})


def things(ctx: Any, kind: str) -> Listed:
    scope = {"policies": {"Scope": "Local"}, AWS: {"Scope": "AWS"}}.get(kind, {})  # the account's own, AWS's
    return Listed(ctx, KINDS[kind][1], KINDS[kind][0] + "Name", kind, **scope)


class Keys(Listed):
    """A user's access keys: ListAccessKeys, metadata only (IAM never lists a secret; only the
    fields of ``KEY_FIELDS`` are kept, whatever an answer holds)."""

    def __init__(self, ctx: Any, user: str) -> None:
        super().__init__(ctx, "ListAccessKeys", "AccessKeyId", "users", user, "access-keys", UserName=user)

    def entries(self, page: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(e["AccessKeyId"], {k: e[k] for k in KEY_FIELDS if k in e}) for e in page.get("AccessKeyMetadata", [])]


def version_doc(ctx: Any, arn: str, vid: str, kind: str = "") -> dict:
    """A managed policy's version (never changes): from the details of the account's policies when they
    are at hand, else one GetPolicyVersion, kept."""
    listing = VersionListing(ctx, kind, arn.rpartition("/")[2], arn).from_details() if kind in DETAILS else None
    v = listing and listing.get(vid)
    if v and "Document" in v:
        return as_doc(v["Document"])

    def load() -> dict:
        got = ctx.aws.call("iam", R, "GetPolicyVersion", PolicyArn=arn, VersionId=vid)["PolicyVersion"]
        one_by_one(ctx, kind)
        return as_doc(got["Document"])
    return ctx.cache.get((ROOT, R, "@version", arn, vid), load)


def only(cls: type, kinds: tuple = tuple(KINDS), **extra: str) -> Callable[..., Any]:
    """A route's factory: ``cls`` below the directories of ``kinds`` (under another, the path names nothing)."""
    return lambda ctx, path, **p: cls(ctx, path, **p, **extra) if p["kind"] in kinds else None


def stem(file: str) -> str:
    return file[:-5] if file.endswith(".json") else ""


class Thing:
    """A node at or below ``/iam/<kind>/<name>``: that thing's listed entry, and what it lists."""

    @property
    def noun(self) -> str:
        return KINDS[self.params["kind"]][0]

    def entry(self) -> dict:
        return things(self.ctx, self.params["kind"]).lookup(self.params["name"], self.path)

    def check(self) -> None:
        self.entry()

    def file_stem(self, pattern: "re.Pattern[str]", absent: str) -> str:
        """The name of this ``<name>.json`` file, or ENOENT when no such thing could have it."""
        name = stem(self.params["file"])
        if not pattern.fullmatch(name):
            raise enoent(self.path, absent)
        return name

    @property
    def by_aws(self) -> bool:
        """Whether this is a policy AWS manages (read-only: EROFS to every change)."""
        return self.params["kind"] == AWS

    def refused(self, path: str = "") -> FsError:
        name = self.params["name"]
        return FsError(errno.EROFS, f"{path or self.path}: policy {name} is managed by AWS and read-only here; "
                       f"attach it with ln -s ../../../aws-policies/{name} in a user's, group's or role's attached/")

    def read_only_error(self) -> FsError:
        return self.refused() if self.by_aws else super().read_only_error()  # type: ignore[misc]

    def mtime_hint(self) -> Optional[float]:
        t = self.entry().get("UpdateDate") or self.entry().get("CreateDate")
        return t.timestamp() if t else None

    def inline(self) -> Inline:
        return Inline(self.ctx, self.noun, self.params["kind"], self.params["name"])

    def links(self) -> Listed:
        return LinkListing(self.ctx, self.params["sub"], self.noun, self.params["kind"], self.params["name"])

    def keys(self) -> "Keys":
        return Keys(self.ctx, self.params["name"])

    def versions(self, own_calls: bool = False) -> Listed:
        """The policy's versions (``own_calls``: as ListPolicyVersions has them, never from the details)."""
        args = (self.ctx, self.params["kind"], self.params["name"], self.entry()["Arn"])
        if own_calls:
            return Listed(self.ctx, "ListPolicyVersions", "VersionId", *args[1:3], "versions", PolicyArn=args[3])
        return VersionListing(*args)

    def mutation(self, op: str, params: dict, what: str, update: Callable[[dict], None], **more: Any) -> Mutation:
        """A change of this thing: written through (the kind's details dropped); when it fails, what it
        lists, its kind's listing and details are dropped."""
        kind, ctx = self.params["kind"], self.ctx

        def updated(resp: dict) -> None:
            forget_details(ctx, kind)
            update(resp)
        return Mutation("iam", R, op, params, [(ROOT, R, kind, self.params["name"]), things(ctx, kind).key(),
                                               *[Details(ctx, k).key() for k in (kind,) if k in DETAILS]],
                        what, update=updated, overrides=FULL, **more)


class IamDir(StaticDir):
    """``/iam``: the account's users, roles, groups and policies, and ``aws-policies``, a symlink to AWS's
    (so that ``grep -r``, ``find``, ``du`` and ``ls -R`` of ``/iam`` do not read them all)."""
    children = tuple((k, DIR) for k in KINDS if k != AWS) + (("aws-policies", LINK),)


class AwsPoliciesLink(Link):
    def target(self) -> str:
        return AWS


class ListedDir(Thing, Dir):
    """The names of one listing, as ``child`` entries named ``<name><suffix>``."""
    child, suffix = DIR, ""

    def listed(self) -> Listed:
        raise NotImplementedError

    def entries_from(self, offset: int):
        return ((n + self.suffix, k) for n, k in entries_of(self.listed().listing(), offset, self.child))

    def entries(self):
        return self.entries_from(0)


class KindDir(ListedDir):
    def listed(self) -> Listed:
        return things(self.ctx, self.params["kind"])

    def entries_from(self, offset: int):
        walked(self.ctx, self.params["kind"])  # (what this process reads below comes from the details)
        return super().entries_from(offset)

    def check(self) -> None:
        pass


class ThingDir(Thing, StaticDir):
    @property
    def children(self):  # type: ignore[override]
        return tuple((c, FILE if c.endswith(".json") else DIR) for c in CHILDREN[self.params["kind"]])

    def is_scratch(self, name: str) -> bool:
        return not self.by_aws and is_editor_scratch(name)  # (an AWS policy's directory takes no file)

    def plan_unlink(self, name: str) -> list[Mutation]:
        if self.by_aws:
            raise self.refused(f"{self.path}/{name}")
        return super().plan_unlink(name)

    def child_for_create(self, name: str) -> File:
        if self.by_aws:
            raise self.refused(f"{self.path}/{name}")
        doc = {"trust.json": Trust, "document.json": ManagedDoc}.get(name)
        if doc is None or name not in CHILDREN[self.params["kind"]]:  # (an editor saving by rename makes it anew)
            raise FsError(errno.EACCES, f"{self.path}/{name}: files cannot be created here")
        return doc(self.ctx, f"{self.path}/{name}", **self.params)


class Info(Thing, File):
    def content(self) -> bytes:
        return render_json(self.entry())


class LinksDir(ListedDir):
    """``groups/``, ``members/`` or ``attached/``: a symlink per group, member or attached policy; ``ln -s``
    links, ``rm`` unlinks."""
    child = LINK

    def listed(self) -> Listed:
        return self.links()

    @property
    def spec(self) -> Links:
        return LINKS[self.params["sub"]]

    def named(self, target: str) -> Optional[tuple[str, str]]:
        """(the directory, the policy, group or user) ``target`` names, when it is a link as awsfs shows it
        (``../../../<policies, aws-policies, groups or users>/<name>``)."""
        for to in self.spec.to:
            start = f"../../../{to}/"
            rest = target[len(start):] if target.startswith(start) else ""
            if rest and "/" not in rest:
                return to, rest
        return None

    def plan_symlink(self, name: str, target: str) -> list[Mutation]:
        spec, what = self.spec, KINDS[kind_of(self.spec.to[0])][0].lower()
        named = self.named(target)
        if named is None:
            raise InputError(errno.EINVAL, f"link {name} must point at " + " or ".join(
                f"../../../{to}/{name}" for to in spec.to) + f": the {what} it is named after")
        to, named_name = named
        if named_name != name:
            raise InputError(errno.EINVAL, f"link {name} points at {what} {named_name}: a link is named after its "
                             f"{what}")
        it = things(self.ctx, kind_of(to)).lookup(name, f"/iam/{to}/{name}")
        linked = {spec.field: name, spec.ref: it["Arn"]} if spec.ref == "PolicyArn" else it
        listed = unless_absent(lambda: self.links().lookup(name, self.path))
        if listed is not None:  # already there: nothing to do (another of the name: EEXIST)
            if listed[spec.ref] == linked[spec.ref]:
                return []
            raise FsError(errno.EEXIST, f"{self.path}/{name}: another {what} of this name is linked here")
        return self.linking(spec.add, name, linked, +1, kind_of(to), repeatable=True)

    def plan_unlink(self, name: str) -> list[Mutation]:
        links, ref = self.links(), self.spec.ref
        listed = links.lookup(name, f"{self.path}/{name}")
        to = policy_dir(listed[ref]) if ref == "PolicyArn" else self.spec.to[0]

        def gone() -> bool:
            token = None
            while True:
                entries, token = links.fetch_page(token)
                if any(e[ref] == listed[ref] for _, e in entries):
                    return False
                if not token:
                    return True
        return self.linking(self.spec.remove, name, listed, -1, kind_of(to), verify=gone)

    def linking(self, op: str, name: str, linked: dict, by: int, kind: str, **more: Any) -> list[Mutation]:
        """``op`` on this link to a thing of ``kind``, written through to the listing here and to the
        policy's AttachmentCount; a membership also to the other side's listing (the group's members,
        the user's groups) and the users' details (its GroupList; nothing else in the details changes)."""
        spec, owner, links, targets = self.spec, self.params["name"], self.links(), things(self.ctx, kind)
        kinds = (self.params["kind"], kind)  # the owner's links, the policy's AttachmentCount
        other = LinkListing(self.ctx, spec.reverse, KINDS[kind][0], kind, name) if spec.reverse else None
        me = self.entry() if other else None  # (as the other side lists it: ListUsers' or ListGroups' entry)

        def done(resp: dict) -> None:
            if other is None:
                forget_details(self.ctx, *kinds)
            else:
                user, group = (owner, name) if self.params["kind"] == "users" else (name, owner)
                joined(self.ctx, user, group, by)
                if by > 0:
                    other.put(owner, me)
                else:
                    other.drop(owner)
            if by > 0:
                links.put(name, linked)
            else:
                links.drop(name)
            listing = targets.cached()
            it = listing and kind in POLICIES and listing.get(name)
            if it and it["Arn"] == linked["PolicyArn"] and "AttachmentCount" in it:
                targets.put(name, {**it, "AttachmentCount": it["AttachmentCount"] + by})
        return [Mutation("iam", R, op.format(self.noun), {f"{self.noun}Name": owner, spec.ref: linked[spec.ref]},
                         [links.key(), targets.key(), *([other.key()] if other else []),
                          *[Details(self.ctx, k).key() for k in kinds if k in DETAILS]],
                         f"{op.format(self.noun)} {self.noun.lower()} {owner}, "
                         f"{KINDS[kind][0].lower()} {name}", update=done, overrides=FULL, **more)]


class MemberLink(Thing, Link):
    def listed(self) -> dict:
        return self.links().lookup(self.params["link"], self.path)

    def check(self) -> None:
        self.listed()

    def target(self) -> str:
        spec = LINKS[self.params["sub"]]
        to = policy_dir(self.listed()[spec.ref]) if spec.ref == "PolicyArn" else spec.to[0]
        return f"../../../{to}/{self.params['link']}"


class VersionsDir(ListedDir):
    child, suffix = FILE, ".json"

    def listed(self) -> Listed:
        return self.versions()

    def plan_unlink(self, name: str) -> list[Mutation]:
        if self.by_aws:
            raise self.refused(f"{self.path}/{name}")
        return super().plan_unlink(name)

    def child_for_create(self, name: str) -> File:
        if self.by_aws:
            raise self.refused(f"{self.path}/{name}")
        return super().child_for_create(name)


class VersionFile(Thing, File):
    def version(self) -> dict:
        return self.versions().lookup(stem(self.params["file"]), self.path)

    def check(self) -> None:
        self.version()

    def content(self) -> bytes:
        v = self.version()  # (real IAM lists versions without their documents)
        return render(as_doc(v["Document"]) if "Document" in v else
                      version_doc(self.ctx, self.entry()["Arn"], v["VersionId"], self.params["kind"]))


class KeysDir(ListedDir):
    """``access-keys/``: a user's access keys as ``<key id>.json``. No file can be made here (a new key's
    secret would have to be shown); ``rm`` deletes an Inactive key only."""
    child, suffix = FILE, ".json"

    def listed(self) -> Listed:
        return self.keys()

    def is_scratch(self, name: str) -> bool:
        return is_editor_scratch(name)  # (vim's and sed's saves of a key file go through them)

    def child_for_create(self, name: str) -> File:
        key = KeyFile(self.ctx, f"{self.path}/{name}", **self.params, file=name)
        if not key.exists():  # (an editor saving by rename makes an existing key's file anew)
            raise FsError(errno.EPERM, f"{self.path}/{name}: {NO_NEW_KEYS}")
        return key

    def plan_unlink(self, name: str) -> list[Mutation]:
        return [KeyFile(self.ctx, f"{self.path}/{name}", **self.params, file=name).delete()]


# -- documents ------------------------------------------------------------------------------------

class PolicyDoc(Thing, Document):
    """A policy document: JSON in AWS's key order; a save is a whole, valid document."""
    what, service_name = "policy", "IAM"

    def doc(self) -> dict:
        raise NotImplementedError

    def content(self) -> bytes:
        return render(self.doc())

    def parse(self, data: bytes) -> Any:
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(errno.EINVAL, "a policy document is JSON text (UTF-8)") from None
        except json.JSONDecodeError as e:
            raise InputError(errno.EINVAL, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise InputError(errno.EINVAL, 'a policy document is a JSON object with a "Statement" '
                             '(and "Version": "2012-10-17")')
        return doc


class InlinePolicy(PolicyDoc):
    def policy(self) -> str:
        return self.file_stem(NAME, "no such inline policy (a file here is <policy name>.json)")

    def doc(self) -> dict:
        return self.inline().lookup(self.policy(), self.path)

    def check(self) -> None:
        self.entry()
        self.doc()

    def fresh(self, value: Any) -> Optional[dict]:
        return self.inline().get(None, self.policy())

    def put(self, value: dict, base: Any) -> Mutation:
        name, owner, inline = self.policy(), self.params["name"], self.inline()
        return self.mutation(f"Put{self.noun}Policy", {f"{self.noun}Name": owner, "PolicyName": name,
                                                        "PolicyDocument": json.dumps(value)},
                             f"put inline policy {name} of {self.noun.lower()} {owner}",
                             lambda resp: inline.put(name, value), repeatable=True)

    def create(self, value: dict) -> Mutation:
        m = self.put(value, None)

        def precheck() -> None:  # Put{...}Policy replaces: one made meanwhile is not overwritten
            if self.fresh(value) is not None:
                raise FsError(errno.EEXIST, f"{self.path}: an inline policy of this name was created meanwhile")
        m.precheck = precheck
        return m

    def delete(self) -> Mutation:
        name, owner, inline = self.policy(), self.params["name"], self.inline()
        self.check()
        return self.mutation(f"Delete{self.noun}Policy", {f"{self.noun}Name": owner, "PolicyName": name},
                             f"delete inline policy {name} of {self.noun.lower()} {owner}",
                             lambda resp: inline.drop(name), verify=lambda: self.fresh(None) is None)


class InlineDir(ListedDir):
    """``policies/``: a principal's inline policies as ``<name>.json`` (another name is EINVAL)."""
    child, suffix = FILE, ".json"

    def listed(self) -> Listed:
        return self.inline()

    def is_scratch(self, name: str) -> bool:
        return is_editor_scratch(name)  # (editors' and sed's and rsync's temp names stay local)

    def child_for_create(self, name: str) -> File:
        if not name.endswith(".json"):
            raise InputError(errno.EINVAL, f"{name!r}: an inline policy is a file named <policy name>.json")
        if not NAME.fullmatch(stem(name)):
            raise InputError(errno.EINVAL, f"{name!r}: an inline policy's name is at most 128 letters, digits "
                             "and +=,.@_-, then .json")
        return InlinePolicy(self.ctx, f"{self.path}/{name}", **self.params, file=name)

    def plan_unlink(self, name: str) -> list[Mutation]:
        return [InlinePolicy(self.ctx, f"{self.path}/{name}", **self.params, file=name).delete()]


class KeyFile(Thing, Document):
    """``access-keys/<id>.json``: a key's metadata (``KEY_FIELDS``) and when, where and for what it was
    last used (one GetAccessKeyLastUsed, kept); never its secret. A save may change ``Status`` only
    (UpdateAccessKey): the file's JSON with another Status, or just the word (``echo Inactive > ...``)."""
    what, service_name = "access key", "IAM"

    def key_id(self) -> str:
        return self.file_stem(KEY_ID, "no such access key (a file here is <access key id>.json)")

    def listed(self) -> dict:
        return self.keys().lookup(self.key_id(), self.path)

    def check(self) -> None:
        self.entry()
        self.listed()

    def mtime_hint(self) -> Optional[float]:
        t = self.listed().get("CreateDate")
        return t.timestamp() if isinstance(t, datetime) else None

    def last_used(self) -> dict:
        key = self.key_id()

        def load() -> dict:
            got = self.aws.call("iam", R, "GetAccessKeyLastUsed", AccessKeyId=key)["AccessKeyLastUsed"]
            return {k: got[k] for k in USED_FIELDS if got.get(k) is not None}
        return self.ctx.cache.get((*self.keys().prefix, "@used", key), load)

    def content(self) -> bytes:
        return render_json({**self.listed(), "AccessKeyLastUsed": self.last_used()})

    def parse(self, data: bytes) -> str:
        """The Status a save asks for; the key's other fields, where given, as shown (last use: ignored)."""
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(errno.EINVAL, "an access key file is JSON text (UTF-8)") from None
        if text in STATUSES:
            return text
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(errno.EINVAL, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg} (or write "
                             "just Active or Inactive)") from None
        if not isinstance(doc, dict) or "Status" not in doc:
            raise InputError(errno.EINVAL, 'an access key file is a JSON object with its "Status" (or just the '
                             'word Active or Inactive)')
        if doc["Status"] not in STATUSES:
            raise InputError(errno.EINVAL, f'"Status" is "Active" or "Inactive", not {quoted(str(doc["Status"]))}')
        now = json.loads(render_json(self.listed()))
        changed = sorted(k for k in doc if k not in ("Status", "AccessKeyLastUsed") and doc[k] != now.get(k))
        if changed:
            raise InputError(errno.EINVAL, f"only an access key's \"Status\" can be changed, not {', '.join(changed)}")
        return doc["Status"]

    def fresh(self, value: Any) -> Optional[str]:
        """The key's Status in IAM now (None: no such key), listed anew."""
        key = self.key_id()
        for page in self.aws.pages("iam", R, "ListAccessKeys", UserName=self.params["name"], MaxItems=1000):
            for e in page.get("AccessKeyMetadata", []):
                if e["AccessKeyId"] == key:
                    return e["Status"]
        return None

    def plan(self, base: Optional[bytes], new: bytes) -> list[Mutation]:
        """A save makes IAM hold the Status written (an order, as ``echo Inactive`` is): IAM is asked
        for the key's Status now (one ListAccessKeys, whatever the cache says; with two states no
        change of someone else's can be lost), and UpdateAccessKey sent when it differs."""
        value = self.parse(new)
        if base is None:
            return [self.create(value)]
        now = self.fresh(value)
        if now is None:
            raise enoent(self.path, "no such access key (deleted meanwhile)")
        return [] if now == value else [self.put(value, base)]

    def put(self, value: str, base: Any) -> Mutation:
        key, user, keys, listed = self.key_id(), self.params["name"], self.keys(), self.listed()
        return self.mutation("UpdateAccessKey", {"UserName": user, "AccessKeyId": key, "Status": value},
                             f"make access key {key} of user {user} {value}", repeatable=True,
                             update=lambda resp: keys.put(key, {**listed, "Status": value}))

    def create(self, value: Any) -> Mutation:
        raise FsError(errno.EPERM, f"{self.path}: {NO_NEW_KEYS}")

    def delete(self) -> Mutation:
        """DeleteAccessKey, of an Inactive key only (it cannot be undone): the check is made against
        IAM's state, not the cache's."""
        key, user, keys = self.key_id(), self.params["name"], self.keys()
        active = (f"{self.path}: access key {key} is Active; deleting a key cannot be undone: make it Inactive "
                  f"first (echo Inactive > {self.params['file']}), then rm deletes it")
        if self.listed()["Status"] == "Active":
            raise FsError(errno.EPERM, active)

        def precheck() -> None:
            status = self.fresh(None)
            if status is None:
                raise enoent(self.path, "no such access key (deleted meanwhile)")
            if status == "Active":
                raise FsError(errno.EPERM, active + " (it was made Active again meanwhile)")
        return self.mutation("DeleteAccessKey", {"UserName": user, "AccessKeyId": key},
                             f"delete access key {key} of user {user}", lambda resp: keys.drop(key),
                             precheck=precheck, verify=lambda: self.fresh(None) is None)


class Trust(PolicyDoc):
    """A role's trust policy (who may assume it): from ListRoles; saved by UpdateAssumeRolePolicy."""

    def doc(self) -> dict:
        return as_doc(self.entry()["AssumeRolePolicyDocument"])

    def fresh(self, value: Any) -> Optional[dict]:
        role = unless_absent(lambda: self.aws.call("iam", R, "GetRole", RoleName=self.params["name"])["Role"])
        return role and as_doc(role["AssumeRolePolicyDocument"])

    def put(self, value: dict, base: Any) -> Mutation:
        name, entry = self.params["name"], self.entry()
        return self.mutation("UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": json.dumps(value)},
                             f"update the trust policy of role {name}", repeatable=True, update=lambda resp: things(
                                 self.ctx, "roles").put(name, {**entry, "AssumeRolePolicyDocument": value}))


class Managed(NamedTuple):
    doc: dict
    version: Optional[str]  # the version a reader got it as (None: unknown, or new)


class ManagedDoc(PolicyDoc):
    """A managed policy's default version; a save makes a new default version, checked against the one read."""

    def content(self) -> bytes:
        entry = self.entry()
        return self.shown(render(version_doc(self.ctx, entry["Arn"], entry["DefaultVersionId"], "policies")),
                          entry["DefaultVersionId"])

    def parse(self, data: bytes) -> Managed:
        return Managed(super().parse(data), self.seen(data))

    def same(self, a: Managed, b: Managed) -> bool:
        return a.version == b.version if a.version and b.version else a.doc == b.doc

    def fresh(self, value: Any) -> Optional[Managed]:
        arn = self.entry()["Arn"]
        got = unless_absent(lambda: self.aws.call("iam", R, "GetPolicy", PolicyArn=arn)["Policy"])
        return got and Managed(version_doc(self.ctx, arn, got["DefaultVersionId"]), got["DefaultVersionId"])

    def make_room(self, m: Mutation) -> None:
        """At five versions, the oldest that is not the default goes first (IAM refuses a sixth)."""
        self.ctx.cache.invalidate(self.versions().prefix)  # (as IAM has them now, not as the details had them)
        versions = list(self.versions(own_calls=True).listing().all().values())
        m.follows = max(int(v["VersionId"][1:]) for v in versions)  # type: ignore[attr-defined]
        if len(versions) < MAX_VERSIONS:
            return
        old = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: int(v["VersionId"][1:]))
        unless_absent(lambda: self.aws.send("iam", R, "DeletePolicyVersion", {
            "PolicyArn": self.entry()["Arn"], "VersionId": old["VersionId"]}))
        self.ctx.errors.note(self.path, "save", f"policy {self.params['name']} had {len(versions)} versions, IAM's "
                             f"limit: its oldest non-default version, {old['VersionId']}, was deleted to make room")

    def put(self, value: Managed, base: Any) -> Mutation:
        name, entry = self.params["name"], self.entry()

        def saved(resp: dict) -> None:
            self.ctx.cache.invalidate(self.versions().prefix)
            if "PolicyVersion" not in resp:  # an unknown outcome, verified: asked anew
                return self.ctx.cache.invalidate(things(self.ctx, "policies").key())
            vid = resp["PolicyVersion"]["VersionId"]
            if int(vid[1:]) != getattr(m, "follows", int(vid[1:]) - 1) + 1:  # IAM has no conditional put
                self.ctx.errors.note(self.path, "save", f"policy {name} was also changed in IAM by someone else while "
                                     f"this save was sent: yours is {vid}, the default; theirs is in versions/")
            self.ctx.cache.put((ROOT, R, "@version", entry["Arn"], vid), value.doc)
            things(self.ctx, "policies").put(name, {**entry, "DefaultVersionId": vid,
                                                    "UpdateDate": datetime.now(timezone.utc)})
            self.shown(render(value.doc), vid)
        m = self.mutation("CreatePolicyVersion", {"PolicyArn": entry["Arn"], "PolicyDocument": json.dumps(value.doc),
                                                  "SetAsDefault": True}, f"new default version of policy {name}", saved)
        m.precheck = lambda: self.make_room(m)  # (run once the check has passed: kit.Document.plan)
        return m


class AwsDoc(Thing, File):
    """An AWS managed policy's default version (one GetPolicyVersion, kept): read-only (EROFS)."""

    def content(self) -> bytes:
        entry = self.entry()
        return render(version_doc(self.ctx, entry["Arn"], entry["DefaultVersionId"]))


REQUIRED = {**{("iam", op): (key,) for op, key in (
    ("ListUsers", "Users"), ("ListRoles", "Roles"), ("ListGroups", "Groups"), ("ListPolicies", "Policies"),
    ("ListPolicyVersions", "Versions"), ("GetRole", "Role"), ("GetPolicy", "Policy"),
    ("GetPolicyVersion", "PolicyVersion"), ("CreatePolicyVersion", "PolicyVersion"),
    ("ListAccessKeys", "AccessKeyMetadata"), ("GetAccessKeyLastUsed", "AccessKeyLastUsed"),
    ("GetAccountAuthorizationDetails", "IsTruncated"), ("GetGroup", "Users"))},
    **{("iam", f"Get{k}Policy"): ("PolicyDocument",) for k in ("User", "Role", "Group")}}

ROUTES = [
    ("/iam", IamDir),
    ("/iam/aws-policies", AwsPoliciesLink),
    ("/iam/{kind}", only(KindDir)),
    ("/iam/{kind}/{name}", only(ThingDir)),
    ("/iam/{kind}/{name}/info.json", only(Info)),
    ("/iam/{kind}/{name}/trust.json", only(Trust, ("roles",))),
    ("/iam/{kind}/{name}/document.json", only(ManagedDoc, ("policies",))),
    ("/iam/{kind}/{name}/document.json", only(AwsDoc, (AWS,))),
    ("/iam/{kind}/{name}/versions", only(VersionsDir, POLICIES)),
    ("/iam/{kind}/{name}/versions/{file}", only(VersionFile, POLICIES)),
    ("/iam/{kind}/{name}/policies", only(InlineDir, PRINCIPALS)),
    ("/iam/{kind}/{name}/policies/{file}", only(InlinePolicy, PRINCIPALS)),
    ("/iam/{kind}/{name}/attached", only(LinksDir, PRINCIPALS, sub="attached")),
    ("/iam/{kind}/{name}/attached/{link}", only(MemberLink, PRINCIPALS, sub="attached")),
    ("/iam/{kind}/{name}/groups", only(LinksDir, ("users",), sub="groups")),
    ("/iam/{kind}/{name}/groups/{link}", only(MemberLink, ("users",), sub="groups")),
    ("/iam/{kind}/{name}/members", only(LinksDir, ("groups",), sub="members")),
    ("/iam/{kind}/{name}/members/{link}", only(MemberLink, ("groups",), sub="members")),
    ("/iam/{kind}/{name}/access-keys", only(KeysDir, ("users",))),
    ("/iam/{kind}/{name}/access-keys/{file}", only(KeyFile, ("users",))),
]
