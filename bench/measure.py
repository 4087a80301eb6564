"""
Measurements: a C{wrk} run and its parsed figures, the resident set size
(RSS) of a server's processes sampled from C{/proc}, 1,000 idle keep-alive
connections, and a slow reader of the streamed 10 MiB response.
"""

import os
import re
import resource
import socket
import subprocess
import threading
import time

from servers import HOST

MIB = 1024 * 1024

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(port, path, duration, cpu, connections=64, script=None):
    """
    Run C{wrk -t1 -c64 --latency} against the server for C{duration} seconds.

    @param port: the server's port on 127.0.0.1.
    @param path: the request target.
    @param duration: seconds.
    @type duration: L{int}
    @param cpu: the CPU to pin wrk to, or L{None}.
    @param connections: keep-alive connections wrk holds open.
    @param script: path of a wrk Lua script, or L{None}.
    @return: C{rps} (requests/s), C{p99} (ms), C{requests}, C{errors}
        (socket errors plus non-2xx/3xx responses), C{output} (wrk's text).
    @rtype: L{dict}
    """
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script:
        argv += ["-s", script]
    argv.append(f"http://{HOST}:{port}{path}")
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    try:
        output = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    return parseWrk(output)


def parseWrk(output):
    """
    Read the figures out of C{wrk --latency}'s report.

    @param output: wrk's standard output.
    @type output: L{str}
    @return: see L{wrk}; C{rps} and C{p99} are L{None} when missing.
    @rtype: L{dict}
    """
    figures = {"rps": None, "p99": None, "requests": 0, "errors": 0, "output": output}
    m = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if m:
        figures["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    if m:
        figures["p99"] = round(float(m.group(1)) * _UNITS[m.group(2)], 3)
    m = re.search(r"(\d+) requests in", output)
    if m:
        figures["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        figures["errors"] += sum(int(n) for n in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m:
        figures["errors"] += int(m.group(1))
    return figures


def rss(pids):
    """
    @param pids: process ids.
    @return: the sum of their current RSS (C{VmRSS}), in bytes; processes
        that are gone count 0.
    @rtype: L{int}
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class PeakRSS:
    """
    Sample a running server's total RSS every C{interval} seconds in a
    thread and keep the highest value.  (C{VmHWM} is not used: the same
    process serves several scenarios in a row.)
    """

    def __init__(self, running, interval=0.05):
        self._running = running
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._pids = self._running.pids()
        self.peak = rss(self._pids)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        ticks = 0
        while not self._stop.wait(self._interval):
            ticks += 1
            if ticks % 20 == 0:  # pick up forked workers once a second
                self._pids = self._running.pids()
            self.peak = max(self.peak, rss(self._pids))


def schedTimes(pids):
    """
    @return: the time the threads of the processes C{pids} have run on a
        CPU and the time they waited, runnable, for one (nanoseconds, from
        C{/proc/PID/task/TID/schedstat}); processes and threads that are
        gone count 0.
    @rtype: L{tuple} of two L{int}
    """
    ran = waited = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    fields = f.read().split()
            except OSError:
                continue
            ran += int(fields[0])
            waited += int(fields[1])
    return ran, waited


def raiseFileLimit():
    """
    Raise this process's open-file limit to its hard limit (inherited by
    the servers it starts): 1,000 connections need more than the usual
    1,024 descriptors on both ends.
    """
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_HELLO_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def idleConnections(running, count=1000, timeout=60.0):
    """
    Open C{count} keep-alive connections one after the other, make one
    C{GET /} on each, leave them idle, and measure the server's RSS.

    @param running: the server.
    @type running: L{servers.Running}
    @param count: connections.
    @param timeout: seconds the whole check may take.
    @return: C{before} (RSS, bytes, before the first connection), C{idle}
        (RSS with the connections open and idle), C{peak} (highest RSS
        sampled meanwhile), C{opened} (connections that got their
        response), C{open} (still open when C{idle} was read).
    @rtype: L{dict}
    """
    deadline = time.monotonic() + timeout
    sockets = []
    with PeakRSS(running) as peak:
        before = rss(running.pids())
        try:
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                s = socket.create_connection((HOST, running.port), timeout=5.0)
                sockets.append(s)
                s.sendall(_HELLO_REQUEST)
                data = b""
                while not data.endswith(b"Hello, world!"):
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("closed before the response ended")
                    data += chunk
        except OSError:
            pass
        time.sleep(0.2)
        idle = rss(running.pids())
        stillOpen = sum(1 for s in sockets if _isOpen(s))
    for s in sockets:
        s.close()
    return {
        "before": before,
        "idle": idle,
        "peak": peak.peak,
        "opened": len(sockets),
        "open": stillOpen,
    }


def _isOpen(s):
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def slowReader(running, chunk=65536, pause=0.01, timeout=30.0):
    """
    Fetch C{/stream} (10 MiB) reading C{chunk} bytes every C{pause}
    seconds (about 6 MiB/s, far below what the server can write) through a
    64 KiB receive buffer, and watch the server's RSS: a server that
    respects backpressure keeps it flat.

    @return: C{before} and C{peak} RSS (bytes), C{growth} (peak / before -
        1), C{received} (bytes), C{seconds}.
    @rtype: L{dict}
    """
    pids = running.pids()
    before = rss(pids)
    peak = before
    received = 0
    started = time.monotonic()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(5.0)
    try:
        s.connect((HOST, running.port))
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        while time.monotonic() - started < timeout:
            data = s.recv(chunk)
            if not data:
                break
            received += len(data)
            peak = max(peak, rss(pids))
            time.sleep(pause)
    except OSError:
        pass
    finally:
        s.close()
    return {
        "before": before,
        "peak": peak,
        "growth": peak / before - 1 if before else None,
        "received": received,
        "seconds": time.monotonic() - started,
    }
