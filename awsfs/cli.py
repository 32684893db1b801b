"""``awsfs MOUNTPOINT [options]``: check, then mount (daemonized unless -f), like sshfs.

mount(8) (``mount -t fuse.awsfs``, an fstab line) runs it through ``mount.fuse`` as
``awsfs SOURCE MOUNTPOINT -o OPT,OPT``: the source is a free word, awsfs's own settings may come as
``-o`` options, and options that only mean something to mount(8) are dropped (docs/fstab.md).
"""
from __future__ import annotations

import argparse
import ctypes
import difflib
import errno
import logging
import logging.handlers
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pythonjsonlogger.json import JsonFormatter

from . import __version__
from .aws import Aws
from .errors import FsError

__all__ = ["Config", "main", "parse_args"]

log = logging.getLogger("awsfs")

#: the default log file of a mount is rotated at this size, keeping this many old ones
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


@dataclass(frozen=True)
class Config:
    mountpoint: str
    foreground: bool = False
    profile: Optional[str] = None
    endpoint_url: Optional[str] = None
    regions: tuple[str, ...] = ()
    cache_ttl: float = 60.0
    read_only: bool = False
    log_file: Optional[str] = None
    log_level: str = "INFO"
    logs_since: float = 3600.0            # seconds back a CloudWatch Logs file starts
    fuse_options: dict[str, Any] = field(default_factory=dict)
    demo: bool = False
    source: Optional[str] = None          # mount(8)'s first argument (unused: a free word)
    ignored_options: tuple[str, ...] = ()  # -o options that only mount(8) reads


class UserError(Exception):
    """A one-line problem the user can fix; nothing was mounted."""


# -- the command line -----------------------------------------------------------------------------

#: -o options for mount(8) and fstab, none of them for FUSE: mount(8) reads them (it passes some
#: on), and mount.fuse adds dev,suid unless told nodev,nosuid (awsfs has no device or set-uid files)
MOUNT_ONLY_OPTIONS = frozenset({"defaults", "rw", "auto", "noauto", "nofail", "_netdev", "user", "users",
                                "nouser", "owner", "group", "dev", "suid"})
MOUNT_ONLY_PREFIXES = ("x-", "X-", "comment=")
#: a region's name (and nothing FUSE calls an option): continues ``-o regions=a,b`` past a comma
_REGION_WORD = re.compile(r"^[a-z]+(-[a-z0-9]+)*-[0-9]+$")
_LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
_USAGE = ("awsfs [options] MOUNTPOINT\n"
          "       awsfs SOURCE MOUNTPOINT -o OPT[,OPT...]   (as mount -t fuse.awsfs runs it; docs/fstab.md)")


def parse_args(argv: Optional[list[str]] = None) -> Config:
    p = argparse.ArgumentParser(prog="awsfs", usage=_USAGE, description="Mount AWS as a read-write filesystem.",
                                epilog="FUSE library: libfuse 3 where it can mount, else libfuse 2; "
                                       "FUSE_LIBRARY_NAME=fuse3 or =fuse decides (see /.awsfs/status). "
                                       "In -o, awsfs also takes endpoint_url=, regions=R1:R2, profile=, "
                                       "cache_ttl=, ro (or read_only), log_file=, log_level=.")
    p.add_argument("where", nargs="+", metavar="MOUNTPOINT", help="an empty directory (mount(8)'s helper "
                   "form: SOURCE MOUNTPOINT, the source being any word, e.g. awsfs)")
    p.add_argument("-f", "--foreground", action="store_true", help="stay attached (do not daemonize)")
    p.add_argument("--profile", help="AWS profile name")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL or the real AWS)")
    p.add_argument("--regions", help="comma-separated regions (default: the account's enabled regions)")
    p.add_argument("--cache-ttl", type=float, metavar="SECONDS", help="cache lifetime (default 60)")
    p.add_argument("--read-only", action="store_true", help="refuse every write with EROFS")
    p.add_argument("--log-file", metavar="PATH", help="JSON log lines go here (default: stderr with -f, else "
                   "~/.cache/awsfs/MOUNT.log, MOUNT being `systemd-escape --path MOUNTPOINT`; rotated at 10 MB)")
    p.add_argument("--log-level", choices=_LOG_LEVELS)
    p.add_argument("--logs-since", type=float, metavar="SECONDS",
                   help="how far back CloudWatch Logs files start (default 3600; a group's @since/WHEN/ "
                   "reads another window)")
    p.add_argument("-o", dest="options", action="append", default=[], metavar="OPT[,OPT]",
                   help="FUSE mount options, e.g. allow_other (and awsfs's own, see below)")
    p.add_argument("--demo", action="store_true", help="mount a local AWS (moto) seeded with sample resources")
    p.add_argument("--version", action="version", version=f"awsfs {__version__}")
    a = p.parse_args(argv)
    if len(a.where) > 2:
        p.error(f"one mount point, or SOURCE MOUNTPOINT; got {len(a.where)} paths: {' '.join(a.where)}")
    source, mountpoint = (None, a.where[0]) if len(a.where) == 1 else a.where
    own, fuse_opts, ignored = split_options(a.options, p.error)
    regions_text = a.regions if a.regions is not None else own.get("regions", "")
    regions = tuple(dict.fromkeys(r.strip() for r in re.split(r"[,:]", regions_text) if r.strip()))

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else own.get(key, default)

    return Config(mountpoint=mountpoint, foreground=a.foreground, profile=pick(a.profile, "profile", None),
                  endpoint_url=pick(a.endpoint_url, "endpoint_url", None), regions=regions,
                  cache_ttl=pick(a.cache_ttl, "cache_ttl", 60.0),
                  read_only=a.read_only or bool(own.get("read_only")),
                  log_file=pick(a.log_file, "log_file", None), log_level=pick(a.log_level, "log_level", "INFO"),
                  logs_since=float(pick(a.logs_since, "logs_since", 3600.0)),
                  fuse_options=fuse_opts, demo=a.demo, source=source, ignored_options=tuple(ignored))


def split_options(groups: list[str], error: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``-o`` options as (awsfs's own settings, FUSE's options, the mount-only ones dropped)."""
    own: dict[str, Any] = {}
    fuse_opts: dict[str, Any] = {}
    ignored: list[str] = []
    in_regions = False
    for opt in (o for group in groups for o in group.split(",")):
        if not opt:
            continue
        k, eq, v = opt.partition("=")
        key = k.replace("-", "_")
        if in_regions and not eq and _REGION_WORD.match(opt):
            own["regions"] += f":{opt}"  # regions=us-east-1,eu-west-1 as typed in an fstab line
            continue
        in_regions = False
        if key in ("endpoint_url", "profile", "log_file", "log_level", "cache_ttl", "regions", "logs_since"):
            if not eq or not v:
                error(f"-o {k} needs a value, e.g. -o {k}=" +
                      {"endpoint_url": "http://127.0.0.1:5000", "regions": "us-east-1:eu-west-1",
                       "cache_ttl": "60", "log_level": "INFO"}.get(key, "..."))
            if key == "cache_ttl":
                try:
                    own[key] = float(v)
                except ValueError:
                    error(f"-o cache_ttl={v}: not a number of seconds")
            elif key == "log_level":
                if v.upper() not in _LOG_LEVELS:
                    error(f"-o log_level={v}: choose one of {', '.join(_LOG_LEVELS)}")
                own[key] = v.upper()
            else:
                own[key] = v
            in_regions = key == "regions"
        elif key in ("ro", "read_only") and not eq:
            own["read_only"] = True  # (mount_options passes ro on to FUSE)
        elif opt in MOUNT_ONLY_OPTIONS or opt.startswith(MOUNT_ONLY_PREFIXES):
            ignored.append(opt)
        else:
            fuse_opts[k] = v if eq else True
    return own, fuse_opts, ignored


# -- the log --------------------------------------------------------------------------------------

def escape_path(path: str) -> str:
    """A mount point as one file name, as ``systemd-escape --path`` writes it (/home/me/aws -> home-me-aws)."""
    p = os.path.normpath(os.path.abspath(path)).strip("/")
    if not p:
        return "-"
    out = []
    for i, b in enumerate(p.encode("utf-8", "surrogateescape")):
        c = chr(b)
        if c == "/":
            out.append("-")
        elif b < 128 and (c.isalnum() or c in ":_" or c == "." and i > 0):
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def default_log_file(mountpoint: str) -> str:
    """Each mount point's own log: $XDG_CACHE_HOME/awsfs (~/.cache/awsfs)/<escaped mount point>.log."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "awsfs", escape_path(mountpoint) + ".log")


def setup_logging(cfg: Config) -> Optional[str]:
    """JSON lines to the log file (rotated: 10 MB, 3 kept), or stderr with -f; returns the file's path."""
    path = cfg.log_file
    if path is None and not cfg.foreground:
        path = default_log_file(cfg.mountpoint)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES,
                                                                        backupCount=LOG_BACKUPS)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{",
                                       rename_fields={"asctime": "time", "levelname": "level"},
                                       static_fields={"mount": os.path.abspath(cfg.mountpoint)}))
    root = logging.getLogger("awsfs")
    root.handlers[:] = [handler]
    root.setLevel(cfg.log_level)
    root.propagate = False
    for noisy in ("mfusepy", "fuse"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return os.path.abspath(path) if path else None


# -- before mounting --------------------------------------------------------------------------------

def unmount_command(path: str, lazy: bool = False) -> str:
    """How to unmount here: libfuse 3's fusermount3 replaces fusermount where it is installed.
    ``lazy``: detach even a dead or busy mount (-z)."""
    tool = "fusermount" if shutil.which("fusermount") or not shutil.which("fusermount3") else "fusermount3"
    return f"{tool} -u {'-z ' if lazy else ''}{path}"


_DEAD = (errno.ENOTCONN, errno.ECONNABORTED)


def dead_mount(path: str) -> Optional[str]:
    """The mount point of the dead FUSE mount that ``path`` is, or is in (its process is gone:
    every access fails with "Transport endpoint is not connected"), else None."""
    p = os.path.abspath(path)
    try:
        os.stat(p)
        return None
    except OSError as e:
        if e.errno not in _DEAD:
            return None
    while p != "/":
        parent = os.path.dirname(p)
        try:
            os.stat(parent)
            return p
        except OSError as e:
            if e.errno not in _DEAD:
                return p
        p = parent
    return p


def check_mountpoint(path: str) -> None:
    dead = dead_mount(path)
    if dead is not None:
        raise UserError(f"{dead} is a dead mount (its filesystem process has gone: Transport endpoint is not "
                        f"connected): unmount it with `{unmount_command(dead, lazy=True)}`, then mount again")
    if not os.path.exists(path):
        raise UserError(f"mount point {path} does not exist: create it with `mkdir -p {path}`")
    if not os.path.isdir(path):
        raise UserError(f"mount point {path} is not a directory: choose an empty directory")
    if os.path.ismount(path):
        raise UserError(f"{path} is already a mount point: unmount it with `{unmount_command(path)}`")
    if os.listdir(path):
        raise UserError(f"mount point {path} is not empty: choose an empty directory")
    if not os.path.exists("/dev/fuse"):
        raise UserError("/dev/fuse is missing: install FUSE (`apt-get install fuse3`, or `fuse libfuse2`)")


def known_region_names(aws: Aws) -> set[str]:
    """The EC2 regions botocore's own endpoint data names (no call; may lag a brand-new region)."""
    s = aws.session
    try:
        return {r for p in s.get_available_partitions() for r in s.get_available_regions("ec2", partition_name=p)}
    except Exception:  # pragma: no cover - botocore data missing
        return set()


def connect(cfg: Config) -> tuple[Aws, list[str]]:
    """Credentials present, endpoint reachable, regions known — or a UserError naming the fix."""
    try:
        aws = Aws(profile=cfg.profile, endpoint_url=cfg.endpoint_url)
    except Exception as e:  # botocore's ProfileNotFound and friends
        raise UserError(f"{e}: check --profile and ~/.aws/config") from None
    if not aws.credentials_present():
        raise UserError("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                        "run `aws configure`, or try `awsfs --demo MOUNTPOINT`")
    # ask in a region that exists: a misspelt first region would otherwise look like a network failure
    known = known_region_names(aws)
    region = (next((r for r in cfg.regions if r in known), None) or aws.session.region_name
              or (cfg.regions[0] if cfg.regions and not known else "us-east-1"))
    # a few quick tries: a throttled, failed or damaged first answer is not a reason to refuse the mount
    probe = Aws(profile=cfg.profile, endpoint_url=cfg.endpoint_url, max_attempts=3, max_delay=5.0,
                connect_timeout=3, read_timeout=10)
    try:
        found = probe.call("ec2", region, "DescribeRegions", AllRegions=True)["Regions"]
    except FsError as e:
        endpoint = cfg.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        if getattr(e, "code", "") in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                                      "ConnectionClosedError"):
            raise UserError(f"cannot reach {endpoint}: check --endpoint-url and the network") from None
        raise UserError(f"AWS refused the first call ({e.reason}): check the credentials and --profile") from None
    status = {r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") for r in found}
    enabled = sorted(name for name, s in status.items() if s != "not-opted-in")
    if not cfg.regions:
        return aws, enabled
    unknown = [r for r in cfg.regions if r not in status]
    if unknown:
        hints = [f"{r} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(r, list(status), 1)) else r
                 for r in unknown]
        raise UserError(f"unknown region{'s' * (len(unknown) > 1)} {', '.join(hints)}: "
                        f"the account's regions are {', '.join(enabled)}")
    disabled = [r for r in cfg.regions if status[r] == "not-opted-in"]
    if disabled:
        raise UserError(f"region{'s' * (len(disabled) > 1)} {', '.join(disabled)} not enabled for this account: "
                        f"enable {'them' if len(disabled) > 1 else 'it'} (AWS console, Account, AWS Regions) or "
                        f"leave {'them' if len(disabled) > 1 else 'it'} out; enabled: {', '.join(enabled)}")
    return aws, list(cfg.regions)


# -- stopping ---------------------------------------------------------------------------------------

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _handler_address(sig: int) -> Optional[int]:
    """The C handler the process has for ``sig`` now (0: SIG_DFL), or None where it cannot be read."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct sigaction; its first member is the handler
        if libc.sigaction(sig, None, buf) != 0:
            return None
        return ctypes.c_void_p.from_buffer(buf).value or 0
    except Exception:  # pragma: no cover - not glibc
        return None


class Stopper:
    """SIGINT and SIGTERM stop the mount cleanly, and the signal is known afterwards.

    libfuse stops its loop on SIGINT, SIGTERM and SIGHUP by itself, but then libfuse 3's fuse_main
    returns 8, as for a failed loop (mfusepy raises ``RuntimeError(8)``), and libfuse 2's returns 0,
    as for an unmount. So both signals are blocked in every thread (threads started later inherit
    the mask) and taken by a watcher thread with sigwait(): it records the signal, then directs a
    SIGHUP at the main thread, which serves the FUSE loop, where libfuse's own handler ends the loop
    as the signal itself would have. Before the mount exists a signal ends the process at once.
    """

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        self.on_early: Callable[[int], None] = lambda sig: os._exit(1)
        self.served = False
        self._state = "starting"  # -> "mounting" -> "serving" -> "stopped"
        self._cond = threading.Condition()
        self._main = threading.main_thread().ident or 0

    @property
    def signal_name(self) -> Optional[str]:
        return None if self.signal is None else signal.Signals(self.signal).name

    def install(self) -> None:
        """Call in the main thread before any other thread starts."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        threading.Thread(target=self._watch, name="awsfs-signals", daemon=True).start()

    def mounting(self) -> None:
        """Call in the main thread right before the FUSE loop starts."""
        # libfuse installs its handler only over SIG_DFL (nohup leaves SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        self._set("mounting")

    def serving(self) -> None:
        self.served = True
        self._set("serving")

    def stopped(self) -> None:
        self._set("stopped")

    def _set(self, state: str) -> None:
        with self._cond:
            self._state = state
            self._cond.notify_all()

    def _watch(self) -> None:
        while True:
            sig = signal.sigwait(STOP_SIGNALS)
            with self._cond:
                if self.signal is None:
                    self.signal = sig
                if self._state == "starting":
                    early = True
                else:
                    early = False
                    self._cond.wait_for(lambda: self._state != "mounting")
                    serving = self._state == "serving"
            if early:
                self.on_early(sig)
            elif serving and _handler_address(signal.SIGHUP) != 0:
                # (SIG_DFL again: libfuse has put its handlers away, its loop is over)
                signal.pthread_kill(self._main, signal.SIGHUP)


def log_discarded(fs: Any) -> int:
    """One log line per open buffer written to and not saved, lost with the process; their count."""
    n = 0
    for h in list(getattr(fs, "_handles", {}).values()):
        if getattr(h, "writing", False) and getattr(h, "dirty", False) and not getattr(h, "removed", False):
            n += 1
            log.warning("discarded unsaved content", extra={"event": "discarded", "path": h.path,
                                                            "bytes": len(h.data),
                                                            "scratch": getattr(h, "node", None) is None})
    return n


# -- running --------------------------------------------------------------------------------------

class Report:
    """Where the outcome of starting goes: stderr (-f), or the waiting parent through a pipe, with
    what libfuse printed meanwhile (the daemon's stderr is a temporary file until the mount is ready)."""

    def __init__(self, pipe: Any = None, captured: Any = None, devnull: int = -1) -> None:
        self.pipe = pipe
        self.captured = captured
        self.devnull = devnull

    def ready(self) -> None:
        if self.pipe is not None and not self.pipe.closed:
            try:
                self.pipe.write("ok\n")
                self.pipe.close()
            except OSError:  # the parent is gone: the mount goes on all the same
                pass
        if self.captured is not None and self.devnull >= 0:
            os.dup2(self.devnull, 2)

    def fail(self, msg: str) -> None:
        if self.pipe is None:
            print(f"awsfs: {msg}", file=sys.stderr)
            return
        if self.pipe.closed:
            return
        said = ""
        if self.captured is not None:
            try:
                self.captured.seek(0)
                said = self.captured.read().decode(errors="replace").strip()
            except OSError:
                pass
        try:
            self.pipe.write(f"{msg}\n" + (f"{said}\n" if said else ""))
            self.pipe.close()
        except OSError:  # the parent is gone
            pass


def main(argv: Optional[list[str]] = None) -> int:
    cfg = parse_args(argv)
    try:
        check_mountpoint(cfg.mountpoint)
        if cfg.demo:
            try:
                import moto.server  # noqa: F401
            except ImportError:
                raise UserError("--demo needs the local AWS: pip install 'awsfs[demo]'") from None
    except UserError as e:
        print(f"awsfs: {e}", file=sys.stderr)
        return 1
    if cfg.foreground:
        return run(cfg, Report())
    return daemonize(cfg)


def daemonize(cfg: Config) -> int:
    """Fork; the child mounts and reports 'ok' or the error through a pipe once the mount is ready."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd) as r:
            try:
                msg = r.read()
            except KeyboardInterrupt:  # Ctrl-C while it starts: the child (in its own session) stops too
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                r.read()
                os.waitpid(pid, 0)
                print("awsfs: interrupted: nothing is mounted", file=sys.stderr)
                return 130
        if msg.startswith("ok"):
            return 0
        print(f"awsfs: {msg.strip() or 'the filesystem process exited before the mount was ready'}",
              file=sys.stderr)
        os.waitpid(pid, 0)
        return 1
    os.close(rfd)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    captured = tempfile.TemporaryFile()  # libfuse's messages, until the mount is ready
    os.dup2(captured.fileno(), 2)
    code = 1
    try:
        code = run(cfg, Report(os.fdopen(wfd, "w"), captured, devnull))
    finally:
        os._exit(code)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def give_big_blocks_back() -> None:
    """Blocks of 1 MB and more (S3's 8 MB ranges and parts, FUSE's 1 MB writes) are their own
    mappings, handed back to the system when freed. glibc's default raises that threshold after the
    first such free, and then eight threads freeing 8 MB parts leave its heap fragmented: a 256 MB
    ``cp`` peaked at 259 MB RSS without this, 160 MB with it (docs/benchmarks.md)."""
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: its own allocator


def run(cfg: Config, report: Report) -> int:
    give_big_blocks_back()
    stopper = Stopper()
    stopper.install()  # first: every thread started from here on has SIGINT and SIGTERM blocked

    def early(sig: int) -> None:
        report.fail(f"interrupted by {signal.Signals(sig).name} before the mount was ready: nothing is mounted")
        os._exit(1)
    stopper.on_early = early

    from .fs import Filesystem
    from .fuse_ops import BINDING, mount

    log_path = setup_logging(cfg)
    mountpoint = os.path.abspath(cfg.mountpoint)
    server = None
    try:
        endpoint = cfg.endpoint_url
        regions_cfg = cfg
        if cfg.demo:
            from .demo import DEMO_REGIONS, LocalAws, seed, write_live
            server = LocalAws().start()
            seed(server.url)
            threading.Thread(target=write_live, args=(server.url, DEMO_REGIONS[0], threading.Event()),
                             name="awsfs-demo-logs", daemon=True).start()
            endpoint = server.url
            regions_cfg = Config(**{**cfg.__dict__, "endpoint_url": endpoint,
                                    "regions": cfg.regions or tuple(DEMO_REGIONS)})
        aws, regions = connect(regions_cfg)
    except (UserError, RuntimeError) as e:
        report.fail(str(e))
        if server:
            server.stop()
        return 1
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    fs = Filesystem(aws, regions, cache_ttl=cfg.cache_ttl, read_only=cfg.read_only, endpoint_url=endpoint)
    fs.ctx.facts["log_file"] = lambda: log_path or "stderr"
    fs.ctx.settings["logs_since"] = cfg.logs_since
    log.info("mounting", extra={"event": "mount", "path": mountpoint, "regions": regions,
                                "endpoint": endpoint or "AWS", "read_only": cfg.read_only, "pid": os.getpid(),
                                "binding": BINDING, "log_file": log_path,
                                "ignored_options": list(cfg.ignored_options)})

    def ready() -> None:
        stopper.serving()
        if cfg.foreground:
            print(f"awsfs: mounted {mountpoint} ({', '.join(regions)}); "
                  f"Ctrl-C or `{unmount_command(mountpoint)}` to unmount", file=sys.stderr)
        report.ready()

    failure: Optional[BaseException] = None
    stopper.mounting()
    try:
        mount(fs, cfg.mountpoint, foreground=True, options=cfg.fuse_options, on_ready=ready)
    except Exception as e:
        failure = e
    finally:
        stopper.stopped()
        if server:
            server.stop()
    code = failure.args[0] if isinstance(failure, RuntimeError) and failure.args else None
    # libfuse 3's fuse_main returns 8 when its loop ends on a signal (and when it fails); libfuse 2
    # returns 0 then. SIGINT and SIGTERM come through the Stopper, which knows which one it was.
    if failure is not None and not (code == 8 and stopper.served):
        if isinstance(code, int):  # fuse_main's code: libfuse has printed its reason
            log.error("mount failed", extra={"event": "mount", "path": mountpoint, "libfuse_code": code})
            report.fail(f"mount failed (libfuse code {code}{'' if report.pipe else '; its reason is above'})")
        else:
            log.error("mount failed", exc_info=failure, extra={"event": "mount", "path": mountpoint})
            report.fail(f"mount failed: {type(failure).__name__}: {failure}")
        return 1
    stopped_by = stopper.signal_name
    if failure is not None and stopped_by is None:
        # the loop ended on a signal that libfuse took itself: SIGHUP (a closed terminal); or
        # reading /dev/fuse failed, which libfuse reports on stderr
        stopped_by = "SIGHUP"
    discarded = log_discarded(fs)
    extra: dict[str, Any] = {"event": "unmount", "path": mountpoint, "discarded": discarded}
    if stopped_by:
        extra["signal"] = stopped_by
    log.info(f"stopped by {stopped_by}" if stopped_by else "unmounted", extra=extra)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
