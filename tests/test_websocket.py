"""
Tests for L{gracehttp._protocols.websocket}: the switch, the opening
handshake, frames both ways, limits, closes, pings and the graceful stop,
driven through an L{HTTPFactory} with L{StringTransport} and a
L{MemoryReactorClock}, a client side made of wsproto driven by hand, and
an adapter the test answers for.
"""

import base64
import tracemalloc
import zlib
from unittest import TestCase

from twisted.internet.testing import MemoryReactorClock, StringTransport
from wsproto.connection import CLIENT, Connection
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._core.exchange import CLIENT_DISCONNECTED, COMPLETED, REJECTED, SHUTDOWN
from gracehttp._core.interfaces import IAppAdapter, ISessionAdapter, ISessionChannel
from gracehttp._core.serverstate import IConnection, ServerState
from gracehttp._core.session import QUEUE_MESSAGES, Session
from gracehttp._protocols.http11 import ConnectionState as HTTPState
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._protocols.http11.head import LARGE_BODY_READ_SIZE
from gracehttp._protocols.websocket import WebSocketSettings, WebSocketSwitch
from gracehttp._protocols.websocket.handshake import acceptValue
from gracehttp._protocols.websocket.pending import HOLD_SIZE
from gracehttp._settings import HTTPSettings

KEY = base64.b64encode(b"0123456789abcdef")


def opening(path=b"/ws", extra=b"", version=b"13", key=KEY):
    """
    The bytes of a WebSocket opening handshake (RFC 6455 section 4.1).
    """
    lines = [
        b"GET " + path + b" HTTP/1.1",
        b"Host: example.com",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Version: " + version,
    ]
    if key is not None:
        lines.append(b"Sec-WebSocket-Key: " + key)
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


@implementer(IAppAdapter, ISessionAdapter)
class ManualAdapter:
    """
    Records the exchanges and sessions it is given; the test answers them.
    """

    def __init__(self):
        self.inFlight = []
        self.exchanges = []
        self.sessions = []
        self.cancelled = []

    def handle(self, exchange):
        self.exchanges.append(exchange)
        exchange.appStarted(lambda: self.cancelled.append(exchange))

    def handleSession(self, session):
        self.sessions.append(session)
        session.appStarted(lambda: self.cancelled.append(session))

    def startup(self):
        pass

    def shutdown(self):
        pass


class Peer:
    """
    The client's side: wsproto driven by hand once the handshake is
    answered.

    @ivar connection: wsproto's client connection, once accepted.
    @ivar head: the server's response head.
    """

    def __init__(self, deflate=False):
        self.deflate = PerMessageDeflate() if deflate else None
        self.connection = None
        self.head = None

    def accepted(self, data):
        """
        Read the server's 101 and what follows it.

        @return: the events in what follows.
        """
        head, _, rest = data.partition(b"\r\n\r\n")
        self.head = head
        extensions = []
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b": ")
            if name == b"sec-websocket-extensions" and self.deflate is not None:
                self.deflate.finalize(value.decode("ascii"))
                extensions.append(self.deflate)
        self.connection = Connection(CLIENT, extensions)
        return self.events(rest)

    def send(self, event):
        return bytes(self.connection.send(event))

    def events(self, data):
        if data:
            self.connection.receive_data(data)
        return list(self.connection.events())


class TCPStringTransport(StringTransport):
    """
    A L{StringTransport} with TCP's C{setTcpNoDelay}, recording the flag.
    """

    noDelay = False

    def setTcpNoDelay(self, enabled):
        self.noDelay = enabled


class WebSocketTestsMixin:
    settings = HTTPSettings(timeoutHeader=10.0, timeoutKeepAlive=5.0)
    wsSettings = WebSocketSettings(
        wsMaxSize=1024, wsPingInterval=0, disconnectGracePeriod=3.0, timeoutClose=15.0
    )

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.adapter = ManualAdapter()
        self.state = ServerState(self.reactor)
        self.logged = []
        self.state.requestLog = self.logged.append
        self.switch = WebSocketSwitch(self.adapter, self.reactor, self.state, self.wsSettings)
        self.factory = HTTPFactory(
            self.adapter, self.reactor, self.settings, self.state, protocolSwitch=self.switch
        )
        self.channel = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def take(self):
        value = self.transport.value()
        self.transport.clear()
        return value

    def connect(self, extra=b"", path=b"/ws"):
        """
        Send an opening handshake.

        @return: the session it made.
        """
        self.channel.dataReceived(opening(path, extra))
        [session] = self.adapter.sessions
        return session

    def open(self, extra=b"", deflate=False, subprotocol=None):
        """
        Connect and accept.

        @return: C{(session, peer)}, the 101 read by the peer.
        """
        session = self.connect(extra)
        session.accept(subprotocol)
        peer = Peer(deflate)
        self.assertEqual(peer.accepted(self.take()), [])
        return session, peer

    def receive(self, peer):
        """
        What the server sent since, as the peer parses it.
        """
        return peer.events(self.take())

    @property
    def connection(self):
        return self.channel._switched


class HandshakeTests(WebSocketTestsMixin, TestCase):
    def test_interfaces(self):
        """The connection provides ISessionChannel and IConnection."""
        self.connect()
        self.assertTrue(verifyObject(ISessionChannel, self.connection))
        self.assertTrue(verifyObject(IConnection, self.connection))

    def test_session(self):
        """
        An opening handshake becomes a session for the adapter, with the
        request's fields, the offered subprotocols, and the scheme ws.
        """
        session = self.connect(b"Sec-WebSocket-Protocol: chat, superchat\r\nX-A: 1\r\n", b"/ws?x=1")
        self.assertIsInstance(session, Session)
        self.assertEqual((session.rawPath, session.queryString), (b"/ws", b"x=1"))
        self.assertEqual(session.subprotocols, ["chat", "superchat"])
        self.assertEqual(session.scheme, "ws")
        self.assertIn((b"x-a", b"1"), session.headers)
        self.assertEqual(self.adapter.exchanges, [])
        self.assertEqual(self.take(), b"")

    def test_accept(self):
        """
        accept() writes the 101 with the Sec-WebSocket-Accept of RFC 6455
        section 4.2.2, the subprotocol and the application's headers.
        """
        session = self.connect()
        session.accept("chat", [(b"x-b", b"2")])
        head = self.take()
        self.assertTrue(head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"))
        self.assertIn(b"sec-websocket-accept: " + acceptValue(KEY) + b"\r\n", head)
        self.assertEqual(acceptValue(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertIn(b"sec-websocket-protocol: chat\r\n", head)
        self.assertIn(b"x-b: 2\r\n", head)
        self.assertIn(b"upgrade: websocket\r\n", head)
        self.assertTrue(head.endswith(b"\r\n\r\n"))

    def test_deflateNegotiated(self):
        """
        A permessage-deflate offer is accepted when compression is on, with
        the parameters wsproto accepts (RFC 7692 section 7.1).
        """
        session = self.connect(
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        )
        session.accept()
        self.assertIn(
            b"sec-websocket-extensions: permessage-deflate; client_max_window_bits=15\r\n",
            self.take(),
        )

    def test_notWebSocket(self):
        """
        An upgrade to another protocol, a POST with Upgrade: websocket and
        an HTTP/1.0 one are answered as plain HTTP by the application.
        """
        requests = [
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
            opening().replace(b"GET ", b"POST "),
            opening().replace(b"HTTP/1.1", b"HTTP/1.0"),
        ]
        for request in requests:
            adapter = self.factory.adapter = ManualAdapter()
            channel = self.factory.buildProtocol(None)
            channel.makeConnection(StringTransport())
            channel.dataReceived(request)
            self.assertEqual((len(adapter.exchanges), adapter.sessions), (1, []), request)

    def test_badKey(self):
        """
        A missing or malformed Sec-WebSocket-Key is answered 400 without the
        application, and logged as rejected.
        """
        for key in (None, b"short", b"!!!!" * 6):
            self.setUp()
            self.channel.dataReceived(opening(key=key))
            self.assertEqual(self.adapter.sessions, [])
            response = self.take()
            self.assertTrue(response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response)
            self.assertIn(b"Sec-WebSocket-Key", response)
            self.assertTrue(self.transport.disconnecting)
            [record] = self.logged
            self.assertEqual((record.status, record.outcome), (400, REJECTED))
            self.assertEqual(self.state.requestsInFlight, 0)

    def test_badVersion(self):
        """
        Another protocol version is answered 426 with
        Sec-WebSocket-Version: 13 (RFC 6455 section 4.4).
        """
        self.channel.dataReceived(opening(version=b"8"))
        response = self.take()
        self.assertTrue(response.startswith(b"HTTP/1.1 426 Upgrade Required\r\n"))
        self.assertIn(b"sec-websocket-version: 13\r\n", response)
        self.assertEqual(self.adapter.sessions, [])

    def test_deny(self):
        """A denial is a complete response with its body, and the connection closes."""
        session = self.connect()
        session.deny(401, [(b"www-authenticate", b"Bearer")], b"no token")
        response = self.take()
        self.assertTrue(response.startswith(b"HTTP/1.1 401 Unauthorized\r\n"))
        self.assertIn(b"www-authenticate: Bearer\r\n", response)
        self.assertIn(b"content-length: 8\r\nconnection: close\r\n", response)
        self.assertTrue(response.endswith(b"\r\n\r\nno token"))
        self.assertTrue(self.transport.disconnecting)

    def test_earlyData(self):
        """
        What the client sends before the accept is held, the transport paused
        past HOLD_SIZE bytes, and parsed once the handshake is accepted.
        """
        self.wsSettings = WebSocketSettings(wsPingInterval=0)
        self.setUp()
        peer = Peer()
        peer.connection = Connection(CLIENT)
        frame = peer.send(TextMessage(data="early"))
        self.channel.dataReceived(opening() + frame)
        [session] = self.adapter.sessions
        self.channel.dataReceived(peer.send(BytesMessage(data=b"x" * HOLD_SIZE)))
        self.assertEqual(self.transport.producerState, "paused")
        self.assertIsNone(session.nextMessage())
        session.accept()
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(
            [session.nextMessage(), session.nextMessage()], ["early", b"x" * HOLD_SIZE]
        )

    def test_accounting(self):
        """
        The upgrade request stays in flight through the session and is
        logged once, as the session (status 101, messages, close code),
        when the application is done.
        """
        session, peer = self.open()
        self.channel.dataReceived(peer.send(TextMessage(data="hi")))
        session.send("there")
        self.assertEqual(self.state.requestsInFlight, 1)
        self.assertEqual(self.logged, [])
        session.close()
        session.appFinished()
        [record] = self.logged
        self.assertIs(record, session)
        self.assertEqual((record.status, record.outcome, record.closeCode), (101, COMPLETED, 1000))
        self.assertEqual((record.messagesReceived, record.messagesSent), (1, 1))
        self.assertEqual(self.state.requestsInFlight, 0)


class MessageTests(WebSocketTestsMixin, TestCase):
    def test_receive(self):
        """Text and binary messages from the peer reach the session as str and bytes."""
        session, peer = self.open()
        self.channel.dataReceived(
            peer.send(TextMessage(data="h\u00e9llo")) + peer.send(BytesMessage(data=b"\x00\xff"))
        )
        self.assertEqual(
            [session.nextMessage(), session.nextMessage()], ["h\u00e9llo", b"\x00\xff"]
        )

    def test_fragmented(self):
        """
        A message in fragments, with a ping between them and split across
        reads, reaches the session whole; the ping is answered at once.
        """
        session, peer = self.open()
        data = (
            peer.send(TextMessage(data="fra", message_finished=False))
            + peer.send(Ping(payload=b"p"))
            + peer.send(TextMessage(data="g\u00e9", message_finished=False))
            + peer.send(TextMessage(data="ment", message_finished=True))
        )
        for i in range(0, len(data), 3):
            self.channel.dataReceived(data[i : i + 3])
        self.assertEqual(session.nextMessage(), "frag\u00e9ment")
        self.assertIsNone(session.nextMessage())
        self.assertEqual(self.receive(peer), [Pong(payload=b"p")])

    def test_largeReads(self):
        """
        While a message longer than one read arrives the transport reads
        LARGE_BODY_READ_SIZE bytes at a time; its own size comes back after.
        """
        self.transport = StringTransport()
        self.transport.bufferSize = 65536
        self.channel = self.factory.buildProtocol(None)
        self.channel.makeConnection(self.transport)
        session, peer = self.open()
        self.channel.dataReceived(peer.send(BytesMessage(data=b"a" * 100, message_finished=False)))
        self.assertEqual(self.transport.bufferSize, LARGE_BODY_READ_SIZE)
        self.channel.dataReceived(peer.send(BytesMessage(data=b"b" * 100)))
        self.assertEqual(self.transport.bufferSize, 65536)
        self.assertEqual(session.nextMessage(), b"a" * 100 + b"b" * 100)

    def test_send(self):
        """Messages sent are framed unmasked, text and binary, small and large."""
        session, peer = self.open()
        big = b"z" * 70000
        session.send("h\u00e9")
        session.send(b"")
        session.send(big)
        [text, empty, large] = self.receive(peer)
        self.assertEqual((type(text), text.data), (TextMessage, "h\u00e9"))
        self.assertEqual((type(empty), empty.data), (BytesMessage, b""))
        self.assertEqual(large.data, big)

    def test_compressed(self):
        """With permessage-deflate both directions are compressed and read back."""
        session, peer = self.open(b"Sec-WebSocket-Extensions: permessage-deflate\r\n", deflate=True)
        self.channel.dataReceived(peer.send(TextMessage(data="a" * 1000)))
        self.assertEqual(session.nextMessage(), "a" * 1000)
        session.send(b"b" * 1000)
        wire = self.transport.value()
        self.assertLess(len(wire), 100)
        [message] = self.receive(peer)
        self.assertEqual(message.data, b"b" * 1000)

    def test_deflateOff(self):
        """
        With compression off an offer is declined: no extension header,
        frames sent as they are.
        """
        self.wsSettings = WebSocketSettings(wsPerMessageDeflate=False, wsPingInterval=0)
        self.setUp()
        session = self.connect(b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
        session.accept()
        self.assertNotIn(b"sec-websocket-extensions", self.take())
        session.send(b"b" * 1000)
        self.assertEqual(len(self.take()), 1004)

    def test_pingAnswered(self):
        """A peer's ping is answered with a pong carrying its payload."""
        _, peer = self.open()
        self.channel.dataReceived(peer.send(Ping(payload=b"abc")))
        self.assertEqual(self.receive(peer), [Pong(payload=b"abc")])

    def test_noDelay(self):
        """A WebSocket's TCP socket gets TCP_NODELAY: a large message is not held by Nagle."""
        transport = TCPStringTransport()
        channel = self.factory.buildProtocol(None)
        channel.makeConnection(transport)
        self.assertFalse(transport.noDelay)
        channel.dataReceived(opening())
        self.assertTrue(transport.noDelay)

    def test_writeBackpressure(self):
        """The transport pausing its producer pauses the session's writers; resuming wakes them."""
        session, _ = self.open()
        self.assertIs(self.transport.producer, self.connection)
        self.connection.pauseProducing()
        self.assertTrue(session.writePaused)
        self.connection.resumeProducing()
        self.assertFalse(session.writePaused)

    def test_readBackpressure(self):
        """
        Past QUEUE_MESSAGES unread messages the transport is paused; it
        resumes once the application took some.
        """
        session, peer = self.open()
        data = b"".join(peer.send(TextMessage(data=str(i))) for i in range(QUEUE_MESSAGES + 3))
        self.channel.dataReceived(data)
        self.assertEqual(self.transport.producerState, "paused")
        self.assertEqual(session.nextMessage(), "0")
        self.assertEqual(self.transport.producerState, "paused")
        for _ in range(3):
            session.nextMessage()
        self.assertEqual(self.transport.producerState, "producing")


class LimitTests(WebSocketTestsMixin, TestCase):
    def assertFailed(self, session, peer, code):
        """
        The server sent a close frame with C{code}, told the session
        (rejected) and closes the TCP connection.
        """
        events = self.receive(peer)
        self.assertEqual([type(e) for e in events], [CloseConnection])
        self.assertEqual(events[0].code, code)
        self.assertTrue(session.disconnected)
        self.assertEqual((session.closeCode, session.disconnectReason), (code, REJECTED))
        self.assertTrue(self.transport.disconnecting)

    def test_tooBig(self):
        """A message over wsMaxSize bytes closes with 1009; the application sees the code."""
        session, peer = self.open()
        self.channel.dataReceived(peer.send(BytesMessage(data=b"x" * 1024)))
        self.assertEqual(session.nextMessage(), b"x" * 1024)
        self.channel.dataReceived(peer.send(BytesMessage(data=b"x" * 1025)))
        self.assertFailed(session, peer, CloseReason.MESSAGE_TOO_BIG)
        self.assertEqual(session.closeReason, "message too big")
        self.assertIsNone(session.nextMessage())

    def test_tooBigAtHeader(self):
        """An uncompressed frame whose header says it is too big is refused before its payload."""
        session, peer = self.open()
        frame = peer.send(BytesMessage(data=b"x" * 2000))
        self.channel.dataReceived(frame[:8])
        self.assertFailed(session, peer, CloseReason.MESSAGE_TOO_BIG)

    def test_tooBigInFragments(self):
        """Fragments count together: a message over the limit in small frames closes with 1009."""
        session, peer = self.open()
        for _ in range(4):
            self.channel.dataReceived(
                peer.send(BytesMessage(data=b"x" * 300, message_finished=False))
            )
        self.assertFailed(session, peer, CloseReason.MESSAGE_TOO_BIG)

    def test_compressedBomb(self):
        """
        A small compressed message that would expand past the limit is
        refused with 1009 without being expanded: 32 MiB of zeros
        compressed to about 32 KiB, against a 1 KiB limit, allocate less
        than 1 MiB.
        """
        session, peer = self.open(b"Sec-WebSocket-Extensions: permessage-deflate\r\n", deflate=True)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = compressor.compress(bytes(32 * 1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        payload = payload[:-4]
        self.assertLess(len(payload), 64 * 1024)
        # A masked binary frame with RSV1 (compressed), made by hand.
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        frame = b"\xc2\xfe" + len(payload).to_bytes(2, "big") + mask + masked
        tracemalloc.start()
        try:
            self.channel.dataReceived(frame)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1024 * 1024)
        self.assertFailed(session, peer, CloseReason.MESSAGE_TOO_BIG)

    def test_invalidUTF8(self):
        """A text message that is not UTF-8 closes with 1007 (RFC 6455 section 8.1)."""
        session, peer = self.open()
        mask = b"\x00\x00\x00\x00"
        self.channel.dataReceived(b"\x81\x82" + mask + b"\xc3\x28")
        self.assertFailed(session, peer, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_protocolError(self):
        """An unmasked frame, or an unknown opcode, closes with 1002; nothing after it is parsed."""
        for frame in (b"\x81\x02hi", b"\x83\x80\x00\x00\x00\x00"):
            self.setUp()
            session, peer = self.open()
            after = peer.send(TextMessage(data="after"))
            self.channel.dataReceived(frame)
            self.assertFailed(session, peer, CloseReason.PROTOCOL_ERROR)
            self.channel.dataReceived(after)
            self.assertIsNone(session.nextMessage())


class CloseTests(WebSocketTestsMixin, TestCase):
    def test_peerCloses(self):
        """
        The peer's close frame is answered with the same code, the session
        gets its code and reason (outcome completed), and the server closes
        the TCP connection.
        """
        session, peer = self.open()
        self.channel.dataReceived(peer.send(CloseConnection(code=4002, reason="ciao")))
        self.assertEqual(self.receive(peer), [CloseConnection(code=4002, reason="ciao")])
        self.assertEqual((session.closeCode, session.closeReason), (4002, "ciao"))
        self.assertEqual(session.disconnectReason, COMPLETED)
        self.assertTrue(self.transport.disconnecting)

    def test_closeLetsGoOfProducer(self):
        """
        Closing the TCP connection unregisters the connection as the
        transport's producer (a TLS transport sends close_notify only then),
        at once if nothing waits to be sent.
        """
        _, peer = self.open()
        self.channel.dataReceived(peer.send(CloseConnection(code=1000)))
        self.assertTrue(self.transport.disconnecting)
        self.assertIsNone(self.transport.producer)

    def test_closeWaitsForDrain(self):
        """
        While the transport is above its high-water mark the connection
        stays its producer; it lets go once the transport drained.
        """
        _, peer = self.open()
        self.connection.pauseProducing()
        self.channel.dataReceived(peer.send(CloseConnection(code=1000)))
        self.assertIs(self.transport.producer, self.connection)
        self.connection.resumeProducing()
        self.assertIsNone(self.transport.producer)

    def test_peerClosesWithoutCode(self):
        """A close frame without a code reaches the application as 1005 (RFC 6455 section 7.1.5)."""
        session, peer = self.open()
        self.channel.dataReceived(peer.send(CloseConnection(code=CloseReason.NO_STATUS_RCVD)))
        self.assertEqual(session.closeCode, 1005)

    def test_applicationCloses(self):
        """
        The application's close sends a close frame and waits for the
        peer's; that answer closes the TCP connection, and is no disconnect.
        """
        session, peer = self.open()
        late = peer.send(TextMessage(data="late"))
        session.close(4001, "bye")
        self.assertEqual(self.receive(peer), [CloseConnection(code=4001, reason="bye")])
        self.assertFalse(self.transport.disconnecting)
        self.channel.dataReceived(late)
        self.assertIsNone(session.nextMessage())
        self.channel.dataReceived(peer.send(CloseConnection(code=4001)))
        self.assertTrue(self.transport.disconnecting)
        self.channel.connectionLost(None)
        self.assertFalse(session.disconnected)
        self.assertEqual(session.closeCode, 4001)

    def test_closeTimeout(self):
        """A peer that never answers our close frame is aborted after timeoutClose seconds."""
        session, _ = self.open()
        session.close()
        self.reactor.advance(14.9)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(0.1)
        self.assertTrue(self.transport.disconnected)
        self.channel.connectionLost(None)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_connectionLost(self):
        """A connection lost without a close frame is a disconnect with 1006, at once."""
        session, _ = self.open()
        self.channel.connectionLost(None)
        self.assertTrue(session.disconnected)
        self.assertEqual((session.closeCode, session.disconnectReason), (1006, CLIENT_DISCONNECTED))
        self.assertIs(self.channel.state, HTTPState.CLOSED)

    def test_connectionLostConnecting(self):
        """The peer leaving before the handshake is answered disconnects the session."""
        session = self.connect()
        self.channel.connectionLost(None)
        self.assertEqual(session.closeCode, 1006)
        session.appFinished()
        self.assertEqual(self.logged[0].outcome, CLIENT_DISCONNECTED)

    def test_graceThenCancel(self):
        """A running application whose peer left is cancelled after the grace period."""
        session, _ = self.open()
        self.channel.connectionLost(None)
        self.reactor.advance(2.9)
        self.assertEqual(self.adapter.cancelled, [])
        self.reactor.advance(0.1)
        self.assertEqual(self.adapter.cancelled, [session])

    def test_unfinishedSessionAborted(self):
        """
        An application that finished without closing its open session does
        not leave the connection open.
        """
        session, _ = self.open()
        session.appFinished()
        self.assertTrue(self.transport.disconnected)


class PingTests(WebSocketTestsMixin, TestCase):
    wsSettings = WebSocketSettings(wsPingInterval=10.0, wsPingTimeout=5.0, wsMaxSize=1024)

    def test_pings(self):
        """A ping goes out every wsPingInterval seconds while the peer answers."""
        session, peer = self.open()
        self.reactor.advance(9.9)
        self.assertEqual(self.take(), b"")
        self.reactor.advance(0.1)
        [ping] = self.receive(peer)
        self.assertIsInstance(ping, Ping)
        self.channel.dataReceived(peer.send(ping.response()))
        self.reactor.advance(10)
        self.assertEqual([type(e) for e in self.receive(peer)], [Ping])
        self.assertFalse(session.disconnected)

    def test_silentPeer(self):
        """
        A peer that does not answer within wsPingTimeout is sent 1011 and
        aborted; the session gets 1006 and "ping timeout"
        (client-disconnected).
        """
        session, peer = self.open()
        self.reactor.advance(10)
        self.take()
        self.reactor.advance(4.9)
        self.assertFalse(session.disconnected)
        self.reactor.advance(0.1)
        self.assertEqual(self.receive(peer), [CloseConnection(code=1011, reason="ping timeout")])
        self.assertTrue(self.transport.disconnected)
        self.assertEqual((session.closeCode, session.closeReason), (1006, "ping timeout"))
        self.assertEqual(session.disconnectReason, CLIENT_DISCONNECTED)

    def test_anyDataIsAnAnswer(self):
        """A peer busy sending (a message, no pong yet) is not late."""
        session, peer = self.open()
        self.reactor.advance(10)
        self.channel.dataReceived(peer.send(TextMessage(data="busy")))
        self.reactor.advance(5)
        self.assertFalse(session.disconnected)

    def test_notLateWhilePaused(self):
        """While the server stopped reading (a full queue) the peer is not late."""
        session, peer = self.open()
        data = b"".join(peer.send(TextMessage(data="m")) for _ in range(QUEUE_MESSAGES))
        self.channel.dataReceived(data)
        self.reactor.advance(15)
        self.assertFalse(session.disconnected)

    def test_onePingAtATime(self):
        """No ping is sent while one is unanswered."""
        self.wsSettings = WebSocketSettings(wsPingInterval=1.0, wsPingTimeout=5.0)
        self.setUp()
        _, peer = self.open()
        self.reactor.advance(1)
        self.reactor.advance(1)
        self.reactor.advance(1)
        self.assertEqual([type(e) for e in self.receive(peer)], [Ping])

    def test_noPings(self):
        """With wsPingInterval 0 nothing is scheduled for an open session."""
        self.wsSettings = WebSocketSettings(wsPingInterval=0)
        self.setUp()
        self.open()
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_closingStopsPings(self):
        """
        Once a close is under way no ping is sent, and nothing is left
        scheduled after the loss.
        """
        session, peer = self.open()
        session.close()
        self.reactor.advance(10)
        self.assertEqual([type(e) for e in self.receive(peer)], [CloseConnection])
        self.channel.connectionLost(None)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class ShutdownTests(WebSocketTestsMixin, TestCase):
    def test_stopKeepAliveLeavesSessions(self):
        """At the start of a graceful stop an open session runs on."""
        session, _ = self.open()
        self.state.closeIdleConnections()
        self.assertEqual(self.take(), b"")
        self.assertFalse(self.transport.disconnecting or session.disconnected)

    def test_abortForShutdown(self):
        """
        When the graceful timeout runs out an open session gets a close
        frame with 1012, the application 1012 (outcome shutdown) and the
        grace period.
        """
        session, peer = self.open()
        self.state.disconnectAll()
        self.assertEqual(self.receive(peer), [CloseConnection(code=1012, reason="")])
        self.assertEqual((session.closeCode, session.disconnectReason), (1012, SHUTDOWN))
        self.channel.dataReceived(peer.send(CloseConnection(code=1012)))
        self.assertTrue(self.transport.disconnecting)
        self.reactor.advance(3)
        self.assertEqual(self.adapter.cancelled, [session])
        session.appFinished()
        self.assertEqual(self.logged[0].outcome, SHUTDOWN)

    def test_abortUndecided(self):
        """A handshake still undecided at the end of a graceful stop is answered 503."""
        session = self.connect()
        self.state.disconnectAll()
        self.assertTrue(self.take().startswith(b"HTTP/1.1 503 Service Unavailable\r\n"))
        self.assertEqual(session.disconnectReason, SHUTDOWN)
        self.assertTrue(self.transport.disconnecting)

    def test_abortClosing(self):
        """A connection already closing is aborted."""
        session, _ = self.open()
        session.close()
        self.state.disconnectAll()
        self.assertTrue(self.transport.disconnected)


class SettingsTests(TestCase):
    def test_fromConfig(self):
        """WebSocketSettings takes its fields from the configuration."""
        from gracehttp._config import Config

        config = Config(wsMaxSize=5, wsPingInterval=1.5, wsPerMessageDeflate=False)
        settings = WebSocketSettings.fromConfig(config)
        self.assertEqual(
            (settings.wsMaxSize, settings.wsPingInterval, settings.wsPerMessageDeflate),
            (5, 1.5, False),
        )
        self.assertEqual(settings.timeoutClose, 15.0)


class WiringTests(TestCase):
    """
    The service installs the WebSocket switch for an ASGI application
    unless WebSockets are off, never for a WSGI one.
    """

    def switch(self, interface, **settings):
        from gracehttp._config import Config
        from gracehttp._service import _webSocketSwitch

        state = ServerState(MemoryReactorClock())
        return _webSocketSwitch(
            ManualAdapter(),
            MemoryReactorClock(),
            state,
            Config(**settings),
            [("", None, interface, True)],
        )

    def test_asgi(self):
        """An ASGI application gets the switch, with the WebSocket settings."""
        for mode in ("auto", "on"):
            switch = self.switch("asgi3", ws=mode, wsMaxSize=99)
            self.assertIsInstance(switch, WebSocketSwitch)
            self.assertEqual(switch.settings.wsMaxSize, 99)

    def test_off(self):
        """--ws off: no switch (upgrade requests are plain HTTP)."""
        self.assertIsNone(self.switch("asgi2", ws="off"))

    def test_wsgi(self):
        """A WSGI application gets no switch; --ws on is then an error."""
        self.assertIsNone(self.switch("wsgi"))
        self.assertIsNone(self.switch("wsgi", ws="off"))
        with self.assertRaises(ValueError):
            self.switch("wsgi", ws="on")
