"""
Benchmark gracehttp's WebSockets against its peers (issue 10).

    python3 bench/ws.py                     # full run: 3 rounds, about 6 minutes
    python3 bench/ws.py --quick             # 1 round of 3 s runs, 3 servers, about 1 minute
    python3 bench/ws.py --tree ../other     # gracehttp installed from another tree

Like C{bench/run.py}: creates C{bench/.venv-peers} (the peers and the load
generator C{picows}) and C{bench/.venv-gracehttp} (gracehttp installed from
C{--tree}), then re-runs itself with the peers' virtualenv's Python.  Each
server runs as one process pinned to CPU 0 serving C{apps:asgi_app}, whose
WebSocket route echoes every message; the load generator
(C{bench/wsclient.py}) runs pinned to CPU 1.  Servers are interleaved in
rounds (every server once per round, the order rotated each round).  On
each server: 1,000 idle WebSockets (first round only, on the fresh
server), the small-message echo, then the 1 MiB echo.  The report goes to
standard output and C{bench/results/ws-latest.md} (raw figures in
C{ws-latest.json}); C{--quick} writes C{bench/results/ws-quick.*}.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

import peers
import wsreport
from run import commit, cpuModel, loadavg, pinCPUs
from wsreport import IDLE_COUNT, MIB, SCENARIOS

FULL_BUDGET = 12 * 60  # seconds after which no new round starts
QUICK_BUDGET = 3 * 60


def log(message):
    sys.stderr.write(f"[ws-bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s runs, 3 servers")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; quick 1)")
    parser.add_argument(
        "--duration", type=float, help="seconds counted per echo run (default 5; quick 3)"
    )
    parser.add_argument(
        "--servers", help="comma-separated names from servers.WS_SERVERS (default: all)"
    )
    parser.add_argument("--tree", default=peers.REPO, help="the gracehttp tree to install")
    parser.add_argument("--no-install", action="store_true", help="use the virtualenvs as they are")
    parser.add_argument("--budget", type=float, help="seconds after which no new round starts")
    return parser.parse_args(argv)


def main(argv):
    args = parseArgs(argv)
    if not peers.inVenv():
        if not args.no_install:
            peers.ensure(log, tree=os.path.abspath(args.tree))
        peers.reexec()
    run(args)


def clientArgv(cpu, mode, url, *options):
    """
    @return: the command that runs C{bench/wsclient.py} with the peers'
        virtualenv's Python, pinned to C{cpu} (or not, if L{None}).
    """
    argv = [peers.VENV_PYTHON, os.path.join(peers.BENCH, "wsclient.py"), mode, "--url", url]
    argv += [str(option) for option in options]
    return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]


def echoRun(running, cpu, connections, size, text, duration):
    """
    Run one echo scenario against a server.

    @return: C{wsclient.py echo}'s figures (see its docstring), or
        C{{"error": ...}} when it gave none.
    @rtype: L{dict}
    """
    options = ["--connections", connections, "--size", size, "--duration", duration]
    options += ["--server-pids", ",".join(str(p) for p in running.pids())]
    if text:
        options.append("--text")
    argv = clientArgv(cpu, "echo", _url(running), *options)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"error": "the load generator did not finish"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}


def idleRun(running, cpu, measure, count=IDLE_COUNT, timeout=120.0):
    """
    Open C{count} WebSockets (each checked with one echo), leave them idle,
    read the server's RSS, count how many are still open, close them.

    @return: C{before} and C{idle} RSS (bytes), C{opened}, C{open},
        C{errors}, or C{{"error": ...}}.
    @rtype: L{dict}
    """
    before = measure.rss(running.pids())
    argv = clientArgv(cpu, "idle", _url(running), "--count", count)
    client = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(timeout, client.kill)
    watchdog.start()
    try:
        first = client.stdout.readline()
        if not first:
            return {"error": "the load generator gave no figures: " + client.stderr.read()[-300:]}
        opened = json.loads(first)
        time.sleep(0.2)
        idle = measure.rss(running.pids())
        client.stdin.write("\n")
        client.stdin.flush()
        still = json.loads(client.stdout.readline() or '{"open": null}')
        return dict(opened, before=before, idle=idle, open=still["open"])
    finally:
        watchdog.cancel()
        client.kill()
        client.wait()


def _url(running):
    return f"ws://127.0.0.1:{running.port}/ws"


def run(args):
    import servers

    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (3 if args.quick else 5)
    budget = args.budget or (QUICK_BUDGET if args.quick else FULL_BUDGET)
    if args.servers:
        chosen = [servers.WS_BY_NAME[name] for name in args.servers.split(",")]
    else:
        chosen = [s for s in servers.WS_SERVERS if s.quick or not args.quick]
    serverCPU, clientCPU = pinCPUs(log)
    logDir = tempfile.mkdtemp(prefix="gracehttp-ws-bench-")
    log(f"server logs in {logDir}")
    extra = servers.gracehttpExtraOptions()
    results = {
        "meta": {
            "date": datetime.date.today().isoformat(),
            "rounds": 0,
            "duration": duration,
            "serverCPU": serverCPU,
            "clientCPU": clientCPU,
            "cpuModel": cpuModel(),
            "python": platform.python_version(),
            "gracehttpCommit": commit(os.path.abspath(args.tree)),
            "gracehttpOptions": extra,
            "versions": peers.versions(),
            "loadavgStart": loadavg(),
        },
        "runs": [],
        "memory": {},
        "failures": [],
    }
    started = time.monotonic()
    for r in range(rounds):
        if r and time.monotonic() - started > budget:
            results["failures"].append(
                f"stopped after {r} round(s): past the {budget:.0f} s budget"
            )
            break
        order = chosen[r % len(chosen) :] + chosen[: r % len(chosen)]
        for server in order:
            _serve(server, r, results, logDir, extra, serverCPU, clientCPU, duration)
        results["meta"]["rounds"] = r + 1
    results["meta"]["seconds"] = round(time.monotonic() - started)
    results["meta"]["loadavgEnd"] = loadavg()
    _write(results, "ws-quick" if args.quick else "ws-latest")


def _serve(server, r, results, logDir, extra, serverCPU, clientCPU, duration):
    """
    Start one server, measure the idle WebSockets (first round only) and
    run each echo scenario against it, stop it.
    """
    import measure
    import servers

    try:
        running = servers.start(server, logDir, extra, serverCPU)
    except servers.StartError as e:
        log(str(e))
        results["failures"].append(f"round {r + 1}: {e}")
        return
    try:
        if r == 0:
            idle = idleRun(running, clientCPU, measure)
            results["memory"][server.name] = idle
            log(f"{server.name}: {IDLE_COUNT:,} idle WebSockets: {_idleLine(idle)}")
        for scenario, connections, size, text, _ in SCENARIOS:
            with measure.PeakRSS(running) as peak:
                figures = echoRun(running, clientCPU, connections, size, text, duration)
            if running.process.poll() is not None:
                results["failures"].append(f"round {r + 1}: {server.name} died during {scenario}")
            if "error" in figures or not figures.get("messages"):
                results["failures"].append(
                    f"round {r + 1}: {server.name} {scenario}: "
                    + figures.get("error", f"no echo ({figures.get('errors')} errors)")
                )
            results["runs"].append(
                dict(figures, round=r + 1, server=server.name, scenario=scenario, peakRSS=peak.peak)
            )
            log(f"{server.name} {scenario}: {_runLine(figures)}, {peak.peak / MIB:.1f} MiB")
    finally:
        running.stop()


def _idleLine(idle):
    if "error" in idle:
        return idle["error"]
    return (
        f"{idle['idle'] / MIB:.1f} MiB ({idle['open']}/{idle['opened']} open, "
        f"{idle['errors']} errors)"
    )


def _runLine(figures):
    if "error" in figures:
        return figures["error"]
    return (
        f"{figures['rate']:,.0f} msg/s, {figures['mibps']:,.1f} MiB/s, p99 {figures['p99']} ms, "
        f"server CPU {figures['serverCPU'] or 0:.2f} "
        f"(waited {figures.get('serverWait') or 0:.2f}), client CPU {figures['clientCPU']:.2f}, "
        f"{figures['errors']} errors"
    )


def _write(results, name):
    resultsDir = os.path.join(peers.BENCH, "results")
    os.makedirs(resultsDir, exist_ok=True)
    text = wsreport.markdown(results)
    with open(os.path.join(resultsDir, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(resultsDir, name + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    sys.stdout.write(text)
    log(f"wrote {resultsDir}/{name}.md and {name}.json in {results['meta']['seconds']} s")


if __name__ == "__main__":
    main(sys.argv[1:])
