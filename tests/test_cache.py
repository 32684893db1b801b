"""The cache: time limit, single flight, invalidation by prefix, no stale store after a race."""
import threading
import time

from awsfs.cache import Cache


def test_values_expire_after_ttl():
    c = Cache(ttl=0.05)
    calls = []
    c.get(("a",), lambda: calls.append(1) or 1)
    c.get(("a",), lambda: calls.append(1) or 1)
    assert len(calls) == 1
    time.sleep(0.08)
    c.get(("a",), lambda: calls.append(1) or 1)
    assert len(calls) == 2


def test_concurrent_misses_make_one_load():
    c = Cache(ttl=60)
    calls = []
    gate = threading.Event()

    def load():
        calls.append(1)
        gate.wait(1)
        return "v"
    results = []
    threads = [threading.Thread(target=lambda: results.append(c.get(("k",), load))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join()
    assert calls == [1] and results == ["v"] * 8


def test_failed_load_is_not_cached():
    c = Cache(ttl=60)

    def boom():
        raise OSError("transient")
    try:
        c.get(("k",), boom)
    except OSError:
        pass
    assert c.get(("k",), lambda: "ok") == "ok"


def test_invalidate_drops_prefix_and_children():
    c = Cache(ttl=60)
    c.put(("dynamo", "r", "t", "scan"), 1)
    c.put(("dynamo", "r", "t", "item", "a"), 2)
    c.put(("dynamo", "r", "other", "scan"), 3)
    c.invalidate(("dynamo", "r", "t"))
    assert c.peek(("dynamo", "r", "t", "scan")) is None
    assert c.peek(("dynamo", "r", "t", "item", "a")) is None
    assert c.peek(("dynamo", "r", "other", "scan")).value == 3


def test_load_racing_an_invalidation_is_not_stored():
    c = Cache(ttl=60)
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(1)
        return "old"
    t = threading.Thread(target=lambda: c.get(("k",), slow))
    t.start()
    started.wait(1)
    c.invalidate(("k",))
    release.set()
    t.join()
    assert c.peek(("k",)) is None


def test_a_change_in_one_place_keeps_what_was_derived_from_another():
    """Attributes worked out from one table's entries stay valid while another table changes; a
    change to what they were read from (or to a prefix of it: the whole region) ends them."""
    c = Cache(60)
    c.put(("dynamo", "r", "t1", "scan"), 1)
    c.put(("dynamo", "r", "t2", "scan"), 2)
    with c.reading() as one:
        c.peek(("dynamo", "r", "t1", "scan"))
    with c.reading() as two:
        c.peek(("dynamo", "r", "t2", "scan"))
        with c.reading() as inner:  # a node checked while a stat is worked out: both hold its places
            c.peek(("ec2", "r", "instances"))
    assert ("ec2", "r", "instances") in two and inner.keys() <= two.keys()
    c.invalidate(("dynamo", "r", "t2", "scan"))
    assert c.unchanged(one) and not c.unchanged(two)
    c.touch(("elb", "r"))
    assert c.unchanged(one)
    c.invalidate(("dynamo", "r"))
    assert not c.unchanged(one)
    with c.reading() as three:
        c.peek(("ec2", "r", "instances"))
    c.touch()  # no place given: everything derived is stale
    assert not c.unchanged(three)
