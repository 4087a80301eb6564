"""
How a worker process logs once its service is built: as one process does
under C{twist gracehttp} (L{gracehttp._core.logwriter.ProcessLog}).
"""

import io
import json
import select
import unittest

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import Logger, LogPublisher

from gracehttp._core.accesslog import DEFAULT_FORMAT, AccessLog
from gracehttp._workers.worker import SharedOutput, _batchLogging


class _Service:
    """
    The one attribute of the worker's service that logging touches.
    """

    def __init__(self, accessLog):
        self.accessLog = accessLog


class BatchLoggingTests(unittest.TestCase):
    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.reactor.running = True
        self.publisher = LogPublisher()
        self.first = []
        self.publisher.addObserver(self.first.append)
        self.accessLog = AccessLog(self.reactor)
        self.output = io.StringIO()

    def batch(self, accessLog="-", logFormat="json", level="info"):
        _batchLogging(
            _Service(self.accessLog),
            accessLog,
            self.first.append,
            logFormat,
            level,
            self.reactor,
            self.publisher,
            self.output,
        )

    def test_replacesTheFirstObserver(self):
        """Events go to the process log, in its format, and no longer to the first observer."""
        self.batch()
        Logger(observer=self.publisher).info("hello {who}", who="worker")
        self.assertEqual(self.first, [])
        [record] = self.output.getvalue().split("\x1e")[1:]
        self.assertEqual(json.loads(record)["who"], "worker")

    def test_accessLinesWrittenFromFields(self):
        """The access log writes lines straight from their fields, once per reactor turn."""
        self.batch()
        write = self.accessLog.direct()
        self.assertIsNotNone(write)
        write(
            (
                *(DEFAULT_FORMAT, 1.0, "127.0.0.1", "01/Dec/2026:00:00:00 +0000", "GET / HTTP/1.1"),
                *("GET", "/", "1.1", 200, 5, 5, "-", "-", 0.001, "completed", "-"),
            )
        )
        self.assertEqual(self.output.getvalue(), "")
        self.reactor.advance(0)
        record = json.loads(self.output.getvalue().lstrip("\x1e"))
        self.assertEqual((record["request"], record["status"]), ("GET / HTTP/1.1", 200))

    def test_accessLogFileLeftAlone(self):
        """With --access-log PATH (or off), the access log keeps its own writer."""
        self.batch(accessLog="/tmp/access.log")
        self.assertIsNone(self.accessLog.direct)


class SharedOutputTests(unittest.TestCase):
    """
    Descriptor 1, shared by the workers, gets whole lines in writes of at
    most PIPE_BUF bytes.
    """

    def setUp(self):
        self.writes = []
        self.output = SharedOutput(7, write=self.write)

    def write(self, fd, data):
        self.assertEqual(fd, 7)
        self.writes.append(bytes(data))
        return len(data)

    def test_smallBatchOneWrite(self):
        """A batch of lines within PIPE_BUF is one write."""
        self.assertEqual(self.output.write(b"a\nb\n"), 4)
        self.assertEqual(self.writes, [b"a\nb\n"])

    def test_largeBatchCutAtLines(self):
        """A larger batch is cut after a line end, each piece at most PIPE_BUF bytes."""
        line = b"x" * 99 + b"\n"
        batch = line * 100
        self.output.write(batch)
        self.assertEqual(b"".join(self.writes), batch)
        self.assertGreater(len(self.writes), 1)
        for piece in self.writes:
            self.assertLessEqual(len(piece), select.PIPE_BUF)
            self.assertTrue(piece.endswith(b"\n"))

    def test_partialWritesCompleted(self):
        """What a write leaves is written next."""
        writes = []

        def short(fd, data):
            writes.append(bytes(data[:3]))
            return min(3, len(data))

        SharedOutput(1, write=short).write(b"abcdefg\n")
        self.assertEqual(b"".join(writes), b"abcdefg\n")
