"""
Benchmark gracehttp's HTTP/2 against its peers (issue 11) with C{h2load}.

    python3 bench/h2bench.py                # TLS with ALPN h2: 2 rounds, about 5 minutes
    python3 bench/h2bench.py --h2c          # cleartext HTTP/2 with prior knowledge instead
    python3 bench/h2bench.py --quick        # 1 round of 3 s runs, 1 pass

Like C{bench/run.py}: installs the load generator (C{h2load}, Debian's
C{nghttp2-client}) if it is missing, creates or updates C{bench/.venv-peers}
and C{bench/.venv-gracehttp-tls} (gracehttp from this tree, with its
C{http2} and C{tls} extras: a virtualenv of its own, see C{peers}).
The servers, one process each pinned to CPU 0, serve
C{apps:asgi_app} over TLS (a self-signed certificate made for the run;
each offers ALPN C{h2}) or, with C{--h2c}, in cleartext with prior
knowledge:

  - gracehttp: C{twist gracehttp} on an C{ssl:} endpoint (or C{--h2c} on
    C{tcp:}), access log off;
  - hypercorn: C{--certfile}/C{--keyfile}, with C{bench/hypercorn-h2.toml}
    (no limit on the requests of one connection: its default of 1,000
    would end each C{h2load} connection);
  - granian: C{--http auto} with C{--ssl-certificate} (C{--http 2} in
    cleartext).

C{h2load} runs pinned to CPU 1 (C{-t 1}), many streams per connection
(C{-m 100}, four connections), one second of warm-up then C{--duration}
seconds counted, in three scenarios: C{GET /} (13 bytes), C{GET /64k}
(64 KiB responses) and C{POST /upload} (64 KiB request bodies, a 13-byte
answer).  Servers are interleaved in rounds (a fresh server each round,
the order rotated); in each round a server runs the three scenarios twice
in a row (two passes).  Its RSS is read when it is ready (before any
load), after the first pass and after the second, and its peak is sampled
during the run: the second pass must not grow what the first left (the
bar allows 5% and 2 MiB of noise).  Reported: medians over rounds and
passes of requests/s and mean request time, CPU seconds per second of
the server and of C{h2load}, and each peer's requests/s divided by
gracehttp's (same round and pass, median of the ratios).  The report goes
to standard output and C{bench/results/h2-latest.md} (raw figures in
C{h2-latest.json}); C{--h2c} writes C{h2c-latest.*}, C{--quick}
C{h2-quick.*} (not committed).

(Not C{h2.py}: C{bench/} is on the servers' C{PYTHONPATH}, and a module
of that name would hide the C{h2} package from hypercorn and gracehttp.)
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import measure
import peers
import servers
from run import commit, cpuModel, loadavg, pinCPUs

MIB = 1024 * 1024
UPLOAD = 65536
CONNECTIONS = 4
STREAMS = 100
# (name, path, whether the request carries the 64 KiB body)
SCENARIOS = [("hello", "/", False), ("64k", "/64k", False), ("upload", "/upload", True)]
GRACEHTTP = "gracehttp"
REFERENCE = "hypercorn"
# The second pass may leave the RSS this much above the first's (noise).
FLAT_RATIO, FLAT_BYTES = 0.05, 2 * MIB


def log(message):
    sys.stderr.write(f"[h2-bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h2c", action="store_true", help="cleartext HTTP/2 with prior knowledge")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s runs, 1 pass")
    parser.add_argument("--rounds", type=int, help="rounds (default 2; quick 1)")
    parser.add_argument("--duration", type=int, help="seconds counted per run (default 5)")
    parser.add_argument("--servers", help="comma-separated: gracehttp,hypercorn,granian (default)")
    parser.add_argument("--no-install", action="store_true", help="use the virtualenvs as they are")
    return parser.parse_args(argv)


def ensureH2load():
    """
    Install C{h2load} (Debian's C{nghttp2-client}) if it is missing,
    running C{apt-get update} only if the first attempt fails.
    """
    if shutil.which("h2load"):
        return
    log("installing h2load: apt-get install -y nghttp2-client")
    command = ["apt-get", "install", "-y", "nghttp2-client"]
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)


def makeCertificate(directory):
    """
    A self-signed certificate for 127.0.0.1 (RSA 2048, key in PKCS#8, which
    granian requires).

    @return: C{(certificate path, key path)}.
    """
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def h2Servers(tls):
    """
    @param tls: C{(certificate path, key path)}, or L{None} for h2c.
    @return: the servers, as L{servers.Server}s.
    @rtype: L{list}
    """
    bin_ = servers._bin

    def gracehttp(port, extra):
        if tls:
            listen = f"ssl:{port}:interface={servers.HOST}:privateKey={tls[1]}:certKey={tls[0]}"
            h2c = []
        else:
            listen, h2c = f"tcp:{port}:interface={servers.HOST}", ["--h2c"]
        return [
            bin_("twist", peers.GRACEHTTP_TLS_VENV),
            "--log-level=warn",
            "gracehttp",
            "--app",
            "apps:asgi_app",
            "--listen",
            listen,
            *h2c,
            *extra,
        ]

    def hypercorn(port, extra):
        config = os.path.join(peers.BENCH, "hypercorn-h2.toml")
        argv = [bin_("hypercorn"), "-w", "1", "-c", config, "-b", f"{servers.HOST}:{port}"]
        if tls:
            argv += ["--certfile", tls[0], "--keyfile", tls[1]]
        return [*argv, "apps:asgi_app"]

    def granian(port, extra):
        argv = servers._granian("asgi", "apps:asgi_app")(port, extra)
        if tls:
            return [
                *argv[:-1],
                "--http",
                "auto",
                "--ssl-certificate",
                tls[0],
                "--ssl-keyfile",
                tls[1],
                argv[-1],
            ]
        return [*argv[:-1], "--http", "2", argv[-1]]

    return [
        servers.Server(GRACEHTTP, "gracehttp (ASGI)", "asgi", gracehttp, gracehttp=True),
        servers.Server(REFERENCE, "hypercorn", "asgi", hypercorn),
        servers.Server("granian", "granian (ASGI)", "asgi", granian),
    ]


def url(port, tls, path):
    return f"{'https' if tls else 'http'}://{servers.HOST}:{port}{path}"


def h2load(port, tls, path, body, cpu, duration, warmUp=1):
    """
    Run C{h2load} against a server.

    @param body: a file to send as each request's body, or L{None}.
    @param duration: seconds counted (C{-D}), after C{warmUp} seconds.
    @return: the figures (see L{parseH2load}), C{clientCPU} (CPU seconds
        per second of C{h2load}) and C{seconds} (wall time), or
        C{{"error": ...}}.
    @rtype: L{dict}
    """
    argv = ["h2load", "-t", "1", "-c", str(CONNECTIONS), "-m", str(STREAMS)]
    argv += ["-D", str(duration), "--warm-up-time", str(warmUp)]
    if body:
        argv += ["-d", body]
    argv.append(url(port, tls, path))
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration + warmUp + 30
        )
    except subprocess.TimeoutExpired:
        return {"error": "h2load did not finish"}
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = parseH2load(result.stdout)
    if "error" in figures:
        figures["error"] += f" (exit {result.returncode}: {result.stderr.strip()[-200:]})"
        return figures
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    figures["clientCPU"] = cpu / seconds
    figures["seconds"] = seconds
    return figures


_FINISHED = re.compile(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_REQUEST_TIME = re.compile(
    r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)"
)
_PROTOCOL = re.compile(r"Application protocol: (\S+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parseH2load(output):
    """
    @param output: C{h2load}'s standard output.
    @return: C{rate} (requests/s), C{succeeded}, C{failed} (failed,
        errored and timed out, plus answers other than 2xx), C{protocol}
        (what ALPN or prior knowledge chose) and C{mean} and C{max}
        request time in milliseconds; or C{{"error": ...}}.
    @rtype: L{dict}
    """
    finished = _FINISHED.search(output)
    requests = _REQUESTS.search(output)
    status = _STATUS.search(output)
    protocol = _PROTOCOL.search(output)
    if not (finished and requests and status):
        return {"error": "unreadable h2load output: " + " ".join(output.split())[-200:]}
    _total, _done, succeeded, failed, errored, timeout = map(int, requests.groups())
    figures = {
        "rate": float(finished.group(3)),
        "succeeded": succeeded,
        "failed": failed + errored + timeout + sum(map(int, status.groups()[1:])),
        "protocol": protocol.group(1) if protocol else "?",
    }
    times = _REQUEST_TIME.search(output)
    if times:
        figures["max"] = float(times.group(3)) * _UNITS[times.group(4)]
        figures["mean"] = float(times.group(5)) * _UNITS[times.group(6)]
    return figures


def readiness(tls):
    """
    @return: the readiness check for L{servers.start}: one C{GET /} over
        HTTP/2 by C{h2load} succeeded.
    """

    def ready(port):
        result = subprocess.run(
            ["h2load", "-n", "1", "-c", "1", url(port, tls, "/")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        figures = parseH2load(result.stdout)
        wanted = "h2" if tls else "h2c"
        return figures.get("succeeded") == 1 and figures.get("protocol") == wanted

    return ready


def main(argv):
    args = parseArgs(argv)
    if not peers.inVenv():
        ensureH2load()
        if not args.no_install:
            peers.ensure(log, venv=peers.GRACEHTTP_TLS_VENV, extras="http2,tls")
        peers.reexec()
    rounds = args.rounds or (1 if args.quick else 2)
    passes = 1 if args.quick else 2
    duration = args.duration or (3 if args.quick else 5)
    serverCPU, clientCPU = pinCPUs(log)
    workDir = tempfile.mkdtemp(prefix="gracehttp-h2-bench-")
    log(f"server logs and certificate in {workDir}")
    tls = None if args.h2c else makeCertificate(workDir)
    body = os.path.join(workDir, "upload.bin")
    with open(body, "wb") as f:
        f.write(b"u" * UPLOAD)
    chosen = h2Servers(tls)
    if args.servers:
        names = args.servers.split(",")
        chosen = [s for s in chosen if s.name in names]
    extra = ["--access-log", "off"]
    results = {
        "meta": {
            "date": datetime.date.today().isoformat(),
            "mode": "h2c (prior knowledge)" if args.h2c else "TLS, ALPN h2",
            "rounds": 0,
            "passes": passes,
            "duration": duration,
            "h2load": f"-t 1 -c {CONNECTIONS} -m {STREAMS} -D {duration} --warm-up-time 1",
            "h2loadVersion": _h2loadVersion(),
            "serverCPU": serverCPU,
            "clientCPU": clientCPU,
            "cpuModel": cpuModel(),
            "python": platform.python_version(),
            "gracehttpCommit": commit(),
            "gracehttpOptions": extra,
            "versions": peers.versions(peers.GRACEHTTP_TLS_VENV),
            "loadavgStart": loadavg(),
        },
        "runs": [],
        "memory": [],
        "failures": [],
    }
    started = time.monotonic()
    for r in range(rounds):
        order = chosen[r % len(chosen) :] + chosen[: r % len(chosen)]
        for server in order:
            serve(
                server,
                r + 1,
                passes,
                tls,
                body,
                results,
                workDir,
                extra,
                serverCPU,
                clientCPU,
                duration,
            )
        results["meta"]["rounds"] = r + 1
    results["meta"]["seconds"] = round(time.monotonic() - started)
    results["meta"]["loadavgEnd"] = loadavg()
    name = "h2-quick" if args.quick else ("h2c-latest" if args.h2c else "h2-latest")
    write(results, name)
    return 1 if results["failures"] else 0


def _h2loadVersion():
    output = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout
    return output.strip().split("/")[-1] if output else "?"


def serve(server, r, passes, tls, body, results, workDir, extra, serverCPU, clientCPU, duration):
    """
    Start one server, run every scenario C{passes} times against it, read
    its RSS when ready and after each pass, stop it.
    """
    try:
        running = servers.start(server, workDir, extra, serverCPU, ready=readiness(tls))
    except servers.StartError as e:
        log(str(e))
        results["failures"].append(f"round {r}: {e}")
        return
    memory = {"round": r, "server": server.name, "ready": measure.rss(running.pids())}
    try:
        with measure.PeakRSS(running) as peak:
            for p in range(1, passes + 1):
                for scenario, path, upload in SCENARIOS:
                    pids = running.pids()
                    (ran, waited), wall = measure.schedTimes(pids), time.monotonic()
                    figures = h2load(running.port, tls, path, upload and body, clientCPU, duration)
                    ranAfter, waitedAfter = measure.schedTimes(pids)
                    wall = (time.monotonic() - wall) * 1e9
                    figures["serverCPU"] = (ranAfter - ran) / wall
                    figures["serverWait"] = (waitedAfter - waited) / wall
                    figures.update(round=r, server=server.name, scenario=scenario, **{"pass": p})
                    results["runs"].append(figures)
                    _check(figures, running, results)
                    log(f"{server.name} round {r} pass {p} {scenario}: {_line(figures)}")
                memory[f"pass{p}"] = measure.rss(running.pids())
        memory["peak"] = peak.peak
        results["memory"].append(memory)
        log(
            f"{server.name} RSS: "
            + ", ".join(
                f"{k} {v / MIB:.1f} MiB" for k, v in memory.items() if k not in ("round", "server")
            )
        )
    finally:
        running.stop()


def _check(figures, running, results):
    where = (
        f"round {figures['round']} pass {figures['pass']}: "
        f"{figures['server']} {figures['scenario']}"
    )
    if running.process.poll() is not None:
        results["failures"].append(f"{where}: the server died")
    if "error" in figures:
        results["failures"].append(f"{where}: {figures['error']}")
    elif figures["failed"] or not figures["succeeded"]:
        results["failures"].append(f"{where}: {figures['failed']} requests failed")
    elif figures["protocol"] not in ("h2", "h2c"):
        results["failures"].append(f"{where}: negotiated {figures['protocol']}")


def _line(figures):
    if "error" in figures:
        return figures["error"]
    return (
        f"{figures['rate']:,.0f} req/s, mean {figures.get('mean', 0):.2f} ms, "
        f"server CPU {figures['serverCPU']:.2f} (waited {figures['serverWait']:.2f}), "
        f"h2load CPU {figures['clientCPU']:.2f}, "
        f"{figures['failed']} failed ({figures['protocol']})"
    )


def median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _runs(results, scenario, server):
    return [
        run
        for run in results["runs"]
        if run["scenario"] == scenario and run["server"] == server and "error" not in run
    ]


def ratio(results, scenario, server):
    """
    @return: the median over rounds and passes of C{server}'s requests/s
        divided by gracehttp's in the same round and pass, or L{None}.
    """
    ours = {(r["round"], r["pass"]): r["rate"] for r in _runs(results, scenario, GRACEHTTP)}
    return median(
        [
            r["rate"] / ours[(r["round"], r["pass"])]
            for r in _runs(results, scenario, server)
            if ours.get((r["round"], r["pass"]))
        ]
    )


def scenarioTable(results, scenario, names):
    lines = [
        "| server | req/s | MiB/s | mean ms | max ms | / gracehttp | server CPU "
        "| server waited | h2load CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    size = {"hello": 13, "64k": 65536, "upload": UPLOAD}[scenario]
    for name in names:
        runs = _runs(results, scenario, name)
        rate = median([r["rate"] for r in runs])
        cells = [
            name,
            _fmt(rate, ",.0f"),
            _fmt(rate and rate * size / MIB, ",.1f"),
            _fmt(median([r.get("mean") for r in runs if r.get("mean") is not None]), ".2f"),
            _fmt(median([r.get("max") for r in runs if r.get("max") is not None]), ".1f"),
            _fmt(ratio(results, scenario, name), ".2f"),
            _fmt(median([r["serverCPU"] for r in runs]), ".2f"),
            _fmt(median([r.get("serverWait") for r in runs if "serverWait" in r]), ".2f"),
            _fmt(median([r["clientCPU"] for r in runs]), ".2f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def memoryTable(results):
    lines = [
        "| server | round | ready | after pass 1 | after pass 2 | peak | pass 2 growth |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in results["memory"]:
        growth = m["pass2"] - m["pass1"] if "pass2" in m else None
        cells = [
            m["server"],
            str(m["round"]),
            *(_fmt(m.get(k) and m[k] / MIB, ".1f") for k in ("ready", "pass1", "pass2", "peak")),
            _fmt(growth and growth / MIB, "+.1f") if growth is not None else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bar(results, names):
    """
    @return: the bar of issue 11, one C{PASS}/C{FAIL}/C{SKIP} line each.
    @rtype: L{list} of L{str}
    """
    lines = []
    for scenario, _, _ in SCENARIOS:
        value = ratio(results, scenario, REFERENCE) if REFERENCE in names else None
        if value is None:
            lines.append(f"SKIP {scenario}: gracehttp ahead of hypercorn (no same-round figures)")
        else:
            verdict = "PASS" if value < 1 else "FAIL"
            lines.append(
                f"{verdict} {scenario}: gracehttp ahead of hypercorn "
                f"(hypercorn's req/s / gracehttp's = {value:.2f}, median of same-round ratios)"
            )
    ours = [m for m in results["memory"] if m["server"] == GRACEHTTP and "pass2" in m]
    if not ours:
        lines.append("SKIP memory: gracehttp's RSS flat across the run (no second pass)")
    else:
        worst = max(ours, key=lambda m: m["pass2"] - m["pass1"])
        growth = worst["pass2"] - worst["pass1"]
        flat = growth <= max(FLAT_BYTES, FLAT_RATIO * worst["pass1"])
        lines.append(
            f"{'PASS' if flat else 'FAIL'} memory: gracehttp's RSS flat across the run "
            f"(after pass 1 {worst['pass1'] / MIB:.1f} MiB, after pass 2 "
            f"{worst['pass2'] / MIB:.1f} MiB; at most +5% or +2 MiB)"
        )
    return lines


def markdown(results):
    meta = results["meta"]
    names = []
    for run in results["runs"]:
        if run["server"] not in names:
            names.append(run["server"])
    names.sort(key=lambda n: n != GRACEHTTP)
    titles = {
        "hello": "`GET /`, 13-byte responses",
        "64k": "`GET /64k`, 64 KiB responses",
        "upload": "`POST /upload`, 64 KiB request bodies, 13-byte responses",
    }
    out = [
        f"# HTTP/2: gracehttp and its peers ({meta['mode']})",
        "",
        f"`python3 bench/h2bench.py{' --h2c' if meta['mode'].startswith('h2c') else ''}` on "
        f"{meta['date']}: {meta['rounds']} round(s) of {meta['passes']} pass(es), "
        f"`h2load {meta['h2load']}` (nghttp2 {meta['h2loadVersion']}) pinned to CPU "
        f"{meta['clientCPU']}, each server one process pinned to CPU {meta['serverCPU']}; "
        f"{meta['cpuModel']}, Python {meta['python']}, gracehttp {meta['gracehttpCommit']}; "
        f"{meta['seconds']} s; load average {meta['loadavgStart']} at the start, "
        f"{meta['loadavgEnd']} at the end.",
        "",
        "Other helpers' work shares the machine's two CPUs: when it competes (server "
        "waited above a few hundredths) the absolute figures drop and move, and the "
        "ratios of the same round and pass (column `/ gracehttp`) are what counts.  "
        "Medians over rounds and passes; "
        "CPU is CPU seconds per second during the run (near 1.0: the server is "
        "saturated); server waited is the seconds per second the server was "
        "runnable while another process had its CPU (above a few hundredths, "
        "something else competed; granian runs several threads on the one CPU, "
        "so its figure counts them waiting for each other too).",
        "",
    ]
    for scenario, _, _ in SCENARIOS:
        out += [f"## {titles[scenario]}", "", scenarioTable(results, scenario, names)]
    out += [
        "## Memory (RSS of the server)",
        "",
        "Read when the server is ready (no load yet), after each pass of the three "
        "scenarios, and the peak sampled every 50 ms.",
        "",
        memoryTable(results),
        "## The bar (issue 11)",
        "",
        *(f"- {line}" for line in bar(results, names)),
        "",
    ]
    if results["failures"]:
        out += ["## Failures", "", *(f"- {f}" for f in results["failures"]), ""]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v != "-")
    out += ["Versions: " + versions + ".", ""]
    return "\n".join(out)


def write(results, name):
    resultsDir = os.path.join(peers.BENCH, "results")
    os.makedirs(resultsDir, exist_ok=True)
    text = markdown(results)
    with open(os.path.join(resultsDir, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(resultsDir, name + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    sys.stdout.write(text)
    log(f"wrote {resultsDir}/{name}.md and {name}.json in {results['meta']['seconds']} s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
