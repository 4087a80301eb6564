"""
Tests for L{gracehttp._core.logwriter}: log lines written once per reactor
turn, none lost at shutdown or on a crash, and the process's log (text and
JSON) under C{twist gracehttp}.
"""

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    LogPublisher,
    eventAsJSON,
    eventFromJSON,
    formatEvent,
)

from gracehttp._core import logwriter
from gracehttp._core.accesslog import (
    DEFAULT_FORMAT,
    DROP,
    AccessEvent,
    AccessLog,
    requestJSON,
    requestLine,
)
from gracehttp._core.logwriter import BatchedWriter, ProcessLog

from .fakes import makeExchange
from .server import childEnvironment, startSubprocess, twistCommand

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RecordingFile(io.StringIO):
    """
    A text file that remembers each C{write()} call.
    """

    def __init__(self):
        super().__init__()
        self.writes = []

    def write(self, text):
        self.writes.append(text)
        return super().write(text)


def runningReactor():
    """
    @return: a L{MemoryReactorClock} that says it is running.
    """
    reactor = MemoryReactorClock()
    reactor.running = True
    return reactor


class BatchedWriterTests(unittest.TestCase):
    """
    L{BatchedWriter} writes a reactor turn's lines with one C{write()}.
    """

    def setUp(self):
        self.reactor = runningReactor()
        self.file = RecordingFile()
        self.atExit = []
        self.writer = BatchedWriter(self.file, self.reactor, self.atExit.append)

    def test_batchedPerTurn(self):
        """The lines of one turn are written together, with one write(), when the turn is over."""
        for line in ("a\n", "b\n", "c\n"):
            self.writer.write(line)
        self.assertEqual(self.file.writes, [])
        self.reactor.advance(0)
        self.assertEqual(self.file.writes, ["a\nb\nc\n"])
        self.writer.write("d\n")
        self.reactor.advance(0)
        self.assertEqual(self.file.writes, ["a\nb\nc\n", "d\n"])

    def test_notRunning(self):
        """Before the reactor runs (and after it stopped) each line is written at once."""
        self.reactor.running = False
        self.writer.write("a\n")
        self.assertEqual(self.file.writes, ["a\n"])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_flushedAtShutdown(self):
        """The reactor's shutdown trigger writes the lines of the last turn."""
        self.writer.write("a\n")
        self.writer.write("b\n")
        for callable, args, kwargs in self.reactor.triggers["after"]["shutdown"]:
            callable(*args, **kwargs)
        self.assertEqual(self.file.getvalue(), "a\nb\n")
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_flushedAtExit(self):
        """An atexit handler writes the lines of the last turn (the reactor never stopped)."""
        self.writer.write("a\n")
        [flush] = self.atExit
        flush()
        self.assertEqual(self.file.getvalue(), "a\n")

    def test_bytesFile(self):
        """A binary file gets UTF-8."""
        raw = io.BytesIO()
        writer = BatchedWriter(raw, self.reactor, self.atExit.append)
        writer.write("é\n")
        writer.flush()
        self.assertEqual(raw.getvalue(), "é\n".encode())

    def test_writeFails(self):
        """A failed write drops the batch with a line on stderr; later lines are written."""
        self.file.close()
        self.writer.write("a\n")
        stderr = io.StringIO()
        with mock.patch.object(sys, "stderr", stderr):
            self.writer.flush()
        self.assertIn("gracehttp: cannot write the log", stderr.getvalue())
        self.file = RecordingFile()
        self.writer._file = self.file
        self.writer.write("b\n")
        self.writer.flush()
        self.assertEqual(self.file.getvalue(), "b\n")


CRASHING = textwrap.dedent(
    """
    import sys
    from twisted.internet import asyncioreactor
    asyncioreactor.install()
    from twisted.internet import reactor
    from gracehttp._core.logwriter import BatchedWriter

    writer = BatchedWriter(sys.stdout, reactor)

    def crash():
        writer.write("one\\n")
        writer.write("two\\n")
        raise SystemExit(3)

    # An asyncio callback (as an ASGI application's task is) that raises
    # SystemExit ends the event loop, and reactor.run(), at once.
    reactor.callWhenRunning(reactor._asyncioEventloop.call_soon, crash)
    reactor.run()
    """
)


class CrashTests(unittest.TestCase):
    """
    A process that dies without stopping its reactor loses no line.
    """

    def test_exitOutOfTheReactor(self):
        """
        SystemExit raised in an asyncio callback ends reactor.run() with no shutdown trigger; the
        lines written in that turn are still out (the atexit handler).
        """
        result = subprocess.run(
            [sys.executable, "-c", CRASHING],
            capture_output=True,
            text=True,
            timeout=60,
            env=childEnvironment(),
        )
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertEqual(result.stdout, "one\ntwo\n")


class Exchanges:
    """
    Finished exchanges for the access log.
    """

    def setUp(self):
        self.reactor = runningReactor()
        self.reactor.advance(1700000000.25)

    def exchange(self, path=b"/a", headers=((b"user-agent", b'say "hi"'),)):
        exchange, _ = makeExchange(
            self.reactor, grace=3.0, body=b"", method="GET", path=path, headers=list(headers)
        )
        exchange.appStarted(lambda: None)
        exchange.startResponse(200, [(b"content-length", b"2")])
        exchange.write(b"ok")
        self.reactor.advance(0.0125)
        exchange.finish()
        exchange.appFinished()
        return exchange


def boom():
    """
    @return: an error event of another namespace.
    """
    return {
        "log_format": "boom",
        "log_level": LogLevel.error,
        "log_namespace": "app",
        "log_time": 1700000000.0,
    }


class ProcessLogTests(Exchanges, unittest.TestCase):
    """
    L{ProcessLog}: the process's log as C{twist} would write it, access
    events by the shortest way.
    """

    def processLog(self, logFormat, level=LogLevel.info):
        """
        A L{ProcessLog} on a publisher set up as C{twist} does (its
        observer behind a level filter), and an access log logging to it
        as C{twist gracehttp} makes it.
        """
        self.publisher = LogPublisher()
        self.out = RecordingFile()
        processLog = ProcessLog(logFormat, self.reactor, level, self.publisher)
        observer = processLog(self.out)
        predicate = LogLevelFilterPredicate(defaultLogLevel=level)
        self.publisher.addObserver(FilteringLogObserver(observer, [predicate]))
        accessLog = AccessLog(self.reactor)
        accessLog.observer = processLog.publishAccess
        accessLog.direct = processLog.direct
        return accessLog

    def records(self):
        self.reactor.advance(0)
        return [eventFromJSON(r) for r in self.out.getvalue().split("\x1e") if r]

    def test_jsonCarriesTheFields(self):
        """The JSON record has every field, and formats to the line formatEvent makes."""
        accessLog = self.processLog("json")
        events = []
        reference = AccessLog(self.reactor, observer=events.append)
        exchange = self.exchange(path=b"/caf\xc3\xa9")
        accessLog(exchange)
        reference(exchange)
        [record] = self.records()
        [event] = events
        self.assertEqual(formatEvent(record), formatEvent(event))
        expected = eventFromJSON(eventAsJSON(event))
        del expected["log_flattened"]
        for key in ("log_time", "duration", "durationMs"):
            self.assertAlmostEqual(record.pop(key), expected.pop(key), delta=1e-3)
        self.assertEqual(record, expected)
        self.assertEqual(record["userAgent"], 'say "hi"')

    def test_jsonDirect(self):
        """While twist's observer is the only one, no event is built or published for a request."""
        accessLog = self.processLog("json")
        published = []
        accessLog.observer = published.append
        accessLog(self.exchange())
        self.assertEqual(published, [])
        self.assertEqual(len(self.records()), 1)

    def test_otherObserversGetEvents(self):
        """Once another observer watches the publisher, access events go through it, to both."""
        accessLog = self.processLog("json")
        seen = []
        self.publisher.addObserver(seen.append)
        accessLog(self.exchange())
        [event] = seen
        self.assertIsInstance(event, AccessEvent)
        self.assertEqual(event["log_namespace"], "gracehttp.access")
        self.assertEqual(len(self.records()), 1)

    def test_levelAboveInfo(self):
        """With the log level above info, access events are not written."""
        for logFormat in ("json", "text"):
            with self.subTest(logFormat=logFormat):
                accessLog = self.processLog(logFormat, LogLevel.warn)
                accessLog(self.exchange())
                self.reactor.advance(0)
                self.assertEqual(self.out.getvalue(), "")

    def test_text(self):
        """Text: twist's timestamp and [gracehttp.access#info], then the line; one write a turn."""
        accessLog = self.processLog("text")
        exchanges = [self.exchange(), self.exchange(path=b"/b")]
        for exchange in exchanges:
            accessLog(exchange)
        self.assertEqual(self.out.writes, [])
        self.reactor.advance(0)
        [written] = self.out.writes
        lines = written.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(
            lines[1],
            r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[gracehttp\.access#info\] "
            r'127\.0\.0\.1 - - \[.+\] "GET /b HTTP/1\.1" 200 2 "-" "say "hi"" 12\.5 completed$',
        )

    def test_otherEventsAtOnce(self):
        """Any other event is written at once, after the access lines before it."""
        accessLog = self.processLog("text")
        exchange = self.exchange()
        with mock.patch.object(logwriter, "isInIOThread", lambda: True):
            accessLog(exchange)
            self.publisher(boom())
        lines = self.out.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn("gracehttp.access#info", lines[0])
        self.assertTrue(lines[1].endswith("[app#error] boom"), lines[1])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_otherThread(self):
        """
        An event from another thread (a WSGI application's) is written at once, alone: the pending
        access lines and the reactor's timers are left to the reactor's thread.
        """
        accessLog = self.processLog("text")
        exchange = self.exchange()
        accessLog(exchange)
        [flush] = self.reactor.getDelayedCalls()
        with mock.patch.object(logwriter, "isInIOThread", lambda: False):
            self.publisher(boom())
        self.assertTrue(self.out.getvalue().endswith("[app#error] boom\n"), self.out.getvalue())
        self.assertNotIn("gracehttp.access", self.out.getvalue())
        self.assertEqual(self.reactor.getDelayedCalls(), [flush])
        self.reactor.advance(0)
        self.assertIn("gracehttp.access#info", self.out.getvalue().splitlines()[1])


def _wsgiApp(environ, start_response):
    """
    The application the end-to-end tests serve.
    """
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def _getMany(port, count):
    """
    Send C{count} pipelined GETs on one connection and read the responses.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /many HTTP/1.1\r\nHost: t\r\n\r\n" * (count - 1))
        s.sendall(b"GET /many HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


class EndToEndTests(unittest.TestCase):
    """
    Every line is out when C{twist gracehttp} stops.
    """

    def test_fileCompleteAtStop(self):
        """--access-log PATH: 50 requests answered in a few turns are 50 lines after SIGTERM."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            server = startSubprocess(
                "tests.test_logwriter:_wsgiApp", "--access-log", path, cwd=REPO
            )
            try:
                self.assertEqual(_getMany(server.port, 50).count(b"200 OK"), 50)
            finally:
                self.assertEqual(server.stop(), 0, server.output())
            with open(path) as f:
                lines = f.read().splitlines()
        self.assertEqual(len(lines), 50)
        self.assertTrue(all('"GET /many HTTP/1.1" 200 2' in line for line in lines), lines)

    def test_jsonCompleteAtStop(self):
        """twist --log-format json: 50 requests are 50 JSON records, then the stop's own lines."""
        from .server import Subprocess

        child = Subprocess(
            [
                *twistCommand(),
                "--log-format=json",
                "gracehttp",
                "--app",
                "tests.test_logwriter:_wsgiApp",
                "--listen",
                "tcp:0:interface=127.0.0.1",
            ],
            cwd=REPO,
            env=childEnvironment(),
        )
        try:
            port = int(child.waitFor(r'"listening": "http://127\.0\.0\.1:(\d+)"').group(1))
            self.assertEqual(_getMany(port, 50).count(b"200 OK"), 50)
        finally:
            self.assertEqual(child.stop(), 0, child.output())
        records = [json.loads(line.strip("\x1e")) for line in child.output().splitlines() if line]
        access = [r for r in records if r.get("log_namespace") == "gracehttp.access"]
        self.assertEqual(len(access), 50)
        self.assertEqual(
            {(r["path"], r["status"], r["outcome"]) for r in access}, {("/many", 200, "completed")}
        )
        stopped = [r.get("log_format") for r in records].index("gracehttp stopped")
        self.assertLess(records.index(access[-1]), stopped)


class DirectTests(Exchanges, unittest.TestCase):
    """
    An HTTP request written from its fields (L{AccessLog.direct}) reads as
    its event does.
    """

    FORMATS = (
        DEFAULT_FORMAT,
        DEFAULT_FORMAT + " {mount}",
        "{method}|{path}|{httpVersion}|{status}|{bytes}|{duration:.4f}|{durationMs:.0f}|{messagesIn}",
    )

    def exchanges(self):
        """
        A request answered, one without a client address, one the client
        left before any response.
        """
        answered = self.exchange()
        unix = self.exchange(path=b"/u", headers=[(b"referer", b"http://x/")])
        unix.client = None
        left, _ = makeExchange(self.reactor, grace=3.0, body=b"", method="POST", path=b"/p")
        left.appStarted(lambda: None)
        left.disconnect()
        self.reactor.advance(3)
        left.appFinished()
        return [answered, unix, left]

    def test_sameAsEvent(self):
        """Text and JSON written from the fields equal what the event gives, for several formats."""
        exchanges = self.exchanges()
        for logFormat in self.FORMATS:
            events, records = [], []
            viaEvent = AccessLog(self.reactor, logFormat, events.append)
            direct = AccessLog(self.reactor, logFormat, events.append)
            direct.direct = lambda append=records.append: append
            for exchange in exchanges:
                viaEvent(exchange)
                direct(exchange)
            self.assertEqual(len(records), 3)
            with self.subTest(logFormat=logFormat):
                self.assertEqual(
                    [requestLine(record) for record in records], [e.line() for e in events]
                )
                self.assertEqual(
                    [requestJSON(record) for record in records], [e.json() for e in events]
                )

    def test_formatFails(self):
        """A spec the '-' of a field cannot take gives Twisted's 'Unable to format event' line."""
        records = []
        accessLog = AccessLog(self.reactor, "{status:03d}", [].append)
        accessLog.direct = lambda: records.append
        accessLog(self.exchanges()[2])
        self.assertIn("Unable to format event", requestLine(records[0]))

    def test_drop(self):
        """DROP: nothing is logged, nor built."""
        published = []
        accessLog = AccessLog(self.reactor, observer=published.append)
        accessLog.direct = lambda: DROP
        accessLog(self.exchange())
        self.assertEqual(published, [])
