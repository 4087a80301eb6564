"""
One HTTP/2 stream: the L{IExchangeChannel} of its exchange.

Theory of operation
===================

Each request stream (RFC 9113 section 5) carries one L{Exchange}, and an
L{H2Stream} is that exchange's channel: what the exchange asks of its
protocol (a response head, body bytes, the end, a reset, a report of the
body bytes its application consumed) is asked of the stream, which keeps
what is per stream and leaves the wire to its connection
(L{HTTP2Connection<gracehttp._protocols.http2.connection.HTTP2Connection>}),
which owns the one C{h2} state machine.

The request body:

  - each C{DATA} frame's bytes go to the exchange (L{H2Stream.receive});
    padding, which no application reads, is given back to the flow-control
    windows at once.
  - the windows reopen by what the application consumed
    (L{H2Stream.bodyConsumed}, which the exchange reports after each
    read: C{reportConsumed} stays set): the stream's window, so a stream
    whose application does not read stops its client at
    L{STREAM_WINDOW} unconsumed bytes while the other streams go on; and
    the connection's, so a connection holds at most
    L{CONNECTION_WINDOW} unconsumed bytes whatever its streams.
  - a body over C{limitRequestBody}, or one that stops arriving while the
    client may send (the connection's timer), is rejected: 413 or 408 if
    the response had not started, and the stream is reset; the exchange
    is disconnected with the C{rejected} outcome.
  - C{100 Continue} is an informational C{HEADERS} frame, sent when the
    application first reads a body its client holds back
    (L{H2Stream.continueWanted}).

The response:

  - the head is held until the first body bytes or the end, so that it
    can be taken back (L{H2Stream.retractHead}) and so that a response
    without a body leaves in one C{HEADERS} frame with C{END_STREAM}.
    Every response carries a C{Date} unless the application gave one.
  - body bytes queue in the stream's outbox, which the connection sends
    as the stream's window, the connection's window and the transport
    allow, taking turns between streams.  Past L{HIGH_WATER} unsent bytes
    the exchange's writers are paused (L{Exchange.pauseWriting}), until
    the outbox is down to L{LOW_WATER}: a stream whose client does not
    read stops only its own application.
  - the application's C{Content-Length} is honoured: never more bytes;
    fewer, and the stream ends with C{RST_STREAM} (C{INTERNAL_ERROR})
    rather than C{END_STREAM}, so the client cannot take it for the whole
    response.  Responses to C{HEAD} and 1xx/204/304 carry no body.
  - the end is C{END_STREAM} on the last C{DATA} frame, or a trailer
    C{HEADERS} frame when the application sent trailers
    (L{Exchange.trailers}).  If the client is still sending its body, the
    stream is then reset with C{NO_ERROR} (RFC 9113 section 8.1).
  - an aborted response (the application failed after its head was
    sent) resets the stream with C{INTERNAL_ERROR}; the connection goes
    on.

The end of a stream: it leaves the connection's table once both its wire
side is closed (ended, or reset by either side) and its application is
done (L{H2Stream.exchangeFinished}).  Until then it counts against the
connection's concurrent stream limit, so a client that resets streams
cannot have more applications running than that limit.
"""

from collections import deque

from zope.interface import implementer

from gracehttp._core.interfaces import IExchangeChannel

STREAM_WINDOW = 256 * 1024
"""
The flow-control window of each request stream, in bytes
(C{SETTINGS_INITIAL_WINDOW_SIZE}, RFC 9113 section 6.9.2): the most body
bytes a stream's client may send before its application consumed them.
Four times the HTTP/1.1 exchange's buffer: a 64 KiB upload, or a 256 KiB
one, is sent without waiting for a C{WINDOW_UPDATE}.
"""

CONNECTION_WINDOW = 4 * STREAM_WINDOW
"""
The flow-control window of the connection, in bytes (RFC 9113 section
6.9): the most body bytes all its streams together hold unconsumed.
"""

HIGH_WATER = 64 * 1024
"""
Unsent response body bytes in one stream's outbox past which its
application's writes are paused.
"""

LOW_WATER = 16 * 1024
"""
Unsent bytes in a paused stream's outbox at or below which its
application may write again.
"""

_STATUS_CODES = {status: b"%d" % status for status in range(100, 600)}


@implementer(IExchangeChannel)
class H2Stream:
    """
    One request stream and its exchange (see the module docstring).

    @ivar streamId: the stream identifier (RFC 9113 section 5.1.1).
    @ivar exchange: the request.
    @type exchange: L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar head: the response head waiting to be sent, as an HTTP/2 field
        list, or L{None}.
    @ivar headSent: the response head left (or is leaving) in a
        C{HEADERS} frame.
    @ivar bodyAllowed: the response may carry a body.
    @ivar remaining: body bytes the application's C{Content-Length} still
        allows, or L{None}.
    @ivar outbox: response body bytes waiting to be sent, in order.
    @type outbox: L{deque} of L{bytes}
    @ivar outOffset: bytes of C{outbox[0]} already sent.
    @ivar outSize: unsent bytes in the outbox.
    @ivar ending: the application finished its response: after the outbox,
        the stream ends.
    @ivar ended: the stream's end (or its reset) was sent.
    @ivar closed: the stream is closed on the wire: ended both ways, or
        reset by either side.
    @ivar remoteEnded: the client's side ended (its body is complete).
    @ivar appDone: the application is done (L{exchangeFinished}).
    @ivar queued: the stream is in the connection's queue of streams to
        send.
    @ivar blockedSince: when a flow-control window the client keeps shut
        stopped the outbox (the clock's seconds), or L{None}.
    @ivar lastData: when the client last sent body bytes, or the
        application last consumed some (the clock's seconds).
    @ivar bodyRoom: body bytes still allowed by C{limitRequestBody}, or
        L{None} for no limit.
    @ivar unconsumed: body bytes given to the exchange and not yet
        consumed by its application: what the windows still owe the
        client.
    """

    __slots__ = (
        "_connection",
        "appDone",
        "blockedSince",
        "bodyAllowed",
        "bodyRoom",
        "closed",
        "ended",
        "ending",
        "exchange",
        "head",
        "headSent",
        "lastData",
        "outOffset",
        "outSize",
        "outbox",
        "queued",
        "remaining",
        "remoteEnded",
        "streamId",
        "unconsumed",
    )

    def __init__(self, connection, streamId, exchange, now, bodyRoom):
        """
        @param connection: the stream's connection.
        @type connection: L{HTTP2Connection
            <gracehttp._protocols.http2.connection.HTTP2Connection>}
        @param streamId: the stream identifier.
        @param exchange: the request, whose channel this stream is.
        @param now: the clock's seconds.
        @param bodyRoom: see the class docstring.
        """
        self._connection = connection
        self.streamId = streamId
        self.exchange = exchange
        self.head = None
        self.headSent = False
        self.bodyAllowed = True
        self.remaining = None
        self.outbox = deque()
        self.outOffset = 0
        self.outSize = 0
        self.ending = False
        self.ended = False
        self.closed = False
        self.remoteEnded = False
        self.appDone = False
        self.queued = False
        self.blockedSince = None
        self.lastData = now
        self.bodyRoom = bodyRoom
        self.unconsumed = 0

    # -- the request body ---------------------------------------------------------

    def receive(self, data, now):
        """
        Body bytes from a C{DATA} frame.

        @type data: L{bytes}
        @param now: the clock's seconds.
        @return: whether they were within C{limitRequestBody} (if not,
            nothing was delivered and the caller rejects the stream).
        @rtype: L{bool}
        """
        room = self.bodyRoom
        if room is not None:
            room -= len(data)
            if room < 0:
                return False
            self.bodyRoom = room
        self.lastData = now
        self.unconsumed += len(data)
        self.exchange.receiveBody(data)
        return True

    def takeOutbox(self, size):
        """
        Take up to C{size} bytes from the front of the outbox.

        @return: the bytes (a slice of an outbox entry: never more than one
            entry's bytes are copied).
        @rtype: L{bytes}
        """
        outbox = self.outbox
        first = outbox[0]
        offset = self.outOffset
        left = len(first) - offset
        if left <= size:
            outbox.popleft()
            self.outOffset = 0
            self.outSize -= left
            return first[offset:] if offset else first
        self.outOffset = offset + size
        self.outSize -= size
        return first[offset : offset + size]

    def dropOutbox(self):
        """
        Forget what was not sent (the stream was reset).
        """
        self.outbox.clear()
        self.outOffset = 0
        self.outSize = 0

    # -- IExchangeChannel -------------------------------------------------------------

    def writeHead(self, exchange, status, headers):
        bodyAllowed = not (
            status < 200 or status == 204 or status == 304 or exchange.method == "HEAD"
        )
        fields = [(b":status", _STATUS_CODES[status])]
        hasDate = False
        for name, value in headers:
            if name == b"content-length":
                if bodyAllowed:
                    self.remaining = int(value)
            elif name == b"date":
                hasDate = True
            fields.append((name, value))
        if not hasDate:
            fields.append((b"date", self._connection.dateValue()))
        self.bodyAllowed = bodyAllowed
        self.head = fields

    def retractHead(self, exchange):
        if self.head is None or self.headSent:
            return False
        self.head = None
        self.remaining = None
        self.bodyAllowed = True
        return True

    def writeBody(self, exchange, data):
        if not self.bodyAllowed or self.closed:
            return
        remaining = self.remaining
        if remaining is not None:
            if len(data) > remaining:
                # Never more than the application's Content-Length said.
                data = data[:remaining]
            self.remaining = remaining - len(data)
            if not data:
                return
        self.outbox.append(data)
        self.outSize += len(data)
        if self.outSize > HIGH_WATER and not exchange.writePaused:
            exchange.pauseWriting()
        if not self.queued:
            self._connection.streamWants(self)

    def finishResponse(self, exchange):
        self.ending = True
        if not self.closed:
            self._connection.streamWants(self)

    def abortResponse(self, exchange):
        self._connection.resetStream(self, _INTERNAL_ERROR)

    def exchangeFinished(self, exchange):
        self.appDone = True
        self._connection.streamFinished(self)

    def bodyConsumed(self, exchange, size):
        self._connection.bodyConsumed(self, size)

    def continueWanted(self, exchange):
        if (
            not exchange.bodyComplete
            and not exchange.disconnected
            and not exchange.responseStarted
            and not self.closed
        ):
            self._connection.sendContinue(self)


_INTERNAL_ERROR = 2
"""
The C{INTERNAL_ERROR} error code (RFC 9113 section 7).
"""
