"""
The WebSocket session: the seam between a WebSocket protocol and an app
adapter, as L{Exchange<gracehttp._core.exchange.Exchange>} is for an HTTP
request.

Theory of operation
===================

A protocol (L{gracehttp._protocols.websocket}) makes one L{Session} per
WebSocket opening handshake (RFC 6455 section 4), fills in the request
fields from the upgrade request, and hands it to an L{ISessionAdapter
<gracehttp._core.interfaces.ISessionAdapter>}.  Neither side knows the
other: the protocol is the session's L{ISessionChannel
<gracehttp._core.interfaces.ISessionChannel>}, and the adapter speaks only
to the session.

The handshake is the application's to decide.  A session is
L{CONNECTING} until the adapter calls one of:

  - L{Session.accept}: the protocol answers C{101 Switching Protocols}
    (with the subprotocol and extra headers given) and the session is
    L{OPEN};
  - L{Session.deny}: the protocol answers that HTTP response instead (any
    status from 200 on, with a body) and closes; the session is
    L{DENIED}.

While it is open:

  - the protocol gives complete messages (L{str} for text, L{bytes} for
    binary) to L{Session.receiveMessage}; the adapter takes them with
    L{Session.nextMessage}.  They queue up to L{QUEUE_MESSAGES} messages
    or L{QUEUE_BYTES} bytes; C{receiveMessage} says when that is reached,
    and the protocol then stops reading until the adapter took enough
    (the session calls the channel's C{messagesConsumed}): a slow
    application cannot make the server buffer without bound.
  - the adapter sends with L{Session.send}; while the transport is above
    its high-water mark (L{Session.pauseWriting} until
    L{Session.resumeWriting}) the adapter waits before sending more.
  - L{Session.close} is the application's close (a close frame with its
    code and reason, RFC 6455 section 5.5.1): the session is L{CLOSED}
    and the conversation over for the application; what the peer does
    after it (its answering close frame, dropping the connection) is no
    disconnect.

The disconnect state machine
----------------------------

A session is a unit of work of L{gracehttp._core.lifecycle}: L{Session}
derives from L{Lifecycle<gracehttp._core.lifecycle.Lifecycle>}, so a
session whose peer leaves gets what an HTTP request gets: the application
is told at once, has the grace period, and is then cancelled.
L{Session.disconnect} is the protocol's call, once the peer is gone
before the application closed the session, with the close code the
application is to see (RFC 6455 section 7.1.5):

  - the peer's close frame: its code and reason (1005 for a frame without
    a code), outcome L{COMPLETED} (a close handshake is the usual end of a
    session);
  - the connection lost without a close frame, or a peer that stopped
    answering pings: 1006, outcome L{CLIENT_DISCONNECTED};
  - a message the server refuses (a protocol error, 1002; text that is
    not UTF-8, 1007; a message over the size limit, 1009): that code,
    outcome L{REJECTED};
  - a graceful stop: 1012 (service restart), outcome L{SHUTDOWN}.

From then on L{Session.send}, L{Session.accept} and L{Session.close} raise
L{ClientDisconnected}, and the adapter's C{receive} ends with the
disconnect once the queued messages are taken.

The outcome
-----------

When the application is done (L{Session.appFinished
<gracehttp._core.lifecycle.Lifecycle.appFinished>}) the session records
its L{Session.outcome} for the access log, with the same words as an
HTTP request: the disconnect's outcome if the peer left first (a peer that
left, with or without a close frame, becomes L{CANCELLED} if the grace
period ran out); L{ABORTED} if the application failed after it accepted
(L{Session.abort}: close code 1011); else L{COMPLETED}.  The channel then
reports it (C{sessionFinished}).
"""

from collections import deque

from gracehttp._core.exchange import (
    ABORTED,
    CANCELLED,
    CLIENT_DISCONNECTED,
    COMPLETED,
    REJECTED,
    SHUTDOWN,
)
from gracehttp._core.lifecycle import Lifecycle
from gracehttp._core.responsehead import TOKEN_CHARS, InvalidResponse, checkResponseHead
from gracehttp._errors import ClientDisconnected

__all__ = [
    "ABORTED",
    "CANCELLED",
    "CLIENT_DISCONNECTED",
    "CLOSED",
    "COMPLETED",
    "CONNECTING",
    "DENIED",
    "OPEN",
    "QUEUE_BYTES",
    "QUEUE_MESSAGES",
    "REJECTED",
    "SHUTDOWN",
    "Session",
    "checkCloseCode",
]

CONNECTING = "CONNECTING"
"""
The opening handshake waits for the application's decision.
"""
OPEN = "OPEN"
"""
The application accepted: messages flow both ways.
"""
CLOSED = "CLOSED"
"""
The application closed the session (a close frame was sent for it).
"""
DENIED = "DENIED"
"""
The application answered the handshake with an HTTP response (or the
server did, for a malformed handshake or a failed application).
"""

QUEUE_MESSAGES = 16
"""
Received messages queued for the application before the protocol stops
reading.
"""
QUEUE_BYTES = 1024 * 1024
"""
Bytes of received messages (characters, for text) queued for the
application before the protocol stops reading (one message larger than
this is taken whole: the message size limit bounds it).
"""

NORMAL_CLOSURE = 1000
INTERNAL_ERROR = 1011
ABNORMAL_CLOSURE = 1006

# RFC 6455 section 7.4 and the IANA "WebSocket Close Code Number Registry":
# the codes an endpoint may send in a close frame.  1004-1006 and 1015 are
# reserved or never sent; 1016-2999 are unassigned.
_SENDABLE = frozenset([1000, 1001, 1002, 1003, *range(1007, 1015)])

# The fields an application's accept headers must not set: the protocol
# writes them (RFC 6455 section 4.2.2).
_HANDSHAKE_FIELDS = frozenset(
    [
        b"sec-websocket-accept",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"content-length",
    ]
)


def checkCloseCode(code):
    """
    Check a close code an application asks to send (RFC 6455 section 7.4).

    @param code: 1000-1003, 1007-1014, or 3000-4999 (registered and private
        codes).
    @type code: L{int}
    @raise ValueError: it may not be sent in a close frame.
    """
    if type(code) is not int or not (code in _SENDABLE or 3000 <= code <= 4999):
        raise ValueError(f"invalid WebSocket close code {code!r}")


def _size(data):
    """
    The size of a message's payload in bytes: a text message is counted as
    UTF-8.
    """
    if type(data) is str and not data.isascii():
        return len(data.encode("utf-8"))
    return len(data)


def _isToken(text):
    """
    Is C{text} an RFC 9110 section 5.6.2 token, as a subprotocol name is
    (RFC 6455 section 4.1)?
    """
    return (
        type(text) is str
        and text.isascii()
        and bool(text)
        and not text.encode("ascii").translate(None, TOKEN_CHARS)
    )


class Session(Lifecycle):
    """
    One WebSocket session: a unit of work of L{gracehttp._core.lifecycle}.

    The request fields (set by the protocol from the upgrade request
    before the session reaches an adapter) are those of
    L{Exchange<gracehttp._core.exchange.Exchange>}, plus
    L{subprotocols}; the access log reads the same names.

    @ivar method: C{"GET"}.
    @ivar rawPath: the request target's path, still percent-encoded.
    @type rawPath: L{bytes}
    @ivar queryString: the part of the target after C{?}, without it.
    @type queryString: L{bytes}
    @ivar httpVersion: C{"1.1"}.
    @ivar headers: request header fields in order, names lowercased.
    @type headers: L{list} of (L{bytes}, L{bytes})
    @ivar client: the peer's (host, port), or L{None}.
    @ivar server: the local (host, port), C{(path, None)} for a UNIX
        socket, or L{None}.
    @ivar mount: the prefix of the mount that serves it, or L{None}
        (see L{Exchange<gracehttp._core.exchange.Exchange>}).
    @ivar scheme: C{"ws"} or C{"wss"}.
    @ivar subprotocols: the subprotocols the client offered
        (C{Sec-WebSocket-Protocol}, RFC 6455 section 4.1), in order.
    @type subprotocols: L{list} of L{str}
    @ivar phase: L{CONNECTING}, L{OPEN}, L{CLOSED} or L{DENIED}.
    @ivar ended: the conversation is over for the application: it closed
        or denied the session, or the peer is gone.  Its C{receive} ends
        with the disconnect once the queued messages are taken.
    @ivar closeCode: the close code that ended the session (the peer's,
        the application's, or the one the server closed with; 1006 for a
        connection lost without a close frame), or L{None} (still open, or
        denied).
    @ivar closeReason: the reason sent with it, or C{""}.
    @ivar status: 101 once accepted, the HTTP status of a denial, or
        L{None}.
    @ivar writePaused: the transport is above its high-water mark.
    @ivar messagesReceived: messages from the peer given to the session.
    @ivar bytesReceived: their payload bytes (text counted as UTF-8).
    @ivar messagesSent: messages the application sent.
    @ivar bytesSent: their payload bytes (text counted as UTF-8), or the
        body bytes of a denial.
    @ivar startTime: when the upgrade request's head was parsed (the
        clock's seconds).
    @ivar endTime: when the session ended for the peer (closed, denied or
        disconnected; the clock's seconds), or L{None}.
    @ivar outcome: how it ended (see the module docstring), or L{None}
        until the application is done.
    @ivar wake: the adapter's zero-argument callback for "something you may
        be waiting for changed", or L{None}.
    """

    __slots__ = (
        "_aborted",
        "_channel",
        "_full",
        "_queue",
        "_queuedBytes",
        "bytesReceived",
        "bytesSent",
        "client",
        "closeCode",
        "closeReason",
        "endTime",
        "ended",
        "headers",
        "httpVersion",
        "messagesReceived",
        "messagesSent",
        "method",
        "mount",
        "outcome",
        "phase",
        "queryString",
        "rawPath",
        "scheme",
        "server",
        "startTime",
        "status",
        "subprotocols",
        "wake",
        "writePaused",
    )

    def __init__(self, channel, clock, grace):
        """
        @param channel: the protocol that carries this session.
        @type channel: L{ISessionChannel<gracehttp._core.interfaces.ISessionChannel>}
        @param clock: schedules the grace period.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param grace: seconds between disconnect and cancel; C{0} cancels at
            once, negative never cancels.
        @type grace: L{float}
        """
        Lifecycle.__init__(self, clock, grace)
        self._channel = channel
        self.method = "GET"
        self.rawPath = b"/"
        self.queryString = b""
        self.httpVersion = "1.1"
        self.headers = []
        self.client = None
        self.server = None
        self.mount = None
        self.scheme = "ws"
        self.subprotocols = []
        self.phase = CONNECTING
        self.ended = False
        self.closeCode = None
        self.closeReason = ""
        self.status = None
        self.writePaused = False
        self.messagesReceived = 0
        self.bytesReceived = 0
        self.messagesSent = 0
        self.bytesSent = 0
        self.startTime = clock.seconds()
        self.endTime = None
        self.outcome = None
        self.wake = None
        self._queue = deque()
        self._queuedBytes = 0
        self._full = False
        self._aborted = False

    def _wake(self):
        """
        Call the adapter's C{wake}, if it set one.  Also the lifecycle's
        way to tell the application of the disconnect.
        """
        wake = self.wake
        if wake is not None:
            wake()

    def _end(self, code, reason):
        """
        The conversation is over: record the close code and reason (the
        first ones only) and when it ended.
        """
        self.ended = True
        if self.closeCode is None:
            self.closeCode = code
            self.closeReason = reason
        if self.endTime is None:
            self.endTime = self._clock.seconds()

    # -- protocol side -----------------------------------------------------

    def receiveMessage(self, data):
        """
        A complete message from the peer: queue it for the application and
        wake the adapter.  A message that arrives once the application
        closed the session is dropped (RFC 6455 section 1.4: after a close
        frame, the data that follows is not the application's).

        @param data: L{str} for a text message, L{bytes} for a binary one.
        @return: whether the queue is full (L{QUEUE_MESSAGES} messages or
            L{QUEUE_BYTES} bytes): the protocol should stop reading until
            the channel's C{messagesConsumed}.
        @rtype: L{bool}
        """
        if self.ended:
            return False
        self.messagesReceived += 1
        self.bytesReceived += _size(data)
        queue = self._queue
        queue.append(data)
        # The bound is on the objects queued: a text message counted in
        # characters.
        self._queuedBytes += len(data)
        self._wake()
        if len(queue) >= QUEUE_MESSAGES or self._queuedBytes >= QUEUE_BYTES:
            self._full = True
        return self._full

    def pauseWriting(self):
        """
        The transport is above its high-water mark: the adapter should wait
        before sending more.
        """
        self.writePaused = True

    def resumeWriting(self):
        """
        The transport drained: the adapter may send again.
        """
        self.writePaused = False
        self._wake()

    def disconnect(self, outcome=CLIENT_DISCONNECTED, code=ABNORMAL_CLOSURE, reason=""):
        """
        The peer is gone, or the server ended the session, before the
        application closed it.  Acts once, and not at all on a session the
        application closed or denied: records the close code, wakes the
        adapter and, if the application runs, starts the grace period (see
        L{gracehttp._core.lifecycle}).

        @param outcome: for the access log: L{COMPLETED} (the peer's close
            frame), L{CLIENT_DISCONNECTED} (the connection was lost, or the
            peer stopped answering pings), L{REJECTED} (the server refused
            what the peer sent) or L{SHUTDOWN} (a graceful stop).
        @type outcome: L{str}
        @param code: the close code the application sees (RFC 6455 section
            7.1.5).
        @type code: L{int}
        @param reason: the close reason it sees.
        @type reason: L{str}
        """
        if self.ended:
            return
        self._end(code, reason)
        Lifecycle.disconnect(self, outcome)

    # -- adapter side ------------------------------------------------------

    def nextMessage(self):
        """
        Take the oldest queued message.  Once the queue is below its bounds
        again after it was full, the channel may read on
        (C{messagesConsumed}).

        @return: L{str} (text), L{bytes} (binary), or L{None} if none is
            queued: check L{ended} to know whether more can come.
        """
        queue = self._queue
        if not queue:
            return None
        data = queue.popleft()
        self._queuedBytes -= len(data)
        if self._full and len(queue) < QUEUE_MESSAGES and self._queuedBytes < QUEUE_BYTES:
            self._full = False
            self._channel.messagesConsumed(self)
        return data

    def _checkConnecting(self, what):
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.phase is not CONNECTING:
            raise RuntimeError(f"{what} after the handshake was answered")

    def accept(self, subprotocol=None, headers=()):
        """
        Accept the opening handshake: the channel answers C{101 Switching
        Protocols} (RFC 6455 section 4.2.2).

        @param subprotocol: the subprotocol chosen (C{Sec-WebSocket-Protocol}),
            or L{None}.
        @type subprotocol: L{str} or L{None}
        @param headers: more response header fields; hop-by-hop fields and
            those the handshake sets (C{Sec-WebSocket-*}) are not sent.
        @type headers: iterable of (L{bytes}, L{bytes})
        @raise ClientDisconnected: the peer is gone.
        @raise RuntimeError: the handshake was already answered.
        @raise InvalidResponse: a header or the subprotocol cannot be sent.
        """
        self._checkConnecting("accept")
        checked, _ = checkResponseHead(101, headers)
        extra = []
        for name, value in checked:
            if name == b"sec-websocket-protocol" and subprotocol is None:
                # The ASGI spec says to use the subprotocol key; some
                # applications set the field.
                subprotocol = value.decode("latin-1")
            elif name not in _HANDSHAKE_FIELDS:
                extra.append((name, value))
        if subprotocol is not None and not _isToken(subprotocol):
            raise InvalidResponse(f"invalid subprotocol {subprotocol!r}")
        self.phase = OPEN
        self.status = 101
        self._channel.acceptSession(self, subprotocol, extra)

    def deny(self, status, headers=(), body=b""):
        """
        Answer the opening handshake with an HTTP response instead: the
        channel sends it, complete, and closes the connection.

        @param status: 200-599 (RFC 9110 section 15).
        @type status: L{int}
        @param headers: the response header fields; the channel sets
            C{content-length} and C{connection}.
        @type headers: iterable of (L{bytes}, L{bytes})
        @param body: the response body.
        @type body: L{bytes}
        @raise ClientDisconnected: the peer is gone.
        @raise RuntimeError: the handshake was already answered.
        @raise InvalidResponse: the status or a header cannot be sent.
        """
        self._checkConnecting("deny")
        if type(status) is not int or status < 200:
            raise InvalidResponse(f"invalid status for a denial {status!r}")
        checked, _ = checkResponseHead(status, headers)
        checked = [(name, value) for name, value in checked if name != b"content-length"]
        self.phase = DENIED
        self.status = status
        self.bytesSent = len(body)
        self._end(None, "")
        self._channel.denySession(self, status, checked, body)
        self._wake()

    def send(self, data):
        """
        Send a message.  Callers honour backpressure by waiting while
        L{writePaused} is true.

        @param data: L{str} for a text message, L{bytes} for a binary one.
        @raise ClientDisconnected: the peer is gone.
        @raise RuntimeError: the session is not open.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.phase is not OPEN:
            raise RuntimeError(
                "message sent before the handshake was accepted"
                if self.phase is CONNECTING
                else "message sent after the session closed"
            )
        self.messagesSent += 1
        self.bytesSent += _size(data)
        self._channel.sendMessage(self, data)

    def close(self, code=NORMAL_CLOSURE, reason=""):
        """
        Close an open session: the channel sends a close frame with C{code}
        and C{reason} (RFC 6455 section 5.5.1) and completes the close.

        @param code: see L{checkCloseCode}.
        @type code: L{int}
        @param reason: at most 123 bytes as UTF-8 are sent.
        @type reason: L{str}
        @raise ClientDisconnected: the peer is gone.
        @raise RuntimeError: the session is not open.
        @raise ValueError: the code may not be sent.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.phase is not OPEN:
            raise RuntimeError("close of a session that is not open")
        checkCloseCode(code)
        self.phase = CLOSED
        self._end(code, reason)
        self._channel.closeSession(self, code, reason)
        self._wake()

    def abort(self):
        """
        The application failed after it accepted: close with 1011
        (internal error); the outcome is L{ABORTED}.  Does nothing once the
        session is closed or the peer is gone.
        """
        if self.ended or self.phase is not OPEN:
            return
        self._aborted = True
        self.close(INTERNAL_ERROR, "")

    def _finished(self):
        """
        The application is done, or never started: the end of
        L{appFinished<gracehttp._core.lifecycle.Lifecycle.appFinished>}.
        Records L{outcome} and tells the channel.
        """
        self.wake = None
        if self.endTime is None:
            self.endTime = self._clock.seconds()
        if self.outcome is None:
            if self.disconnected:
                outcome = self.disconnectReason
                if self.cancelled and outcome in (COMPLETED, CLIENT_DISCONNECTED):
                    outcome = CANCELLED
                self.outcome = outcome
            elif self._aborted:
                self.outcome = ABORTED
            else:
                self.outcome = COMPLETED
        self._channel.sessionFinished(self)
