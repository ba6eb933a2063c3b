"""CPU seconds used by the enc server processes (the main one and its workers) and by the PostgreSQL
backends of one database,
sampled before and after a load run: ``python bench/enc/cpu.py snapshot <server-pid> <db>``
prints a JSON sample; ``python bench/enc/cpu.py diff <before.json> <after.json> <requests>``
prints CPU milliseconds per request (machine-load independent, unlike requests/s)."""

import json
import sys

import psutil


def sample(pid: int, database: str) -> dict:
    master = psutil.Process(pid)
    procs = [master, *master.children(recursive=True)]
    app = {str(p.pid): sum(p.cpu_times()[:2]) for p in procs if p.is_running()}
    pg = {}
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if p.info["name"] == "postgres" and f" {database} " in f" {cmd} ":
                pg[str(p.pid)] = sum(p.cpu_times()[:2])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {"app": app, "pg": pg}


def _delta(before: dict, after: dict) -> float:
    """CPU used between two samples by processes alive at the second (new ones count fully)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        print(json.dumps(sample(int(sys.argv[2]), sys.argv[3])))
    else:
        before, after = (json.load(open(path)) for path in sys.argv[2:4])  # noqa: SIM115
        n = int(sys.argv[4])
        app = _delta(before["app"], after["app"]) / n * 1000
        pg = _delta(before["pg"], after["pg"]) / n * 1000
        print(
            f"cpu_ms_per_request app={app:.3f} postgres={pg:.3f} total={app + pg:.3f} "
            f"-> capacity on 2 idle cores ~{2000 / (app + pg):.0f} req/s (load generator excluded)"
        )
