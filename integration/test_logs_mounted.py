"""CloudWatch Logs through a real mount: tail -f, cat, grep -r, echo >>; Logs checked with boto3."""
from __future__ import annotations

import subprocess
import time

import pytest

from conftest import wait_for

R = "us-east-1"


@pytest.fixture
def group(log_group):
    return lambda streams=("app",): log_group("service", streams)




def test_tail_f_shows_an_event_put_with_boto3_within_seconds(mount_awsfs, group, boto, put_log):
    """tail -f of a stream and of the group's @events at once: both show an event put with boto3
    within a few seconds, after the one that was there."""
    g = group()
    put_log(g, "app", "before")
    mnt = mount_awsfs(regions=R)
    tails = [subprocess.Popen(["tail", "-n", "+1", "-f", mnt.p(f"logs/{R}{g}/{rel}")], stdout=subprocess.PIPE,
                              text=True) for rel in ("@streams/app", "@events")]
    try:
        assert [t.stdout.readline() for t in tails][0].endswith(" before\n")
        put_log(g, "app", "after")
        started = time.monotonic()
        lines = [t.stdout.readline() for t in tails]
        assert lines[0].endswith("Z after\n") and lines[1].endswith("Z app after\n"), lines
        assert time.monotonic() - started < 5
    finally:
        for t in tails:
            t.kill()
            t.wait()
            t.stdout.close()


def test_cat_grep_and_echo_append_a_line(mount_awsfs, group, boto, put_log):
    g = group(streams=("app", "worker"))
    put_log(g, "app", "GET / 200", "GET /x 500 ERROR")
    put_log(g, "worker", "job ERROR retry")
    mnt = mount_awsfs(regions=R)
    d = f"logs/{R}{g}"
    hits = mnt.sh(f"grep -rh ERROR {d}/@streams").stdout.splitlines()
    assert sorted(h.split(" ", 1)[1] for h in hits) == ["GET /x 500 ERROR", "job ERROR retry"]
    assert mnt.sh(f"cat {d}/@events | wc -l", executable="/bin/bash").stdout.strip() == "3"
    mnt.sh(f"/bin/echo 'deploy done' >> {d}/@streams/app")
    got = boto("logs", R).get_log_events(logGroupName=g, logStreamName="app", startFromHead=True)["events"]
    assert got[-1]["message"] == "deploy done"
    wait_for(lambda: mnt.sh(f"tail -n 1 {d}/@streams/app").stdout.endswith(" deploy done\n"), what="own line")
    assert mnt.sh(f"cat {d}/@retention").stdout == "never\n"
    mnt.sh(f"/bin/echo 14 > {d}/@retention")
    assert boto("logs", R).describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 14
    r = mnt.sh(f"rm -r {d}/@streams/app", check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    assert mnt.errors().count("never deleted") >= 1


def test_a_window_and_a_filter_through_the_mount(mount_awsfs, group, put_log):
    """The kernel resolves @since, @since/2h, then @events: every level answers."""
    g = group()
    put_log(g, "app", "GET / 200", "GET /x 500 ERROR")
    mnt = mount_awsfs(regions=R)
    d = f"logs/{R}{g}"
    assert mnt.sh(f"cat {d}/@since/2h/@events | wc -l", executable="/bin/bash").stdout.strip() == "2"
    assert mnt.sh(f"cat {d}/@filter/ERROR/events").stdout.endswith(" GET /x 500 ERROR\n")
    assert mnt.sh(f"ls {d}/@since/1d").stdout.split() == ["@events", "@filter", "@streams"]


def test_grep_r_over_groups_reads_each_event_once_and_no_stream(mount_awsfs, log_group, put_log):
    """grep -r over a level of groups: each event once (from @events), @streams (a link) not
    followed: FilterLogEvents per group and no DescribeLogStreams or GetLogEvents. find sees the
    same. (The daemon polls a file once per minute here, so the counts do not depend on timing.)"""
    groups = [log_group(f"svc{i}", ("a", "b")) for i in range(2)]
    for g in groups:
        put_log(g, "a", f"a ERROR in {g}", "a fine")
        put_log(g, "b", f"b ERROR in {g}")
    mnt = mount_awsfs(regions=R, setup="import awsfs.services.logs as l\nl.POLL = 60.0")
    top = f"logs/{R}" + groups[0].rsplit("/", 1)[0]
    assert mnt.sh(f"readlink {top}/svc0/@streams").stdout == "@since/1h/@streams\n"
    assert sorted(mnt.sh(f"ls {top}/svc0/@streams/").stdout.split()) == ["a", "b"]
    mnt.sh(f"ls {top}")
    before = mnt.status()["aws_calls"]
    hits = mnt.sh(f"grep -r ERROR {top}").stdout.splitlines()
    after = mnt.status()["aws_calls"]
    made = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    assert made == {"logs:FilterLogEvents": 2}, made
    assert len(hits) == 4 and all(h.split(":", 1)[0].endswith("/@events") for h in hits), hits
    found = mnt.sh(f"find {top}").stdout.split()
    assert not [p for p in found if "/@streams/" in p] and f"{top}/svc1/@streams" in found


def test_a_stream_larger_than_what_is_kept_reads_the_same_through_cat_tail_and_dd(mount_awsfs, log_group, boto):
    """The daemon keeps 4 KB of log bytes (in stretches of 1 KB, pages of 25 events): cat, tail -c
    and dd (seeking) of an 80 KB stream give what boto3's GetLogEvents gives."""
    from awsfs.services.logs import line_of
    g = log_group("big", ("a",))
    at = int(time.time() * 1000) - 600_000
    events = [{"timestamp": at + i, "message": f"event {i:05d} " + "y" * 40} for i in range(1000)]
    boto("logs", R).put_log_events(logGroupName=g, logStreamName="a", logEvents=events)
    want = b"".join(line_of(e) for e in events)
    mnt = mount_awsfs(regions=R, setup="import awsfs.services.logs as l\nl.KEEP_BYTES = 4096\nl.PAGE = 25")
    f = mnt.p(f"logs/{R}{g}/@streams/a")
    run = lambda *argv: subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout
    assert run("cat", f) == want
    assert run("tail", "-c", "3000", f) == want[-3000:]
    assert run("dd", f"if={f}", "bs=1000", "skip=7", "count=5", "status=none") == want[7000:12000]
    assert run("head", "-c", "2500", f) == want[:2500]
    calls = mnt.status()["aws_calls"]["logs:GetLogEvents"]
    assert calls > 2 * 40  # (pages asked for again: nothing held whole)
