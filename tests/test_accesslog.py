"""
Tests for L{gracehttp._core.accesslog}: the access log events, their default
and custom formats, each outcome, JSON logging and the file observer.
"""

import datetime
import io
import json
import os
import socket
import tempfile
import threading
import time
import unittest
from unittest import mock

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import (
    LogLevel,
    eventAsJSON,
    eventFromJSON,
    formatEvent,
    jsonFileLogObserver,
)

from gracehttp._core import accesslog as _accesslog
from gracehttp._core.accesslog import AccessLog, checkFormat
from gracehttp._core.exchange import SHUTDOWN
from gracehttp._core.logwriter import accessLogFile

from .fakes import makeExchange
from .server import (
    Subprocess,
    childEnvironment,
    runTwist,
    serveInProcess,
    startSubprocess,
    twistCommand,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

START = 1700000000.25
"""
A fixed request start time (POSIX seconds).
"""


def apacheTime(seconds):
    """
    Apache's C{%t} for C{seconds}, computed independently of the module.
    """
    return datetime.datetime.fromtimestamp(seconds).astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")


class AccessLogTestCase(unittest.TestCase):
    """
    Runs requests on L{makeExchange} with a L{Clock} and collects the
    access log events.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(START)
        self.events = []

    def exchange(self, **kwargs):
        kwargs.setdefault("method", "GET")
        kwargs.setdefault("path", b"/items/1")
        kwargs.setdefault("query", b"full=yes")
        kwargs.setdefault(
            "headers", [(b"referer", b"http://example.com/"), (b"user-agent", b"curl/8.0")]
        )
        exchange, _channel = makeExchange(self.clock, grace=3.0, body=b"", **kwargs)
        return exchange

    def respond(self, exchange, status=200, body=b"hello"):
        exchange.appStarted(lambda: None)
        exchange.startResponse(status, [(b"content-length", b"%d" % len(body))])
        exchange.write(body)
        exchange.finish()

    def log(self, exchange, logFormat=_accesslog.DEFAULT_FORMAT):
        AccessLog(self.clock, logFormat, self.events.append)(exchange)
        [event] = self.events[-1:]
        return event


class DefaultFormatTests(AccessLogTestCase):
    """
    The default line is Apache combined plus the duration in milliseconds
    and the outcome.
    """

    def test_completed(self):
        """A completed request: combined fields, duration in ms, 'completed'."""
        exchange = self.exchange()
        self.clock.advance(0.25)
        self.respond(exchange)
        self.clock.advance(6)
        exchange.appFinished()
        event = self.log(exchange)
        self.assertEqual(
            formatEvent(event),
            f'127.0.0.1 - - [{apacheTime(START)}] "GET /items/1?full=yes HTTP/1.1" 200 5 '
            f'"http://example.com/" "curl/8.0" 250.0 completed',
        )

    def test_completedThenDisconnected(self):
        """
        A response delivered in full is 'completed' even if the client
        leaves while the application is still busy (a slow WSGI close(), an
        ASGI background task), and even if the grace period then cancels
        it; the duration ends with the response.
        """
        for graceRunsOut in (False, True):
            exchange = self.exchange()
            self.clock.advance(0.007)
            self.respond(exchange)
            self.clock.advance(0.2)
            exchange.disconnect()
            self.clock.advance(3 if graceRunsOut else 1)
            exchange.appFinished()
            line = formatEvent(self.log(exchange))
            self.assertTrue(
                line.endswith(' 200 5 "http://example.com/" "curl/8.0" 7.0 completed'), line
            )

    def test_shutdown(self):
        """
        A request disconnected by a graceful stop is 'shutdown', cancelled
        after the grace period or not.
        """
        for graceRunsOut in (False, True):
            exchange = self.exchange()
            cancelled = []
            exchange.appStarted(lambda cancelled=cancelled: cancelled.append(True))
            self.clock.advance(30)
            exchange.disconnect(SHUTDOWN)
            self.clock.advance(3 if graceRunsOut else 1)
            self.assertEqual(cancelled, [True] if graceRunsOut else [])
            exchange.appFinished()
            line = formatEvent(self.log(exchange))
            self.assertTrue(line.endswith(" 30000.0 shutdown"), line)

    def test_aborted(self):
        """A response the application failed to complete is 'aborted'."""
        exchange = self.exchange()
        exchange.appStarted(lambda: None)
        exchange.startResponse(200, [])
        exchange.write(b"part")
        self.clock.advance(0.5)
        exchange.abort()
        exchange.appFinished()
        line = formatEvent(self.log(exchange))
        self.assertTrue(
            line.endswith(' 200 4 "http://example.com/" "curl/8.0" 500.0 aborted'), line
        )

    def test_clientDisconnected(self):
        """A client that left before the application finished: 'client-disconnected'."""
        exchange = self.exchange(headers=[])
        exchange.appStarted(lambda: None)
        self.clock.advance(1)
        exchange.disconnect()
        self.clock.advance(2)
        exchange.appFinished()
        self.assertEqual(
            formatEvent(self.log(exchange)),
            f'127.0.0.1 - - [{apacheTime(START)}] "GET /items/1?full=yes HTTP/1.1" - - '
            f'"-" "-" 1000.0 client-disconnected',
        )

    def test_cancelled(self):
        """An application cancelled after the grace period: 'cancelled'."""
        exchange = self.exchange(method="POST", query=b"")
        cancelled = []
        exchange.appStarted(lambda: cancelled.append(True))
        self.clock.advance(0.5)
        exchange.disconnect()
        self.clock.advance(3)
        self.assertEqual(cancelled, [True])
        exchange.appFinished()
        line = formatEvent(self.log(exchange))
        self.assertTrue(line.endswith(" 500.0 cancelled"), line)
        self.assertIn('"POST /items/1 HTTP/1.1" - -', line)

    def test_unixSocketClient(self):
        """A client without an address (a UNIX socket) is '-'."""
        exchange = self.exchange()
        exchange.client = None
        self.respond(exchange, status=204, body=b"")
        exchange.appFinished()
        self.assertTrue(formatEvent(self.log(exchange)).startswith("- - - ["))

    def test_emptyBodyIsDash(self):
        """No body bytes is '-' (Apache %b); the status is still there."""
        exchange = self.exchange()
        self.respond(exchange, status=304, body=b"")
        exchange.appFinished()
        self.assertIn('" 304 - "', formatEvent(self.log(exchange)))

    def test_namespaceAndLevel(self):
        """Events are info events of the gracehttp.access namespace."""
        exchange = self.exchange()
        self.respond(exchange)
        exchange.appFinished()
        event = self.log(exchange)
        self.assertEqual(event["log_namespace"], "gracehttp.access")
        self.assertEqual(event["log_level"], LogLevel.info)


class FieldTests(AccessLogTestCase):
    """
    Custom formats over the named fields.
    """

    def test_customFormat(self):
        """Named fields with format specs are rendered."""
        exchange = self.exchange()
        self.clock.advance(0.0125)
        self.respond(exchange, body=b"abc")
        exchange.appFinished()
        event = self.log(
            exchange,
            "{method}|{path}|{httpVersion}|{status}|{bytes}|{duration:.4f}|"
            "{durationMs:.1f}|{outcome}|{userAgent}",
        )
        self.assertEqual(
            formatEvent(event),
            "GET|/items/1?full=yes|1.1|200|3|0.0125|12.5|completed|curl/8.0",
        )

    def test_fieldsAreValues(self):
        """The event carries the numbers themselves, for JSON consumers."""
        exchange = self.exchange()
        self.clock.advance(2)
        self.respond(exchange, body=b"abc")
        exchange.appFinished()
        event = self.log(exchange)
        self.assertEqual(
            (event["status"], event["bytes"], event["duration"], event["outcome"]),
            (200, 3, 2.0, "completed"),
        )

    def test_timeComputedOncePerSecond(self):
        """
        The Apache timestamp is a string, computed once for all the requests that start within one
        second.
        """
        calls = []
        real = _accesslog._commonLogTime
        accessLog = AccessLog(self.clock, "{time}", self.events.append)
        with mock.patch.object(_accesslog, "_commonLogTime", lambda t: calls.append(t) or real(t)):
            for advance in (0, 0.5, 0.2, 0.1):
                self.clock.advance(advance)
                exchange = self.exchange()
                self.respond(exchange)
                exchange.appFinished()
                accessLog(exchange)
        self.assertEqual(calls, [int(START), int(START) + 1])
        self.assertEqual(
            [event["time"] for event in self.events],
            [apacheTime(START)] * 3 + [apacheTime(START + 1)],
        )
        self.assertTrue(all(type(event["time"]) is str for event in self.events))

    def test_json(self):
        """An event survives Twisted's JSON format (twist --log-format json) with its text."""
        exchange = self.exchange()
        self.respond(exchange)
        self.clock.advance(0.5)
        exchange.appFinished()
        event = self.log(exchange)
        text = formatEvent(event)
        restored = eventFromJSON(eventAsJSON(event))
        self.assertEqual(formatEvent(restored), text)
        self.assertEqual(restored["status"], 200)
        self.assertEqual(restored["outcome"], "completed")
        self.assertEqual(restored["time"], apacheTime(START))

    def test_jsonFileObserver(self):
        """
        Through jsonFileLogObserver (what twist writes when stdout is no terminal) every field is a
        plain JSON value, time included.
        """
        exchange = self.exchange()
        self.respond(exchange)
        exchange.appFinished()
        out = io.StringIO()
        AccessLog(self.clock, observer=jsonFileLogObserver(out))(exchange)
        record = out.getvalue()
        self.assertTrue(record.startswith("\x1e") and record.endswith("\n"), record)
        data = json.loads(record[1:])
        self.assertEqual(data["time"], apacheTime(START))
        self.assertNotIn("unpersistable", json.dumps({k: data[k] for k in _accesslog.FIELDS}))


class CheckFormatTests(unittest.TestCase):
    """
    L{checkFormat} refuses formats that could not render.
    """

    def test_default(self):
        """The default format is valid."""
        checkFormat(_accesslog.DEFAULT_FORMAT)

    def test_bad(self):
        """Unknown fields, bad syntax and specs that do not fit are one-line ValueErrors."""
        for logFormat, fragment in [
            ("{nosuch}", "unknown access log field {nosuch}"),
            ("{client", "bad access log format"),
            ("{client:d}", "bad access log format"),
            ("{status[0]}", "bad access log format"),
            (42, "must be a string"),
        ]:
            with self.subTest(logFormat=logFormat):
                with self.assertRaises(ValueError) as caught:
                    checkFormat(logFormat)
                self.assertIn(fragment, str(caught.exception))
                self.assertNotIn("\n", str(caught.exception))


class FileObserverTests(AccessLogTestCase):
    """
    C{--access-log PATH}: one line of text per request, appended.
    """

    def test_appendsLines(self):
        """Each event is one formatted line; an existing file is appended to."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            with open(path, "w") as f:
                f.write("old\n")
            reactor = MemoryReactorClock()
            observer = accessLogFile(path, reactor)
            accessLog = AccessLog(self.clock, "{method} {status} {outcome}", observer)
            for status in (200, 404):
                exchange = self.exchange()
                self.respond(exchange, status=status)
                exchange.appFinished()
                accessLog(exchange)
            observer._writer._file.close()
            with open(path) as f:
                self.assertEqual(f.read(), "old\nGET 200 completed\nGET 404 completed\n")


def _wsgiApp(environ, start_response):
    """
    The application the end-to-end tests serve.
    """
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def _get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            b"GET %s HTTP/1.1\r\nHost: t\r\nUser-Agent: e2e\r\nConnection: close\r\n\r\n"
            % path.encode()
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


class EndToEndTests(unittest.TestCase):
    """
    The access log and the log level under a real C{twist gracehttp}.
    """

    def test_file(self):
        """--access-log PATH: the line is in the file, not in the process's log."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            server = startSubprocess(
                "tests.test_accesslog:_wsgiApp", "--access-log", path, cwd=REPO
            )
            try:
                self.assertTrue(_get(server.port, "/file?x=1").endswith(b"ok"))
            finally:
                self.assertEqual(server.stop(), 0, server.output())
            with open(path) as f:
                [line] = f.read().splitlines()
        self.assertRegex(
            line,
            r'^127\.0\.0\.1 - - \[.+\] "GET /file\?x=1 HTTP/1\.1" 200 2 "-" "e2e" '
            r"[\d.]+ completed$",
        )
        self.assertNotIn("GET /file", server.output())

    def test_json(self):
        """twist --log-format json: the access event is a JSON object with its fields."""
        child = Subprocess(
            [
                *twistCommand(),
                "--log-format=json",
                "gracehttp",
                "--app",
                "tests.test_accesslog:_wsgiApp",
                "--listen",
                "tcp:0:interface=127.0.0.1",
            ],
            cwd=REPO,
            env=childEnvironment(),
        )
        try:
            port = int(child.waitFor(r'"listening": "http://127\.0\.0\.1:(\d+)"').group(1))
            _get(port, "/json")
            line = child.waitFor(r"gracehttp\.access").string
        finally:
            child.stop()
        event = eventFromJSON(line.strip().strip("\x1e"))
        self.assertEqual(
            (event["method"], event["status"], event["outcome"], event["userAgent"]),
            ("GET", 200, "completed", "e2e"),
        )
        self.assertRegex(event["time"], r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")
        self.assertIn('"GET /json HTTP/1.1" 200 2', formatEvent(event))

    def test_logLevel(self):
        """--log-level error: errors are logged, info events (twist's own too) are not."""
        child = runTwist(
            "gracehttp",
            "--app",
            "tests.test_tap:failingStartupApp",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--log-level",
            "error",
            cwd=REPO,
        )
        try:
            self.assertEqual(child.wait(60), 1)
        finally:
            child.stop()
        output = child.output()
        self.assertIn("gracehttp failed to start: database is down", output)
        self.assertNotIn("Starting reactor", output)
        self.assertNotIn("#info]", output)


class _SlowClose:
    """
    A WSGI response iterable whose C{close()} waits until the test says the
    client has hung up (after reading the whole response): a slow
    C{close()}, as Django's first request has.
    """

    def __init__(self, proceed):
        self._proceed = proceed

    def __iter__(self):
        return iter([b"he", b"llo"])

    def close(self):
        self._proceed.wait(10)


class OutcomeEndToEndTests(unittest.TestCase):
    """
    Outcomes with a real server and client (in process, on 127.0.0.1).
    """

    def test_slowCloseAfterDeliveryIsCompleted(self):
        """
        A WSGI response delivered in full is logged 'completed' even though
        the client hung up, and the server saw it, while the iterable's
        close() still ran (before: 'client-disconnected'), for each of
        several requests.
        """
        proceed = threading.Event()

        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "5")])
            return _SlowClose(proceed)

        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            server = serveInProcess(
                app, accessLog=path, accessLogFormat="{status} {outcome}", lifespan="off"
            )
            state = server.service._state
            try:
                for _ in range(4):
                    proceed.clear()
                    with socket.create_connection((server.host, server.port), timeout=10) as s:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                        received = b""
                        while not received.endswith(b"hello"):
                            received += s.recv(65536)
                    deadline = time.monotonic() + 10
                    while (
                        server.call(lambda: len(state.connections)) and time.monotonic() < deadline
                    ):
                        pass
                    proceed.set()
            finally:
                proceed.set()
                server.stop()
            with open(path) as f:
                lines = f.read().splitlines()
        self.assertEqual(lines, ["200 completed"] * 4)


class SessionTests(AccessLogTestCase):
    """
    A WebSocket session is logged as the request that opened it, with its
    messages, bytes and close code.
    """

    def session(self):
        from gracehttp._core.session import Session

        from .test_session import RecordingSessionChannel

        session = Session(RecordingSessionChannel(), self.clock, 3.0)
        session.rawPath = b"/ws"
        session.queryString = b"room=1"
        session.headers = [(b"user-agent", b"websockets/17")]
        session.client = ("127.0.0.1", 50000)
        session.appStarted(lambda: None)
        return session

    def test_defaultFormat(self):
        """
        With the default format a session's line is the request's (status
        101, size the bytes sent, duration to the close) followed by the
        messages and bytes each way and the close code.
        """
        session = self.session()
        session.accept()
        session.receiveMessage("h\u00e9")
        session.nextMessage()
        session.send(b"1234")
        session.send("ok")
        self.clock.advance(1.5)
        session.disconnect("completed", 1001, "going away")
        self.clock.advance(1)
        session.appFinished()
        event = self.log(session)
        self.assertEqual(
            formatEvent(event),
            f'127.0.0.1 - - [{apacheTime(START)}] "GET /ws?room=1 HTTP/1.1" 101 6 "-" '
            '"websockets/17" 1500.0 completed ws in=1/3 out=2/6 close=1001',
        )
        self.assertEqual(
            (event["messagesIn"], event["bytesIn"], event["messagesOut"], event["bytesOut"]),
            (1, 3, 2, 6),
        )
        self.assertEqual(event["closeCode"], 1001)

    def test_denied(self):
        """A denied handshake has the denial's status and no close code."""
        session = self.session()
        session.deny(401, (), b"no")
        session.appFinished()
        line = formatEvent(self.log(session))
        self.assertIn('"GET /ws?room=1 HTTP/1.1" 401 2 ', line)
        self.assertTrue(line.endswith(" completed ws in=0/0 out=0/2 close=-"), line)

    def test_customFormat(self):
        """
        A format of the user's is used for sessions and requests alike; the
        WebSocket fields are '-' for an HTTP request.
        """
        logFormat = "{status} {messagesIn} {bytesOut} {closeCode} {outcome}"
        session = self.session()
        session.accept()
        session.close(4000, "x")
        session.appFinished()
        self.assertEqual(formatEvent(self.log(session, logFormat)), "101 0 0 4000 completed")
        exchange = self.exchange()
        self.respond(exchange)
        exchange.appFinished()
        self.assertEqual(formatEvent(self.log(exchange, logFormat)), "200 - - - completed")

    def test_checkFormat(self):
        """The WebSocket fields are known to checkFormat."""
        checkFormat("{messagesIn} {bytesIn} {messagesOut} {bytesOut} {closeCode:>5}")
