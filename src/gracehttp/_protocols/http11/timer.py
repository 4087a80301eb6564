"""
The timers of an HTTP/1.1 connection: the head timeout, the stalled body,
the keep-alive timeout, and the close timeout.

Theory of operation
===================

One C{DelayedCall} per connection (C{_timer}), moved with C{reset()}, never
polled (a closing connection has its own, see below):

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
  - fires in any state but C{OPEN}: nothing happens (nothing is read any
    more).

The close is bounded: C{timeoutClose} seconds after what is left to send
fits in the transport's buffer (the channel stays its producer until then,
so a slow client still gets all of a large last response), a connection
still open is aborted (C{_closeTimer}).  C{connectionLost} cancels it.  A
connection another protocol took over is timed by that protocol.
"""

from twisted.logger import Logger

from gracehttp._protocols.http11.states import OPEN

_log = Logger()


class ConnectionTimer:
    """
    The connection's timers: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it reads the channel's C{_state}, C{_inHead},
    C{_readPauses}, C{_queue} and settings, and calls its C{_reject} and
    C{_close}).

    @ivar _timer: the connection's one timer, or L{None} when it is not
        armed.
    @type _timer: L{IDelayedCall<twisted.internet.interfaces.IDelayedCall>}
    @ivar _bodyTime: when the last byte of the request body being read
        arrived (the reactor's seconds), or L{None} while no body is timed.
    @ivar _fresh: no request head has been parsed yet: the first head is
        timed from the connection.
    @ivar _closeTimer: aborts a close that takes longer than
        C{timeoutClose}, or L{None}.
    @type _closeTimer: L{IDelayedCall<twisted.internet.interfaces.IDelayedCall>}
    """

    def _initTimer(self):
        self._timer = None
        self._bodyTime = None
        self._fresh = True
        self._closeTimer = None

    def _arm(self, seconds):
        """
        Make the connection's one timer fire C{seconds} from now.
        """
        timer = self._timer
        if timer is None:
            self._timer = self._reactor.callLater(seconds, self._timedOut)
        else:
            timer.reset(seconds)

    def _disarm(self):
        """
        Cancel the connection's timer and the close timer.
        """
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        closeTimer = self._closeTimer
        if closeTimer is not None:
            self._closeTimer = None
            closeTimer.cancel()

    def _timedOut(self):
        self._timer = None
        if self._state is not OPEN:
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
        idle = self._reactor.seconds() - self._bodyTime
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
            self._bodyTime = self._reactor.seconds()
            self._arm(self._timeoutHeader)

    def _bodyContinues(self):
        """
        A read ended inside a request body: note when, and the first time
        for this body time it (a body that stops arriving for
        C{timeoutHeader} seconds is answered 408).
        """
        now = self._reactor.seconds()
        if self._bodyTime is None:
            self._arm(self._timeoutHeader)
        self._bodyTime = now

    def _timeHead(self):
        """
        A request head did not arrive in the read it began in: time it.
        """
        if self._fresh:
            # The first request's head is timed from the connection.
            self._fresh = False
        else:
            self._arm(self._timeoutHeader)

    # -- the close timeout -------------------------------------------------------

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
        self._closeTimer = self._reactor.callLater(self._timeoutClose, self._closeTimedOut)

    def _closeTimedOut(self):
        """
        The close took longer than C{timeoutClose}: abort.
        """
        self._closeTimer = None
        _log.debug("Close timed out for {client}: aborting", client=self._client)
        self.transport.abortConnection()
