"""FUSE worker threads are foreign (libfuse's) threads calling into Python through ctypes; the
adapter keeps one Python thread state per live worker, never one per worker that ever lived."""
import ctypes
import sys
import threading

from awsfs import fuse_ops

_api = ctypes.pythonapi
_api.PyInterpreterState_Get.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
_api.PyThreadState_Next.restype = ctypes.c_void_p
_api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
_libc = ctypes.CDLL(None)
_BODY = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
_libc.pthread_create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p, _BODY, ctypes.c_void_p]
_libc.pthread_join.argtypes = [ctypes.c_ulong, ctypes.c_void_p]


def thread_states() -> int:
    n, ts = 0, _api.PyInterpreterState_ThreadHead(_api.PyInterpreterState_Get())
    while ts:
        n += 1
        ts = _api.PyThreadState_Next(ts)
    return n


def run_on_native_thread(fn) -> None:
    """Run ``fn`` in a thread made by C (as libfuse makes its workers), then join it."""
    body = _BODY(lambda arg: fn())
    tid = ctypes.c_ulong()
    assert _libc.pthread_create(ctypes.byref(tid), None, body, None) == 0
    _libc.pthread_join(tid.value, None)


def test_workers_that_end_leave_no_thread_states_behind():
    marks = []

    def callback():  # what each FUSE request does first, twice per "worker" here
        fuse_ops.keep_thread_state()
        fuse_ops.keep_thread_state()
        marks.append(threading.get_native_id())
    run_on_native_thread(callback)
    before = thread_states()
    for _ in range(40):  # libfuse 2 ends workers when more than ten are idle; new ones come later
        run_on_native_thread(callback)
    assert len(marks) == 41
    assert thread_states() <= before  # the state of each ended worker was freed by the next one


def test_python_threads_are_left_alone():
    states = dict(fuse_ops._kept)
    t = threading.Thread(target=fuse_ops.keep_thread_state)
    t.start()
    t.join()
    fuse_ops.keep_thread_state()  # the main thread
    assert fuse_ops._kept == states


def test_two_opens_of_a_changed_file_at_once_both_succeed(monkeypatch):
    """Two programs open a file whose size changed since the kernel was told it, at the same time:
    both make the kernel forget the old size, and neither open fails (it used to raise KeyError,
    i.e. EIO, in one of them now and then)."""
    ops = fuse_ops.AwsfsOperations.__new__(fuse_ops.AwsfsOperations)
    ops.attr_timeout, ops._told = 1.0, {}
    monkeypatch.setattr(fuse_ops, "invalidate_path", lambda path: None)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows within a few thousand
    errors = []
    try:
        for _ in range(5000):
            ops._tell("/t/a.json", {"st_size": 10})
            barrier = threading.Barrier(2)

            def open_it():
                barrier.wait()
                try:
                    ops._settle("/t/a.json", 12)
                except Exception as e:
                    errors.append(e)
            threads = [threading.Thread(target=open_it) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
