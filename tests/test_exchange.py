"""
Tests for L{gracehttp._core.exchange}: what the exchange adds to its
lifecycle (the outcome, waking the adapter), the bounded body buffer and the
response checks, with a L{Clock}.
"""

from unittest import TestCase, mock

from twisted.internet.task import Clock
from twisted.logger import Logger
from zope.interface.verify import verifyObject

from gracehttp._core import responsehead as _responsehead
from gracehttp._core.exchange import BODY_BUFFER_SIZE, SHUTDOWN, Exchange
from gracehttp._core.interfaces import IExchangeChannel
from gracehttp._core.lifecycle import PENDING, Lifecycle, LifecycleError
from gracehttp._core.responsehead import InvalidResponse
from gracehttp._errors import ClientDisconnected

from .fakes import RecordingChannel, makeExchange


class FakeTests(TestCase):
    def test_recordingChannelProvidesInterface(self):
        """The tests' RecordingChannel provides every IExchangeChannel method."""
        self.assertTrue(verifyObject(IExchangeChannel, RecordingChannel()))


class LifecycleTests(TestCase):
    """
    The exchange as a unit of work of L{gracehttp._core.lifecycle}: what it
    adds to the machine (the outcome, the adapter's wake, the channel's
    notice).  The machine itself is tested in C{test_lifecycle}.
    """

    def setUp(self):
        self.clock = Clock()
        self.cancels = []

    def started(self, grace):
        exchange, channel = makeExchange(self.clock, grace=grace)
        exchange.appStarted(lambda: self.cancels.append(self.clock.seconds()))
        return exchange, channel

    def test_lifecycleFieldsAsInit(self):
        """
        A new exchange's lifecycle fields are what Lifecycle.__init__ sets
        (the exchange writes them out itself).
        """
        exchange = Exchange(RecordingChannel(), self.clock, 2.5)
        fresh = Lifecycle(self.clock, 2.5)
        for name in Lifecycle.__slots__:
            self.assertEqual(getattr(exchange, name), getattr(fresh, name), name)
        self.assertIs(exchange.lifecycleState, PENDING)

    def test_cancelledOutcome(self):
        """
        An application cancelled after the grace period is 'cancelled' once
        it is done (not before), and the channel is told then, once.
        """
        exchange, channel = self.started(2.5)
        exchange.disconnect()
        self.clock.advance(2.5)
        self.assertEqual(self.cancels, [2.5])
        self.assertIsNone(exchange.outcome)
        self.assertEqual(channel.finishedExchanges, [])
        exchange.appFinished()
        self.assertEqual(exchange.outcome, "cancelled")
        self.assertEqual(channel.finishedExchanges, [exchange])

    def test_finishingEarlyOutcome(self):
        """
        An application that finishes within the grace period is
        'client-disconnected' and leaves nothing scheduled.
        """
        exchange, _ = self.started(3)
        exchange.disconnect()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(1)
        exchange.appFinished()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.cancels, [])
        self.assertEqual(exchange.outcome, "client-disconnected")

    def test_graceNegativeOutcome(self):
        """
        A negative grace period never cancels: the outcome stays
        'client-disconnected'.
        """
        exchange, _ = self.started(-1)
        exchange.disconnect()
        self.clock.advance(10_000)
        self.assertEqual(self.cancels, [])
        exchange.appFinished()
        self.assertEqual(exchange.outcome, "client-disconnected")

    def test_disconnectOnce(self):
        """
        A second disconnect neither wakes the adapter again, nor schedules a
        second cancel, nor moves the response's end.
        """
        exchange, _ = self.started(3)
        wakes = []
        exchange.wake = lambda: wakes.append(exchange.disconnected)
        self.clock.advance(1)
        exchange.disconnect()
        self.clock.advance(1)
        exchange.disconnect(SHUTDOWN)
        self.assertEqual(wakes, [True])
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.assertEqual(exchange.endTime, 1)
        exchange.appFinished()
        self.assertEqual(exchange.outcome, "client-disconnected")

    def test_completedOutcome(self):
        """
        An application that finishes with its client present completed; a
        later disconnect schedules nothing.
        """
        exchange, _ = self.started(3)
        exchange.appFinished()
        self.assertEqual(exchange.outcome, "completed")
        exchange.disconnect()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(exchange.outcome, "completed")

    def test_appFinishedTwice(self):
        """
        A second appFinished raises LifecycleError; the outcome stays and the
        channel is not told again.
        """
        exchange, channel = self.started(3)
        exchange.appFinished()
        self.assertRaises(LifecycleError, exchange.appFinished)
        self.assertEqual(exchange.outcome, "completed")
        self.assertEqual(channel.finishedExchanges, [exchange])


class BodyAndResponseTests(TestCase):
    def setUp(self):
        self.clock = Clock()

    def test_bufferPausesAndReadResumes(self):
        """
        Past BODY_BUFFER_SIZE unconsumed bytes the channel pauses; reading
        returns everything and resumes it.
        """
        exchange, channel = makeExchange(self.clock)
        channel.deliverBody(exchange, b"a" * BODY_BUFFER_SIZE)
        self.assertFalse(channel.readingPaused)
        channel.deliverBody(exchange, b"b")
        self.assertTrue(channel.readingPaused)
        self.assertEqual(len(exchange.readBody()), BODY_BUFFER_SIZE + 1)
        self.assertFalse(channel.readingPaused)
        self.assertEqual(exchange.readBody(), b"")

    def test_receiveBodyReturnsUnconsumed(self):
        """
        receiveBody returns the bytes buffered and not consumed once the
        adapter was woken: none if the adapter read them at once.
        """
        exchange, _ = makeExchange(self.clock)
        self.assertEqual(exchange.receiveBody(b"abc"), 3)
        self.assertEqual(exchange.receiveBody(b"de"), 5)
        exchange.wake = exchange.readBody
        self.assertEqual(exchange.receiveBody(b"f"), 0)

    def test_consumedBytesReported(self):
        """
        Each read that takes bytes tells the channel how many its
        application consumed (per exchange, as HTTP/2 flow control needs),
        while the channel wants to hear (reportConsumed); an empty read
        tells nothing.
        """
        exchange, channel = makeExchange(self.clock)
        consumed = []
        channel.bodyConsumed = lambda which, size: consumed.append((which, size))
        exchange.receiveBody(b"abc")
        exchange.receiveBody(b"de")
        self.assertEqual(exchange.readBody(), b"abcde")
        self.assertEqual(exchange.readBody(), b"")
        exchange.receiveBody(b"f")
        exchange.readBody()
        exchange.reportConsumed = False
        exchange.receiveBody(b"gh")
        self.assertEqual(exchange.readBody(), b"gh")
        self.assertEqual(consumed, [(exchange, 5), (exchange, 1)])

    def test_continueWantedOnFirstRead(self):
        """
        The application's first read tells the channel it wants the body of
        an C{Expect: 100-continue} request, once; without the expectation
        nothing is asked.
        """
        wanted = []
        for expect in (True, False):
            exchange, channel = makeExchange(self.clock)
            channel.continueWanted = wanted.append
            exchange.expectContinue = expect
            exchange.readBody()
            exchange.readBody()
            self.assertFalse(exchange.expectContinue)
        self.assertEqual(len(wanted), 1)

    def test_wakeOnBodyEvents(self):
        """
        Body bytes and the end of the body wake the adapter.
        """
        exchange, _channel = makeExchange(self.clock)
        wakes = []
        exchange.wake = lambda: wakes.append(exchange.bodyComplete)
        exchange.receiveBody(b"x")
        exchange.endBody()
        self.assertEqual(wakes, [False, True])

    def test_writeAfterDisconnectRaises(self):
        """
        startResponse, write and finish raise ClientDisconnected (an OSError)
        once the client is gone; abort does nothing.
        """
        exchange, channel = makeExchange(self.clock)
        exchange.startResponse(200, [])
        exchange.disconnect()
        self.assertRaises(ClientDisconnected, exchange.write, b"x")
        self.assertRaises(OSError, exchange.finish)
        exchange.abort()
        self.assertFalse(channel.aborted)

    def test_headerValidation(self):
        """
        Invalid statuses and headers are refused before anything reaches the
        channel; header names are lowercased.
        """
        bad = [
            (99, []),
            (600, []),
            ("200", []),
            (200, [(b"x-a", b"a\rb")]),
            (200, [(b"x-a", b"a\nb")]),
            (200, [(b"x-a", b"a\0b")]),
            (200, [(b"x a", b"b")]),
            (200, [(b"", b"b")]),
            (200, [("x-a", "b")]),
            (200, [(b"content-length", b"-1")]),
        ]
        for status, headers in bad:
            exchange, channel = makeExchange(self.clock)
            with self.assertRaises(InvalidResponse, msg=repr((status, headers))):
                exchange.startResponse(status, headers)
            self.assertIsNone(channel.head)
        exchange, channel = makeExchange(self.clock)
        exchange.startResponse(201, [(b"X-Custom", b"v")])
        self.assertEqual(channel.head, (201, [(b"x-custom", b"v")]))
        self.assertRaises(InvalidResponse, exchange.startResponse, 200, [])

    def test_hopByHopDropped(self):
        """
        Hop-by-hop response fields never reach the channel; C{Connection:
        close} (any case, among other tokens) ends keep-alive; each name is
        warned about once per process.
        """
        logged = []
        patchLog = mock.patch.object(_responsehead, "_log", Logger(observer=logged.append))
        patchWarned = mock.patch.object(_responsehead, "_warnedHopByHop", set())
        with patchLog, patchWarned:
            self.checkHopByHop(logged)

    def checkHopByHop(self, logged):
        hopByHop = [
            (b"Connection", b"Upgrade, CLOSE"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-connection", b"close"),
            (b"te", b"trailers"),
            (b"trailer", b"x-a"),
            (b"transfer-encoding", b"chunked"),
            (b"upgrade", b"websocket"),
        ]
        for _round in range(2):
            exchange, channel = makeExchange(self.clock)
            exchange.startResponse(200, [(b"x-a", b"1"), *hopByHop, (b"x-b", b"2")])
            self.assertEqual(channel.head, (200, [(b"x-a", b"1"), (b"x-b", b"2")]))
            self.assertFalse(exchange.keepAlive)
        self.assertEqual(
            sorted(event["name"] for event in logged),
            sorted(name.lower().decode() for name, value in hopByHop),
        )
        exchange, channel = makeExchange(self.clock)
        exchange.startResponse(200, [(b"connection", b"keep-alive")])
        self.assertTrue(exchange.keepAlive)
