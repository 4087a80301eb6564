"""
Sending the responses of an HTTP/2 connection: taking turns between
streams within the flow-control windows, and the transport's
backpressure.

Theory of operation
===================

A stream with something to send (its head and first body bytes, more
body bytes, its end) is queued once (L{StreamSending.streamWants}); a
flush sends from the queued streams in turn, at most L{QUANTUM} body
bytes of one stream per turn, each C{DATA} frame within the stream's
window, the connection's window and the client's largest frame size.  A
stream whose window (or the connection's) is shut leaves the queue
(L{H2Stream.blockedSince<gracehttp._protocols.http2.stream.H2Stream>} is
set: the connection's timer resets it if the client keeps it shut for
C{timeoutStall} seconds) and comes back with the client's
C{WINDOW_UPDATE} (L{StreamSending._windowOpened}).  So one stream whose
client does not read holds back only its own outbox, and its own
application (L{HIGH_WATER<gracehttp._protocols.http2.stream.HIGH_WATER>}).

What C{h2} prepared (the frames, and its own control frames: C{SETTINGS}
and C{PING} acknowledgements, C{WINDOW_UPDATE}, C{RST_STREAM}) is written
to the transport in one write per flush.  A flush runs at the end of each
read (so every response that a read's requests produced at once leaves
together), or, when an application writes outside a read, on the next
reactor turn (C{callLater(0)}, once however many streams write in the
meantime).  One flush hands at most L{FLUSH_SIZE} body bytes to the
transport and schedules another for the rest.

Backpressure: the connection is its transport's streaming producer.
While the transport is paused (its buffer past its high-water mark: the
client reads slowly) no stream data is sent; outboxes fill up to their
high-water mark and their applications wait.  C{h2}'s control frames
still go out, counted: a client that keeps asking for answers (C{PING},
C{SETTINGS}...) while it reads nothing makes them pile up, and past
L{CONTROL_BACKLOG} bytes written while paused the connection is closed
(C{ENHANCE_YOUR_CALM}).
"""

from collections import deque

from h2.exceptions import ProtocolError
from twisted.logger import Logger

from gracehttp._protocols.http2.stream import LOW_WATER

_log = Logger()

QUANTUM = 64 * 1024
"""
Body bytes one stream sends in one turn before the next queued stream's
turn.
"""

FLUSH_SIZE = 256 * 1024
"""
Body bytes one flush hands to the transport before it lets the reactor
turn.
"""

CONTROL_BACKLOG = 64 * 1024
"""
Bytes of control frames the connection writes while its transport is
paused (the client reads nothing) before it closes the connection.
"""

NO_ERROR = 0
INTERNAL_ERROR = 2
CANCEL = 8
ENHANCE_YOUR_CALM = 11
"""
The error codes of C{RST_STREAM} and C{GOAWAY} used here (RFC 9113
section 7).
"""


class StreamSending:
    """
    Sending: a part of L{HTTP2Connection
    <gracehttp._protocols.http2.connection.HTTP2Connection>}, sharing its
    attributes (C{_h2}, C{_reactor}, C{_now}, C{_writer}) and calling its
    C{resetStream} and C{_streamEnded}, and its closer's
    C{connectionError} and C{drained}.

    @ivar _ready: the streams queued to send, in turn.
    @type _ready: L{deque} of L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
    @ivar _blocked: the streams waiting for a window to open.
    @type _blocked: L{set}
    @ivar _flushCall: the flush scheduled for the next reactor turn, or
        L{None}.
    @ivar _inRead: a read is being handled (it flushes at its end).
    @ivar _writePaused: the transport paused us.
    @ivar _pausedOutput: bytes written while paused.
    """

    def _initSending(self):
        self._ready = deque()
        self._blocked = set()
        self._flushCall = None
        self._inRead = False
        self._writePaused = False
        self._pausedOutput = 0

    def streamWants(self, stream):
        """
        C{stream} has something to send: queue it, and flush soon.

        @type stream: L{H2Stream<gracehttp._protocols.http2.stream.H2Stream>}
        """
        if not stream.queued and not stream.closed and stream.blockedSince is None:
            stream.queued = True
            self._ready.append(stream)
        self._flushSoon()

    def _flushSoon(self):
        """
        Flush at the end of the read being handled, or on the next reactor
        turn.
        """
        if self._inRead or self._flushCall is not None or self._closing:
            return
        self._flushCall = self._reactor.callLater(0, self._flush)

    def _flush(self):
        """
        Send from the queued streams (unless the transport is paused), then
        write what C{h2} prepared.
        """
        call = self._flushCall
        if call is not None:
            self._flushCall = None
            if call.active():
                call.cancel()
        if self._lost or self._closing:
            return
        if self._ready and not self._writePaused:
            self._sendReady()
        data = self._h2.data_to_send()
        if data:
            if self._writePaused:
                self._pausedOutput += len(data)
                if self._pausedOutput > CONTROL_BACKLOG:
                    self._closer.connectionError(ENHANCE_YOUR_CALM, b"control frames not read")
                    return
            self._writer.write(data)
        if self._ready and not self._writePaused:
            self._flushSoon()

    def _sendReady(self):
        """
        Give the queued streams their turns, up to L{FLUSH_SIZE} body bytes.
        """
        ready = self._ready
        budget = FLUSH_SIZE
        while ready and budget > 0:
            stream = ready.popleft()
            stream.queued = False
            if stream.closed:
                continue
            try:
                budget -= self._sendStream(stream)
            except ProtocolError as e:
                # h2 refused to frame it (a 1xx as the final status, say).
                _log.error(
                    "HTTP/2 response on stream {stream} cannot be sent: {error}",
                    stream=stream.streamId,
                    error=e,
                )
                self.resetStream(stream, INTERNAL_ERROR)

    def _sendStream(self, stream):
        """
        One turn of C{stream}: its head if it waits, body bytes within the
        windows, up to L{QUANTUM}, and its end once its outbox is empty.

        @return: body bytes sent.
        @rtype: L{int}
        """
        h2 = self._h2
        streamId = stream.streamId
        exchange = stream.exchange
        ending = stream.ending
        trailers = exchange.trailers if ending else ()
        whole = not stream.remaining
        if stream.head is not None:
            if not stream.outSize and not ending:
                return 0
            last = ending and not stream.outSize and not trailers and whole
            head = stream.head
            stream.head = None
            stream.headSent = True
            h2.send_headers(streamId, head, end_stream=last)
            if last:
                self._streamEnded(stream)
                return 0
        sent = 0
        while stream.outSize:
            window = h2.local_flow_control_window(streamId)
            if window <= 0:
                self._block(stream)
                break
            data = stream.takeOutbox(min(window, h2.max_outbound_frame_size))
            last = ending and not stream.outSize and not trailers and whole
            h2.send_data(streamId, data, end_stream=last)
            sent += len(data)
            if last:
                self._streamEnded(stream)
                break
            if sent >= QUANTUM and stream.outSize:
                stream.queued = True
                self._ready.append(stream)
                break
        if exchange.writePaused and stream.outSize <= LOW_WATER:
            exchange.resumeWriting()
        if ending and not stream.outSize and not stream.ended and not stream.closed:
            self._endStream(stream, trailers, whole)
        return sent

    def _endStream(self, stream, trailers, whole):
        """
        End C{stream} once its outbox is empty: with its trailers, with an
        empty C{DATA} frame, or, if fewer bytes than its C{Content-Length}
        were sent, with C{RST_STREAM}.
        """
        if not whole:
            _log.info(
                "HTTP/2 response on stream {stream} shorter than its Content-Length: reset",
                stream=stream.streamId,
            )
            self.resetStream(stream, INTERNAL_ERROR)
        elif trailers:
            self._h2.send_headers(stream.streamId, trailers, end_stream=True)
            self._streamEnded(stream)
        else:
            self._h2.end_stream(stream.streamId)
            self._streamEnded(stream)

    def _block(self, stream):
        """
        A window the client keeps shut stopped C{stream}: wait for a
        C{WINDOW_UPDATE}, timed.
        """
        if stream.blockedSince is None:
            stream.blockedSince = self._reactor.seconds()
            self._blocked.add(stream)
            self._armAfter(self._timeoutStall)

    def _windowOpened(self, streamId):
        """
        The client opened a window (C{WINDOW_UPDATE}, or a new
        C{SETTINGS_INITIAL_WINDOW_SIZE}): queue the streams it may
        unblock.

        @param streamId: the stream whose window opened, or 0 for the
            connection's (every stream's).
        """
        blocked = self._blocked
        if not blocked:
            return
        if streamId:
            stream = self._streams.get(streamId)
            if stream is None or stream not in blocked:
                return
            streams = [stream]
        else:
            streams = list(blocked)
        for stream in streams:
            blocked.discard(stream)
            stream.blockedSince = None
            self.streamWants(stream)

    # -- IPushProducer (towards our transport) --------------------------------

    def pauseProducing(self):
        self._writePaused = True

    def resumeProducing(self):
        self._writePaused = False
        self._pausedOutput = 0
        if self._closing:
            self._closer.drained()
        elif not self._lost:
            self._flush()

    def stopProducing(self):
        pass
