"""Render run.py result files of one fleet as one markdown table: the first file in full, the
others as p50 pairs, and per run how many queries are at most half of PuppetDB's p50.

    python bench/query/table.py bench/query/results-10000-run7.json bench/query/results-10000-run8.json
"""

import json
import sys

files = sys.argv[1:]
runs = [json.load(open(f)) for f in files]
print(
    "Load average before → after: "
    + "; ".join(
        f"run {i + 1} {r['loadavg_before'].split()[0]} → {r['loadavg_after'].split()[0]}" for i, r in enumerate(runs)
    )
)
print()
hdr = "| query | rows | Stagehand p50 | p99 | PuppetDB p50 | p99 | ratio |" + "".join(
    f" run {i + 2}: Stagehand / PuppetDB p50 (ratio) |" for i in range(len(runs) - 1)
)
print(hdr)
print("|---|---:|---:|---:|---:|---:|---:|" + "---:|" * (len(runs) - 1))


def ratio(x):
    if x.get("puppetdb_p50_ms") is None:
        return None
    return x["p50_ms"] / x["puppetdb_p50_ms"]


def fmt(v):
    return "–" if v is None else f"{v:.1f}"


for idx, x in enumerate(runs[0]["results"]):
    r = ratio(x)
    rs = "–" if r is None else f"{r:.2f}" + (" **✗**" if r > 0.5 else "")
    line = f"| {x['query']} | {x['rows']} | {fmt(x['p50_ms'])} | {fmt(x['p99_ms'])} | {fmt(x.get('puppetdb_p50_ms'))} | {fmt(x.get('puppetdb_p99_ms'))} | {rs} |"
    for run in runs[1:]:
        y = run["results"][idx]
        r2 = ratio(y)
        line += (
            f" {fmt(y['p50_ms'])} / {fmt(y.get('puppetdb_p50_ms'))}"
            + ("" if r2 is None else f" ({r2:.2f}{' **✗**' if r2 > 0.5 else ''})")
            + " |"
        )
    print(line)
print()
for i, run in enumerate(runs):
    both = [x for x in run["results"] if x.get("puppetdb_p50_ms")]
    miss = [x["query"] for x in both if ratio(x) > 0.5]
    print(
        f"Run {i + 1}: {len(both) - len(miss)} of {len(both)} at most half"
        + (f"; misses: {', '.join(miss)}." if miss else ".")
    )
