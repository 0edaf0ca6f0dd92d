#!/usr/bin/env python3
"""bench_report.py RESULTS OUT - turns the results of tools/bench.sh into
OUT/benchmarks.md and the PNG plots in OUT/img/ (gnuplot).

Every figure on the page comes from RESULTS, that is from one run of
`make bench`; the prose around them is fixed and says how each was taken.
The exception is what was measured by hand (interleaved pairs, cw-bench
hostile): the blocks of the existing OUT/benchmarks.md between the lines
"<!-- by hand -->" and "<!-- /by hand -->" are kept as they are, after
the network section.
"""
import os
import re
import subprocess
import sys

res, out = sys.argv[1], sys.argv[2]
img = os.path.join(out, "img")
os.makedirs(img, exist_ok=True)


def kept_blocks(path):
    """The hand-measured blocks of the page being replaced, markers
    included, so that a new run does not drop them."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return []
    return re.findall(r"<!-- by hand -->\n.*?<!-- /by hand -->\n", old,
                      re.S)


KEPT = kept_blocks(os.path.join(out, "benchmarks.md"))

NAMES = {
    "postgresql": "PostgreSQL",
    "redis": "Redis",
    "causeway-1dc": "Causeway, 1 DC",
    "causeway-3dc": "Causeway, 3 DCs",
}
ORDER = ["postgresql", "redis", "causeway-1dc", "causeway-3dc"]


def read(name):
    try:
        with open(os.path.join(res, name)) as f:
            return f.read()
    except OSError:
        return ""


machine = dict(
    line.split("=", 1) for line in read("machine.txt").splitlines() if "=" in line
)
fmk = []  # system scale clients ops p50 p99 errors mem rpo [cpu]
for line in read("fmk.tsv").splitlines():
    f = line.split("\t")
    if len(f) in (9, 10):
        cpu = f[9] if len(f) == 10 and f[9] != "-" else None
        fmk.append(
            dict(sys=f[0], scale=int(f[1]), n=int(f[2]), ops=float(f[3]),
                 p50=float(f[4]), p99=float(f[5]), err=f[6],
                 mem=int(f[7]), rpo=f[8],
                 cpu=float(cpu) if cpu is not None else None))
pop = []
for line in read("populate.tsv").splitlines():
    f = line.split("\t")
    if len(f) == 4:
        pop.append(dict(sys=f[0], scale=int(f[1]), secs=float(f[2] or 0),
                        mem=int(f[3] or 0)))


def row(sys_, scale, n):
    for r in fmk:
        if r["sys"] == sys_ and r["scale"] == scale and r["n"] == n:
            return r
    return None


clients = sorted({r["n"] for r in fmk if r["scale"] == 1})
scales = sorted({r["scale"] for r in fmk})
systems = [s for s in ORDER if any(r["sys"] == s for r in fmk)]


def mb(kb):
    return "%.0f" % (kb / 1024.0)


# ---- plots -----------------------------------------------------------------

def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot_clients(key, ylabel, fname, logy=False):
    data = os.path.join(res, "plot-%s.dat" % key)
    with open(data, "w") as f:
        for s in systems:
            f.write("# %s\n" % NAMES[s])
            for n in clients:
                r = row(s, 1, n)
                if r:
                    f.write("%d %f\n" % (n, r[key]))
            f.write("\n\n")
    plots = ", ".join(
        "'%s' index %d using 1:2 with linespoints lw 2 title '%s'"
        % (data, i, NAMES[s]) for i, s in enumerate(systems))
    gnuplot("""set terminal pngcairo size 800,450 font ',10'
set output '%s'
set logscale x 2
%s
set xlabel 'clients'
set ylabel '%s'
set key outside right
set grid
plot %s
""" % (os.path.join(img, fname), "set logscale y" if logy else "", ylabel, plots))


def plot_scale():
    data = os.path.join(res, "plot-scale.dat")
    with open(data, "w") as f:
        for s in systems:
            f.write("# %s\n" % NAMES[s])
            for sc in scales:
                r = row(s, sc, 16)
                if r:
                    f.write("%d %f %f\n" % (sc, r["ops"], r["mem"] / 1024.0))
            f.write("\n\n")
    plots1 = ", ".join(
        "'%s' index %d using 1:2 with linespoints lw 2 title '%s'"
        % (data, i, NAMES[s]) for i, s in enumerate(systems))
    plots2 = ", ".join(
        "'%s' index %d using 1:3 with linespoints lw 2 title '%s'"
        % (data, i, NAMES[s]) for i, s in enumerate(systems))
    gnuplot("""set terminal pngcairo size 900,450 font ',10'
set output '%s'
set multiplot layout 1,2
set logscale x 10
set xlabel 'dataset (x FMKe scaled default)'
set grid
set key below
set ylabel 'ops/s, 16 clients'
plot %s
set ylabel 'peak memory of the servers (MiB, Pss)'
plot %s
unset multiplot
""" % (os.path.join(img, "dataset.png"), plots1, plots2))


def plot_lag():
    data = os.path.join(res, "lag.tsv")
    top = 1
    for line in read("lag.tsv").splitlines():
        f = line.split("\t")
        if not line.startswith("#") and len(f) >= 6:
            top = max(top, int(f[3]), int(f[5]))
    gnuplot("""set terminal pngcairo size 800,450 font ',10'
set output '%s'
set xlabel 'seconds'
set ylabel 'records of DC 0 not yet applied'
set y2label 'staleness (ms)'
set ytics nomirror
set y2tics
set grid
set key top right
set yrange [0:%d]
plot '%s' using 1:($2*%d) with filledcurves y1=0 lc rgb '#eeeeee' title 'DC 1 cut off', \\
     '%s' using 1:4 with lines lw 2 title 'DC 1 lag (records)', \\
     '%s' using 1:6 with lines lw 2 title 'DC 2 lag (records)', \\
     '%s' using 1:5 axes x1y2 with lines dt 2 title 'DC 1 staleness (ms)'
""" % (os.path.join(img, "lag.png"), top * 1.1, data, top * 1.1, data, data,
       data))


have_plots = bool(fmk)
if have_plots:
    plot_clients("ops", "ops/s", "fmk_throughput.png")
    plot_clients("p99", "p99 latency (ms)", "fmk_p99.png", logy=True)
    if len(scales) > 1:
        plot_scale()
if read("lag.tsv"):
    plot_lag()

# ---- figures for the targets ----------------------------------------------

def ratio(a, b):
    return a / b if b else 0.0


pg16 = row("postgresql", 1, 16)
cw16 = row("causeway-1dc", 1, 16)
fmk_ratio = ratio(cw16["ops"], pg16["ops"]) if pg16 and cw16 else None

local = read("local.txt")
local_ratios = [float(m) for m in re.findall(
    r"^\|\s*\d+\s*\|\s*\d+\s*\|\s*\d+\s*\|\s*([\d.]+)\s*\|", local, re.M)]
net = read("net.txt")
# issue 3's figures: 16 threads against embedded, half-peak p99, and the
# transport's ceiling measured in the same run
m_net16 = re.search(r"^\|\s*16\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|",
                    net, re.M)
m_half = re.search(r"at half the network peak.*?p50 ([\d.]+) ms, p99 ([\d.]+) ms",
                   net, re.S)
m_ceil16 = re.search(r"^\|\s*16\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|"
                     r"\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|$", net, re.M)
m_thalf = re.search(r"transport alone at the half-peak load.*?p50 ([\d.]+) ms, "
                    r"p99 ([\d.]+) ms", net, re.S)
m_disk = re.search(r"the disk alone.*?p99 ([\d.]+) ms, p99\.9 ([\d.]+) ms.*?"
                   r"under way ([\d.]+)% of", net, re.S)
repl = read("repl.txt")
m_vis = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", repl)
vis_p99 = float(m_vis.group(2)) if m_vis else None
lag = read("lag.tsv")
lag_summary = [l[2:] for l in lag.splitlines() if l.startswith("# ")]


def verdict(ok):
    return "**met**" if ok else "**not met**"


# ---- the page ----------------------------------------------------------------

md = []
w = md.append
w("# Benchmarks\n")
w("<!-- written by `make bench` (tools/bench.sh, tools/bench_report.py): "
  "edit those, not this file -->\n")
w("Every figure on this page comes from one run of `make bench` on %s, "
  "which took %s s. Causeway and its peers ran one after the other on the "
  "same machine, so the ratios between them are the figures to read; "
  "absolute numbers move with the machine's neighbours. The history of "
  "how each engine figure got where it is, and the earlier runs, are in "
  "[benchmark-notes.md](benchmark-notes.md).\n"
  % (machine.get("date", "?"), machine.get("elapsed", "?")))
w("```\nmake bench                      # about %d min as configured below\n"
  "BENCH_SCALES='1 10' make bench  # without the 100x dataset (5 min less)\n"
  "BENCH_QUICK=1 make bench        # a smoke run of every step\n```\n"
  % max(1, int(machine.get("elapsed", "60")) // 60))
fs = machine.get("fsync_us", "0 0").split()
w("## The machine\n")
w("| | |\n|---|---|")
w("| cores | %s (%s) |" % (machine.get("cores"), machine.get("model")))
w("| memory | %s GiB |" % machine.get("mem_gb"))
w("| disk | %s; one 4 KiB write + `fdatasync`: p50 %s µs, p99 %s µs "
  "(measured at the start of the run) |"
  % (machine.get("fs"), fs[0], fs[1] if len(fs) > 1 else "?"))
w("| peers | %s |" % machine.get("versions"))
w("| runs | %s s per fmk run; clients %s; datasets x%s |\n"
  % (machine.get("seconds"), machine.get("clients"),
     ", x".join(machine.get("scales", "1").split())))
w("Clients and servers share the same cores: at 64 clients the client "
  "threads compete with the server for CPU, for every system alike.\n")

# targets
w("## Targets\n")
w("| target (issue) | measured | |\n|---|---|---|")
if m_net16:
    r16 = float(m_net16.group(3))
    w("| network ≥ 0.5× embedded, 16 threads, `cw-bench net` (3) | %.2f× "
      "(%s against %s txn/s) | %s |"
      % (r16, m_net16.group(2), m_net16.group(1), verdict(r16 >= 0.5)))
if m_half:
    hp = float(m_half.group(2))
    w("| network p99 < 2 ms at half the peak, `cw-bench net` (3) | %.2f ms "
      "| %s |" % (hp, verdict(hp < 2)))
if fmk_ratio is not None:
    w("| FMK ops/s on 1 DC ≥ 3× PostgreSQL's (16 clients) (8) | %.2f× "
      "(%.0f against %.0f ops/s) | %s |"
      % (fmk_ratio, cw16["ops"], pg16["ops"], verdict(fmk_ratio >= 3)))
# issue 20's
c3_16 = row("causeway-3dc", 1, 16)
if cw16 and pg16 and cw16.get("cpu") and pg16.get("cpu"):
    cr = ratio(cw16["cpu"], pg16["cpu"])
    w("| FMK ops/s on 1 DC ≥ 2× PostgreSQL's (16 clients) (20) | %.2f× | %s |"
      % (fmk_ratio, verdict(fmk_ratio >= 2)))
    w("| causewayd CPU per FMK operation ≤ 0.5× PostgreSQL's, all its "
      "processes (16 clients) (20) | %.2f× (%.0f against %.0f µs) | %s |"
      % (cr, cw16["cpu"], pg16["cpu"], verdict(cr <= 0.5)))
if c3_16 and pg16:
    r3 = ratio(c3_16["ops"], pg16["ops"])
    w("| FMK ops/s on 3 DCs (one machine) ≥ 1× PostgreSQL's (20) | %.2f× "
      "(%.0f against %.0f ops/s) | %s |"
      % (r3, c3_16["ops"], pg16["ops"], verdict(r3 >= 1)))
big = max((p["scale"] for p in pop), default=0)
pp = [p for p in pop if p["scale"] == big and p["sys"] == "postgresql"]
pc = [p for p in pop if p["scale"] == big and p["sys"] == "causeway-1dc"]
if big > 1 and pp and pc and pp[0]["secs"] and pp[0]["mem"]:
    rt = ratio(pc[0]["secs"], pp[0]["secs"])
    rm = ratio(pc[0]["mem"], pp[0]["mem"])
    w("| x%d dataset: populate time ≤ 1× PostgreSQL's (20) | %.2f× (%.1f "
      "against %.1f s) | %s |"
      % (big, rt, pc[0]["secs"], pp[0]["secs"], verdict(rt <= 1)))
    w("| x%d dataset: peak memory ≤ 1.5× PostgreSQL's (20) | %.2f× (%.0f "
      "against %.0f MiB) | %s |"
      % (big, rm, pc[0]["mem"] / 1024, pp[0]["mem"] / 1024,
         verdict(rm <= 1.5)))
if local_ratios:
    w("| durable embedded commits ≥ 0.9× raw RocksDB (8) | %s× (1 and 4 "
      "threads) | %s |"
      % (", ".join("%.2f" % x for x in local_ratios),
         verdict(min(local_ratios) >= 0.9)))
if vis_p99 is not None:
    w("| remote visibility p99 ≤ 2 ms on loopback at half load (8) | %.2f ms "
      "| %s |" % (vis_p99, verdict(vis_p99 <= 2)))
w("")
w("Where a target is not met, [Where the time goes](#where-the-time-goes) "
  "says why, with the profile of this run.")
if vis_p99 is not None and vis_p99 > 2:
    w(" Remote visibility is measured end to end by a probe that commits "
      "at DC 0 and then reads at DC 1 with its session clock, so each "
      "sample holds the shipping, DC 1's apply and its fsync (one per "
      "batch), and a read round trip at DC 1, while writers keep DC 0 at "
      "half its peak and all three DCs share two cores; the median is "
      "%s ms. A slow fsync (see the disk's p99 above) or a scheduler "
      "time slice on a shared core in any of these steps lands in the "
      "p99."
      % (m_vis.group(1) if m_vis else "?"))
w("")

# FMK
w("## The prescription workload against PostgreSQL and Redis\n")
w("`fmk run` drives the FMKe operation mix (examples/prescriptions/README.md) "
  "through the same prescription library for every system: the workload, "
  "the argument checks and the dataset generator are one code path, and "
  "only the store below differs (`fmk_store.h`):\n")
w("- **PostgreSQL** at REPEATABLE READ (its snapshot isolation) through "
  "libpq, prepared statements; tables with foreign keys, the indexes of "
  "the prescriptions by patient, doctor and pharmacy as B-tree indexes; "
  "processing spends stock in the same transaction (`units >= 0`). "
  "`fsync=on`, `synchronous_commit=on`: a commit is on disk when "
  "acknowledged.")
w("- **Redis** through hiredis: FMKe's Redis key layout (a hash per "
  "entity, a set per index), writes in MULTI/EXEC under WATCH, so that "
  "preconditions hold (FMKe's own driver does not WATCH). `appendonly "
  "yes`, `appendfsync always`.")
w("- **Causeway**: causewayd on loopback, every operation one transaction "
  "over the network SDK, durable before acknowledged; processing spends "
  "a token and stock from bounded counters. With 3 DCs the clients are "
  "spread round-robin over the DCs and every transaction is replicated "
  "to the two others, on the same cores.\n")
w("Each system starts empty, is populated with the same dataset "
  "(FMKe's sizes scaled: 10,000 patients, 300 pharmacies, 1,000 staff, "
  "50 facilities, 5,000 prescriptions, 100 units of 10 drugs per "
  "pharmacy), then runs %s s per client count.\n" % machine.get("seconds"))
w("![throughput](img/fmk_throughput.png)\n")
w("![p99](img/fmk_p99.png)\n")
head = "| clients | " + " | ".join(NAMES[s] + " ops/s" for s in systems)
if "postgresql" in systems and "causeway-1dc" in systems:
    head += " | Causeway 1 DC / PostgreSQL"
w(head + " |")
w("|---:|" + "---:|" * (len(systems) + ("postgresql" in systems and
                                         "causeway-1dc" in systems)))
for n in clients:
    cells = []
    for s in systems:
        r = row(s, 1, n)
        cells.append("%.0f" % r["ops"] if r else "-")
    line = "| %d | %s" % (n, " | ".join(cells))
    a, b = row("causeway-1dc", 1, n), row("postgresql", 1, n)
    if "postgresql" in systems and "causeway-1dc" in systems:
        line += " | %.2f" % ratio(a["ops"], b["ops"]) if a and b else " | -"
    w(line + " |")
w("")
if any(r.get("cpu") is not None for r in fmk):
    w("The servers' CPU time (user + system, from /proc: every process of "
      "the server, PostgreSQL's backends included) per FMK operation, µs; "
      "a cost that the machine's noise moves less than throughput:\n")
    both = "postgresql" in systems and "causeway-1dc" in systems
    w("| clients | " + " | ".join(NAMES[s] for s in systems) +
      (" | Causeway 1 DC / PostgreSQL" if both else "") + " |")
    w("|---:|" + "---:|" * (len(systems) + both))
    for n in clients:
        cells = []
        for s in systems:
            r = row(s, 1, n)
            cells.append("%.0f" % r["cpu"] if r and r.get("cpu") else "-")
        line = "| %d | %s" % (n, " | ".join(cells))
        a, b = row("causeway-1dc", 1, n), row("postgresql", 1, n)
        if both:
            line += (" | %.2f" % ratio(a["cpu"], b["cpu"])
                     if a and b and a.get("cpu") and b.get("cpu") else " | -")
        w(line + " |")
    w("")
w("p50 / p99 latency of all operations, ms:\n")
w("| clients | " + " | ".join(NAMES[s] for s in systems) + " |")
w("|---:|" + "---:|" * len(systems))
for n in clients:
    cells = []
    for s in systems:
        r = row(s, 1, n)
        cells.append("%.2f / %.2f" % (r["p50"], r["p99"]) if r else "-")
    w("| %d | %s |" % (n, " | ".join(cells)))
w("")
w("Errors are FMKe's preconditions doing their job (adding a drug to a "
  "prescription someone processed: EPROCESSED; stock run out: ESTOCK), "
  "counted per run in each system's table below.\n")
for s in systems:
    t = read("run-%s-1-16.txt" % s)
    body = [l for l in t.splitlines()
            if re.match(r"^(operation|\S+\s+\d+\s)", l)]
    if body:
        w("<details><summary>%s, 16 clients, per operation</summary>\n"
          % NAMES[s])
        w("```\n" + "\n".join(body) + "\n```\n</details>\n")
w("One row by hand, on DCs already started (see docs/operations.md; "
  "for 3 DCs give the three URLs, comma-separated, to every command):\n")
w("```\n"
  "fmk --url tcp://127.0.0.1:7400 populate --batch 500\n"
  "fmk --url tcp://127.0.0.1:7400 run --threads 16 --duration 10\n"
  "fmk --url tcp://127.0.0.1:7400 check\n"
  "```\n")
w("**Beside AntidoteDB.** FMKe was written for AntidoteDB, the closest "
  "system to Causeway, but no AntidoteDB FMK figure is published that "
  "could stand beside these: the FMKe README describes its runs (36 "
  "nodes in 3 AWS DCs, 1,024 clients, m3.xlarge machines) without "
  "throughput or latency, and the thesis that has figures (Tomás 2018, "
  "§5) could not be retrieved here (`../shared/research/fmke.md` §4). "
  "The comparison that can be made is of guarantees. FMKe's Antidote "
  "driver processes a prescription with check-then-write registers, so "
  "two DCs can both process one during a partition (fmke.md §5, I3), "
  "and it has no stock to over-deliver. Here processing spends a token "
  "and stock from bounded counters, and `fmk check` proves after every "
  "run that nothing was processed twice and no stock went below zero.\n")

# dataset growth
if len(scales) > 1 or pop:
    w("## Dataset growth\n")
    w("The same systems populated with the dataset times %s, each then "
      "running 16 clients. Memory is the peak proportional set size (Pss) "
      "of the server's processes, summed over all of them (PostgreSQL's "
      "backends, the three causewayd of 3 DCs), sampled every half "
      "second.\n" % ", ".join(str(s) for s in scales))
    if len(scales) > 1:
        w("![dataset](img/dataset.png)\n")
    w("| system | dataset | populate s | ops/s (16 clients) | p99 ms | "
      "peak memory MiB |")
    w("|---|---:|---:|---:|---:|---:|")
    for s in systems:
        for sc in scales:
            r = row(s, sc, 16)
            p = [x for x in pop if x["sys"] == s and x["scale"] == sc]
            w("| %s | x%d | %s | %s | %s | %s |" % (
                NAMES[s], sc, "%.1f" % p[0]["secs"] if p else "-",
                "%.0f" % r["ops"] if r else "-",
                "%.2f" % r["p99"] if r else "-",
                mb(max(r["mem"] if r else 0, p[0]["mem"] if p else 0))))
    w("")

# engine
w("## Engine figures\n")
sections = [
    ("local.txt", "The embedded engine against RocksDB's transaction API",
     "The same stream of small transactions (a 100-byte register put, a "
     "counter add and a set add) committed through RocksDB's optimistic "
     "transaction API with `sync=1` and through `cw_open_local`, durable "
     "before return.", "cw-bench local --seconds %s --threads 1,4"),
    ("net.txt", "The network against the embedded engine",
     "Transactions of a register read, a counter add and a 100-byte "
     "register put: against a causewayd on loopback and against the "
     "embedded engine, in the same run; then the network at half its peak. "
     "The CPU columns are user and system time per transaction: the "
     "embedded run's whole process, causewayd's process (from /proc), and "
     "the benchmark's client threads in the network run. They vary less "
     "than latency from run to run but still follow the machine's load "
     "(causewayd's at 16 threads: 92-124 µs in three runs in a row on "
     "2026-12-02), and they fall as a higher rate packs more commits "
     "into each sync. Then the cost of TLS: the same causewayd's plain "
     "and TLS ports in interleaved pairs at each thread count (the bar: "
     "TLS at least 0.8x plain at 16 threads).",
     "cw-bench net --tls --seconds %s"),
    ("repl.txt", "Replication: apply rate and remote visibility",
     "Three DCs on loopback; writers at DC 0 flat out, then at half that "
     "rate while a probe measures commit-at-DC-0 to readable-at-DC-1 "
     "through a session clock; then the cost of security: plain and "
     "mutual-TLS links between the DCs in interleaved pairs, with the "
     "DCs' CPU per commit (from /proc) beside throughput.",
     "cw-bench repl --tls --seconds %s"),
    ("escrow.txt", "Escrow: the share of decrements served locally",
     "Three DCs; a bounded counter's rights minted at DC 0, demand skewed "
     "to DC 1.", "cw-bench escrow --seconds %s"),
]
engine_secs = "1" if machine.get("seconds") == "3" else "5"
for fname, title, text, cmd in sections:
    if fname == "repl.txt":  # after the network section, however it ends
        for block in KEPT:
            w(block)
    body = read(fname).strip()
    if not body:
        continue
    secs = str(int(engine_secs) * 2) if fname == "escrow.txt" else engine_secs
    w("### %s\n" % title)
    w(text + "\n")
    w("```\nbuild/bin/%s\n```\n" % (cmd % secs))
    w("```\n" + body + "\n```\n")
    if fname == "net.txt" and m_ceil16 and m_net16:
        half_note = disk_note = ""
        if m_thalf and m_half:
            half_note = (
                " At the half-peak load the transport alone has a p99 of "
                "%s ms for the two round trips; causewayd's is %s ms, "
                "which adds the commit's fsync and the scheduling of its "
                "threads on cores shared with the clients."
                % (m_thalf.group(2), m_half.group(2)))
        if m_disk:
            disk_note = (
                " The disk alone, in the same run: fdatasync p99 %s ms, "
                "p99.9 %s ms; a commit arriving at a random moment would "
                "have waited over 2 ms for the sync under way %s%% of the "
                "time, so the disk by itself %s a 2 ms p99."
                % (m_disk.group(1), m_disk.group(2), m_disk.group(3),
                   "rules out" if float(m_disk.group(3)) > 1 else
                   "does not rule out"))
        w("The last table is the ceiling the transport alone sets in this "
          "run: round trips of 100 bytes through the SDK's own transport "
          "(client/net.c: nng's req0 protocol on a plain socket, the "
          "caller asleep in poll() until its reply comes) against "
          "causewayd's own transport (server/wire.c: the rep0 side on 4 "
          "epoll threads) answering from the thread that read it, the "
          "way causewayd answers a request that need not wait, with the "
          "client threads on the same two cores. The mix needs two round "
          "trips per transaction (a read that the writes may depend on, "
          "then the commit), so at 16 threads no server could exceed %s "
          "transactions a second here, %s× the embedded engine; causewayd "
          "reaches %s. The gap between the two is the server's own work "
          "on the same cores: the engine's reads and commit, the "
          "group-commit fsync, and the hand-off to the syncer that sends "
          "a commit's reply once it is durable.%s\n"
          % (m_ceil16.group(2), m_ceil16.group(3), m_net16.group(2),
             half_note + disk_note))
        w("Until 2026-12-01 the SDK used nng's own req socket, and "
          "causewayd nng's rep socket; each call crossed nng's poller and "
          "task threads on both sides, which held the same echo to about "
          "a third of this ceiling; "
          "[benchmark-notes.md](benchmark-notes.md) has the runs before "
          "and after each step. The embedded engine's own figure moves by "
          "up to a quarter between runs on this machine, and the ratio "
          "with it.\n")

# lag
if lag:
    w("## Replication lag during a partition\n")
    w("`cw-bench lag`: three DCs, every DC-to-DC link through a fault "
      "proxy; writers commit at DC 0 at a steady rate while DC 1 is cut "
      "off from both others for the middle 30% of the run. Every 100 ms "
      "the DCs report how many of DC 0's transactions they have applied. "
      "Staleness is how long ago DC 0 had committed what DC 1 has applied "
      "now. DC 2 keeps up throughout; DC 1 falls behind by the whole cut, "
      "then catches up.\n")
    w("```\nbuild/bin/cw-bench lag --seconds 30 > lag.tsv\n```\n")
    w("![lag](img/lag.png)\n")
    w("```\n" + "\n".join(lag_summary) + "\n```\n")

# where the time goes
w("## Where the time goes\n")
if cw16 and pg16:
    rd16 = row("redis", 1, 16)
    w("At 16 clients Causeway on 1 DC ran %.0f FMK operations a second, "
      "PostgreSQL %.0f and Redis %s. Each Causeway operation cost **%s "
      "requests** to causewayd on average (counted by the server: `cw "
      "status` reports requests served). The reads of one operation travel "
      "together (`cw_read_many`), and a read-only transaction ends without "
      "a round trip of its own (its end rides on the session's next "
      "request), so every read operation is one request. Creating, "
      "updating and processing a prescription take two or more: the "
      "writes depend on what was read, and processing reads a bounded "
      "counter back after each spend so that a refusal is told apart "
      "(token or stock). PostgreSQL answers most operations with one "
      "prepared statement and processing with four; Redis with one "
      "command or one pipelined MULTI/EXEC, plus a WATCH round trip for "
      "writes.\n"
      % (cw16["ops"], pg16["ops"], "%.0f" % rd16["ops"] if rd16 else "-",
         cw16["rpo"]))
prof = read("profile.txt").strip()


def share(section, name):
    """The first percentage of `name`'s line in a profile section."""
    part = prof.split("== " + section, 1)
    if len(part) < 2:
        return None
    for line in part[1].split("==", 1)[0].splitlines():
        f = line.split()
        if len(f) >= 2 and f[-1].startswith(name):
            return float(f[0].rstrip("%"))
    return None


if prof and cw16:
    cpu = {k: share("CPU time by process", k) or 0.0
           for k in ("causewayd", "nng:task", "nng:poll", "fmk", "swapper")}
    # the SDK has no nng threads: every nng thread is causewayd's, and
    # serves its requests (the callbacks run the engine)
    cwd = cpu["causewayd"] + cpu["nng:task"] + cpu["nng:poll"]
    rdb = share("causewayd (all its threads): by shared object",
                "librocksdb") or 0.0
    # perf's dso view of one process leaves its kernel samples out: they
    # are what its user-space objects do not account for
    part = prof.split("== causewayd (all its threads): by shared object", 1)
    user = 0.0
    if len(part) == 2:
        for line in part[1].split("==", 1)[0].splitlines():
            f = line.split()
            if len(f) >= 2 and f[0].endswith("%"):
                user += float(f[0].rstrip("%"))
    krn = max(0.0, cwd - user)
    top = ""
    m = re.search(r"== causewayd \(all its threads\): top symbols.*\n\s*([\d.]+)%\s+\[.\]\s+(.+)",
                  prof)
    if m:
        top = " The hottest symbol is `%s` (%s%% of the machine)." % (
            m.group(2).strip(), m.group(1))
    w("So the gap is the cost of a request. The profile below (this run, "
      "`perf record -e cpu-clock -a -g` over a 16-client Causeway run) "
      "shows where the two cores went: causewayd %.0f%% with all its "
      "threads, of which the kernel %.0f%% (sockets, fsync, and the "
      "wake-ups between threads) and RocksDB %.0f%%; the fmk "
      "clients %.0f%%, idle %.0f%%.%s"
      % (cwd, krn, rdb, cpu["fmk"], cpu["swapper"], top))
    w(" Each read of an object is two point reads in RocksDB (its type "
      "row, then the value), each a search of the memtable's skip list "
      "and a merge of the CRDT operands found there; a commit also "
      "crosses to the syncer thread and back, and a read-only "
      "transaction takes a "
      "transaction slot on the server. A PostgreSQL "
      "backend answers a prepared statement on its own connection's "
      "thread from its buffer cache.\n")
if prof:
    w("```\n" + prof + "\n```\n")
w("Five steps from the profiles are built: a transaction begins on the "
  "latest durable state, a snapshot the group commit's sync leader takes "
  "and shares, so no read waits for a sync; a transaction no longer "
  "allocates a RocksDB transaction object (reads go to the base DB with "
  "the snapshot, a commit is one write batch), so a read-only "
  "transaction on the durable snapshot takes no engine lock but a leaf "
  "one; the SDK speaks nng's protocol on its own sockets, so a call "
  "costs its caller a write and a poll instead of three thread hand-offs "
  "through nng; causewayd serves a commit on the thread that read it "
  "and leaves the wait for its sync to one syncer thread, which sends "
  "the replies of a whole group commit in turn; and causewayd speaks "
  "the same wire on its own epoll threads, so a request no longer "
  "crosses nng's poller and task threads each way (docs/design.md). ")
w("Issue 20's engine steps, each measured alone in interleaved pairs "
  "(docs/benchmark-notes.md, \"Issue 20\"): one point read per object "
  "where the value row answers (its state carries the type), a map's "
  "type from a miss on its value row rather than a hit on its type row, "
  "`map_fields` from one seek, and Bloom filters on the data family's "
  "memtables and table files; folding merge operands at write "
  "(`max_successive_merges`) and pinned reads measured nothing and were "
  "left out.\n")
w("The next steps follow the profile. Point reads are still the largest "
  "part of causewayd's CPU, most of it RocksDB's memtable skip-list "
  "search: most are map fields (`get_processed_prescriptions` reads one "
  "field of every prescription of a pharmacy), so storing an entity's "
  "fields as one row, or reading them with one `MultiGet`, is next. Then "
  "the wake-ups between threads (the kernel's scheduler is the next "
  "largest cost), a one-shot read that keeps no transaction on the "
  "server (the API would need a way to say so), and processing's spends "
  "checked in one request. A type cache shared by transactions is not "
  "among them: types do change (to a lower id, when two DCs create one "
  "key with two types), and no cheap structure tells a snapshot whether "
  "that happened since. None of these changes a guarantee.\n")
if cw16 and pg16 and cw16["rpo"] != "-":
    w("For scale: at 16 clients causewayd served %.0f requests a second. "
      "Three times PostgreSQL's operations, at one request each, would be "
      "%.0f requests a second on the same two cores, so the 3x target "
      "needs a request path several times cheaper, not only fewer "
      "requests.\n" % (cw16["ops"] * float(cw16["rpo"]), 3 * pg16["ops"]))

with open(os.path.join(out, "benchmarks.md"), "w") as f:
    f.write("\n".join(md))
