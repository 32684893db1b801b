"""The service kit on a toy service: every hook a Collection and a Document declare, and what the
engine does with them (which calls it makes, what it caches, how a save is checked).

The toy AWS keeps named notes, each with a version; it pages its listing two at a time and counts
every call, so a test asserts what a user would pay for and see.
"""
from __future__ import annotations

import errno
import json
from typing import Any, Optional

import pytest

from awsfs import kit
from awsfs.aws import _offline
from awsfs.context import Context
from awsfs.errors import FsError, InputError, NotNow, RemoteError
from awsfs.nodes import DIR, FILE, File, Listing
from awsfs.router import Router
from awsfs.transaction import Mutation, Transactions

R = "us-east-1"


class ToyAws:
    """Notes: name -> (text, version). Listing pages of two; Get, BatchGet, Put (conditional on a
    version), Create (fails when the name is taken)."""

    def __init__(self, notes: dict[str, str]) -> None:
        self.notes = {n: (t, 1) for n, t in notes.items()}
        self.calls: list[str] = []
        self.fail: dict[str, FsError] = {}    # operation -> raised instead (once)

    def _maybe_fail(self, op: str) -> None:
        err = self.fail.pop(op, None)
        if err is not None:
            raise err

    def call(self, service: str, region: str, op: str, **p: Any) -> dict[str, Any]:
        return self.send(service, region, op, p)

    def send(self, service: str, region: str, op: str, p: dict[str, Any], repeatable: bool = True,
             overrides: Optional[dict] = None) -> dict[str, Any]:
        if _offline.get():  # as the real choke point: no call at all
            raise NotNow(f"{op}: not asked now")
        self.calls.append(op)
        self._maybe_fail(op)
        if op == "List":
            names = sorted(self.notes)
            start = p.get("Token", 0)
            page = [{"Name": n, "Text": self.notes[n][0], "Version": self.notes[n][1]} for n in names[start:start + 2]]
            return {"Notes": page, **({"Next": start + 2} if start + 2 < len(names) else {})}
        if op == "Get":
            got = self.notes.get(p["Name"])
            return {"Note": {"Name": p["Name"], "Text": got[0], "Version": got[1]}} if got else {}
        if op == "BatchGet":
            return {"Notes": [{"Name": n, "Text": self.notes[n][0], "Version": self.notes[n][1]}
                              for n in p["Names"] if n in self.notes]}
        if op == "Put":
            cur = self.notes.get(p["Name"])
            if cur is None or "Expect" in p and cur[1] != p["Expect"]:
                raise RemoteError(errno.ESTALE, "ConditionFailed: version", "ConditionFailed")
            self.notes[p["Name"]] = (p["Text"], cur[1] + 1)
            return {"Version": cur[1] + 1}
        if op == "Create":
            if p["Name"] in self.notes:
                raise RemoteError(errno.ESTALE, "ConditionFailed: exists", "ConditionFailed")
            self.notes[p["Name"]] = (p["Text"], 1)
            return {"Version": 1}
        raise AssertionError(op)

    def page(self, service: str, region: str, op: str, token: Any, params: dict) -> tuple[dict, Any]:
        page = self.call(service, region, op, **({**params, "Token": token} if token else params))
        return page, page.get("Next")

    def call_many(self, service: str, region: str, op: str, params: list[dict], timeout=None) -> list[dict]:
        return [self.call(service, region, op, **p) for p in params]


class Notes(kit.Collection):
    root, service, op, name, one = "toy", "toy", "List", "notes", "note"
    batch = 10
    absent = "no such note"
    is_small = False

    def entries(self, page: dict) -> list[tuple[str, Any]]:
        return [(n["Name"], n) for n in page["Notes"]]

    def addressable(self, group: Optional[str], name: str) -> Optional[bool]:
        if name.startswith("~"):
            return None       # only the listing knows it
        return not name.startswith("!")

    def get(self, group: Optional[str], name: str) -> Optional[dict]:
        return self.ctx.aws.call("toy", self.region, "Get", Name=name).get("Note")

    def get_batch(self, group: Optional[str], names: list[str]) -> dict[str, Any]:
        found = {n["Name"]: n for n in self.ctx.aws.call("toy", self.region, "BatchGet", Names=names)["Notes"]}
        return {n: found.get(n) for n in names}

    def small(self) -> bool:
        return self.is_small


class NoteFile(kit.RegionNode, kit.Document):
    what, service_name = "note", "Toy"

    def note(self) -> dict:
        return Notes(self.ctx, self.region_ok()).lookup(self.params["name"], self.path)

    def check(self) -> None:
        self.note()

    def content(self) -> bytes:
        return json.dumps({"name": self.params["name"], "text": self.note()["Text"]}).encode()

    def parse(self, data: bytes) -> dict:
        try:
            value = json.loads(data)
        except ValueError as e:
            raise InputError(errno.EINVAL, f"line {e.lineno} column {e.colno}: {e.msg}") from None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise InputError(errno.EINVAL, "a note is {\"name\": ..., \"text\": ...}")
        return value

    def same(self, a: dict, b: dict) -> bool:
        return a["text"] == b["text"]

    def identity(self, value: dict) -> Any:
        return value.get("name")

    def fresh(self, value: dict) -> Optional[dict]:
        got = self.ctx.aws.call("toy", R, "Get", Name=self.params["name"]).get("Note")
        return None if got is None else {"name": got["Name"], "text": got["Text"], "version": got["Version"]}

    def put(self, value: dict, base: dict) -> Mutation:
        return Mutation("toy", R, "Put", {"Name": self.params["name"], "Text": value["text"]},
                        [("toy", R)], f"put {self.params['name']}")

    def condition(self, m: Mutation, seen: dict) -> None:
        m.params["Expect"] = seen["version"]

    def create(self, value: dict) -> Mutation:
        return Mutation("toy", R, "Create", {"Name": self.params["name"], "Text": value["text"]},
                        [("toy", R)], f"create {self.params['name']}")


@pytest.fixture
def toy():
    aws = ToyAws({"a": "alpha", "b": "beta", "c": "gamma", "~long": "only listed"})
    ctx = Context(aws, [R], cache_ttl=60)  # type: ignore[arg-type]
    return aws, ctx, Transactions(aws, ctx.cache)  # type: ignore[arg-type]


def doc(ctx, name: str) -> NoteFile:
    return NoteFile(ctx, f"/toy/{R}/{name}", region=R, name=name)


# -- collections ------------------------------------------------------------------------------------

def test_a_listing_pages_as_far_as_it_is_read_and_then_answers_lookups(toy):
    aws, ctx, _ = toy
    notes = Notes(ctx, R)
    first = next(notes.listing().iter_from(0))
    assert first[0] == "a" and aws.calls == ["List"]          # one page, as far as it was read
    assert [n for n, _ in notes.listing().iter_from(0)] == ["a", "b", "c", "~long"]
    assert aws.calls == ["List", "List"]
    assert notes.lookup("b", "/p")["Text"] == "beta"
    with pytest.raises(FsError) as e:
        notes.lookup("zzz", "/p")
    assert e.value.errno == errno.ENOENT and "no such note" in e.value.reason
    assert aws.calls == ["List", "List"]                       # the listing answered both


def test_without_a_listing_one_get_and_a_definite_absence_is_cached(toy):
    aws, ctx, _ = toy
    assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
    for _ in range(2):
        with pytest.raises(FsError) as e:
            Notes(ctx, R).lookup("nope", "/p")
        assert e.value.errno == errno.ENOENT
    assert aws.calls == ["Get", "Get"]                         # the absence was asked once


def test_a_failed_get_is_not_cached_and_not_absent(toy):
    aws, ctx, _ = toy
    aws.fail["Get"] = FsError(errno.EIO, "damaged answer")
    with pytest.raises(FsError) as e:
        Notes(ctx, R).lookup("a", "/p")
    assert e.value.errno == errno.EIO
    assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"  # asked again, and found
    assert aws.calls == ["Get", "Get"]


def test_a_failed_page_is_not_the_end_of_the_listing(toy):
    aws, ctx, _ = toy
    listing = Notes(ctx, R).listing()
    listing.ensure(1)
    aws.fail["List"] = FsError(errno.EAGAIN, "throttled")
    with pytest.raises(FsError):
        listing.ensure()
    assert not listing.complete
    assert [n for n, _ in listing.iter_from(0)] == ["a", "b", "c", "~long"]


def test_a_name_no_get_can_fetch_is_found_in_the_listing_or_is_absent(toy):
    aws, ctx, _ = toy
    assert Notes(ctx, R).lookup("~long", "/p")["Text"] == "only listed"
    assert aws.calls == ["List", "List"]
    with pytest.raises(FsError) as e:
        Notes(ctx, R).lookup("!bad", "/p")                      # no note can have this name
    assert e.value.errno == errno.ENOENT and aws.calls == ["List", "List"]


def test_a_small_collection_is_listed_instead_of_fetched_one_by_one(toy):
    aws, ctx, _ = toy
    del aws.notes["c"], aws.notes["~long"]  # all of it fits one page
    Notes.is_small = True
    try:
        assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
        assert Notes(ctx, R).lookup("b", "/p")["Text"] == "beta"
        with pytest.raises(FsError):
            Notes(ctx, R).lookup("c", "/p")
    finally:
        Notes.is_small = False
    assert aws.calls == ["List"]  # one page answered all three


def test_a_small_collection_that_does_not_fit_a_page_is_still_fetched_alone(toy):
    aws, ctx, _ = toy
    Notes.is_small = True  # its figures said small, but the first page is not all of it
    try:
        assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
    finally:
        Notes.is_small = False
    assert aws.calls == ["List", "Get"]


def test_the_names_a_command_gives_are_fetched_in_one_batch(toy, monkeypatch):
    aws, ctx, _ = toy
    ctx.caller_pid = lambda: 4242
    monkeypatch.setattr(kit.caller, "named_from", lambda pid, name, limit: ["a", "b", "nope", "!bad"][["a", "b", "nope", "!bad"].index(name):])
    assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
    assert Notes(ctx, R).lookup("b", "/p")["Text"] == "beta"
    with pytest.raises(FsError):
        Notes(ctx, R).lookup("nope", "/p")                     # the batch's definite absence
    assert aws.calls == ["BatchGet"]


def test_a_failed_batch_leaves_each_lookup_to_its_own_get(toy, monkeypatch):
    aws, ctx, _ = toy
    ctx.caller_pid = lambda: 4343
    monkeypatch.setattr(kit.caller, "named_from", lambda pid, name, limit: ["a", "b"][["a", "b"].index(name):])
    aws.fail["BatchGet"] = FsError(errno.EACCES, "not allowed")
    assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
    assert Notes(ctx, R).lookup("b", "/p")["Text"] == "beta"
    assert aws.calls == ["BatchGet", "Get", "Get"]             # tried once, not for every file


def test_write_through_shows_a_saved_entry_without_asking_again(toy):
    aws, ctx, _ = toy
    notes = Notes(ctx, R)
    notes.listing().ensure()
    notes.put("d", {"Name": "d", "Text": "delta", "Version": 1})
    notes.drop("a")
    assert notes.lookup("d", "/p")["Text"] == "delta"
    with pytest.raises(FsError):
        notes.lookup("a", "/p")
    assert [n for n, v in notes.listing().iter_from(0, values=False) if v is not Listing.GONE] == \
        ["b", "c", "~long", "d"]
    assert aws.calls == ["List", "List"]


def test_a_hierarchy_is_made_from_names_holding_slashes():
    listing = Listing(lambda token: ([("/app/db/host", 1), ("/app/db/port", 2), ("/app/name", 3), ("top", 4),
                                      ("/app/db", 5)], None))
    tree = kit.Hierarchy(listing, lambda n: n.strip("/").split("/"))
    assert tree.children(()) == {"app": "dir", "top": "file"}
    assert tree.children(("app",)) == {"db": "dir", "name": "file"}  # a name that is also a directory: the directory wins
    assert tree.children(("app", "db")) == {"host": "file", "port": "file"}
    assert tree.children(("nope",)) is None
    listing.put("/app/new", 6)
    assert "new" in tree.children(("app",))                    # worked out anew after a change


def test_rest_of_path_routes_capture_names_with_slashes(toy):
    _, ctx, _ = toy
    seen = []

    def make(ctx, path, **params):
        seen.append(params)
        return doc(ctx, "a")
    router = Router([("/toy/{region}/fixed", lambda ctx, path, **p: None), ("/toy/{region}/{name...}", make)])
    router.resolve(ctx, "/toy/us-east-1/app/db/host")
    router.resolve(ctx, "/toy/us-east-1/fixed")  # the fixed pattern declines: the rest pattern takes it
    assert seen == [{"region": R, "name": "app/db/host"}, {"region": R, "name": "fixed"}]
    with pytest.raises(FsError):
        router.resolve(ctx, "/toy/us-east-1")


# -- documents ------------------------------------------------------------------------------------

def test_an_unchanged_save_makes_no_call(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    assert d.plan(base, base) == []


def test_a_save_is_checked_against_what_the_writer_read_then_put_conditionally(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    tx.run(d.path, d.plan(base, json.dumps({"name": "a", "text": "ALPHA"}).encode()))
    assert aws.notes["a"] == ("ALPHA", 2)
    assert aws.calls[-2:] == ["Get", "Put"]


def test_a_save_over_a_change_made_since_reading_is_estale_and_keeps_it(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    aws.notes["a"] = ("theirs", 2)
    with pytest.raises(FsError) as e:
        tx.run(d.path, d.plan(base, json.dumps({"name": "a", "text": "mine"}).encode()))
    assert e.value.errno == errno.ESTALE and "changed in Toy since you read it" in e.value.reason
    assert aws.notes["a"] == ("theirs", 2)


def test_the_same_content_already_there_is_no_conflict(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    aws.notes["a"] = ("mine", 2)  # someone made the same change (an editor putting its backup back)
    tx.run(d.path, d.plan(base, json.dumps({"name": "a", "text": "mine"}).encode()))
    assert aws.notes["a"][0] == "mine"


def test_a_create_that_finds_the_name_taken_is_eexist(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "new")
    aws.notes["new"] = ("theirs", 1)
    with pytest.raises(FsError) as e:
        tx.run(d.path, d.plan(None, json.dumps({"name": "new", "text": "mine"}).encode()))
    assert e.value.errno == errno.EEXIST and "already exists" in e.value.reason
    assert aws.notes["new"] == ("theirs", 1)


def test_bad_content_and_a_changed_identity_are_refused_before_any_call(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    calls = len(aws.calls)
    with pytest.raises(InputError) as e:
        d.plan(base, b'{"name": "a",\n "text": }')
    assert e.value.errno == errno.EINVAL and "line 2 column" in e.value.reason
    with pytest.raises(InputError):
        d.plan(base, json.dumps({"name": "b", "text": "x"}).encode())
    assert len(aws.calls) == calls


def test_an_unknown_outcome_is_verified_and_not_sent_twice(toy):
    aws, ctx, tx = toy
    d = doc(ctx, "a")
    base = d.content()
    real = aws.send

    def lost_answer(service, region, op, p, repeatable=True, overrides=None):
        answer = real(service, region, op, p)
        if op == "Put":  # applied, but the answer was lost on the way back
            err = RemoteError(errno.EIO, "connection closed", "ConnectionClosedError")
            err.unknown = True  # type: ignore[attr-defined]
            raise err
        return answer
    aws.send = lost_answer  # type: ignore[method-assign]
    tx.run(d.path, d.plan(base, json.dumps({"name": "a", "text": "once"}).encode()))
    assert aws.notes["a"] == ("once", 2) and aws.calls.count("Put") == 1


def test_one_line_values_strip_one_newline_and_refuse_a_second_line():
    assert kit.one_line(b"value\n") == "value"
    assert kit.one_line(b"value") == "value"
    with pytest.raises(InputError):
        kit.one_line(b"two\nlines\n")
    with pytest.raises(InputError):
        kit.one_line(b"\xff\n")


# -- the File contract: big and growing content ------------------------------------------------------

def test_a_streamed_growing_file_is_served_by_ranges_and_never_whole(toy):
    """What a log stream or a big S3 object declares: its size from metadata, ranges on demand,
    content that grows while open (a reader's offsets never shift, reads go past the last size)."""
    from awsfs.fs import Filesystem
    from awsfs.nodes import File, StaticDir

    log = bytearray(b"first line\n")
    reads: list[tuple[int, int]] = []

    class Stream(File):
        streamed = True
        volatile = True

        def content(self) -> bytes:
            raise AssertionError("a streamed file is never produced whole")

        def size(self) -> int:
            return len(log)

        def read(self, offset: int, size: int) -> bytes:
            reads.append((offset, size))
            return bytes(log[offset:offset + size])

        def mtime_hint(self):
            return 1_000_000.0 + len(log)

    class Top(StaticDir):
        children = (("stream", "file"),)

    aws, ctx, _ = toy
    fs = Filesystem(aws, [R])  # type: ignore[arg-type]
    fs.router = Router([("/", Top), ("/stream", Stream)])
    assert fs.getattr("/stream").size == 11
    fh = fs.open("/stream", 0)
    assert fs.read("/stream", 5, 0, fh) == b"first"
    log.extend(b"second line\n")
    st = fs.getattr("/stream", fh)
    assert st.size == 23 and st.mtime == 1_000_023.0          # grows while open, never memoized
    assert fs.read("/stream", 100, 11, fh) == b"second line\n"  # past the size seen at open
    assert fs.read("/stream", 100, 23, fh) == b""
    assert reads == [(0, 5), (11, 100), (23, 100)]
    fs.release("/stream", fh)


def test_a_lookup_made_offline_does_not_stop_the_batch_for_the_next_ones(toy, monkeypatch):
    """READDIRPLUS asks for attributes without AWS calls: that is no failed batch."""
    from awsfs.aws import offline

    aws, ctx, _ = toy
    ctx.caller_pid = lambda: 4444
    monkeypatch.setattr(kit.caller, "named_from", lambda pid, name, limit: ["a", "b"][["a", "b"].index(name):])
    with offline(), pytest.raises(FsError) as e:
        Notes(ctx, R).lookup("a", "/p")
    assert e.value.errno == errno.EWOULDBLOCK
    assert Notes(ctx, R).lookup("a", "/p")["Text"] == "alpha"
    assert Notes(ctx, R).lookup("b", "/p")["Text"] == "beta"
    assert aws.calls == ["BatchGet"]


def test_a_throttled_batch_is_a_failure_and_the_next_lookups_go_one_by_one(toy, monkeypatch):
    """Throttling's EAGAIN is EWOULDBLOCK's number on Linux; still, a batch throttled for good
    is given up and not tried again for each of the command's next names."""
    aws, ctx, _ = toy
    ctx.caller_pid = lambda: 4445
    names = ["a", "b", "c"]
    monkeypatch.setattr(kit.caller, "named_from", lambda pid, name, limit: names[names.index(name):])
    aws.fail["BatchGet"] = RemoteError(errno.EAGAIN, "Throttling: slow down", "Throttling")
    assert [Notes(ctx, R).lookup(n, "/p")["Text"] for n in names] == ["alpha", "beta", "gamma"]
    assert aws.calls == ["BatchGet", "Get", "Get", "Get"]


class VersionedNote(NoteFile):
    """Checked by version, not by content: what a reader saw is remembered with the version."""

    def content(self) -> bytes:
        note = self.note()
        return self.shown(super().content(), note["Version"])

    def parse(self, data: bytes) -> dict:
        return {**super().parse(data), "version": self.seen(data)}

    def same(self, a: dict, b: dict) -> bool:
        return a["version"] == b["version"] if a.get("version") and b.get("version") else super().same(a, b)


def test_a_document_knows_the_version_its_reader_saw_and_a_rewrite_of_the_same_text_is_stale(toy):
    """Someone saved the same text again (a new version) after this file was read: still a conflict
    for a service that checks versions; the version comes from what the reader got, not a re-read."""
    aws, ctx, tx = toy
    d = VersionedNote(ctx, f"/toy/{R}/a", region=R, name="a")
    base = d.content()
    assert d.seen(base) == 1 and d.seen(base + b" ") is None
    aws.notes["a"] = ("alpha", 2)
    with pytest.raises(FsError) as e:
        tx.run(d.path, d.plan(base, json.dumps({"name": "a", "text": "mine"}).encode()))
    assert e.value.errno == errno.ESTALE and aws.notes["a"] == ("alpha", 2)
    assert VersionedNote(ctx, f"/toy/{R}/b", region=R, name="b").seen(base) is None  # per file


class NoteTree(kit.NamesDir):
    """The toy's notes whose names hold '/', as directories (one complete listing)."""
    document = NoteFile

    def names(self, parts):
        listing = Notes(self.ctx, self.region_ok()).listing()
        return kit.Hierarchy(listing, lambda n: n.split("/")).children(parts)

    def invalid(self, key):
        return "" if "!" not in key else "note names have no '!'"

    @classmethod
    def variant(cls, ctx, path, region, name):
        return File(ctx, path) if name.endswith("@old") else None


def test_a_names_directory_tells_things_from_prefixes_and_makes_new_names_below_it():
    aws = ToyAws({"app/db": "x", "app/web/port": "80", "top": "t"})
    ctx = Context(aws, [R], cache_ttl=60)  # type: ignore[arg-type]
    node = lambda name: NoteTree.node(ctx, f"/toy/{R}/{name}", R, name)  # noqa: E731
    assert isinstance(node("top"), NoteFile) and isinstance(node("app/db"), NoteFile)
    app = node("app")
    assert type(app) is NoteTree and app.entries() == [("db", FILE), ("web", DIR)]
    assert app.made_of_entries and not NoteTree(ctx, f"/toy/{R}", region=R).made_of_entries
    assert type(node("top@old")) is File                       # a variant name is no thing's
    with pytest.raises(FsError) as e:
        node("nope").check()                                   # no name goes on below it
    assert e.value.errno == errno.ENOENT
    new = app.child_for_create("cache")
    assert isinstance(new, NoteFile) and new.params == {"region": R, "name": "app/cache"}
    with pytest.raises(InputError) as e:
        app.child_for_create("bad!")
    assert e.value.errno == errno.EINVAL and "no '!'" in e.value.reason
    assert app.allows_mkdir("logs") and not app.allows_mkdir(".x.swp") and not app.allows_mkdir("a!b")
    assert aws.calls == ["List", "List"]                       # one listing answered every question


def test_a_collection_without_a_single_get_answers_from_its_whole_listing_even_one_being_read(toy):
    """A lookup that finds a listing not yet read to its end (refreshed meanwhile by another
    command) reads it on; it never asks for a single entry it has no call for."""
    aws, ctx, _ = toy

    class Listed(Notes):
        one = None
    listing = Listed(ctx, R).listing()
    listing.ensure(1)                       # one page of two known: "c" is further on
    assert not listing.complete
    assert Listed(ctx, R).lookup("c", "/p")["Text"] == "gamma"
    assert aws.calls == ["List", "List"]
