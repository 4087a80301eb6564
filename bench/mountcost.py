"""
What a mount costs (issue 13): gracehttp serving the hello route with
C{--app}, and the same application mounted at C{/} (C{--mount /=...}),
measured as the server's CPU time per request.

    python3 bench/mountcost.py               # 5 rounds of 4 s runs, about 2 minutes
    python3 bench/mountcost.py --rounds 9

C{bench/run.py --servers gracehttp-asgi,gracehttp-asgi-mounted,...} gives
the same rows as requests/s; on a machine other work shares, requests/s
moves by tens of per cent from one run to the next, more than the 5% the
bar allows.  This script also reports the CPU time the server spends per
request (its threads' run time from C{/proc/PID/task/TID/schedstat},
divided by the requests C{wrk} counted), which moves less with what else
runs (though a busy server batches more requests per wakeup, so it moves
too); and it times the routing alone (C{MountAdapter.handle} in a
loop), which does not depend on the load.  The bar has a line for each:
end to end (CPU per request, median of the same-round ratios) and the
routing's share of a hello request's CPU.

Each server runs pinned to CPU 0, C{wrk -t1 -c64} pinned to CPU 1: one
second of warm-up, then C{--duration} seconds counted, on C{GET /}.
Servers are interleaved in rounds (order rotated).  The bar: the median,
over rounds, of the mounted server's CPU per request divided by the
plain one's (same round) is at most 1.05.  The report goes to standard
output and C{bench/results/mount-latest.md}.
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

import measure
import peers
import servers
from run import CLIENT_CPU, SERVER_CPU, commit, ensureWrk, loadavg

PAIRS = [
    ("ASGI", "gracehttp-asgi", "gracehttp-asgi-mounted"),
    ("WSGI", "gracehttp-wsgi", "gracehttp-wsgi-mounted"),
]
LIMIT = 1.05


def log(message):
    sys.stderr.write(f"[mount-bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--duration", type=int, default=4, help="seconds counted per run")
    parser.add_argument("--no-install", action="store_true", help="use the virtualenvs as they are")
    return parser.parse_args(argv)


def measureOne(server, logDir, extra, duration):
    """
    Start C{server}, warm it up, count one C{wrk} run, stop it.

    @return: C{rps}, C{cpuPerRequest} (microseconds), C{waited} (seconds
        per second the server was runnable without a CPU), or C{error}.
    @rtype: L{dict}
    """
    try:
        running = servers.start(server, logDir, extra, SERVER_CPU)
    except servers.StartError as e:
        return {"error": str(e)}
    try:
        measure.wrk(running.port, "/", 1, CLIENT_CPU)
        pids = running.pids()
        (ran, waited), wall = measure.schedTimes(pids), time.monotonic()
        figures = measure.wrk(running.port, "/", duration, CLIENT_CPU)
        ranAfter, waitedAfter = measure.schedTimes(pids)
        wall = time.monotonic() - wall
    finally:
        running.stop()
    if not figures["requests"] or figures["errors"]:
        return {"error": f"{figures['requests']} requests, {figures['errors']} errors"}
    return {
        "rps": figures["rps"],
        "cpuPerRequest": (ranAfter - ran) / 1000 / figures["requests"],
        "waited": (waitedAfter - waited) / 1e9 / wall,
    }


ROUTE_SCRIPT = """
import time
from gracehttp._apps.mounts import MountAdapter

class Inner:
    def handle(self, exchange):
        pass

class Request:
    rawPath = b"/"
    mount = None

adapter = MountAdapter([("", Inner())])
request = Request()
handle = adapter.handle
number = 1_000_000
best = None
for _ in range(5):
    started = time.process_time()
    for _ in range(number):
        handle(request)
    took = time.process_time() - started
    best = took if best is None else min(best, took)
print(best / number * 1e6)
"""


def routeCost():
    """
    The CPU time of C{MountAdapter.handle} routing one request to the
    application mounted at C{/} (best of 5 runs of a million calls, in
    gracehttp's virtualenv), in microseconds: what a mount adds to a
    request, measured alone.

    @rtype: L{float}
    """
    python = os.path.join(peers.GRACEHTTP_VENV, "bin", "python")
    output = subprocess.run(
        ["taskset", "-c", str(CLIENT_CPU), python, "-c", ROUTE_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return float(output.strip())


def report(runs, meta):
    """
    @param runs: C{{(round, server name): figures}}.
    @return: the markdown report.
    """
    lines = [
        "# What a mount costs (issue 13)",
        "",
        f"`python3 bench/mountcost.py --rounds {meta['rounds']} --duration {meta['duration']}` "
        f"on {meta['date']}, gracehttp {meta['commit']}: `wrk -t1 -c64` on `GET /` "
        f"(13 bytes), server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}; load average "
        f"{meta['loadStart']} at the start, {meta['loadEnd']} at the end.",
        "",
        "When other work shares the machine's two CPUs (server waited above a few "
        "hundredths), requests/s moves by tens of per cent between rounds; the "
        "server's CPU time per request "
        "moves less (a busy server batches more requests "
        "per wakeup, so it moves too); the routing alone is timed below.  Medians "
        "over rounds; the ratios are of the same round.  The WSGI server's waited "
        "figure counts its 10 threads waiting for each other on one CPU.",
        "",
        "| interface | server | req/s | CPU µs / request | server waited "
        "| mounted ÷ plain (CPU per request) | mounted ÷ plain (req/s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for interface, plain, mounted in PAIRS:
        cpuRatios, rateRatios = [], []
        for r in range(1, meta["rounds"] + 1):
            a, b = runs.get((r, plain), {}), runs.get((r, mounted), {})
            if "cpuPerRequest" in a and "cpuPerRequest" in b:
                cpuRatios.append(b["cpuPerRequest"] / a["cpuPerRequest"])
                rateRatios.append(b["rps"] / a["rps"])
        for name in (plain, mounted):
            got = [f for (r, n), f in runs.items() if n == name and "rps" in f]
            cells = [
                interface,
                servers.BY_NAME[name].label,
                _median([f["rps"] for f in got], ",.0f"),
                _median([f["cpuPerRequest"] for f in got], ".1f"),
                _median([f["waited"] for f in got], ".2f"),
                _median(cpuRatios, ".3f") if name == mounted else "",
                _median(rateRatios, ".3f") if name == mounted else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        what = (
            f"{interface} hello, end to end: CPU per request through a mount <= {LIMIT} x without"
        )
        if not cpuRatios:
            verdicts.append(f"SKIP {what} (not measured)")
        else:
            ratio = statistics.median(cpuRatios)
            verdicts.append(f"{'PASS' if ratio <= LIMIT else 'FAIL'} {what}: {ratio:.3f}")
    plainCPU = statistics.median(
        [f["cpuPerRequest"] for (r, n), f in runs.items() if n == PAIRS[0][1] and "rps" in f] or [0]
    )
    if plainCPU:
        share = meta["route"] / plainCPU
        verdicts.append(
            f"{'PASS' if share <= LIMIT - 1 else 'FAIL'} routing alone <= {LIMIT - 1:.0%} of "
            f"an ASGI hello request's CPU: {share:.1%}"
        )
    lines += [
        "",
        f"Routing alone (`MountAdapter.handle` choosing the application mounted at `/`, "
        f"timed in a loop): {meta['route']:.2f} µs of CPU per request"
        + (f", {meta['route'] / plainCPU:.1%} of the {plainCPU:.1f} µs" if plainCPU else "")
        + " a hello request costs the ASGI server above.",
        "",
        "## The bar",
        "",
        *(f"- {v}" for v in verdicts),
        "",
    ]
    errors = [f"round {r}: {n}: {f['error']}" for (r, n), f in runs.items() if "error" in f]
    if errors:
        lines += ["## Problems", "", *(f"- {e}" for e in errors), ""]
    return "\n".join(lines)


def _median(values, spec):
    return format(statistics.median(values), spec) if values else "-"


def main(argv):
    args = parseArgs(argv)
    ensureWrk()
    if not args.no_install:
        peers.ensure(log)
    os.sched_setaffinity(0, {CLIENT_CPU})
    logDir = tempfile.mkdtemp(prefix="gracehttp-mount-bench-")
    log(f"server logs in {logDir}")
    extra = servers.gracehttpExtraOptions()
    names = [name for _, plain, mounted in PAIRS for name in (plain, mounted)]
    meta = {
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
        "rounds": args.rounds,
        "duration": args.duration,
        "loadStart": loadavg(),
    }
    runs = {}
    for r in range(1, args.rounds + 1):
        shift = (r - 1) % len(names)
        for name in names[shift:] + names[:shift]:
            figures = measureOne(servers.BY_NAME[name], logDir, extra, args.duration)
            runs[(r, name)] = figures
            log(f"round {r} {name}: {figures}")
    meta["loadEnd"] = loadavg()
    meta["route"] = routeCost()
    text = report(runs, meta)
    path = os.path.join(peers.BENCH, "results", "mount-latest.md")
    with open(path, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
