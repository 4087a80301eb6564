"""
End-to-end tests of worker processes (C{--workers}): C{twist gracehttp} in
a child process, with real HTTP clients, a worker killed, C{SIGTERM} and
C{SIGHUP} sent under load, and sockets passed as systemd passes them.

Every wait is for a log line or a response, bounded; the client loops are
bounded by a count and a time.
"""

import http.client
import os
import queue
import re
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

from .server import (
    Subprocess,
    childEnvironment,
    makeCertificate,
    runTwist,
    serveInProcess,
    startSubprocess,
    twistCommand,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WSGI = "tests.apps.workers_app:wsgi"
ASGI = "tests.apps.workers_app:asgi"
SUPERVISING = r"gracehttp supervising (\d+) worker\(s\) on ([^;]+);"
WORKER_LISTENING = r"gracehttp listening on \S+; .* pid (\d+)"
TIMEOUT = 60.0
"""
The longest any wait may take, in seconds (a safety net, not a timing
assumption).
"""


def get(port, path="/", host="127.0.0.1", context=None):
    """
    One request on a new connection (C{Connection: close}).

    @return: C{(status, worker pid, body)}.
    @raise OSError: the connection was refused or cut.
    @raise http.client.HTTPException: the response was cut.
    """
    if context is None:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    else:
        connection = http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=context)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read()
        return response.status, response.getheader("X-Worker"), body
    finally:
        connection.close()


class ClientLoop:
    """
    Threads each sending requests one after another, each on a new
    connection, until told to stop, C{limit} requests in all, or
    C{seconds} passed; every failure is kept.
    """

    def __init__(self, port, threads=2, limit=20_000, seconds=TIMEOUT):
        self.port = port
        self.pids = []
        self.errors = []
        self.count = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._inFlight = 0
        self._limit = limit
        self._deadline = time.monotonic() + seconds
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            self._go.wait(TIMEOUT)
            with self._lock:
                if self.count >= self._limit or not self._go.is_set():
                    if self.count >= self._limit:
                        return
                    continue
                self.count += 1
                self._inFlight += 1
            try:
                status, pid, _ = get(self.port)
                outcome = pid if status == 200 else f"status {status}"
            except (OSError, http.client.HTTPException) as e:
                outcome = e
            with self._changed:
                self._inFlight -= 1
                if isinstance(outcome, str) and outcome.isdigit():
                    self.pids.append(outcome)
                else:
                    self.errors.append(outcome)
                self._changed.notify_all()

    def pause(self):
        """
        Send no new request, and wait until none is in flight.
        """
        with self._changed:
            self._go.clear()
            while self._inFlight:
                self._changed.wait(TIMEOUT)

    def resume(self):
        """
        Send requests again.
        """
        self._go.set()

    def waitUntil(self, predicate, what):
        """
        Wait until C{predicate()} is true (checked after each response).

        @raise AssertionError: the loop ended first.
        """
        with self._changed:
            while not predicate():
                if not any(t.is_alive() for t in self._threads):
                    raise AssertionError(f"the client loop ended before {what}")
                self._changed.wait(1.0)

    def served(self):
        """
        @return: how many responses each pid gave.
        @rtype: L{dict}
        """
        with self._lock:
            counts = {}
            for pid in self.pids:
                counts[pid] = counts.get(pid, 0) + 1
            return counts

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT)


def workerPids(child, count):
    """
    @return: the pids of the first C{count} workers that listened.
    """
    return [m.group(1) for m in child.waitForMatches(WORKER_LISTENING, count, TIMEOUT)]


def startWorkers(app=WSGI, workers=2, *args, **kwargs):
    child = startSubprocess(app, "--workers", str(workers), *args, cwd=REPO, **kwargs)
    try:
        child.waitFor(SUPERVISING, TIMEOUT)
    except BaseException:
        child.stop()
        raise
    return child


class WorkersServeTests(unittest.TestCase):
    def test_workersSharePortAndKilledOneIsReplaced(self):
        """
        Two workers serve one port (both answer); one killed with SIGKILL is
        restarted by the parent, and a client loop sees no failure before,
        while it is dead and being replaced, or after, and the new worker
        serves.  (The loop pauses for the kill itself: a request in flight
        on a process that is killed is lost, whatever the server.)
        """
        child = startWorkers()
        self.addCleanup(child.stop)
        first, second = workerPids(child, 2)
        loop = ClientLoop(child.port)
        self.addCleanup(loop.stop)
        loop.waitUntil(lambda: {first, second} <= set(loop.pids), "both workers answered")
        loop.pause()
        os.kill(int(first), signal.SIGKILL)
        child.waitFor(r"gracehttp worker \d+ exited \(signal 9\); restarting it in", TIMEOUT)
        loop.resume()
        third = workerPids(child, 3)[2]
        loop.waitUntil(lambda: loop.served().get(third, 0) >= 20, "the new worker served")
        loop.stop()
        self.assertEqual(loop.errors, [])
        self.assertNotIn(third, (first, second))
        self.assertEqual(child.stop(), 0)

    def test_wsgiMultiprocess(self):
        """
        With --workers 2 a WSGI application sees wsgi.multiprocess true;
        with one process (the default), false.
        """
        child = startWorkers()
        self.addCleanup(child.stop)
        status, pid, body = get(child.port)
        self.assertEqual((status, body), (200, f"{pid} True".encode()))
        single = startSubprocess(WSGI, cwd=REPO)
        self.addCleanup(single.stop)
        status, pid, body = get(single.port)
        self.assertEqual((status, body), (200, f"{pid} False".encode()))

    def test_tls(self):
        """
        An ssl: endpoint with workers: the parent binds the port, each
        worker serves TLS on it (an HTTPS request is answered).
        """
        directory = tempfile.mkdtemp()
        keyPath, certPath = makeCertificate(directory)
        listen = f"ssl:0:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}"
        child = startWorkers(WSGI, 2, listen=listen)
        self.addCleanup(child.stop)
        context = ssl.create_default_context(cafile=certPath)
        status, pid, body = get(child.port, host="127.0.0.1", context=context)
        self.assertEqual((status, body), (200, f"{pid} True".encode()))
        child.waitFor(r"supervising 2 worker\(s\) on https://127\.0\.0\.1:", TIMEOUT)

    def test_proxyProtocol(self):
        """
        A haproxy: endpoint with workers: each worker reads the PROXY
        protocol header of the connections it accepts (the application
        sees the header's client address).
        """
        child = startWorkers(WSGI, 2, listen="haproxy:tcp:0:interface=127.0.0.1")
        self.addCleanup(child.stop)
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", child.port), timeout=TIMEOUT) as client:
                client.sendall(
                    b"PROXY TCP4 1.2.3.4 10.0.0.5 1111 80\r\n"
                    b"GET /client HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                response = b""
                while chunk := client.recv(65536):
                    response += chunk
            self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response)
            self.assertTrue(response.endswith(b"\r\n\r\n1.2.3.4"), response)

    def test_readinessAnsweredByParent(self):
        """
        --readiness-listen with workers: the parent answers it (the workers
        do not try to bind it), 200 once every worker listens, 503 from
        the start of a stop while a request is still in flight.
        """
        child = startWorkers(WSGI, 2, "--readiness-listen", "tcp:0:interface=127.0.0.1")
        self.addCleanup(child.stop)
        readiness = child.waitFor(r"gracehttp readiness endpoint on http://127\.0\.0\.1:(\d+)")
        port = int(readiness.group(1))
        self.assertEqual(get(port, "/readyz")[0], 200)
        slow = threading.Thread(target=get, args=(child.port, "/slow"), daemon=True)
        slow.start()
        child.waitFor(r"slow started", TIMEOUT)
        child.process.send_signal(signal.SIGTERM)
        # A worker drains once the parent's stop (which turned the
        # readiness endpoint to draining) told it to.
        child.waitFor(r"gracehttp stopping: waiting up to", TIMEOUT)
        self.assertEqual(get(port, "/readyz")[0], 503)
        slow.join(TIMEOUT)
        self.assertEqual(child.wait(TIMEOUT), 0)
        self.assertEqual(child.output().count("gracehttp readiness endpoint on"), 1)

    def test_appCannotBeLoaded(self):
        """
        An application that cannot be imported: the worker says why, the
        parent says the start failed, and exits with status 1.
        """
        child = runTwist(
            "gracehttp",
            "--app",
            "tests.apps.nosuchmodule:app",
            "--workers",
            "2",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            cwd=REPO,
        )
        self.addCleanup(child.stop)
        self.assertEqual(child.wait(TIMEOUT), 1)
        output = child.output()
        self.assertIn("gracehttp worker failed to start:", output)
        self.assertRegex(output, r"gracehttp failed to start: a worker exited before it was ready")
        self.assertNotIn("Traceback", output)


class WorkersStopTests(unittest.TestCase):
    def test_sigtermLosesNoInFlightRequest(self):
        """
        SIGTERM to the parent with slow requests in flight on both workers:
        every one is answered 200, every worker stops, the parent exits 0.
        """
        child = startWorkers()
        self.addCleanup(child.stop)
        pids = set(workerPids(child, 2))
        results = []
        lock = threading.Lock()

        def slow():
            try:
                outcome = get(child.port, "/slow")
            except (OSError, http.client.HTTPException) as e:
                outcome = e
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=slow, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        started = child.waitForMatches(r"slow started (\d+)", 6, TIMEOUT)
        child.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(TIMEOUT)
        self.assertEqual(child.wait(TIMEOUT), 0)
        self.assertEqual(sorted(r[0] for r in results), [200] * 6, results)
        self.assertLessEqual({m.group(1) for m in started}, pids)
        self.assertIn("gracehttp stopped: every worker exited", child.output())

    def test_sighupReplacesUnderLoad(self):
        """
        SIGHUP under a client loop: every worker is replaced (each new one
        runs its lifespan startup, each old one its shutdown), the new
        workers serve, and no request is refused or cut.
        """
        child = startWorkers(ASGI)
        self.addCleanup(child.stop)
        old = set(workerPids(child, 2))
        loop = ClientLoop(child.port)
        self.addCleanup(loop.stop)
        loop.waitUntil(lambda: len(loop.pids) >= 50, "50 responses")
        child.process.send_signal(signal.SIGHUP)
        child.waitFor("gracehttp reloaded: every worker replaced", TIMEOUT)
        new = set(workerPids(child, 4)) - old
        self.assertEqual(len(new), 2)
        loop.waitUntil(lambda: all(loop.served().get(pid, 0) >= 5 for pid in new), "new served")
        loop.stop()
        self.assertEqual(loop.errors, [])
        output = child.output()
        startups = set(re.findall(r"lifespan startup (\d+)", output))
        shutdowns = set(re.findall(r"lifespan shutdown (\d+)", output))
        self.assertEqual((startups, shutdowns), (old | new, old))
        self.assertEqual(child.stop(), 0)


def systemdSockets(count):
    """
    Listening sockets on free ports of 127.0.0.1, as a socket unit would
    have opened them.
    """
    sockets = []
    for _ in range(count):
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        listening.listen(128)
        sockets.append(listening)
    return sockets


_EXEC_WRAPPER = """
import os, sys
fds = [int(fd) for fd in sys.argv[1].split(",")]
for index, fd in enumerate(fds):
    os.dup2(fd, 3 + index)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""
"""
What systemd does between fork and exec: put the sockets at 3, 4, ...
and set C{LISTEN_PID} to the process's own pid, then exec the service
(the pid stays the same).
"""


def runActivated(sockets, names, *args):
    """
    Run C{twist gracehttp ARGS} as systemd >= 227 runs a socket-activated
    service: the sockets at descriptors 3, 4, ..., with C{LISTEN_FDS},
    C{LISTEN_FDNAMES} and C{LISTEN_PID} (the child's own pid: a wrapper
    sets it, then execs C{twist}).
    """
    env = childEnvironment()
    env["LISTEN_FDS"] = str(len(sockets))
    env["LISTEN_FDNAMES"] = ":".join(names)
    twist = twistCommand()
    if len(twist) == 1:
        twist = [sys.executable, *twist]
    command = [
        sys.executable,
        "-c",
        _EXEC_WRAPPER,
        ",".join(str(s.fileno()) for s in sockets),
        *twist,
        "--log-format=text",
        "gracehttp",
        *args,
    ]
    return Subprocess(command, cwd=REPO, env=env, passFds=[s.fileno() for s in sockets])


class SocketActivationTests(unittest.TestCase):
    def activated(self, *args):
        sockets = systemdSockets(2)
        for each in sockets:
            self.addCleanup(each.close)
        child = runActivated(
            sockets,
            ["http", "other"],
            "--app",
            WSGI,
            "--listen",
            "systemd:domain=INET:index=0",
            "--listen",
            "systemd:domain=INET:name=other",
            *args,
        )
        self.addCleanup(child.stop)
        return child, [s.getsockname()[1] for s in sockets]

    def test_oneProcess(self):
        """
        Without workers, gracehttp serves both sockets systemd passed (by
        index and by name), as one process.
        """
        child, ports = self.activated()
        child.waitFor(r"gracehttp listening on", TIMEOUT)
        answers = [get(port) for port in ports]
        self.assertEqual({(status, body[-5:]) for status, _, body in answers}, {(200, b"False")})
        self.assertEqual(child.stop(), 0)

    def test_workers(self):
        """
        With --workers 2, the parent takes both sockets systemd passed and
        both workers serve them; the workers do not see LISTEN_* (they
        would adopt nothing twice); after SIGTERM the sockets are still
        systemd's (a new connection waits in the queue instead of being
        refused).
        """
        child, ports = self.activated("--workers", "2")
        match = child.waitFor(SUPERVISING, TIMEOUT)
        self.assertEqual(match.group(2), ", ".join(f"http://127.0.0.1:{port}" for port in ports))
        loop = ClientLoop(ports[1], limit=2000)
        self.addCleanup(loop.stop)
        loop.waitUntil(lambda: len(loop.served()) == 2, "both workers answered")
        loop.stop()
        self.assertEqual(loop.errors, [])
        status, _, body = get(ports[0])
        self.assertEqual((status, body[-4:]), (200, b"True"))
        self.assertEqual(child.stop(), 0)
        waiting = socket.create_connection(("127.0.0.1", ports[0]), timeout=TIMEOUT)
        waiting.close()


class StopBeforeFirstRequestTests(unittest.TestCase):
    def test_acceptedConnectionServedAfterStop(self):
        """
        A connection the server accepted before a graceful stop began, but
        whose request arrives after, is served (200, Connection: close),
        not closed as idle: a client loop under SIGHUP or SIGTERM would
        see it cut.
        """
        server = serveInProcess(WSGI)
        state = server.service._state
        opened = threading.Event()
        connectionOpened = state.connectionOpened

        def noted(connection):
            admitted = connectionOpened(connection)
            opened.set()
            return admitted

        state.connectionOpened = noted
        client = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        self.addCleanup(client.close)
        self.assertTrue(opened.wait(TIMEOUT))
        stopped = queue.Queue()
        server.reactor.callFromThread(lambda: server.service.stopService().addBoth(stopped.put))
        # callFromThread runs calls in order: once this one ran, the stop
        # stopped listening and closed the idle connections.
        server.call(lambda: None)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response = b""
        while chunk := client.recv(65536):
            response += chunk
        self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response)
        self.assertIn(b"connection: close", response.lower())
        self.assertIsNone(stopped.get(timeout=TIMEOUT))
