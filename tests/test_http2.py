"""
Tests for L{gracehttp._protocols.http2}: the HTTP/2 connection driven by
C{h2}'s client state machine through a L{StringTransport}
(L{tests.h2peer.LoopbackPeer}), on a L{MemoryReactorClock} for every
timing rule.
"""

from typing import ClassVar
from unittest import TestCase

from h2.errors import ErrorCodes
from h2.events import (
    InformationalResponseReceived,
    TrailersReceived,
    WindowUpdated,
)
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame, PriorityFrame, WindowUpdateFrame
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.exchange import (
    CANCELLED,
    CLIENT_DISCONNECTED,
    COMPLETED,
    REJECTED,
    SHUTDOWN,
)
from gracehttp._core.interfaces import IExchangeChannel
from gracehttp._core.serverstate import IConnection, ServerState
from gracehttp._protocols.http2 import CONNECTION_WINDOW, STREAM_WINDOW, HTTP2Connection
from gracehttp._protocols.http2.guard import IDLE_BURST, PREFACE, RESET_BURST, FrameGuard
from gracehttp._protocols.http2.sending import CONTROL_BACKLOG
from gracehttp._protocols.http2.stream import HIGH_WATER
from gracehttp._protocols.http11 import ConnectionState, HTTPFactory
from gracehttp._settings import HTTPSettings

from .h2peer import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    LoopbackPeer,
    Peer,
    PingFrame,
    RstStreamFrame,
    clientMachine,
    request,
    settingsFrame,
)
from .test_http11 import ManualAdapter, respond

GRACE = 3.0


class HTTP2TestsMixin:
    """
    A server connection and its client, and helpers to answer requests.
    """

    settings: ClassVar[dict] = {}

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1_000_000_000)
        self.adapter = ManualAdapter()
        self.logged = []
        settings = HTTPSettings(disconnectGracePeriod=GRACE, **self.settings)
        self.state = ServerState(
            self.reactor, settings.limitConnections, settings.limitConcurrency, self.logged.append
        )
        self.factory = HTTPFactory(
            self.adapter, self.reactor, settings, self.state, http2=HTTP2Connection
        )
        self.protocol = HTTP2Connection(self.factory)
        self.peer = LoopbackPeer(self.protocol)

    def turn(self):
        """
        Let the reactor run what is due now (flushes), then read.
        """
        self.reactor.advance(0)
        return self.peer.receive()

    def get(self, path=b"/", headers=(), method=b"GET"):
        """
        Open a stream with a bodiless request; return its exchange.
        """
        before = len(self.adapter.exchanges)
        self.peer.send(request(method=method, path=path, headers=headers))
        self.assertEqual(len(self.adapter.exchanges), before + 1, self.peer.receive())
        return self.adapter.exchanges[-1]

    def response(self, streamId):
        return self.peer.responses().get(streamId)


class FramingTests(HTTP2TestsMixin, TestCase):
    """
    Requests become exchanges; responses are framed as HTTP/2.
    """

    def test_interfaces(self):
        """The connection provides IConnection; each stream is its exchange's IExchangeChannel."""
        self.assertTrue(verifyObject(IConnection, self.protocol))
        exchange = self.get()
        self.assertTrue(verifyObject(IExchangeChannel, exchange._channel))

    def test_settings(self):
        """
        The server advertises its stream limit, stream window and header
        list size, and raises the connection window.
        """
        remote = self.peer.client.remote_settings
        self.assertEqual(remote.max_concurrent_streams, 100)
        self.assertEqual(remote.initial_window_size, STREAM_WINDOW)
        self.assertEqual(remote.max_header_list_size, 65536 + 32 * 100)
        self.assertEqual(self.peer.client.outbound_flow_control_window, CONNECTION_WINDOW)

    def test_request(self):
        """
        A GET becomes one exchange: method, path, query, version 2, the
        fields with Host from :authority, addresses and scheme.
        """
        exchange = self.get(b"/a%20b?x=1", headers=[(b"x-thing", b"V")])
        self.assertEqual(exchange.method, "GET")
        self.assertEqual((exchange.rawPath, exchange.queryString), (b"/a%20b", b"x=1"))
        self.assertEqual(exchange.httpVersion, "2")
        self.assertEqual(exchange.headers, [(b"host", b"example"), (b"x-thing", b"V")])
        self.assertEqual(exchange.client, ("192.168.1.1", 54321))
        self.assertEqual(exchange.server, ("10.0.0.1", 443))
        self.assertEqual(exchange.scheme, "http")
        self.assertTrue(exchange.bodyComplete)

    def test_cookiesJoined(self):
        """Cookie fields are joined with '; ' into one (RFC 9113 section 8.2.3)."""
        exchange = self.get(headers=[(b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2")])
        self.assertEqual(
            exchange.headers, [(b"host", b"example"), (b"cookie", b"a=1; b=2"), (b"x", b"y")]
        )

    def test_fragmentCut(self):
        """A fragment in :path is cut off, as HTTP/1.1 does."""
        exchange = self.get(b"/p?q=1#frag")
        self.assertEqual((exchange.rawPath, exchange.queryString), (b"/p", b"q=1"))

    def test_response(self):
        """
        A response goes out as HEADERS (:status, the application's fields,
        date) and DATA with END_STREAM.
        """
        respond(self.get(), b"hello")
        self.turn()
        [response] = self.peer.responses().values()
        [head] = response["headers"]
        self.assertEqual(head[b":status"], b"200")
        self.assertEqual(head[b"content-length"], b"5")
        self.assertIn(b"date", head)
        self.assertEqual((response["body"], response["ended"]), (b"hello", True))

    def test_emptyResponseOneFrame(self):
        """A response without a body is one HEADERS frame with END_STREAM."""
        exchange = self.get()
        exchange.startResponse(204, [])
        exchange.finish()
        events = self.turn()
        self.assertEqual(
            [type(event).__name__ for event in events], ["ResponseReceived", "StreamEnded"]
        )

    def test_headNoBody(self):
        """A HEAD response carries no body, whatever the application writes."""
        respond(self.get(method=b"HEAD"), b"hello")
        self.turn()
        [response] = self.peer.responses().values()
        self.assertEqual(response["headers"][0][b"content-length"], b"5")
        self.assertEqual((response["body"], response["ended"]), (b"", True))

    def test_contentLengthTruncates(self):
        """Never more body bytes than the application's Content-Length."""
        exchange = self.get()
        exchange.startResponse(200, [(b"content-length", b"3")])
        exchange.write(b"abcdef")
        exchange.finish()
        self.turn()
        [response] = self.peer.responses().values()
        self.assertEqual((response["body"], response["ended"]), (b"abc", True))

    def test_shortResponseReset(self):
        """
        Fewer bytes than the Content-Length: the stream ends with
        RST_STREAM (INTERNAL_ERROR), not END_STREAM.
        """
        exchange = self.get()
        exchange.startResponse(200, [(b"content-length", b"10")])
        exchange.write(b"abc")
        exchange.finish()
        self.turn()
        [response] = self.peer.responses().values()
        self.assertEqual(response["body"], b"abc")
        self.assertEqual(response["reset"], ErrorCodes.INTERNAL_ERROR)
        self.assertFalse(response["ended"])

    def test_retractHead(self):
        """A head not sent yet can be taken back, and a 500 sent instead."""
        exchange = self.get()
        exchange.startResponse(200, [])
        self.assertTrue(exchange.retractResponse())
        exchange.answerServerError()
        self.turn()
        [response] = self.peer.responses().values()
        self.assertEqual(response["headers"][0][b":status"], b"500")

    def test_abortResetsOnlyItsStream(self):
        """
        An aborted response resets its stream (INTERNAL_ERROR); another
        stream on the connection completes.
        """
        first = self.get()
        second = self.get()
        first.startResponse(200, [])
        first.write(b"part")
        self.turn()
        first.abort()
        first.appFinished()
        respond(second, b"fine")
        self.turn()
        responses = self.peer.responses()
        self.assertEqual(responses[1]["reset"], ErrorCodes.INTERNAL_ERROR)
        self.assertEqual((responses[3]["body"], responses[3]["ended"]), (b"fine", True))
        self.assertEqual([e.outcome for e in (first, second)], ["aborted", COMPLETED])

    def test_trailers(self):
        """
        With TE: trailers the exchange offers trailers, and those given to
        finish() follow the body in a HEADERS frame with END_STREAM.
        """
        exchange = self.get(headers=[(b"te", b"trailers")])
        self.assertTrue(exchange.trailersOffered)
        exchange.startResponse(200, [])
        exchange.write(b"body")
        exchange.finish([(b"Grpc-Status", b"0"), (b"content-length", b"9")])
        self.turn()
        [trailers] = [e for e in self.peer.events if isinstance(e, TrailersReceived)]
        self.assertEqual(trailers.headers, [(b"grpc-status", b"0")])
        self.assertTrue(self.response(1)["ended"])

    def test_trailersNotOffered(self):
        """Without TE: trailers, trailers given to finish() are dropped."""
        exchange = self.get()
        self.assertFalse(exchange.trailersOffered)
        exchange.startResponse(200, [])
        exchange.finish([(b"grpc-status", b"0")])
        self.turn()
        self.assertFalse([e for e in self.peer.events if isinstance(e, TrailersReceived)])
        self.assertTrue(self.response(1)["ended"])

    def test_requestTrailersDiscarded(self):
        """Request trailers end the body and are not given to the application."""
        streamId = self.peer.send(request(method=b"POST"), b"abc", end=False)
        self.peer.client.send_headers(streamId, [(b"checksum", b"x")], end_stream=True)
        self.peer.flush()
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.readBody(), b"abc")
        self.assertTrue(exchange.bodyComplete)
        self.assertNotIn(b"checksum", dict(exchange.headers))

    def test_badRequestTrailers(self):
        """Request trailers with a pseudo-header field: 400, the exchange rejected."""
        streamId = self.peer.send(request(method=b"POST"), b"abc", end=False)
        self.peer.client.send_headers(streamId, [(b":path", b"/")], end_stream=True)
        self.peer.flush()
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.disconnected)
        self.turn()
        self.assertEqual(self.response(streamId)["headers"][0][b":status"], b"400")

    def test_continue(self):
        """
        Expect: 100-continue: an informational 100 when the application
        first reads the body, not before.
        """
        self.peer.send(request(method=b"POST", headers=[(b"expect", b"100-continue")]), end=False)
        [exchange] = self.adapter.exchanges
        self.turn()
        self.assertFalse(
            [e for e in self.peer.events if isinstance(e, InformationalResponseReceived)]
        )
        exchange.readBody()
        self.turn()
        [informational] = [
            e for e in self.peer.events if isinstance(e, InformationalResponseReceived)
        ]
        self.assertEqual(dict(informational.headers)[b":status"], b"100")

    def test_continueNotAfterBody(self):
        """No 100 once the body is complete."""
        self.peer.send(
            request(method=b"POST", headers=[(b"expect", b"100-continue")]), b"all of it"
        )
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.readBody(), b"all of it")
        self.turn()
        self.assertFalse(
            [e for e in self.peer.events if isinstance(e, InformationalResponseReceived)]
        )

    def test_concurrencyLimit503(self):
        """Past limitConcurrency a stream is answered 503 with Retry-After, not started."""
        self.state._limitConcurrency = 1
        self.get()
        self.peer.send(request())
        self.turn()
        self.assertEqual(len(self.adapter.exchanges), 1)
        head = self.response(3)["headers"][0]
        self.assertEqual((head[b":status"], head[b"retry-after"]), (b"503", b"1"))

    def test_accessLog(self):
        """Each stream is logged with version 2 and its outcome."""
        respond(self.get())
        exchange = self.get()
        self.peer.reset(3)
        exchange.appFinished()
        self.assertEqual(
            [(e.httpVersion, e.status, e.outcome) for e in self.logged],
            [("2", 200, COMPLETED), ("2", None, CLIENT_DISCONNECTED)],
        )


MALFORMED = {
    "uppercase field name": request(headers=[(b"X-Up", b"1")]),
    "connection field": request(headers=[(b"connection", b"close")]),
    "transfer-encoding": request(headers=[(b"transfer-encoding", b"chunked")]),
    "upgrade field": request(headers=[(b"upgrade", b"websocket")]),
    "keep-alive field": request(headers=[(b"keep-alive", b"1")]),
    "te not trailers": request(headers=[(b"te", b"gzip")]),
    "no :method": [(b":scheme", b"https"), (b":path", b"/"), (b":authority", b"x")],
    "no :path": [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"x")],
    "no :scheme": [(b":method", b"GET"), (b":path", b"/"), (b":authority", b"x")],
    "empty :path": request(path=b""),
    "relative :path": request(path=b"a/b"),
    "asterisk for GET": request(path=b"*"),
    "space in :path": request(path=b"/a b"),
    "unknown pseudo": [*request()[:4], (b":protocol", b"websocket")],
    ":status in request": [(b":status", b"200"), *request()],
    "pseudo after field": [*request(), (b":foo", b"x")],
    "repeated pseudo": [*request()[:4], (b":path", b"/again")],
    "method not a token": request(method=b"GE T"),
    "bad scheme": request(scheme=b"1http"),
    "bad :authority": request(authority=b"user@host"),
    "host differs": request(headers=[(b"host", b"other")]),
    "two hosts": [*request(authority=b"")[:2], (b":path", b"/"), (b"host", b"a"), (b"host", b"a")],
    "value with leading space": request(headers=[(b"x", b" v")]),
    "value with control": request(headers=[(b"x", b"a\x01b")]),
    "value with newline": request(headers=[(b"x", b"a\nb")]),
}
"""
Requests that break a rule of RFC 9113 section 8 (or the shared request
syntax): each is answered 400 on its own stream.
"""


class MalformedTests(HTTP2TestsMixin, TestCase):
    """
    A malformed request is answered 400 (or 501, 413, 431) on its stream
    alone, never reaches the application, is logged as rejected, and the
    connection goes on.
    """

    settings: ClassVar[dict] = {
        "limitRequestHeaders": 10,
        "limitRequestHeaderSize": 1024,
        "limitRequestBody": 100,
    }

    def assertRefused(self, fields, status, end=True):
        self.adapter.exchanges.clear()
        self.logged.clear()
        streamId = self.peer.send(fields, end=end)
        self.turn()
        self.assertEqual(self.adapter.exchanges, [])
        response = self.response(streamId)
        self.assertIsNotNone(response, self.peer.events[-5:])
        self.assertEqual(response["headers"][0][b":status"], b"%d" % status)
        self.assertTrue(response["ended"])
        [record] = self.logged
        self.assertEqual(
            (record.status, record.outcome, record.httpVersion), (status, REJECTED, "2")
        )
        # The connection still serves.
        respond(self.get())
        self.turn()
        self.assertTrue(self.peer.responses()[streamId + 2]["ended"])

    def test_malformed(self):
        """Each malformed request gets 400 on its stream; the connection goes on."""
        for name, fields in MALFORMED.items():
            with self.subTest(name):
                self.assertRefused(fields, 400)

    def test_connect(self):
        """CONNECT (no tunnels here) gets 501."""
        self.assertRefused([(b":method", b"CONNECT"), (b":authority", b"x:443")], 501)

    def test_tooManyFields(self):
        """More than limitRequestHeaders fields: 431."""
        self.assertRefused(request(headers=[(b"x%d" % i, b"v") for i in range(11)]), 431)

    def test_headTooLarge(self):
        """A head over limitRequestHeaderSize: 431."""
        self.assertRefused(request(headers=[(b"x", b"v" * 1024)]), 431)

    def test_contentLengthTooLarge(self):
        """A Content-Length over limitRequestBody: 413, and the stream is reset (NO_ERROR)."""
        self.assertRefused(
            request(method=b"POST", headers=[(b"content-length", b"101")]), 413, end=False
        )
        self.assertEqual(self.response(1)["reset"], ErrorCodes.NO_ERROR)

    def test_bodyOverLimit(self):
        """
        A body without Content-Length over limitRequestBody: the exchange
        is disconnected (rejected), 413 answered, the stream reset.
        """
        streamId = self.peer.send(request(method=b"POST"), b"x" * 60, end=False)
        [exchange] = self.adapter.exchanges
        self.peer.client.send_data(streamId, b"x" * 60)
        self.peer.flush()
        self.assertEqual(exchange.disconnectReason, REJECTED)
        self.turn()
        self.assertEqual(self.response(streamId)["headers"][0][b":status"], b"413")
        exchange.appFinished()
        self.assertEqual(exchange.outcome, REJECTED)


class FlowControlTests(HTTP2TestsMixin, TestCase):
    """
    Request bodies: the windows reopen by what the application consumed.
    """

    def windowUpdates(self, events):
        return [(e.stream_id, e.delta) for e in events if isinstance(e, WindowUpdated)]

    def test_windowReopensOnConsumption(self):
        """
        A stream's window is not reopened while its application has not
        read; reading reopens it by the bytes read, and the connection's
        (once half of it was consumed, as h2 batches updates).
        """
        body = b"x" * STREAM_WINDOW
        first = self.peer.send(request(method=b"POST"), body, end=False)
        second = self.peer.send(request(method=b"POST"), body, end=False)
        exchanges = self.adapter.exchanges
        self.assertEqual(self.peer.client.local_flow_control_window(first), 0)
        self.assertEqual(self.windowUpdates(self.turn()), [])
        self.assertEqual(exchanges[0].readBody(), body)
        self.assertEqual(self.windowUpdates(self.turn()), [(first, STREAM_WINDOW)])
        self.assertEqual(exchanges[1].readBody(), body)
        self.assertEqual(
            sorted(self.windowUpdates(self.turn())),
            [(0, 2 * STREAM_WINDOW), (second, STREAM_WINDOW)],
        )

    def test_badContentLengthEndsConnection(self):
        """
        A Content-Length that is not a number: h2 makes it a connection
        error (GOAWAY PROTOCOL_ERROR); no application sees the request.
        """
        self.peer.send(request(headers=[(b"content-length", b"-1")]))
        self.assertEqual(self.adapter.exchanges, [])
        self.assertTrue(self.protocol.transport.disconnecting)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.PROTOCOL_ERROR)

    def test_connectionWindowBoundsAllStreams(self):
        """
        Streams whose applications do not read hold at most the
        connection window: the client cannot send more.
        """
        streams = CONNECTION_WINDOW // STREAM_WINDOW
        for _ in range(streams):
            self.peer.send(request(method=b"POST"), b"x" * STREAM_WINDOW, end=False)
        self.assertEqual(self.peer.client.outbound_flow_control_window, 0)
        self.assertEqual(sum(e.bufferedBody for e in self.adapter.exchanges), CONNECTION_WINDOW)
        self.assertEqual(self.protocol._unconsumed, CONNECTION_WINDOW)

    def test_paddingReturnedAtOnce(self):
        """Padding is given back to the windows at once: no application reads it."""
        streamId = self.peer.send(request(method=b"POST"), end=False)
        self.peer.client.send_data(streamId, b"abc", pad_length=100)
        self.peer.flush()
        self.assertEqual(self.protocol._unconsumed, 3)
        self.assertEqual(
            self.protocol._h2._inbound_flow_control_window_manager._bytes_processed, 101
        )

    def test_resetStreamGivesWindowBack(self):
        """The unconsumed bytes of a stream the client reset go back to the connection window."""
        streamId = self.peer.send(request(method=b"POST"), b"x" * 1000, end=False)
        self.peer.reset(streamId)
        self.assertEqual(self.protocol._unconsumed, 0)
        [exchange] = self.adapter.exchanges
        # The application reads what was buffered: nothing is counted twice.
        self.assertEqual(len(exchange.readBody()), 1000)
        self.assertEqual(self.protocol._unconsumed, 0)

    def test_responseEndsStreamStillSending(self):
        """
        A response complete while the client still sends its body: the
        stream is reset with NO_ERROR (RFC 9113 section 8.1), its unread
        bytes given back.
        """
        streamId = self.peer.send(request(method=b"POST"), b"x" * 1000, end=False)
        respond(self.adapter.exchanges[0])
        self.turn()
        response = self.response(streamId)
        self.assertTrue(response["ended"])
        self.assertEqual(response["reset"], ErrorCodes.NO_ERROR)
        self.assertEqual(self.protocol._unconsumed, 0)
        self.assertEqual(self.protocol._streams, {})


class BackpressureTests(HTTP2TestsMixin, TestCase):
    """
    Responses: per-stream windows and outboxes; a slow stream stalls only
    its own application.
    """

    def test_slowStreamDoesNotStallOthers(self):
        """
        A stream whose client window is shut pauses its own application
        past HIGH_WATER; another stream's response goes out whole.
        """
        self.peer.raw(settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 1000}))
        self.turn()
        slow = self.get()
        fast = self.get()
        slow.startResponse(200, [])
        slow.write(b"s" * (HIGH_WATER + 2000))
        self.assertTrue(slow.writePaused)
        respond(fast, b"f" * 900)
        self.turn()
        responses = self.peer.responses()
        self.assertEqual(len(responses[1]["body"]), 1000)
        self.assertEqual((len(responses[3]["body"]), responses[3]["ended"]), (900, True))
        self.assertFalse(fast.writePaused)
        self.assertTrue(slow.writePaused)

    def test_windowUpdateResumes(self):
        """A WINDOW_UPDATE sends what waited and resumes the application's writes."""
        self.peer.raw(settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 0}))
        self.turn()
        self.peer.client.increment_flow_control_window(2 * HIGH_WATER)
        exchange = self.get()
        exchange.startResponse(200, [])
        exchange.write(b"x" * (HIGH_WATER + 1))
        exchange.finish()
        self.turn()
        self.assertTrue(exchange.writePaused)
        self.peer.client.increment_flow_control_window(HIGH_WATER + 1, 1)
        self.peer.flush()
        self.turn()
        self.assertFalse(exchange.writePaused)
        response = self.response(1)
        self.assertEqual((len(response["body"]), response["ended"]), (HIGH_WATER + 1, True))

    def test_transportPause(self):
        """While the transport is paused no stream data is sent; resuming sends it."""
        exchange = self.get()
        self.protocol.pauseProducing()
        respond(exchange, b"later")
        self.turn()
        self.assertEqual(self.response(1), None)
        self.protocol.resumeProducing()
        self.peer.receive()
        self.assertEqual(self.response(1)["body"], b"later")

    def test_turns(self):
        """Two large responses take turns: the second starts before the first is done."""
        self.peer.openWindows()
        self.turn()
        first, second = self.get(), self.get()
        for exchange in (first, second):
            exchange.startResponse(200, [])
            exchange.write(b"x" * (STREAM_WINDOW // 2))
            exchange.finish()
        self.reactor.advance(0)
        data = self.peer._read()
        events = self.peer.client.receive_data(data[: len(data) // 2])
        self.assertEqual({e.stream_id for e in events if hasattr(e, "stream_id")}, {1, 3})


class DisconnectTests(HTTP2TestsMixin, TestCase):
    """
    A stream reset disconnects its exchange alone; the connection's loss
    disconnects all.
    """

    def test_resetReachesOnlyItsStream(self):
        """
        RST_STREAM from the client disconnects that exchange (grace, then
        cancel); its siblings complete.
        """
        exchanges = [self.get() for _ in range(3)]
        self.peer.reset(3)
        self.assertEqual([e.disconnected for e in exchanges], [False, True, False])
        self.assertEqual(exchanges[1].disconnectReason, CLIENT_DISCONNECTED)
        self.reactor.advance(GRACE)
        self.assertEqual(self.adapter.cancelled, [exchanges[1]])
        exchanges[1].appFinished()
        respond(exchanges[0])
        respond(exchanges[2])
        self.turn()
        responses = self.peer.responses()
        self.assertTrue(responses[1]["ended"] and responses[5]["ended"])
        self.assertEqual([e.outcome for e in exchanges], [COMPLETED, CANCELLED, COMPLETED])
        self.assertEqual(self.protocol._streams, {})

    def test_writeAfterResetRaises(self):
        """After its stream is reset, the application's writes raise ClientDisconnected."""
        exchange = self.get()
        exchange.startResponse(200, [])
        self.peer.reset(1)
        with self.assertRaises(OSError):
            exchange.write(b"x")

    def test_connectionLostReachesAll(self):
        """Losing the connection disconnects every stream's exchange."""
        exchanges = [self.get() for _ in range(3)]
        self.protocol.connectionLost(Failure(ConnectionError("gone")))
        self.assertEqual([e.disconnectReason for e in exchanges], [CLIENT_DISCONNECTED] * 3)

    def test_finishedStreamClosedOthersGoOn(self):
        """A stream whose application finished leaves; the connection serves on."""
        first, second = self.get(), self.get()
        respond(first)
        self.turn()
        self.assertEqual(list(self.protocol._streams), [3])
        respond(second)
        self.turn()
        self.assertEqual(self.protocol._streams, {})
        self.assertTrue(self.protocol.transport.connected)

    def test_clientGoAway(self):
        """The client's GOAWAY ends the connection: every stream is disconnected."""
        exchange = self.get()
        self.peer.raw(GoAwayFrame(0, last_stream_id=0))
        self.assertTrue(exchange.disconnected)
        self.assertTrue(self.protocol.transport.disconnecting)


class LimitTests(HTTP2TestsMixin, TestCase):
    """
    Concurrent streams, and the flood bounds.
    """

    settings: ClassVar[dict] = {"h2MaxConcurrentStreams": 4}

    def setUp(self):
        HTTP2TestsMixin.setUp(self)
        self.peer.ignoreStreamLimit()

    def test_pastMaxStreamsRefused(self):
        """A stream past the limit is refused (REFUSED_STREAM) and never started."""
        for _ in range(4):
            self.get()
        streamId = self.peer.send(request())
        self.turn()
        self.assertEqual(len(self.adapter.exchanges), 4)
        self.assertEqual(self.response(streamId)["reset"], ErrorCodes.REFUSED_STREAM)

    def test_resetStreamsStillCount(self):
        """
        A stream the client reset counts until its application is done:
        resetting does not make room for more applications.
        """
        for _ in range(4):
            streamId = self.peer.send(request())
            self.peer.reset(streamId)
        streamId = self.peer.send(request())
        self.turn()
        self.assertEqual(len(self.adapter.exchanges), 4)
        self.assertEqual(self.response(streamId)["reset"], ErrorCodes.REFUSED_STREAM)
        self.adapter.exchanges[0].appFinished()
        self.get()

    def test_rapidReset(self):
        """
        A client that opens and resets streams faster than the bound is
        sent GOAWAY (ENHANCE_YOUR_CALM) and closed; its exchanges are
        disconnected (rejected).
        """
        sent = 0
        while not self.protocol.transport.disconnecting:
            streamId = self.peer.send(request())
            self.peer.reset(streamId)
            sent += 1
            self.assertLessEqual(sent, RESET_BURST * 4 + 1)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.ENHANCE_YOUR_CALM)
        # No more applications than the stream limit ever ran.
        self.assertEqual(len(self.adapter.exchanges), 4)
        self.assertTrue(all(e.disconnected for e in self.adapter.exchanges))

    def test_resetsRefill(self):
        """Resets at the allowed rate never end the connection."""
        for _ in range(RESET_BURST * 4 * 3):
            streamId = self.peer.send(request())
            self.peer.reset(streamId)
            for exchange in self.adapter.exchanges:
                if exchange.lifecycleState.name != "DONE":
                    exchange.appFinished()
            self.reactor.advance(1.0)
        self.assertFalse(self.protocol.transport.disconnecting)

    def assertCalmed(self, frame, bound):
        """Send C{frame} until the connection ends, at most C{bound} times."""
        for _ in range(bound):
            self.peer.raw(frame)
            if self.protocol.transport.disconnecting:
                break
        self.assertTrue(self.protocol.transport.disconnecting)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_pingFlood(self):
        """A PING flood is answered with GOAWAY within IDLE_BURST frames."""
        self.assertCalmed(PingFrame(0, opaque_data=b"12345678"), IDLE_BURST + 1)

    def test_settingsFlood(self):
        """A SETTINGS flood is answered with GOAWAY within IDLE_BURST frames."""
        self.assertCalmed(settingsFrame(), IDLE_BURST + 1)

    def test_priorityFlood(self):
        """A PRIORITY flood is answered with GOAWAY within IDLE_BURST frames."""
        self.assertCalmed(PriorityFrame(1), IDLE_BURST + 1)

    def test_emptyDataFlood(self):
        """Empty DATA frames without END_STREAM are answered with GOAWAY within IDLE_BURST."""
        streamId = self.peer.send(request(method=b"POST"), end=False)
        self.assertCalmed(DataFrame(streamId), IDLE_BURST + 1)

    def test_continuationFlood(self):
        """
        CONTINUATION frames that never end a header block: GOAWAY as soon
        as the block passes the header list limit, before it is complete.
        """
        limit = 65536 + 32 * 100
        self.peer.raw(HeadersFrame(1, data=b"\x82"))
        fragment = b"\x00" * 16000
        for _ in range(limit // len(fragment) + 1):
            self.peer.raw(ContinuationFrame(1, data=fragment))
        self.assertTrue(self.protocol.transport.disconnecting)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.ENHANCE_YOUR_CALM)

    def test_emptyContinuationFlood(self):
        """
        Empty CONTINUATION frames: h2 takes at most 64 in one header block,
        then the connection ends (PROTOCOL_ERROR).
        """
        self.peer.raw(HeadersFrame(1, data=b"\x82"))
        for _ in range(65):
            self.peer.raw(ContinuationFrame(1))
        self.assertTrue(self.protocol.transport.disconnecting)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.PROTOCOL_ERROR)

    def test_controlBacklog(self):
        """
        PINGs while the client reads nothing (the transport paused): past
        CONTROL_BACKLOG bytes of answers the connection ends.
        """
        self.protocol.pauseProducing()
        for _ in range(CONTROL_BACKLOG // 17 + 1):
            self.peer.raw(PingFrame(0, opaque_data=b"12345678"))
            self.reactor.advance(1)
        self.assertTrue(self.protocol.transport.disconnecting)

    def test_protocolError(self):
        """What h2 refuses ends the connection with GOAWAY (PROTOCOL_ERROR)."""
        exchange = self.get()
        self.peer.raw(WindowUpdateFrame(0, window_increment=0))
        self.assertTrue(self.protocol.transport.disconnecting)
        self.assertEqual(exchange.disconnectReason, REJECTED)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.PROTOCOL_ERROR)


class TimerTests(HTTP2TestsMixin, TestCase):
    """
    Every timing rule, on the clock.
    """

    settings: ClassVar[dict] = {
        "timeoutHeader": 10.0,
        "timeoutKeepAlive": 5.0,
        "timeoutStall": 30.0,
    }

    def test_noRequestTimedOut(self):
        """A connection without a request is closed after timeoutHeader."""
        self.reactor.advance(9.9)
        self.assertFalse(self.protocol.transport.disconnecting)
        self.reactor.advance(0.1)
        self.assertTrue(self.protocol.transport.disconnecting)
        self.peer.receive()
        self.assertEqual(self.peer.goAway().error_code, ErrorCodes.NO_ERROR)

    def test_keepAlive(self):
        """After its last stream a connection is closed after timeoutKeepAlive."""
        respond(self.get())
        self.turn()
        self.reactor.advance(4.9)
        self.assertFalse(self.protocol.transport.disconnecting)
        self.reactor.advance(0.1)
        self.assertTrue(self.protocol.transport.disconnecting)

    def test_busyConnectionNotTimed(self):
        """A connection with a stream whose application runs is not closed."""
        self.get()
        self.reactor.advance(100)
        self.assertFalse(self.protocol.transport.disconnecting)

    def test_stalledBody(self):
        """
        A body that stops arriving for timeoutHeader while the client may
        send: 408, the stream reset, the exchange rejected.
        """
        streamId = self.peer.send(request(method=b"POST"), end=False)
        [exchange] = self.adapter.exchanges
        self.reactor.advance(9.9)
        self.assertFalse(exchange.disconnected)
        self.reactor.advance(0.1)
        self.assertEqual(exchange.disconnectReason, REJECTED)
        self.peer.receive()
        self.assertEqual(self.response(streamId)["headers"][0][b":status"], b"408")
        self.assertEqual(self.response(streamId)["reset"], ErrorCodes.NO_ERROR)

    def test_bodyNotLateWhileAppHolds(self):
        """
        While the application has not consumed what arrived, the client is
        not late; it is timed again from the application's read.
        """
        streamId = self.peer.send(request(method=b"POST"), b"x" * 10, end=False)
        [exchange] = self.adapter.exchanges
        self.reactor.advance(50)
        self.assertFalse(exchange.disconnected)
        exchange.readBody()
        self.reactor.advance(9.9)
        self.assertFalse(exchange.disconnected)
        self.reactor.advance(0.1)
        self.assertTrue(exchange.disconnected)
        self.assertTrue(streamId)

    def test_stalledHeaderBlock(self):
        """A header block not ended within timeoutHeader: GOAWAY and close."""
        self.peer.raw(HeadersFrame(1, data=b"\x82"))
        self.reactor.advance(9.9)
        self.assertFalse(self.protocol.transport.disconnecting)
        self.reactor.advance(0.1)
        self.assertTrue(self.protocol.transport.disconnecting)

    def test_windowStall(self):
        """
        A response the client's window holds back for timeoutStall: the
        stream is reset (CANCEL), the exchange rejected; others go on.
        """
        self.peer.raw(settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 0}))
        self.turn()
        stalled = self.get()
        stalled.startResponse(200, [])
        stalled.write(b"x")
        self.turn()
        self.reactor.advance(29.9)
        self.assertFalse(stalled.disconnected)
        self.reactor.advance(0.1)
        self.assertEqual(stalled.disconnectReason, REJECTED)
        self.peer.receive()
        self.assertEqual(self.response(1)["reset"], ErrorCodes.CANCEL)
        self.assertFalse(self.protocol.transport.disconnecting)

    def test_windowUpdateStopsStallTimer(self):
        """A WINDOW_UPDATE in time: the stream is not reset."""
        self.peer.raw(settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 0}))
        self.turn()
        exchange = self.get()
        respond(exchange, b"xy")
        self.turn()
        self.reactor.advance(20)
        self.peer.client.increment_flow_control_window(2, 1)
        self.peer.flush()
        self.reactor.advance(20)
        self.peer.receive()
        self.assertEqual(self.response(1)["body"], b"xy")
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_closeTimeout(self):
        """A closing connection the client does not close is aborted after timeoutClose."""
        self.protocol._closer.goAway()
        self.assertFalse(self.protocol.transport.disconnected)
        self.reactor.advance(15)
        self.assertTrue(self.protocol.transport.disconnected)


class ShutdownTests(HTTP2TestsMixin, TestCase):
    """
    The graceful stop: GOAWAY, in-flight streams finish, then close; or
    cut, then grace and cancel.
    """

    def test_goAwayThenFinish(self):
        """
        stopKeepAlive sends GOAWAY (NO_ERROR) with the last stream; the
        streams in flight finish; a later stream is refused; then close.
        """
        first = self.get()
        second = self.get()
        self.protocol.stopKeepAlive()
        self.peer.receive()
        goAway = self.peer.goAway()
        self.assertEqual((goAway.error_code, goAway.last_stream_id), (ErrorCodes.NO_ERROR, 3))
        respond(first)
        self.turn()
        self.assertFalse(self.protocol.transport.disconnecting)
        respond(second)
        self.turn()
        self.assertTrue(self.protocol.transport.disconnecting)
        responses = self.peer.responses()
        self.assertTrue(responses[1]["ended"] and responses[3]["ended"])

    def test_streamAfterGoAwayRefused(self):
        """A stream opened after the server's GOAWAY is refused, not started."""
        self.get()
        self.protocol.stopKeepAlive()
        streamId = self.peer.send(request())
        self.turn()
        self.assertEqual(len(self.adapter.exchanges), 1)
        self.assertEqual(self.response(streamId)["reset"], ErrorCodes.REFUSED_STREAM)

    def test_idleClosesAtOnce(self):
        """A connection without streams after its first closes at once on stopKeepAlive."""
        respond(self.get())
        self.turn()
        self.protocol.stopKeepAlive()
        self.assertTrue(self.protocol.transport.disconnecting)

    def test_firstStreamServedAfterStop(self):
        """
        A connection stopped before its first stream stays open; that
        stream is served, with GOAWAY naming it, then the connection
        closes.
        """
        self.protocol.stopKeepAlive()
        self.assertFalse(self.protocol.transport.disconnecting)
        exchange = self.get()
        self.peer.receive()
        goAway = self.peer.goAway()
        self.assertEqual((goAway.error_code, goAway.last_stream_id), (ErrorCodes.NO_ERROR, 1))
        respond(exchange)
        self.turn()
        self.assertTrue(self.protocol.transport.disconnecting)
        self.assertTrue(self.peer.responses()[1]["ended"])

    def test_silentAfterStopClosedByHeadTimeout(self):
        """
        A connection stopped before its first stream that opens none is
        closed by the head timeout that runs from the connection.
        """
        self.protocol.stopKeepAlive()
        self.reactor.advance(self.protocol._timeoutHeader - 0.5)
        self.assertFalse(self.protocol.transport.disconnecting)
        self.reactor.advance(0.5)
        self.assertTrue(self.protocol.transport.disconnecting)

    def test_abortForShutdown(self):
        """
        abortForShutdown cuts the connection: its exchanges are
        disconnected with the shutdown outcome, then grace and cancel.
        """
        exchange = self.get()
        self.protocol.abortForShutdown()
        self.protocol.connectionLost(Failure(ConnectionError("aborted")))
        self.assertEqual(exchange.disconnectReason, SHUTDOWN)
        self.reactor.advance(GRACE)
        self.assertEqual(self.adapter.cancelled, [exchange])


class ChooserTests(TestCase):
    """
    The protocol chooser: an HTTP/1.1 channel hands its connection to
    HTTP/2 by ALPN or by the h2c preface, before any request.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.adapter = ManualAdapter()

    def test_alpnProtocols(self):
        """The factory offers h2 then http/1.1 with HTTP/2, http/1.1 alone without."""
        withHTTP2 = HTTPFactory(self.adapter, self.reactor, http2=HTTP2Connection)
        without = HTTPFactory(self.adapter, self.reactor)
        self.assertEqual(withHTTP2.acceptableProtocols(), [b"h2", b"http/1.1"])
        self.assertEqual(without.acceptableProtocols(), [b"http/1.1"])

    def test_h2cPreface(self):
        """
        With h2c, a connection that opens with the preface (even split
        across reads) is HTTP/2: its requests become exchanges of version 2.
        """
        factory = HTTPFactory(
            self.adapter, self.reactor, HTTPSettings(h2c=True), http2=HTTP2Connection
        )
        channel = factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        client = clientMachine()
        data = client.data_to_send()
        channel.dataReceived(data[:5])
        self.assertIs(channel.state, ConnectionState.OPEN)
        channel.dataReceived(data[5:])
        self.assertIs(channel.state, ConnectionState.SWITCHED)
        self.assertIsInstance(channel._switched, HTTP2Connection)
        client.receive_data(transport.value())
        client.send_headers(1, request(), end_stream=True)
        channel.dataReceived(client.data_to_send())
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.httpVersion, "2")

    def test_h2cHTTP11(self):
        """With h2c, a connection that opens with an HTTP/1.1 request is served HTTP/1.1."""
        factory = HTTPFactory(
            self.adapter, self.reactor, HTTPSettings(h2c=True), http2=HTTP2Connection
        )
        channel = factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"P")
        channel.dataReceived(b"UT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        [exchange] = self.adapter.exchanges
        self.assertEqual((exchange.method, exchange.httpVersion), ("PUT", "1.1"))
        self.assertIs(channel.state, ConnectionState.OPEN)

    def test_prefaceWithoutH2c(self):
        """Without h2c the preface is a bad HTTP/1.1 request: 400."""
        factory = HTTPFactory(self.adapter, self.reactor, HTTPSettings(), http2=HTTP2Connection)
        channel = factory.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(clientMachine().data_to_send())
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 400 "))

    def tlsChannel(self, negotiated, http2=HTTP2Connection):
        factory = HTTPFactory(self.adapter, self.reactor, HTTPSettings(), http2=http2)
        channel = factory.buildProtocol(None)
        transport = TLSStringTransport()
        transport.negotiatedProtocol = negotiated
        channel.makeConnection(transport)
        channel.handshakeCompleted()
        return channel, transport

    def test_alpnH2(self):
        """ALPN h2: the connection is handed over when the TLS handshake completes."""
        channel, transport = self.tlsChannel(b"h2")
        self.assertIs(channel.state, ConnectionState.SWITCHED)
        self.assertIn(b"\x00\x00", transport.value()[:3])
        client = clientMachine()
        client.receive_data(transport.value())
        client.send_headers(1, request(), end_stream=True)
        channel.dataReceived(client.data_to_send())
        [exchange] = self.adapter.exchanges
        self.assertEqual((exchange.httpVersion, exchange.scheme), ("2", "https"))

    def test_alpnHTTP11(self):
        """ALPN http/1.1 (or none): the connection stays HTTP/1.1."""
        for negotiated in (b"http/1.1", None):
            with self.subTest(negotiated):
                channel, transport = self.tlsChannel(negotiated)
                self.assertIs(channel.state, ConnectionState.OPEN)
                self.assertEqual(transport.value(), b"")

    def test_stopForwarded(self):
        """
        A graceful stop reaches the HTTP/2 connection through the channel:
        GOAWAY (once the connection served a stream).
        """
        channel, transport = self.tlsChannel(b"h2")
        channel._switched._fresh = False
        channel.stopKeepAlive()
        self.assertTrue(transport.disconnecting)
        peer = LoopbackPeer.__new__(LoopbackPeer)
        Peer.__init__(peer)
        peer._split(transport.value())
        self.assertEqual(peer.goAway().error_code, ErrorCodes.NO_ERROR)

    def test_lossForwarded(self):
        """The connection's loss reaches the HTTP/2 connection's exchanges through the channel."""
        channel, transport = self.tlsChannel(b"h2")
        client = clientMachine()
        client.receive_data(transport.value())
        client.send_headers(1, request(), end_stream=True)
        channel.dataReceived(client.data_to_send())
        channel.connectionLost(Failure(ConnectionError("gone")))
        [exchange] = self.adapter.exchanges
        self.assertEqual(exchange.disconnectReason, CLIENT_DISCONNECTED)


@implementer(ISSLTransport)
class TLSStringTransport(StringTransport):
    """
    A L{StringTransport} that says it is TLS, with the protocol ALPN chose.
    """

    negotiatedProtocol = None

    def getPeerCertificate(self):
        return None


class GuardTests(TestCase):
    """
    The frame guard reads frame headers wherever reads split them.
    """

    def frames(self):
        return b"".join(
            frame.serialize()
            for frame in [
                settingsFrame(),
                *(RstStreamFrame(i * 2 + 1) for i in range(5)),
                PingFrame(0, opaque_data=b"12345678"),
                DataFrame(1, data=b"x" * 100),
            ]
        )

    def test_splitAnywhere(self):
        """Fed one byte at a time, the guard counts the same frames as in one read."""
        data = PREFACE + self.frames()
        whole = FrameGuard(0, 100, 1000)
        self.assertIsNone(whole.scan(data, 0))
        pieces = FrameGuard(0, 100, 1000)
        for i in range(len(data)):
            self.assertIsNone(pieces.scan(data[i : i + 1], 0))
        self.assertEqual(pieces._resets.tokens, whole._resets.tokens)
        self.assertEqual(pieces._idle.tokens, whole._idle.tokens)
        self.assertEqual(whole._resets.tokens, RESET_BURST * 100 - 5)
        self.assertEqual(whole._idle.tokens, IDLE_BURST - 2)

    def test_resetBound(self):
        """Past RESET_BURST times the stream limit resets, the guard says so."""
        guard = FrameGuard(0, 2, 1000)
        guard.scan(PREFACE, 0)
        resets = b"".join(RstStreamFrame(1).serialize() for _ in range(RESET_BURST * 2))
        self.assertIsNone(guard.scan(resets, 0))
        self.assertEqual(guard.scan(RstStreamFrame(1).serialize(), 0), b"too many stream resets")

    def test_headerBlock(self):
        """A header block is timed from its first frame and its size bounded."""
        guard = FrameGuard(0, 100, 100)
        guard.scan(PREFACE + HeadersFrame(1, data=b"x" * 60).serialize(), 5.0)
        self.assertEqual(guard.blockStarted, 5.0)
        self.assertIsNone(guard.scan(ContinuationFrame(1, data=b"x" * 40).serialize(), 6.0))
        self.assertEqual(
            guard.scan(ContinuationFrame(1, data=b"x").serialize(), 7.0), b"header block too large"
        )
        ended = FrameGuard(0, 100, 100)
        ended.scan(PREFACE + HeadersFrame(1, data=b"x", flags=["END_HEADERS"]).serialize(), 1.0)
        self.assertIsNone(ended.blockStarted)
