"""
The readiness endpoint (L{gracehttp._protocols.readiness}, C{--readiness-listen}):
its state and protocol on a L{Clock} and a L{StringTransport}, the
service moving it through a start and a stop (on stubs), and a real
C{twist gracehttp} answering probes through a slow lifespan startup, a
graceful stop with a request in flight, and its exit.
"""

import os
import signal
import socket
import unittest

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent

from gracehttp import _service
from gracehttp._protocols.readiness import (
    DRAINING,
    READY,
    STARTING,
    Readiness,
    ReadinessFactory,
)

from .server import LOOPBACK_ANY_PORT, runTwist
from .test_e2e_proxyprotocol import v1, v2
from .test_service import ServiceTestCase, StubEndpoint

WAIT = 10.0


class StateTests(unittest.TestCase):
    """
    L{Readiness} goes from starting to ready to draining, never back.
    """

    def test_forwardOnly(self):
        """Starting, then ready, then draining; ready() after a stop began changes nothing."""
        readiness = Readiness()
        seen = [readiness.state]
        readiness.ready()
        seen.append(readiness.state)
        readiness.draining()
        readiness.ready()
        seen.append(readiness.state)
        self.assertEqual(seen, [STARTING, READY, DRAINING])

    def test_stopWhileStarting(self):
        """A stop during the start is draining, and stays so when listening comes."""
        readiness = Readiness()
        readiness.draining()
        readiness.ready()
        self.assertEqual(readiness.state, DRAINING)


class ProtocolTests(unittest.TestCase):
    """
    One request per connection, answered from the state, then closed.
    """

    def setUp(self):
        self.clock = Clock()
        self.readiness = Readiness()
        self.factory = ReadinessFactory(self.readiness, self.clock)

    def connect(self):
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def ask(self, request=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
        protocol, transport = self.connect()
        protocol.dataReceived(request)
        self.assertTrue(transport.disconnecting)
        return transport.value()

    def test_states(self):
        """503 starting (Retry-After), 200 ready, 503 draining."""
        starting = self.ask()
        self.readiness.ready()
        ready = self.ask()
        self.readiness.draining()
        draining = self.ask()
        self.assertTrue(starting.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"))
        self.assertIn(b"\r\nRetry-After: 1\r\n", starting)
        self.assertTrue(starting.endswith(b"\r\n\r\nstarting\n"))
        self.assertTrue(ready.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(ready.endswith(b"\r\n\r\nready\n"))
        self.assertTrue(draining.startswith(b"HTTP/1.1 503 "))
        self.assertTrue(draining.endswith(b"\r\n\r\ndraining\n"))
        self.assertNotIn(b"Retry-After", draining)

    def test_liveness(self):
        """/livez is 200 alive in every state."""
        request = b"GET /livez HTTP/1.1\r\n\r\n"
        answers = [self.ask(request)]
        self.readiness.draining()
        answers.append(self.ask(request))
        for answer in answers:
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"))
            self.assertTrue(answer.endswith(b"\r\n\r\nalive\n"))

    def test_headNoBody(self):
        """HEAD gets the head alone, with the body's length."""
        self.readiness.ready()
        answer = self.ask(b"HEAD /ready HTTP/1.1\r\n\r\n")
        self.assertIn(b"Content-Length: 6\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\n"))

    def test_waitsForWholeHead(self):
        """Nothing is answered before the head's blank line, sent a byte at a time."""
        self.readiness.ready()
        protocol, transport = self.connect()
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\n\r\n":
            self.assertEqual(transport.value(), b"")
            protocol.dataReceived(bytes([byte]))
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))

    def test_proxyHeaderSkipped(self):
        """
        A request behind a PROXY protocol header (v1, or v2 LOCAL as a load
        balancer's health check sends it, a byte at a time) is answered.
        """
        self.readiness.ready()
        for header in (v1("TCP4", "1.2.3.4", "5.6.7.8", 1, 2), v2("1.2.3.4", "5.6.7.8", 1, 2, 0)):
            with self.subTest(header=header):
                protocol, transport = self.connect()
                for byte in header + b"GET / HTTP/1.1\r\n\r\n":
                    protocol.dataReceived(bytes([byte]))
                self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))

    def test_badRequests(self):
        """A malformed request line is 400, a head too large 431; both close."""
        self.assertTrue(self.ask(b"HELLO\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        protocol, transport = self.connect()
        protocol.dataReceived(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 431 "))
        self.assertTrue(transport.disconnecting)

    def test_timeout(self):
        """A connection without a whole head in 10 s is aborted; one answered cancels its timer."""
        protocol, transport = self.connect()
        protocol.dataReceived(b"GET /")
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        answered, _ = self.connect()
        answered.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        answered.connectionLost(None)
        self.assertEqual(len(self.clock.getDelayedCalls()), 0)


class ServiceTests(ServiceTestCase):
    """
    The service listens on the readiness endpoint first, says ready once
    the main endpoints listen and draining from the start of a stop, and
    stops listening there last.
    """

    def makeService(self, endpoints, exitOnFailure=True, gracefulTimeout=30.0, readiness=None):
        return _service.HTTPService(
            self.adapter,
            self.factory,
            self.state,
            endpoints,
            self.reactor,
            exitOnFailure,
            gracefulTimeout,
            readinessEndpoint=readiness,
            readinessDescription="tcp:8081",
        )

    def test_startAndStop(self):
        """Listen 8081 before startup; starting, ready, draining; 8081 stops after shutdown."""
        readiness = StubEndpoint(self.events, 8081)
        service = self.makeService([StubEndpoint(self.events, 8000)], readiness=readiness)
        service.startService()
        self.assertEqual(self.events, ["listen 8081", "startup"])
        self.assertEqual(readiness.factory.readiness.state, STARTING)
        self.adapter.starting.callback(None)
        self.assertEqual(service.readiness.state, READY)
        self.state.requestsInFlight = 1
        service.stopService()
        self.assertEqual(service.readiness.state, DRAINING)
        self.assertNotIn("stopListening 8081", self.events)
        self.state.finishRequest()
        self.adapter.stopping.callback(None)
        self.assertEqual(self.events[-2:], ["shutdown", "stopListening 8081"])

    def test_readinessListenFails(self):
        """A readiness endpoint that cannot listen fails the start, named, before startup."""
        readiness = StubEndpoint(self.events, 8081, error=OSError(98, "Address already in use"))
        service = self.makeService(
            [StubEndpoint(self.events, 8000)], exitOnFailure=False, readiness=readiness
        )
        with capturedLogs() as events:
            service.startService()
        self.assertEqual(self.events, ["listen 8081"])
        self.assertIsInstance(self.result(service.whenListening()).value, OSError)
        lines = [formatEvent(event) for event in events]
        self.assertIn(
            "gracehttp failed to start: cannot listen on 'tcp:8081': Address already in use",
            lines,
        )

    def test_startupFailureClosesReadiness(self):
        """A failed lifespan startup stops the readiness endpoint too."""
        readiness = StubEndpoint(self.events, 8081)
        service = self.makeService(
            [StubEndpoint(self.events, 8000)], exitOnFailure=False, readiness=readiness
        )
        service.startService()
        self.adapter.starting.errback(RuntimeError("no database"))
        self.assertEqual(self.events, ["listen 8081", "startup", "stopListening 8081"])
        self.assertIsNone(service.readinessPort)


def probe(port):
    """
    @return: the readiness endpoint's status and body, or L{None} if the
        connection is refused.
    """
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    except ConnectionRefusedError:
        return None
    with sock:
        sock.sendall(b"GET /ready HTTP/1.1\r\nHost: probe\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class EndToEndTests(unittest.TestCase):
    """
    A real server with a gated application (L{tests.apps.gated_app}):
    the probe follows its start, its stop and its exit.
    """

    def setUp(self):
        self.gate = socket.create_server(("127.0.0.1", 0))
        self.gate.settimeout(WAIT)
        self.addCleanup(self.gate.close)

    def test_probeThroughStartAndStop(self):
        """
        503 during a slow lifespan startup, 200 when serving, 503 during a
        graceful stop with a request in flight (the main port refused),
        refused after exit.
        """
        env = dict(os.environ, GATE_PORT=str(self.gate.getsockname()[1]))
        # Not startSubprocess: nothing listens until the gate opens.
        child = runTwist(
            "gracehttp",
            "--app",
            "tests.apps.gated_app:app",
            "--listen",
            LOOPBACK_ANY_PORT,
            "--readiness-listen",
            LOOPBACK_ANY_PORT,
            env=env,
        )
        self.addCleanup(child.stop)
        readinessPort = int(child.waitFor(r"readiness endpoint on http://127\.0\.0\.1:(\d+)")[1])
        startup, _ = self.gate.accept()
        self.assertEqual(probe(readinessPort), (503, b"starting\n"))
        startup.sendall(b"x")
        startup.close()
        port = int(child.waitFor(r"gracehttp listening on http://127\.0\.0\.1:(\d+)")[1])
        self.assertEqual(probe(readinessPort), (200, b"ready\n"))

        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as slow:
            slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            request, _ = self.gate.accept()
            child.process.send_signal(signal.SIGTERM)
            child.waitFor(r"waiting up to .* for 1 request")
            self.assertEqual(probe(readinessPort), (503, b"draining\n"))
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
            request.sendall(b"x")
            request.close()
            self.assertTrue(slow.recv(4096).startswith(b"HTTP/1.1 200 OK"))
        self.assertEqual(child.wait(WAIT), 0)
        self.assertIsNone(probe(readinessPort))
