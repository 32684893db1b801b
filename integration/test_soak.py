"""A soak through a real mount: thousands of mixed operations over the same items, and the daemon's
memory and caches stay flat after warm-up (a generous bound, not a timing)."""
import subprocess

R = "us-east-1"


def daemon_pid(path: str) -> int:
    out = subprocess.run(["pgrep", "-f", f"awsfs {path}"], capture_output=True, text=True).stdout.split()
    return int(out[0])


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_rss_and_caches_stay_flat_over_repeated_passes(mount_awsfs, ddb_table):
    t = ddb_table([{"id": f"k{i:03d}", "n": i, "pad": "p" * 200} for i in range(100)])
    m = mount_awsfs("--cache-ttl", "1")
    pid = daemon_pid(m.path)
    d = f"dynamo/{R}/{t}"
    one_pass = (f"ls -l {d} >/dev/null; cat {d}/*.json >/dev/null; stat {d}/k0*.json >/dev/null; "
                f"for i in 1 2 3 4 5; do echo '{{\"id\": \"k00'$i'\", \"n\": '$RANDOM'}}' > {d}/k00$i.json; done; "
                f"for i in 1 2 3 4 5; do echo '{{\"id\": \"tmp-'$RANDOM'\"}}' > {d}/new.json; rm -f {d}/tmp-*.json; done; "
                "sleep 1.1")
    seen = []
    for n in range(6):
        m.sh(one_pass)
        st = m.status()
        seen.append({"rss_kb": rss_kb(pid), "cache": st["cache"]["entries"], "open": st["open_files"]})
    warm, last = seen[2], seen[-1]
    assert last["open"] == 0
    assert last["cache"] <= warm["cache"] + 20, seen
    assert last["rss_kb"] <= warm["rss_kb"] * 1.10 + 2048, seen  # about 900 operations a pass
