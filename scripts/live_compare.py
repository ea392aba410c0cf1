#!/usr/bin/env python3
"""live_compare.py: the comparison step of scripts/live_validate.sh (issue 7).

    scripts/live_compare.py OUT [--sim-db DB] [--tag NAME]

Reads a live_validate.sh result directory OUT (live/<policy>/requests.csv, pods.csv,
series.csv, events; the simulator's runs in OUT/validation.db, or in --sim-db), writes the
live side into OUT/validation.db (tables live_runs, live_requests, live_pods, live_series,
comparison), and prints and writes the comparison table (OUT/comparison[_TAG].md and .csv)
and, where gnuplot exists, one picture per policy of pods and P95 over time, simulated and
live overlaid (OUT/plot[_TAG]_<policy>.png).

Definitions, the same on both sides:
  latency      end - scheduled arrival of each completed request (the simulator: end -
               arrival); mean, and P50/P95/P99 by linear interpolation between order
               statistics over every request of the run;
  pod-seconds  sum over pods of the time each existed (cold start, ready and draining),
               within [t0, last completion] (the simulator: from its per-scrape series of
               pods starting + ready + draining, up to its last completion);
  cold starts  pods started after t0 (the simulator: pod_starts; initial pods excluded);
  P95 over time  P95 of the requests completed in the trailing 10 s, every second.
Targets (issue 7): mean and P95 within 10%, P99 within 20%, pod-seconds within 10%,
cold starts exact. The simulator's figure is the mean over its replications (+- the 95%
confidence half-width, Student t).
"""
import csv
import math
import os
import shutil
import sqlite3
import subprocess
import sys

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}
TARGETS = {"mean_s": 0.10, "p95_s": 0.10, "p99_s": 0.20, "pod_seconds": 0.10, "cold_starts": 0.0}


def quantile(sorted_v, q):
    if not sorted_v:
        return float("nan")
    pos = q * (len(sorted_v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (pos - lo)


def stats(lat):
    s = sorted(lat)
    return {"n": len(s), "mean_s": sum(s) / len(s) if s else float("nan"),
            "p50_s": quantile(s, 0.5), "p95_s": quantile(s, 0.95), "p99_s": quantile(s, 0.99),
            "max_s": s[-1] if s else float("nan")}


def mean_ci(vals):
    n = len(vals)
    m = sum(vals) / n
    if n < 2:
        return m, 0.0
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1))
    t = T95.get(n - 1) or T95[max(k for k in T95 if k <= n - 1)]
    return m, t * sd / math.sqrt(n)


def rolling_p95(points, t_max, window=10.0):
    """points: (t_end_s, latency_s); P95 of those ending in (t - window, t], each second."""
    pts = sorted(points)
    out, j0 = [], 0
    for t in range(0, int(t_max) + 2):
        while j0 < len(pts) and pts[j0][0] <= t - window:
            j0 += 1
        win = sorted(lat for te, lat in pts[j0:] if te <= t)
        out.append((t, quantile(win, 0.95) if win else float("nan")))
    return out


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(s, default=None):
    try:
        return float(s)
    except (TypeError, ValueError):
        return default


def live_side(out, label):
    d = os.path.join(out, "live", label)
    reqs = read_csv(os.path.join(d, "requests.csv"))
    first = reqs[0]
    t0 = int(first["sched_us"]) - round(float(first["t_s"]) * 1e6)
    # the time scale of the replay is 1 (the arrivals are already compressed): sched = t0 + t_s
    done = [r for r in reqs if r["completed"] == "1"]
    lat = [(int(r["end_us"]) - int(r["sched_us"])) / 1e6 for r in done]
    t_end = max(int(r["end_us"]) for r in done) if done else t0
    pods_path = os.path.join(d, "pods_final.csv")
    if not os.path.exists(pods_path):
        pods_path = os.path.join(d, "pods.csv")
    pods = read_csv(pods_path)
    pod_s, cold, colds = 0.0, 0, []
    for p in pods:
        spawn = num(p.get("spawn_us"))
        if spawn is None:
            continue
        end = num(p.get("exit_us")) or num(p.get("reaped_us")) or t_end
        a, b = max(spawn, t0), min(end, t_end)
        if b > a:
            pod_s += (b - a) / 1e6
        if spawn >= t0 and spawn <= t_end:
            cold += 1
            if num(p.get("ready_us")):
                colds.append((num(p["ready_us"]) - spawn) / 1e6)
    st = stats(lat)
    st.update({"pod_seconds": pod_s, "cold_starts": cold, "t0_us": t0, "t_end_us": t_end,
               "mean_cold_start_s": sum(colds) / len(colds) if colds else float("nan"),
               "incomplete": len(reqs) - len(done)})
    series = read_csv(os.path.join(d, "series.csv")) if os.path.exists(os.path.join(d, "series.csv")) else []
    return st, reqs, pods, series, done


def pods_over_time(pods, t0, t_end):
    """(t_s, existing, ready) every 0.5 s from the worker records."""
    rows = []
    t = t0
    while t <= t_end:
        ex = rd = 0
        for p in pods:
            spawn = num(p.get("spawn_us"))
            if spawn is None:
                continue
            end = num(p.get("exit_us")) or num(p.get("reaped_us")) or float("inf")
            ready = num(p.get("ready_us")) or float("inf")
            term = num(p.get("term_us")) or end
            if spawn <= t < end:
                ex += 1
            if ready <= t < term:
                rd += 1
        rows.append(((t - t0) / 1e6, ex, rd))
        t += 500000
    return rows


def sim_side(db, label):
    cur = db.execute("SELECT id, replication, pod_starts FROM runs "
                     "WHERE label = ? ORDER BY replication", (label,))
    runs = cur.fetchall()
    per = []
    for run_id, rep, starts in runs:
        req = db.execute("SELECT arrival_us, end_us FROM requests WHERE run_id = ? AND outcome = 0",
                         (run_id,)).fetchall()
        lat = [(e - a) / 1e6 for a, e in req]
        t_end = max(e for a, e in req) if req else 0
        # pod-seconds up to the last completion (the run's horizon is last arrival + the
        # client timeout, and gpu_seconds divides by gpu_share): from the per-scrape series,
        # each sample standing for the scrape interval before it
        ser = db.execute("SELECT t_us, pods_starting + pods_ready + pods_draining FROM series "
                         "WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        pod_us, prev = 0.0, 0
        for t, n in ser:
            if prev >= t_end:
                break
            pod_us += n * (min(t, t_end) - prev)
            prev = t
        st = stats(lat)
        st.update({"pod_seconds": pod_us / 1e6, "cold_starts": starts, "run_id": run_id,
                   "rep": rep, "t_end_us": t_end})
        per.append(st)
    return per


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    sim_db_path = os.path.join(out, "validation.db")
    tag = ""
    i = 2
    while i < len(argv):
        if argv[i] == "--sim-db":
            sim_db_path = argv[i + 1]
        elif argv[i] == "--tag":
            tag = argv[i + 1]
        else:
            print("live_compare: unknown argument %s" % argv[i], file=sys.stderr)
            return 2
        i += 2
    suffix = "_" + tag if tag else ""
    meta = {}
    with open(os.path.join(out, "meta.txt")) as f:
        for line in f:
            if ":" in line:
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip()
    labels = meta.get("policies", "static hpa gpen-rule").split()
    sim = sqlite3.connect(sim_db_path)
    prof_name = meta.get("profile", "?")
    for (yaml_text,) in sim.execute("SELECT yaml_text FROM experiments ORDER BY id DESC LIMIT 1"):
        for line in yaml_text.splitlines():
            if line.startswith("profile:"):
                prof_name = line.split(":", 1)[1].strip()
    db = sqlite3.connect(os.path.join(out, "validation.db"))
    db.executescript("""
        DROP TABLE IF EXISTS live_runs; DROP TABLE IF EXISTS live_requests;
        DROP TABLE IF EXISTS live_pods; DROP TABLE IF EXISTS live_series;
        CREATE TABLE live_runs(label TEXT PRIMARY KEY, card TEXT, date TEXT, backend TEXT,
            requests INTEGER, incomplete INTEGER, mean_s REAL, p50_s REAL, p95_s REAL,
            p99_s REAL, max_s REAL, pod_seconds REAL, cold_starts INTEGER,
            mean_cold_start_s REAL, t0_us INTEGER, t_end_us INTEGER);
        CREATE TABLE live_requests(label TEXT, id INTEGER, t_s REAL, mp REAL, faces INTEGER,
            sched_us INTEGER, submit_us INTEGER, start_us INTEGER, end_us INTEGER,
            latency_s REAL, service_ms REAL, worker TEXT, PRIMARY KEY(label, id));
        CREATE TABLE live_pods(label TEXT, worker TEXT, spawn_us INTEGER, ready_us INTEGER,
            term_us INTEGER, exit_us INTEGER, cold_start_s REAL, phases TEXT,
            PRIMARY KEY(label, worker));
        CREATE TABLE live_series(label TEXT, t_s REAL, ready INTEGER, draining INTEGER,
            queue_len REAL, in_flight REAL, p50_s REAL, p95_s REAL, p99_s REAL,
            gpu_mem_frac REAL, gpu_util_frac REAL, arrival_rate REAL);
        CREATE TABLE IF NOT EXISTS comparison(tag TEXT, label TEXT, metric TEXT, live REAL,
            sim_mean REAL, sim_ci REAL, rel_err REAL, target REAL, pass INTEGER,
            PRIMARY KEY(tag, label, metric));
    """)
    db.execute("DELETE FROM comparison WHERE tag = ?", (tag,))
    rows_out = []
    plots = []
    for label in labels:
        if not os.path.isdir(os.path.join(out, "live", label)):
            continue
        live, reqs, pods, series, done = live_side(out, label)
        t0 = live["t0_us"]
        db.execute("INSERT INTO live_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (label, meta.get("gpu", ""), meta.get("date", ""), meta.get("backend", ""),
                    len(reqs), live["incomplete"], live["mean_s"], live["p50_s"], live["p95_s"],
                    live["p99_s"], live["max_s"], live["pod_seconds"], live["cold_starts"],
                    live["mean_cold_start_s"], t0, live["t_end_us"]))
        db.executemany("INSERT INTO live_requests VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
            (label, int(r["id"]), float(r["t_s"]), float(r["mp"]), int(r["faces"]),
             int(r["sched_us"]), int(r["submit_us"]), num(r["start_us"]), num(r["end_us"]),
             (int(r["end_us"]) - int(r["sched_us"])) / 1e6 if r["completed"] == "1" else None,
             num(r["service_ms"]), r["worker"]) for r in reqs])
        for p in pods:
            phases = ";".join("%s=%s" % (k[6:-3], v) for k, v in p.items()
                              if k.startswith("phase_") and v)
            spawn, ready = num(p.get("spawn_us")), num(p.get("ready_us"))
            db.execute("INSERT OR REPLACE INTO live_pods VALUES (?,?,?,?,?,?,?,?)",
                       (label, p["worker"], spawn, ready, num(p.get("term_us")),
                        num(p.get("exit_us")),
                        (ready - spawn) / 1e6 if spawn and ready else None, phases))
        db.executemany("INSERT INTO live_series VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
            (label, (int(s["t_us"]) - t0) / 1e6, int(s["ready"]), int(s["draining"]),
             num(s["queue_len"]), num(s["in_flight"]), num(s["p50_s"]), num(s["p95_s"]),
             num(s["p99_s"]), num(s["gpu_mem_frac"]), num(s["gpu_util_frac"]),
             num(s["arrival_rate"])) for s in series])
        sims = sim_side(sim, label)
        if not sims:
            print("live_compare: no simulated runs of %s in %s" % (label, sim_db_path), file=sys.stderr)
            continue
        for metric in ("mean_s", "p50_s", "p95_s", "p99_s", "pod_seconds", "cold_starts"):
            m, ci = mean_ci([s[metric] for s in sims])
            lv = live[metric]
            rel = (m - lv) / lv if lv else (0.0 if m == lv else float("inf"))
            target = TARGETS.get(metric)
            if metric == "cold_starts":
                ok = int(round(m) == lv and all(s[metric] == lv for s in sims))
            else:
                ok = int(target is not None and abs(rel) <= target) if target is not None else None
            db.execute("INSERT INTO comparison VALUES (?,?,?,?,?,?,?,?,?)",
                       (tag, label, metric, lv, m, ci, rel, target, ok))
            rows_out.append((label, metric, lv, m, ci, rel, target, ok))
        # time series for the picture: simulated replication 0 against live
        t_max = (live["t_end_us"] - t0) / 1e6
        live_p95 = rolling_p95([((int(r["end_us"]) - t0) / 1e6,
                                 (int(r["end_us"]) - int(r["sched_us"])) / 1e6) for r in done], t_max)
        live_pods = pods_over_time(pods, t0, live["t_end_us"])
        rid = sims[0]["run_id"]
        sim_req = sim.execute("SELECT arrival_us, end_us FROM requests WHERE run_id = ? AND outcome = 0",
                              (rid,)).fetchall()
        sim_p95 = rolling_p95([(e / 1e6, (e - a) / 1e6) for a, e in sim_req],
                              max(e for a, e in sim_req) / 1e6 if sim_req else 0)
        sim_pods = sim.execute("SELECT t_us, pods_starting + pods_ready + pods_draining, pods_ready "
                               "FROM series WHERE run_id = ? AND t_us <= ? ORDER BY seq",
                               (rid, sims[0]["t_end_us"] + 5000000)).fetchall()
        base = os.path.join(out, "plot%s_%s" % (suffix, label))
        with open(base + ".dat", "w") as f:
            f.write("# block 0: live pods (t_s existing ready); 1: sim pods; 2: live P95; 3: sim P95\n")
            for t, ex, rd in live_pods:
                f.write("%.2f %d %d\n" % (t, ex, rd))
            f.write("\n\n")
            for t, ex, rd in sim_pods:
                f.write("%.2f %d %d\n" % (t / 1e6, ex, rd))
            f.write("\n\n")
            for t, v in live_p95:
                f.write("%d %s\n" % (t, "nan" if math.isnan(v) else "%.4f" % v))
            f.write("\n\n")
            for t, v in sim_p95:
                f.write("%d %s\n" % (t, "nan" if math.isnan(v) else "%.4f" % v))
        plots.append((label, base))
    db.commit()
    # the table
    card = meta.get("gpu", "?")
    lines = ["# Live vs simulated%s: %s, %s" % (" (" + tag + ")" if tag else "", card, meta.get("date", "")),
             "",
             "backend %s; arrivals %s; simulator %s; profile %s" % (
                 meta.get("backend", "?"), os.path.basename(meta.get("arrivals", "?")),
                 os.path.basename(sim_db_path), os.path.basename(prof_name)),
             "",
             "| policy | metric | live | simulated (mean +- 95% CI) | sim - live | target | pass |",
             "|---|---|---|---|---|---|---|"]
    for label, metric, lv, m, ci, rel, target, ok in rows_out:
        tgt = "exact" if metric == "cold_starts" else ("+-%d%%" % round(100 * target) if target else "-")
        lines.append("| %s | %s | %.3f | %.3f +- %.3f | %+.1f%% | %s | %s |" % (
            label, metric, lv, m, ci, 100 * rel if math.isfinite(rel) else float("nan"), tgt,
            "-" if ok is None else ("yes" if ok else "NO")))
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out, "comparison%s.md" % suffix), "w") as f:
        f.write(text)
    with open(os.path.join(out, "comparison%s.csv" % suffix), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["policy", "metric", "live", "sim_mean", "sim_ci95", "rel_err", "target", "pass"])
        for r in rows_out:
            w.writerow(r)
    if shutil.which("gnuplot"):
        for label, base in plots:
            gp = """set terminal pngcairo size 1100,700 font ",10"
set output '%s.png'
set multiplot layout 2,1 title '%s: simulated vs live (%s)'
set xlabel 'time (s)'; set ylabel 'pods (existing)'; set key top right; set grid
plot '%s.dat' index 0 using 1:2 with steps lw 2 title 'live', '' index 1 using 1:2 with steps lw 2 dt 2 title 'simulated (rep 0)'
set ylabel 'P95 latency, trailing 10 s (s)'
plot '%s.dat' index 2 using 1:2 with lines lw 2 title 'live', '' index 3 using 1:2 with lines lw 2 dt 2 title 'simulated (rep 0)'
unset multiplot
""" % (base, label, card.replace("'", ""), base, base)
            subprocess.run(["gnuplot"], input=gp.encode(), check=False)
    else:
        print("live_compare: gnuplot not found: the plot data are in %s/plot*.dat" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
