"""``awsfs MOUNTPOINT [options]``: check, then mount (daemonized unless -f), like sshfs."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from pythonjsonlogger.json import JsonFormatter

from . import __version__
from .aws import Aws
from .errors import FsError

__all__ = ["Config", "main", "parse_args"]

log = logging.getLogger("awsfs")


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
    fuse_options: dict[str, Any] = field(default_factory=dict)
    demo: bool = False


class UserError(Exception):
    """A one-line problem the user can fix; nothing was mounted."""


def parse_args(argv: Optional[list[str]] = None) -> Config:
    p = argparse.ArgumentParser(prog="awsfs", description="Mount AWS as a read-write filesystem.",
                                epilog="FUSE library: libfuse 3 where it can mount, else libfuse 2; "
                                       "FUSE_LIBRARY_NAME=fuse3 or =fuse decides (see /.awsfs/status).")
    p.add_argument("mountpoint", help="an empty directory")
    p.add_argument("-f", "--foreground", action="store_true", help="stay attached (do not daemonize)")
    p.add_argument("--profile", help="AWS profile name")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL or the real AWS)")
    p.add_argument("--regions", help="comma-separated regions (default: the account's enabled regions)")
    p.add_argument("--cache-ttl", type=float, default=60.0, metavar="SECONDS", help="cache lifetime (default 60)")
    p.add_argument("--read-only", action="store_true", help="refuse every write with EROFS")
    p.add_argument("--log-file", metavar="PATH", help="JSON log lines go here (default: stderr with -f, "
                   "else ~/.cache/awsfs/awsfs.log)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("-o", dest="options", action="append", default=[], metavar="OPT[,OPT]",
                   help="FUSE mount options, e.g. allow_other")
    p.add_argument("--demo", action="store_true", help="mount a local AWS (moto) seeded with sample resources")
    p.add_argument("--version", action="version", version=f"awsfs {__version__}")
    a = p.parse_args(argv)
    opts: dict[str, Any] = {}
    for group in a.options:
        for opt in filter(None, group.split(",")):
            k, eq, v = opt.partition("=")
            opts[k] = v if eq else True
    regions = tuple(r.strip() for r in (a.regions or "").split(",") if r.strip())
    return Config(mountpoint=a.mountpoint, foreground=a.foreground, profile=a.profile,
                  endpoint_url=a.endpoint_url, regions=regions, cache_ttl=a.cache_ttl, read_only=a.read_only,
                  log_file=a.log_file, log_level=a.log_level, fuse_options=opts, demo=a.demo)


def setup_logging(cfg: Config) -> None:
    path = cfg.log_file
    if path is None and not cfg.foreground:
        path = os.path.join(os.path.expanduser("~"), ".cache", "awsfs", "awsfs.log")
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path)
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


def unmount_command(path: str) -> str:
    """How to unmount here: libfuse 3's fusermount3 replaces fusermount where it is installed."""
    tool = "fusermount" if shutil.which("fusermount") or not shutil.which("fusermount3") else "fusermount3"
    return f"{tool} -u {path}"


def check_mountpoint(path: str) -> None:
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


def connect(cfg: Config) -> tuple[Aws, list[str]]:
    """Credentials present, endpoint reachable, regions known — or a UserError naming the fix."""
    try:
        aws = Aws(profile=cfg.profile, endpoint_url=cfg.endpoint_url)
    except Exception as e:  # botocore's ProfileNotFound and friends
        raise UserError(f"{e}: check --profile and ~/.aws/config") from None
    if not aws.credentials_present():
        raise UserError("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                        "run `aws configure`, or try `awsfs --demo MOUNTPOINT`")
    region = (cfg.regions or (aws.session.region_name or "us-east-1",))[0]
    probe = Aws(profile=cfg.profile, endpoint_url=cfg.endpoint_url, max_attempts=1, connect_timeout=3,
                read_timeout=10)
    try:
        found = probe.call("ec2", region, "DescribeRegions")["Regions"]
    except FsError as e:
        endpoint = cfg.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        if getattr(e, "code", "") in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                                      "ConnectionClosedError"):
            raise UserError(f"cannot reach {endpoint}: check --endpoint-url and the network") from None
        raise UserError(f"AWS refused the first call ({e.reason}): check the credentials and --profile") from None
    regions = list(cfg.regions) or sorted(r["RegionName"] for r in found)
    return aws, regions


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
        return run(cfg, ready=None)
    return daemonize(cfg)


def daemonize(cfg: Config) -> int:
    """Fork; the child mounts and reports 'ok' or the error through a pipe once the mount is ready."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd) as r:
            msg = r.read()
        if msg.startswith("ok"):
            return 0
        print(f"awsfs: {msg.strip() or 'the filesystem process exited before the mount was ready'}",
              file=sys.stderr)
        os.waitpid(pid, 0)
        return 1
    os.close(rfd)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    w = os.fdopen(wfd, "w")

    def ready() -> None:
        w.write("ok\n")
        w.close()

    code = 1
    try:
        code = run(cfg, ready=ready, report=w)
    finally:
        os._exit(code)


def run(cfg: Config, ready: Any, report: Any = None) -> int:
    from .fs import Filesystem
    from .fuse_ops import mount

    setup_logging(cfg)
    server = None
    try:
        endpoint = cfg.endpoint_url
        regions_cfg = cfg
        if cfg.demo:
            from .demo import DEMO_REGIONS, LocalAws, seed
            server = LocalAws().start()
            seed(server.url)
            endpoint = server.url
            regions_cfg = Config(**{**cfg.__dict__, "endpoint_url": endpoint,
                                    "regions": cfg.regions or tuple(DEMO_REGIONS)})
        aws, regions = connect(regions_cfg)
    except (UserError, RuntimeError) as e:
        if report is not None:
            report.write(f"{e}\n")
            report.close()
        else:
            print(f"awsfs: {e}", file=sys.stderr)
        if server:
            server.stop()
        return 1
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    fs = Filesystem(aws, regions, cache_ttl=cfg.cache_ttl, read_only=cfg.read_only, endpoint_url=endpoint)
    log.info("mounting", extra={"event": "mount", "path": cfg.mountpoint, "regions": regions,
                                "endpoint": endpoint or "AWS", "read_only": cfg.read_only})
    if cfg.foreground and ready is None:
        print(f"awsfs: mounted {os.path.abspath(cfg.mountpoint)} ({', '.join(regions)}); "
              f"Ctrl-C or `{unmount_command(cfg.mountpoint)}` to unmount", file=sys.stderr)
    try:
        mount(fs, cfg.mountpoint, foreground=True, options=cfg.fuse_options, on_ready=ready)
    except Exception as e:
        log.exception("mount failed", extra={"event": "mount"})
        if report is not None and not report.closed:
            report.write(f"mount failed: {e}\n")
            report.close()
        return 1
    finally:
        if server:
            server.stop()
        log.info("unmounted", extra={"event": "unmount", "path": cfg.mountpoint})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
