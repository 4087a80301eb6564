"""
The WSGI adapter (PEP 3333): runs a WSGI application on a thread pool for
each request exchange.

Theory of operation
===================

How a request flows:

  1. L{WSGIAdapter.handle} (reactor thread) builds the C{environ}, a
     L{Bridge<gracehttp._apps.wsgi.bridge.Bridge>} (the only way between the
     worker thread and the exchange) and installs the bridge's C{wake} as
     C{exchange.wake}.  A request with a chunked body (C{Transfer-Encoding}
     in the C{environ}: one dict lookup, which with the call to
     C{_admit} is all other requests pay for this), or an HTTP/2 request
     whose body has no C{Content-Length}, first has its body
     spooled, unless C{chunkedBody} is C{"stream"}: a
     L{BodySpool<gracehttp._apps.wsgi.spool.BodySpool>} receives it on
     the reactor thread, and only once it is complete does the
     request get its C{CONTENT_LENGTH}, its bridge and its turn at
     admission; C{wsgi.input} then reads the spool.  A request dropped
     before it ran, or that ran, closes its spool
     (L{SpooledResponse<gracehttp._apps.wsgi.response.SpooledResponse>}).
  2. Admission.  The adapter gives the thread pool at most as many requests
     as it has threads (C{threadpool.max}); the others wait in a FIFO on
     the reactor thread, and a new request never overtakes them (a thread
     freed by one request goes to the longest waiting, not to the next
     request its keep-alive client sends at once: without that, the
     clients already served kept the threads and others waited for
     hundreds of milliseconds).  When a request finishes, the waiting ones
     are dispatched only after the reactor has polled its connections again,
     so a client that hung up while its request waited (also at the same
     moment as others, as when a proxy drops many connections) is seen:
     that request is dropped without ever taking a thread, and logged.
     Waiting in the pool's own queue instead would let worker threads race
     the reactor to the disconnects.  "After a poll" takes two
     C{callLater(0)} hops: Twisted's reactors run a delayed call scheduled
     from a C{callFromThread} call in the same turn, before polling, but
     one scheduled from a delayed call in the next turn, after polling
     (asyncio's loop polls before each hop).
  3. Threads.  Each of the pool's threads runs a worker loop that takes
     admitted requests from the adapter's ready queue; between requests a
     worker waits on the queue's condition.  A request thus costs one
     C{deque} append instead of a C{ThreadPool.callInThread}, which with
     its job queue, context capture and team bookkeeping cost about 10 us
     of CPU per job here.  Wake-ups are kept few, because each is a
     context switch and a woken thread competes for the GIL with the
     reactor: at most one worker is being woken at a time (C{_waking});
     the reactor wakes one at the end of the turn in which requests were
     queued (one C{callLater(0)} per turn), not once per request, so the
     requests parsed in a turn are all queued before a worker runs; a
     worker that takes a request and sees more waiting wakes the next one,
     so requests that block (on I/O) still run side by side, up to
     C{threadpool.max}.  (Measured with C{wrk -c64} on one core: context
     switches per request 4.6 -> 0.9, hello 10,000 -> 13,000 req/s.)
     Loops are started with C{callInThread} as needed, up to
     C{threadpool.max}.  They wait for more work only while the
     adapter serves (between L{WSGIAdapter.startup} and
     L{WSGIAdapter.shutdown}); otherwise a loop with nothing ready returns
     its thread to the pool.  L{WSGIAdapter.shutdown} wakes the idle
     workers so that they return before the pool is joined.
  4. On its thread the request is still dropped if the client left in the
     meantime.  Otherwise the exchange is told the application started,
     with a C{cancel} that can only log a warning: a thread cannot be
     interrupted.
  5. While the application runs, a disconnect sets
     C{environ["gracehttp.disconnected"]}, makes C{wsgi.input} and
     C{write()} raise L{ClientDisconnected<gracehttp._errors.ClientDisconnected>},
     stops the iteration of the response before its next chunk, and
     C{close()} is still called.
"""

from collections import deque
from threading import Condition, Lock

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import implementer

from gracehttp._apps.wsgi.bridge import Bridge, Outbox
from gracehttp._apps.wsgi.environ import EnvironBuilder
from gracehttp._apps.wsgi.input import WSGIInput
from gracehttp._apps.wsgi.response import SpooledResponse, WSGIResponse
from gracehttp._apps.wsgi.spool import BodySpool, spooledInput, withoutChunked
from gracehttp._core.interfaces import IAppAdapter

_log = Logger()


def _unknownLength(exchange, environ):
    """
    Whether C{exchange} is an HTTP/2 request with a body of unknown length
    (no C{Content-Length}, the stream not ended with its head): spooled
    as a chunked HTTP/1.1 body is, so that the application gets a
    C{CONTENT_LENGTH}.

    @type exchange: L{gracehttp._core.exchange.Exchange}
    @type environ: L{dict}
    @rtype: L{bool}
    """
    return (
        exchange.httpVersion == "2"
        and not exchange.bodyComplete
        and "CONTENT_LENGTH" not in environ
    )


@implementer(IAppAdapter)
class WSGIAdapter:
    """
    Runs a WSGI application (PEP 3333) for each request, on a thread pool.

    @ivar inFlight: what the service waits for before L{shutdown}: one
        L{Deferred} that fires when no request is running or waiting for a
        thread, or nothing if none is.  Computed when read.
    @type inFlight: L{list} of L{Deferred}
    """

    def __init__(
        self, app, reactor, threadpool, rootPath="", chunkedBody="spool", multiprocess=False
    ):
        """
        @param app: the WSGI application callable.
        @param reactor: provides C{callFromThread}, C{callLater} and
            C{seconds}.
        @type reactor: L{twisted.internet.interfaces.IReactorThreads} and
            L{twisted.internet.interfaces.IReactorTime}
        @param threadpool: its threads run the worker loops (see the
            module docstring); started by L{startup} and stopped by
            L{shutdown}.  Its C{max} (threads) is how many requests run at
            once.
        @type threadpool: L{twisted.python.threadpool.ThreadPool}
        @param rootPath: the URL path the application is mounted at;
            becomes C{SCRIPT_NAME}.
        @type rootPath: L{str}
        @param chunkedBody: C{"spool"}: a chunked request body is received
            whole before the application starts, which then sees a
            C{CONTENT_LENGTH} (L{gracehttp._apps.wsgi.spool}); C{"stream"}: the
            application starts at once and reads the body as it arrives,
            to its end (C{wsgi.input_terminated}), with no
            C{CONTENT_LENGTH}.
        @type chunkedBody: L{str}
        @param multiprocess: other processes serve the same application
            (C{--workers} above 1): PEP 3333's C{wsgi.multiprocess}.
        @type multiprocess: L{bool}
        """
        self._app = app
        self._spoolChunked = chunkedBody == "spool"
        self._reactor = reactor
        self._threadpool = threadpool
        self._outbox = Outbox(reactor)
        self._environ = EnvironBuilder(rootPath, multiprocess=multiprocess)
        self._running = 0
        self._waiting = deque()
        self._dispatchScheduled = False
        self._drained = []
        # The worker loops' state (see the module docstring), guarded by
        # the condition's lock.
        self._ready = deque()
        self._readyCondition = Condition(Lock())
        self._workers = 0
        self._idle = 0
        self._waking = False
        self._wakeScheduled = False
        self._serving = False

    def startup(self):
        """
        Start the thread pool.

        @return: a L{Deferred<twisted.internet.defer.Deferred>} that has
            already fired.
        """
        with self._readyCondition:
            self._serving = True
        self._threadpool.start()
        return succeed(None)

    def shutdown(self):
        """
        Wake the idle workers so that they return, then stop the thread
        pool, joining its threads: the service calls this after the last
        request finished.

        @return: a L{Deferred<twisted.internet.defer.Deferred>} that has
            already fired.
        """
        condition = self._readyCondition
        with condition:
            self._serving = False
            self._idle = 0
            condition.notify_all()
        self._threadpool.stop()
        return succeed(None)

    @property
    def inFlight(self):
        """
        See the class docstring.

        @rtype: L{list} of L{Deferred}
        """
        if not self._running and not self._waiting:
            return []
        drained = Deferred()
        self._drained.append(drained)
        return [drained]

    def handle(self, exchange):
        """
        Run the application for C{exchange} on a thread, now or when one is
        free, after spooling a chunked body (see the module docstring).
        Reactor thread.

        @type exchange: L{gracehttp._core.exchange.Exchange}
        """
        environ = self._environ.build(exchange)
        if self._spoolChunked and (
            "HTTP_TRANSFER_ENCODING" in environ or _unknownLength(exchange, environ)
        ):
            BodySpool(exchange, lambda spool: self._spooled(exchange, environ, spool)).start()
            return
        bridge = Bridge(self._outbox, exchange, self._requestFinished)
        environ["wsgi.input"] = WSGIInput(bridge.readChunk)
        environ["gracehttp.disconnected"] = bridge.disconnectedEvent
        exchange.wake = bridge.wake
        self._admit(exchange, WSGIResponse(self._app, environ, bridge))

    def _spooled(self, exchange, environ, spool):
        """
        A chunked request body (or an HTTP/2 body without a
        C{Content-Length}) is all in its spool: give the application its
        length instead of the chunked coding, then admit the request as
        any other.  Reactor thread.

        @type exchange: L{gracehttp._core.exchange.Exchange}
        @param environ: the request's C{environ}, not complete yet.
        @type environ: L{dict}
        @type spool: L{BodySpool}
        """
        environ["CONTENT_LENGTH"] = str(spool.size)
        codings = environ.pop("HTTP_TRANSFER_ENCODING", None)
        codings = codings and withoutChunked(codings)
        if codings:
            environ["HTTP_TRANSFER_ENCODING"] = codings
        bridge = Bridge(self._outbox, exchange, self._requestFinished)
        environ["wsgi.input"] = WSGIInput(spooledInput(spool, bridge))
        environ["gracehttp.disconnected"] = bridge.disconnectedEvent
        exchange.wake = bridge.wake
        self._admit(exchange, SpooledResponse(self._app, environ, bridge, spool))

    def _admit(self, exchange, response):
        """
        Give the request a thread now, or queue it for one (see the module
        docstring).  Reactor thread.

        @type exchange: L{gracehttp._core.exchange.Exchange}
        @type response: L{WSGIResponse}
        """
        if self._running < self._threadpool.max and not self._waiting:
            self._running += 1
            self._submit(response.run)
        else:
            self._waiting.append((exchange, response))

    def _requestFinished(self):
        """
        A request given to a thread is done with it.  Reactor thread.
        """
        self._running -= 1
        if self._waiting:
            if not self._dispatchScheduled:
                self._dispatchScheduled = True
                self._reactor.callLater(0, self._reactor.callLater, 0, self._dispatch)
        elif not self._running:
            self._fireDrained()

    def _dispatch(self):
        """
        Give free threads to the requests waiting for one, in order,
        dropping those whose client left.  Reactor thread.
        """
        self._dispatchScheduled = False
        waiting = self._waiting
        maxThreads = self._threadpool.max
        while waiting and self._running < maxThreads:
            exchange, response = waiting.popleft()
            if exchange.disconnected:
                response.dropped()
                exchange.appFinished()
            else:
                self._running += 1
                self._submit(response.run)
        if not self._running and not waiting:
            self._fireDrained()

    def _submit(self, job):
        """
        Queue an admitted request for the workers; the first one queued in
        a reactor turn arranges for a worker to be woken at the end of the
        turn, unless one is already being woken.  Reactor thread.

        @param job: the request's L{WSGIResponse.run}.
        """
        condition = self._readyCondition
        with condition:
            self._ready.append(job)
            if self._waking or self._wakeScheduled:
                return
            self._wakeScheduled = True
        self._reactor.callLater(0, self._wakeForReady)

    def _wakeForReady(self):
        """
        The reactor turn that queued requests is over: wake a worker for
        them if none took them yet.  Reactor thread.
        """
        condition = self._readyCondition
        with condition:
            self._wakeScheduled = False
            if self._waking or not self._ready:
                return
            spawn = self._wakeWorker()
        if spawn:
            self._threadpool.callInThread(self._work)

    def _wakeWorker(self):
        """
        Wake an idle worker, or count a new worker loop in if there is
        room; either becomes the one being woken.  Must be called with the
        ready condition's lock held.

        @return: whether the caller must start the new loop (with
            C{callInThread}, after releasing the lock).
        @rtype: L{bool}
        """
        if self._idle:
            # Counted off here, not by the woken worker: the next wake-up
            # must not count on the same worker.
            self._idle -= 1
            self._waking = True
            self._readyCondition.notify()
            return False
        if self._workers >= self._threadpool.max:
            # Every worker is busy; each takes the next request when done.
            return False
        self._workers += 1
        self._waking = True
        return True

    def _work(self):
        """
        A worker loop: run ready requests in order; when none is ready,
        wait for one while the adapter serves, else return.  A worker that
        takes a request and sees more waiting wakes the next worker.
        Worker thread.
        """
        condition = self._readyCondition
        ready = self._ready
        with condition:
            # A new loop is the worker being woken.
            self._waking = False
        while True:
            with condition:
                while not ready:
                    if not self._serving:
                        self._workers -= 1
                        return
                    self._idle += 1
                    condition.wait()
                    self._waking = False
                job = ready.popleft()
                spawn = bool(ready) and not self._waking and self._wakeWorker()
            if spawn:
                self._threadpool.callInThread(self._work)
            try:
                job()
            except BaseException:
                # run() reports its own errors; this keeps the loop alive.
                _log.failure("WSGI worker job failed")

    def _fireDrained(self):
        drained, self._drained = self._drained, []
        for d in drained:
            d.callback(None)
