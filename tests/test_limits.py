"""
Tests for the limits, timeouts and connection accounting of
L{gracehttp._protocols.http11}, driven with L{StringTransport} and a
L{MemoryReactorClock}.
"""

from unittest import TestCase

from twisted.internet.testing import MemoryReactorClock, StringTransport

from gracehttp._core.exchange import BODY_BUFFER_SIZE, CLIENT_DISCONNECTED, REJECTED, SHUTDOWN
from gracehttp._protocols.http11 import HOLD_SIZE, HTTPChannel, HTTPFactory
from gracehttp._settings import HTTPSettings

from .test_http11 import ManualAdapter, respond

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class LimitTestsMixin:
    settings = HTTPSettings()

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1_000_000_000)
        self.adapter = ManualAdapter()
        self.factory = HTTPFactory(self.adapter, self.reactor, self.settings)
        self.channel, self.transport = self.connect()

    def connect(self):
        channel = self.factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def take(self, transport=None):
        """
        Return and clear what the channel wrote.
        """
        transport = transport or self.transport
        value = transport.value()
        transport.clear()
        return value

    def assertRejected(self, status, transport=None):
        """
        The connection got C{status} and is closing.
        """
        transport = transport or self.transport
        self.assertTrue(
            transport.value().startswith(b"HTTP/1.1 %d " % status), transport.value()[:80]
        )
        self.assertIn(b"connection: close\r\n", transport.value())
        self.assertTrue(transport.disconnecting)


def headOfSize(size):
    """
    A request head whose counted size (target, plus each field's name and
    value and 4 bytes) is exactly C{size}; C{size} >= 19.
    """
    # "/" = 1, "host: x" = 4 + 1 + 4 = 9, "x-pad: " = 5 + 4 = 9.
    pad = size - 19
    return b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %b\r\n\r\n" % (b"p" * pad)


class HeadSizeTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(limitRequestHeaderSize=1000)

    def test_atLimit(self):
        """
        A head of exactly limitRequestHeaderSize counted bytes is served.
        """
        self.channel.dataReceived(headOfSize(1000))
        self.assertEqual(len(self.adapter.exchanges), 1)
        self.assertFalse(self.transport.disconnecting)

    def test_overLimit(self):
        """
        One byte more is answered 431 and the connection closes; the
        application never sees it.
        """
        self.channel.dataReceived(headOfSize(1001))
        self.assertRejected(431)
        self.assertEqual(self.adapter.exchanges, [])

    def test_longTarget(self):
        """
        A request target longer than the limit is a 431.
        """
        self.channel.dataReceived(b"GET /" + b"a" * 1000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRejected(431)

    def test_oneFieldTrickled(self):
        """
        A single field that never ends, sent over many reads, is stopped
        within the limit plus one read.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nX-Endless: ")
        sent = 0
        while not self.transport.disconnecting and sent < 10_000:
            self.channel.dataReceived(b"v" * 100)
            sent += 100
        self.assertRejected(431)
        self.assertLessEqual(sent, 1000 + 100)

    def test_fieldsOverSeveralReadsCountedOnce(self):
        """
        A head under the limit whose fields span several reads is served
        (bytes of an unfinished field are not counted twice).
        """
        head = headOfSize(1000)
        for index in range(0, len(head), 300):
            self.channel.dataReceived(head[index : index + 300])
        self.assertEqual(len(self.adapter.exchanges), 1)

    def test_limitPerRequest(self):
        """
        The head size is counted per request: several heads on one
        connection, each under the limit, are all served.
        """
        for _ in range(3):
            self.channel.dataReceived(headOfSize(900))
            respond(self.adapter.exchanges[-1])
        self.assertEqual(len(self.adapter.exchanges), 3)
        self.assertFalse(self.transport.disconnecting)


class HugeHeadTests(LimitTestsMixin, TestCase):
    def test_singleWrite(self):
        """
        With the default limit (64 KiB) a 1 MiB head arriving in one
        dataReceived is a 431, and the next connection is served.
        """
        self.channel.dataReceived(
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: aaaaaaaaaaaaaaa\r\n" * 50_000 + b"\r\n"
        )
        self.assertRejected(431)
        channel, transport = self.connect()
        channel.dataReceived(GET)
        respond(self.adapter.exchanges[-1])
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "))


class HeaderCountTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(limitRequestHeaders=5)

    def request(self, fields):
        return (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(fields - 1))
            + b"\r\n"
        )

    def test_atLimit(self):
        """
        limitRequestHeaders fields are accepted.
        """
        self.channel.dataReceived(self.request(5))
        self.assertEqual(len(self.adapter.exchanges[0].headers), 5)

    def test_overLimit(self):
        """
        One field more is a 431.
        """
        self.channel.dataReceived(self.request(6))
        self.assertRejected(431)
        self.assertEqual(self.adapter.exchanges, [])

    def test_trailersDiscardedAndCounted(self):
        """
        Trailer fields are not added to the request's headers, and they
        count towards the limit.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1\r\na\r\n0\r\nX-T: 1\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.bodyComplete)
        self.assertNotIn(b"x-t", [name for name, _ in exchange.headers])
        respond(exchange)
        self.take()
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1\r\na\r\n0\r\n" + b"X-T: 1\r\n" * 6 + b"\r\n"
        )
        second = self.adapter.exchanges[1]
        self.assertTrue(second.disconnected)
        self.assertRejected(431)


class BodySizeTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(limitRequestBody=10)

    def test_contentLengthAtLimit(self):
        """
        A Content-Length equal to limitRequestBody is served.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
        )
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.readBody(), b"0123456789")

    def test_contentLengthOverLimit(self):
        """
        A Content-Length over the limit is a 413 at once: the application is
        never started, the connection closes.
        """
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
        self.assertRejected(413)
        self.assertEqual(self.adapter.exchanges, [])
        self.assertEqual(self.factory.serverState.requestsInFlight, 0)

    def test_contentLengthOverLimitAfterQueued(self):
        """
        A pipelined request over the limit is answered 413 after the
        response to the request before it.
        """
        self.channel.dataReceived(GET + b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n")
        self.assertEqual(self.transport.value(), b"")
        respond(self.adapter.exchanges[0], b"first")
        value = self.take()
        self.assertLess(value.index(b"first"), value.index(b"HTTP/1.1 413 "))
        self.assertTrue(self.transport.disconnecting)

    def test_chunkedAtLimit(self):
        """
        A chunked body of exactly the limit is served.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.bodyComplete)
        self.assertFalse(exchange.disconnected)

    def test_chunkedOverLimit(self):
        """
        A chunked body that goes over the limit disconnects the running
        exchange (the application is told), answers 413 because its
        response had not started, and closes.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(b"6\r\n567890\r\n0\r\n\r\n" + GET)
        self.assertTrue(exchange.disconnected)
        self.assertRejected(413)
        self.assertEqual(len(self.adapter.exchanges), 1)
        exchange.appFinished()
        self.assertEqual(self.factory.serverState.requestsInFlight, 0)

    def test_chunkedOverLimitAfterResponseStarted(self):
        """
        Over the limit after the response started: the exchange is
        disconnected and the connection closes, with no 413 after the
        response bytes.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n"
        )
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [])
        exchange.write(b"partial")
        self.take()
        self.channel.dataReceived(b"6\r\n567890\r\n")
        self.assertTrue(exchange.disconnected)
        self.assertNotIn(b"413", self.take())
        self.assertTrue(self.transport.disconnecting)


class HeaderTimeoutTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(timeoutHeader=10.0, timeoutKeepAlive=5.0)

    def test_partialHead(self):
        """
        A head still incomplete timeoutHeader seconds after the connection
        is answered 408 and closed; just before, the connection is open.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n")
        self.reactor.advance(9.999)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.001)
        self.assertRejected(408)

    def test_slowloris(self):
        """
        A client sending one byte a second is closed at timeoutHeader with
        408: bytes arriving do not extend the deadline.
        """
        head = GET
        for index in range(9):
            self.channel.dataReceived(head[index : index + 1])
            self.reactor.advance(1)
        self.assertFalse(self.transport.disconnecting)
        self.channel.dataReceived(head[9:10])
        self.reactor.advance(1)
        self.assertRejected(408)
        self.assertEqual(self.adapter.exchanges, [])

    def test_silentConnection(self):
        """
        A connection that sends nothing is closed at timeoutHeader without a
        response.
        """
        self.reactor.advance(9.999)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.001)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"")

    def test_completeHeadInTime(self):
        """
        A head completed just before the deadline is served, and the
        application's time is not limited by the header timeout.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n")
        self.reactor.advance(9.9)
        self.channel.dataReceived(b"Host: x\r\n\r\n")
        self.reactor.advance(100)
        self.assertFalse(self.transport.disconnecting)
        [exchange] = self.adapter.exchanges
        respond(exchange)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 200 "))

    def test_timedFromFirstByteOfNextRequest(self):
        """
        On a kept-alive connection the next head is timed from its first
        byte.
        """
        self.channel.dataReceived(GET)
        respond(self.adapter.exchanges[0])
        self.take()
        self.reactor.advance(4)
        self.channel.dataReceived(b"G")
        self.reactor.advance(9.999)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.001)
        self.assertRejected(408)

    def test_pipelinedPartialHeadAfterResponse(self):
        """
        A pipelined head left incomplete behind a running request gets its
        408 after that request's response.
        """
        self.channel.dataReceived(GET + b"GET /next HTTP/1.1\r\n")
        self.reactor.advance(10)
        self.assertEqual(self.transport.value(), b"")
        respond(self.adapter.exchanges[0], b"first")
        value = self.take()
        self.assertLess(value.index(b"first"), value.index(b"408 Request Timeout"))
        self.assertTrue(self.transport.disconnecting)

    def test_oneTimerPerConnection(self):
        """
        Several requests on one connection keep one delayed call, moved with
        reset() rather than scheduled anew.
        """
        [timer] = self.reactor.getDelayedCalls()
        for _ in range(3):
            self.channel.dataReceived(GET)
            respond(self.adapter.exchanges[-1])
            self.assertEqual(self.reactor.getDelayedCalls(), [timer])

    def test_noDelayedCallAfterClose(self):
        """
        A lost connection leaves no delayed call behind.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n")
        self.channel.connectionLost(None)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_pausedReadingIsNotLate(self):
        """
        A head that cannot progress because we stopped reading is not timed
        out; it is timed again once reading resumes.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (BODY_BUFFER_SIZE + 1)
            + b"b" * (BODY_BUFFER_SIZE + 1)
            + b"GET /next HTTP/1.1\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.reactor.advance(10)
        self.assertFalse(self.transport.disconnecting)
        exchange.readBody()
        self.reactor.advance(9.999)
        self.assertFalse(self.transport.disconnecting)
        respond(exchange)
        self.take()
        self.reactor.advance(0.001)
        self.assertRejected(408)


class BodyTimeoutTests(LimitTestsMixin, TestCase):
    """
    A request body that stops arriving for timeoutHeader seconds while the
    channel reads is answered 408: the same on both interfaces, since it is
    the protocol's rule.
    """

    settings = HTTPSettings(timeoutHeader=10.0, timeoutKeepAlive=5.0)

    def startUpload(self):
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n" + b"a" * 1000
        )
        [exchange] = self.adapter.exchanges
        return exchange

    def test_stalledBody(self):
        """
        A body that stops for timeoutHeader seconds: the application is
        told (disconnect), the client gets 408, the connection closes; the
        outcome is 'rejected' with status 408.
        """
        exchange = self.startUpload()
        self.reactor.advance(9.9)
        self.assertFalse(exchange.disconnected)
        self.reactor.advance(0.1)
        self.assertTrue(exchange.disconnected)
        self.assertRejected(408)
        exchange.appFinished()
        self.assertEqual((exchange.status, exchange.outcome), (408, REJECTED))

    def test_tricklingBodyIsNotStalled(self):
        """A body that keeps arriving, however slowly, is never cut."""
        exchange = self.startUpload()
        for _second in range(60):
            self.reactor.advance(6)
            self.channel.dataReceived(b"a")
        self.assertFalse(exchange.disconnected)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(10)
        self.assertRejected(408)

    def test_notLateWhileNotRead(self):
        """
        While the application does not read (its buffer is full, reading
        paused) the client is not late; once it reads, the body is timed
        again from then.
        """
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n")
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(b"a" * (BODY_BUFFER_SIZE + 1))
        self.channel.dataReceived(b"a")
        self.reactor.advance(100)
        self.assertFalse(exchange.disconnected)
        exchange.readBody()
        self.reactor.advance(0)
        self.reactor.advance(9.9)
        self.assertFalse(exchange.disconnected)
        self.reactor.advance(0.1)
        self.assertTrue(exchange.disconnected)
        self.assertRejected(408)

    def test_completeBodyNotTimed(self):
        """Once the body is complete, a slow application is not the client's fault."""
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\na")
        self.channel.dataReceived(b"b")
        [exchange] = self.adapter.exchanges
        self.reactor.advance(100)
        self.assertFalse(exchange.disconnected)
        respond(exchange)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 200 "))

    def test_pipelinedStalledBody(self):
        """
        A stalled body of a request queued behind the active one: it is
        rejected (never started), the active one is answered, then 408.
        """
        self.channel.dataReceived(
            GET + b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
        )
        [active] = self.adapter.exchanges
        self.reactor.advance(10)
        respond(active)
        value = self.take()
        self.assertTrue(value.startswith(b"HTTP/1.1 200 "), value)
        self.assertIn(b"HTTP/1.1 408 ", value)
        self.assertTrue(self.transport.disconnecting)


class RejectedLogTests(LimitTestsMixin, TestCase):
    """
    Requests answered without an exchange reaching an application still
    reach the access log, with their status and the 'rejected' outcome.
    """

    settings = HTTPSettings(
        timeoutHeader=10.0, limitRequestHeaderSize=1024, limitRequestBody=10, limitConcurrency=1
    )

    def setUp(self):
        LimitTestsMixin.setUp(self)
        self.logged = []
        self.factory.serverState.requestLog = self.logged.append

    def test_rejectedHeads(self):
        """400, 431, 413 and 408 heads are logged with what was parsed of them."""
        cases = [
            (
                b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
                400,
                ("GET", b"/a", b"b=1", "1.1"),
            ),
            (
                b"GET /" + b"x" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                431,
                ("GET", b"/" + b"x" * 1023, b"", "1.1"),
            ),
            (
                b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
                413,
                ("POST", b"/up", b"", "1.1"),
            ),
            (b"\x01\x02", 400, (None, b"", b"", None)),
        ]
        for data, status, (method, path, query, version) in cases:
            with self.subTest(status=status):
                self.logged.clear()
                channel, transport = self.connect()
                channel.dataReceived(data)
                self.assertRejected(status, transport)
                [record] = self.logged
                self.assertEqual(
                    (
                        record.status,
                        record.outcome,
                        record.method,
                        record.rawPath,
                        record.queryString,
                        record.httpVersion,
                    ),
                    (status, REJECTED, method, path, query, version),
                )
        self.assertEqual(self.factory.serverState.requestsInFlight, 0)

    def test_headTimeout(self):
        """A head that times out is logged as 408."""
        self.channel.dataReceived(b"GET /slow HTTP/1.1\r\nHost")
        self.reactor.advance(10)
        self.assertRejected(408)
        [record] = self.logged
        self.assertEqual((record.status, record.outcome, record.rawPath), (408, REJECTED, b"/slow"))

    def test_overConcurrency(self):
        """A 503 for the concurrency limit is logged as rejected."""
        self.channel.dataReceived(GET)
        other, transport = self.connect()
        other.dataReceived(GET)
        self.assertRejected(503, transport)
        [record] = self.logged
        self.assertEqual((record.status, record.outcome), (503, REJECTED))


class KeepAliveTimeoutTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(timeoutHeader=10.0, timeoutKeepAlive=5.0)

    def test_idleClosed(self):
        """
        An idle kept-alive connection is closed timeoutKeepAlive seconds
        after its last response, without a response.
        """
        self.channel.dataReceived(GET)
        self.reactor.advance(30)
        respond(self.adapter.exchanges[0])
        self.take()
        self.reactor.advance(4.999)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.001)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"")

    def test_nextRequestInTime(self):
        """
        A request arriving before the keep-alive timeout is served.
        """
        self.channel.dataReceived(GET)
        respond(self.adapter.exchanges[0])
        self.reactor.advance(4.9)
        self.channel.dataReceived(GET)
        self.reactor.advance(60)
        self.assertEqual(len(self.adapter.exchanges), 2)
        self.assertFalse(self.transport.disconnecting)


class ConcurrencyTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(limitConcurrency=2)

    def test_atLimit(self):
        """
        limitConcurrency requests in flight are all handed to the
        application.
        """
        self.channel.dataReceived(GET)
        channel, _transport = self.connect()
        channel.dataReceived(GET)
        self.assertEqual(len(self.adapter.exchanges), 2)

    def test_overLimit(self):
        """
        A request over the limit gets 503 with Retry-After and
        connection: close, without reaching the application; it is logged.
        """
        logged = []
        self.factory.serverState.requestLog = logged.append
        self.channel.dataReceived(GET)
        self.connect()[0].dataReceived(GET)
        channel, transport = self.connect()
        channel.dataReceived(GET)
        self.assertEqual(len(self.adapter.exchanges), 2)
        value = transport.value()
        self.assertTrue(value.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"))
        self.assertIn(b"retry-after: 1\r\n", value)
        self.assertIn(b"connection: close\r\n", value)
        self.assertTrue(transport.disconnecting)
        self.assertEqual([e.status for e in logged], [503])
        self.assertEqual(self.factory.serverState.requestsInFlight, 2)

    def test_servedAgainBelowLimit(self):
        """
        Once a request finishes, new requests are served again.
        """
        self.channel.dataReceived(GET)
        self.connect()[0].dataReceived(GET)
        respond(self.adapter.exchanges[0])
        channel, _transport = self.connect()
        channel.dataReceived(GET)
        self.assertEqual(len(self.adapter.exchanges), 3)


class ConnectionLimitTests(LimitTestsMixin, TestCase):
    settings = HTTPSettings(limitConnections=2)

    def test_limit(self):
        """
        limitConnections connections are accepted; the next gets a protocol
        that closes it at once and is not counted, until one closes.
        """
        second, _ = self.connect()
        refused, refusedTransport = self.connect()
        self.assertNotIsInstance(refused, HTTPChannel)
        self.assertTrue(refusedTransport.disconnecting)
        self.assertEqual(refusedTransport.value(), b"")
        self.assertEqual(self.factory.serverState.connections, {self.channel, second})
        second.connectionLost(None)
        self.assertIsInstance(self.factory.buildProtocol(None), HTTPChannel)


class AccountingTests(LimitTestsMixin, TestCase):
    def test_connections(self):
        """
        factory.connections holds the open channels.
        """
        second, _ = self.connect()
        self.assertEqual(self.factory.serverState.connections, {self.channel, second})
        second.connectionLost(None)
        self.assertEqual(self.factory.serverState.connections, {self.channel})

    def test_closeIdleConnections(self):
        """
        closeIdleConnections closes idle connections (idle after a response)
        now; a busy one answers its current request with connection: close
        and then closes.
        """
        self.channel.dataReceived(GET)
        respond(self.adapter.exchanges[0])
        busy, busyTransport = self.connect()
        busy.dataReceived(GET)
        self.factory.serverState.closeIdleConnections()
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(busyTransport.disconnecting)
        respond(self.adapter.exchanges[1])
        self.assertIn(b"connection: close\r\n", busyTransport.value())
        self.assertTrue(busyTransport.disconnecting)

    def test_closeIdleWhileHeadArrives(self):
        """
        A connection in the middle of a request head is not idle: its request
        is served, then it closes.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n")
        self.factory.serverState.closeIdleConnections()
        self.assertFalse(self.transport.disconnecting)
        self.channel.dataReceived(b"Host: x\r\n\r\n")
        respond(self.adapter.exchanges[0])
        self.assertIn(b"connection: close\r\n", self.transport.value())
        self.assertTrue(self.transport.disconnecting)

    def test_disconnectAll(self):
        """
        disconnectAll aborts every connection; their requests are then
        disconnected and cancelled after the grace period, with the
        'shutdown' outcome.
        """
        self.channel.dataReceived(GET)
        [exchange] = self.adapter.exchanges
        self.factory.serverState.disconnectAll()
        self.assertTrue(self.transport.disconnected)
        self.channel.connectionLost(None)
        self.assertTrue(exchange.disconnected)
        self.reactor.advance(self.settings.disconnectGracePeriod)
        self.assertEqual(self.adapter.cancelled, [exchange])
        exchange.appFinished()
        self.assertEqual(exchange.outcome, SHUTDOWN)

    def test_clientDisconnectOutcome(self):
        """A connection the client closes gives its request the 'client-disconnected' outcome."""
        self.channel.dataReceived(GET)
        [exchange] = self.adapter.exchanges
        self.channel.connectionLost(None)
        exchange.appFinished()
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)


class PausedDisconnectTests(LimitTestsMixin, TestCase):
    def test_closeNoticedWhileBodyBufferFull(self):
        """
        While the body buffer is full the channel still reads (up to
        HOLD_SIZE), so a client that sends the rest of its body and closes
        is noticed at once: the application is told.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (BODY_BUFFER_SIZE * 2)
        )
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(b"a" * (BODY_BUFFER_SIZE + 1))
        self.channel.dataReceived(b"b" * (HOLD_SIZE // 2))
        self.assertEqual(self.transport.producerState, "producing")
        self.channel.connectionLost(None)
        self.assertTrue(exchange.disconnected)

    def test_heldBytesDiscardedOnClose(self):
        """
        Bytes held while paused are never parsed after the connection is
        lost.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (BODY_BUFFER_SIZE + 1)
            + b"a" * (BODY_BUFFER_SIZE + 1)
        )
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(GET)
        self.channel.connectionLost(None)
        exchange.readBody()
        self.reactor.advance(0)
        self.assertEqual(len(self.adapter.exchanges), 1)
