"""
The requests of one HTTP/1.1 connection, in order: the queue, the active
exchange, pipelining, and the concurrency limit.

Theory of operation
===================

As soon as a request head is parsed an L{Exchange} is created and queued
(L{Pipeline._enqueue}).  The exchange at the head of the queue is the
active one: its application runs and its response goes to the wire.
Pipelined requests wait in the queue (their bodies buffer in their own
exchange, bounded) and start, in order, when the response before them is
finished (L{Pipeline.finishResponse}).  Past L{MAX_PIPELINED} queued
requests the channel stops parsing (what one read already holds is parsed
through, so the queue is bounded by that read).  A rejection that comes
while responses are queued is answered after them.

Concurrency: a request parsed while the server state has
C{limitConcurrency} requests in flight is answered 503 with C{Retry-After}
(RFC 9110 section 15.6.4) when its turn comes, without reaching the
application, and the connection closes (an overloaded server sheds the
connection and never reads that request's body).

When a response is finished, the rest of a request body the application
did not read is discarded (read and dropped) so the next request can be
parsed, unless the client is waiting for C{100 Continue} (it may or may
not send the body: we cannot know) or the connection closes anyway; then
the connection closes.

C{connectionLost} disconnects every queued exchange, once; those queued
behind the active one never reached the adapter and are finished at once.
A close the server makes after a complete response happens with an empty
queue, so it never looks like a client disconnect.
"""

from collections import deque
from http import HTTPStatus

from gracehttp._core.exchange import REJECTED
from gracehttp._protocols.http11.states import OPEN, REJECTING

MAX_PIPELINED = 16
"""
Requests queued on one connection before the channel stops reading.
"""

RETRY_AFTER = b"1"
"""
The C{Retry-After} of a 503 answered because of C{limitConcurrency}, in
seconds (RFC 9110 section 10.2.3).
"""

_UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE.phrase.encode("ascii")
_UNAVAILABLE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(_UNAVAILABLE)),
    (b"retry-after", RETRY_AFTER),
]


class Pipeline:
    """
    The queue of exchanges: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it calls the channel's framing, read gate, timer, protocol
    switch and C{_close}).

    @ivar _queue: the exchanges parsed and not yet answered, in order; the
        first is the active one once started.
    @type _queue: L{deque} of L{Exchange}
    @ivar _active: the exchange started last (stale once its response is
        finished, until the next starts), or L{None}.
    @ivar _refused: the exchanges parsed over C{limitConcurrency}, to be
        answered 503 when their turn comes.
    @type _refused: L{set} of L{Exchange}
    @ivar _adapter: runs the applications.
    @type _adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
    """

    def _initPipeline(self):
        self._queue = deque()
        self._active = None
        self._refused = set()

    def _enqueue(self, exchange):
        """
        Count C{exchange} in flight (noting a refusal over
        C{limitConcurrency}), queue it, and start it if it is the only one;
        stop parsing once L{MAX_PIPELINED} are queued.  An upgrade request
        offered to the protocol switch starts once the upgrade is read.
        """
        if not self._serverState.requestStarted():
            self._refused.add(exchange)
        queue = self._queue
        queue.append(exchange)
        if len(queue) == 1:
            if exchange is not self._upgrade:
                self._start(exchange)
        elif len(queue) == MAX_PIPELINED:
            self._pauseReading()

    def _start(self, exchange):
        """
        Make C{exchange} the active one and run its application, or answer
        503 if it came past C{limitConcurrency}, or offer it to the
        protocol switch if it asks for an upgrade.
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
        if exchange is self._upgrade:
            self._offerUpgrade(exchange)
            return
        self._adapter.handle(exchange)

    # -- IExchangeChannel --------------------------------------------------------

    def finishResponse(self, exchange):
        keepAlive = self._endResponse()
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
        elif self._state is not OPEN:
            self._answerRest()
        elif queue:
            if len(queue) == MAX_PIPELINED - 1:
                self._resumeReading()
            self._start(queue[0])
        elif not self._inHead:
            self._arm(self._timeoutKeepAlive)

    def abortResponse(self, exchange):
        self._close()

    def exchangeFinished(self, exchange):
        self._serverState.requestFinished(exchange)

    # -- stopping ------------------------------------------------------------------

    def _answerRest(self):
        """
        A response was finished on a connection that reads no more (a
        rejected request, an upgrade): answer what is queued, then the
        pending error, then close.
        """
        queue = self._queue
        if queue:
            self._start(queue[0])
            return
        if self._state is REJECTING:
            self._writeError(self._errorPending)
        self._close()

    def _disconnectAll(self, outcome):
        """
        The connection is gone: disconnect every queued exchange, once;
        those behind the active one never reached the adapter.

        @param outcome: L{CLIENT_DISCONNECTED
            <gracehttp._core.exchange.CLIENT_DISCONNECTED>} or L{SHUTDOWN
            <gracehttp._core.exchange.SHUTDOWN>}.
        """
        queue = self._queue
        self._queue = deque()
        active = self._active
        self._active = None
        for exchange in queue:
            exchange.disconnect(outcome)
        for exchange in queue:
            if exchange is not active:
                exchange.appFinished()
