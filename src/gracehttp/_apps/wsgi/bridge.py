"""
The hand-off between a WSGI application's worker thread and the reactor
thread, for one request.

Theory of operation
===================

The exchange (L{gracehttp._core.exchange.Exchange}) may only be touched on the
reactor thread; the application runs on a worker thread.  A L{Bridge}
stands between them, and its state is guarded by one lock (with a
condition on it, made the first time the worker has to wait: most small
requests never do):

  - B{Outbox} (worker -> reactor).  What the worker wants done on the
    reactor (announce the application as started, send the head, body
    chunks, finish or abort, report the application finished) is recorded
    in the bridge, and its flush is posted to the adapter's L{Outbox} if
    none is pending yet.  Whatever the worker adds before the reactor runs
    that flush rides along in it, in order, so a small response costs one
    flush whenever the reactor is busy, and never more than two.  The
    L{Outbox} is shared by every request of an adapter: it makes one
    C{reactor.callFromThread} for all the flushes posted before the
    reactor gets to them, so under load several requests share one
    reactor wake-up.  Nothing is held back: each chunk is posted when it
    is written (PEP 3333: "must not delay the transmission of any
    block").
  - B{Backpressure}.  The outbox counts the body bytes it holds.  A write
    waits while that count is above L{HIGH_WATER} bytes or the exchange's
    C{writePaused} is set, so a slow client cannot make the worker queue
    without bound.
  - B{Inbox} (reactor -> worker).  A worker that wants body bytes and has
    none sets C{wantBody} and waits; the reactor answers by calling
    C{exchange.readBody()} (in the flush, and again in C{wake} whenever
    more body arrives) and putting the bytes in the inbox.  A body that is
    already complete is moved to the inbox unasked (it is bounded by the
    exchange's buffer), which saves the worker a round trip.
  - B{Mirrors}.  C{wake} is the exchange's wake callback: on the reactor it
    copies what the worker waits on (disconnected, writing paused, body
    complete) into the bridge under the lock and notifies the condition.
    On the first disconnect it also sets the C{threading.Event} the
    application sees as C{environ["gracehttp.disconnected"]}.  Once
    disconnected, every read and write raises L{ClientDisconnected}.
  - B{Stalled body}.  A worker waiting for body bytes waits as long as
    the client stays: a body that stops arriving is timed by the HTTP
    channel (C{--timeout-header}), which disconnects the exchange (the
    read then raises L{ClientDisconnected}) and answers 408, the same rule
    as for every interface.
"""

from threading import Condition, Event, Lock

from twisted.logger import Logger

from gracehttp._errors import ClientDisconnected

_log = Logger()

HIGH_WATER = 256 * 1024
"""
Bytes of response body a worker may hand to the reactor before it waits
for them to be written.  Each wait costs the worker a sleep and a wake-up
(context switches); streaming 10 MiB in 64 KiB chunks to 64 clients on one
core, 64 KiB here gave 110 responses/s, 128 KiB 150 and 256 KiB 190, for at
most this much (plus one chunk) held per response.  The transport's own
high-water mark still pauses the worker when the client reads slowly.
"""

FINISH = "finish"
ABORT = "abort"


class Outbox:
    """
    Carries flushes from worker threads to the reactor thread, one
    C{callFromThread} for all those posted before the reactor runs it (see
    the module docstring).
    """

    __slots__ = ("_lock", "_pending", "_reactor")

    def __init__(self, reactor):
        """
        @param reactor: provides C{callFromThread}.
        @type reactor: L{twisted.internet.interfaces.IReactorThreads}
        """
        self._reactor = reactor
        self._lock = Lock()
        # The flushes waiting for the reactor; None when no run is scheduled.
        self._pending = None

    def post(self, flush):
        """
        Run C{flush} on the reactor thread soon, after those posted before.
        Any thread.

        @type flush: zero-argument callable
        """
        with self._lock:
            pending = self._pending
            if pending is not None:
                pending.append(flush)
                return
            self._pending = [flush]
        self._reactor.callFromThread(self._run)

    def _run(self):
        """
        Run the posted flushes, in order.  Reactor thread.  One that raises
        is logged and does not keep the others from running.
        """
        with self._lock:
            pending = self._pending
            self._pending = None
        for flush in pending:
            try:
                flush()
            except BaseException:
                _log.failure("WSGI hand-off to the reactor failed")


class Bridge:
    """
    One request's worker <-> reactor hand-off (see the module docstring).

    @ivar disconnected: the client is gone (the worker's view).
    @type disconnected: L{bool}
    @ivar disconnectedEvent: set when the client disconnects.
    @type disconnectedEvent: L{threading.Event}
    """

    __slots__ = (
        "_announce",
        "_chunks",
        "_complete",
        "_condition",
        "_done",
        "_end",
        "_exchange",
        "_finished",
        "_head",
        "_inbox",
        "_lock",
        "_outbox",
        "_paused",
        "_queued",
        "_scheduled",
        "_sleeping",
        "_wantBody",
        "disconnected",
        "disconnectedEvent",
    )

    def __init__(self, outbox, exchange, finished):
        """
        Called on the reactor thread.

        @param outbox: carries the bridge's flushes to the reactor thread.
        @type outbox: L{Outbox}
        @param exchange: the request.
        @type exchange: L{gracehttp._core.exchange.Exchange}
        @param finished: called on the reactor thread, after
            C{exchange.appFinished()}, when the worker is done with the
            request.
        @type finished: zero-argument callable
        """
        self._outbox = outbox
        self._exchange = exchange
        self._finished = finished
        self._lock = Lock()
        # Made by the worker's first wait: most requests never wait.
        self._condition = None
        self._sleeping = False
        self.disconnected = False
        self.disconnectedEvent = Event()
        self._scheduled = False
        self._announce = None
        self._head = None
        self._chunks = []
        self._queued = 0
        self._end = None
        self._done = False
        self._paused = exchange.writePaused
        self._inbox = b""
        self._complete = False
        self._wantBody = False
        if exchange.bodyComplete or exchange.disconnected:
            self.wake()

    # -- reactor thread ----------------------------------------------------

    def wake(self):
        """
        The exchange changed: copy what the worker may wait on, pull body
        bytes if it wants them (or if the body is complete), notify it.
        Reactor thread only; installed as C{exchange.wake}.
        """
        exchange = self._exchange
        data = None
        if (
            (self._wantBody or exchange.bodyComplete)
            and not self._complete
            and not exchange.disconnected
        ):
            data = exchange.readBody()
        with self._lock:
            self._paused = exchange.writePaused
            if data is not None:
                if data:
                    self._inbox += data
                if exchange.bodyComplete:
                    self._complete = True
                if data or self._complete:
                    self._wantBody = False
            if exchange.disconnected and not self.disconnected:
                self.disconnected = True
                self.disconnectedEvent.set()
            if self._sleeping:
                self._condition.notify()

    def _flush(self):
        """
        Carry out what the worker put in the outbox, in order.  Reactor
        thread only.
        """
        with self._lock:
            self._scheduled = False
            announce = self._announce
            head = self._head
            chunks = self._chunks
            end = self._end
            done = self._done
            self._announce = self._head = self._end = None
            if chunks:
                self._chunks = []
                self._queued = 0
        exchange = self._exchange
        if done:
            # The worker is gone: nothing waits for the mirrors.
            exchange.wake = None
        try:
            if announce is not None:
                exchange.appStarted(announce)
            if head is not None:
                exchange.startResponse(*head)
            for chunk in chunks:
                exchange.write(chunk)
            if end is FINISH:
                exchange.finish()
            elif end is ABORT:
                exchange.abort()
        except ClientDisconnected:
            # The worker learns of it from the wake below.
            pass
        finally:
            if done:
                exchange.appFinished()
                self._finished()
            else:
                self.wake()

    # -- worker thread -----------------------------------------------------

    def _sleep(self):
        """
        Wait for L{wake}.  Must be called with the lock held.
        """
        condition = self._condition
        if condition is None:
            condition = self._condition = Condition(self._lock)
        self._sleeping = True
        condition.wait()
        self._sleeping = False

    def _claimFlush(self):
        """
        Must be called with the lock held.

        @return: whether the caller must schedule L{_flush} (after
            releasing the lock): none is pending yet.
        """
        if self._scheduled:
            return False
        self._scheduled = True
        return True

    def begin(self, cancel):
        """
        The worker picked the request up.  Unless the client already left,
        the application may start: the reactor will call
        C{exchange.appStarted(cancel)}.  Otherwise the exchange is told the
        application is finished (it never started).

        @param cancel: run on the reactor when the grace period after a
            disconnect ends.
        @type cancel: zero-argument callable
        @return: whether to start the application.
        @rtype: L{bool}
        """
        with self._lock:
            start = not self.disconnected
            if start:
                self._announce = cancel
            else:
                self._done = True
            flush = self._claimFlush()
        if flush:
            self._outbox.post(self._flush)
        return start

    def readChunk(self):
        """
        Wait for the next request body bytes.

        @return: body bytes; C{b""} at the end of the body.
        @rtype: L{bytes}
        @raise ClientDisconnected: the client is gone, even if the body was
            complete.
        """
        lock = self._lock
        while True:
            with lock:
                if self.disconnected:
                    raise ClientDisconnected("client disconnected")
                data = self._inbox
                if data:
                    self._inbox = b""
                    return data
                if self._complete:
                    return b""
                if self._wantBody:
                    self._sleep()
                    continue
                self._wantBody = True
                flush = self._claimFlush()
            if flush:
                self._outbox.post(self._flush)

    def write(self, head, data):
        """
        Hand response body bytes (and the head, the first time) to the
        reactor, first waiting while the reactor is behind (see the module
        docstring).

        @param head: C{(status, headers)} for
            L{Exchange.startResponse<gracehttp._core.exchange.Exchange.startResponse>},
            or L{None} if already sent.
        @param data: non-empty body bytes.
        @type data: L{bytes}
        @raise ClientDisconnected: the client is gone.
        """
        with self._lock:
            while not self.disconnected and (self._paused or self._queued > HIGH_WATER):
                self._sleep()
            if self.disconnected:
                raise ClientDisconnected("client disconnected")
            if head is not None:
                self._head = head
            self._chunks.append(data)
            self._queued += len(data)
            flush = self._claimFlush()
        if flush:
            self._outbox.post(self._flush)

    def end(self, head=None, data=b"", how=None, done=True):
        """
        Hand over the rest of the response, if any, and how it ends; and,
        unless C{done} is false, report the application finished.  Does not
        wait: the application produces nothing more.

        @param head: as for L{write}.
        @param data: last body bytes, possibly empty.
        @type data: L{bytes}
        @param how: L{FINISH}, L{ABORT} or L{None} (nothing to send: the
            client is gone, or the end was handed over already).
        @param done: the application is finished.  False when the response
            ends before the application does (its iterable's C{close()} is
            still to be called): another C{end()} reports it finished.
        @type done: L{bool}
        """
        with self._lock:
            if head is not None:
                self._head = head
            if data:
                self._chunks.append(data)
            if how is not None:
                self._end = how
            self._done = done
            flush = self._claimFlush()
        if flush:
            self._outbox.post(self._flush)
