"""CloudWatch Logs without a mount: the filesystem driven directly, Logs checked with boto3."""
import errno
import os
import stat
import time

import pytest

from awsfs.errors import FsError
from awsfs.services import logs
from helpers import read

R = "us-east-1"
W = os.O_WRONLY


@pytest.fixture
def lfs(make_fs):
    return make_fs(regions=[R])


@pytest.fixture
def group(log_group):
    return log_group


def real(fs, path):
    """``path`` as the kernel sends it: the symbolic links on its way followed (a group's
    ``@streams`` is one, to ``@since/1h/@streams``)."""
    out, parts = "", path.strip("/").split("/")
    for i, p in enumerate(parts):
        out = f"{out}/{p}"
        try:
            kind = fs.getattr(out).kind
        except FsError as e:
            assert e.errno == errno.ENOENT and i == len(parts) - 1  # (a new file)
            return out
        if kind == "link":
            out = os.path.normpath(f"{os.path.dirname(out)}/{fs.readlink(out)}")
    return out


def test_groups_are_directories_and_their_events_are_lines(lfs, boto, group, put_log):
    g = group("api", streams=("2026/12/02/[$LATEST]abc", "other"))
    put_log(g, "2026/12/02/[$LATEST]abc", "START", "multi\nline")
    put_log(g, "other", "from other")
    d = f"/logs/{R}{g}"
    assert set(lfs.listdir(d)) == {"@events", "@filter", "@info.json", "@retention", "@since", "@streams"}
    assert lfs.getattr(f"{d}/@streams").kind == "link"
    assert g.split("/")[2] in lfs.listdir(f"/logs/{R}/it")
    level = {n: m for n, m, *_ in lfs.readdir(f"/logs/{R}/it/{g.split('/')[2]}")}
    assert stat.S_ISDIR(level["api"])  # a group with no sub-group is a directory too (find goes in)
    assert lfs.readlink(f"{d}/@streams") == "@since/1h/@streams"
    streams = lfs.listdir(real(lfs, f"{d}/@streams"))
    assert len(streams) == 2 and "other" in streams
    lambda_stream = next(s for s in streams if s != "other")
    assert "/" not in lambda_stream
    text = read(lfs, real(lfs, f"{d}/@streams/{lambda_stream}")).decode()
    lines = text.splitlines()
    assert lines[0].endswith("Z START") and lines[1].endswith("Z multi") and lines[2] == "line"
    assert "T" in lines[0].split()[0] and lines[0].split()[0].count(":") == 2
    events = read(lfs, f"{d}/@events").decode()
    assert " other from other" in events and "START" in events
    assert read(lfs, f"{d}/@retention") == b"never\n"
    assert b'"logGroupName"' in read(lfs, f"{d}/@info.json")


def test_a_followed_file_grows_from_its_forward_token_once_a_second_at_most(lfs, boto, group, put_log):
    g = group()
    put_log(g, "s1", "one")
    path = real(lfs, f"/logs/{R}{g}/@streams/s1")
    fh = lfs.open(path, os.O_RDONLY)
    first = lfs.getattr(path, fh).size
    assert lfs.read(path, 1 << 16, 0, fh).endswith(b" one\n")
    calls = lfs.aws.calls["logs:GetLogEvents"]
    for _ in range(5):
        assert lfs.getattr(path, fh).size == first   # within a second: no new call
    assert lfs.aws.calls["logs:GetLogEvents"] == calls
    put_log(g, "s1", "two")
    time.sleep(1.1)
    assert lfs.read(path, 5, 0, fh) and lfs.aws.calls["logs:GetLogEvents"] == calls  # a read within it: no call
    grown = lfs.getattr(path, fh).size
    assert grown > first
    assert lfs.read(path, 1 << 16, first, fh).endswith(b" two\n")  # appended: earlier offsets unchanged
    assert lfs.aws.calls["logs:GetLogEvents"] - calls <= 2
    lfs.release(path, fh)


def test_appending_a_line_puts_an_event_and_retention_is_writable(lfs, boto, group):
    g = group()
    path = real(lfs, f"/logs/{R}{g}/@streams/s1")
    fh = lfs.open(path, W | os.O_APPEND)
    lfs.write(path, b"hello from awsfs\nsecond\n", 0, fh)
    lfs.release(path, fh)
    got = boto("logs", R).get_log_events(logGroupName=g, logStreamName="s1", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["hello from awsfs", "second"]
    assert read(lfs, path).decode().splitlines()[-1].endswith(" second")
    fh = lfs.open(f"/logs/{R}{g}/@retention", W | os.O_TRUNC)
    lfs.write(f"/logs/{R}{g}/@retention", b"30\n", 0, fh)
    lfs.release(f"/logs/{R}{g}/@retention", fh)
    assert boto("logs", R).describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 30
    with pytest.raises(FsError) as e:
        fh = lfs.open(f"/logs/{R}{g}/@retention", W | os.O_TRUNC)
        lfs.write(f"/logs/{R}{g}/@retention", b"31\n", 0, fh)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(FsError) as e:
        lfs.unlink(path)
    assert e.value.errno == errno.EPERM


def test_writing_a_new_stream_creates_it(lfs, boto, group):
    g = group(streams=())
    path = real(lfs, f"/logs/{R}{g}/@streams/new")
    lfs.listdir(os.path.dirname(path))
    fh = lfs.create(path, 0o644, W | os.O_CREAT)
    lfs.write(path, b"first line\n", 0, fh)
    lfs.flush(path, fh)
    lfs.release(path, fh)
    got = boto("logs", R).get_log_events(logGroupName=g, logStreamName="new", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["first line"]


def test_a_window_is_read_without_remounting_and_a_filter_costs_its_matches(lfs, boto, group, put_log):
    g = group()
    old = time.time() - 3 * 3600
    put_log(g, "s1", "old ERROR", "old fine", at=old)
    put_log(g, "s1", "new ERROR", "new fine")
    d = f"/logs/{R}{g}"
    assert "old" not in read(lfs, f"{d}/@events").decode()                 # the last hour by default
    since = read(lfs, f"{d}/@since/4h/@events").decode()
    assert "old ERROR" in since and "new fine" in since
    assert "old fine" in read(lfs, f"{d}/@since/4h/@streams/s1").decode()
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(old - 60))
    assert "old fine" in read(lfs, f"{d}/@since/{iso}/@events").decode()
    hits = read(lfs, f"{d}/@since/4h/@filter/ERROR/events").decode().splitlines()
    assert [h.split(" ", 2)[2] for h in hits] == ["old ERROR", "new ERROR"]
    assert sorted(lfs.listdir(f"{d}/@since/4h")) == ["@events", "@filter", "@streams"]
    assert lfs.listdir(f"{d}/@since") == lfs.listdir(f"{d}/@filter") == []  # listed, empty: grep -r finds nothing
    with pytest.raises(FsError) as e:
        read(lfs, f"{d}/@since/yesterday/@events")
    assert e.value.errno == errno.ENOENT


def test_the_default_window_is_a_mount_setting(make_fs, boto, group, put_log):
    g = group()
    put_log(g, "s1", "two hours ago", at=time.time() - 2 * 3600)
    lfs = make_fs(regions=[R])
    lfs.ctx.settings["logs_since"] = 3 * 3600
    assert "two hours ago" in read(lfs, f"/logs/{R}{g}/@events").decode()


def test_every_level_of_a_query_path_is_a_directory_and_odd_names_never_fail(lfs, boto, group, put_log):
    """The kernel looks up @since, then @since/2h, then the file: each level answers."""
    g = group()
    put_log(g, "s1", "an ERROR")
    d = f"/logs/{R}{g}"
    assert lfs.getattr(f"{d}/@since").kind == "dir" and lfs.listdir(f"{d}/@since") == []
    assert lfs.getattr(f"{d}/@since/2h").kind == "dir" and lfs.getattr(f"{d}/@filter").kind == "dir"
    assert lfs.getattr(f"{d}/@since/2h/@filter/ERROR").kind == "dir"
    assert read(lfs, f"{d}/@since/2h/@filter/ERROR/events").decode().endswith(" an ERROR\n")
    with pytest.raises(FsError) as e:
        lfs.getattr(f"{d}/@nonsense")
    assert e.value.errno == errno.ENOENT
    boto("logs", R).create_log_group(logGroupName=f"{g}//odd")     # an empty component: not shown
    try:
        assert "odd" not in lfs.listdir(d) and "@events" in lfs.listdir(d)
    finally:
        boto("logs", R).delete_log_group(logGroupName=f"{g}//odd")
    with pytest.raises(FsError) as e:
        lfs.mkdir(f"{d}/bad name", 0o755)
    assert e.value.errno == errno.EACCES and "letters, digits" in e.value.reason
    lfs.mkdir(f"{d}/worker", 0o755)                                  # CreateLogGroup, named like its parent
    try:
        assert boto("logs", R).describe_log_groups(logGroupNamePrefix=f"{g}/worker")["logGroups"]
        assert "@events" in lfs.listdir(f"{d}/worker") and "worker" in lfs.listdir(d)
    finally:
        boto("logs", R).delete_log_group(logGroupName=f"{g}/worker")


def test_ls_l_of_streams_costs_one_call_per_stream(lfs, boto, group, put_log):
    g = group(streams=("a", "b", "c"))
    for s in "abc":
        put_log(g, s, f"in {s}")
    before = lfs.aws.calls["logs:GetLogEvents"]
    d = real(lfs, f"/logs/{R}{g}/@streams")
    sizes = [lfs.getattr(f"{d}/{s}").size for s in lfs.listdir(d)]
    assert all(sizes) and lfs.aws.calls["logs:GetLogEvents"] - before == 3


# -- memory: a large file is read stretch by stretch, asked for again when a reader seeks back ----

def fill(boto, g, stream, n, at, step=1, width=40):
    """``n`` events into ``stream`` with boto3, ``step`` ms apart from ``at`` (ms); returns them."""
    events = [{"timestamp": at + i * step, "message": f"{stream} event {i:05d} " + "x" * width} for i in range(n)]
    for k in range(0, n, 5000):
        boto("logs", R).put_log_events(logGroupName=g, logStreamName=stream, logEvents=events[k:k + 5000])
    return events


def filtered(boto, g, since):
    """@events as a boto3 FilterLogEvents loop renders it (the truth the file is checked against)."""
    out, kw = [], {"logGroupName": g, "startTime": since}
    while True:
        page = boto("logs", R).filter_log_events(**kw)
        out += [logs.line_of(e, stream=True) for e in page["events"]]
        if not page.get("nextToken"):
            return b"".join(out)
        kw["nextToken"] = page["nextToken"]


KEEP = 4096  # the bytes the test mount keeps, in all: the files are about 20x that


@pytest.mark.parametrize("which", ["stream", "events"])
def test_a_file_much_larger_than_the_kept_window_is_read_and_read_back_identically(make_fs, boto, group,
                                                                                   monkeypatch, which):
    monkeypatch.setattr(logs, "PAGE", 25)         # GetLogEvents pages of 25 events (about 2 KB)
    monkeypatch.setattr(logs, "EVENTS_PAGE", 25)  # FilterLogEvents too
    monkeypatch.setattr(logs, "POLL", 3600)       # no poll but the first while the test reads
    g = group(streams=("a", "b"))
    at = int(time.time() * 1000) - 600_000
    events = fill(boto, g, "a", 1000, at, step=2)
    fill(boto, g, "b", 500, at + 1, step=2)
    lfs = make_fs(regions=[R])
    lfs.ctx.settings["logs_keep_bytes"] = KEEP
    op = "logs:GetLogEvents" if which == "stream" else "logs:FilterLogEvents"
    calls = lambda: lfs.aws.calls[op]
    before = calls()
    if which == "stream":
        path = real(lfs, f"/logs/{R}{g}/@streams/a")
        want = b"".join(logs.line_of(e) for e in events)
    else:
        path = f"/logs/{R}{g}/@events"
        want = filtered(boto, g, at - 1)
    assert len(want) > 15 * KEEP
    fh = lfs.open(path, os.O_RDONLY)
    assert lfs.getattr(path, fh).size == len(want)  # the size: every page once
    pages = calls() - before
    assert pages >= len(want) // 2500
    window = logs.place(lfs.ctx).window
    assert window.bytes <= KEEP                      # what it keeps: never the whole file
    before = calls()
    assert lfs.read(path, 100, 0, fh) == want[:100] and calls() == before  # its start: kept (cat starts there)

    before = calls()
    got = b"".join(lfs.read(path, 4096, off, fh) for off in range(0, len(want), 4096))
    assert got == want                               # cat: the same bytes, asked for again stretch by stretch
    assert 0 < calls() - before <= pages             # each stretch at most once for a sequential reader
    assert window.bytes <= KEEP

    before = calls()
    for off in (0, len(want) // 2, 37, len(want) - 10):  # seeking back: the same bytes at the same offsets
        assert lfs.read(path, 3000, off, fh) == want[off:off + 3000]
    assert 0 < calls() - before <= 4 * 2             # each read spans at most two stretches
    assert window.bytes <= KEEP

    more = fill(boto, g, "a", 3, at + 5000, step=2, width=3)[0]["timestamp"]
    lfs.node(path).follow().polled = float("-inf")  # it still grows, from where AWS goes on
    before = calls()
    grown = lfs.getattr(path, fh).size
    assert calls() - before == 1 and grown > len(want)
    tail = lfs.read(path, 1 << 16, len(want), fh)
    assert tail.endswith(b" a event 00002 xxx\n") and len(tail) == grown - len(want) and more
    lfs.release(path, fh)


@pytest.mark.parametrize("which", ["stream", "events"])
def test_bytes_that_aws_no_longer_returns_as_they_were_are_eio_never_other_bytes(make_fs, boto, group,
                                                                                 monkeypatch, which):
    monkeypatch.setattr(logs, "PAGE", 25)
    monkeypatch.setattr(logs, "EVENTS_PAGE", 25)
    monkeypatch.setattr(logs, "POLL", 3600)
    g = group(streams=("a",))
    at = int(time.time() * 1000) - 600_000
    events = fill(boto, g, "a", 500, at)
    lfs = make_fs(regions=[R])
    lfs.ctx.settings["logs_keep_bytes"] = KEEP
    path = real(lfs, f"/logs/{R}{g}/@streams/a") if which == "stream" else f"/logs/{R}{g}/@events"
    want = b"".join(logs.line_of({**e, "logStreamName": "a"}, stream=which == "events") for e in events)
    fh = lfs.open(path, os.O_RDONLY)
    assert lfs.getattr(path, fh).size == len(want)
    assert lfs.read(path, 100, 0, fh) == want[:100]   # asked for again: the same
    for off in range(len(want) // 2, len(want), 4096):
        lfs.read(path, 4096, off, fh)                  # (the start is no longer kept)
    # AWS changes what it has before them (an event that arrives late, with an older time)
    boto("logs", R).put_log_events(logGroupName=g, logStreamName="a",
                                   logEvents=[{"timestamp": at - 1, "message": "late"}])
    with pytest.raises(FsError) as e:
        lfs.read(path, 100, 0, fh)
    assert e.value.errno == errno.EIO and "not what AWS returned before" in e.value.reason
    calls = lfs.aws.calls[f"logs:{'GetLogEvents' if which == 'stream' else 'FilterLogEvents'}"]
    with pytest.raises(FsError) as e:
        lfs.read(path, 100, 0, fh)                     # known broken: EIO without asking again
    assert e.value.errno == errno.EIO
    assert lfs.aws.calls[f"logs:{'GetLogEvents' if which == 'stream' else 'FilterLogEvents'}"] == calls
    lfs.release(path, fh)


# -- what a recursive reader sees -----------------------------------------------------------------

def walk(fs, path, seen):
    """What ``grep -r`` does: list, stat each entry, read each file whole, go into each directory;
    symbolic links not followed."""
    for name in fs.listdir(path):
        p = f"{path}/{name}"
        kind = fs.getattr(p).kind
        if kind == "dir":
            walk(fs, p, seen)
        elif kind == "file":
            seen[p] = read(fs, p)


def test_grep_r_over_groups_reads_each_event_once_from_their_event_pages(make_fs, boto, log_group, put_log,
                                                                         monkeypatch):
    monkeypatch.setattr(logs, "POLL", 3600)  # (one poll per file, however long the walk takes)
    groups = [log_group(f"svc{i}", streams=("a", "b", "c")) for i in range(2)]
    for g in groups:
        for s in "abc":
            put_log(g, s, f"{s} ERROR in {g}", f"{s} fine")
    lfs = make_fs(regions=[R])
    top = f"/logs/{R}" + groups[0].rsplit("/", 1)[0]
    lfs.listdir(top)  # the groups' listing
    before = dict(lfs.aws.calls)
    seen: dict = {}
    walk(lfs, top, seen)
    made = {k: v - before.get(k, 0) for k, v in lfs.aws.calls.items() if v - before.get(k, 0)}
    assert made == {"logs:FilterLogEvents": 2}, made
    hits = [ln for data in seen.values() for ln in data.decode().splitlines() if "ERROR" in ln]
    assert len(hits) == 6 and all(ln.count("ERROR") == 1 for ln in hits)  # each event once
    assert sorted(p.rsplit("/", 1)[1] for p in seen) == sorted(["@events", "@info.json", "@retention"] * 2)
