"""
Soak test: run C{twist gracehttp} under mixed, abusive traffic on 127.0.0.1
for a fixed time and check that it neither grows nor leaks file descriptors.

Usage::

    python bench/soak.py --interface wsgi --duration 60
    python bench/soak.py --interface asgi --quick        # 10 s

Run it with the Python that has gracehttp's dependencies (the source tree's
C{src/} is put on the child's path).  Client threads each pick, request
after request: keep-alive GETs, POSTs with bodies, slow reads of a large
response, abrupt disconnects mid-request and mid-response (RST through
C{SO_LINGER 0}, or FIN), malformed requests, and clients that leave while
the application is still working.  At the end it prints the server's RSS
and open file descriptors (from C{/proc/PID}) at start, after warm-up and at
the end, requests served and errors by kind, and exits 1 if RSS grew more
than C{--max-rss-growth} MiB after warm-up or descriptors leaked.

It never targets anything but 127.0.0.1 and stops by itself: every socket
has a timeout, client threads stop at the deadline, and the server is
killed if it does not stop.

This module is also the served application (C{soak:wsgiApp},
C{soak:asgiApp}); importing it runs nothing.
"""

import argparse
import asyncio
import collections
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
BIG = 256 * 1024
_BIG_BODY = b"x" * BIG
_HELLO = b"Hello, world!"


# -- the applications --------------------------------------------------------


def wsgiApp(environ, start_response):
    """
    C{/hello}: 13 bytes; C{/echo}: the request body's length; C{/big}:
    256 KiB in 16 KiB writes; C{/sleep}: waits 0.3 s (watching for the
    client to leave) then answers.
    """
    path = environ["PATH_INFO"]
    if path == "/echo":
        read = 0
        stream = environ["wsgi.input"]
        while True:
            chunk = stream.read(65536)
            if not chunk:
                break
            read += len(chunk)
        body = b"%d" % read
    elif path == "/big":
        start_response("200 OK", [("Content-Length", str(BIG))])
        return (_BIG_BODY[i : i + 16384] for i in range(0, BIG, 16384))
    elif path == "/sleep":
        environ["gracehttp.disconnected"].wait(0.3)
        body = b"slept"
    else:
        body = _HELLO
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


async def asgiApp(scope, receive, send):
    """
    The same routes as L{wsgiApp}, as an ASGI 3 application (lifespan is
    acknowledged).
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if path == "/echo":
        read = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"%d" % read
    elif path == "/big":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % BIG)],
            }
        )
        for i in range(0, BIG, 16384):
            await send(
                {"type": "http.response.body", "body": _BIG_BODY[i : i + 16384], "more_body": True}
            )
        await send({"type": "http.response.body"})
        return
    elif path == "/sleep":
        await asyncio.sleep(0.3)
        body = b"slept"
    else:
        body = _HELLO
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- the server --------------------------------------------------------------


def startServer(interface):
    """
    Start C{twist gracehttp} serving this module's app on a free port.

    @return: C{(process, port, tail)}; C{tail} is a deque of its last
        output lines.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(root, "src"), root, here]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PYTHONUNBUFFERED"] = "1"
    app = "soak:wsgiApp" if interface == "wsgi" else "soak:asgiApp"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twisted",
            "--log-format=text",
            "gracehttp",
            "--app",
            app,
            "--interface",
            interface,
            "--listen",
            f"tcp:0:interface={HOST}",
            "--access-log",
            "off",
            "--disconnect-grace-period",
            "1",
        ],
        cwd=here,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    tail = collections.deque(maxlen=200)
    found = threading.Event()
    port = []

    def read():
        for line in process.stdout:
            tail.append(line)
            match = re.search(r"gracehttp listening on http://127\.0\.0\.1:(\d+)", line)
            if match and not port:
                port.append(int(match.group(1)))
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(30) or process.poll() is not None:
        process.kill()
        sys.exit("server did not start:\n" + "".join(tail))
    return process, port[0], tail


def rssKiB(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def openFds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- the clients -------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.served = 0
        self.scenarios = collections.Counter()
        self.errors = collections.Counter()

    def ok(self, count=1):
        with self.lock:
            self.served += count

    def error(self, kind):
        with self.lock:
            self.errors[kind] += 1


def connect(port):
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def reset(sock):
    """
    Close with RST (SO_LINGER on, 0 s).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def readResponse(sock, buffered=b"", slow=False):
    """
    Read one Content-Length-framed response.

    @return: C{(status, body, leftover bytes)}
    """
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, data = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(data) < length:
        chunk = sock.recv(1024 if slow else 65536)
        if not chunk:
            raise ConnectionError("closed in the response body")
        data += chunk
        if slow:
            time.sleep(0.002)
    return status, data[:length], data[length:]


def request(method, path, body=b"", extra=b""):
    return (
        b"%s %s HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n%s\r\n"
        % (method, path, len(body), extra)
    ) + body


def keepAlive(port, stats, rng):
    with connect(port) as sock:
        leftover = b""
        for _ in range(rng.randint(1, 20)):
            sock.sendall(request(b"GET", b"/hello"))
            status, body, leftover = readResponse(sock, leftover)
            if status != 200 or body != _HELLO:
                stats.error(f"hello: {status}")
                return
            stats.ok()


def post(port, stats, rng):
    size = rng.choice([0, 1, 1000, 65536, 200_000])
    with connect(port) as sock:
        sock.sendall(request(b"POST", b"/echo", b"p" * size))
        status, body, _ = readResponse(sock)
        if status != 200 or body != b"%d" % size:
            stats.error(f"echo: {status}")
            return
        stats.ok()


def slowRead(port, stats, rng):
    with connect(port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request(b"GET", b"/big"))
        status, body, _ = readResponse(sock, slow=True)
        if status != 200 or len(body) != BIG:
            stats.error(f"slow read: {status}")
            return
        stats.ok()


def close(sock, rng):
    if rng.random() < 0.5:
        reset(sock)
    else:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def abortMidRequest(port, stats, rng):
    sock = connect(port)
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n"
        + b"q" * rng.randint(0, 50_000)
    )
    close(sock, rng)


def abortMidResponse(port, stats, rng):
    sock = connect(port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(request(b"GET", b"/big"))
    sock.recv(rng.choice([1, 1000, 16384]))
    close(sock, rng)


def abortWhileWorking(port, stats, rng):
    sock = connect(port)
    sock.sendall(request(b"GET", b"/sleep"))
    time.sleep(rng.random() * 0.2)
    close(sock, rng)


_MALFORMED = [
    b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
]


def malformed(port, stats, rng):
    with connect(port) as sock:
        sock.sendall(rng.choice(_MALFORMED))
        status, _, _ = readResponse(sock)
        if not 400 <= status < 500:
            stats.error(f"malformed: {status}")
            return
        stats.ok()


SCENARIOS = [
    (keepAlive, 30),
    (post, 15),
    (slowRead, 5),
    (abortMidRequest, 10),
    (abortMidResponse, 10),
    (abortWhileWorking, 10),
    (malformed, 10),
]


def client(port, stats, deadline, seed):
    rng = random.Random(seed)
    functions = [f for f, _ in SCENARIOS]
    weights = [w for _, w in SCENARIOS]
    while time.monotonic() < deadline:
        scenario = rng.choices(functions, weights)[0]
        with stats.lock:
            stats.scenarios[scenario.__name__] += 1
        try:
            scenario(port, stats, rng)
        except (OSError, ValueError, IndexError) as e:
            stats.error(f"{scenario.__name__}: {type(e).__name__}")


def traffic(port, stats, clients, seconds, seed):
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client, args=(port, stats, deadline, seed + i), daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Each scenario is bounded by 5 s socket timeouts.
        thread.join(max(0.0, deadline - time.monotonic()) + 30)


def settle(pid, fdsAtStart, limit=15.0):
    """
    Wait (bounded) until the server has no more descriptors than at start.
    """
    end = time.monotonic() + limit
    while time.monotonic() < end and openFds(pid) > fdsAtStart:
        time.sleep(0.2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", choices=["wsgi", "asgi"], default="wsgi")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of traffic (default 60)"
    )
    parser.add_argument("--quick", action="store_true", help="10 s of traffic")
    parser.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    parser.add_argument(
        "--max-rss-growth",
        type=float,
        default=20.0,
        help="MiB of RSS growth allowed after warm-up (default 20)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    duration = 10.0 if args.quick else args.duration
    warmup = max(1.0, duration * 0.1)

    process, port, tail = startServer(args.interface)
    pid = process.pid
    try:
        time.sleep(0.5)
        rssStart, fdsStart = rssKiB(pid), openFds(pid)
        stats = Stats()
        traffic(port, stats, args.clients, warmup, args.seed)
        settle(pid, fdsStart)
        rssWarm = rssKiB(pid)
        traffic(port, stats, args.clients, duration - warmup, args.seed + 1000)
        settle(pid, fdsStart)
        time.sleep(1.5)  # past the 1 s disconnect grace period
        rssEnd, fdsEnd = rssKiB(pid), openFds(pid)
        alive = process.poll() is None
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    growth = (rssEnd - rssWarm) / 1024
    print(
        f"soak: {args.interface}, {duration:.0f} s, {args.clients} clients, "
        f"seed {args.seed}, server exit {process.returncode}"
    )
    print(
        f"RSS (MiB): start {rssStart / 1024:.1f}, after {warmup:.0f} s warm-up "
        f"{rssWarm / 1024:.1f}, end {rssEnd / 1024:.1f} (growth after warm-up {growth:+.1f})"
    )
    print(f"open fds: start {fdsStart}, end {fdsEnd}")
    print(f"requests served: {stats.served}")
    print("scenarios: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.scenarios.items())))
    print("errors: " + (", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "none"))
    failures = []
    if not alive:
        failures.append("the server died:\n" + "".join(tail))
    if growth > args.max_rss_growth:
        failures.append(f"RSS grew {growth:.1f} MiB (> {args.max_rss_growth})")
    if fdsEnd > fdsStart:
        failures.append(f"{fdsEnd - fdsStart} file descriptors leaked")
    if stats.served == 0:
        failures.append("no request was served")
    for failure in failures:
        print("FAIL: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
