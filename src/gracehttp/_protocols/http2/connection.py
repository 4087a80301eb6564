"""
An HTTP/2 server connection (RFC 9113) on C{h2}: the transport's
callbacks, C{h2}'s events, the streams, refusing and closing.

Theory of operation
===================

One L{HTTP2Connection} per connection that chose HTTP/2 (by ALPN, or by
the h2c preface: L{gracehttp._protocols.chooser}).  It owns one C{h2}
state machine, configured to validate and normalise nothing (every rule
is checked by L{gracehttp._protocols.http2.request}, once), and one
L{FrameGuard<gracehttp._protocols.http2.guard.FrameGuard>}, which reads
each frame header before C{h2} parses the read.  Its parts:

  - L{stream<gracehttp._protocols.http2.stream>}: each stream is the
    L{IExchangeChannel<gracehttp._core.interfaces.IExchangeChannel>} of
    its L{Exchange<gracehttp._core.exchange.Exchange>}: request body and
    flow control, response framing;
  - L{sending<gracehttp._protocols.http2.sending>}: taking turns between
    streams within the windows; the transport's backpressure;
  - L{timer<gracehttp._protocols.http2.timer>}: idle connection, stalled
    header block, body and window;
  - L{guard<gracehttp._protocols.http2.guard>}: flood bounds;
  - L{request<gracehttp._protocols.http2.request>}: the request checks.

Settings (RFC 9113 section 6.5.2) sent at once: C{MAX_CONCURRENT_STREAMS}
(C{h2MaxConcurrentStreams}), C{INITIAL_WINDOW_SIZE} (L{STREAM_WINDOW
<gracehttp._protocols.http2.stream.STREAM_WINDOW>}), C{MAX_HEADER_LIST_SIZE}
(C{limitRequestHeaderSize} plus 32 bytes per field of
C{limitRequestHeaders}, as RFC 9113 counts a field), with the connection
window raised to L{CONNECTION_WINDOW
<gracehttp._protocols.http2.stream.CONNECTION_WINDOW>}.

A request stream: its header list is checked and, if it passes, becomes
an exchange handed to the application adapter, counted by the server
state as any request (past C{limitConcurrency} it is answered 503).  A
request that fails a check is answered by the server on that stream alone
(400, 413, 431, 501) and logged as rejected; the connection goes on.  A
stream past C{h2MaxConcurrentStreams} (counting the streams whose
application still runs, reset or not) is refused with C{RST_STREAM}
(C{REFUSED_STREAM}).

Disconnects: C{RST_STREAM} from the client disconnects that stream's
exchange alone (its application is told, gets the grace period, is
cancelled); the connection's loss disconnects every stream's; a stream
whose response ended is closed while the others go on.  A client's
C{GOAWAY} ends the connection: C{h2} sends nothing after it, so every
stream is disconnected.

Connection errors: a read C{h2} refuses (a protocol error) or the guard
refuses (a flood) ends the connection with C{GOAWAY} (the error code, and
the reason as debug data); every stream's exchange is disconnected with
the C{rejected} outcome.

Graceful stop (L{IConnection}): L{HTTP2Connection.stopKeepAlive} sends
C{GOAWAY} (C{NO_ERROR}) with the last stream the client opened; streams
opened after it are refused, the others run to their end, then the
connection closes.  A connection that has opened no stream yet waits for
its first (bounded by the head timeout), which is served before the
C{GOAWAY}.  L{HTTP2Connection.abortForShutdown} cuts it: every
stream is disconnected with the C{shutdown} outcome, then gets the grace
period.

Closing: the transport's C{loseConnection}, then, once what is left to
send fits in its buffer, C{timeoutClose} seconds before the connection is
aborted (a client that never reads the rest, or never answers TLS's
C{close_notify}).  Nothing is read any more.
"""

from http import HTTPStatus

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from h2.exceptions import ProtocolError, StreamClosedError
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer, ISSLTransport
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

from gracehttp._core.exchange import CLIENT_DISCONNECTED, REJECTED, SHUTDOWN, Exchange
from gracehttp._core.proxy import forwarded
from gracehttp._core.serverstate import IConnection
from gracehttp._protocols.addresses import serverAddress
from gracehttp._protocols.http2.guard import FrameGuard
from gracehttp._protocols.http2.request import Refused, checkTrailers, readRequest
from gracehttp._protocols.http2.sending import (
    CANCEL,
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    StreamSending,
)
from gracehttp._protocols.http2.stream import CONNECTION_WINDOW, STREAM_WINDOW, H2Stream
from gracehttp._protocols.http2.timer import ConnectionTimer
from gracehttp._protocols.http11.pipeline import RETRY_AFTER
from gracehttp._protocols.socketwriter import writerFor

_log = Logger()

REFUSED_STREAM = 7
"""
The C{REFUSED_STREAM} error code (RFC 9113 section 7): the stream was not
processed, the client may retry it.
"""

_DEFAULT_WINDOW = 65535
_NO_LIMIT = 2**31 - 1


def _address(address):
    """
    @return: C{(host, port)} for a TCP address, L{None} for anything else.
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    return None


def newStateMachine(maxStreams, listLimit):
    """
    The C{h2} state machine of a server connection, its settings sent
    (C{data_to_send()} has them).

    @param maxStreams: C{SETTINGS_MAX_CONCURRENT_STREAMS} to advertise.
    @param listLimit: C{SETTINGS_MAX_HEADER_LIST_SIZE} to advertise and
        enforce in the HPACK decoder, in bytes.
    @rtype: L{H2Connection}
    """
    config = H2Configuration(
        client_side=False,
        header_encoding=None,
        validate_inbound_headers=False,
        normalize_inbound_headers=False,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
    )
    h2 = H2Connection(config)
    advertised = {
        SettingCodes.MAX_CONCURRENT_STREAMS: maxStreams,
        SettingCodes.MAX_HEADER_LIST_SIZE: listLimit,
        SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
    }
    h2.local_settings = Settings(client=False, initial_values=advertised)
    h2.initiate_connection()
    # h2 would end the whole connection for a stream past its count; the
    # connection refuses such a stream alone, by its own count.
    advertised[SettingCodes.MAX_CONCURRENT_STREAMS] = _NO_LIMIT
    h2.local_settings = Settings(client=False, initial_values=advertised)
    h2.decoder.max_header_list_size = listLimit
    h2.increment_flow_control_window(CONNECTION_WINDOW - _DEFAULT_WINDOW)
    return h2


@implementer(IPushProducer, IConnection)
class HTTP2Connection(StreamSending, ConnectionTimer, Protocol):
    """
    An HTTP/2 server connection.  See the module docstring, and each
    part's for the attributes it keeps.

    @ivar factory: the L{HTTPFactory
        <gracehttp._protocols.http11.factory.HTTPFactory>} whose settings,
        adapter and server state it uses.
    @ivar _h2: the C{h2} state machine.
    @ivar _guard: the frame guard.
    @ivar _streams: the streams not yet done, by identifier.
    @type _streams: L{dict} of L{int} to L{H2Stream}
    @ivar _unconsumed: body bytes its streams hold unconsumed.
    @ivar _now: the clock's seconds at the start of the read (or timer)
        being handled.
    @ivar _closing: the connection is closing: nothing more is read.
    @ivar _lost: the transport reported the connection lost.
    @ivar _goingAway: C{GOAWAY} was sent for a graceful stop.
    @ivar _stopAfterFirst: a graceful stop came before the first stream:
        it goes on once that stream is opened.
    @ivar _shutdown: a graceful stop cut the connection.
    @ivar _closeTimer: aborts a close that takes too long, or L{None}.
    """

    def __init__(self, factory):
        """
        @param factory: see L{factory}.
        """
        self.factory = factory
        self._streams = {}
        self._unconsumed = 0
        self._now = 0.0
        self._closing = False
        self._lost = False
        self._goingAway = False
        self._stopAfterFirst = False
        self._shutdown = False
        self._closeTimer = None
        self._dateLine = None
        self._dateValue = b""
        self._initSending()

    # -- the transport's callbacks ---------------------------------------------

    def connectionMade(self):
        factory = self.factory
        settings = factory.settings
        transport = self.transport
        self._reactor = factory.reactor
        self._adapter = factory.adapter
        self._serverState = factory.serverState
        now = self._now = self._reactor.seconds()
        self._grace = settings.disconnectGracePeriod
        self._limitSize = settings.limitRequestHeaderSize
        self._limitFields = settings.limitRequestHeaders
        self._limitBody = settings.limitRequestBody
        self._timeoutHeader = settings.timeoutHeader
        self._timeoutKeepAlive = settings.timeoutKeepAlive
        self._timeoutClose = settings.timeoutClose
        self._timeoutStall = settings.timeoutStall
        self._maxStreams = settings.h2MaxConcurrentStreams
        self._client = _address(transport.getPeer())
        self._server = serverAddress(transport.getHost())
        self._scheme = "https" if ISSLTransport.providedBy(transport) else "http"
        trusted = factory.trustedProxies
        host = self._client[0] if self._client else None
        self._trusted = trusted if trusted is not None and host in trusted else None
        self._writer = writerFor(transport)
        listLimit = self._limitSize + 32 * self._limitFields
        self._guard = FrameGuard(now, self._maxStreams, listLimit)
        self._h2 = newStateMachine(self._maxStreams, listLimit)
        self._initTimer(now)
        transport.registerProducer(self, True)
        self._flush()
        self._armAfter(self._timeoutHeader)

    def dataReceived(self, data):
        if self._closing:
            return
        now = self._now = self._reactor.seconds()
        guard = self._guard
        started = guard.blockStarted
        problem = guard.scan(data, now)
        if problem is not None:
            self._connectionError(ENHANCE_YOUR_CALM, problem)
            return
        if guard.blockStarted is not None and started is None:
            self._armAfter(self._timeoutHeader)
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as e:
            self._protocolError(e)
            return
        self._inRead = True
        try:
            for event in events:
                handler = _HANDLERS.get(event.__class__)
                if handler is not None:
                    handler(self, event)
                    if self._closing:
                        return
        finally:
            self._inRead = False
        self._flush()

    def connectionLost(self, reason):
        self._lost = True
        self._disarm()
        for call in (self._flushCall, self._closeTimer):
            if call is not None and call.active():
                call.cancel()
        self._flushCall = self._closeTimer = None
        outcome = SHUTDOWN if self._shutdown else CLIENT_DISCONNECTED
        for stream in list(self._streams.values()):
            stream.closed = True
            stream.dropOutbox()
            stream.exchange.disconnect(outcome)
            if stream.appDone:
                self._streams.pop(stream.streamId, None)

    # -- h2's events -------------------------------------------------------------

    def _requestReceived(self, event):
        self._fresh = False
        self._startRequest(event)
        if self._stopAfterFirst:
            self._stopAfterFirst = False
            self.stopKeepAlive()

    def _startRequest(self, event):
        streamId = event.stream_id
        if self._goingAway or len(self._streams) >= self._maxStreams:
            self._refuse(streamId)
            return
        try:
            head = readRequest(event.headers, self._limitSize, self._limitFields, self._limitBody)
        except Refused as refusal:
            self._answerRefused(streamId, refusal, event.stream_ended is not None)
            return
        bodyRoom = self._limitBody if head.contentLength is None else None
        stream = H2Stream(self, streamId, None, self._now, bodyRoom)
        exchange = stream.exchange = self._newExchange(stream, head)
        self._streams[streamId] = stream
        if event.stream_ended is not None:
            stream.remoteEnded = True
            exchange.bodyComplete = True
        else:
            self._armAfter(self._timeoutHeader)
        if not self._serverState.requestStarted():
            self._unavailable(exchange)
            return
        self._adapter.handle(exchange)

    def _dataReceived(self, event):
        streamId = event.stream_id
        stream = self._streams.get(streamId)
        data = event.data
        size = len(data)
        flow = event.flow_controlled_length
        h2 = self._h2
        if stream is None or stream.closed or stream.appDone or stream.exchange.disconnected:
            # Nobody reads it: the window is given back at once.
            if flow:
                h2.acknowledge_received_data(flow, streamId)
            return
        if flow > size:
            # Padding, which no application reads.
            h2.acknowledge_received_data(flow - size, streamId)
        if not size:
            return
        self._unconsumed += size
        if not stream.receive(data, self._now):
            self._unconsumed -= size
            h2.acknowledge_received_data(size, streamId)
            _log.info(
                "HTTP/2 request body over the limit on stream {stream} from {client}",
                stream=streamId,
                client=self._client,
            )
            self.rejectStream(stream, 413)

    def _remoteEnded(self, event):
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.remoteEnded or stream.closed:
            return
        stream.remoteEnded = True
        exchange = stream.exchange
        if not exchange.bodyComplete:
            exchange.endBody()
        if stream.ended:
            self._streamClosed(stream)

    def _trailersReceived(self, event):
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.closed:
            return
        problem = checkTrailers(event.headers, self._limitSize, self._limitFields)
        if problem is not None:
            _log.info(
                "Bad HTTP/2 request trailers on stream {stream} from {client}: {problem}",
                stream=event.stream_id,
                client=self._client,
                problem=problem,
            )
            # Trailers end the client's side (h2 checks END_STREAM).
            stream.remoteEnded = True
            self.rejectStream(stream, 400)

    def _streamReset(self, event):
        stream = self._streams.get(event.stream_id)
        if stream is None:
            return
        stream.exchange.disconnect(CLIENT_DISCONNECTED)
        if not stream.closed:
            self._streamClosed(stream)
        elif stream.appDone:
            self._removeStream(stream)

    def _windowUpdated(self, event):
        self._windowOpened(event.stream_id)

    def _settingsChanged(self, event):
        if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._windowOpened(0)

    def _clientGoingAway(self, event):
        # h2 sends nothing after the client's GOAWAY: its streams are over.
        self._close()
        self._disconnectStreams(CLIENT_DISCONNECTED)

    # -- streams ------------------------------------------------------------------

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

    def _refuse(self, streamId):
        """
        Refuse a new stream (C{REFUSED_STREAM}): past the concurrent stream
        limit, or after C{GOAWAY}.  It counts as a reset for the guard.
        """
        self._h2.reset_stream(streamId, REFUSED_STREAM)
        if not self._guard.refused(self._now):
            self._connectionError(ENHANCE_YOUR_CALM, b"too many refused streams")

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
        record = Exchange(self, self._reactor, 0)
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
            (b"date", self.dateValue()),
        ]
        if h2.local_flow_control_window(streamId) >= len(body):
            h2.send_headers(streamId, fields)
            h2.send_data(streamId, body, end_stream=True)
        else:
            h2.send_headers(streamId, fields[:2], end_stream=True)
        if not ended:
            h2.reset_stream(streamId, NO_ERROR)

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
        if exchange.responseStarted or stream.headSent:
            self.resetStream(stream, CANCEL)
            return
        exchange.status = status
        stream.ended = True
        self._sendError(stream.streamId, status, stream.remoteEnded)
        self._streamClosed(stream)
        self._flushSoon()

    def resetStream(self, stream, code):
        """
        Reset C{stream} (C{RST_STREAM} with C{code}) unless it is closed.

        @type stream: L{H2Stream}
        @param code: the error code (RFC 9113 section 7).
        """
        if stream.closed:
            return
        try:
            self._h2.reset_stream(stream.streamId, code)
        except StreamClosedError:
            pass
        self._streamClosed(stream)
        self._flushSoon()

    def _streamEnded(self, stream):
        """
        C{END_STREAM} was sent on C{stream}: if the client is still
        sending, reset it (C{NO_ERROR}: nothing more is read, RFC 9113
        section 8.1); if its client's side ended too, it is closed.
        """
        stream.ended = True
        if not stream.remoteEnded:
            self._h2.reset_stream(stream.streamId, NO_ERROR)
        self._streamClosed(stream)

    def _streamClosed(self, stream):
        """
        C{stream} is closed on the wire: forget what it had to send, give
        the connection window back the body bytes its application never
        consumed, and let it go if its application is done.
        """
        stream.closed = True
        stream.dropOutbox()
        if stream.blockedSince is not None:
            self._blocked.discard(stream)
            stream.blockedSince = None
        left = stream.unconsumed
        if left:
            stream.unconsumed = 0
            self._unconsumed -= left
            if not self._closing:
                self._h2.acknowledge_received_data(left, stream.streamId)
        exchange = stream.exchange
        if exchange.writePaused:
            exchange.resumeWriting()
        if stream.appDone:
            self._removeStream(stream)

    def _removeStream(self, stream):
        """
        C{stream} is closed and its application done: it no longer counts.
        The last one leaves the connection idle (timed), or, after
        C{GOAWAY}, closes it.
        """
        streams = self._streams
        if streams.pop(stream.streamId, None) is None or streams or self._lost:
            return
        if self._goingAway:
            self._close()
        else:
            self._idleSince = self._reactor.seconds()
            self._armAfter(self._timeoutKeepAlive)

    def _disconnectStreams(self, outcome):
        """
        Disconnect every stream's exchange with C{outcome}, and close the
        stream (the connection is closing).
        """
        for stream in list(self._streams.values()):
            stream.exchange.disconnect(outcome)
            if not stream.closed:
                self._streamClosed(stream)

    # -- called by the streams ------------------------------------------------------

    def streamFinished(self, stream):
        """
        The application of C{stream} is done: log it (the server state),
        and let the stream go if it is closed.

        @type stream: L{H2Stream}
        """
        self._serverState.requestFinished(stream.exchange)
        if stream.closed:
            self._removeStream(stream)

    def bodyConsumed(self, stream, size):
        """
        The application of C{stream} consumed C{size} body bytes: reopen
        the stream's window and the connection's by as much.

        @type stream: L{H2Stream}
        @type size: L{int}
        """
        if stream.closed:
            return
        stream.unconsumed -= size
        self._unconsumed -= size
        self._h2.acknowledge_received_data(size, stream.streamId)
        if not stream.remoteEnded:
            # The client was not late while the application held its bytes.
            stream.lastData = self._reactor.seconds()
            self._armAfter(self._timeoutHeader)
        self._flushSoon()

    def sendContinue(self, stream):
        """
        Send C{100 Continue} on C{stream} (an informational response,
        RFC 9113 section 8.1).

        @type stream: L{H2Stream}
        """
        self._h2.send_headers(stream.streamId, _CONTINUE)
        self._flushSoon()

    def dateValue(self):
        """
        @return: the C{Date} value for now (the server state's, formatted
            once a second).
        @rtype: L{bytes}
        """
        line = self._serverState.dateHeader()
        if line is not self._dateLine:
            self._dateLine = line
            self._dateValue = line[6:-2]
        return self._dateValue

    # -- IConnection -------------------------------------------------------------------

    def stopKeepAlive(self):
        """
        A graceful stop: send C{GOAWAY} (C{NO_ERROR}) with the last stream
        the client opened, refuse later streams, and close once the
        streams in progress are done (now if there are none).  A
        connection that has not opened its first stream yet is not idle:
        it was accepted to be served, so the stop waits for that stream
        (and then goes on as above), bounded by the head timeout that runs
        from the connection, which closes it if none comes.
        """
        if self._goingAway or self._closing or self._lost:
            return
        if self._fresh and not self._streams:
            self._stopAfterFirst = True
            return
        if not self._streams:
            self._goAway()
            return
        self._goingAway = True
        self._flush()
        last = self._h2.highest_inbound_stream_id
        self._writer.write(GoAwayFrame(0, last_stream_id=last, error_code=NO_ERROR).serialize())

    def abortForShutdown(self):
        """
        Cut the connection at the end of a graceful stop: its streams are
        disconnected with the C{shutdown} outcome, then go through grace
        and cancel.
        """
        self._shutdown = True
        self.transport.abortConnection()

    # -- closing -----------------------------------------------------------------------

    def _goAway(self):
        """
        Close a connection with no stream in progress: C{GOAWAY}
        (C{NO_ERROR}), then close.
        """
        self._h2.close_connection(error_code=NO_ERROR)
        self._flush()
        self._close()

    def _connectionError(self, code, debug):
        """
        End the connection for what the client did: C{GOAWAY} with C{code}
        and C{debug}, every stream disconnected (C{rejected}), close.

        @param code: the error code (RFC 9113 section 7).
        @param debug: the reason, as the C{GOAWAY}'s debug data.
        @type debug: L{bytes}
        """
        if self._closing or self._lost:
            return
        _log.info(
            "HTTP/2 connection from {client} ended: {reason}",
            client=self._client,
            reason=debug.decode("ascii", "replace"),
        )
        self._h2.close_connection(error_code=code, additional_data=debug)
        self._writer.write(self._h2.data_to_send())
        self._close()
        self._disconnectStreams(REJECTED)

    def _protocolError(self, error):
        """
        C{h2} refused what the client sent (it prepared the C{GOAWAY}):
        send it, disconnect every stream (C{rejected}), close.
        """
        _log.info(
            "HTTP/2 protocol error from {client}: {error}",
            client=self._client,
            error=error,
        )
        self._writer.write(self._h2.data_to_send())
        self._close()
        self._disconnectStreams(REJECTED)

    def _close(self):
        """
        Close the connection, once: write what C{h2} prepared, read nothing
        more, let the transport send what it holds, and bound the close
        (L{_closeDrained}).
        """
        if self._closing:
            return
        self._closing = True
        self._disarm()
        call = self._flushCall
        if call is not None:
            self._flushCall = None
            call.cancel()
        if self._lost:
            return
        # What h2 prepared (the last stream's end, a GOAWAY) leaves first.
        data = self._h2.data_to_send()
        if data:
            self._writer.write(data)
        self.transport.loseConnection()
        if not self._writePaused:
            self._closeDrained()

    def _closeDrained(self):
        """
        What is left to send fits in the transport's buffer: stop being its
        producer (a TLS transport then sends its C{close_notify}) and abort
        the connection if it is still open C{timeoutClose} seconds later.
        """
        if self._closeTimer is not None or self._lost:
            return
        self.transport.unregisterProducer()
        self._closeTimer = self._reactor.callLater(self._timeoutClose, self._closeTimedOut)

    def _closeTimedOut(self):
        self._closeTimer = None
        self.transport.abortConnection()


_UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE.phrase.encode("ascii")
_UNAVAILABLE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(_UNAVAILABLE)),
    (b"retry-after", RETRY_AFTER),
]
_CONTINUE = [(b":status", b"100")]

_HANDLERS = {
    RequestReceived: HTTP2Connection._requestReceived,
    DataReceived: HTTP2Connection._dataReceived,
    StreamEnded: HTTP2Connection._remoteEnded,
    TrailersReceived: HTTP2Connection._trailersReceived,
    StreamReset: HTTP2Connection._streamReset,
    WindowUpdated: HTTP2Connection._windowUpdated,
    RemoteSettingsChanged: HTTP2Connection._settingsChanged,
    ConnectionTerminated: HTTP2Connection._clientGoingAway,
}
"""
What each C{h2} event a server acts on calls; the others (C{PING},
C{SETTINGS} acknowledgements, priorities) need nothing more than C{h2}
and the guard do.
"""
