"""
HTTP/1.1 (RFC 9112) as a Twisted protocol, parsed with C{httptools}.

Theory of operation
===================

One L{HTTPChannel} per connection.  C{httptools} (llhttp) parses; it is
strict by default and rejects what could smuggle a request (Content-Length
with Transfer-Encoding, duplicate Content-Length, bad chunk sizes, obs-fold,
whitespace before a colon, bare LF, invalid characters in the method, target
or field names).  We add the checks it leaves to us, when the head is
complete and before any exchange exists (L{gracehttp._protocols.syntax}):

  - versions other than 1.0 and 1.1 (505), HTTP/1.0 with
    Transfer-Encoding (400);
  - transfer codings (RFC 9112 section 6): chunked must be the final one,
    once, or the body's length is unknown: 400 (llhttp would answer only
    after the head, once an application had the request).  A coding before
    chunked (C{gzip, chunked}) is one we do not decode: 501 (RFC 9112
    section 6.1), and the connection closes;
  - C{Host} (RFC 9112 section 3.2): exactly one field, required in
    HTTP/1.1, whose value is C{uri-host [":" port]}; else 400.  A value is
    checked once per connection (clients repeat it).  The authority of an
    absolute-form target replaces the field's value (RFC 9112 section
    3.2.2), so the application sees the host the request was sent to;
  - a fragment (C{#...}) is not part of a request target: it is cut off,
    as gunicorn, uvicorn and waitress do, so neither the application nor
    the access log sees it;
  - a method llhttp does not know is answered 501 (RFC 9110 sections 9.1
    and 15.6.2) if it is a token in a well-formed request line, 400 if it
    is not (L{HTTPChannel._methodRefused} waits for the line to end,
    bounded by the head limit and timeout); llhttp's RTSP methods, refused
    at the end of the request line, get 501 too.  The connection closes.

Chunk extensions are the exception: llhttp refuses the whitespace RFC 9112
section 7.1.1 allows around C{;} and C{=} and accepts an empty name or
value, and C{httptools} offers no extension callbacks and no leniency that
would not also accept a size followed by spaces.  So a chunked body never
reaches the connection's parser: its request's C{on_headers_complete}
raises L{_Switch}, which stops llhttp at the end of the head, and
L{HTTPChannel._feedChunked} gives the body to a parser of its own (started
with a fixed head, L{_ChunkedBody}), each chunk-size line checked first and
given without its extensions (a line without any goes as it is: llhttp
checks it).  That parser checks the rest (sizes, the CRLF after each
chunk, trailer fields) and calls our callbacks; after the trailer section
a new parser takes the requests that follow.  A line over
L{CHUNK_LINE_LIMIT<gracehttp._protocols.syntax.CHUNK_LINE_LIMIT>} bytes is a 400.
Requests without a chunked body never take this path.

C{httptools} does not say where in a read it stopped, and a switch or a
refused method needs to know where that request began (or its head ended).
Only then is the read walked (L{heads<gracehttp._protocols.syntax.heads>}), from the
state it found (a Content-Length body with so many bytes to come, or a head
whose end is found with the previous read's last three bytes), over
requests llhttp has already accepted, so with its framing: empty lines
skipped, a head ending at its first CRLFCRLF, a body only by
Content-Length.  A read that ends inside a method keeps the method's bytes.

The limits below apply too.  A rejected request is answered with an error
status and the connection closes; bytes after it never reach an
application.  It is logged all the same (L{HTTPFactory.requestRejected}),
with what was parsed of it, its status and the C{rejected} outcome.
Rejections are raised from inside the parser's callbacks (which stops the
parse at once) with the status kept in C{_rejectStatus}.

As soon as a request head is parsed an L{Exchange} is created and queued.
The exchange at the head of the queue is the active one: its application
runs and its response goes to the wire.  Pipelined requests wait in the
queue (their bodies buffer in their own exchange, bounded) and start, in
order, when the response before them is finished.  Past
L{MAX_PIPELINED} queued requests the channel stops parsing (what one read
already holds is parsed through, so the queue is bounded by that read).  A rejection
that comes while responses are queued is answered after them.

Limits (L{HTTPSettings}), each an integer comparison per request or per
read, nothing per header field:

  - head size (C{limitRequestHeaderSize}, answered 431, RFC 6585 section
    5): the size counted is the request target plus each field's name and
    value plus 4 bytes (C{": "} and CRLF).  The bytes of the reads a head
    overlaps bound it from above, so the exact count is only computed when
    that bound is over the limit (a big read, or a head over several
    reads).  A head still incomplete at the end of a read has every later
    read to itself: once those are over the limit it is a 431 without
    waiting for the head to end, so an endless field is stopped at the
    limit plus at most one read.  C{limitRequestHeaders}: more fields are
    a 431.  Trailer fields are counted against both limits and discarded
    (RFC 9110 section 6.5.1).
  - body size: a Content-Length over C{limitRequestBody} is a 413 before
    the exchange is created; a chunked body is counted as it arrives and
    once over, the exchange is disconnected (the application is told) and
    413 is sent if its response had not started.
  - concurrency: a request parsed while the factory has
    C{limitConcurrency} requests in flight is answered 503 with
    C{Retry-After} (RFC 9110 section 15.6.4) when its turn comes, without
    reaching the application, and the connection closes (an overloaded
    server sheds the connection and never reads that request's body).
  - connections: past C{limitConnections} open connections
    L{HTTPFactory.buildProtocol} returns a protocol that closes the new
    connection at once (not L{None}, which Twisted's TLS wrapper cannot
    wrap).

Timeouts: one C{DelayedCall} per connection (C{_timer}), moved with
C{reset()}, never polled (a closing connection has its own, see Closing
below):

  - armed for C{timeoutHeader} at connection (the first request's head is
    timed from there) and, for a later request, at the end of the read in
    which its head began if the head is not complete by then (a head that
    arrives in one read, the usual case, costs no timer call); armed for
    C{timeoutKeepAlive} when a response leaves the connection idle.
    Nothing disarms it while a request runs: when it fires it looks at the
    connection.
  - fires while a head is incomplete: 408 (after the queued responses, if
    any) and close.  While reading is paused by us the client is not
    late: it is re-armed when reading resumes.
  - fires on an idle connection (no byte of a new request yet, nothing
    queued): close without a response.  This covers a connection that
    never sends a byte.
  - armed for C{timeoutHeader} at the end of the first read that leaves a
    request body incomplete (a body that arrives with its head, the usual
    case, costs nothing); every later read of that body only notes the
    time (C{_bodyTime}), so a trickling body costs one clock reading per
    read and no timer call.  When it fires while a body is incomplete and
    we read, the body is stalled if no byte came for C{timeoutHeader}
    seconds: 408 (rejected, like a bad head: the exchange is disconnected,
    its application told, and the 408 is sent if its response had not
    started), else the timer is armed for the rest of that span.  While
    reading is paused by us the client is not late: the body is timed again
    from when reading resumes.  This is the one stalled-body rule for every
    application interface.
  - fires while a request is in flight and no head or body is being read:
    nothing happens (the application's time is not limited here); the
    connection becomes idle or begins another head later and re-arms it.

Reading pauses for two reasons, counted together: an exchange holds more
than L{BODY_BUFFER_SIZE<gracehttp._core.exchange.BODY_BUFFER_SIZE>} body
bytes its application has not consumed (it resumes when that exchange
reports them consumed, L{HTTPChannel.bodyConsumed}: the read side is per
exchange, as HTTP/2 flow control is per stream), or too many requests are
queued.  Pausing stops parsing, not reading: what arrives is held unparsed,
and only past L{HOLD_SIZE} held bytes is the transport paused.  So a client
that sends a little more and closes (the usual way a client gives up on an
upload) is seen closing at once: C{connectionLost} disconnects its
exchange.  Once the transport is paused the kernel keeps what the client
sends, and its close (FIN) is queued behind that data, or behind data
still in the client's own send buffer while our receive window is shut:
it is noticed at the next read (when the application reads on and
reading resumes) or write (the response).  It cannot be noticed earlier
without reading, and reading on means buffering without bound; watching
the socket does not help either (the FIN has not arrived, and a readable
socket with unread data is always readable).  When reading resumes the held
bytes are parsed on the next reactor turn (C{callLater(0)}), never inside
the application's read that resumed it, so that read returns its bytes
before newer ones arrive.

The response head is held until the first body bytes or the end of the
response so head and body leave in one write.  Framing (RFC 9112 section 6):
the application's Content-Length is honoured (never more bytes than it
says; fewer closes the connection); without one an HTTP/1.1 response is
chunked and an HTTP/1.0 one is delimited by closing the connection.
Responses to HEAD and 1xx/204/304 responses carry no body, with the
application's status and headers intact.

Every write goes through L{writerFor<gracehttp._protocols.socketwriter.writerFor>}:
on a plain TCP connection with nothing buffered it sends at once instead of
waiting for the reactor's next turn.  While a request body larger than the
exchange's buffer arrives, the transport reads L{LARGE_BODY_READ_SIZE}
bytes at a time.

The channel is its transport's streaming producer: when the transport's
write buffer passes its high-water mark it calls L{HTTPChannel.pauseProducing}
and the active exchange's writers wait until L{HTTPChannel.resumeProducing}.

C{connectionLost} disconnects every queued exchange, once.  A close the
server makes after a complete response happens with an empty queue, so it
never looks like a client disconnect.

Closing: once a request is rejected, an upgrade is refused or the server
closes (C{_close}), nothing more is parsed, but the transport keeps reading
(and what it reads is discarded): if L{_hold<HTTPChannel._hold>} had paused
it, it is resumed.  That is how the close completes: a TLS transport's
C{loseConnection} sends C{close_notify} and closes the socket only when
the client's C{close_notify} or FIN is read (RFC 8446 section 6.1), so a
paused TLS transport would stay open, in CLOSE_WAIT, for good; reading on
also notices a client that leaves while queued responses are still being
answered.  The close is bounded: C{timeoutClose} seconds after what is
left to send fits in the transport's buffer (the channel stays its
producer until then, so a slow client still gets all of a large last
response), a connection still open is aborted.  C{connectionLost} cancels
that timer.

TLS: L{HTTPFactory} provides C{IProtocolNegotiationFactory}; Twisted's TLS
wrapper offers L{ALPN_PROTOCOLS} (C{http/1.1}) on every handshake.
Twisted 26 refuses the handshake of a client that offers ALPN when the
factory declares no protocol.

Connection accounting (for graceful shutdown): the factory keeps its open
channels in L{HTTPFactory.connections}; L{HTTPFactory.closeIdleConnections}
ends keep-alive everywhere (idle connections close now, busy ones after
their current response) and L{HTTPFactory.disconnectAll} aborts every
connection, so its requests go through disconnect, grace and cancel.

Proxy headers (L{gracehttp._core.proxy}) are applied when the exchange is built,
only on connections whose peer the factory trusts (decided once per
connection).
"""

import sys
from collections import deque
from http import HTTPStatus

import httptools
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IProtocolNegotiationFactory,
    IPushProducer,
    ISSLTransport,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from zope.interface import implementer

from gracehttp._core.exchange import (
    BODY_BUFFER_SIZE,
    CLIENT_DISCONNECTED,
    REJECTED,
    SHUTDOWN,
    Exchange,
)
from gracehttp._core.interfaces import IExchangeChannel
from gracehttp._core.serverstate import IConnection, ServerState
from gracehttp._core.proxy import TrustedProxies, forwarded
from gracehttp._settings import HTTPSettings
from gracehttp._protocols.socketwriter import writerFor
from gracehttp._protocols.syntax import (
    CHUNK_LINE_LIMIT,
    NOT_HTTP_METHOD,
    chunkSize,
    field,
    headEnd,
    heads,
    methodStatus,
    refusesMethod,
    targetAuthority,
    transferCodingStatus,
    validHost,
)

MAX_PIPELINED = 16
"""
Requests queued on one connection before the channel stops reading.
"""

HOLD_SIZE = 16 * 1024
"""
Bytes read and held, unparsed, while reading is paused, before the
transport itself is paused.  Reading on a little lets a client that sends
the end of its request and closes be noticed (its close arrives as
C{connectionLost}) while the application has not read the buffered body
yet; once more than this is held (plus at most one read) the transport is
paused, and from then on a close is noticed only at the next read or write.
"""

LARGE_BODY_READ_SIZE = 256 * 1024
"""
Bytes asked of the socket per read while a request body larger than
L{BODY_BUFFER_SIZE<gracehttp._core.exchange.BODY_BUFFER_SIZE>} (or chunked) is
arriving, instead of the transport's usual C{bufferSize} (64 KiB): a
256 KiB upload then takes one or two reads and reactor turns instead of
five (measured on the benchmark's 256 KiB echo, one core: 2,500-2,900 ->
3,400-4,300 requests/s).  The
transport's C{bufferSize} is also its write buffer's high-water mark, so it
is raised only until the request body is complete.
"""

ALPN_PROTOCOLS = [b"http/1.1"]
"""
The application protocols offered over TLS, most preferred first, as ALPN
protocol IDs (RFC 7301; IANA's registry names C{http/1.1} and C{h2}).
Twisted's TLS wrapper asks L{HTTPFactory.acceptableProtocols} for them on
every handshake and picks the first one the client also offers.  A client
that offers none of them (only C{h2}, say) is refused the handshake, as RFC
7301 section 3.2 says (Twisted sends an C{internal_error} alert rather than
C{no_application_protocol}); a client that offers no ALPN at all is served
HTTP/1.1.  HTTP/2 support adds C{b"h2"} at the front of this list.
"""

LOGGED_TARGET = 1024
"""
Bytes of a rejected request's target kept for the access log (a 431 for a
64 KiB target should not make a 64 KiB log line).
"""

RETRY_AFTER = b"1"
"""
The C{Retry-After} of a 503 answered because of C{limitConcurrency}, in
seconds (RFC 9110 section 10.2.3).
"""

_log = Logger()

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
# "#" as an int: C{int in bytes} is a plain byte search, while
# C{bytes in bytes} first tries (and fails) to read an int, twice as slow.
_NUMBER_SIGN = ord("#")
# What a chunked body's own parser is given before the body.
_CHUNKED_HEAD = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


def _statusLine(status):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


_STATUS_LINES = {status: _statusLine(status) for status in range(100, 600)}


def _errorResponse(status, date):
    """
    A complete response the server itself sends (400, 408, 413, 431, 501,
    505) before closing, in place of an application's.

    @type status: L{int}
    @param date: the C{date} header line, CRLF-terminated.
    @type date: L{bytes}
    @rtype: L{bytes}
    """
    body = HTTPStatus(status).phrase.encode("ascii")
    return b"".join(
        [
            _STATUS_LINES[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            date,
            b"\r\n",
            body,
        ]
    )


_UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE.phrase.encode("ascii")
_UNAVAILABLE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(_UNAVAILABLE)),
    (b"retry-after", RETRY_AFTER),
]


def _address(address):
    """
    @return: C{(host, port)} for a TCP address, L{None} for anything else
        (a UNIX socket).
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    return None


class _Reject(Exception):
    """
    Raised from a parser callback to stop parsing; the channel's
    C{_rejectStatus} says how to answer.
    """


class _Switch(Exception):
    """
    Raised from C{on_headers_complete} to stop parsing at the end of a
    chunked request's head: its body is read by L{HTTPChannel._feedChunked}.
    """


class _ChunkedBody:
    """
    The protocol of the parser that reads one chunked request body: it is
    given L{_CHUNKED_HEAD}, then the body (chunk-size lines without their
    extensions); the body's bytes, trailer fields and end go to the
    channel's callbacks.
    """

    __slots__ = ("_channel", "_inBody", "on_body", "on_message_complete")

    def __init__(self, channel):
        self._channel = channel
        self._inBody = False
        self.on_body = channel.on_body
        self.on_message_complete = channel.on_message_complete

    def on_headers_complete(self):
        self._inBody = True

    def on_header(self, name, value):
        if self._inBody:
            self._channel.on_header(name, value)


class _Response:
    """
    Framing state of the active exchange's response.

    @ivar head: the serialized head, until it is written.
    @ivar chunked: the body is sent with chunked transfer coding.
    @ivar bodyAllowed: the response may carry a body (not HEAD, 1xx, 204,
        304).
    @ivar remaining: body bytes still allowed by Content-Length, or L{None}.
    @ivar keepAlive: the connection may carry another request afterwards.
    """

    __slots__ = ("head", "chunked", "bodyAllowed", "remaining", "keepAlive")


@implementer(IExchangeChannel, IPushProducer, IConnection)
class HTTPChannel(Protocol):
    """
    An HTTP/1.1 server connection.  See the module docstring.
    """

    def __init__(self):
        self._queue = deque()
        self._parsing = None
        self._active = None
        self._response = None
        self._readPauses = 0
        self._full = set()
        self._held = deque()
        self._heldSize = 0
        self._transportPaused = False
        self._releaseCall = None
        self._writePaused = False
        self._failed = False
        self._errorPending = None
        self._rejectStatus = 400
        self._noKeepAlive = False
        self._refused = set()
        self._timer = None
        self._closing = False
        self._producing = False
        self._closeTimer = None
        self._fresh = True
        self._inHead = False
        self._readSize = 0
        self._headFed = 0
        self._headFirstRead = 0
        self._trailerSize = 0
        self._trailerFields = 0
        self._bodyRoom = 0
        self._url = b""
        self._headers = []
        self._largeReads = False
        self._shutdown = False
        self._bodyTime = None
        self._divert = None
        self._bodyParser = None
        self._chunkLeft = 0
        self._chunkLine = b""
        self._trailerTail = b""
        self._headTail = b""
        self._spannedLength = 0
        self._methodHead = b""
        self._hostSeen = None

    # -- connection ----------------------------------------------------------

    def connectionMade(self):
        factory = self.factory
        settings = factory.settings
        self._parser = httptools.HttpRequestParser(self)
        transport = self.transport
        self._writer = writerFor(transport)
        # A file descriptor transport reads (and buffers writes) by this
        # many bytes; others have no such setting.
        self._defaultReadSize = getattr(transport, "bufferSize", None)
        self._client = _address(transport.getPeer())
        self._server = _address(transport.getHost())
        self._scheme = "https" if ISSLTransport.providedBy(transport) else "http"
        trusted = factory.trustedProxies
        if trusted is not None and (self._client[0] if self._client else None) in trusted:
            self._trusted = trusted
        else:
            self._trusted = None
        self._limitHeadSize = settings.limitRequestHeaderSize
        self._limitHeaders = settings.limitRequestHeaders
        self._timeoutHeader = settings.timeoutHeader
        self._timeoutKeepAlive = settings.timeoutKeepAlive
        self._timeoutClose = settings.timeoutClose
        self._limitBody = sys.maxsize if settings.limitRequestBody is None else settings.limitRequestBody
        self._state = factory.serverState
        transport.registerProducer(self, True)
        self._producing = True
        self._arm(settings.timeoutHeader)

    def dataReceived(self, data):
        if self._failed:
            return
        if self._readPauses or self._held:
            self._hold(data)
            return
        self._feed(data)

    def _feed(self, data):
        """
        Parse C{data}; answer and close on a bad or rejected request; time
        a body still incomplete at the end of the read.
        """
        self._parse(data)
        if self._parsing is not None and not self._inHead and not self._failed:
            self._bodyContinues()

    def _parse(self, data):
        """
        Parse C{data}; answer and close on a bad or rejected request.
        """
        while True:
            divert = self._divert
            if divert is not None:
                # A chunked body, or a request line being awaited: what
                # follows the body comes back to be parsed here.
                data = divert(data)
                if not data:
                    return
            self._readSize = size = len(data)
            inHead = self._inHead
            if inHead:
                self._headFed += size
            # Where the read began, for finding a head in it (_firstHead).
            bodyLeft = self._bodyRoom if self._parsing is not None else 0
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                # No protocol upgrade is offered (yet): the request was answered
                # as plain HTTP, and nothing after it is read.
                self._stopAfterQueue()
                return
            except httptools.HttpParserInvalidMethodError:
                if not self._failed:
                    self._methodRefused(data, inHead, bodyLeft)
                return
            except httptools.HttpParserError as e:
                if self._failed:
                    # Parsing was stopped because the connection is closing.
                    return
                if isinstance(e.__context__, _Switch):
                    data = self._startChunked(data, inHead, bodyLeft)
                    if not data:
                        return
                    continue
                self._parseFailed(e)
                return
            if self._inHead:
                self._headContinues(data, inHead, bodyLeft)
            return

    def _bodyContinues(self):
        """
        A read ended inside a request body: note when, and the first time
        for this body time it (see the module docstring: a body that stops
        arriving for C{timeoutHeader} seconds is answered 408).
        """
        now = self.factory.reactor.seconds()
        if self._bodyTime is None:
            self._arm(self._timeoutHeader)
        self._bodyTime = now

    def _parseFailed(self, error):
        """
        A parser stopped on a bad or rejected request: answer it.

        @type error: L{httptools.HttpParserError}
        """
        status = self._rejectStatus
        if status == 400 and str(error) == NOT_HTTP_METHOD:
            status = 501
        if status == 400 or status == 501:
            _log.info("Bad request from {client}: {error}", client=self._client, error=error)
        self._reject(status)

    def _headContinues(self, data, inHead, bodyLeft):
        """
        A read ended inside a request head (rare: most heads arrive in one
        read).  The first time, time the head; later, check its size: every
        read after the one it began in is all head.  Keep the read's last
        bytes, to find the head's end in the next (L{_firstHead}), and, while
        the method is not complete, the head so far (L{_methodRefused}).
        """
        if self._headFirstRead < 0:
            self._headFirstRead = self._headFed
            if self._url == b"":
                self._methodHead = data[self._lastHead(data, inHead, bodyLeft) :]
            self._spannedLength = 0
            self._headTail = data[-3:]
            self._timeHead()
            return
        if self._url == b"":
            self._methodHead += data
        self._headTail = (self._headTail + data)[-3:]
        if self._headFed - self._headFirstRead > self._limitHeadSize:
            # Over the limit, found at most one read late.
            self._reject(431)

    def _timeHead(self):
        """
        A request head did not arrive in the read it began in: time it.
        """
        if self._fresh:
            # The first request's head is timed from the connection.
            self._fresh = False
        else:
            self._arm(self._timeoutHeader)

    # -- where a request begins in a read ---------------------------------------

    def _firstHead(self, data, inHead, bodyLeft):
        """
        Where the first request that begins in C{data} may begin, from the
        state the read found: after the body under way (C{bodyLeft} bytes of
        its Content-Length), or after the head under way and its body.

        @param inHead: a head was under way when C{data} was read.
        @param bodyLeft: a Content-Length body's bytes still to come when
            C{data} was read, or 0.
        @rtype: L{int}
        """
        if not inHead:
            return bodyLeft
        end = headEnd(self._headTail, data)
        return len(data) if end < 0 else end + self._spannedLength

    def _lastHead(self, data, inHead, bodyLeft):
        """
        @return: where the request whose head is still incomplete at the end
            of C{data} begins in it.
        @rtype: L{int}
        """
        for start, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
            if end < 0:
                return start
        # The head began in an earlier read.
        return 0

    # -- chunked request bodies ----------------------------------------------------

    def _startChunked(self, data, inHead, bodyLeft):
        """
        The head of a chunked request ended in C{data} (its
        C{on_headers_complete} raised L{_Switch}): read its body with
        L{_feedChunked} from a parser of its own, and start a new parser for
        the requests after it.

        @return: the bytes of C{data} after the head.
        @rtype: L{bytes}
        """
        if self._headFirstRead >= 0:
            # The head began in an earlier read.
            start = headEnd(self._headTail, data)
        else:
            start = -1
            for begin, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
                if end > 0 and field(data[begin:end], b"transfer-encoding") is not None:
                    start = end
                    break
        if start < 0:
            # Not where llhttp found it: never guess where a body begins.
            _log.error("Chunked request head not found in the read from {client}", client=self._client)
            self._reject(400)
            return None
        body = httptools.HttpRequestParser(_ChunkedBody(self))
        body.feed_data(_CHUNKED_HEAD)
        self._bodyParser = body
        self._chunkLeft = 0
        self._chunkLine = b""
        self._divert = self._feedChunked
        self._parser = httptools.HttpRequestParser(self)
        return data[start:]

    def _feedChunked(self, data):
        """
        Give the chunked request body under way to its parser, each
        chunk-size line checked here (L{chunkSize<gracehttp._protocols.syntax.chunkSize>})
        and given without its extensions; answer 400 for a bad line.  What
        needs no change goes to the parser as it is, in one piece.

        @return: the bytes after the body's end (the trailer section's
            empty line), to be parsed as requests; or L{None}.
        @rtype: L{bytes} or L{None}
        """
        parser = self._bodyParser
        view = memoryview(data)
        size = len(data)
        # data[start:pos] goes to the parser as it is.
        pos = start = 0
        try:
            while pos < size:
                left = self._chunkLeft
                if left > 0:
                    # Chunk data and its CRLF, checked by the parser.
                    count = min(left, size - pos)
                    pos += count
                    self._chunkLeft = left - count
                elif left == 0:
                    end, line = self._chunkSizeLine(data, pos)
                    if self._failed:
                        return None
                    if line is not None:
                        # Given in place of data[pos:end].
                        if start < pos:
                            parser.feed_data(view[start:pos])
                        if line:
                            parser.feed_data(line)
                        start = end
                    pos = end
                else:
                    break
            if start < pos:
                parser.feed_data(view[start:pos])
            if pos < size and not self._failed:
                return self._trailers(data, pos)
        except httptools.HttpParserError as e:
            if not self._failed:
                self._parseFailed(e)
        return None

    def _chunkSizeLine(self, data, pos):
        """
        Read the chunk-size line at C{pos}, which may have begun in an
        earlier read.  A line in one piece without extensions stays where
        it is: the parser checks it.

        @return: where the chunk's data begins (or C{len(data)} if the line
            does not end in C{data}), and what to give the parser in place
            of the line: L{None} for the line as it is.
        @rtype: L{tuple} of (L{int}, L{bytes} or L{None})
        """
        newline = data.find(b"\n", pos)
        if newline < 0:
            line = self._chunkLine + data[pos:]
            if len(line) > CHUNK_LINE_LIMIT:
                self._badChunk(line)
            self._chunkLine = line
            return len(data), b""
        end = newline + 1
        began = self._chunkLine
        line = began + data[pos:end] if began else data[pos:end]
        self._chunkLine = b""
        if len(line) > CHUNK_LINE_LIMIT:
            self._badChunk(line)
            return end, None
        try:
            # Python reads what the parser may refuse ("+5", "5 "): the
            # parser sees the line before anything relies on this length.
            length = int(line, 16)
            replacement = line if began else None
        except ValueError:
            digits = chunkSize(line)
            if digits is None:
                self._badChunk(line)
                return end, None
            length = int(digits, 16)
            replacement = digits + b"\r\n"
        if length:
            self._chunkLeft = length + 2
        else:
            # The last chunk: the trailer section follows the line's CRLF.
            self._chunkLeft = -1
            self._trailerTail = b"\r\n"
        return end, replacement

    def _badChunk(self, line):
        _log.info(
            "Bad request from {client}: chunk-size line {line!r}",
            client=self._client,
            line=line[:80],
        )
        self._reject(400)

    def _trailers(self, data, pos):
        """
        Give the trailer section at C{pos} to the body's parser, up to its
        empty line, which ends the body.

        @return: the bytes after the body, or L{None} if it has not ended.
        @rtype: L{bytes} or L{None}
        """
        parser = self._bodyParser
        end = headEnd(self._trailerTail, data, pos)
        if end < 0:
            parser.feed_data(memoryview(data)[pos:])
            self._trailerTail = (self._trailerTail + data[max(pos, len(data) - 3) :])[-3:]
            return None
        parser.feed_data(memoryview(data)[pos:end])
        if self._parsing is not None:
            # The parser did not see the end of the body there.
            self._reject(400)
            return None
        self._divert = None
        self._bodyParser = None
        return data[end:]

    # -- methods we do not implement -------------------------------------------------

    def _methodRefused(self, data, inHead, bodyLeft):
        """
        llhttp refused the method of the request under way in C{data}: answer
        501 if it is a token in a well-formed request line, else 400
        (L{methodStatus<gracehttp._protocols.syntax.methodStatus>}), once the request
        line is complete (L{_awaitRequestLine}).
        """
        if self._headFirstRead >= 0:
            head = self._methodHead + data
        else:
            start = 0
            for start, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
                if end < 0 or refusesMethod(data[start : start + 32]):
                    break
            head = data[start:]
        self._methodHead = b""
        self._divert = self._awaitRequestLine
        self._awaitRequestLine(head)

    def _awaitRequestLine(self, data):
        """
        Add C{data} to the request whose method llhttp refused; answer it
        once its request line tells how (L{_methodRefused}).

        @rtype: L{None}
        """
        head = self._methodHead + data
        status = methodStatus(head)
        if status is None:
            if len(head) > self._limitHeadSize:
                status = 431
            else:
                if self._headFirstRead < 0:
                    self._headFirstRead = 0
                    self._timeHead()
                self._methodHead = head
                return None
        _log.info(
            "{status} for request line {line!r} from {client}",
            status=status,
            line=head.partition(b"\n")[0][:80],
            client=self._client,
        )
        self._reject(status)
        return None

    def _hold(self, data):
        """
        Keep C{data} unparsed while reading is paused; pause the transport
        past L{HOLD_SIZE} held bytes.
        """
        self._held.append(data)
        self._heldSize += len(data)
        if self._heldSize > HOLD_SIZE and not self._transportPaused:
            self._transportPaused = True
            self.transport.pauseProducing()

    def connectionLost(self, reason):
        self._state.connectionClosed(self)
        self._closing = True
        self._disarm()
        self._held.clear()
        queue = self._queue
        self._queue = deque()
        self._parsing = None
        active = self._active
        self._active = None
        outcome = SHUTDOWN if self._shutdown else CLIENT_DISCONNECTED
        for exchange in queue:
            exchange.disconnect(outcome)
        # Queued behind the active request, these never reached the adapter.
        for exchange in queue:
            if exchange is not active:
                exchange.appFinished()

    # -- timer -----------------------------------------------------------------

    def _arm(self, seconds):
        """
        Make the connection's one timer fire C{seconds} from now.
        """
        timer = self._timer
        if timer is None:
            self._timer = self.factory.reactor.callLater(seconds, self._timedOut)
        else:
            timer.reset(seconds)

    def _disarm(self):
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        release = self._releaseCall
        if release is not None:
            self._releaseCall = None
            release.cancel()
        closeTimer = self._closeTimer
        if closeTimer is not None:
            self._closeTimer = None
            closeTimer.cancel()

    def _timedOut(self):
        self._timer = None
        if self._failed:
            return
        if self._inHead:
            if not self._readPauses:
                _log.info("Request head timed out from {client}", client=self._client)
                self._reject(408)
        elif self._bodyTime is not None:
            if not self._readPauses:
                self._bodyTimedOut()
        elif not self._queue:
            self._close()

    def _bodyTimedOut(self):
        """
        The body timer fired while we read: answer 408 if no body byte came
        for C{timeoutHeader} seconds, else time the rest of that span.
        """
        idle = self.factory.reactor.seconds() - self._bodyTime
        if idle < self._timeoutHeader:
            self._arm(self._timeoutHeader - idle)
            return
        _log.info("Request body stalled from {client}", client=self._client)
        self._reject(408)

    def _rearm(self):
        """
        Reading resumed: if the connection timer fired while we did not read,
        time the head or body being read again, from now (the client was
        not late while we did not read).
        """
        if self._timer is not None:
            return
        if self._inHead:
            self._arm(self._timeoutHeader)
        elif self._bodyTime is not None:
            self._bodyTime = self.factory.reactor.seconds()
            self._arm(self._timeoutHeader)

    # -- httptools callbacks -------------------------------------------------

    def _fail(self, status):
        """
        Stop the parser from inside a callback; the request is answered
        with C{status}.
        """
        self._rejectStatus = status
        raise _Reject(status)

    def on_message_begin(self):
        if self._failed:
            self._fail(None)
        self._url = b""
        self._headers = []
        self._inHead = True
        # An upper bound of the head's size: the reads it overlaps.
        self._headFed = self._readSize
        self._headFirstRead = -1

    def on_url(self, url):
        self._url += url

    def on_header(self, name, value):
        if self._inHead:
            self._headers.append((name.lower(), value))
        else:
            # A trailer field: counted, then discarded (RFC 9110 section
            # 6.5.1).
            self._trailerFields += 1
            size = self._trailerSize + len(name) + len(value) + 4
            self._trailerSize = size
            if size > self._limitHeadSize or self._trailerFields > self._limitHeaders:
                self._fail(431)

    def _headSize(self):
        """
        The counted size of the head just parsed: the request target, and
        each field's name and value plus 4 bytes (C{": "} and CRLF).

        @rtype: L{int}
        """
        return len(self._url) + sum(len(name) + len(value) + 4 for name, value in self._headers)

    def on_headers_complete(self):
        # _inHead stays true until the head is accepted, so that a
        # rejection below is logged with what the head said.
        self._fresh = False
        parser = self._parser
        factory = self.factory
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            # RFC 9110 section 15.6.6; HTTP/0.9 has no version to refuse.
            self._fail(400 if version == "0.9" else 505)
        headers = self._headers
        if len(headers) > self._limitHeaders or (
            self._headFed > self._limitHeadSize and self._headSize() > self._limitHeadSize
        ):
            self._fail(431)
        expectContinue = False
        largeBody = False
        room = self._limitBody
        host = None
        codings = None
        for name, value in headers:
            if name == b"host":
                if host is not None:
                    # RFC 9112 section 3.2: one Host field.
                    self._fail(400)
                host = value
            elif name == b"transfer-encoding":
                if version == "1.0":
                    # RFC 9112 section 6.1: chunked framing is not HTTP/1.0's.
                    self._fail(400)
                codings = value if codings is None else codings + b"," + value
                largeBody = True
            elif name == b"content-length":
                length = int(value)
                if length > self._limitBody:
                    self._fail(413)
                largeBody = length > BODY_BUFFER_SIZE
                room = length
                if self._headFirstRead >= 0:
                    self._spannedLength = length
            elif name == b"expect" and value.lower() == b"100-continue":
                expectContinue = True
        if codings is not None:
            status = transferCodingStatus(codings)
            if status is not None:
                self._fail(status)
        if host is None:
            if version == "1.1":
                # RFC 9112 section 3.2: HTTP/1.1 must send Host.
                self._fail(400)
        elif host != self._hostSeen:
            # Clients send one Host on a connection: check it once.
            if not validHost(host):
                self._fail(400)
            self._hostSeen = host
        url = self._url
        if _NUMBER_SIGN in url or url[:1] != b"/":
            url = self._originForm(url, headers)
        if largeBody and self._defaultReadSize is not None:
            self._largeReads = True
            self.transport.bufferSize = LARGE_BODY_READ_SIZE
        self._inHead = False
        self._trailerSize = 0
        self._trailerFields = 0
        self._bodyRoom = room
        exchange = Exchange(self, factory.reactor, factory.settings.disconnectGracePeriod)
        exchange.expectContinue = expectContinue
        path, _, query = url.partition(b"?")
        exchange.method = parser.get_method().decode("ascii")
        exchange.rawPath = path
        exchange.queryString = query
        exchange.httpVersion = version
        exchange.headers = headers
        if self._trusted is None:
            exchange.client = self._client
            exchange.scheme = self._scheme
        else:
            exchange.client, exchange.scheme = forwarded(
                headers, self._trusted, self._client, self._scheme
            )
        exchange.server = self._server
        exchange.keepAlive = parser.should_keep_alive()
        if not self._state.requestStarted():
            self._refused.add(exchange)
        self._parsing = exchange
        queue = self._queue
        queue.append(exchange)
        if len(queue) == 1:
            self._start(exchange)
        elif len(queue) == MAX_PIPELINED:
            self._pauseReading()
        if codings is not None and not parser.should_upgrade():
            # Its body is read from here by _feedChunked.
            raise _Switch()

    def _originForm(self, url, headers):
        """
        A request target that is not a plain path and query: cut its
        fragment off (not part of a request target, RFC 9112 section 3.2:
        clients never send one, and the application never sees it), and
        take an absolute-form target apart (RFC 9112 section 3.2.2): its
        authority replaces the C{Host} field, as an origin server must use
        it, and its path and query are the request's.

        @param url: the target.
        @param headers: the request's fields, changed in place.
        @type headers: L{list}
        @return: the target in origin-form, or C{*}.
        @rtype: L{bytes}
        """
        if _NUMBER_SIGN in url:
            url = url[: url.index(b"#")]
        if url[:1] == b"/" or url == b"*":
            return url
        authority = targetAuthority(url)
        if authority is None:
            self._fail(400)
        for index, (name, _) in enumerate(headers):
            if name == b"host":
                headers[index] = (name, authority)
                break
        else:
            headers.append((b"host", authority))
        parsed = httptools.parse_url(url)
        origin = parsed.path or b"/"
        if parsed.query:
            origin += b"?" + parsed.query
        return origin

    def on_body(self, body):
        room = self._bodyRoom - len(body)
        self._bodyRoom = room
        if room < 0:
            self._fail(413)
        exchange = self._parsing
        if not exchange.responseComplete:
            if exchange.receiveBody(body) > BODY_BUFFER_SIZE:
                self._bodyFull(exchange)

    def on_message_complete(self):
        if self._largeReads:
            self._largeReads = False
            self.transport.bufferSize = self._defaultReadSize
        exchange = self._parsing
        self._parsing = None
        self._bodyTime = None
        exchange.endBody()

    # -- IExchangeChannel ----------------------------------------------------

    def writeHead(self, exchange, status, headers):
        response = _Response()
        bodyAllowed = not (
            status < 200 or status == 204 or status == 304 or exchange.method == "HEAD"
        )
        keepAlive = exchange.keepAlive and not self._noKeepAlive
        remaining = None
        hasDate = False
        lines = [_STATUS_LINES[status]]
        append = lines.append
        for name, value in headers:
            if name == b"content-length":
                remaining = int(value)
            elif name == b"date":
                hasDate = True
            append(name + b": " + value + b"\r\n")
        chunked = False
        if bodyAllowed and remaining is None:
            if exchange.httpVersion == "1.1":
                chunked = True
                append(b"transfer-encoding: chunked\r\n")
            else:
                keepAlive = False
        if not keepAlive:
            append(b"connection: close\r\n")
        elif exchange.httpVersion == "1.0":
            append(b"connection: keep-alive\r\n")
        if not hasDate:
            append(self._state.dateHeader())
        append(b"\r\n")
        response.head = b"".join(lines)
        response.chunked = chunked
        response.bodyAllowed = bodyAllowed
        response.remaining = remaining if bodyAllowed else None
        response.keepAlive = keepAlive
        self._response = response

    def retractHead(self, exchange):
        response = self._response
        if response is None or response.head is None:
            return False
        self._response = None
        return True

    def writeBody(self, exchange, data):
        response = self._response
        if not response.bodyAllowed:
            return
        remaining = response.remaining
        if remaining is not None:
            if len(data) > remaining:
                # Never more than the application's Content-Length said.
                data = data[:remaining]
                response.keepAlive = False
            response.remaining = remaining - len(data)
            if not data:
                return
        elif response.chunked:
            # The chunk's framing around the data, not a copy of it.
            out = [b"%x\r\n" % len(data), data, b"\r\n"]
            head = response.head
            if head is not None:
                response.head = None
                out.insert(0, head)
            self._writer.writeSequence(out)
            return
        head = response.head
        if head is not None:
            response.head = None
            self._writer.writeSequence([head, data])
        else:
            self._writer.write(data)

    def finishResponse(self, exchange):
        response = self._response
        self._response = None
        out = []
        if response.head is not None:
            out.append(response.head)
        if response.chunked:
            out.append(_LAST_CHUNK)
        if out:
            self._writer.writeSequence(out)
        keepAlive = response.keepAlive
        if response.remaining:
            # Fewer bytes than Content-Length: only closing tells the client.
            keepAlive = False
        if not exchange.bodyComplete:
            if exchange.expectContinue or not keepAlive:
                # The client may still be waiting to send; we cannot know.
                # Or we close anyway: the rest of the body is not read.
                keepAlive = False
            else:
                # Discard the rest of a body the application did not read.
                exchange.readBody()
        queue = self._queue
        # (self._active, now stale, is not in the queue any more.)
        queue.popleft()
        if not keepAlive:
            self._close()
            return
        if self._failed:
            # Reading stopped (a rejected request, an upgrade): answer what
            # is queued, then the pending error, then close.
            if queue:
                self._start(queue[0])
                return
            if self._errorPending is not None:
                self._writer.write(_errorResponse(self._errorPending, self._state.dateHeader()))
            self._close()
            return
        if len(queue) == MAX_PIPELINED - 1:
            self._resumeReading()
        if queue:
            self._start(queue[0])
        elif not self._inHead:
            self._arm(self._timeoutKeepAlive)

    def _start(self, exchange):
        """
        Make C{exchange} the active one and run its application, or answer
        503 if it came past C{limitConcurrency}.
        """
        self._active = exchange
        if self._writePaused:
            exchange.pauseWriting()
        refused = self._refused
        if refused and exchange in refused:
            refused.discard(exchange)
            exchange.keepAlive = False
            exchange.startResponse(503, _UNAVAILABLE_HEADERS)
            exchange.write(_UNAVAILABLE)
            exchange.finish()
            exchange.outcome = REJECTED
            exchange.appFinished()
            return
        self.factory.adapter.handle(exchange)

    def abortResponse(self, exchange):
        self._close()

    def exchangeFinished(self, exchange):
        self._state.requestFinished(exchange)

    def bodyConsumed(self, exchange, size):
        full = self._full
        if full and exchange in full and exchange.bufferedBody <= BODY_BUFFER_SIZE:
            full.discard(exchange)
            self._resumeReading()

    def continueWanted(self, exchange):
        queue = self._queue
        if (
            self._response is None
            and queue
            and queue[0] is exchange
            and not exchange.bodyComplete
            and not exchange.disconnected
        ):
            self._writer.write(_CONTINUE)

    def _bodyFull(self, exchange):
        """
        C{exchange} holds more than L{BODY_BUFFER_SIZE} unconsumed body
        bytes: stop parsing until its application consumed them
        (L{bodyConsumed}).
        """
        full = self._full
        if exchange not in full:
            full.add(exchange)
            self._pauseReading()

    def _pauseReading(self):
        self._readPauses += 1

    def _resumeReading(self):
        self._readPauses -= 1
        if self._readPauses or self._failed or self._closing:
            return
        if self._held:
            # Not now: this is called back from inside an adapter's read,
            # which must return its bytes before newer ones are parsed.
            if self._releaseCall is None:
                self._releaseCall = self.factory.reactor.callLater(0, self._release)
        else:
            self._rearm()

    def _release(self):
        """
        Parse what was held while reading was paused, in order, until
        reading pauses again; resume the transport once little is held.
        """
        self._releaseCall = None
        held = self._held
        while held and not self._readPauses and not self._failed:
            data = held.popleft()
            self._heldSize -= len(data)
            self._feed(data)
        if self._failed:
            return
        if self._transportPaused and self._heldSize <= HOLD_SIZE:
            self._transportPaused = False
            self.transport.resumeProducing()
        if not self._readPauses:
            self._rearm()

    # -- IPushProducer (towards our transport) --------------------------------

    def pauseProducing(self):
        self._writePaused = True
        if self._queue:
            self._queue[0].pauseWriting()

    def resumeProducing(self):
        self._writePaused = False
        if self._closing:
            # What was left to send when we closed has drained.
            self._closeDrained()
        elif self._queue:
            self._queue[0].resumeWriting()

    def stopProducing(self):
        pass

    # -- shutting down -------------------------------------------------------

    def abortForShutdown(self):
        """
        Cut the connection at the end of a graceful stop (its graceful
        timeout ran out): its requests are disconnected with the
        C{shutdown} outcome, then go through grace and cancel.
        """
        self._shutdown = True
        self.transport.abortConnection()

    def stopKeepAlive(self):
        """
        Serve no request after the current one: close now if idle (nothing
        queued, no request head arriving), else after the current response.
        """
        self._noKeepAlive = True
        if self._response is not None:
            self._response.keepAlive = False
        if not self._failed and not self._queue and not self._inHead:
            self._close()

    # -- failure and closing -------------------------------------------------

    def _stopAfterQueue(self):
        """
        Parse nothing more (what arrives is read and discarded); close once
        the queued requests are answered.
        """
        self._failed = True
        self._readOn()
        if not self._queue:
            self._close()

    def _reject(self, status):
        """
        Answer C{status} and close (RFC 9112 section 2.2 for 400).  Requests
        queued before the rejected one are answered first.  A request whose
        body the rejection cut short is disconnected (its application is
        told, as for a client that left); it gets the error response if its
        own response had not started.

        @param status: 400, 408, 413, 431, 501 or 505.
        @type status: L{int}
        """
        inHead = self._inHead
        self._failed = True
        self._inHead = False
        self._held.clear()
        self._heldSize = 0
        self._readOn()
        queue = self._queue
        parsing = self._parsing
        self._parsing = None
        self._bodyTime = None
        if parsing is not None and parsing in queue:
            if parsing is not queue[0]:
                # Queued behind the active request and never started.
                queue.remove(parsing)
                parsing.status = status
                parsing.outcome = REJECTED
                parsing.appFinished()
            else:
                queue.clear()
                parsing.disconnect(REJECTED)
                if not parsing.responseStarted:
                    parsing.status = status
                    self._writer.write(_errorResponse(status, self._state.dateHeader()))
                self._close()
                return
        elif inHead or parsing is None:
            # The request never became an exchange: log it all the same.
            self._state.requestRejected(self._rejectedRecord(status, inHead))
        if queue:
            self._errorPending = status
        else:
            self._writer.write(_errorResponse(status, self._state.dateHeader()))
            self._close()

    def _rejectedRecord(self, status, inHead):
        """
        What is known of a request rejected before it became an exchange,
        for the access log: the method, target (at most L{LOGGED_TARGET}
        bytes of it) and version if they were parsed, the header fields
        parsed so far, and C{status} with the L{REJECTED} outcome.

        @type status: L{int}
        @param inHead: the rejection came inside a request head (else
            before one began: nothing of it is known).
        @type inHead: L{bool}
        @rtype: L{Exchange}
        """
        record = Exchange(self, self.factory.reactor, 0)
        url = self._url if inHead else b""
        record.method = self._parser.get_method().decode("ascii") if url else None
        path, _, query = url[:LOGGED_TARGET].partition(b"?")
        record.rawPath = path
        record.queryString = query
        version = self._parser.get_http_version() if url else "0.0"
        record.httpVersion = None if version == "0.0" else version
        record.headers = self._headers if inHead else []
        record.client = self._client
        record.server = self._server
        record.scheme = self._scheme
        record.status = status
        record.outcome = REJECTED
        record.endTime = record.startTime
        return record

    def _readOn(self):
        """
        Resume the transport if L{_hold} paused it.  Once the connection
        has failed nothing is parsed any more (L{dataReceived} discards),
        so reading costs no memory, and it is how a close is seen: the
        client's FIN, or over TLS its C{close_notify}, without which the
        TLS layer never closes the socket.
        """
        if self._transportPaused:
            self._transportPaused = False
            self.transport.resumeProducing()

    def _close(self):
        """
        Close the connection, once: parse nothing more but keep reading
        (L{_readOn}), and let the transport send what it holds and close.
        If more than the transport's high-water mark is still to be sent
        (it paused us), we stay its producer until it drained, so that a
        slow client still receives all of a large last response; from then
        on the close is bounded by L{_closeDrained}.
        """
        if self._closing:
            return
        self._closing = True
        self._failed = True
        self._disarm()
        self._readOn()
        self.transport.loseConnection()
        if not self._writePaused:
            self._closeDrained()

    def _closeDrained(self):
        """
        What is left to send fits in the transport's buffer: stop being its
        producer (which lets it close: a TLS transport now sends its
        C{close_notify}) and abort the connection if it is still open
        C{timeoutClose} seconds later: a peer that never reads the rest, or
        never answers C{close_notify} (a TLS close waits for it), would
        hold it for ever.
        """
        if not self._producing:
            return
        self._producing = False
        self.transport.unregisterProducer()
        self._closeTimer = self.factory.reactor.callLater(self._timeoutClose, self._closeTimedOut)

    def _closeTimedOut(self):
        """
        The close took longer than C{timeoutClose}: abort.
        """
        self._closeTimer = None
        _log.debug("Close timed out for {client}: aborting", client=self._client)
        self.transport.abortConnection()


class _Refused(Protocol):
    """
    A connection over C{limitConnections}: closed as soon as it is made.
    (Returning L{None} from C{buildProtocol} would do for plain TCP, where
    the reactor closes the socket, but Twisted's TLS wrapper needs a
    protocol to wrap.)  Before a TLS handshake has completed, closing is an
    abort.
    """

    def connectionMade(self):
        self.transport.loseConnection()


@implementer(IProtocolNegotiationFactory)
class HTTPFactory(Factory):
    """
    Builds an L{HTTPChannel} per connection and hands each request to one
    application adapter.  Over TLS it offers L{ALPN_PROTOCOLS}.

    @ivar adapter: runs the application.
    @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
    @ivar reactor: the clock for timeouts and grace periods.
    @ivar settings: limits, timeouts and the grace period.
    @type settings: L{HTTPSettings}
    @ivar serverState: the counts, limits, draining and C{Date} header
        every connection reports to.
    @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
    @ivar trustedProxies: the peers whose proxy headers are applied, or
        L{None} when C{settings.proxyHeaders} is off.
    @type trustedProxies: L{TrustedProxies<gracehttp._core.proxy.TrustedProxies>}
    """

    protocol = HTTPChannel
    noisy = False

    def __init__(self, adapter, reactor, settings=HTTPSettings(), serverState=None):
        """
        @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
        @type reactor: L{twisted.internet.interfaces.IReactorTime}
        @type settings: L{HTTPSettings}
        @param serverState: shared with the service; L{None} makes one from
            C{settings}' connection and concurrency limits.
        @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
        @raise ValueError: an entry of C{settings.forwardedAllowIPs} is not
            an IP address, a network or C{"*"}.
        """
        self.adapter = adapter
        self.reactor = reactor
        self.settings = settings
        if serverState is None:
            serverState = ServerState(
                reactor, settings.limitConnections, settings.limitConcurrency
            )
        self.serverState = serverState
        self.trustedProxies = (
            TrustedProxies(settings.forwardedAllowIPs) if settings.proxyHeaders else None
        )

    def buildProtocol(self, addr):
        """
        A new channel, or, when the server state refuses it
        (C{limitConnections} connections are open), a protocol that closes
        the new connection at once (and is not counted).

        @rtype: L{HTTPChannel} or L{_Refused}
        """
        channel = Factory.buildProtocol(self, addr)
        if not self.serverState.connectionOpened(channel):
            return _Refused()
        return channel

    def acceptableProtocols(self):
        """
        The ALPN protocol IDs this factory speaks, most preferred first
        (L{IProtocolNegotiationFactory}); Twisted's TLS wrapper offers them
        on every handshake.  See L{ALPN_PROTOCOLS}.

        @rtype: L{list} of L{bytes}
        """
        return list(ALPN_PROTOCOLS)
