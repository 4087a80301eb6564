"""
The timers of an HTTP/2 connection: the idle connection, a header block
that does not end, a request body that stops arriving, and a response
the client's flow-control window holds back.

Theory of operation
===================

One C{DelayedCall} per connection (C{_timer}), armed for the earliest
moment something may be late and moved earlier when something new may be
late sooner (L{ConnectionTimer._armAt}); it is never polled.  Things
arriving or being consumed only note the time (a stream's C{lastData});
when the timer fires it looks at the connection and every stream
(L{ConnectionTimer._timedOut}), acts on what is late and re-arms for what
is not yet:

  - no stream open: the connection is idle.  Until its first request the
    client has C{timeoutHeader} seconds (a connection that never sends a
    request is closed silently), after that C{timeoutKeepAlive}; then
    C{GOAWAY} (C{NO_ERROR}) and close.
  - a header block (C{HEADERS} and its C{CONTINUATION} frames) begun more
    than C{timeoutHeader} seconds ago and not ended: the client is
    holding the connection's decoder (no other stream can begin);
    C{GOAWAY} (C{ENHANCE_YOUR_CALM}) and close.
  - a request body not complete, while its client may send (everything
    it sent was consumed, and the connection's window is at least half
    open), with no byte for C{timeoutHeader} seconds: the stream is
    answered 408 (if its response had not started) and reset, its
    exchange disconnected with the C{rejected} outcome, as HTTP/1.1 does
    with a stalled body.  While its application does not consume what
    it has, the client is not late: it is timed again from the
    application's next read.
  - a response stopped by a flow-control window (the stream's or the
    connection's) that the client has kept shut for C{timeoutStall}
    seconds: the stream is reset (C{CANCEL}), its exchange disconnected
    with the C{rejected} outcome.  A client that reads nothing would
    otherwise hold its applications (and their buffered responses) for
    good.

An application's own time is not limited here.  C{connectionLost}
cancels the timer.
"""

from twisted.logger import Logger

from gracehttp._core.exchange import REJECTED
from gracehttp._protocols.http2.sending import CANCEL, ENHANCE_YOUR_CALM
from gracehttp._protocols.http2.stream import CONNECTION_WINDOW

_log = Logger()


class ConnectionTimer:
    """
    The connection's timer: a part of L{HTTP2Connection
    <gracehttp._protocols.http2.connection.HTTP2Connection>}, sharing its
    attributes (its streams, guard, settings) and calling its
    C{resetStream}, its closer's C{goAway} and C{connectionError}, and its
    admission's C{rejectStream}.

    @ivar _timer: the connection's timer, or L{None} when it is not armed.
    @type _timer: L{IDelayedCall<twisted.internet.interfaces.IDelayedCall>}
    @ivar _timerAt: when it fires (the clock's seconds).
    @ivar _idleSince: when the last stream left (or the connection was
        made), the clock's seconds.
    @ivar _fresh: no request has arrived yet.
    """

    def _initTimer(self, now):
        self._timer = None
        self._timerAt = None
        self._idleSince = now
        self._fresh = True

    def _armAfter(self, seconds):
        """
        Make sure the timer fires at most C{seconds} from now.
        """
        self._armAt(self._reactor.seconds() + seconds)

    def _armAt(self, when):
        """
        Make sure the timer fires at C{when} (the clock's seconds) at the
        latest.
        """
        timer = self._timer
        if timer is None:
            delay = max(0, when - self._reactor.seconds())
            self._timer = self._reactor.callLater(delay, self._timedOut)
            self._timerAt = when
        elif when < self._timerAt:
            timer.reset(max(0, when - self._reactor.seconds()))
            self._timerAt = when

    def _disarm(self):
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    def _timedOut(self):
        self._timer = None
        if self._closing or self._lost:
            return
        now = self._now = self._reactor.seconds()
        deadline = self._connectionDeadline(now)
        if self._closing:
            return
        for stream in list(self._streams.values()):
            when = self._streamDeadline(stream, now)
            if when is not None and (deadline is None or when < deadline):
                deadline = when
        if deadline is not None:
            self._armAt(deadline)
        self._flush()

    def _connectionDeadline(self, now):
        """
        Close an idle connection, or one whose header block is stalled,
        if it is time.

        @return: when the connection may be late next, or L{None}.
        """
        deadline = None
        started = self._guard.blockStarted
        if started is not None:
            deadline = started + self._timeoutHeader
            if now >= deadline:
                self._closer.connectionError(ENHANCE_YOUR_CALM, b"header block timed out")
                return None
        if not self._streams:
            limit = self._timeoutHeader if self._fresh else self._timeoutKeepAlive
            idle = self._idleSince + limit
            if now >= idle:
                self._closer.goAway()
                return None
            if deadline is None or idle < deadline:
                deadline = idle
        return deadline

    def _streamDeadline(self, stream, now):
        """
        Reject a stalled request body or reset a stalled response of
        C{stream}, if it is time.

        @return: when C{stream} may be late next, or L{None}.
        """
        if stream.closed:
            return None
        deadline = None
        since = stream.blockedSince
        if since is not None:
            deadline = since + self._timeoutStall
            if now >= deadline:
                _log.info(
                    "HTTP/2 stream {stream} from {client}: window shut for {seconds} s: reset",
                    stream=stream.streamId,
                    client=self._client,
                    seconds=self._timeoutStall,
                )
                stream.exchange.disconnect(REJECTED)
                self.resetStream(stream, CANCEL)
                return None
        if (
            not stream.remoteEnded
            and not stream.unconsumed
            and self._unconsumed < CONNECTION_WINDOW // 2
            and not stream.exchange.disconnected
        ):
            late = stream.lastData + self._timeoutHeader
            if now >= late:
                _log.info(
                    "HTTP/2 request body stalled on stream {stream} from {client}",
                    stream=stream.streamId,
                    client=self._client,
                )
                self._admission.rejectStream(stream, 408)
                return None
            if deadline is None or late < deadline:
                deadline = late
        return deadline
