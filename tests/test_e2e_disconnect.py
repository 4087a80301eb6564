"""
The scenario gracehttp exists for, end to end: 50 clients hang up on
requests that hold pooled database connections, and the pool must be free
again within the grace period (plus a little), with no pool error, and serve
the next 50 requests at idle-pool speed.

The real server runs as C{twist gracehttp} in a subprocess and is spoken to
over real sockets on 127.0.0.1.
"""

import json
import os
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import TestCase

import requests

from .server import startSubprocess

CLIENTS = 50
GRACE = 2.0
HANG_UP_AFTER = 0.2
THREADS = 10
"""
The WSGI server's thread pool (C{--threads}, its default).
"""


def _repoRoot():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sendRequests(port, path, clients):
    """
    Open C{clients} connections and send a GET for C{path} on each.

    @return: the sockets, in the order the requests were sent.
    @rtype: L{list} of L{socket.socket}
    """
    sockets = []
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode("ascii"))
        sockets.append(s)
    return sockets


def closeAll(sockets):
    """
    Close C{sockets} in order, without reading any response.

    @return: the C{time.monotonic()} at which the last one was closed.
    """
    for s in sockets:
        s.close()
    return time.monotonic()


def hangUp(port, path, clients, after):
    """
    Open C{clients} connections, send a GET for C{path} on each, wait
    C{after} seconds and close them all, without reading any response.

    @return: the C{time.monotonic()} at which the last socket was closed.
    """
    sockets = sendRequests(port, path, clients)
    time.sleep(after)
    return closeAll(sockets)


def timedRequests(base, path, count):
    """
    Send C{count} concurrent GETs (up to 10 at a time) and return
    C{(statuses, seconds)}.
    """
    start = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        statuses = list(
            pool.map(lambda _: requests.get(base + path, timeout=30).status_code, range(count))
        )
    return statuses, time.monotonic() - start


class DisconnectScenarioMixin:
    """
    Shared set-up: a fresh sqlite database and the server under test.
    """

    appRef = None
    extraArgs = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        env = dict(os.environ, GRACEHTTP_TEST_DB=os.path.join(self.tmp.name, "db.sqlite"))
        self.server = startSubprocess(
            self.appRef,
            "--disconnect-grace-period",
            str(GRACE),
            *self.extraArgs,
            cwd=_repoRoot(),
            env=env,
        )
        self.addCleanup(self.server.stop)
        self.base = f"http://127.0.0.1:{self.server.port}"

    def stats(self):
        return requests.get(self.base + "/stats", timeout=10).json()


class ASGIDisconnectScenarioTests(DisconnectScenarioMixin, TestCase):
    appRef = "tests.apps.sqla_asgi:app"

    def test_abandonedRequestsFreeThePool(self):
        """
        FastAPI + async SQLAlchemy (aiosqlite, pool 5): after 50 clients hang
        up 200 ms into a 1 s transaction, the pool is free within grace +
        0.5 s, each abandoned request finished or was cancelled, no pool
        error is logged, and the next 50 requests are as fast as on an idle
        pool.
        """
        idleStatuses, idleSeconds = timedRequests(self.base, "/quick", CLIENTS)
        self.assertEqual(idleStatuses, [200] * CLIENTS)

        closedAt = hangUp(self.server.port, "/hold", CLIENTS, HANG_UP_AFTER)
        idle = requests.get(self.base + "/wait-idle", timeout=30).json()
        freedAfter = idle["idleAt"] - closedAt
        stats = self.stats()

        self.assertEqual(stats["checkedOut"], 0)
        self.assertEqual(stats["checkedOutByPool"], 0)
        self.assertLess(freedAfter, GRACE + 0.5)
        self.assertEqual(stats["poolErrors"], [])
        self.assertEqual(stats["finished"] + stats["cancelled"], stats["started"])
        self.assertEqual(stats["started"], CLIENTS)
        self.assertGreater(stats["cancelled"], 0)
        # Every request was told of its client leaving, promptly.
        self.assertEqual(len(stats["disconnects"]), CLIENTS)
        disconnectLatency = max(stats["disconnects"]) - closedAt
        self.assertLess(disconnectLatency, 0.5)
        cancelDelay = min(stats["cancelledAt"]) - closedAt
        self.assertGreaterEqual(cancelDelay, GRACE - 0.25)

        afterStatuses, afterSeconds = timedRequests(self.base, "/quick", CLIENTS)
        self.assertEqual(afterStatuses, [200] * CLIENTS)
        self.assertLess(afterSeconds, idleSeconds * 3 + 0.5)
        print(
            "\nASGI scenario:",
            json.dumps(
                {
                    "poolFreeAfterClose_s": round(freedAfter, 3),
                    "maxDisconnectLatency_s": round(disconnectLatency, 4),
                    "firstCancelAfterClose_s": round(cancelDelay, 3),
                    "finished": stats["finished"],
                    "cancelled": stats["cancelled"],
                    "idle50_s": round(idleSeconds, 3),
                    "after50_s": round(afterSeconds, 3),
                }
            ),
        )


class WSGIDisconnectScenarioTests(DisconnectScenarioMixin, TestCase):
    appRef = "tests.apps.sqla_wsgi:app"

    def test_abandonedRequestsFreeThePool(self):
        """
        Flask + sync SQLAlchemy (sqlite, pool 5, 10 threads): after 50 clients
        hang up, requests still queued for a thread never start, running ones
        roll back, the pool is free within grace + 0.5 s with no pool error,
        and the next 50 requests are as fast as on an idle pool.

        The 40 clients whose requests wait for a thread hang up before the
        10 whose requests run: a thread frees only after its own client
        left, so every waiting client is gone by then and exactly 10
        requests start.  (Closing the 50 sockets in the order they were
        opened let a thread free, and a waiting request start, whenever this
        process was descheduled between its close() calls for longer than
        the server needs to roll back and poll: 12 started once under load.)
        """
        idleStatuses, idleSeconds = timedRequests(self.base, "/quick", CLIENTS)
        self.assertEqual(idleStatuses, [200] * CLIENTS)

        sockets = sendRequests(self.server.port, "/hold", CLIENTS)
        sentAt = time.monotonic()
        running = {
            int(match.group(1))
            for match in self.server.waitForMatches(r"/hold started for client port (\d+)", THREADS)
        }
        time.sleep(max(0.0, HANG_UP_AFTER - (time.monotonic() - sentAt)))
        waiting = [s for s in sockets if s.getsockname()[1] not in running]
        self.assertEqual(len(waiting), CLIENTS - THREADS)
        closedAt = closeAll(waiting + [s for s in sockets if s.getsockname()[1] in running])
        deadline = closedAt + GRACE + 0.5
        while True:
            stats = self.stats()
            quiet = stats["checkedOut"] == 0 and stats["holding"] == 0
            if quiet or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        self.assertEqual(stats["holding"], 0)
        self.assertEqual(stats["checkedOut"], 0)
        self.assertEqual(stats["checkedOutByPool"], 0)
        self.assertLess(stats["idleAt"] - closedAt, GRACE + 0.5)
        self.assertEqual(stats["poolErrors"], [])
        # Only the requests that got a thread before the hang-up ran.
        self.assertEqual(stats["started"], THREADS)
        self.assertEqual(stats["rolledBack"], stats["started"])
        self.assertEqual(stats["finished"], 0)

        afterStatuses, afterSeconds = timedRequests(self.base, "/quick", CLIENTS)
        self.assertEqual(afterStatuses, [200] * CLIENTS)
        self.assertLess(afterSeconds, idleSeconds * 3 + 0.5)
        neverStarted = self.server.output().count("before it started")
        self.assertEqual(neverStarted, CLIENTS - stats["started"])
        print(
            "\nWSGI scenario:",
            json.dumps(
                {
                    "poolFreeAfterClose_s": round(stats["idleAt"] - closedAt, 3),
                    "started": stats["started"],
                    "rolledBack": stats["rolledBack"],
                    "neverStarted": neverStarted,
                    "idle50_s": round(idleSeconds, 3),
                    "after50_s": round(afterSeconds, 3),
                }
            ),
        )
