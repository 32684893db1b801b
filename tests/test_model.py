"""A model of one hash-key DynamoDB table, checked against awsfs driven without a mount.

Hypothesis runs random sequences of user actions on ``/dynamo/<region>/<table>/<key>.json``
through awsfs (a :class:`Filesystem` talking to the moto server through the fault proxy, as
tests/test_faults.py builds it) and the same actions on a plain model: ``aws`` (key -> the
item's ``n``; every item is ``{"id": key, "n": n}``) and ``seen`` ((pid, key) -> the ``n`` that
process last read or saved there). The key space ("a".."c") and the values (0..3) are small so that
names collide and contents repeat.

Actions, each from one of two simulated processes (``fs.caller_pid``; pids above pid_max, so no
real process and no session: a save is based on that process's own reading only):

* ``cat``           open O_RDONLY, read, release: remembered as what the process last read;
* ``save``          cat, then open O_WRONLY|O_TRUNC, write a changed value, flush, release;
* ``echo``          the write half alone (``echo ... > k.json``): based on what the process
                    last read (long ago, maybe), else on what AWS has now;
* ``create``        create(O_CREAT) + write + flush + release: awsfs's create of a name that
                    exists opens it O_TRUNC, so it is an ``echo``; of a new name, a new item;
* ``mv``            rename a.json -> b.json: the item moves to b's key (b, if there, is replaced:
                    TransactWriteItems puts b unconditionally and deletes a);
* ``rm``            unlink;
* behind the back   boto3 put_item/delete_item straight on moto (bypassing the proxy);
* ``arm_fault``     a one-shot fault (any kind but stall; GetItem, PutItem, DeleteItem,
                    TransactWriteItems or Scan) that waits in the proxy until a request takes it:
                    an action's, or an invariant's read.

Every user action may also run under a fault of its own (half of them do), alone in the proxy and
removed when the action ends: *once* (times=1) or *lasting* (times=None), on one operation. awsfs
retries reads and repeatable writes and looks unknown outcomes up, so under a fault once the
model predicts exactly what it predicts without faults.

What a save must do (the model's ``_predict_save``): its base is what the process last read, else
what AWS has now. A write equal to the base changes nothing (awsfs makes no call: the writer
changed nothing). A base that is no longer what AWS has -- changed, or deleted, behind awsfs's back
or by the other process -- is ESTALE, and AWS keeps the other change, unless AWS already holds
exactly what is saved (no conflict: the put changes nothing). Else the item is put (or created,
when there was nothing to base it on).

``mv`` and ``rm`` make the mover's own readings of the names involved moot (after ``mv a b`` the
mover's save of b is based on the moved item, as tests/test_write.py expects); the *other*
process's readings still stand: they are what that process's next save is based on.

Under a lasting fault on an operation the action needs (GetItem: the conditional put's check and
mv's look-up; PutItem / DeleteItem / TransactWriteItems: the write itself): the action fails with
EIO or EAGAIN (never ENOENT, never ESTALE) and AWS is unchanged -- except that a fault *after*
the request reached AWS (drop_after, reset_after, truncate) may leave the change made (then it may
even succeed: awsfs looked it up): AWS must then hold exactly the old or the new state, and the
model is resynced from it. A lasting fault on an operation the action does not need changes
nothing: item reads come from the listing the invariant just read.

After every step (and after the one-shot faults, whose reads are retried): ``listdir`` of the
table (minus ``.table.json``) is the model's keys as ``<key>.json``, every file's content parses to
the model's item, and a consistent boto3 Scan of the table is the model.

The cache: a change behind awsfs's back is followed by ``fs.cache.invalidate`` of the table's
items and listing (what the TTL running out does), so that the listing invariant holds at once
and every action sees AWS's current state; what a process *read* is not in the cache but in the
overlay, and stays: that is what makes its next save stale.

Bugs it found (each fixed, and kept by this machine): a save by a process whose item was deleted
since it read it re-created the item once the cache no longer listed it (now ESTALE); one
process's ``mv`` or ``rm`` made awsfs forget every process's reading of the names, so another
reader's stale save overwrote the moved item (now only the mover's reading goes); ``mv`` onto an
existing name under one transient failure that AWS did not apply ended in "outcome unknown"
(the look-up took the target to have held nothing).
"""
import errno
import json
import os

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as hypothesis_engine
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from awsfs.aws import Aws
from awsfs.errors import FsError
from awsfs.fs import Filesystem
from awsfs.services import dynamo
from helpers import make_table, read

R = "us-east-1"
W = os.O_WRONLY
KEYS = "abc"
VALUES = st.integers(0, 3)

with open("/proc/sys/kernel/pid_max") as _f:
    _PID_MAX = int(_f.read())


class Pid(int):
    """A simulated process: a pid no real process has (above pid_max), shown by its name."""

    def __new__(cls, n, name):
        pid = super().__new__(cls, _PID_MAX + n)
        pid.name = name
        return pid

    def __repr__(self):  # in Hypothesis's steps; str() and f-strings still give the number
        return self.name

    __str__ = int.__repr__


#: the two simulated processes, and the one the invariants read as
A, B, OBSERVER = Pid(101, "A"), Pid(102, "B"), Pid(103, "OBSERVER")
PIDS = st.sampled_from([A, B])

OPERATIONS = ["GetItem", "PutItem", "DeleteItem", "TransactWriteItems", "Scan"]
FAULTS = [("throttle", {}), ("5xx_json", {}), ("5xx_text", {}), ("drop_before", {}), ("reset_before", {}),
          ("drop_after", {}), ("reset_after", {}), ("truncate", {}), ("truncate", {"keep": 0}),
          ("truncate", {"fix_length": False}), ("delay", {"seconds": 0.02})]
#: faults after which AWS has the change although awsfs got no (whole) answer
AFTER = {"drop_after", "reset_after", "truncate"}


class Fault:
    """A fault for one action: ``times`` 1 (once) or None (lasting, until the action ends)."""

    def __init__(self, times, op, kind):
        self.times, self.op, (self.kind, self.options) = times, op, kind

    def __repr__(self):
        opts = "".join(f" {k}={v}" for k, v in self.options.items())
        return f"<{'once' if self.times == 1 else 'lasting'} {self.kind}{opts} on {self.op}>"


#: the fault an action runs under: none for half of them, else once or lasting
FAULT = st.one_of(st.none(), st.builds(Fault, st.sampled_from([1, None]), st.sampled_from(OPERATIONS),
                                       st.sampled_from(FAULTS)))

OK = "ok"


class Prediction:
    """What an action must do: ``outcome`` (OK or an errno), the operations it surely sends
    (``ops``; ``write`` is the one that changes AWS) and ``apply(model)`` for its effect."""

    def __init__(self, outcome, ops=(), write=None, apply=None, already=False):
        self.outcome, self.ops, self.write = outcome, set(ops), write
        self.apply = apply or (lambda m: None)
        #: AWS already holds what is written: a write whose outcome was unknown is looked up and
        #: found done, whatever the fault was
        self.already = already


class Model:
    def __init__(self, items):
        self.aws = dict(items)  # key -> n
        self.seen = {}          # (pid, key) -> n the process last read or saved

    def copy(self):
        m = Model(self.aws)
        m.seen = dict(self.seen)
        return m


def item(key, n):
    return {"id": key, "n": n}


class ItemTable(RuleBasedStateMachine):
    env: dict = {}  # set by the test: the proxy and a direct boto3 client

    # -- setup -------------------------------------------------------------------------------
    @initialize(items=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=2))
    def start(self, items):
        proxy, ddb = self.env["proxy"], self.env["ddb"]
        proxy.reset()
        self.proxy, self.ddb = proxy, ddb
        self.table = self.env["unique"]("model")
        make_table(ddb, self.table, [{"id": {"S": k}, "n": {"N": str(n)}} for k, n in items.items()])
        aws = Aws(endpoint_url=proxy.url, backoff=0.001, max_attempts=4)
        self.fs = Filesystem(aws, [R], endpoint_url=proxy.url)
        self.pid = OBSERVER
        self.fs.caller_pid = lambda: self.pid
        self.dir = f"/dynamo/{R}/{self.table}"
        self.model = Model(items)

    def teardown(self):
        proxy = getattr(self, "proxy", None)
        if proxy is not None:
            proxy.reset()
            try:
                self.ddb.delete_table(TableName=self.table)
            except Exception:
                pass

    # -- helpers -----------------------------------------------------------------------------
    def path(self, key):
        return f"{self.dir}/{key}.json"

    def aws_now(self):
        """The table as moto has it (consistent Scan, straight to moto): key -> n."""
        got = {}
        for it in self.ddb.scan(TableName=self.table, ConsistentRead=True)["Items"]:
            assert set(it) == {"id", "n"}, it
            got[it["id"]["S"]] = int(it["n"]["N"])
        return got

    def as_(self, pid, fn, *args):
        self.pid = pid
        try:
            return fn(*args)
        finally:
            self.pid = OBSERVER

    def _cat(self, key):
        return read(self.fs, self.path(key))

    def _write(self, key, n, create=False):
        p = self.path(key)
        fh = self.fs.create(p, 0o644, W | os.O_CREAT) if create else self.fs.open(p, W | os.O_TRUNC)
        try:
            self.fs.write(p, (json.dumps(item(key, n)) + "\n").encode(), 0, fh)
            self.fs.flush(p, fh)
        finally:
            self.fs.release(p, fh)

    def base(self, pid, key):
        """What a save by ``pid`` at ``key`` is based on: what it read, else what AWS has now."""
        return self.model.seen.get((pid, key), self.model.aws.get(key))

    def forget(self, m, pid, *keys):
        """After ``pid``'s mv or rm of ``keys``: its own readings of them are moot (its next save
        of one is based on what AWS has then); the other process's readings stand."""
        for key in keys:
            m.seen.pop((pid, key), None)

    def _predict_save(self, pid, key, n):
        """A save of ``n`` at ``key`` by ``pid`` (echo, create, the write half of save)."""
        m = self.model
        cur = m.aws.get(key)
        base = self.base(pid, key)

        def saved(model):
            model.aws[key] = n
            model.seen[(pid, key)] = n
        if base is None:  # nothing to base it on: a new item
            return Prediction(OK, ["PutItem"], "PutItem", saved)
        if n == base and cur is not None:  # the writer changed nothing: no call, nothing checked
            return Prediction(OK, [], None, lambda model: model.seen.__setitem__((pid, key), n))
        if n == base:  # nothing changed, but the item it saw is gone: refused, not re-created
            return Prediction(errno.ESTALE, ["GetItem"])
        if cur == n:
            # AWS already holds what is saved (someone made the same change; an editor putting
            # its backup back): no conflict, the put changes nothing
            return Prediction(OK, ["GetItem", "PutItem"], "PutItem", saved, already=True)
        if cur != base:
            # changed or deleted since this process read it (behind awsfs's back, or by the
            # other process's save, mv or rm): refused, the other change kept
            return Prediction(errno.ESTALE, ["GetItem"])
        return Prediction(OK, ["GetItem", "PutItem"], "PutItem", saved)

    def act(self, fault, pred, fn, *args):
        """Run one user action (under ``fault``, if any) and check it against ``pred``."""
        if fault is not None:
            self.proxy.reset()  # alone: no one-shot fault waits with it
            self.proxy.add(fault.op, fault.kind, times=fault.times, **fault.options)
        try:
            fn(*args)
            err = None
        except FsError as e:
            err = e
        finally:
            if fault is not None:
                self.proxy.reset()
        before = self.model
        after = before.copy()
        pred.apply(after)
        # a fault once is retried, or its outcome looked up: it changes nothing of the prediction
        relevant = fault is not None and fault.times is None and fault.op in pred.ops and fault.kind != "delay"
        # (what AWS holds afterwards is the invariant aws_is_the_model's to check)
        if not relevant:
            if pred.outcome == OK:
                assert err is None, f"expected success, got {err!r}"
                if pred.write is None:  # nothing to change: the writer changed nothing
                    now = self.aws_now()
                    assert now == before.aws, f"expected no change (the write equals what this process " \
                                              f"read: {before.seen}), but AWS now has {now}, not {before.aws}"
                self.model = after
            else:
                assert err is not None, f"expected {errno.errorcode[pred.outcome]}, got success; " \
                                        f"AWS has {self.aws_now()}, expected {before.aws}"
                assert err.errno == pred.outcome, f"expected {errno.errorcode[pred.outcome]}, got {err!r}"
                if pred.outcome == errno.ENOENT:
                    self.model = after  # reading that there is nothing is a reading too
            return
        op, kind = fault.op, fault.kind
        may_apply = op == pred.write and (kind in AFTER or pred.already)
        if err is None:
            # only a change that reached AWS and was then looked up can succeed under a lasting fault
            assert may_apply, f"succeeded under {fault}"
            self.model = after
            return
        assert err.errno in (errno.EIO, errno.EAGAIN), f"under {fault}: {err!r}"
        if may_apply:
            now = self.aws_now()
            assert now in (before.aws, after.aws), f"AWS has {now}: neither {before.aws} nor {after.aws}"
            self.model.aws = now  # resynced; the failed save is nobody's reading

    # -- user actions ------------------------------------------------------------------------
    @rule(pid=PIDS, key=st.sampled_from(KEYS), fault=FAULT)
    def cat(self, pid, key, fault):
        cur = self.model.aws.get(key)
        if cur is None:  # and the process's reading of it is over
            pred = Prediction(errno.ENOENT, apply=lambda m: m.seen.pop((pid, key), None))
        else:
            pred = Prediction(OK, apply=lambda m: m.seen.__setitem__((pid, key), cur))
        got = []
        self.act(fault, pred, lambda: got.append(self.as_(pid, self._cat, key)))
        if got:
            assert json.loads(got[0]) == item(key, cur)

    @rule(pid=PIDS, key=st.sampled_from(KEYS), n=VALUES, fault=FAULT)
    def save(self, pid, key, n, fault):
        """cat, then write back a changed value."""
        cur = self.model.aws.get(key)
        if cur is None:
            gone = Prediction(errno.ENOENT, apply=lambda m: m.seen.pop((pid, key), None))
            self.act(fault, gone, self.as_, pid, self._cat, key)
            return
        if n == cur:
            n = (n + 1) % 4
        self.act(None, Prediction(OK, apply=lambda m: m.seen.__setitem__((pid, key), cur)),
                 self.as_, pid, self._cat, key)
        self.act(fault, self._predict_save(pid, key, n), self.as_, pid, self._write, key, n)

    @rule(pid=PIDS, key=st.sampled_from(KEYS), n=VALUES, fault=FAULT)
    def echo(self, pid, key, n, fault):
        """The write alone: based on what this process read before, maybe long ago."""
        self.act(fault, self._predict_save(pid, key, n), self.as_, pid, self._write, key, n)

    @rule(pid=PIDS, key=st.sampled_from(KEYS), n=VALUES, fault=FAULT)
    def create(self, pid, key, n, fault):
        """create(O_CREAT): of an existing name it is an O_TRUNC open, i.e. the same save."""
        self.act(fault, self._predict_save(pid, key, n), self.as_, pid, self._write, key, n, True)

    @rule(pid=PIDS, names=st.permutations(KEYS), fault=FAULT)
    def mv(self, pid, names, fault):
        src, dst = names[:2]  # never the same: the kernel answers rename(x, x) itself
        cur = self.model.aws.get(src)
        if cur is None:
            pred = Prediction(errno.ENOENT)
        else:
            def moved(m):
                m.aws[dst] = m.aws.pop(src)
                self.forget(m, pid, src, dst)
            pred = Prediction(OK, ["GetItem", "TransactWriteItems"], "TransactWriteItems", moved)
        self.act(fault, pred, self.as_, pid, self.fs.rename, self.path(src), self.path(dst))

    @rule(pid=PIDS, key=st.sampled_from(KEYS), fault=FAULT)
    def rm(self, pid, key, fault):
        if key not in self.model.aws:
            pred = Prediction(errno.ENOENT)
        else:
            def removed(m):
                del m.aws[key]
                self.forget(m, pid, key)
            pred = Prediction(OK, ["DeleteItem"], "DeleteItem", removed)
        self.act(fault, pred, self.as_, pid, self.fs.unlink, self.path(key))

    # -- the world ---------------------------------------------------------------------------
    @rule(key=st.sampled_from(KEYS), n=st.one_of(st.none(), VALUES))
    def behind_the_back(self, key, n):
        """Someone else changes the table (straight on moto); then the TTL runs out."""
        if n is None:
            self.ddb.delete_item(TableName=self.table, Key={"id": {"S": key}})
            self.model.aws.pop(key, None)
        else:
            self.ddb.put_item(TableName=self.table, Item={"id": {"S": key}, "n": {"N": str(n)}})
            self.model.aws[key] = n
        self.fs.cache.invalidate(*dynamo.touched(R, self.table))

    @rule(op=st.sampled_from(OPERATIONS), fault=st.sampled_from(FAULTS))
    def arm_fault(self, op, fault):
        """A one-shot fault, taken by the next request for ``op`` (an action's or an invariant's)."""
        self.proxy.add(op, fault[0], times=1, **fault[1])

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def awsfs_shows_the_model(self):
        names = sorted(n for n in self.fs.listdir(self.dir) if n != dynamo.TABLE_FILE)
        assert names == sorted(f"{k}.json" for k in self.model.aws), names
        for k, n in self.model.aws.items():
            assert json.loads(self._cat(k)) == item(k, n), k

    @invariant()
    def aws_is_the_model(self):
        now = self.aws_now()
        assert now == self.model.aws, f"AWS has {now}, the model {self.model.aws}"


#: shrinking re-runs examples against the server (about a second each): give it a minute, not
#: Hypothesis's five (a re-run resumes from the stored example)
SHRINK_SECONDS = 60


@pytest.mark.timeout(600)
def test_awsfs_behaves_like_the_model(fault_proxy, local_aws, unique, monkeypatch):
    monkeypatch.setattr(hypothesis_engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS, raising=False)
    ItemTable.env = {"proxy": fault_proxy, "unique": unique,
                     "ddb": boto3.client("dynamodb", region_name=R, endpoint_url=local_aws.url)}
    for pid in (A, B, OBSERVER):
        assert not os.path.exists(f"/proc/{pid}")
    try:
        run_state_machine_as_test(ItemTable, settings=settings(
            max_examples=25, stateful_step_count=15, deadline=None,
            report_multiple_bugs=False,  # shrink one failure at a time: each example costs real requests
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    finally:
        ItemTable.env = {}

