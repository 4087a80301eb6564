"""
Worker processes against one process (issue 12): requests per server
CPU-second, and each worker's share of the requests.

    python3 bench/workers.py             # 5 s runs
    python3 bench/workers.py --quick     # 3 s runs

gracehttp runs from this working tree (C{src/}) with the interpreter
running this script (which needs Twisted and gracehttp's dependencies: the
development virtualenv, or C{bench/.venv-gracehttp}), serving
L{workerapp.wsgi_app} (the benchmark's WSGI application with an
C{X-Worker} header), with the access log off, pinned to CPU 0 as in
C{bench/run.py}; C{wrk -t1 -c64} runs pinned to CPU 1 against C{GET /}.

For one process and for C{--workers 2}:

  - C{wrk} for the duration; the server's CPU time is the sum of
    C{utime + stime} (C{/proc/PID/stat}) of every process of its session
    (the parent and its workers) before and after; the figure is the
    requests wrk completed divided by those CPU seconds.  The bar: 2
    workers within 10% of one process.
  - with 2 workers, a second run with C{bench/workers.lua}, which counts
    the responses by their C{X-Worker} header (the pid of the worker that
    answered) in wrk's Lua C{response()} hook: each worker's share.  The
    bar: each between 40% and 60%.  (A separate run, because the hook
    slows wrk down.)  Both workers share CPU 0 here, the hardest case for
    an even share: the worker that runs first could take every connection
    of wrk's burst, were it not for the one-accept-per-wake-up rule
    (L{gracehttp._workers.binding.acceptOneAtATime}).

Writes C{bench/results/workers.md} and prints it.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import measure  # noqa: E402
from servers import HOST, Running, StartError, _hello, freePort  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpuSeconds(pids):
    """
    @return: the CPU time (user + system) the processes used so far, in
        seconds; a process that is gone counts 0.
    @rtype: L{float}
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def start(workers, logDir, timeout=30.0):
    """
    Start gracehttp from the working tree, pinned to L{SERVER_CPU}.

    @return: the running server.
    @rtype: L{servers.Running}
    """
    port = freePort()
    argv = [
        "taskset",
        "-c",
        str(SERVER_CPU),
        sys.executable,
        "-m",
        "twisted",
        "--log-level=warn",
        "gracehttp",
        "--app",
        "workerapp:wsgi_app",
        "--listen",
        f"tcp:{port}:interface={HOST}",
        "--access-log",
        "off",
        "--workers",
        str(workers),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "src"), REPO, BENCH])
    logPath = os.path.join(logDir, f"workers{workers}.log")
    with open(logPath, "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=BENCH,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(None, port, process, logPath)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if _hello(port):
                return running
        except OSError:
            pass
        time.sleep(0.1)
    running.stop()
    raise StartError(f"gracehttp --workers {workers} did not come up; see {logPath}")


def measureServer(workers, duration, logDir):
    """
    @return: C{rps}, C{requests}, C{cpu} (seconds), C{perCPU} (requests
        per CPU-second), C{errors}, and with workers C{shares} (each
        worker's fraction of the requests, largest first).
    @rtype: L{dict}
    """
    running = start(workers, logDir)
    try:
        measure.wrk(running.port, "/", 1, CLIENT_CPU)  # warm up
        pids = running.pids()
        before = cpuSeconds(pids)
        figures = measure.wrk(running.port, "/", duration, CLIENT_CPU)
        cpu = cpuSeconds(pids) - before
        result = {
            "workers": workers,
            "rps": figures["rps"],
            "requests": figures["requests"],
            "errors": figures["errors"],
            "cpu": round(cpu, 2),
            "perCPU": round(figures["requests"] / cpu) if cpu else None,
        }
        if workers > 1:
            script = os.path.join(BENCH, "workers.lua")
            counted = measure.wrk(running.port, "/", duration, CLIENT_CPU, script=script)
            counts = [int(n) for n in re.findall(r"^worker \S+ (\d+)$", counted["output"], re.M)]
            total = sum(counts)
            result["shares"] = sorted((round(n / total, 3) for n in counts), reverse=True)
            result["countedRequests"] = total
        return result
    finally:
        running.stop()


def report(results):
    lines = [
        "| server | req/s | requests | server CPU s | requests per CPU-second | "
        "per-worker share | errors |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        shares = ", ".join(f"{s:.1%}" for s in r.get("shares", [])) or "-"
        name = "1 process" if r["workers"] == 1 else f"{r['workers']} workers"
        lines.append(
            f"| gracehttp WSGI, {name}"
            f" | {r['rps'] or 0:,.0f} | {r['requests']:,} | {r['cpu']} | "
            f"{r['perCPU'] or 0:,} | {shares} | {r['errors']} |"
        )
    one, two = results
    ratio = two["perCPU"] / one["perCPU"] if one["perCPU"] and two["perCPU"] else 0
    shares = two.get("shares", [])
    lines += [
        "",
        f"2 workers serve {ratio:.1%} of one process's requests per server CPU-second "
        f"(bar: at least 90%): {'met' if ratio >= 0.9 else 'NOT met'}.",
        f"Each worker's share: {', '.join(f'{s:.1%}' for s in shares)} "
        f"(bar: each 40-60%): "
        f"{'met' if shares and all(0.4 <= s <= 0.6 for s in shares) else 'NOT met'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    parser.add_argument("--duration", type=int, help="seconds per run (default 5; quick 3)")
    args = parser.parse_args(argv)
    duration = args.duration or (3 if args.quick else 5)
    measure.raiseFileLimit()
    logDir = tempfile.mkdtemp(prefix="gracehttp-workers-bench-")
    results = [measureServer(workers, duration, logDir) for workers in (1, 2)]
    text = report(results)
    resultsDir = os.path.join(BENCH, "results")
    os.makedirs(resultsDir, exist_ok=True)
    with open(os.path.join(resultsDir, "workers.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
