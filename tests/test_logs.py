"""CloudWatch Logs without a mount: the filesystem driven directly, Logs checked with boto3."""
import errno
import os
import time

import pytest

from awsfs.errors import FsError
from helpers import read

R = "us-east-1"
W = os.O_WRONLY


@pytest.fixture
def lfs(make_fs):
    return make_fs(regions=[R])


@pytest.fixture
def group(log_group):
    return log_group




def test_groups_are_directories_and_their_events_are_lines(lfs, boto, group, put_log):
    g = group("api", streams=("2026/12/02/[$LATEST]abc", "other"))
    put_log(g, "2026/12/02/[$LATEST]abc", "START", "multi\nline")
    put_log(g, "other", "from other")
    d = f"/logs/{R}{g}"
    assert set(lfs.listdir(d)) == {"@events", "@info.json", "@retention", "@streams"}
    assert g.split("/")[2] in lfs.listdir(f"/logs/{R}/it")
    streams = lfs.listdir(f"{d}/@streams")
    assert len(streams) == 2 and "other" in streams
    lambda_stream = next(s for s in streams if s != "other")
    assert "/" not in lambda_stream
    text = read(lfs, f"{d}/@streams/{lambda_stream}").decode()
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
    path = f"/logs/{R}{g}/@streams/s1"
    fh = lfs.open(path, os.O_RDONLY)
    first = lfs.getattr(path, fh).size
    assert lfs.read(path, 1 << 16, 0, fh).endswith(b" one\n")
    calls = lfs.aws.calls["logs:GetLogEvents"]
    for _ in range(5):
        assert lfs.getattr(path, fh).size == first   # within a second: no new call
    assert lfs.aws.calls["logs:GetLogEvents"] == calls
    put_log(g, "s1", "two")
    time.sleep(1.1)
    grown = lfs.getattr(path, fh).size
    assert grown > first
    assert lfs.read(path, 1 << 16, first, fh).endswith(b" two\n")  # appended: earlier offsets unchanged
    assert lfs.aws.calls["logs:GetLogEvents"] - calls <= 2
    lfs.release(path, fh)


def test_appending_a_line_puts_an_event_and_retention_is_writable(lfs, boto, group):
    g = group()
    path = f"/logs/{R}{g}/@streams/s1"
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
    lfs.listdir(f"/logs/{R}{g}/@streams")
    path = f"/logs/{R}{g}/@streams/new"
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
    assert "@since" not in lfs.listdir(d)                                   # not listed: grep -r stays out
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
    sizes = [lfs.getattr(f"/logs/{R}{g}/@streams/{s}").size for s in lfs.listdir(f"/logs/{R}{g}/@streams")]
    assert all(sizes) and lfs.aws.calls["logs:GetLogEvents"] - before == 3
