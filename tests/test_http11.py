"""
Tests for L{gracehttp._protocols.http11}: the HTTP/1.1 protocol, driven with
L{StringTransport} and a L{MemoryReactorClock}.
"""

from unittest import TestCase

from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.testing import MemoryReactorClock, StringTransport
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.exchange import BODY_BUFFER_SIZE
from gracehttp._core.interfaces import IAppAdapter, IExchangeChannel
from gracehttp._protocols.http11 import (
    HOLD_SIZE,
    LARGE_BODY_READ_SIZE,
    MAX_PIPELINED,
    HTTPChannel,
    HTTPFactory,
)
from gracehttp._settings import HTTPSettings


@implementer(IAppAdapter)
class ManualAdapter:
    """
    An adapter that records the exchanges it is given and lets the test
    answer them.
    """

    def __init__(self):
        self.exchanges = []
        self.cancelled = []

    def handle(self, exchange):
        self.exchanges.append(exchange)
        exchange.appStarted(lambda: self.cancelled.append(exchange))

    def startup(self):
        pass

    def shutdown(self):
        pass


def respond(exchange, body=b"ok", status=200, headers=None):
    """
    Answer an exchange completely, the way an adapter would.
    """
    if headers is None:
        headers = [(b"content-length", b"%d" % len(body))]
    exchange.startResponse(status, headers)
    exchange.write(body)
    exchange.finish()
    exchange.appFinished()


class ChannelTestsMixin:
    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1_000_000_000)
        self.adapter = ManualAdapter()
        self.factory = HTTPFactory(
            self.adapter, self.reactor, HTTPSettings(disconnectGracePeriod=3.0)
        )
        self.channel, self.transport = self.connect()

    def connect(self):
        channel = self.factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def take(self):
        """
        Return and clear what the channel wrote.
        """
        value = self.transport.value()
        self.transport.clear()
        return value


class FramingTests(ChannelTestsMixin, TestCase):
    def test_interfaces(self):
        """
        The channel provides IExchangeChannel.
        """
        self.assertTrue(verifyObject(IExchangeChannel, self.channel))

    def test_simpleRequest(self):
        """
        A GET becomes one exchange with method, path, query, version, headers
        (lowercased) and addresses filled in.
        """
        self.channel.dataReceived(
            b"GET /a%20b/c?x=1&y=2 HTTP/1.1\r\nHost: example\r\nX-Thing: V\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.method, "GET")
        self.assertEqual(exchange.rawPath, b"/a%20b/c")
        self.assertEqual(exchange.queryString, b"x=1&y=2")
        self.assertEqual(exchange.httpVersion, "1.1")
        self.assertEqual(exchange.headers, [(b"host", b"example"), (b"x-thing", b"V")])
        self.assertEqual(exchange.client, ("192.168.1.1", 54321))
        self.assertEqual(exchange.server, ("10.0.0.1", 12345))
        self.assertTrue(exchange.bodyComplete)

    def test_absoluteForm(self):
        """
        An absolute-form target (RFC 9112 section 3.2.2) yields its path and
        query.
        """
        self.channel.dataReceived(b"GET http://example/p/q?z=1 HTTP/1.1\r\nHost: example\r\n\r\n")
        [exchange] = self.adapter.exchanges
        self.assertEqual((exchange.rawPath, exchange.queryString), (b"/p/q", b"z=1"))

    def test_contentLengthResponse(self):
        """
        A response with Content-Length is sent as is, with a Date header, in
        one write together with its head.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [(b"Content-Length", b"5")])
        self.assertEqual(self.transport.value(), b"")
        exchange.write(b"hello")
        self.assertEqual(
            self.take(),
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"
            b"date: Sun, 09 Sep 2001 01:46:40 GMT\r\n\r\nhello",
        )
        exchange.finish()
        self.assertFalse(self.transport.disconnecting)

    def test_chunkedResponse(self):
        """
        Without Content-Length an HTTP/1.1 response is chunked and ends with
        the last chunk.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [])
        exchange.write(b"hello")
        exchange.write(b", world")
        exchange.finish()
        value = self.take()
        self.assertIn(b"transfer-encoding: chunked\r\n", value)
        self.assertTrue(value.endswith(b"\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"))

    def test_http10CloseDelimited(self):
        """
        An HTTP/1.0 response without Content-Length is delimited by closing
        the connection.
        """
        self.channel.dataReceived(b"GET / HTTP/1.0\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [])
        exchange.write(b"body")
        exchange.finish()
        value = self.take()
        self.assertNotIn(b"transfer-encoding", value)
        self.assertIn(b"connection: close\r\n", value)
        self.assertTrue(value.endswith(b"\r\n\r\nbody"))
        self.assertTrue(self.transport.disconnecting)

    def test_http10KeepAlive(self):
        """
        An HTTP/1.0 client asking for keep-alive gets it when the response
        has a Content-Length.
        """
        self.channel.dataReceived(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        respond(self.adapter.exchanges[0])
        self.assertIn(b"connection: keep-alive\r\n", self.take())
        self.assertFalse(self.transport.disconnecting)

    def test_headNoBody(self):
        """
        A HEAD response keeps the application's Content-Length but carries no
        body.
        """
        self.channel.dataReceived(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0], body=b"x" * 10)
        value = self.take()
        self.assertIn(b"content-length: 10\r\n", value)
        self.assertTrue(value.endswith(b"\r\n\r\n"))
        self.assertFalse(self.transport.disconnecting)

    def test_noBodyStatuses(self):
        """
        204 and 304 responses carry no body and no chunked framing; their
        status and headers are intact.
        """
        for status in (204, 304):
            self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            exchange = self.adapter.exchanges[-1]
            exchange.startResponse(status, [(b"etag", b'"abc"')])
            exchange.write(b"ignored")
            exchange.finish()
            value = self.take()
            self.assertTrue(value.startswith(b"HTTP/1.1 %d " % status))
            self.assertIn(b'etag: "abc"\r\n', value)
            self.assertNotIn(b"transfer-encoding", value)
            self.assertTrue(value.endswith(b"\r\n\r\n"))

    def test_neverMoreThanContentLength(self):
        """
        Bytes past the application's Content-Length are not sent, and the
        connection closes after the response.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0], body=b"0123456789", headers=[(b"content-length", b"4")])
        self.assertTrue(self.take().endswith(b"\r\n\r\n0123"))
        self.assertTrue(self.transport.disconnecting)

    def test_shortContentLengthCloses(self):
        """
        A response that ends before its Content-Length closes the connection.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0], body=b"ab", headers=[(b"content-length", b"4")])
        self.assertTrue(self.transport.disconnecting)

    def test_applicationConnectionClose(self):
        """
        An application's C{connection: close} closes after the response.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(
            self.adapter.exchanges[0],
            headers=[(b"content-length", b"2"), (b"connection", b"close")],
        )
        self.assertTrue(self.transport.disconnecting)

    def test_retractHeadBeforeBody(self):
        """
        A response head not yet written can be taken back and replaced (the
        channel holds it until the first body byte); once a body byte is
        written it cannot.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [(b"x-a", b"1")])
        self.assertTrue(exchange.retractResponse())
        respond(exchange, status=500, body=b"no")
        value = self.take()
        self.assertTrue(value.startswith(b"HTTP/1.1 500 "), value)
        self.assertNotIn(b"x-a", value)
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        exchange = self.adapter.exchanges[1]
        exchange.startResponse(200, [])
        exchange.write(b"a")
        self.assertFalse(exchange.retractResponse())

    def test_abortClosesWithoutLastChunk(self):
        """
        An aborted chunked response closes the connection without the
        terminating chunk.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [])
        exchange.write(b"part")
        exchange.abort()
        self.assertFalse(self.take().endswith(b"0\r\n\r\n"))
        self.assertTrue(self.transport.disconnecting)

    def test_dateCachedPerSecond(self):
        """
        The Date header follows the clock, one formatting per second.
        """
        first = self.factory.serverState.dateHeader()
        self.reactor.advance(0.5)
        self.assertIs(self.factory.serverState.dateHeader(), first)
        self.reactor.advance(0.5)
        self.assertEqual(
            self.factory.serverState.dateHeader(), b"date: Sun, 09 Sep 2001 01:46:41 GMT\r\n"
        )


class KeepAliveAndPipeliningTests(ChannelTestsMixin, TestCase):
    def test_keepAlive(self):
        """
        Two requests, one after the other, share one connection.
        """
        self.channel.dataReceived(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0], b"one")
        self.channel.dataReceived(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[1], b"two")
        value = self.take()
        self.assertTrue(value.index(b"one") < value.index(b"two"))
        self.assertFalse(self.transport.disconnecting)

    def test_pipelinedInOrder(self):
        """
        Pipelined requests start one at a time, each after the previous
        response finished, so responses go out in order.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/1"])
        respond(self.adapter.exchanges[0], b"one")
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/1", b"/2"])
        respond(self.adapter.exchanges[1], b"two")
        value = self.take()
        self.assertTrue(value.index(b"one") < value.index(b"two"))

    def test_pipelineLimitPausesReading(self):
        """
        Past MAX_PIPELINED queued requests the channel stops parsing: what
        follows is held, the transport pauses past HOLD_SIZE held bytes, and
        answering requests resumes both; every request is served in order.
        """
        request = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"
        self.channel.dataReceived(b"".join(request % i for i in range(MAX_PIPELINED)))
        self.channel.dataReceived(request % MAX_PIPELINED)
        self.assertEqual(self.transport.producerState, "producing")
        self.channel.dataReceived(
            b"GET /big HTTP/1.1\r\nHost: x\r\nX-Pad: %b\r\n\r\n" % (b"p" * HOLD_SIZE)
        )
        self.assertEqual(self.transport.producerState, "paused")
        respond(self.adapter.exchanges[0])
        self.reactor.advance(0)
        # /16 is parsed from what was held, and the queue is full again.
        self.assertEqual(self.transport.producerState, "paused")
        respond(self.adapter.exchanges[1])
        self.reactor.advance(0)
        self.assertEqual(self.transport.producerState, "producing")
        for index in range(2, MAX_PIPELINED + 2):
            respond(self.adapter.exchanges[index])
        self.assertEqual(
            [e.rawPath for e in self.adapter.exchanges],
            [b"/%d" % i for i in range(MAX_PIPELINED + 1)] + [b"/big"],
        )

    def test_connectionCloseRequest(self):
        """
        A request with C{Connection: close} gets C{connection: close} and the
        connection is closed after the response.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        respond(self.adapter.exchanges[0])
        self.assertIn(b"connection: close\r\n", self.take())
        self.assertTrue(self.transport.disconnecting)


class BodyTests(ChannelTestsMixin, TestCase):
    def test_contentLengthBody(self):
        """
        A Content-Length body reaches the exchange, possibly over several
        reads, and completes.
        """
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        [exchange] = self.adapter.exchanges
        self.assertFalse(exchange.bodyComplete)
        self.assertEqual(exchange.readBody(), b"01234")
        self.channel.dataReceived(b"56789")
        self.assertTrue(exchange.bodyComplete)
        self.assertEqual(exchange.readBody(), b"56789")

    def test_chunkedBody(self):
        """
        A chunked request body is de-chunked into the exchange.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.bodyComplete)
        self.assertEqual(exchange.readBody(), b"hello world")

    def test_bodyBufferBounded(self):
        """
        Past BODY_BUFFER_SIZE buffered bytes the channel stops parsing and
        holds what arrives; past HOLD_SIZE held bytes the transport pauses.
        The application's read resumes both and the held bytes follow (on
        the next reactor turn, after the read returned).
        """
        size = BODY_BUFFER_SIZE * 4
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
        )
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(b"x" * (BODY_BUFFER_SIZE + 1))
        self.channel.dataReceived(b"y" * HOLD_SIZE)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(exchange.bufferedBody, BODY_BUFFER_SIZE + 1)
        self.channel.dataReceived(b"z")
        self.assertEqual(self.transport.producerState, "paused")
        self.assertEqual(exchange.readBody(), b"x" * (BODY_BUFFER_SIZE + 1))
        self.assertEqual(exchange.bufferedBody, 0)
        self.reactor.advance(0)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(exchange.readBody(), b"y" * HOLD_SIZE + b"z")

    def test_expectContinueOnFirstRead(self):
        """
        C{100 Continue} is sent when the application first reads the body,
        not before, and only once.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertEqual(self.take(), b"")
        exchange.readBody()
        exchange.readBody()
        self.assertEqual(self.take(), b"HTTP/1.1 100 Continue\r\n\r\n")

    def test_expectContinueUnreadCloses(self):
        """
        A response given without reading an expected body closes the
        connection: the client may or may not send that body.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        respond(self.adapter.exchanges[0])
        self.assertNotIn(b"100 Continue", self.take())
        self.assertTrue(self.transport.disconnecting)

    def test_bodyConsumedPerExchange(self):
        """
        Reading stops past BODY_BUFFER_SIZE unconsumed bytes of one
        exchange and resumes only when that exchange reports its bytes
        consumed: another exchange's consumption does not resume it.
        """
        self.channel.dataReceived(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (BODY_BUFFER_SIZE * 2)
            + b"x" * (BODY_BUFFER_SIZE + 1)
        )
        self.channel.dataReceived(b"y" * (HOLD_SIZE + 1))
        self.assertEqual(self.transport.producerState, "paused")
        [first] = self.adapter.exchanges
        self.channel.bodyConsumed(first, 3)
        self.reactor.advance(0)
        self.assertEqual(self.transport.producerState, "paused")
        respond(first)
        second = self.adapter.exchanges[1]
        self.assertEqual(len(second.readBody()), BODY_BUFFER_SIZE + 1)
        self.reactor.advance(0)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(second.readBody(), b"y" * (HOLD_SIZE + 1))

    def test_continueWanted(self):
        """
        C{100 Continue} is written only while the client may still wait
        for it: not once the response started, the body is complete or the
        exchange is disconnected.
        """
        expect = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        self.channel.dataReceived(expect + b"a")
        [exchange] = self.adapter.exchanges
        self.channel.continueWanted(exchange)
        self.assertEqual(self.take(), b"HTTP/1.1 100 Continue\r\n\r\n")
        exchange.startResponse(200, [(b"content-length", b"2")])
        self.channel.continueWanted(exchange)
        self.assertEqual(self.take(), b"")
        exchange.write(b"ok")
        exchange.finish()
        exchange.appFinished()
        self.take()
        channel, transport = self.connect()
        channel.dataReceived(expect + b"abc")
        channel.continueWanted(self.adapter.exchanges[-1])
        self.assertEqual(transport.value(), b"")
        channel, transport = self.connect()
        channel.dataReceived(expect)
        exchange = self.adapter.exchanges[-1]
        exchange.disconnect()
        channel.continueWanted(exchange)
        self.assertEqual(transport.value(), b"")

    def test_unreadBodyDiscarded(self):
        """
        Body bytes the application did not read are discarded and the next
        request on the connection is served.
        """
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        first = self.adapter.exchanges[0]
        respond(first)
        self.channel.dataReceived(b"def" + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(first.bufferedBody, 0)
        self.assertEqual(self.adapter.exchanges[1].rawPath, b"/next")


class ReadSizeTests(ChannelTestsMixin, TestCase):
    """
    While a request body larger than the exchange's buffer arrives, the
    channel asks its transport for larger reads (C{bufferSize}), and puts
    the transport's own size back once the body is complete.
    """

    def connect(self):
        channel = self.factory.buildProtocol(None)
        transport = StringTransport()
        transport.bufferSize = 65536
        channel.makeConnection(transport)
        return channel, transport

    def test_largeContentLength(self):
        """
        A Content-Length over BODY_BUFFER_SIZE raises the read size until
        the body is complete; the next, small, request leaves it alone.
        """
        size = BODY_BUFFER_SIZE + 1
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
        )
        self.assertEqual(self.transport.bufferSize, LARGE_BODY_READ_SIZE)
        self.channel.dataReceived(b"x" * (size - 1))
        self.assertEqual(self.transport.bufferSize, LARGE_BODY_READ_SIZE)
        self.channel.dataReceived(b"x")
        self.assertEqual(self.transport.bufferSize, 65536)
        [exchange] = self.adapter.exchanges
        self.assertEqual(len(exchange.readBody()), size)
        respond(exchange)
        self.channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        self.assertEqual(self.transport.bufferSize, 65536)

    def test_smallBody(self):
        """
        A body that fits the exchange's buffer keeps the transport's read
        size.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY_BUFFER_SIZE
        )
        self.assertEqual(self.transport.bufferSize, 65536)

    def test_chunked(self):
        """
        A chunked body (of unknown size) raises the read size until its
        last chunk.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        self.assertEqual(self.transport.bufferSize, LARGE_BODY_READ_SIZE)
        self.channel.dataReceived(b"5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(self.transport.bufferSize, 65536)

    def test_transportWithoutReadSize(self):
        """
        A transport with no C{bufferSize} (TLS, say) is left as it is.
        """
        channel = self.factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        self.assertFalse(hasattr(transport, "bufferSize"))


class DisconnectTests(ChannelTestsMixin, TestCase):
    def test_connectionLostDisconnects(self):
        """
        connectionLost disconnects the active exchange and starts its grace
        period.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        self.channel.connectionLost(None)
        self.assertTrue(exchange.disconnected)
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.reactor.advance(3)
        self.assertEqual(self.adapter.cancelled, [exchange])

    def test_queuedNeverStarted(self):
        """
        A pipelined request still queued when the client leaves is never
        handed to the adapter.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.channel.connectionLost(None)
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/1"])

    def test_requestsInFlightCounted(self):
        """
        The factory counts requests from head to application finish,
        including pipelined ones that never started because the client left.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertEqual(self.factory.serverState.requestsInFlight, 2)
        self.channel.connectionLost(None)
        self.assertEqual(self.factory.serverState.requestsInFlight, 1)
        logged = []
        self.factory.serverState.requestLog = logged.append
        self.adapter.exchanges[0].appFinished()
        self.assertEqual(self.factory.serverState.requestsInFlight, 0)
        self.assertEqual(logged, [self.adapter.exchanges[0]])

    def test_whenDrained(self):
        """
        whenDrained fires only once no request is in flight and no
        connection is open.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        drained = self.factory.serverState.whenDrained()
        respond(self.adapter.exchanges[0])
        self.assertFalse(drained.called)
        self.channel.connectionLost(None)
        self.assertTrue(drained.called)

    def test_serverCloseIsNotDisconnect(self):
        """
        A close the server makes after a complete response does not mark the
        exchange disconnected.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        [exchange] = self.adapter.exchanges
        respond(exchange)
        self.channel.connectionLost(None)
        self.assertFalse(exchange.disconnected)
        self.assertEqual(exchange.outcome, "completed")

    def test_writeBackpressure(self):
        """
        The transport pausing its producer pauses the active exchange's
        writers; resuming wakes them.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        woken = []
        exchange.wake = lambda: woken.append(True)
        self.channel.pauseProducing()
        self.assertTrue(exchange.writePaused)
        self.channel.resumeProducing()
        self.assertFalse(exchange.writePaused)
        self.assertEqual(woken, [True])

    def test_pausedWriterCarriesToNextExchange(self):
        """
        An exchange that becomes active while the transport is paused starts
        paused.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.channel.pauseProducing()
        respond(self.adapter.exchanges[0])
        self.assertTrue(self.adapter.exchanges[1].writePaused)


SMUGGLING = {
    "content-length and transfer-encoding": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "conflicting content-length": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
    ),
    "duplicate content-length": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    ),
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "whitespace before colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare LF in headers": b"GET / HTTP/1.1\r\nHost: x\nX-A: y\r\n\r\n",
    "invalid method": b"G(ET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "HTTP/1.0 chunked": (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ),
    "unknown transfer-coding": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "chunked not last": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "chunked twice": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "transfer-encoding with space before colon": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
    ),
    "content-length with sign": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    "content-length list": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
    "content-length overflow": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
    ),
    "chunk size overflow": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"fffffffffffffffff1\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk size with space": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
    ),
    "chunk size 0x": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk without CRLF after data": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    ),
    "bare LF in chunked body": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"
    ),
    "control character in chunk extension": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;a\x01\r\nhello\r\n0\r\n\r\n"
    ),
    "empty chunk extension value": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk extension without name": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;=b\r\nhello\r\n0\r\n\r\n"
    ),
    "space after chunk extension": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;a=b \r\nhello\r\n0\r\n\r\n"
    ),
    "bare CR in chunk extension": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;a\rb\r\nhello\r\n0\r\n\r\n"
    ),
    "two Host fields": b"GET / HTTP/1.1\r\nHost: x\r\nHost: evil.example.com\r\n\r\n",
    "obs-fold in trailer": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n"
    ),
    "space in target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "control character in target": b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
    "DEL in target": b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid header name": b"GET / HTTP/1.1\r\nHost: x\r\nX(A: 1\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n",
    "header line without colon": b"GET / HTTP/1.1\r\nHost: x\r\nXA\r\n\r\n",
    "bare CR in header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "control character in header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "HTTP/1.0 identity transfer-encoding": (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"
    ),
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


class StrictnessTests(ChannelTestsMixin, TestCase):
    def test_smugglingRejected(self):
        """
        Each request that could smuggle another gets 400 and the connection
        closes; the request behind it never reaches the adapter.
        """
        for name, data in SMUGGLING.items():
            with self.subTest(name):
                self.adapter.exchanges = []
                channel, transport = self.connect()
                channel.dataReceived(data + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(transport.value().startswith(b"HTTP/1.1 400 Bad Request\r\n"), name)
                self.assertTrue(transport.disconnecting, name)
                self.assertNotIn(b"/smuggled", [e.rawPath for e in self.adapter.exchanges])

    def test_unsupportedVersion(self):
        """
        An HTTP version other than 1.0 and 1.1 is answered 505 and the
        connection closes (RFC 9110 section 15.6.6).
        """
        self.channel.dataReceived(
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n" + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 505 "))
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.adapter.exchanges, [])

    def test_badChunkCutsActiveRequest(self):
        """
        A bad chunk size in the active request's body disconnects that
        exchange (its application is told) and answers 400.
        """
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.channel.dataReceived(b"zz\r\n")
        self.assertTrue(exchange.disconnected)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 400 "))
        self.assertTrue(self.transport.disconnecting)

    def test_badRequestAfterPipelined(self):
        """
        A bad request behind a valid pipelined one: the valid one is answered
        first, then 400, then the connection closes.
        """
        self.channel.dataReceived(
            b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost : x\r\n\r\n"
        )
        [exchange] = self.adapter.exchanges
        self.assertEqual(self.transport.value(), b"")
        respond(exchange, b"fine")
        value = self.take()
        self.assertLess(value.index(b"fine"), value.index(b"400 Bad Request"))
        self.assertTrue(self.transport.disconnecting)

    def test_serverKeepsServing(self):
        """
        After a malformed request on one connection, the next connection is
        served normally.
        """
        self.channel.dataReceived(b"BAD\r\n\r\n")
        channel, transport = self.connect()
        channel.dataReceived(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[-1], b"fine")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))

    def test_invalidResponseHeadersRefused(self):
        """
        Response header values with LF, CR or NUL and names that are not
        tokens are refused; nothing of them is written and a valid response
        can still be given.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        for header in [
            (b"x-a", b"a\nb"),
            (b"x-a", b"a\rb"),
            (b"x-a", b"a\x00b"),
            (b"x a", b"v"),
            (b"x:a", b"v"),
            (b"", b"v"),
        ]:
            with self.subTest(header):
                with self.assertRaises(ValueError):
                    exchange.startResponse(200, [header])
        self.assertEqual(self.transport.value(), b"")
        respond(exchange, b"safe")
        self.assertTrue(self.take().startswith(b"HTTP/1.1 200 "))

    def test_applicationFramingReplaced(self):
        """
        An application's Transfer-Encoding is dropped: the channel frames
        the body itself.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        exchange.startResponse(200, [(b"transfer-encoding", b"gzip")])
        exchange.write(b"abc")
        exchange.finish()
        value = self.take()
        self.assertNotIn(b"gzip", value)
        self.assertEqual(value.count(b"transfer-encoding: chunked"), 1)
        self.assertTrue(value.endswith(b"3\r\nabc\r\n0\r\n\r\n"))

    def test_invalidResponseHeaderNotEmitted(self):
        """
        A response header with CR/LF is refused before anything is written.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [exchange] = self.adapter.exchanges
        with self.assertRaises(ValueError):
            exchange.startResponse(200, [(b"x-a", b"a\r\nset-cookie: evil")])
        respond(exchange, b"safe")
        self.assertNotIn(b"evil", self.take())


class StopBeforeFirstRequestTests(ChannelTestsMixin, TestCase):
    """
    A graceful stop does not treat a connection that was accepted but has
    not sent its first request yet as idle: its first request is served,
    bounded by the head timeout.
    """

    def test_firstRequestServedAfterStop(self):
        """
        A connection stopped before any byte arrived stays open, and its
        first request is answered with Connection: close, then closed.
        """
        self.factory.serverState.closeIdleConnections()
        self.assertFalse(self.transport.disconnecting)
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0])
        response = self.take()
        self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response)
        self.assertIn(b"connection: close\r\n", response.lower())
        self.assertTrue(self.transport.disconnecting)

    def test_silentConnectionClosedByHeadTimeout(self):
        """
        A connection stopped before any byte arrived that then sends
        nothing is closed, without a response, when the head timeout that
        ran from the connection expires.
        """
        self.factory.serverState.closeIdleConnections()
        self.reactor.advance(self.factory.settings.timeoutHeader - 0.5)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.5)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.take(), b"")


class ChannelType(TestCase):
    def test_factoryBuildsChannel(self):
        """
        The factory builds HTTPChannel protocols bound to itself.
        """
        factory = HTTPFactory(ManualAdapter(), MemoryReactorClock())
        protocol = factory.buildProtocol(None)
        self.assertIsInstance(protocol, HTTPChannel)
        self.assertIs(protocol.factory, factory)


class ALPNTests(TestCase):
    def test_acceptableProtocols(self):
        """
        The factory tells Twisted's TLS wrapper (IProtocolNegotiationFactory)
        that it speaks http/1.1, so a client offering ALPN is not refused.
        """
        factory = HTTPFactory(ManualAdapter(), MemoryReactorClock())
        self.assertTrue(verifyObject(IProtocolNegotiationFactory, factory))
        self.assertEqual(factory.acceptableProtocols(), [b"http/1.1"])


class AbortRecordingTransport(StringTransport):
    """
    A L{StringTransport} that records C{abortConnection}.
    """

    aborted = False

    def abortConnection(self):
        self.aborted = True
        StringTransport.abortConnection(self)


CLOSE_SETTINGS = HTTPSettings(
    limitRequestHeaderSize=1024,
    limitRequestBody=100,
    timeoutHeader=10.0,
    timeoutKeepAlive=5.0,
    timeoutClose=15.0,
)
CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class ClosingTests(ChannelTestsMixin, TestCase):
    """
    Every way the server closes a connection leaves its transport reading
    (a TLS close needs the client's close_notify; what is read is
    discarded) and bounds the close with C{timeoutClose}.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.adapter = ManualAdapter()
        self.factory = HTTPFactory(self.adapter, self.reactor, CLOSE_SETTINGS)
        self.channel, self.transport = self.connect()

    def connect(self):
        channel = self.factory.buildProtocol(None)
        transport = AbortRecordingTransport()
        channel.makeConnection(transport)
        return channel, transport

    def respondTo(self, index=0, headers=()):
        respond(
            self.adapter.exchanges[index],
            headers=[(b"content-length", b"2"), *headers],
        )

    def heldThenClose(self):
        """
        Reading is paused by a full body buffer and the transport by
        HOLD_SIZE held bytes; then the response closes the connection.
        """
        self.factory.settings = HTTPSettings()
        self.channel, self.transport = self.connect()
        size = BODY_BUFFER_SIZE + HOLD_SIZE + 2
        self.channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
        )
        self.channel.dataReceived(b"a" * (BODY_BUFFER_SIZE + 1))
        self.channel.dataReceived(b"b" * (HOLD_SIZE + 1))
        self.assertEqual(self.transport.producerState, "paused")
        self.respondTo(headers=[(b"connection", b"close")])

    def closePaths(self):
        """
        @return: C{(name, close)}: each C{close()} makes the server close
            the connection one way.
        """
        timeoutHeader = CLOSE_SETTINGS.timeoutHeader
        timeoutKeepAlive = CLOSE_SETTINGS.timeoutKeepAlive
        return [
            ("400", lambda: self.channel.dataReceived(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")),
            ("505", lambda: self.channel.dataReceived(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n")),
            (
                "413",
                lambda: self.channel.dataReceived(
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n"
                ),
            ),
            (
                "431",
                lambda: self.channel.dataReceived(
                    b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %b\r\n\r\n" % (b"p" * 1024)
                ),
            ),
            (
                "408",
                lambda: (
                    self.channel.dataReceived(b"GET / HTTP/1.1\r\n"),
                    self.reactor.advance(timeoutHeader),
                ),
            ),
            (
                "upgrade",
                lambda: (
                    self.channel.dataReceived(
                        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
                    ),
                    self.respondTo(),
                ),
            ),
            (
                "400 after a pipelined request",
                lambda: (
                    self.channel.dataReceived(
                        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nBad Header: x\r\n\r\n"
                    ),
                    self.respondTo(),
                ),
            ),
            ("connection: close", lambda: (self.channel.dataReceived(CLOSE), self.respondTo())),
            (
                "keep-alive timeout",
                lambda: (
                    self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                    self.respondTo(),
                    self.reactor.advance(timeoutKeepAlive),
                ),
            ),
            (
                "idle at shutdown",
                lambda: (
                    self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                    self.respondTo(),
                    self.factory.serverState.closeIdleConnections(),
                ),
            ),
            (
                "aborted response",
                lambda: (
                    self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                    self.adapter.exchanges[0].startResponse(200, []),
                    self.adapter.exchanges[0].abort(),
                ),
            ),
            ("transport paused by held bytes", self.heldThenClose),
        ]

    def test_closeReadsOn(self):
        """
        Whatever closes the connection, the transport is left reading (not
        paused), the channel is no longer its producer, and bytes that
        arrive afterwards are discarded, never parsed.
        """
        for name, close in self.closePaths():
            with self.subTest(name):
                self.setUp()
                close()
                exchanges = len(self.adapter.exchanges)
                self.assertTrue(self.transport.disconnecting)
                self.assertEqual(self.transport.producerState, "producing")
                self.assertIsNone(self.transport.producer)
                self.channel.dataReceived(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
                self.reactor.advance(0)
                self.assertEqual(len(self.adapter.exchanges), exchanges)

    def test_closeTimesOut(self):
        """
        Whatever closes the connection, it is aborted C{timeoutClose}
        seconds later if it is still open (a peer that never answers
        close_notify, or never reads).
        """
        for name, close in self.closePaths():
            with self.subTest(name):
                self.setUp()
                close()
                self.reactor.advance(CLOSE_SETTINGS.timeoutClose - 0.001)
                self.assertFalse(self.transport.aborted)
                self.reactor.advance(0.001)
                self.assertTrue(self.transport.aborted)

    def test_connectionLostCancelsCloseTimer(self):
        """
        A close that completes (connectionLost) cancels the abort: no timer
        is left behind.
        """
        self.channel.dataReceived(CLOSE)
        self.respondTo()
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.channel.connectionLost(None)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertFalse(self.transport.aborted)

    def test_closeWaitsForWriteBuffer(self):
        """
        While the transport holds more than its high-water mark (it paused
        the channel), a closing channel stays its producer and the close is
        not timed: a slow client still gets all of a large last response.
        Once the transport drained, the channel unregisters and the close
        is timed.
        """
        self.channel.dataReceived(CLOSE)
        self.channel.pauseProducing()
        self.respondTo()
        self.assertTrue(self.transport.disconnecting)
        self.assertIs(self.transport.producer, self.channel)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.channel.resumeProducing()
        self.assertIsNone(self.transport.producer)
        self.reactor.advance(CLOSE_SETTINGS.timeoutClose)
        self.assertTrue(self.transport.aborted)

    def test_closeTimedOnce(self):
        """
        Closing an already closing connection (shutdown after a rejection)
        does not move the close timer.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")
        self.reactor.advance(10)
        self.channel.stopKeepAlive()
        self.channel.abortResponse(None)
        self.reactor.advance(CLOSE_SETTINGS.timeoutClose - 10)
        self.assertTrue(self.transport.aborted)
