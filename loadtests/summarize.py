#!/usr/bin/env python3
"""Turns run.sh's JSON lines into BENCHMARKS.md's real-time section.

Each figure is the median over rounds with its min–max; ratios compare the
CMS server with the bare baseline (the ceiling) and nats-server (the peer)
measured in the same run.
"""
import argparse
import datetime
import json
import platform
import statistics

BEGIN = "<!-- loadtest:begin -->"
END = "<!-- loadtest:end -->"


def load(path):
    runs = {}
    with open(path) as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            rec = json.loads(raw)
            line = rec["line"]
            key = (line["scenario"], rec["system"])
            runs.setdefault(key, []).append(line)
    return runs


def med(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (statistics.median(values), min(values), max(values))


def fmt(m, digits=1):
    if m is None:
        return "–"
    mid, lo, hi = m
    if lo == hi:
        return f"{mid:,.{digits}f}"
    return f"{mid:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def ratio(a, b):
    if a is None or b is None or not b[0]:
        return "–"
    return f"{a[0] / b[0]:.2f}×"


def fig(runs, scenario, system, get):
    return med([get(r) for r in runs.get((scenario, system), [])])


def passes(runs, scenario, system):
    rs = runs.get((scenario, system), [])
    if not rs:
        return "–"
    ok = sum(1 for r in rs if is_clean(r))
    return f"{ok}/{len(rs)}"


def is_clean(r):
    t = r["tally"]
    return t["lost"] == 0 and t["duplicated"] == 0 and t["out_of_order"] == 0 and t["errors"] == 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def section(runs, command):
    systems = ["cms", "bare", "nats"]
    out = [BEGIN, "", "## Real-time server: capacity, chat fan-out, reconnect, booking race", ""]
    out.append(f"Run on {datetime.date.today()} with `{command}`: each system pinned to core 0, the")
    out.append(f"generator to core 1 ({cpu_model()}, 2 cores); systems interleaved A B C per round;")
    out.append("each figure is the median over rounds with min–max in brackets. Latency is end")
    out.append("to end (sender's monotonic stamp to each receiver's arrival), in ms. The CMS")
    out.append("server stores every message in SurrealDB (surrealkv, every commit synced);")
    out.append("the bare baseline and nats-server store nothing.")
    out.append("")

    out.append("### Chat: 2,000 sockets in conversations of 4, 1,000 msg/s offered")
    out.append("")
    out.append("| system | p50 | p99 | p99.9 | max | deliveries/s | server CPU s / 1M deliveries | server RSS MiB | clean runs |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    chat = {}
    for s in systems:
        g = lambda f: fig(runs, "chat", s, f)
        chat[s] = {
            "p50": g(lambda r: r["latency_ms"]["p50"]),
            "p99": g(lambda r: r["latency_ms"]["p99"]),
            "p999": g(lambda r: r["latency_ms"]["p999"]),
            "max": g(lambda r: r["latency_ms"]["max"]),
            "dps": g(lambda r: r["deliveries_per_sec"]),
            "cpu": g(lambda r: r["server_cpu_secs_per_1m"]),
            "rss": g(lambda r: (r["server_rss_kib"] or 0) / 1024 if r["server_rss_kib"] else None),
        }
        c = chat[s]
        out.append(f"| {s} | {fmt(c['p50'], 2)} | {fmt(c['p99'], 2)} | {fmt(c['p999'], 2)} | {fmt(c['max'], 1)} | "
                   f"{fmt(c['dps'], 0)} | {fmt(c['cpu'], 1)} | {fmt(c['rss'], 0)} | {passes(runs, 'chat', s)} |")
    out.append("")

    out.append("### Highest offered rate with p99 ≤ 50 ms (same 2,000 sockets)")
    out.append("")
    out.append("| system | msg/s | deliveries/s at that rate | CMS ÷ system |")
    out.append("|---|---|---|---|")
    top = {}
    for s in systems:
        top[s] = fig(runs, "chat-max", s, lambda r: r["extra"]["max_rate_at_p99_limit"])
        dps = fig(runs, "chat-max", s, lambda r: max(
            [st["delivered_per_sec"] for st in r["extra"]["steps"] if st["clean"] and st["p99_ms"] <= 50] or [0]))
        out.append(f"| {s} | {fmt(top[s], 0)} | {fmt(dps, 0)} | {ratio(top['cms'], top[s]) if s != 'cms' else '1.00×'} |")
    out.append("")

    out.append("### Capacity: sockets each in its `user:` topic and a conversation (bare: the conversation)")
    out.append("")
    out.append("| system | largest reached | join p50 ms | join p99 ms | server KiB per socket at the top | clean runs |")
    out.append("|---|---|---|---|---|---|")
    for s in ["cms", "bare"]:
        largest = fig(runs, "capacity", s, lambda r: r["extra"]["largest"])
        j50 = fig(runs, "capacity", s, lambda r: r["latency_ms"]["p50"])
        j99 = fig(runs, "capacity", s, lambda r: r["latency_ms"]["p99"])
        kib = fig(runs, "capacity", s, lambda r: (r["extra"]["checkpoints"] or [{}])[-1].get("kib_per_socket"))
        out.append(f"| {s} | {fmt(largest, 0)} | {fmt(j50, 2)} | {fmt(j99, 2)} | {fmt(kib, 1)} | {passes(runs, 'capacity', s)} |")
    marks = {}
    for r in runs.get(("capacity", "cms"), []):
        for m in r["extra"]["checkpoints"]:
            if m.get("kib_per_socket") is not None:
                marks.setdefault(m["sockets"], []).append(m["kib_per_socket"])
    if marks:
        out.append("")
        out.append("CMS server memory per socket on the way up: " + ", ".join(
            f"{n:,} sockets → {fmt(med(v), 1)} KiB" for n, v in sorted(marks.items())) + ".")
    out.append("")

    out.append("### Reconnect (CMS): half the sockets drop, messages keep flowing, they rejoin with since_seq")
    out.append("")
    out.append("| sockets dropped and back | recovered per run | lost | duplicated | rejoin p99 ms | live p99 ms | clean runs |")
    out.append("|---|---|---|---|---|---|---|")
    back = fig(runs, "reconnect", "cms", lambda r: r["extra"]["reconnected"])
    rec = fig(runs, "reconnect", "cms", lambda r: r["tally"]["recovered"])
    lost = fig(runs, "reconnect", "cms", lambda r: r["tally"]["lost"])
    dup = fig(runs, "reconnect", "cms", lambda r: r["tally"]["duplicated"])
    rj = fig(runs, "reconnect", "cms", lambda r: r["extra"]["rejoin_ms"]["p99"])
    lp = fig(runs, "reconnect", "cms", lambda r: r["latency_ms"]["p99"])
    out.append(f"| {fmt(back, 0)} | {fmt(rec, 0)} | {fmt(lost, 0)} | {fmt(dup, 0)} | {fmt(rj, 1)} | {fmt(lp, 1)} | {passes(runs, 'reconnect', 'cms')} |")
    out.append("")

    out.append("### Booking race (CMS): concurrent bookings of one tutor's hour")
    out.append("")
    out.append("| requests | winners | 409s | p50 ms | p99 ms | clean runs |")
    out.append("|---|---|---|---|---|---|")
    req = fig(runs, "booking-race", "cms", lambda r: r["extra"]["requests"])
    won = fig(runs, "booking-race", "cms", lambda r: r["extra"]["won"])
    c409 = fig(runs, "booking-race", "cms", lambda r: r["extra"]["conflict_409"])
    b50 = fig(runs, "booking-race", "cms", lambda r: r["latency_ms"]["p50"])
    b99 = fig(runs, "booking-race", "cms", lambda r: r["latency_ms"]["p99"])
    out.append(f"| {fmt(req, 0)} | {fmt(won, 0)} | {fmt(c409, 0)} | {fmt(b50, 1)} | {fmt(b99, 1)} | {passes(runs, 'booking-race', 'cms')} |")
    out.append("")

    if ("lesson-rush", "cms") in runs:
        out.append("### Lesson rush (CMS): lessons started at once; start to board and to video")
        out.append("")
        out.append("| lessons | admins | board p50 ms | p99 | max | video p50 ms | p99 | max | server CPU ms | RSS MiB | clean runs |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        rush = lambda get: fig(runs, "lesson-rush", "cms", get)
        cells = [fmt(rush(lambda r: r["extra"]["lessons"]), 0), fmt(rush(lambda r: r["extra"]["admins"]), 0)]
        for key in ("board_started_ms", "video_ready_ms"):
            for q in ("p50", "p99", "max"):
                cells.append(fmt(rush(lambda r, key=key, q=q: r["extra"][key][q]), 1))
        cells.append(fmt(rush(lambda r: r["extra"]["server_cpu_ms"]), 0))
        cells.append(fmt(rush(lambda r: None if r["server_rss_kib"] is None else r["server_rss_kib"] / 1024), 0))
        cells.append(passes(runs, "lesson-rush", "cms"))
        out.append("| " + " | ".join(cells) + " |")
        out.append("")

    out.append("### Ratios")
    out.append("")
    out.append(f"- Highest rate at p99 ≤ 50 ms, CMS ÷ bare baseline: {ratio(top['cms'], top['bare'])} (target ≥ 0.5×); CMS ÷ nats-server: {ratio(top['cms'], top['nats'])} (target ≥ 1×).")
    out.append(f"- Chat p99 at 1,000 msg/s, CMS ÷ bare: {ratio(chat['cms']['p99'], chat['bare']['p99'])}; CMS ÷ nats: {ratio(chat['cms']['p99'], chat['nats']['p99'])}.")
    out.append(f"- Server CPU per delivery, CMS ÷ bare: {ratio(chat['cms']['cpu'], chat['bare']['cpu'])}; CMS ÷ nats: {ratio(chat['cms']['cpu'], chat['nats']['cpu'])}.")
    out.append("")
    out.append(END)
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--command", required=True)
    p.add_argument("--markdown", required=True)
    a = p.parse_args()
    text = section(load(a.results), a.command)
    try:
        with open(a.markdown) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = "# Benchmarks\n\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        doc = head + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(a.markdown, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
