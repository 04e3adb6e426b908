#!/usr/bin/python3
"""Summarise a bench/redis-run directory into summary.md (and print it).

    bench/redis-report.py bench/out/redis-<time> "2 10 100"

Saturation: one row per run; the ratios are noom's median over Socket.IO's
median, from the same run directory.  Latency: the median of the runs'
percentiles at the same offered load.
"""

import json
import statistics
import sys

out, rooms = sys.argv[1], [int(x) for x in sys.argv[2].split()]
env = json.load(open(f"{out}/env.json"))
res = [json.loads(l) for l in open(f"{out}/results.jsonl")]
NAMES = {"noom": "noom, 2 nodes", "sio": "Socket.IO, 2 servers"}


def runs(c, kind, m):
    return [d for d in res
            if d.get("label", "").startswith(f"{c}/{kind}/{m}/")]


lines = [f"# Two nodes and Redis: noom and Socket.IO ({out.split('/')[-1]})",
         "",
         f"{env['date']}, {env['cpus']} CPUs, load average before: "
         f"{' '.join(env['loadavg_before'].split()[:3])}; "
         f"{env['conns']} connections, one sender a room, every delivery "
         "from one node to the other through Redis.",
         "",
         "## Saturation (closed loop)",
         "",
         "| room | cluster | deliveries/s | nodes' CPU | deliveries per "
         "nodes' CPU-s | Redis CPU | Redis µs per delivery | deliveries "
         "per CPU-s, Redis too | lost | other work's CPU |",
         "|---|---|---|---|---|---|---|---|---|---|"]

med = {}

for m in rooms:
    for c in ("noom", "sio"):
        per, tot, rpd = [], [], []
        for d in runs(c, "sat", m):
            if not d.get("ok") or not d.get("server_cpu_s"):
                lines.append(f"| {m} | {NAMES[c]} | failed | | | | | | | |")
                continue
            n = d["deliveries_window"]
            rcpu = d.get("redis_cpu_s", 0)
            per.append(n / d["server_cpu_s"])
            tot.append(n / (d["server_cpu_s"] + rcpu))
            rpd.append(rcpu / n)
            lines.append(
                f"| {m} | {NAMES[c]} | {d['deliveries_per_s']:.0f} "
                f"| {d['server_cpu_util']:.2f} | {per[-1]:.0f} "
                f"| {d.get('redis_cpu_util', 0):.2f} "
                f"| {rpd[-1] * 1e6:.2f} | {tot[-1]:.0f} | {d['lost']} "
                f"| {d['other_cpu_util']:.2f} |")
        if per:
            med[(c, m)] = (statistics.median(per), statistics.median(tot),
                           statistics.median(rpd))

lines += ["", "| room | noom / Socket.IO: deliveries per nodes' CPU-s "
          "| with Redis's CPU | Redis's CPU per delivery, Socket.IO / noom |",
          "|---|---|---|---|"]

for m in rooms:
    if ("noom", m) in med and ("sio", m) in med:
        n, s = med[("noom", m)], med[("sio", m)]
        lines.append(f"| {m} | {n[0] / s[0]:.1f}× | {n[1] / s[1]:.1f}× "
                     f"| {s[2] / n[2] if n[2] else 0:.1f}× |")

lines += ["", "## Latency at the same offered load (open loop; median of "
          "the runs' percentiles)", "",
          "| room | cluster | offered deliveries/s | p50 µs | p99 µs | "
          "p999 µs | lost | other work's CPU |",
          "|---|---|---|---|---|---|---|---|"]

for m in rooms:
    for c in ("noom", "sio"):
        rs = [d for d in runs(c, "lat", m) if d.get("lat_us", {}).get("n")]
        if not rs:
            continue
        p = lambda k: statistics.median(d["lat_us"][k] for d in rs)
        off = rs[0]["rate"] * rs[0]["rooms"] * (m - 1)
        other = statistics.median(d["other_cpu_util"] for d in rs)
        lines.append(f"| {m} | {NAMES[c]} | {off:.0f} | {p('p50'):.0f} "
                     f"| {p('p99'):.0f} | {p('p999'):.0f} "
                     f"| {sum(d['lost'] for d in rs)} | {other:.2f} |")

lines += ["", "load average after: "
          + " ".join(open("/proc/loadavg").read().split()[:3])]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
