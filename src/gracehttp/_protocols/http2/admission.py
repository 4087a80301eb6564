"""
Which requests of an HTTP/2 connection reach their application, and the
answers the server gives itself on a stream.

Theory of operation
===================

One L{Admission} per L{HTTP2Connection
<gracehttp._protocols.http2.connection.HTTP2Connection>}, made when it is
connected, with the request limits and addresses it needs.  Each new
request stream (C{h2}'s C{RequestReceived}) goes through
L{Admission.admit}, once:

  - past C{h2MaxConcurrentStreams} (counting the streams whose
    application still runs, reset or not), or after the connection's
    C{GOAWAY}, it is refused with C{RST_STREAM} (C{REFUSED_STREAM}, which
    a client may retry).  A refusal counts as a reset for the frame guard
    (L{FrameGuard.refused<gracehttp._protocols.http2.guard.FrameGuard.refused>}).
  - its header list is checked
    (L{readRequest<gracehttp._protocols.http2.request.readRequest>}); a
    request that fails a check is answered by the server on that stream
    alone (400, 413, 431, 501) and logged as rejected, with what was read
    of it; the connection goes on.
  - otherwise it becomes an L{H2Stream} and that stream's exchange (the
    client and scheme from proxy headers on a trusted connection),
    counted by the server state as any request: past C{limitConcurrency}
    it is answered 503 without reaching the application, else it is
    handed to the application adapter.

An admitted request can still be given up on
(L{Admission.rejectStream}): a body over C{limitRequestBody} (413,
L{Admission.bodyOverLimit}), one that stops arriving (408, the
connection's timer), trailers that fail their check (400,
L{checkTrailers<gracehttp._protocols.http2.request.checkTrailers>}).  Its
exchange is disconnected with the C{rejected} outcome, and the status is
answered if the response had not started; if it had, the stream is reset
(C{CANCEL}).

The server's own answer is a complete C{text/plain} response, the
status's phrase as its body (the head alone if the stream's window is too
small for it); if the client is still sending, the stream is then reset
with C{NO_ERROR} (RFC 9113 section 8.1).
"""

from http import HTTPStatus

from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger

from gracehttp._core.exchange import REJECTED, Exchange
from gracehttp._core.proxy import forwarded
from gracehttp._protocols.addresses import serverAddress
from gracehttp._protocols.http2.request import Refused, checkTrailers, readRequest
from gracehttp._protocols.http2.sending import CANCEL, ENHANCE_YOUR_CALM, NO_ERROR
from gracehttp._protocols.http2.stream import H2Stream
from gracehttp._protocols.http11.pipeline import RETRY_AFTER

_log = Logger()

REFUSED_STREAM = 7
"""
The C{REFUSED_STREAM} error code (RFC 9113 section 7): the stream was not
processed, the client may retry it.
"""


class Admission:
    """
    The requests of one HTTP/2 connection on their way to the application
    (see the module docstring).  It shares its connection's C{h2} state
    machine and stream table.

    @ivar _connection: the connection.
    @type _connection: L{HTTP2Connection
        <gracehttp._protocols.http2.connection.HTTP2Connection>}
    @ivar _h2: the connection's C{h2} state machine.
    @ivar _guard: the connection's frame guard.
    @ivar _closer: the connection's end (whether it went away).
    @type _closer: L{Closer<gracehttp._protocols.http2.closing.Closer>}
    @ivar _streams: the connection's streams not yet done, by identifier.
    @ivar _client: the client's C{(host, port)}, or L{None}.
    @ivar _server: the server's address, as exchanges give it.
    @ivar _scheme: C{"https"} or C{"http"}.
    @ivar _trusted: the trusted proxies, if the client is one, else
        L{None}.
    """

    def __init__(self, connection, h2, guard, closer, client):
        """
        @param connection: see L{_connection}; connected (its C{factory}
            and C{transport} are read).
        @param h2: see L{_h2}.
        @param guard: see L{_guard}.
        @param closer: see L{_closer}.
        @param client: see L{_client}.
        """
        factory = connection.factory
        settings = factory.settings
        transport = connection.transport
        self._connection = connection
        self._h2 = h2
        self._guard = guard
        self._closer = closer
        self._streams = connection._streams
        self._reactor = factory.reactor
        self._adapter = factory.adapter
        self._serverState = factory.serverState
        self._grace = settings.disconnectGracePeriod
        self._limitSize = settings.limitRequestHeaderSize
        self._limitFields = settings.limitRequestHeaders
        self._limitBody = settings.limitRequestBody
        self._maxStreams = settings.h2MaxConcurrentStreams
        self._timeoutHeader = settings.timeoutHeader
        self._client = client
        self._server = serverAddress(transport.getHost())
        self._scheme = "https" if ISSLTransport.providedBy(transport) else "http"
        trusted = factory.trustedProxies
        host = client[0] if client else None
        self._trusted = trusted if trusted is not None and host in trusted else None

    def admit(self, event, now):
        """
        A new request stream: refuse it, answer it, or start its
        application (see the module docstring).

        @param event: C{h2}'s C{RequestReceived}.
        @param now: the clock's seconds.
        """
        streamId = event.stream_id
        if self._closer.goingAway or len(self._streams) >= self._maxStreams:
            self._refuse(streamId, now)
            return
        try:
            head = readRequest(event.headers, self._limitSize, self._limitFields, self._limitBody)
        except Refused as refusal:
            self._answerRefused(streamId, refusal, event.stream_ended is not None)
            return
        bodyRoom = self._limitBody if head.contentLength is None else None
        connection = self._connection
        stream = H2Stream(connection, streamId, None, now, bodyRoom)
        exchange = stream.exchange = self._newExchange(stream, head)
        self._streams[streamId] = stream
        if event.stream_ended is not None:
            stream.remoteEnded = True
            exchange.bodyComplete = True
        else:
            connection._armAfter(self._timeoutHeader)
        if not self._serverState.requestStarted():
            self._unavailable(exchange)
            return
        self._adapter.handle(exchange)

    def _newExchange(self, stream, head):
        """
        The exchange of a request stream, its request fields filled in (the
        client and scheme from proxy headers on a trusted connection).

        @type stream: L{H2Stream}
        @type head: L{RequestHead<gracehttp._protocols.http2.request.RequestHead>}
        @rtype: L{Exchange}
        """
        exchange = Exchange(stream, self._reactor, self._grace)
        exchange.method = head.method.decode("ascii")
        path, _, query = head.path.partition(b"?")
        exchange.rawPath = path
        exchange.queryString = query
        exchange.httpVersion = "2"
        headers = exchange.headers = head.headers
        exchange.expectContinue = head.expectContinue
        exchange.trailersOffered = head.trailers
        if self._trusted is None:
            exchange.client = self._client
            exchange.scheme = self._scheme
        else:
            exchange.client, exchange.scheme = forwarded(
                headers, self._trusted, self._client, self._scheme
            )
        exchange.server = self._server
        return exchange

    def _unavailable(self, exchange):
        """
        Answer C{exchange} 503 (it came past C{limitConcurrency}) without
        reaching the application.
        """
        exchange.startResponse(503, _UNAVAILABLE_HEADERS)
        exchange.write(_UNAVAILABLE)
        exchange.finish()
        exchange.outcome = REJECTED
        exchange.appFinished()

    def _refuse(self, streamId, now):
        """
        Refuse a new stream (C{REFUSED_STREAM}): past the concurrent stream
        limit, or after C{GOAWAY}.  It counts as a reset for the guard.
        """
        self._h2.reset_stream(streamId, REFUSED_STREAM)
        if not self._guard.refused(now):
            self._closer.connectionError(ENHANCE_YOUR_CALM, b"too many refused streams")

    def _answerRefused(self, streamId, refusal, ended):
        """
        Answer a request that failed a check, on its stream alone, and log
        it.

        @type refusal: L{Refused}
        @param ended: the client's side of the stream ended already.
        """
        status = refusal.status
        _log.info(
            "Bad HTTP/2 request from {client} on stream {stream}: {reason}",
            client=self._client,
            stream=streamId,
            reason=refusal.reason,
        )
        self._serverState.requestRejected(self._rejectedRecord(refusal.head, status))
        self._sendError(streamId, status, ended)

    def _rejectedRecord(self, head, status):
        """
        What is known of a request refused before it became an exchange,
        for the access log.

        @rtype: L{Exchange}
        """
        record = Exchange(self._connection, self._reactor, 0)
        record.method = head.method.decode("ascii") if head.method else None
        path, _, query = head.path.partition(b"?")
        record.rawPath = path
        record.queryString = query
        record.httpVersion = "2"
        record.headers = head.headers
        record.client = self._client
        record.server = self._server
        record.scheme = self._scheme
        record.status = status
        record.outcome = REJECTED
        record.endTime = record.startTime
        return record

    def _sendError(self, streamId, status, ended):
        """
        Send a complete error response on a stream, then reset it
        (C{NO_ERROR}) if the client is still sending (RFC 9113 section
        8.1).

        @param status: 400, 408, 413, 431 or 501.
        @param ended: the client's side of the stream ended.
        """
        h2 = self._h2
        body = HTTPStatus(status).phrase.encode("ascii")
        fields = [
            (b":status", b"%d" % status),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"date", self._connection.dateValue()),
        ]
        if h2.local_flow_control_window(streamId) >= len(body):
            h2.send_headers(streamId, fields)
            h2.send_data(streamId, body, end_stream=True)
        else:
            h2.send_headers(streamId, fields[:2], end_stream=True)
        if not ended:
            h2.reset_stream(streamId, NO_ERROR)

    def bodyOverLimit(self, stream):
        """
        The client sent more body bytes on C{stream} than
        C{limitRequestBody} allows: reject the request (413).

        @type stream: L{H2Stream}
        """
        _log.info(
            "HTTP/2 request body over the limit on stream {stream} from {client}",
            stream=stream.streamId,
            client=self._client,
        )
        self.rejectStream(stream, 413)

    def trailersReceived(self, stream, fields):
        """
        The client sent trailers on C{stream} (which ends its side):
        reject the request (400) if they fail their check.

        @type stream: L{H2Stream}
        @param fields: the trailer fields as HPACK decoded them.
        """
        problem = checkTrailers(fields, self._limitSize, self._limitFields)
        if problem is not None:
            _log.info(
                "Bad HTTP/2 request trailers on stream {stream} from {client}: {problem}",
                stream=stream.streamId,
                client=self._client,
                problem=problem,
            )
            # Trailers end the client's side (h2 checks END_STREAM).
            stream.remoteEnded = True
            self.rejectStream(stream, 400)

    def rejectStream(self, stream, status):
        """
        The server gives up on a request's body (too large, stalled) or
        trailers (malformed): disconnect its exchange (C{rejected}), answer
        C{status} if its response had not started, and reset the stream.

        @type stream: L{H2Stream}
        @param status: 400, 408 or 413.
        """
        exchange = stream.exchange
        exchange.disconnect(REJECTED)
        if stream.closed:
            return
        connection = self._connection
        if exchange.responseStarted or stream.headSent:
            connection.resetStream(stream, CANCEL)
            return
        exchange.status = status
        stream.ended = True
        self._sendError(stream.streamId, status, stream.remoteEnded)
        connection._streamClosed(stream)
        connection._flushSoon()


_UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE.phrase.encode("ascii")
_UNAVAILABLE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(_UNAVAILABLE)),
    (b"retry-after", RETRY_AFTER),
]
