"""
A WebSocket connection (RFC 6455) on wsproto, taken over from an HTTP/1.1
connection at an C{Upgrade: websocket} request: the protocol side of one
L{Session<gracehttp._core.session.Session>}.

Theory of operation
===================

The HTTP/1.1 channel hands the connection over
(L{gracehttp._protocols.http11.upgrade}): L{WebSocketConnection} is
connected to the transport, makes the session from the upgrade request
and hands it to the adapter (the application decides the handshake).  A
handshake L{readOpening<gracehttp._protocols.websocket.handshake.readOpening>}
refused is answered here (400 or 426) without reaching the application,
and logged with the C{rejected} outcome.

The states: C{CONNECTING} (the application decides), C{OPEN} (accepted:
frames flow), C{CLOSING} (a close is under way: ours or the peer's close
frame was sent, or the server gave up) and C{CLOSED} (the connection is
lost).

Reading.  Until the application accepts, what the client sends (nothing,
if it follows RFC 6455 section 4.1) is held, and past L{HOLD_SIZE} bytes
the transport is paused; it is parsed once the handshake is accepted.
wsproto parses every read (while a message longer than one read arrives,
the transport reads 256 KiB at a time, as HTTP/1.1 does for a large body:
a 1 MiB message then costs four reads instead of sixteen); complete
messages go to the session, whose
queue is bounded: when it is full the transport is paused until the
application took enough (C{messagesConsumed}).  A peer's ping is answered
at once with a pong.  wsproto reports what it refuses (a protocol error,
text that is not UTF-8, a message over the size limit: see
L{extensions<gracehttp._protocols.websocket.extensions>}) as a close with
that code before the peer closed: the server then fails the connection
(RFC 6455 section 7.1.7): it sends a close frame with the code, tells the
session (outcome C{rejected}) and closes the TCP connection.

Writing.  Messages are framed here (a server's frames are not masked, RFC
6455 section 5.1), compressed first by permessage-deflate if it was
negotiated, and sent at once on a plain TCP connection
(L{writerFor<gracehttp._protocols.socketwriter.writerFor>}); control
frames go through wsproto, which keeps the closing state.  The connection
is the transport's streaming producer: above its high-water mark the
session is paused (the application's C{send} waits).  The socket has
C{TCP_NODELAY} set: a message is sent whole as soon as it is written.
Without it, Nagle's algorithm holds the last, partial segment of a large
message until the peer acknowledges what went before, and a peer that
delays its acknowledgements (Linux does, up to 40 ms) then delays every
large message: the 1 MiB echo of C{bench/ws.py} ran at less than half
the rate, the server idle in between.

Closing (RFC 6455 section 7):

  - the peer's close frame: answered with a close frame of the same code,
    the session is told (its code and reason, outcome C{completed}) and
    the server closes the TCP connection (section 7.1.1);
  - the application's close: a close frame, then the peer's answer is
    awaited (what else it sends is dropped); on it, the TCP connection is
    closed;
  - the connection lost without a close frame: the session is told with
    code 1006 (section 7.1.5) at once, outcome C{client-disconnected};
  - closing the TCP connection, the connection stops being the
    transport's producer once what is left to send fits in its buffer (a
    TLS transport sends its C{close_notify} only then);
  - every close is bounded: C{timeoutClose} seconds after it starts the
    connection is aborted (a peer that never answers our close frame, or
    over TLS never answers C{close_notify}).

Pings (C{wsPingInterval} seconds apart, when it is positive): a ping is
sent unless one is unanswered, and the peer must be heard from (a pong, or
anything it sends) within C{wsPingTimeout} seconds.  A silent peer is sent
a close frame with 1011 and the connection is aborted; the session is told
with code 1006 and reason C{ping timeout} (outcome
C{client-disconnected}).  While the server itself stopped reading (the
session's queue is full) the peer is not late.

Graceful stop (L{IConnection<gracehttp._core.serverstate.IConnection>}):
C{stopKeepAlive} does nothing (a session runs until it ends, up to the
graceful timeout); C{abortForShutdown} closes an open session with 1012
(service restart) and tells the application (outcome C{shutdown}), which
then gets the grace period; a handshake still undecided is answered 503.
"""

import struct

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from wsproto.connection import SERVER, Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import FrameProtocol, Opcode, RsvBits
from zope.interface import implementer

from gracehttp._core.exchange import CLIENT_DISCONNECTED, COMPLETED, REJECTED, SHUTDOWN
from gracehttp._core.interfaces import ISessionChannel
from gracehttp._core.serverstate import IConnection
from gracehttp._core.session import Session
from gracehttp._protocols.http11.head import LARGE_BODY_READ_SIZE
from gracehttp._protocols.socketwriter import writerFor
from gracehttp._protocols.websocket.extensions import negotiate
from gracehttp._protocols.websocket.handshake import (
    BadHandshake,
    acceptValue,
    httpResponse,
    switchingHead,
)

_log = Logger()

HOLD_SIZE = 16 * 1024
"""
Bytes a client may send before its handshake is accepted before the
transport is paused.
"""

SMALL_FRAME = 16 * 1024
"""
Frames up to this many payload bytes are joined to their header and sent
in one write; larger ones are sent as two buffers without a copy.
"""

CONNECTING = "CONNECTING"
OPEN = "OPEN"
CLOSING = "CLOSING"
CLOSED = "CLOSED"

_MESSAGE_TOO_BIG = 1009
_INTERNAL_ERROR = 1011
_SERVICE_RESTART = 1012
_ABNORMAL_CLOSURE = 1006

# What permessage-deflate's frame_outbound reads of the protocol: that we
# are the server (no masking).
_SERVER_SIDE = FrameProtocol(False, [])
_NO_BITS = RsvBits(False, False, False)


def _frameHeader(first, size):
    """
    A frame header (RFC 6455 section 5.2) of a server's frame: not masked.

    @param first: the first byte: FIN, RSV bits and opcode.
    @param size: the payload length.
    @rtype: L{bytes}
    """
    if size < 126:
        return bytes((first, size))
    if size < 65536:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


@implementer(ISessionChannel, IPushProducer, IConnection)
class WebSocketConnection(Protocol):
    """
    One WebSocket connection, after the HTTP/1.1 upgrade request.  See the
    module docstring.

    @ivar session: the session, once connected.
    @type session: L{Session}
    @ivar state: C{CONNECTING}, C{OPEN}, C{CLOSING} or C{CLOSED}.
    @ivar _switch: what made it: the adapter, reactor, server state and
        settings.
    @type _switch: L{WebSocketSwitch
        <gracehttp._protocols.websocket.switch.WebSocketSwitch>}
    @ivar _request: the upgrade request.
    @type _request: L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar _opening: what its handshake asks for, or why it is refused.
    @type _opening: L{Opening<gracehttp._protocols.websocket.handshake.Opening>}
        or L{BadHandshake}
    @ivar _ws: wsproto's connection, once accepted.
    @ivar _deflate: the permessage-deflate extension, if negotiated.
    @ivar _early: what the client sent before the handshake was accepted.
    @ivar _pieces: the pieces of the message being received.
    @ivar _failed: the server failed the connection: nothing more is
        parsed.
    @ivar _readPaused: we paused the transport.
    @ivar _heard: the peer sent something since the last ping.
    @ivar _shutdown: a graceful stop cut the connection.
    @ivar _producing: registered as the transport's producer.
    @ivar _writePaused: the transport asked its producer to pause.
    @ivar _losing: the TCP connection is being closed (C{loseConnection}).
    @ivar _defaultReadSize: the transport's own C{bufferSize}, or L{None}
        for a transport without one (TLS).
    @ivar _largeReads: a message longer than one read is arriving: the
        transport reads L{LARGE_BODY_READ_SIZE
        <gracehttp._protocols.http11.head.LARGE_BODY_READ_SIZE>} bytes at a
        time until it is complete.
    """

    def __init__(self, switch, request, opening, adapter):
        """
        @param switch: what made it.
        @type switch: L{WebSocketSwitch
            <gracehttp._protocols.websocket.switch.WebSocketSwitch>}
        @param request: the upgrade request.
        @type request: L{Exchange<gracehttp._core.exchange.Exchange>}
        @param opening: what its handshake asks for, or why it is refused.
        @param adapter: runs the application's session.
        @type adapter: L{ISessionAdapter<gracehttp._core.interfaces.ISessionAdapter>}
        """
        self._switch = switch
        self._adapter = adapter
        self._settings = switch.settings
        self._reactor = switch.reactor
        self._request = request
        self._opening = opening
        self.session = None
        self.state = CONNECTING
        self._ws = None
        self._deflate = None
        self._early = []
        self._earlySize = 0
        self._pieces = []
        self._failed = False
        self._readPaused = False
        self._heard = False
        self._shutdown = False
        self._producing = False
        self._writePaused = False
        self._losing = False
        self._defaultReadSize = None
        self._largeReads = False
        self._pingCall = None
        self._pongCall = None
        self._closeCall = None
        self._writer = None

    # -- the transport's callbacks ---------------------------------------------

    def connectionMade(self):
        transport = self.transport
        self._writer = writerFor(transport)
        noDelay = getattr(transport, "setTcpNoDelay", None)
        if noDelay is not None:
            noDelay(True)
        self._defaultReadSize = getattr(transport, "bufferSize", None)
        session = self.session = Session(self, self._reactor, self._settings.disconnectGracePeriod)
        transport.registerProducer(self, True)
        self._producing = True
        request = self._request
        session.startTime = request.startTime
        session.method = request.method
        session.rawPath = request.rawPath
        session.queryString = request.queryString
        session.httpVersion = request.httpVersion
        session.headers = request.headers
        session.client = request.client
        session.server = request.server
        session.mount = request.mount
        session.scheme = "wss" if request.scheme in ("https", "wss") else "ws"
        opening = self._opening
        if isinstance(opening, BadHandshake):
            self._refuse(opening)
            return
        session.subprotocols = opening.subprotocols
        self._adapter.handleSession(session)

    def dataReceived(self, data):
        self._heard = True
        ws = self._ws
        if ws is None:
            if self.state is CONNECTING:
                self._hold(data)
            return
        if self._failed or ws.state is ConnectionState.CLOSED:
            return
        ws.receive_data(data)
        self._handleEvents(ws)

    def connectionLost(self, reason=None):
        self.state = CLOSED
        self._stopPings()
        call = self._closeCall
        if call is not None:
            self._closeCall = None
            call.cancel()
        self._pieces = []
        session = self.session
        if session is not None:
            session.disconnect(
                SHUTDOWN if self._shutdown else CLIENT_DISCONNECTED, _ABNORMAL_CLOSURE, ""
            )

    # -- IPushProducer (towards our transport) ---------------------------------

    def pauseProducing(self):
        self._writePaused = True
        if self.session is not None:
            self.session.pauseWriting()

    def resumeProducing(self):
        self._writePaused = False
        if self._losing:
            # What was left to send when we closed has drained.
            self._unregister()
        elif self.session is not None:
            self.session.resumeWriting()

    def stopProducing(self):
        pass

    # -- IConnection -----------------------------------------------------------

    def stopKeepAlive(self):
        """
        A graceful stop began: a session runs on until it ends or the
        graceful timeout cuts it (L{abortForShutdown}).
        """

    def abortForShutdown(self):
        """
        The graceful timeout ran out: close an open session with 1012
        (service restart), answer an undecided handshake 503; the
        application is told (outcome C{shutdown}).  A connection already
        closing is aborted.
        """
        self._shutdown = True
        session = self.session
        state = self.state
        if state is OPEN:
            self._writeControl(CloseConnection(code=_SERVICE_RESTART))
            session.disconnect(SHUTDOWN, _SERVICE_RESTART, "")
            self._closing()
        elif state is CONNECTING:
            session.status = 503
            session.disconnect(SHUTDOWN, _SERVICE_RESTART, "")
            self._answer(503, [(b"retry-after", b"1")], b"Service Unavailable\n")
        else:
            self.transport.abortConnection()

    # -- ISessionChannel -------------------------------------------------------

    def acceptSession(self, session, subprotocol, headers):
        settings = self._settings
        opening = self._opening
        extensions, self._deflate, offered = negotiate(
            opening.extensions, settings.wsPerMessageDeflate, settings.wsMaxSize
        )
        self._writer.write(
            switchingHead(
                acceptValue(opening.key),
                subprotocol,
                offered,
                headers,
                self._switch.serverState.dateHeader(),
            )
        )
        self.state = OPEN
        self._ws = Connection(SERVER, extensions)
        self._armPing()
        early = b"".join(self._early)
        self._early = []
        self._earlySize = 0
        self._resumeReading()
        if early:
            self.dataReceived(early)

    def denySession(self, session, status, headers, body):
        self._answer(status, headers, body)

    def sendMessage(self, session, data):
        if type(data) is str:
            opcode = Opcode.TEXT
            payload = data.encode("utf-8")
        else:
            opcode = Opcode.BINARY
            payload = data if type(data) is bytes else bytes(data)
        first = 0x80 | opcode
        deflate = self._deflate
        if deflate is not None:
            _, payload = deflate.frame_outbound(_SERVER_SIDE, opcode, _NO_BITS, payload, True)
            first |= 0x40
        header = _frameHeader(first, len(payload))
        if len(payload) <= SMALL_FRAME:
            self._writer.write(header + payload)
        else:
            self._writer.writeSequence([header, payload])

    def closeSession(self, session, code, reason):
        self._writeControl(CloseConnection(code=code, reason=reason))
        self._closing()

    def messagesConsumed(self, session):
        if self.state is OPEN:
            self._resumeReading()

    def sessionFinished(self, session):
        self._switch.serverState.requestFinished(session)
        if self.state is CONNECTING or self.state is OPEN:
            # The adapter ends a session it did not close (a denial, a
            # close); should one not, the connection is not left open.
            self.transport.abortConnection()

    # -- reading ---------------------------------------------------------------

    def _hold(self, data):
        """
        Keep what the client sent before its handshake is accepted; pause
        the transport past L{HOLD_SIZE} bytes.
        """
        self._early.append(data)
        self._earlySize += len(data)
        if self._earlySize > HOLD_SIZE:
            self._pauseReading()

    def _handleEvents(self, ws):
        """
        Act on what wsproto parsed: messages to the session, pings
        answered, closes.
        """
        for event in ws.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                if event.message_finished:
                    pieces = self._pieces
                    if pieces:
                        pieces.append(event.data)
                        data = "".join(pieces) if kind is TextMessage else b"".join(pieces)
                        self._pieces = []
                        if self._largeReads:
                            self._largeReads = False
                            self.transport.bufferSize = self._defaultReadSize
                    else:
                        data = event.data
                    if self.session.receiveMessage(data):
                        self._pauseReading()
                else:
                    self._pieces.append(event.data)
                    if not self._largeReads and self._defaultReadSize is not None:
                        # A message longer than a read: read it in larger
                        # pieces, as HTTP/1.1 reads a large body.
                        self._largeReads = True
                        self.transport.bufferSize = LARGE_BODY_READ_SIZE
            elif kind is Ping:
                if ws.state is ConnectionState.OPEN:
                    self._writeControl(event.response())
            elif kind is CloseConnection:
                self._closeReceived(ws, event)

    def _closeReceived(self, ws, event):
        """
        wsproto reported a close: the peer's (answer it, tell the session,
        close the TCP connection), the peer's answer to ours (close the TCP
        connection), or a failure it found in what the peer sent (fail the
        connection).
        """
        state = ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            self._writeControl(event.response())
            self.session.disconnect(COMPLETED, event.code, event.reason or "")
            self._close()
        elif state is ConnectionState.CLOSED:
            self._close()
        else:
            code = int(event.code)
            reason = "message too big" if code == _MESSAGE_TOO_BIG else event.reason or ""
            self._fail(code, reason)

    def _fail(self, code, reason):
        """
        Fail the WebSocket connection (RFC 6455 section 7.1.7): a close
        frame with C{code} if none was sent, the session told (outcome
        C{rejected}), the TCP connection closed; nothing more is parsed.
        """
        self._failed = True
        if self._ws.state is ConnectionState.OPEN:
            self._writeControl(CloseConnection(code=code, reason=reason))
        self.session.disconnect(REJECTED, code, reason)
        self._close()

    def _pauseReading(self):
        if not self._readPaused:
            self._readPaused = True
            self.transport.pauseProducing()

    def _resumeReading(self):
        if self._readPaused:
            self._readPaused = False
            self.transport.resumeProducing()

    # -- writing and closing ---------------------------------------------------

    def _writeControl(self, event):
        """
        Send a control frame through wsproto, which keeps the closing
        state.
        """
        self._writer.write(bytes(self._ws.send(event)))

    def _answer(self, status, headers, body):
        """
        Answer the handshake with a complete HTTP response, and close.
        """
        date = self._switch.serverState.dateHeader()
        self._writer.write(httpResponse(status, headers, body, date))
        self._close()

    def _refuse(self, bad):
        """
        Answer a handshake that cannot be accepted (400, 426) without the
        application, and log it as rejected.

        @type bad: L{BadHandshake}
        """
        session = self.session
        body = f"Bad WebSocket handshake: {bad}\n".encode()
        session.deny(bad.status, bad.headers, body)
        session.outcome = REJECTED
        session.appFinished()

    def _closing(self):
        """
        A close is under way: no more pings, read on (the peer's close is
        to be read), and abort the connection if it has not closed within
        C{timeoutClose} seconds.
        """
        if self.state is CLOSED:
            return
        self.state = CLOSING
        self._stopPings()
        self._resumeReading()
        if self._closeCall is None:
            self._closeCall = self._reactor.callLater(
                self._settings.timeoutClose, self._closeTimedOut
            )

    def _close(self):
        """
        Close the TCP connection (bounded by L{_closing}'s timer).  The
        connection stays the transport's producer until what is left to
        send fits in its buffer, then lets go of it: a TLS transport sends
        its C{close_notify} only once no producer is registered.
        """
        self._closing()
        if self._losing:
            return
        self._losing = True
        self.transport.loseConnection()
        if not self._writePaused:
            self._unregister()

    def _unregister(self):
        if self._producing:
            self._producing = False
            self.transport.unregisterProducer()

    def _closeTimedOut(self):
        self._closeCall = None
        self.transport.abortConnection()

    # -- pings -----------------------------------------------------------------

    def _armPing(self):
        interval = self._settings.wsPingInterval
        if interval > 0:
            self._pingCall = self._reactor.callLater(interval, self._ping)

    def _ping(self):
        """
        Send a ping (unless one is unanswered) and time the answer.
        """
        self._pingCall = None
        if self.state is not OPEN:
            return
        if self._pongCall is None:
            self._heard = False
            self._writeControl(Ping())
            self._pongCall = self._reactor.callLater(
                self._settings.wsPingTimeout, self._pingTimedOut
            )
        self._armPing()

    def _pingTimedOut(self):
        """
        The ping's time is up: a peer heard from since, or one we stopped
        reading from, is alive; a silent one is disconnected.
        """
        self._pongCall = None
        if self.state is not OPEN or self._heard or self._readPaused:
            return
        _log.info(
            "WebSocket peer {client} did not answer a ping within {timeout} s",
            client=self.session.client,
            timeout=self._settings.wsPingTimeout,
        )
        self._failed = True
        self._writeControl(CloseConnection(code=_INTERNAL_ERROR, reason="ping timeout"))
        self.session.disconnect(CLIENT_DISCONNECTED, _ABNORMAL_CLOSURE, "ping timeout")
        self._closing()
        self.transport.abortConnection()

    def _stopPings(self):
        for name in ("_pingCall", "_pongCall"):
            call = getattr(self, name)
            if call is not None:
                setattr(self, name, None)
                call.cancel()
