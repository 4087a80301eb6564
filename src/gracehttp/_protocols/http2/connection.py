"""
An HTTP/2 server connection (RFC 9113) on C{h2}: the transport's
callbacks, C{h2}'s events, the streams.

Theory of operation
===================

One L{HTTP2Connection} per connection that chose HTTP/2 (by ALPN, or by
the h2c preface: L{gracehttp._protocols.chooser}).  It owns one C{h2}
state machine, configured to validate and normalise nothing (every rule
is checked by L{gracehttp._protocols.http2.request}, once), and one
L{FrameGuard<gracehttp._protocols.http2.guard.FrameGuard>}, which reads
each frame header before C{h2} parses the read.  Each read is scanned by
the guard, parsed by C{h2}, and the events it yields are acted on here
(the table C{_HANDLERS}); what they produced is sent at the read's end.
Its parts:

  - L{admission<gracehttp._protocols.http2.admission>}: each new stream
    refused, answered by the server, or started as an exchange; requests
    given up on later (body, trailers);
  - L{stream<gracehttp._protocols.http2.stream>}: each stream is the
    L{IExchangeChannel<gracehttp._core.interfaces.IExchangeChannel>} of
    its L{Exchange<gracehttp._core.exchange.Exchange>}: request body and
    flow control, response framing;
  - L{sending<gracehttp._protocols.http2.sending>}: taking turns between
    streams within the windows; the transport's backpressure;
  - L{timer<gracehttp._protocols.http2.timer>}: idle connection, stalled
    header block, body and window;
  - L{closing<gracehttp._protocols.http2.closing>}: graceful stop,
    connection errors, the client's C{GOAWAY}, the bounded close;
  - L{guard<gracehttp._protocols.http2.guard>}: flood bounds;
  - L{request<gracehttp._protocols.http2.request>}: the request checks.

Settings (RFC 9113 section 6.5.2) sent at once: C{MAX_CONCURRENT_STREAMS}
(C{h2MaxConcurrentStreams}), C{INITIAL_WINDOW_SIZE} (L{STREAM_WINDOW
<gracehttp._protocols.http2.stream.STREAM_WINDOW>}), C{MAX_HEADER_LIST_SIZE}
(C{limitRequestHeaderSize} plus 32 bytes per field of
C{limitRequestHeaders}, as RFC 9113 counts a field), with the connection
window raised to L{CONNECTION_WINDOW
<gracehttp._protocols.http2.stream.CONNECTION_WINDOW>}.

Disconnects: C{RST_STREAM} from the client disconnects that stream's
exchange alone (its application is told, gets the grace period, is
cancelled); the connection's loss disconnects every stream's; a stream
whose response ended is closed while the others go on.  A stream leaves
the connection's table once it is closed and its application is done;
the last one leaves the connection idle (timed), or, after a graceful
stop's C{GOAWAY}, closes it.
"""

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
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from gracehttp._core.exchange import CLIENT_DISCONNECTED
from gracehttp._core.serverstate import IConnection
from gracehttp._protocols.http2.admission import Admission
from gracehttp._protocols.http2.closing import Closer
from gracehttp._protocols.http2.guard import FrameGuard
from gracehttp._protocols.http2.sending import ENHANCE_YOUR_CALM, NO_ERROR, StreamSending
from gracehttp._protocols.http2.stream import CONNECTION_WINDOW, STREAM_WINDOW
from gracehttp._protocols.http2.timer import ConnectionTimer
from gracehttp._protocols.socketwriter import writerFor

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
    @ivar _admission: what becomes of each new stream.
    @type _admission: L{Admission}
    @ivar _closer: how the connection ends.
    @type _closer: L{Closer}
    @ivar _streams: the streams not yet done, by identifier (shared with
        L{_admission}, which adds them).
    @type _streams: L{dict} of L{int} to L{H2Stream
        <gracehttp._protocols.http2.stream.H2Stream>}
    @ivar _unconsumed: body bytes its streams hold unconsumed.
    @ivar _now: the clock's seconds at the start of the read (or timer)
        being handled.
    @ivar _closing: the connection is closing (set by L{_closer}): nothing
        more is read.
    @ivar _lost: the transport reported the connection lost.
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
        self._closer = Closer(self)
        self._dateLine = None
        self._dateValue = b""
        self._initSending()

    # -- the transport's callbacks ---------------------------------------------

    def connectionMade(self):
        factory = self.factory
        settings = factory.settings
        transport = self.transport
        self._reactor = factory.reactor
        self._serverState = factory.serverState
        now = self._now = self._reactor.seconds()
        self._timeoutHeader = settings.timeoutHeader
        self._timeoutKeepAlive = settings.timeoutKeepAlive
        self._timeoutClose = settings.timeoutClose
        self._timeoutStall = settings.timeoutStall
        self._client = _address(transport.getPeer())
        self._writer = writerFor(transport)
        maxStreams = settings.h2MaxConcurrentStreams
        listLimit = settings.limitRequestHeaderSize + 32 * settings.limitRequestHeaders
        self._guard = FrameGuard(now, maxStreams, listLimit)
        self._h2 = newStateMachine(maxStreams, listLimit)
        self._admission = Admission(self, self._h2, self._guard, self._closer, self._client)
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
            self._closer.connectionError(ENHANCE_YOUR_CALM, problem)
            return
        if guard.blockStarted is not None and started is None:
            self._armAfter(self._timeoutHeader)
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as e:
            self._closer.protocolError(e)
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
        call = self._flushCall
        if call is not None and call.active():
            call.cancel()
        self._flushCall = None
        self._closer.connectionLost()

    # -- h2's events -------------------------------------------------------------

    def _requestReceived(self, event):
        self._fresh = False
        self._admission.admit(event, self._now)
        closer = self._closer
        if closer.stopAfterFirst:
            closer.stopAfterFirst = False
            closer.stopKeepAlive()

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
            self._admission.bodyOverLimit(stream)

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
        if stream is not None and not stream.closed:
            self._admission.trailersReceived(stream, event.headers)

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
        self._closer.clientGoingAway()

    # -- streams ------------------------------------------------------------------

    def resetStream(self, stream, code):
        """
        Reset C{stream} (C{RST_STREAM} with C{code}) unless it is closed.

        @type stream: L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
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
        if self._closer.goingAway:
            self._closer.close()
        else:
            self._idleSince = self._reactor.seconds()
            self._armAfter(self._timeoutKeepAlive)

    # -- called by the streams ------------------------------------------------------

    def streamFinished(self, stream):
        """
        The application of C{stream} is done: log it (the server state),
        and let the stream go if it is closed.

        @type stream: L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
        """
        self._serverState.requestFinished(stream.exchange)
        if stream.closed:
            self._removeStream(stream)

    def bodyConsumed(self, stream, size):
        """
        The application of C{stream} consumed C{size} body bytes: reopen
        the stream's window and the connection's by as much.

        @type stream: L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
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

        @type stream: L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
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
        A graceful stop: C{GOAWAY}, then close once the streams in progress
        are done (L{Closer.stopKeepAlive}).
        """
        self._closer.stopKeepAlive()

    def abortForShutdown(self):
        """
        Cut the connection at the end of a graceful stop
        (L{Closer.abortForShutdown}).
        """
        self._closer.abortForShutdown()


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
