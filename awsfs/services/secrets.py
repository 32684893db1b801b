"""Secrets Manager: a secret is a file, the ``/`` in its name are directories (``prod/db/password``).

* ``/secrets/<region>/<name>``: the current value (AWSCURRENT): a SecretString plus ``\\n``, or a
  SecretBinary's exact bytes; mode 0600. A write strips one trailing ``\\n`` from a string (a binary
  secret keeps every byte); a new file is a string secret if its content is UTF-8, else a binary one.
  A leading ``/`` is not shown (``/prod/x`` is ``prod/x``; a new name follows its directory's names).
* ``<name>:AWSPREVIOUS`` (any staging label, or a version id): that version, read-only and never
  listed (``:`` is not allowed in secret names, so it names no secret).
* A listing is ListSecrets (names and metadata, never a value). A value is fetched when its file is
  looked up (a true size needs it), together with others (BatchGetSecretValue) when the command
  names several files, or has just listed their directory (``ls -l``, ``grep -r``).
* A save is PutSecretValue, refused (ESTALE) unless AWSCURRENT is still the version the writer
  read; afterwards AWSPREVIOUS must be that version, else ``/.awsfs/errors`` names the version
  someone else wrote in between. A new file is CreateSecret (EEXIST when taken); ``rm`` is
  DeleteSecret with AWS's 30-day recovery window (a note in ``/.awsfs/errors``); a secret scheduled
  for deletion is not listed, and writing its name is EBUSY.
"""
from __future__ import annotations

import errno
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any, NamedTuple, Optional

from .. import kit
from ..cache import Memo
from ..errors import FsError, InputError
from ..kit import Collection, Document, Hierarchy, NamesDir, RegionNode, RegionsDir
from ..nodes import FILE, File, enoent, is_editor_scratch
from ..transaction import Mutation

ROOT, SM = "secrets", "secretsmanager"
MAX_VALUE = 65536                                  # bytes of a SecretString or a SecretBinary
NAME = re.compile(r"[A-Za-z0-9/_+=.@-]+")          # what secret names are made of
GONE = "\0"                                        # a listed secret scheduled for deletion: GONE + its name
BUSY = {"InvalidRequestException": errno.EBUSY}    # what Secrets Manager answers for a secret marked for deletion
WALK_SECONDS = 30.0                                # a command that listed a directory is walking it this long
_walks = Memo(1000)                                # (mount, pid, region, directory) -> when that process listed it


class Value(NamedTuple):
    binary: bool
    data: bytes             # the value (a string's UTF-8, without the file's last newline)
    version: Optional[str]  # the version it is known to be (None: unknown, or new)


def _stage(stages: dict, label: str) -> Optional[str]:
    return next((v for v, s in stages.items() if label in s), None)


def _parts(name: str) -> tuple[str, str]:
    """(directory, base name) of a secret's name: how values are grouped."""
    group, _, base = name.rpartition("/")
    return group, base


def render(answer: Optional[dict]) -> bytes:
    if answer is None:
        return b""  # a secret with no value yet
    return answer["SecretBinary"] if "SecretBinary" in answer else answer["SecretString"].encode() + b"\n"


def _answer(got: dict) -> dict:
    return {k: got[k] for k in ("ARN", "Name", "VersionId", "SecretString", "SecretBinary") if k in got}


def _payload(value: Value) -> dict[str, Any]:
    return {"SecretBinary": value.data} if value.binary else {"SecretString": value.data.decode()}


def _split(name: str) -> list[str]:
    """Where a name is below its region; [] for none (scheduled for deletion, or with an empty, '.' or '..' part)."""
    parts = (name[1:] if name.startswith("/") else name).split("/")
    return [] if name.startswith(GONE) or any(p in ("", ".", "..") for p in parts) else parts


class Secrets(Collection):
    """ListSecrets with planned deletions (kept as GONE + name: never shown, but known)."""
    root, service, op, name = ROOT, SM, "ListSecrets", ":list"

    def list_params(self) -> dict[str, Any]:
        return {"MaxResults": 100, "IncludePlannedDeletion": True}

    def name_of(self, e: dict) -> str:
        return (GONE if e.get("DeletedDate") else "") + e["Name"]


def tree(ctx, region: str) -> Hierarchy:
    listing = Secrets(ctx, region).search(None)
    if getattr(listing, "tree", None) is None:
        listing.tree = Hierarchy(listing, _split)  # worked out once per listing state
    return listing.tree


def locate(ctx, region: str, path: str) -> tuple[str, Optional[dict]]:
    """(the secret's name, its listed entry; None: no such secret) for a path below the region."""
    listing = Secrets(ctx, region).search(None)
    for name in (path, "/" + path):
        if listing.get(name) is not None:
            return name, listing.get(name)
    folder = path.rpartition("/")[0]
    rooted = folder and any(n.startswith(f"/{folder}/") for n in list(listing.names))
    return ("/" if rooted else "") + path, None


class Values(Collection):
    """Current values: GetSecretValue, or BatchGetSecretValue of 20; grouped by the name's directory."""
    root, service, one, batch, grouped = ROOT, SM, "value", 20, True
    absent = "no such secret"

    def arn(self, group: str, name: str) -> Optional[str]:
        e = Secrets(self.ctx, self.region).search(None).get(f"{group}/{name}" if group else name)
        return e["ARN"] if e and _stage(e.get("SecretVersionsToStages") or {}, "AWSCURRENT") else None

    def batchable(self, group: Optional[str], name: str) -> bool:
        return self.arn(group or "", name) is not None

    def get(self, group: Optional[str], name: str) -> Optional[dict]:
        arn = self.arn(group or "", name)
        try:
            return None if arn is None else _answer(self.ctx.aws.send(SM, self.region, "GetSecretValue", {
                "SecretId": arn}, overrides={"InvalidRequestException": errno.ENOENT}))  # scheduled for deletion
        except FsError as e:
            if e.errno != errno.ENOENT:
                raise
            return None

    def get_batch(self, group: Optional[str], names: list[str]) -> dict[str, Any]:
        arns = {self.arn(group or "", n): n for n in names}
        ids = list(arns)
        pages = self.ctx.aws.call_many(SM, self.region, "BatchGetSecretValue", [
            {"SecretIdList": ids[i:i + self.batch]} for i in range(0, len(ids), self.batch)],
            timeout=kit.PREFETCH_SECONDS)
        found: dict[Any, Any] = {}
        for page in pages:
            found.update((arns.get(v.get("ARN")), _answer(v)) for v in page["SecretValues"])
            found.update((arns.get(e.get("SecretId")), None) for e in page.get("Errors", [])
                         if e.get("ErrorCode") in ("ResourceNotFoundException", "InvalidRequestException"))
        found.pop(None, None)
        return found

    def together(self, group: Optional[str], name: str) -> list[str]:
        """The names the command gives; else, when it has just listed this directory (``ls -l``,
        ``grep -r``), the files after this one in the listing."""
        named = super().together(group, name)
        walk = (id(self.ctx), self.ctx.caller_pid(), self.region, tuple(p for p in (group or "").split("/") if p))
        when = _walks.get(walk, None)
        if len(named) > 1 or not when or walk[1] <= 0 or time.monotonic() - when > WALK_SECONDS:
            return named
        kids = tree(self.ctx, self.region).children(walk[3]) or {}
        files = [n for n, kind in kids.items() if kind == FILE]
        return files[files.index(name):] if name in files else named


def is_scratch(name: str) -> bool:
    """Editors' and tools' temp files stay local: vim's swap, probe and backup (``x~``) files, sed's
    and rsync's temp files, emacs's ``#x#`` (``.bak``, ``.orig`` and ``.save`` are secret names here)."""
    return is_editor_scratch(name) and not name.endswith((".bak", ".orig", ".save")) or bool(re.fullmatch("#.*#", name))


class SecretDir(NamesDir):
    """A region's secrets, or those under a prefix (``prod/db/``): it exists through them."""
    absent = "no such secret or directory"

    def names(self, parts: tuple[str, ...]) -> Optional[dict[str, str]]:
        return tree(self.ctx, self.region_ok()).children(parts)

    def invalid(self, key: str) -> str:
        return "" if NAME.fullmatch(key) else "secret names are made of letters, digits and /_+=.@-"

    def entries(self):
        kids = super().entries()
        _walks.put((id(self.ctx), self.ctx.caller_pid(), self.params["region"], self.parts()), None, time.monotonic())
        return kids

    def is_scratch(self, name: str) -> bool:
        return is_scratch(name)

    @classmethod
    def variant(cls, ctx, path: str, region: str, name: str) -> Optional[File]:
        """``<name>:<label>``: one version of a secret."""
        head, _, last = name.rpartition("/")
        if ":" not in last:
            return None
        base, _, label = last.rpartition(":")
        return VersionFile(ctx, path, region=region, name=f"{head}/{base}" if head else base, label=label)


class SecretFile(RegionNode, Document):
    what, service_name = "secret", "Secrets Manager"
    mode_mask, max_bytes = 0o600, MAX_VALUE + 1

    def located(self) -> tuple[str, Optional[dict]]:
        return locate(self.ctx, self.region_ok(), self.params["name"])

    def entry(self) -> tuple[str, dict]:
        name, e = self.located()
        if e is None:
            raise enoent(self.path, "no such secret")
        return name, e

    def check(self) -> None:
        self.entry()

    def mtime_hint(self) -> Optional[float]:
        t = self.entry()[1].get("LastChangedDate")
        return t.timestamp() if t else None

    def stored(self) -> Optional[dict]:
        name, e = self.entry()
        if not _stage(e.get("SecretVersionsToStages") or {}, "AWSCURRENT"):
            return None  # no value yet
        group, base = _parts(name)
        return Values(self.ctx, self.region_ok()).lookup(base, self.path, group)

    def content(self) -> bytes:
        stored = self.stored()
        return self.shown(render(stored), stored and stored["VersionId"])

    def xattrs(self) -> dict[str, bytes]:
        name, e = self.entry()
        stages, tags = e.get("SecretVersionsToStages") or {}, {t["Key"]: t["Value"] for t in e.get("Tags", [])}
        when = {k: e[f].astimezone(timezone.utc).isoformat() for k, f in
                (("created", "CreatedDate"), ("last_changed", "LastChangedDate")) if e.get(f)}
        attrs = {"arn": e["ARN"], "name": name, "version": _stage(stages, "AWSCURRENT"),
                 "previous_version": _stage(stages, "AWSPREVIOUS"), **when, "description": e.get("Description"),
                 "kms_key_id": e.get("KmsKeyId"), "tags": json.dumps(tags, sort_keys=True) if tags else None,
                 "rotation_enabled": str(e["RotationEnabled"]).lower() if "RotationEnabled" in e else None}
        return {f"user.aws.{k}": str(v).encode() for k, v in attrs.items() if v}

    # -- the document ----------------------------------------------------------------------------
    def where(self) -> str:
        return self.located()[0]

    def parse(self, data: bytes) -> Value:
        name, e = self.located()
        stored = self.stored() if e is not None else None
        version = self.seen(data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            if stored and "SecretString" in stored:
                raise InputError(errno.EINVAL, f"{name} holds a SecretString: its value must be UTF-8 text") from None
            return Value(True, data, version)  # a new file that is not text: a SecretBinary
        if stored and "SecretBinary" in stored:
            return Value(True, data, version)
        return Value(False, data[:-1] if data.endswith(b"\n") else data, version)

    def same(self, a: Value, b: Value) -> bool:
        return a.version == b.version if a.version and b.version else (a.binary, a.data) == (b.binary, b.data)

    def check_new(self, value: Value) -> None:
        if not value.data:
            raise InputError(errno.EINVAL, "a secret's value cannot be empty (rm the file to delete the secret)")
        if len(value.data) > MAX_VALUE:
            raise InputError(errno.EFBIG, f"a secret's value is at most {MAX_VALUE:,} bytes")

    def fresh(self, value: Value) -> Optional[Value]:
        name, e = self.located()
        try:
            got = self.aws.send(SM, self.region_ok(), "GetSecretValue", {"SecretId": e["ARN"] if e else name},
                                overrides=BUSY)
        except FsError as err:
            if err.errno == errno.EBUSY:
                raise FsError(errno.EBUSY, self.scheduled(name) + "; it cannot be changed until then") from err
            if err.errno != errno.ENOENT:
                raise
            return Value(False, b"", None) if e and not _stage(e.get("SecretVersionsToStages") or {}, "AWSCURRENT") \
                else None  # a secret with no value yet, or none
        binary = "SecretBinary" in got
        return Value(binary, got["SecretBinary"] if binary else got["SecretString"].encode(), got["VersionId"])

    def condition(self, mutation: Mutation, seen: Value) -> None:
        self.checked = seen.version  # Secrets Manager has no conditional put: the check after it uses this

    def put(self, value: Value, base: Value) -> Mutation:
        name, e = self.entry()
        token, region = str(uuid.uuid4()), self.region_ok()
        return Mutation(SM, region, "PutSecretValue", {"SecretId": e["ARN"], "ClientRequestToken": token,
                                                       **_payload(value)},
                        [(ROOT, region)], f"put a new version of secret {name}", repeatable=True, overrides=BUSY,
                        update=lambda resp: self.saved(name, e, value, token))

    def saved(self, name: str, e: dict, value: Value, token: str) -> None:
        d = self.aws.call(SM, self.region_ok(), "DescribeSecret", SecretId=e["ARN"])
        stages = d.get("VersionIdsToStages") or {}
        seen, previous = getattr(self, "checked", None), _stage(stages, "AWSPREVIOUS")
        if seen and _stage(stages, "AWSCURRENT") == token and previous != seen:
            self.ctx.errors.note(self.path, "save", f"saved, but version {previous} was written by someone else "
                                 f"between awsfs's check and its save; it is AWSPREVIOUS now: read it at "
                                 f"{self.path.rpartition('/')[2]}:AWSPREVIOUS")
        self.remember(name, {**d, "SecretVersionsToStages": stages}, value, token)

    def remember(self, name: str, e: dict, value: Value, token: str) -> None:
        """Write-through: the listing and the value as AWS now has them."""
        e.pop("ResponseMetadata", None)
        Secrets(self.ctx, self.region_ok()).put(name, e)
        answer = {"ARN": e["ARN"], "Name": name, "VersionId": token, **_payload(value)}
        Values(self.ctx, self.region_ok()).put(_parts(name)[1], answer, _parts(name)[0])
        self.shown(render(answer), token)

    def create(self, value: Value) -> Mutation:
        name, region = self.where(), self.region_ok()
        gone = Secrets(self.ctx, region).search(None).get(GONE + name)
        if gone is not None:
            raise FsError(errno.EBUSY, f"{self.scheduled(name, gone.get('DeletedDate'))}; its name cannot be used "
                                       "until then")
        token, now = str(uuid.uuid4()), datetime.now(timezone.utc)

        def created(resp: dict) -> None:
            self.remember(name, {"ARN": resp["ARN"], "Name": name, "SecretVersionsToStages": {token: ["AWSCURRENT"]},
                                 "CreatedDate": now, "LastChangedDate": now}, value, token)
        return Mutation(SM, region, "CreateSecret", {"Name": name, "ClientRequestToken": token, **_payload(value)},
                        [(ROOT, region)], f"create secret {name}", repeatable=True, overrides=BUSY, update=created)

    def scheduled(self, name: str, when: Any = None) -> str:
        return (f"secret {name} is scheduled for deletion{' on ' + when.date().isoformat() if when else ''} "
                f"(`aws secretsmanager restore-secret --secret-id {name} --region {self.params['region']}` "
                "brings it back)")

    def plan_rename(self, dst: File) -> list[Mutation]:
        """Refused: Secrets Manager cannot rename, and mv's copy-and-delete would lose the versions and
        block the old name for 30 days."""
        raise FsError(errno.EPERM, f"{self.where()}: Secrets Manager cannot rename a secret; to move its value, "
                      "cp it to the new name, then rm the old one (deletion is scheduled, 30 days)")

    def plan_delete(self) -> list[Mutation]:
        name, e = self.entry()
        region = self.region_ok()

        def deleted(resp: dict) -> None:
            when = resp.get("DeletionDate") or datetime.fromtimestamp(time.time() + 30 * 86400, timezone.utc)
            secrets = Secrets(self.ctx, region)
            secrets.drop(name)
            secrets.put(GONE + name, {**e, "DeletedDate": when})
            Values(self.ctx, region).drop(_parts(name)[1], _parts(name)[0])
            self.ctx.errors.note(self.path, "unlink", f"{self.scheduled(name, when)}: Secrets Manager's default "
                                 "30-day recovery window; until then it is not listed and its name cannot be reused")

        def verify() -> bool:
            try:
                return bool(self.aws.call(SM, region, "DescribeSecret", SecretId=e["ARN"]).get("DeletedDate"))
            except FsError as err:
                if err.errno != errno.ENOENT:
                    raise
                return True
        return [Mutation(SM, region, "DeleteSecret", {"SecretId": e["ARN"]}, [(ROOT, region)],
                         f"schedule deletion of secret {name}", update=deleted, verify=verify)]


class VersionFile(RegionNode, File):
    """``<name>:<staging label or version id>``: one version of a secret, read-only (0400)."""
    mode_mask = 0o600

    def version(self) -> tuple[str, str, list]:
        name, e = locate(self.ctx, self.region_ok(), self.params["name"])
        want = self.params["label"]
        for vid, stages in ((e or {}).get("SecretVersionsToStages") or {}).items():
            if want in (vid, *stages):
                return e["ARN"], vid, stages  # type: ignore[index]
        raise enoent(self.path, f"no version {want} of secret {name}")

    def check(self) -> None:
        self.version()

    def content(self) -> bytes:
        arn, vid, _ = self.version()
        region = self.region_ok()
        return render(self.ctx.cache.get((ROOT, region, "version", vid), lambda: _answer(
            self.aws.call(SM, region, "GetSecretValue", SecretId=arn, VersionId=vid))))

    def xattrs(self) -> dict[str, bytes]:
        arn, vid, stages = self.version()
        return {"user.aws.arn": arn.encode(), "user.aws.version": vid.encode(),
                "user.aws.stages": ",".join(stages).encode()}


SecretDir.document = SecretFile


REQUIRED = {
    (SM, "ListSecrets"): ("SecretList",),
    (SM, "BatchGetSecretValue"): ("SecretValues",),
    (SM, "GetSecretValue"): ("ARN", "VersionId"),
    (SM, "DescribeSecret"): ("ARN",),
}

ROUTES = [
    ("/secrets", RegionsDir),
    ("/secrets/{region}", SecretDir),
    ("/secrets/{region}/{name...}", SecretDir.node),
]
