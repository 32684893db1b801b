"""FUSE worker threads are foreign (libfuse's) threads calling into Python through ctypes; the
adapter keeps one Python thread state per live worker, never one per worker that ever lived."""
import ctypes
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
