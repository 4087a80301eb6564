"""
A WebSocket connection (RFC 6455) on wsproto, taken over from an HTTP/1.1
connection at an C{Upgrade: websocket} request: the protocol side of one
L{Session<gracehttp._core.session.Session>}.

Theory of operation
===================

The HTTP/1.1 channel hands the connection over
(L{gracehttp._protocols.http11.upgrade}): L{WebSocketConnection} is
connected to the transport and makes the session.  Its parts, each with
its theory of operation:

  - L{pending<gracehttp._protocols.websocket.pending>}: until the
    application decides: the session filled in from the upgrade request,
    a malformed handshake refused, early data held, the handshake
    accepted;
  - L{states<gracehttp._protocols.websocket.states>}: C{CONNECTING},
    C{OPEN}, C{CLOSING}, C{CLOSED};
  - L{closing<gracehttp._protocols.websocket.closing>}: the bounded
    close, the TCP close, the graceful stop;
  - L{pinger<gracehttp._protocols.websocket.pinger>}: pings, and a
    silent peer found out.

What is left here is the open session's frames, both ways.

Reading.  wsproto parses every read (while a message longer than one
read arrives, the transport reads 256 KiB at a time, as HTTP/1.1 does for
a large body: a 1 MiB message then costs four reads instead of sixteen);
complete messages go to the session, whose queue is bounded: when it is
full the transport is paused until the application took enough
(C{messagesConsumed}).  A peer's ping is answered at once with a pong.
wsproto reports what it refuses (a protocol error, text that is not
UTF-8, a message over the size limit: see
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

Close frames (RFC 6455 section 7; the rest of the close:
L{closing<gracehttp._protocols.websocket.closing>}):

  - the peer's close frame: answered with a close frame of the same code,
    the session is told (its code and reason, outcome C{completed}) and
    the server closes the TCP connection (section 7.1.1);
  - the application's close: a close frame, then the peer's answer is
    awaited (what else it sends is dropped); on it, the TCP connection is
    closed;
  - the connection lost without a close frame: the session is told with
    code 1006 (section 7.1.5) at once, outcome C{client-disconnected}.
"""

import struct

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
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
from gracehttp._protocols.websocket.closing import Closer
from gracehttp._protocols.websocket.handshake import httpResponse
from gracehttp._protocols.websocket.pending import PendingHandshake
from gracehttp._protocols.websocket.pinger import Pinger
from gracehttp._protocols.websocket.states import (
    ABNORMAL_CLOSURE,
    CLOSED,
    CONNECTING,
    MESSAGE_TOO_BIG,
    OPEN,
)

SMALL_FRAME = 16 * 1024
"""
Frames up to this many payload bytes are joined to their header and sent
in one write; larger ones are sent as two buffers without a copy.
"""

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
    @ivar _pending: the handshake, until the application decides.
    @type _pending: L{PendingHandshake}
    @ivar _closer: how the connection ends.
    @type _closer: L{Closer}
    @ivar _pinger: its pings.
    @type _pinger: L{Pinger}
    @ivar _ws: wsproto's connection, once accepted.
    @ivar _deflate: the permessage-deflate extension, if negotiated.
    @ivar _pieces: the pieces of the message being received.
    @ivar _failed: the server failed the connection: nothing more is
        parsed.
    @ivar _readPaused: we paused the transport.
    @ivar _heard: the peer sent something since the last ping.
    @ivar _writePaused: the transport asked its producer to pause.
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
        settings = switch.settings
        self._switch = switch
        self._adapter = adapter
        self._reactor = switch.reactor
        self._grace = settings.disconnectGracePeriod
        self._pending = PendingHandshake(switch, request, opening)
        self._closer = Closer(self, switch.reactor, settings.timeoutClose)
        self._pinger = Pinger(self, switch.reactor, settings)
        self.session = None
        self.state = CONNECTING
        self._ws = None
        self._deflate = None
        self._pieces = []
        self._failed = False
        self._readPaused = False
        self._heard = False
        self._writePaused = False
        self._defaultReadSize = None
        self._largeReads = False
        self._writer = None

    # -- the transport's callbacks ---------------------------------------------

    def connectionMade(self):
        transport = self.transport
        self._writer = writerFor(transport)
        noDelay = getattr(transport, "setTcpNoDelay", None)
        if noDelay is not None:
            noDelay(True)
        self._defaultReadSize = getattr(transport, "bufferSize", None)
        session = self.session = Session(self, self._reactor, self._grace)
        transport.registerProducer(self, True)
        self._closer.producing = True
        self._pending.start(session, self._adapter)

    def dataReceived(self, data):
        self._heard = True
        ws = self._ws
        if ws is None:
            if self.state is CONNECTING and self._pending.hold(data):
                self._pauseReading()
            return
        if self._failed or ws.state is ConnectionState.CLOSED:
            return
        ws.receive_data(data)
        self._handleEvents(ws)

    def connectionLost(self, reason=None):
        self.state = CLOSED
        self._pinger.stop()
        self._closer.connectionLost()
        self._pieces = []
        session = self.session
        if session is not None:
            outcome = SHUTDOWN if self._closer.shutdown else CLIENT_DISCONNECTED
            session.disconnect(outcome, ABNORMAL_CLOSURE, "")

    # -- IPushProducer (towards our transport) ---------------------------------

    def pauseProducing(self):
        self._writePaused = True
        if self.session is not None:
            self.session.pauseWriting()

    def resumeProducing(self):
        self._writePaused = False
        if self._closer.losing:
            # What was left to send when we closed has drained.
            self._closer.unregister()
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
        The graceful timeout ran out: see L{Closer.abortForShutdown}.
        """
        self._closer.abortForShutdown()

    # -- ISessionChannel -------------------------------------------------------

    def acceptSession(self, session, subprotocol, headers):
        head, extensions, self._deflate, early = self._pending.accept(subprotocol, headers)
        self._writer.write(head)
        self.state = OPEN
        self._ws = Connection(SERVER, extensions)
        self._pinger.start()
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
        self._closer.closing()

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
            self._closer.close()
        elif state is ConnectionState.CLOSED:
            self._closer.close()
        else:
            code = int(event.code)
            reason = "message too big" if code == MESSAGE_TOO_BIG else event.reason or ""
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
        self._closer.close()

    def _pauseReading(self):
        if not self._readPaused:
            self._readPaused = True
            self.transport.pauseProducing()

    def _resumeReading(self):
        if self._readPaused:
            self._readPaused = False
            self.transport.resumeProducing()

    # -- writing ---------------------------------------------------------------

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
        self._closer.close()
