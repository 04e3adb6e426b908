#!/usr/bin/python3
"""Summarise a bench/run directory: summary.json, summary.md, plot data.

    bench/report.py bench/out/<time>

Every ratio is noom divided by the peer, measured in the same run.  For
throughput-like figures (deliveries, connections, churn) higher is better;
for latency, memory and CPU lower is better: the tables say which.
"""

import json
import os
import random
import sys

ROOMS = [2, 10, 100]
PEERS = ["sio", "nchan", "ceiling"]
NAMES = {
    "noom": "noom (1 worker)",
    "noom2": "noom (2 workers, 1 CPU)",
    "noomnohist": "noom, noom_room_history 0 (1 worker)",
    "noomrec": "noom, noom_recovery on (1 worker)",
    "noom2rec": "noom, noom_recovery on (2 workers, 1 CPU)",
    "sio": "Socket.IO 4.8 (Node.js)",
    "nchan": "nchan 1.3.6",
    "ceiling": "ceiling (C, epoll)",
    "ceiling2": "ceiling, a second instance (A/A control)",
    "ceilack": "ceiling, acks (C, epoll)",
    "ceilsize": "ceiling, noom's frame sizes (C, epoll)",
    "ceilapp": "ceiling, acks and noom's frame sizes (C, epoll)",
    "noom-tls": "noom, wss://",
    "noom2-tls": "noom (2 workers), wss://",
    "sio-tls": "Socket.IO 4.8, https",
    "nchan-tls": "nchan, wss://",
    "nginx-tls": "nginx, https keepalive",
    "base": "noom, BASE_SO",
    "base-tls": "noom, BASE_SO, wss://",
}


def load(out):
    runs = {}
    with open(os.path.join(out, "results.jsonl")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            runs[d["label"]] = d
    env = json.load(open(os.path.join(out, "env.json")))
    return runs, env


def median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2


def reps(runs, server, label):
    """lat/<m> was run several times as lat/<m>/<i>: their labels"""
    if f"{server}/{label}" in runs:
        return [label]
    out = []
    i = 1
    while f"{server}/{label}/{i}" in runs:
        out.append(f"{label}/{i}")
        i += 1
    return out


def get(runs, server, label, *path):
    labels = reps(runs, server, label)
    if len(labels) > 1:
        return median(get(runs, server, l, *path) for l in labels)
    if labels:
        label = labels[0]
    d = runs.get(f"{server}/{label}")
    if d is None or not d.get("ok", False):
        return None
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def clean(runs, server, label):
    """A run that lost, duplicated or failed something is flagged."""
    labels = reps(runs, server, label)
    if len(labels) > 1:
        return "; ".join(f for f in (clean(runs, server, l) for l in labels)
                         if f)
    d = runs.get(f"{server}/{labels[0] if labels else label}")
    if d is None:
        return "missing"
    flags = []
    if not d.get("ok", False):
        flags.append("failed")
    for k in ("lost", "dups", "gaps", "errors", "unexpected_closes",
              "protocol_errors", "failed"):
        if d.get(k):
            flags.append(f"{k}={d[k]}")
    return ", ".join(flags)


def figures(runs, servers):
    fig = {}

    for s in servers:
        f = fig.setdefault(s, {})

        for m in ROOMS:
            sat = get(runs, s, f"sat/{m}", "deliveries_per_s")
            util = get(runs, s, f"sat/{m}", "server_cpu_util")
            f[f"sat{m}"] = sat
            f[f"sat{m}_cpu"] = util
            f[f"sat{m}_gen_cpu"] = get(runs, s, f"sat/{m}", "gen_cpu_util")
            f[f"sat{m}_other_cpu"] = get(runs, s, f"sat/{m}",
                                         "other_cpu_util")
            f[f"sat{m}_per_core"] = per_core(sat, util)
            f[f"sat{m}_per_core_runs"] = [
                per_core(get(runs, s, l, "deliveries_per_s"),
                         get(runs, s, l, "server_cpu_util"))
                for l in reps(runs, s, f"sat/{m}")]
            f[f"sat{m}_cpu100k"] = get(runs, s, f"sat/{m}",
                                       "server_cpu_s_per_100k")

            for p in ("p50", "p99", "p999"):
                f[f"lat{m}_{p}"] = get(runs, s, f"lat/{m}", "lat_us", p)
                f[f"lat{m}_{p}_runs"] = [
                    get(runs, s, l, "lat_us", p)
                    for l in reps(runs, s, f"lat/{m}")]
            f[f"lat{m}_rate"] = get(runs, s, f"lat/{m}", "deliveries_per_s")
            f[f"lat{m}_cpu100k"] = get(runs, s, f"lat/{m}",
                                       "server_cpu_s_per_100k")
            f[f"lat{m}_flags"] = clean(runs, s, f"lat/{m}")
            f[f"sat{m}_flags"] = clean(runs, s, f"sat/{m}")

        f["idle_rss"] = get(runs, s, "idle", "rss_per_conn_bytes")
        f["idle_pss"] = get(runs, s, "idle", "pss_per_conn_bytes")
        f["idle_alive"] = get(runs, s, "idle", "alive")
        f["held"] = get(runs, s, "held", "alive")
        f["held_target"] = get(runs, s, "held", "conns")
        f["sig_p50"] = get(runs, s, "signal", "rtt_us", "p50")
        f["sig_p99"] = get(runs, s, "signal", "rtt_us", "p99")
        f["sig_flags"] = clean(runs, s, "signal")
        f["churn"] = get(runs, s, "churn", "cycles_per_s")
        f["churn_fail"] = get(runs, s, "churn", "cycle_failures")
        f["churn_p99"] = get(runs, s, "churn", "cycle_us", "p99")
        f["churn_cpu"] = get(runs, s, "churn", "server_cpu_util")
        f["churn_per_core"] = ratio(f["churn"], f["churn_cpu"])
        f["hs_p50"] = get(runs, s, "idle", "handshake_us", "p50")
        f["hs_p99"] = get(runs, s, "idle", "handshake_us", "p99")

    return fig


def per_core(sat, util):
    """deliveries per second per core: per CPU-second of the server"""
    return sat / util if sat and util and util > 0.05 else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float):
        if digits == 0 and abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.{digits}f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}×"


def markdown(fig, servers, env):
    peers = [p for p in PEERS if p in servers]
    lines = []
    add = lines.append

    add(f"Run {env.get('date')}, {env.get('cpu')}, {env.get('cpus')} CPUs, "
        f"kernel {env.get('kernel')}, {env.get('nginx')}, node "
        f"{env.get('node')}, socket.io {env.get('socket.io')}, nchan "
        f"{env.get('nchan')}, noom {env.get('noom_commit')}"
        + (" (src/ modified)" if env.get("noom_dirty", "0") != "0" else "")
        + f"; load average before: {env.get('loadavg_before')}.")
    add("")

    def table(title, rows, better):
        add(f"**{title}** ({better})")
        add("")
        head = ["", *[NAMES.get(s, s) for s in servers],
                *[f"noom ÷ {p}" for p in peers]]
        add("| " + " | ".join(head) + " |")
        add("|" + "---|" * len(head))
        for name, key, digits in rows:
            vals = [fig[s].get(key) for s in servers]
            rat = [ratio(fig["noom"].get(key), fig[p].get(key))
                   if "noom" in fig else None for p in peers]
            add("| " + " | ".join([name, *[fmt(v, digits) for v in vals],
                                   *[fmt_ratio(r) for r in rat]]) + " |")
        add("")

    table("Deliveries per second at saturation",
          [(f"rooms of {m}", f"sat{m}", 0) for m in ROOMS],
          "higher is better")
    table("Deliveries per server CPU-second at saturation (per core)",
          [(f"rooms of {m}", f"sat{m}_per_core", 0) for m in ROOMS],
          "higher is better")
    table("Server CPU use during the saturation runs (1.0 = one core)",
          [(f"rooms of {m}", f"sat{m}_cpu", 2) for m in ROOMS],
          "the generator's own use is in results.jsonl")
    rows = []
    for m in ROOMS:
        for p in ("p50", "p99", "p999"):
            rows.append((f"rooms of {m}, {p.replace('p999', 'p99.9')} µs",
                         f"lat{m}_{p}", 0))
    table("Latency at 50% of the slowest server's saturation (median of "
          "the runs)", rows, "lower is better")
    table("Server CPU seconds per 100k deliveries",
          [(f"rooms of {m}, at saturation", f"sat{m}_cpu100k", 3)
           for m in ROOMS]
          + [(f"rooms of {m}, at the latency load", f"lat{m}_cpu100k", 3)
             for m in ROOMS],
          "lower is better")
    table("Memory per idle connection (bytes, RSS of all server processes)",
          [("RSS", "idle_rss", 0), ("PSS", "idle_pss", 0)],
          "lower is better")
    table("Connections held",
          [("of the target", "held", 0)], "higher is better")
    table("Signaling round trip (offer → answer), µs",
          [("p50", "sig_p50", 0), ("p99", "sig_p99", 0)],
          "lower is better")
    table("Churn (connect, nickname, enter_room, leave_room, disconnect)",
          [("cycles per second", "churn", 0)], "higher is better")

    flagged = []
    for s in servers:
        for k, v in fig[s].items():
            if k.endswith("_flags") and v:
                flagged.append(f"{s} {k[:-6]}: {v}")
    if flagged:
        add("Runs with losses, errors or failures: " + "; ".join(flagged)
            + ".")
        add("")

    return "\n".join(lines)


def targets(fig, servers):
    t = []
    n = fig.get("noom", {})
    s = fig.get("sio", {})
    c = fig.get("nchan", {})
    ce = fig.get("ceiling", {})

    for m in ROOMS:
        r = ratio(n.get(f"sat{m}_per_core"), s.get(f"sat{m}_per_core"))
        t.append({"target": f">= 5x Socket.IO deliveries/s per core, rooms "
                  f"of {m}", "ratio": r, "met": r is not None and r >= 5})
    for m in ROOMS:
        r = ratio(n.get(f"lat{m}_p99"), s.get(f"lat{m}_p99"))
        t.append({"target": f"p99 <= 1/5 of Socket.IO's, rooms of {m}",
                  "ratio": r, "met": r is not None and r <= 0.2})
    r = ratio(n.get("idle_rss"), s.get("idle_rss"))
    t.append({"target": "memory per idle connection <= 1/5 of Socket.IO's",
              "ratio": r, "met": r is not None and r <= 0.2})
    for m in ROOMS:
        r = ratio(n.get(f"sat{m}"), c.get(f"sat{m}"))
        t.append({"target": f">= 0.8x nchan fan-out, rooms of {m}",
                  "ratio": r, "met": r is not None and r >= 0.8})
    for m in ROOMS:
        r = ratio(n.get(f"sat{m}"), ce.get(f"sat{m}"))
        t.append({"target": f"within 2x of the ceiling, rooms of {m}",
                  "ratio": r, "met": r is not None and r >= 0.5})
    return t


def tls_markdown(fig, servers):
    """TLS=1 bench/run: noom over wss against Socket.IO over https"""
    lines = []
    add = lines.append
    cols = [s for s in ("noom-tls", "base-tls", "sio-tls", "nginx-tls",
                        "noom") if s in servers]
    n, p = fig.get("noom-tls", {}), fig.get("sio-tls", {})

    add("**TLS: noom over wss:// against Socket.IO 4.8 over https** "
        "(nginx's own https keepalive connections and noom over ws:// "
        "for reference)")
    add("")
    head = ["", *[NAMES.get(s, s) for s in cols], "noom-tls ÷ sio-tls"]
    add("| " + " | ".join(head) + " |")
    add("|" + "---|" * len(head))
    rows = [("memory per idle connection, bytes (RSS)", "idle_rss", 0),
            ("handshake (TCP, TLS, 101) p50, µs", "hs_p50", 0),
            ("churn cycles per second (a full TLS handshake each)",
             "churn", 0),
            ("churn cycles per server CPU-second", "churn_per_core", 0)]
    rows += [(f"deliveries per server CPU-second, rooms of {m}",
              f"sat{m}_per_core", 0) for m in ROOMS]
    rows += [(f"deliveries per second, rooms of {m}", f"sat{m}", 0)
             for m in ROOMS]
    for name, key, digits in rows:
        vals = [fig[s].get(key) for s in cols]
        add("| " + " | ".join([name, *[fmt(v, digits) for v in vals],
                               fmt_ratio(ratio(n.get(key), p.get(key)))])
            + " |")
    add("")
    r = ratio(n.get("idle_rss"), p.get("idle_rss"))
    add(f"Target: memory per idle wss connection <= 1/5 of Socket.IO's over "
        f"https: {fmt_ratio(r)}, "
        f"{'met' if r is not None and r <= 0.2 else 'not met'}.")
    add("")
    return "\n".join(lines)


def interval(stat, samples, n=2000):
    """stat(samples) and a 90% bootstrap interval: stat of n resamples
    (with replacement, of each list alike), seeded, so a run's summary is
    the same each time it is made"""
    rnd = random.Random(1)
    vals = sorted(stat([[rnd.choice(xs) for _ in xs] for xs in samples])
                  for _ in range(n))
    return stat(samples), vals[n // 20], vals[n - 1 - n // 20]


def intervals(fig, peers, top="noom"):
    """How sure the repeated figures are: top ÷ each peer run as often.
    Deliveries per CPU-second pair top's round i with the peer's round i
    (interleaved, so they share the machine's state) and take the median
    of the ratios; a latency percentile is the ratio of the two servers'
    medians over their runs."""
    if top not in fig:
        return ""

    top_fig = fig[top]
    rows = []

    for p in peers:
        if p == top or p not in fig:
            continue

        for m in ROOMS:
            pairs = [a / b for a, b in zip(top_fig[f"sat{m}_per_core_runs"],
                                           fig[p][f"sat{m}_per_core_runs"])
                     if a and b]
            if len(pairs) >= 5:
                e, lo, hi = interval(lambda x: median(x[0]), [pairs])
                rows.append((p, f"rooms of {m}, deliveries per CPU-second",
                             len(pairs), e, lo, hi))

            for q in ("p99", "p999"):
                a = [v for v in top_fig[f"lat{m}_{q}_runs"] if v]
                b = [v for v in fig[p][f"lat{m}_{q}_runs"] if v]
                if len(a) >= 5 and len(b) >= 5:
                    e, lo, hi = interval(
                        lambda x: median(x[0]) / median(x[1]), [a, b])
                    rows.append((p, f"rooms of {m}, "
                                 f"{q.replace('p999', 'p99.9')} at the "
                                 "latency load", min(len(a), len(b)),
                                 e, lo, hi))

    if not rows:
        return ""

    md = (f"\n**How sure** ({top} ÷ peer, with a 90% bootstrap interval "
          f"over the runs)\n\n| peer | figure | runs | {top} ÷ peer | "
          "90% interval |\n|---|---|---|---|---|\n")
    for p, name, n, e, lo, hi in rows:
        md += (f"| {NAMES.get(p, p)} | {name} | {n} | {fmt_ratio(e)} | "
               f"{fmt_ratio(lo)} to {fmt_ratio(hi)} |\n")
    return md


def plot_data(out, fig, servers):
    def write(name, key, rows=ROOMS):
        with open(os.path.join(out, name), "w") as f:
            f.write("rooms " + " ".join(servers) + "\n")
            for m in rows:
                vals = []
                for s in servers:
                    v = fig[s].get(key.format(m=m))
                    vals.append("NaN" if v is None else f"{v:.6g}")
                f.write(f"{m} " + " ".join(vals) + "\n")

    write("sat.dat", "sat{m}")
    write("p99.dat", "lat{m}_p99")
    write("cpu.dat", "lat{m}_cpu100k")
    write("cpusat.dat", "sat{m}_cpu100k")
    with open(os.path.join(out, "mem.dat"), "w") as f:
        f.write("server rss\n")
        for s in servers:
            v = fig[s].get("idle_rss")
            f.write(f"{s} {'NaN' if v is None else v}\n")
    with open(os.path.join(out, "servers.txt"), "w") as f:
        f.write(" ".join(servers) + "\n")


def main():
    out = sys.argv[1]
    runs, env = load(out)
    servers = [s for s in env.get("servers", []) if s in NAMES]
    fig = figures(runs, servers)
    tg = targets(fig, servers)

    md = markdown(fig, servers, env)
    if any(s.endswith("-tls") for s in servers):
        md += "\n" + tls_markdown(fig, servers)
    else:
        md += "\n**Targets**\n\n| target | noom ÷ peer | met |\n"
        md += "|---|---|---|\n"
        for t in tg:
            md += (f"| {t['target']} | {fmt_ratio(t['ratio'])} | "
                   f"{'yes' if t['met'] else 'no'} |\n")

    md += intervals(fig, servers)
    # the A/A control: one program against itself, the machine's noise;
    # and what the app's acks and bytes alone cost the ceiling
    md += intervals(fig, ["ceiling"], "ceiling2")
    md += intervals(fig, ["ceiling"], "ceilapp")

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"env": env, "figures": fig, "targets": tg}, f, indent=1)

    plot_data(out, fig, servers)
    print(md)


if __name__ == "__main__":
    main()
