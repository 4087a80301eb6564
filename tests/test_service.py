"""
Tests for L{gracehttp._service}: the start and stop sequences of the
service, and the checks L{gracehttp.makeService} makes before building it.
"""

import importlib.util
import os
import signal
import threading
import unittest
from unittest import mock

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from zope.interface import implementer

import gracehttp
from gracehttp import _service
from gracehttp._core.interfaces import IAppAdapter
from gracehttp._core.serverstate import ServerState
from gracehttp._errors import AppLoadError, LifespanFailure
from gracehttp._protocols.http11 import HTTPFactory


@implementer(IAppAdapter)
class StubAdapter:
    """
    An adapter whose C{startup()} and C{shutdown()} return Deferreds the
    test fires, and which records the order of events in a shared list.
    """

    def __init__(self, events):
        self.events = events
        self.starting = Deferred()
        self.stopping = Deferred()
        self.inFlight = set()

    def handle(self, exchange):
        pass

    def startup(self):
        self.events.append("startup")
        return self.starting

    def shutdown(self):
        self.events.append("shutdown")
        return self.stopping


class StubPort:
    """
    A listening port that records when it is told to stop.
    """

    def __init__(self, events, address):
        self.events = events
        self.address = address

    def getHost(self):
        return self.address

    def stopListening(self):
        self.events.append(f"stopListening {self.address.port}")


class StubState(ServerState):
    """
    A L{ServerState} whose connections and requests the test makes up: its
    two closing calls are recorded in the shared event list, and its own
    accounting (C{requestsInFlight}, C{connections}, C{whenDrained}) is the
    real one.
    """

    def __init__(self, events):
        ServerState.__init__(self, clock=None)
        self.events = events

    def closeIdleConnections(self):
        self.events.append("closeIdleConnections")

    def disconnectAll(self):
        self.events.append("disconnectAll")

    def finishRequest(self, record=None):
        """
        One request in flight finishes, as a connection reports it.
        """
        self.requestFinished(record)

    def closeConnection(self, connection):
        """
        A connection closes, as it reports it.
        """
        self.connectionClosed(connection)


class StubEndpoint:
    """
    An endpoint whose C{listen} succeeds with a L{StubPort} or fails.
    """

    def __init__(self, events, port, error=None, host="127.0.0.1"):
        self.events = events
        self.port = port
        self.error = error
        self.host = host
        self.factory = None

    def listen(self, factory):
        self.events.append(f"listen {self.port}")
        self.factory = factory
        if self.error is not None:
            return fail(self.error)
        return succeed(StubPort(self.events, IPv4Address("TCP", self.host, self.port)))


class ServiceTestCase(unittest.TestCase):
    """
    Builds an L{HTTPService} on stubs and a L{MemoryReactorClock}.
    """

    def setUp(self):
        self.events = []
        self.reactor = MemoryReactorClock()
        self.reactor.running = True
        self.adapter = StubAdapter(self.events)
        self.state = StubState(self.events)
        self.factory = HTTPFactory(self.adapter, self.reactor, serverState=self.state)
        # The stop sequence would install a SIGINT handler in the test
        # process; what it installs is tested on its own.
        self.interruptPatch = mock.patch.object(
            _service, "_exitOnSecondInterrupt", return_value=None
        )
        self.exitOnSecondInterrupt = self.interruptPatch.start()
        self.addCleanup(mock.patch.stopall)

    def makeService(self, endpoints, exitOnFailure=True, gracefulTimeout=30.0):
        return _service.HTTPService(
            self.adapter,
            self.factory,
            self.state,
            endpoints,
            self.reactor,
            exitOnFailure,
            gracefulTimeout,
        )

    def result(self, d):
        """
        The result a Deferred has already fired with.
        """
        results = []
        d.addBoth(results.append)
        self.assertEqual(len(results), 1, "the Deferred has not fired")
        return results[0]


class StartTests(ServiceTestCase):
    """
    L{HTTPService.startService} runs the adapter's start-up, then listens.
    """

    def test_listensOnlyAfterStartup(self):
        """No endpoint listens until the adapter's startup() Deferred fires."""
        endpoint = StubEndpoint(self.events, 8000)
        service = self.makeService([endpoint])
        service.startService()
        self.assertEqual(self.events, ["startup"])
        self.adapter.starting.callback(None)
        self.assertEqual(self.events, ["startup", "listen 8000"])
        self.assertIs(endpoint.factory, self.factory)

    def test_whenListeningFiresWithPorts(self):
        """whenListening() fires with the ports in endpoint order."""
        service = self.makeService(
            [StubEndpoint(self.events, 8001), StubEndpoint(self.events, 8002)]
        )
        d = service.whenListening()
        service.startService()
        self.assertFalse(d.called)
        self.adapter.starting.callback(None)
        ports = self.result(d)
        self.assertEqual([port.getHost().port for port in ports], [8001, 8002])
        self.assertEqual(
            [port.getHost().port for port in self.result(service.whenListening())],
            [8001, 8002],
        )

    def test_logsListeningURL(self):
        """One line says 'gracehttp listening on' every port's URL, in endpoint order."""
        service = self.makeService(
            [StubEndpoint(self.events, 8003), StubEndpoint(self.events, 8004, host="::1")]
        )
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.callback(None)
        [message] = [formatEvent(event) for event in events]
        self.assertTrue(
            message.startswith("gracehttp listening on http://127.0.0.1:8003, http://[::1]:8004; "),
            message,
        )
        self.assertEqual(events[0]["urls"], ["http://127.0.0.1:8003", "http://[::1]:8004"])

    def test_startupLine(self):
        """
        The start-up line gives gracehttp's version, the interface and how it was picked, the WSGI
        threads, the reactor and the pid.
        """
        service = _service.HTTPService(
            self.adapter,
            self.factory,
            self.state,
            [StubEndpoint(self.events, 8005)],
            self.reactor,
            interface="wsgi",
            detected=True,
            threads=7,
        )
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.callback(None)
        [event] = events
        self.assertEqual(
            formatEvent(event),
            f"gracehttp listening on http://127.0.0.1:8005; gracehttp {gracehttp.__version__}, "
            f"interface wsgi (detected) with 7 threads, reactor MemoryReactorClock, "
            f"pid {os.getpid()}",
        )
        self.assertEqual(
            (event["version"], event["interface"], event["detected"], event["threads"]),
            (gracehttp.__version__, "wsgi", True, 7),
        )

    def test_startupLineASGI(self):
        """For ASGI the line names the ASGI version given and no thread count."""
        service = _service.HTTPService(
            self.adapter,
            self.factory,
            self.state,
            [StubEndpoint(self.events, 8006)],
            self.reactor,
            interface="asgi2",
        )
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.callback(None)
        [message] = [formatEvent(event) for event in events]
        self.assertIn(
            f"; gracehttp {gracehttp.__version__}, interface asgi2 (given), reactor", message
        )
        self.assertNotIn("threads", message)

    def test_listensWithRealEndpoint(self):
        """An endpoint from a --listen string listens on the reactor."""
        endpoint = _service.parseEndpoint(self.reactor, "tcp:0:interface=127.0.0.1")
        service = self.makeService([endpoint])
        service.startService()
        self.assertEqual(self.reactor.tcpServers, [])
        self.adapter.starting.callback(None)
        [(port, factory, _backlog, interface)] = self.reactor.tcpServers
        self.assertEqual((port, interface), (0, "127.0.0.1"))
        self.assertIs(factory, self.factory)

    def test_succeedsWithoutStoppingReactor(self):
        """A successful start leaves the reactor running."""
        service = self.makeService([StubEndpoint(self.events, 8005)])
        service.startService()
        self.adapter.starting.callback(None)
        self.assertFalse(self.reactor.hasStopped)


class StartFailureTests(ServiceTestCase):
    """
    A failed start is logged in one line, stops the reactor and makes the
    process exit with status 1.
    """

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(_service, "atexit")
        self.atexit = patcher.start()
        self.addCleanup(patcher.stop)

    def test_lifespanFailure(self):
        """A failed startup never listens, logs its message and stops the reactor."""
        service = self.makeService([StubEndpoint(self.events, 8000)])
        d = service.whenListening()
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.errback(LifespanFailure("database is down"))
        self.assertEqual(self.events, ["startup"])
        messages = [formatEvent(event) for event in events]
        self.assertIn("gracehttp failed to start: database is down", messages)
        self.assertTrue(self.reactor.hasStopped)
        self.atexit.register.assert_called_once_with(_service._exitWithStatus1)
        self.assertIsInstance(self.result(d).value, LifespanFailure)

    def test_failureBeforeReactorRuns(self):
        """A failure before the reactor runs stops it once it runs."""
        self.reactor.running = False
        service = self.makeService([StubEndpoint(self.events, 8000)])
        service.startService()
        self.adapter.starting.errback(LifespanFailure("no"))
        self.assertFalse(self.reactor.hasStopped)
        self.reactor.run()
        self.assertTrue(self.reactor.hasStopped)

    def test_listenFailureStopsOtherPorts(self):
        """If one endpoint cannot listen, the others stop listening."""
        error = CannotListenError("127.0.0.1", 8001, OSError(98, "Address already in use"))
        service = _service.HTTPService(
            self.adapter,
            self.factory,
            self.state,
            [StubEndpoint(self.events, 8000), StubEndpoint(self.events, 8001, error)],
            self.reactor,
            descriptions=["tcp:8000", "tcp:8001:interface=127.0.0.1"],
        )
        d = service.whenListening()
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.callback(None)
        self.assertEqual(
            self.events, ["startup", "listen 8000", "listen 8001", "stopListening 8000"]
        )
        messages = [formatEvent(event) for event in events]
        self.assertEqual(
            messages,
            [
                "gracehttp failed to start: cannot listen on "
                "'tcp:8001:interface=127.0.0.1': Address already in use"
            ],
        )
        self.assertTrue(self.reactor.hasStopped)
        self.assertIs(self.result(d).value, error)
        self.atexit.register.assert_called_once_with(_service._exitWithStatus1)

    def test_anyListenErrorIsOneLine(self):
        """
        Whatever listen() fails with, the log gets one line naming the endpoint and the reason.
        """
        cases = [
            (OverflowError("bind(): port must be 0-65535."), "bind(): port must be 0-65535."),
            (FileNotFoundError(2, "No such file or directory"), "No such file or directory"),
            (
                CannotListenError("", 80, PermissionError(13, "Permission denied")),
                "Permission denied",
            ),
            (ZeroDivisionError(), "ZeroDivisionError"),
        ]
        for error, reason in cases:
            with self.subTest(error=error):
                self.reactor = MemoryReactorClock()
                self.reactor.running = True
                service = _service.HTTPService(
                    self.adapter,
                    self.factory,
                    self.state,
                    [StubEndpoint(self.events, 1, error)],
                    self.reactor,
                    descriptions=["unix:/nonexistent/x.sock"],
                )
                self.adapter.starting = succeed(None)
                with capturedLogs() as events:
                    service.startService()
                self.assertEqual(
                    [formatEvent(event) for event in events],
                    [
                        "gracehttp failed to start: cannot listen on "
                        f"'unix:/nonexistent/x.sock': {reason}"
                    ],
                )
                self.assertNotIn("log_failure", events[0])
                self.assertTrue(self.reactor.hasStopped)
                self.assertIs(self.result(service.whenListening()).value, error)

    def test_lifespanFailureDetails(self):
        """
        A lifespan failure with details (a traceback) is one summary line, then the traceback's own
        lines, in one event.
        """
        details = (
            "Traceback (most recent call last):\n"
            '  File "app.py", line 6, in lifespan\n'
            "    raise RuntimeError('database is down')\n"
            "RuntimeError: database is down"
        )
        service = self.makeService([StubEndpoint(self.events, 8000)])
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.errback(
                LifespanFailure("RuntimeError: database is down", details=details)
            )
        [event] = events
        self.assertEqual(
            formatEvent(event).splitlines(),
            ["gracehttp failed to start: RuntimeError: database is down", *details.splitlines()],
        )

    def test_unexpectedErrorLogsTraceback(self):
        """An unexpected start-up error is logged with its traceback."""
        service = self.makeService([StubEndpoint(self.events, 8000)])
        with capturedLogs() as events:
            service.startService()
            self.adapter.starting.errback(ZeroDivisionError("bug"))
        [event] = [e for e in events if "log_failure" in e]
        self.assertIsInstance(event["log_failure"].value, ZeroDivisionError)
        self.assertTrue(self.reactor.hasStopped)

    def test_noExitWhenDisabled(self):
        """With exitOnFailure=False only whenListening() reports the failure."""
        service = self.makeService([StubEndpoint(self.events, 8000)], exitOnFailure=False)
        d = service.whenListening()
        service.startService()
        self.adapter.starting.errback(LifespanFailure("no"))
        self.assertFalse(self.reactor.hasStopped)
        self.atexit.register.assert_not_called()
        self.assertIsInstance(self.result(d).value, LifespanFailure)
        self.assertIsInstance(self.result(service.whenListening()).value, LifespanFailure)


class StopTests(ServiceTestCase):
    """
    L{HTTPService.stopService}: stop listening, close idle connections,
    drain the requests in flight (disconnecting them after the graceful
    timeout), wait for the adapter, then shut it down.
    """

    def startedService(self, gracefulTimeout=30.0, exitOnFailure=True):
        service = self.makeService(
            [StubEndpoint(self.events, 8000), StubEndpoint(self.events, 8001)],
            exitOnFailure=exitOnFailure,
            gracefulTimeout=gracefulTimeout,
        )
        service.startService()
        self.adapter.starting.callback(None)
        del self.events[:]
        return service

    def test_stopSequence(self):
        """Ports stop, idle connections close, requests drain, then shutdown() runs."""
        service = self.startedService()
        self.state.requestsInFlight = 1
        task = Deferred()
        self.adapter.inFlight.add(task)
        stopped = []
        service.stopService().addCallback(stopped.append)
        self.assertFalse(service.running)
        self.assertEqual(
            self.events, ["stopListening 8000", "stopListening 8001", "closeIdleConnections"]
        )
        self.state.finishRequest()
        self.assertNotIn("shutdown", self.events)
        task.callback(None)
        self.assertEqual(self.events[-1], "shutdown")
        self.assertEqual(stopped, [])
        self.adapter.stopping.callback(None)
        self.assertEqual(stopped, [None])
        self.assertNotIn("disconnectAll", self.events)

    def test_nothingInFlight(self):
        """With no request in flight, shutdown() follows at once, with no timer left."""
        service = self.startedService()
        d = service.stopService()
        self.assertEqual(self.events[-1], "shutdown")
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_waitsForEveryRequest(self):
        """The drain ends only when the last of several requests finishes."""
        service = self.startedService()
        self.state.requestsInFlight = 3
        service.stopService()
        self.state.finishRequest()
        self.state.finishRequest()
        self.assertNotIn("shutdown", self.events)
        self.state.finishRequest()
        self.assertEqual(self.events[-1], "shutdown")

    def test_gracefulTimeout(self):
        """
        At the graceful timeout minus a little requests still run; at it they are disconnected.
        """
        service = self.startedService(gracefulTimeout=30.0)
        self.state.requestsInFlight = 2
        d = service.stopService()
        self.reactor.advance(29.999)
        self.assertNotIn("disconnectAll", self.events)
        self.reactor.advance(0.001)
        self.assertEqual(self.events[-1], "disconnectAll")
        self.assertNotIn("shutdown", self.events)
        # The disconnected requests end through disconnect -> grace -> cancel.
        self.state.finishRequest()
        self.state.finishRequest()
        self.assertEqual(self.events[-1], "shutdown")
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))
        self.assertEqual(self.events.count("disconnectAll"), 1)

    def test_waitsForConnectionsToClose(self):
        """
        After the last request the stop waits for its connection to close (its response written
        out).
        """
        service = self.startedService()
        self.state.connections.update(["busy", "closing"])
        self.state.requestsInFlight = 1
        service.stopService()
        self.state.finishRequest()
        self.state.closeConnection("closing")
        self.assertNotIn("shutdown", self.events)
        self.state.closeConnection("busy")
        self.assertEqual(self.events[-1], "shutdown")
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertIs(type(self.state.connections), set)

    def test_connectionsOutlivingTimeout(self):
        """Connections still open at the graceful timeout (slow readers) are disconnected."""
        service = self.startedService(gracefulTimeout=10.0)
        self.state.connections.add("slow reader")
        service.stopService()
        self.reactor.advance(10)
        self.assertEqual(self.events[-1], "disconnectAll")
        self.state.closeConnection("slow reader")
        self.assertEqual(self.events[-1], "shutdown")

    def test_drainCancelsTimeout(self):
        """Requests finishing in time cancel the graceful timeout: nothing is disconnected."""
        service = self.startedService(gracefulTimeout=30.0)
        self.state.requestsInFlight = 1
        service.stopService()
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.reactor.advance(10)
        self.state.finishRequest()
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.reactor.advance(60)
        self.assertNotIn("disconnectAll", self.events)

    def test_zeroGracefulTimeout(self):
        """A graceful timeout of 0 disconnects the requests in flight at once."""
        service = self.startedService(gracefulTimeout=0.0)
        self.state.requestsInFlight = 1
        service.stopService()
        self.reactor.advance(0)
        self.assertEqual(self.events[-1], "disconnectAll")

    def test_requestsLoggedDuringDrain(self):
        """During the drain the access log still sees every request that finishes."""
        logged = []
        self.state.requestLog = logged.append
        service = self.startedService()
        self.state.requestsInFlight = 2
        service.stopService()
        self.state.finishRequest("first")
        self.state.finishRequest("second")
        self.assertEqual(logged, ["first", "second"])

    def test_logsDrainAndTimeout(self):
        """The drain and the timeout are logged with the request count and the timeout."""
        service = self.startedService(gracefulTimeout=5.0)
        self.state.requestsInFlight = 2
        with capturedLogs() as events:
            service.stopService()
            self.reactor.advance(5)
        messages = [formatEvent(event) for event in events]
        self.assertIn(
            "gracehttp stopping: waiting up to 5.0 s for 2 request(s) in flight", messages
        )
        self.assertIn(
            "gracehttp stopping: 2 request(s) still running on 0 connection(s) after the "
            "graceful timeout of 5.0 s; disconnecting them",
            messages,
        )

    def test_failedRequestDoesNotBlockStop(self):
        """A request that failed still lets the stop go on."""
        service = self.startedService()
        task = Deferred()
        self.adapter.inFlight.add(task)
        d = service.stopService()
        task.errback(RuntimeError("app error"))
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))

    def test_stopDuringStartup(self):
        """A stop during start-up waits for it, then stops what it started."""
        service = self.makeService([StubEndpoint(self.events, 8000)])
        service.startService()
        d = service.stopService()
        self.assertEqual(self.events, ["startup"])
        self.adapter.starting.callback(None)
        self.assertEqual(
            self.events,
            ["startup", "listen 8000", "stopListening 8000", "closeIdleConnections", "shutdown"],
        )
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))

    def test_stopAfterFailedStartup(self):
        """After a failed startup(), stopping does not call shutdown()."""
        service = self.makeService([StubEndpoint(self.events, 8000)], exitOnFailure=False)
        service.startService()
        self.adapter.starting.errback(LifespanFailure("no"))
        self.assertIsNone(self.result(service.stopService()))
        self.assertNotIn("shutdown", self.events)

    def test_stopAfterListenFailureShutsDown(self):
        """After startup() succeeded but listening failed, shutdown() still runs."""
        error = CannotListenError("127.0.0.1", 8000, OSError(98, "in use"))
        service = self.makeService([StubEndpoint(self.events, 8000, error)], exitOnFailure=False)
        service.startService()
        self.adapter.starting.callback(None)
        d = service.stopService()
        self.assertEqual(self.events[-1], "shutdown")
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))


class ProcessExitTests(ServiceTestCase):
    """
    A service that owns its process exits with status 0 after an orderly
    stop, and makes a second SIGINT exit at once.
    """

    def stop(self, exitOnFailure):
        service = self.makeService([StubEndpoint(self.events, 8000)], exitOnFailure)
        service.startService()
        self.adapter.starting.callback(None)
        self.reactor._exitSignal = signal.SIGTERM
        d = service.stopService()
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))

    def test_orderlyStopExitsZero(self):
        """The signal Twisted would re-raise after the stop is cleared."""
        self.stop(exitOnFailure=True)
        self.assertIsNone(self.reactor._exitSignal)

    def test_inProcessLeavesSignal(self):
        """A service that does not own the process leaves the exit signal alone."""
        self.stop(exitOnFailure=False)
        self.assertEqual(self.reactor._exitSignal, signal.SIGTERM)
        self.exitOnSecondInterrupt.assert_not_called()

    def test_secondInterruptHandlerDuringStop(self):
        """While the stop runs SIGINT exits at once; afterwards the previous handler is back."""
        self.interruptPatch.stop()
        previous = signal.getsignal(signal.SIGINT)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        service = self.makeService([StubEndpoint(self.events, 8000)])
        service.startService()
        self.adapter.starting.callback(None)
        d = service.stopService()
        self.assertIs(signal.getsignal(signal.SIGINT), _service._exitNow)
        self.adapter.stopping.callback(None)
        self.assertIsNone(self.result(d))
        self.assertIs(signal.getsignal(signal.SIGINT), previous)

    def test_noHandlerOutsideMainThread(self):
        """Off the main thread (in-process use) no handler is installed."""
        self.interruptPatch.stop()
        results = []
        thread = threading.Thread(target=lambda: results.append(_service._exitOnSecondInterrupt()))
        thread.start()
        thread.join(10)
        self.assertEqual(results, [None])


class URLTests(unittest.TestCase):
    """
    The URL logged for each listening port.
    """

    def test_tcp(self):
        """A TCP port is http://HOST:PORT."""
        endpoint = TCP4ServerEndpoint(MemoryReactorClock(), 8000)
        self.assertEqual(
            _service._url(endpoint, IPv4Address("TCP", "127.0.0.1", 8000)),
            "http://127.0.0.1:8000",
        )

    def test_ipv6(self):
        """An IPv6 host is bracketed (RFC 3986 section 3.2.2)."""
        endpoint = TCP4ServerEndpoint(MemoryReactorClock(), 8000)
        self.assertEqual(
            _service._url(endpoint, IPv6Address("TCP", "::1", 8000)), "http://[::1]:8000"
        )

    def test_ssl(self):
        """A TLS port is https://."""
        endpoint = SSL4ServerEndpoint(MemoryReactorClock(), 8443, None)
        self.assertEqual(
            _service._url(endpoint, IPv4Address("TCP", "0.0.0.0", 8443)),
            "https://0.0.0.0:8443",
        )

    def test_unix(self):
        """A UNIX socket is unix:PATH."""
        self.assertEqual(_service._url(None, UNIXAddress(b"/run/app.sock")), "unix:/run/app.sock")


def _wsgiApp(environ, start_response):
    start_response("200 OK", [])
    return [b""]


class MakeServiceTests(unittest.TestCase):
    """
    L{gracehttp.makeService} checks its arguments before building anything.
    """

    def assertOneLineValueError(self, fragment, **kwargs):
        with self.assertRaises(ValueError) as caught:
            gracehttp.makeService(_wsgiApp, reactor=MemoryReactorClock(), **kwargs)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        self.assertIn(fragment, message)

    def test_badEndpoint(self):
        """An unparsable endpoint is a one-line ValueError naming it."""
        self.assertOneLineValueError("cannot listen on 'bogus:xx'", listen=["bogus:xx"])

    def test_badEndpointArguments(self):
        """An endpoint with bad arguments is a one-line ValueError."""
        self.assertOneLineValueError("'tcp:port=abc'", listen=["tcp:port=abc"])

    def test_noEndpoints(self):
        """An empty listen list is refused."""
        self.assertOneLineValueError("at least one endpoint", listen=[])

    def test_badSettings(self):
        """Out-of-range settings are one-line ValueErrors."""
        cases = [
            ({"interface": "cgi"}, "interface"),
            ({"lifespan": "maybe"}, "lifespan"),
            ({"threads": 0}, "threads"),
            ({"threads": 2.5}, "threads"),
            ({"disconnectGracePeriod": float("nan")}, "grace period"),
            ({"disconnectGracePeriod": "3"}, "grace period"),
            ({"lifespanTimeout": 0}, "lifespan timeout"),
            ({"lifespanTimeout": float("inf")}, "lifespan timeout"),
            ({"rootPath": "api"}, "root path must be empty or start with '/'"),
        ]
        for kwargs, fragment in cases:
            with self.subTest(**kwargs):
                self.assertOneLineValueError(fragment, **kwargs)

    def test_badWSGIChunkedBody(self):
        """
        wsgiChunkedBody other than spool or stream is a one-line ValueError; both are accepted.
        """
        self.assertOneLineValueError(
            "wsgi chunked body must be one of spool, stream, not 'buffer'",
            wsgiChunkedBody="buffer",
        )
        for mode in ["spool", "stream"]:
            service = gracehttp.makeService(
                _wsgiApp, reactor=MemoryReactorClock(), wsgiChunkedBody=mode
            )
            self.assertEqual(service.adapter._spoolChunked, mode == "spool")

    def test_notCallable(self):
        """An application object that is not callable is refused."""
        with self.assertRaises(ValueError):
            gracehttp.makeService(42, reactor=MemoryReactorClock())

    def test_badReference(self):
        """An application reference that cannot load raises AppLoadError."""
        with self.assertRaises(AppLoadError):
            gracehttp.makeService("nosuchmodule_gracehttp:app", reactor=MemoryReactorClock())

    @unittest.skipUnless(
        importlib.util.find_spec("gracehttp._apps.wsgi.adapter"),
        "gracehttp._apps.wsgi.adapter not written yet",
    )
    def test_wsgiService(self):
        """A WSGI application gets a WSGI adapter with its own thread pool."""
        from gracehttp._apps.wsgi.adapter import WSGIAdapter

        service = gracehttp.makeService(_wsgiApp, reactor=MemoryReactorClock(), threads=3)
        self.assertIsInstance(service.adapter, WSGIAdapter)
        self.assertTrue(IAppAdapter.providedBy(service.adapter))


# -- End-to-end smoke tests ---------------------------------------------------
#
# A real server on 127.0.0.1, started with both helpers of tests/server.py:
# in process (makeService on the global asyncio reactor) and as the
# `twist gracehttp` command in a child process.  The WSGI ones need
# gracehttp._apps.wsgi.adapter and are skipped until it exists.

_HAVE_WSGI = importlib.util.find_spec("gracehttp._apps.wsgi.adapter") is not None
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tinyWSGIApp(environ, start_response):
    """
    A WSGI application that names itself and echoes the path.
    """
    body = f"wsgi {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def tinyASGIApp(scope, receive, send):
    """
    An ASGI application that names itself and echoes the path.
    """
    if scope["type"] != "http":
        return
    body = f"asgi {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _get(port, path):
    import requests

    return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)


class EndToEndSmokeTests(unittest.TestCase):
    """
    A tiny WSGI and a tiny ASGI app answer real HTTP, served in process and
    by `twist gracehttp`.
    """

    def test_inProcessASGI(self):
        """makeService on the test reactor serves an ASGI app."""
        from .server import startInProcess

        host, port, stop = startInProcess(tinyASGIApp)
        try:
            response = _get(port, "/hello")
        finally:
            stop()
        self.assertEqual(host, "127.0.0.1")
        self.assertEqual((response.status_code, response.text), (200, "asgi /hello"))

    @unittest.skipUnless(_HAVE_WSGI, "gracehttp._apps.wsgi.adapter not written yet")
    def test_inProcessWSGI(self):
        """makeService on the test reactor serves a WSGI app."""
        from .server import startInProcess

        _host, port, stop = startInProcess(tinyWSGIApp, threads=2)
        try:
            response = _get(port, "/hello")
        finally:
            stop()
        self.assertEqual((response.status_code, response.text), (200, "wsgi /hello"))

    def test_inProcessStartFailure(self):
        """A failed start raises from startInProcess, without stopping the test reactor."""
        from .server import startInProcess

        async def failing(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "nope"})

        with self.assertRaises(LifespanFailure):
            startInProcess(failing)
        _host, port, stop = startInProcess(tinyASGIApp)
        try:
            self.assertEqual(_get(port, "/again").text, "asgi /again")
        finally:
            stop()

    def test_subprocessASGI(self):
        """twist gracehttp serves an ASGI app and stops on SIGTERM."""
        from .server import startSubprocess

        server = startSubprocess("tests.test_service:tinyASGIApp", cwd=_REPO)
        try:
            response = _get(server.port, "/hello")
        finally:
            server.stop()
        self.assertEqual((response.status_code, response.text), (200, "asgi /hello"))
        self.assertIn("gracehttp listening on", server.output())

    @unittest.skipUnless(_HAVE_WSGI, "gracehttp._apps.wsgi.adapter not written yet")
    def test_subprocessWSGI(self):
        """twist gracehttp serves a WSGI app and stops on SIGTERM."""
        from .server import startSubprocess

        server = startSubprocess("tests.test_service:tinyWSGIApp", "--threads", "2", cwd=_REPO)
        try:
            response = _get(server.port, "/hello")
        finally:
            server.stop()
        self.assertEqual((response.status_code, response.text), (200, "wsgi /hello"))


class PlainCallASGI3:
    """
    ASGI 3 middleware written as a plain C{def __call__} that returns the
    wrapped application's coroutine (as much middleware is).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, scope, receive, send):
        return self.app(scope, receive, send)


plainCallASGI3App = PlainCallASGI3(tinyASGIApp)


class _ASGI2Instance:
    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await tinyASGIApp(self.scope, receive, send)


def hiddenASGI2App(*args):
    """
    An ASGI 2 application whose signature hides its one argument, so only
    C{interface="asgi2"} can tell.
    """
    return _ASGI2Instance(*args)


class InterfaceEndToEndTests(unittest.TestCase):
    """
    The interface detected, or given, serves real requests.
    """

    def test_plainCallASGI3InProcess(self):
        """A plain-__call__ ASGI 3 app is served 200 with interface auto, asgi and asgi3."""
        from .server import startInProcess

        for interface in ["auto", "asgi", "asgi3"]:
            with self.subTest(interface=interface):
                _host, port, stop = startInProcess(plainCallASGI3App, interface=interface)
                try:
                    response = _get(port, "/plain")
                finally:
                    stop()
                self.assertEqual((response.status_code, response.text), (200, "asgi /plain"))

    def test_forcedASGI2(self):
        """interface asgi2 serves an ASGI 2 app that detection cannot recognise."""
        from .server import startInProcess

        _host, port, stop = startInProcess(hiddenASGI2App, interface="asgi2")
        try:
            response = _get(port, "/two")
        finally:
            stop()
        self.assertEqual((response.status_code, response.text), (200, "asgi /two"))

    def test_plainCallASGI3Subprocess(self):
        """
        twist gracehttp serves a plain-__call__ ASGI 3 app 200 with --interface auto and asgi3, and
        its start-up line says so.
        """
        from .server import startSubprocess

        for interface, how in [("auto", "detected"), ("asgi3", "given")]:
            with self.subTest(interface=interface):
                server = startSubprocess(
                    "tests.test_service:plainCallASGI3App",
                    "--interface",
                    interface,
                    "--loop",
                    "asyncio",
                    cwd=_REPO,
                )
                try:
                    response = _get(server.port, "/plain")
                finally:
                    server.stop()
                self.assertEqual((response.status_code, response.text), (200, "asgi /plain"))
                self.assertIn(
                    f"gracehttp listening on http://127.0.0.1:{server.port}; "
                    f"gracehttp {gracehttp.__version__}, interface asgi3 ({how}), "
                    f"reactor AsyncioSelectorReactor, pid {server.process.pid}\n",
                    server.output(),
                )
