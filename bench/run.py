"""
Benchmark gracehttp against its peers (issue 4).

    python3 bench/run.py            # full run, stops by itself in < 15 min
    python3 bench/run.py --quick    # smoke check, about 2 min

Installs C{wrk} (Debian package) if missing, creates C{bench/.venv-peers}
with the peers and gracehttp from the working tree, then re-runs itself
with that virtualenv's Python.  Each server runs as one process pinned to
CPU 0 and C{wrk -t1 -c64} runs pinned to CPU 1; servers are interleaved in
rounds (every server once per round, the order rotated each round).  The
report goes to standard output and C{bench/results/latest.md} (raw figures
in C{latest.json}), the plot to C{docs/_static/benchmarks.png}; C{--quick}
writes C{bench/results/quick.*} instead.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import peers

SERVER_CPU, CLIENT_CPU = 0, 1


def pinCPUs(log):
    """
    Pin this process (the load generator's parent) to L{CLIENT_CPU}, the
    servers going on L{SERVER_CPU}, when the machine has two CPUs, and raise
    the open-file limit.

    @param log: called with one line when nothing can be pinned.
    @return: C{(serverCPU, clientCPU)}, both L{None} with fewer than 2 CPUs.
    """
    import measure

    measure.raiseFileLimit()
    if len(os.sched_getaffinity(0)) < 2:
        log("fewer than 2 CPUs: nothing is pinned")
        return None, None
    os.sched_setaffinity(0, {CLIENT_CPU})
    return SERVER_CPU, CLIENT_CPU


FULL_BUDGET = 14 * 60  # seconds: the full run must end within 15 minutes
QUICK_BUDGET = 4 * 60


def log(message):
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 3 s runs over 8 servers (about 3 minutes)"
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 3; quick 1)")
    parser.add_argument(
        "--duration",
        type=int,
        help="seconds per hello and 64 KiB run (default 5; quick 3); "
        "echo and stream runs take 3/5 of it, at least 2",
    )
    parser.add_argument(
        "--servers",
        help="comma-separated server names (default: all "
        "but gunicorn-sync; quick: a subset); see bench/servers.py",
    )
    parser.add_argument("--no-install", action="store_true", help="use bench/.venv-peers as it is")
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds after which no new round starts "
        f"(default {FULL_BUDGET}; quick {QUICK_BUDGET})",
    )
    return parser.parse_args(argv)


def ensureWrk():
    """
    Install C{wrk} from the Debian packages if it is missing (running
    C{apt-get update} only if the first attempt fails).
    """
    if shutil.which("wrk"):
        return
    log("installing wrk: apt-get install -y wrk")
    command = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)


def main(argv):
    args = parseArgs(argv)
    if not peers.inVenv():
        ensureWrk()
        if not args.no_install:
            peers.ensure(log)
        peers.reexec()
    run(args)


def run(args):
    import measure
    import report
    import servers

    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (3 if args.quick else 5)
    shortDuration = max(2, round(duration * 3 / 5))
    budget = args.budget or (QUICK_BUDGET if args.quick else FULL_BUDGET)
    if args.servers:
        chosen = [servers.BY_NAME[name] for name in args.servers.split(",")]
    elif args.quick:
        chosen = [s for s in servers.SERVERS if s.quick]
    else:
        chosen = [s for s in servers.SERVERS if s.default]

    serverCPU, clientCPU = pinCPUs(log)
    logDir = tempfile.mkdtemp(prefix="gracehttp-bench-")
    log(f"server logs in {logDir}")
    extra = servers.gracehttpExtraOptions()

    results = {
        "meta": {
            "date": datetime.date.today().isoformat(),
            "rounds": 0,
            "duration": duration,
            "shortDuration": shortDuration,
            "serverCPU": serverCPU,
            "clientCPU": clientCPU,
            "cpuModel": cpuModel(),
            "python": platform.python_version(),
            "gracehttpCommit": commit(),
            "gracehttpOptions": extra,
            "versions": peers.versions(),
            "loadavgStart": loadavg(),
            "cpus": os.cpu_count(),
        },
        "runs": [],
        "memory": {},
        "failures": [],
    }

    started = time.monotonic()
    roundTime = 0.0
    for r in range(rounds):
        elapsed = time.monotonic() - started
        if r and elapsed + roundTime > budget:
            results["failures"].append(
                f"stopped after {r} round(s): another would pass the {budget:.0f} s budget"
            )
            break
        roundStart = time.monotonic()
        order = chosen[r % len(chosen) :] + chosen[: r % len(chosen)]
        for server in order:
            if time.monotonic() - started > budget + 60:
                results["failures"].append(
                    f"round {r + 1}: {server.name} skipped: past the {budget:.0f} s budget"
                )
                continue
            _serve(
                server,
                r,
                results,
                logDir,
                extra,
                serverCPU,
                clientCPU,
                duration,
                shortDuration,
                measure,
                report,
                servers,
            )
        results["meta"]["rounds"] = r + 1
        roundTime = time.monotonic() - roundStart
        log(f"round {r + 1} took {roundTime:.0f} s")
    results["meta"]["seconds"] = round(time.monotonic() - started)
    results["meta"]["loadavgEnd"] = loadavg()

    name = "quick" if args.quick else "latest"
    resultsDir = os.path.join(peers.BENCH, "results")
    os.makedirs(resultsDir, exist_ok=True)
    text = report.markdown(results)
    with open(os.path.join(resultsDir, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(resultsDir, name + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.quick:
        png = os.path.join(resultsDir, "quick.png")
    else:
        png = os.path.join(peers.REPO, "docs", "_static", "benchmarks.png")
        os.makedirs(os.path.dirname(png), exist_ok=True)
    report.plot(results, png)
    sys.stdout.write(text)
    log(f"wrote {resultsDir}/{name}.md, {name}.json and {png} in {results['meta']['seconds']} s")


def _serve(
    server,
    r,
    results,
    logDir,
    extra,
    serverCPU,
    clientCPU,
    duration,
    shortDuration,
    measure,
    report,
    servers,
):
    """
    Start one server, run the memory checks (first round only) and every
    scenario against it, stop it.
    """
    try:
        running = servers.start(server, logDir, extra, serverCPU)
    except servers.StartError as e:
        log(str(e))
        results["failures"].append(f"round {r + 1}: {e}")
        return
    try:
        if r == 0 and not server.stock:
            idle = measure.idleConnections(running)
            slow = measure.slowReader(running)
            results["memory"][server.name] = {"idle": idle, "slow": slow}
            log(
                f"{server.name}: 1,000 idle: {idle['idle'] / 2**20:.1f} MiB "
                f"({idle['open']}/{idle['opened']} open); slow reader "
                f"{slow['growth']:+.1%}"
            )
        for scenario, target, script, _ in report.SCENARIOS:
            seconds = duration if scenario in ("hello", "64k") else shortDuration
            if script:
                script = os.path.join(peers.BENCH, script)
            with measure.PeakRSS(running) as peak:
                figures = measure.wrk(running.port, target, seconds, clientCPU, script=script)
            if running.process.poll() is not None:
                results["failures"].append(f"round {r + 1}: {server.name} died during {scenario}")
            output = figures.pop("output")
            if figures["rps"] is None:
                results["failures"].append(
                    f"round {r + 1}: {server.name} {scenario}: no wrk figures"
                )
                log(output)
            results["runs"].append(
                dict(figures, round=r + 1, server=server.name, scenario=scenario, peakRSS=peak.peak)
            )
            log(
                f"{server.name} {scenario}: {figures['rps'] or 0:,.0f} req/s, "
                f"p99 {figures['p99']} ms, {figures['errors']} errors, "
                f"{peak.peak / 2**20:.1f} MiB"
            )
    finally:
        running.stop()


def cpuModel():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def loadavg():
    """
    @return: the 1-minute load average (C{/proc/loadavg}): above about 2 on
        two CPUs, something else was competing with the run.
    """
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def commit(tree=peers.REPO):
    """
    @param tree: a gracehttp source tree.
    @return: its short commit id, marked C{+dirty} when C{src/} has
        uncommitted changes, or C{"-"}.
    @rtype: L{str}
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=tree,
            capture_output=True,
            text=True,
        ).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except OSError:
        return "-"


if __name__ == "__main__":
    main(sys.argv[1:])
