"""
The per-request exchange: the seam between a protocol and an app adapter.

Theory of operation
===================

A protocol (L{gracehttp._protocols.http11}) creates one L{Exchange} per request as soon
as the request head is parsed, fills in the request fields, and hands it to
an L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}.  From then on:

  - the protocol pushes request body bytes in with L{Exchange.receiveBody}
    and L{Exchange.endBody}; the adapter pulls them out with
    L{Exchange.readBody}.  The read side is the protocol's, per exchange:
    L{Exchange.receiveBody} returns the bytes buffered and not yet
    consumed; L{Exchange.readBody} tells the channel how many bytes the
    application consumed (C{bodyConsumed}, while the channel wants to
    hear: L{Exchange.reportConsumed}, since a call per read is measurable
    on the hot path) and, on the application's first read, that it wants
    the body a client held back with C{Expect: 100-continue}
    (C{continueWanted}).  The channel decides what that means: HTTP/1.1
    stops parsing past L{BODY_BUFFER_SIZE} unconsumed bytes and parses on
    once they are consumed; an HTTP/2 stream reopens its flow-control
    window by the bytes consumed.  The request body is never held whole.
  - the adapter pushes the response out with L{Exchange.startResponse},
    L{Exchange.write}, L{Exchange.finish} (or L{Exchange.abort}); the
    protocol frames it.  A protocol that can send trailer fields after the
    body (HTTP/2, to a client that sent C{TE: trailers}) sets
    L{Exchange.trailersOffered}; L{Exchange.finish} then takes them and
    leaves them in L{Exchange.trailers} for the channel.  When the transport's buffer is above its
    high-water mark the protocol calls L{Exchange.pauseWriting} and the
    adapter waits (ASGI C{send()}, WSGI C{write()}) until
    L{Exchange.resumeWriting}.
  - every change an adapter may be waiting for (body bytes, end of body,
    disconnect, writing resumed, response finished) calls the adapter's
    C{wake} callback, so an adapter needs exactly one waiting mechanism
    (an asyncio future, a threading condition).

The disconnect state machine
----------------------------

An exchange is a unit of work of L{gracehttp._core.lifecycle}: L{Exchange}
derives from L{Lifecycle<gracehttp._core.lifecycle.Lifecycle>}, whose module
states the rules and the transition table (told at once, grace period,
cancel; a second disconnect ignored; an application started after its
client left gets the grace period from its start).  The exchange adds what
is HTTP:

  - L{Exchange.disconnect} is called by the protocol when the client is gone
    (C{connectionLost}; a stream reset for HTTP/2), with the outcome it
    stands for.  Its flag is its own: a close the server initiates after
    a complete response does not set it.  It ends the response for the
    client (L{Exchange.endTime}) and wakes the adapter; from then on the
    response methods raise L{ClientDisconnected}.
  - What "cancel" means belongs to the adapter, which passes it to
    L{Exchange.appStarted}: the ASGI adapter cancels the asyncio task; the
    WSGI adapter, whose thread cannot be interrupted, logs a warning.
  - An application that had not been started when the client left is not
    started: the adapter checks L{Exchange.disconnected} and calls
    L{Exchange.appFinished} instead.  (A WSGI worker thread that picked
    the request up before the disconnect reached it starts it all the
    same; it gets the grace period from its start.)
  - L{Exchange.appFinished} decides the outcome from the lifecycle's record
    and the response, below.

The outcome
-----------

When the application is done, L{Exchange.outcome} records how the request
ended, for the access log (the protocol sets it beforehand, to L{REJECTED},
for a request it answered itself).  A response finished before any
disconnect is L{COMPLETED}, whatever happens after it (a slow WSGI
C{close()}, an ASGI background task that the grace period then cancels).
Otherwise it is the kind of disconnect, which the lifecycle kept as its
C{disconnectReason} (L{CLIENT_DISCONNECTED}; L{SHUTDOWN} when a graceful
stop cut it; L{REJECTED} when the server gave up on the request's body);
L{CANCELLED} if the grace period after a client's disconnect ran out (the
lifecycle's C{cancelled}); or L{ABORTED} if the application failed
mid-response.
L{Exchange.endTime} is when the response ended for the client (finished,
aborted, or the client left); the access log's duration runs from
L{Exchange.startTime} to it, so it does not count work the application
does after its response.
"""

from gracehttp._core.lifecycle import PENDING, Lifecycle
from gracehttp._core.responsehead import InvalidResponse, checkResponseHead, checkTrailers
from gracehttp._errors import ClientDisconnected

BODY_BUFFER_SIZE = 64 * 1024
"""
Bytes of request body an exchange buffers, unconsumed by its application,
before an HTTP/1.1 channel stops reading from the client.
"""

# How a request ended, for the access log (Exchange.outcome).
COMPLETED = "completed"
"""
The response was delivered in full (whatever the application did after).
"""
CLIENT_DISCONNECTED = "client-disconnected"
"""
The client left before the response was complete; the application ended
within the grace period, or was never started.
"""
CANCELLED = "cancelled"
"""
The client left before the response was complete and the grace period ran
out with the application still running: it was cancelled.
"""
SHUTDOWN = "shutdown"
"""
The server's graceful stop disconnected the request (its graceful timeout
ran out) before the response was complete; the application then had the
grace period, and was cancelled if it did not end.
"""
ABORTED = "aborted"
"""
The application failed after its response had started: the response was
cut short (the connection closed) with the client still there.
"""
REJECTED = "rejected"
"""
The server answered the request itself: before it reached the application
(a malformed, oversized or timed-out request head, the concurrency limit),
or while the application waited for a body that turned out malformed, too
large or stalled (the application was told the client disconnected).
"""

SERVER_ERROR_BODY = b"Internal Server Error\n"
SERVER_ERROR_HEADERS = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(SERVER_ERROR_BODY)),
)
"""
The body and headers of the 500 gracehttp sends in place of an
application's response (see L{Exchange.answerServerError}).
"""


class Exchange(Lifecycle):
    """
    One HTTP request and its response: a unit of work of
    L{gracehttp._core.lifecycle}.

    The request fields are set by the protocol before the exchange reaches
    an adapter and do not change afterwards.

    @ivar method: request method, e.g. C{"GET"} (RFC 9110 section 9).
    @type method: L{str}
    @ivar rawPath: the request target's path, still percent-encoded.
    @type rawPath: L{bytes}
    @ivar queryString: the part of the target after C{?}, without it.
    @type queryString: L{bytes}
    @ivar httpVersion: C{"1.0"}, C{"1.1"} or C{"2"}.
    @type httpVersion: L{str}
    @ivar headers: request header fields in order, names lowercased.
    @type headers: L{list} of (L{bytes}, L{bytes})
    @ivar client: the peer's (host, port), or L{None} (e.g. a UNIX socket).
    @ivar server: the local (host, port), C{(path, None)} for a UNIX
        socket, or L{None}.
    @ivar scheme: C{"http"} or C{"https"}.
    @ivar expectContinue: the client sent C{Expect: 100-continue} and no
        C{100 Continue} was sent yet.
    @ivar trailersOffered: the response may end with trailer fields (set
        by the protocol: an HTTP/2 request with C{TE: trailers}, RFC 9110
        section 10.1.4); L{finish} takes them.
    @ivar trailers: the checked trailer fields L{finish} was given, for
        the channel's C{finishResponse}; empty if none (or not offered).
    @type trailers: L{list} of (L{bytes}, L{bytes})
    @ivar reportConsumed: whether L{readBody} tells the channel how many
        bytes the application consumed (C{bodyConsumed}).  The channel
        sets it: it knows when it needs to hear (an HTTP/1.1 channel only
        while this exchange's unconsumed bytes stop it reading; an HTTP/2
        stream always, its window reopens by them).  True at first.
    @ivar keepAlive: the client allows the connection to carry another
        request after this one (RFC 9112 section 9.3).
    @ivar disconnected: the client is gone (L{Lifecycle.disconnected
        <gracehttp._core.lifecycle.Lifecycle.disconnected>}).
    @ivar bodyComplete: the whole request body has been received.
    @ivar writePaused: the transport is above its high-water mark.
    @ivar responseStarted: L{startResponse} was called.
    @ivar responseComplete: L{finish} or L{abort} was called.
    @ivar outcome: how the request ended: L{COMPLETED},
        L{CLIENT_DISCONNECTED}, L{CANCELLED}, L{SHUTDOWN}, L{ABORTED} or
        L{REJECTED}; L{None} until the application is done.
    @ivar status: the response status, once started.
    @ivar startTime: when the request head was parsed (the clock's
        seconds).
    @ivar endTime: when the response ended for the client: it was
        finished or aborted, or the client disconnected before that (the
        clock's seconds); L{None} before.  The application may run on
        after it (ASGI background tasks, a slow WSGI C{close()}).
    @ivar bytesSent: response body bytes the application wrote.
    @ivar mount: the prefix of the mounted application that answered it
        (L{gracehttp._apps.mounts}), C{"/"} for the root one; L{None} when
        the server serves one application.
    @ivar wake: the adapter's zero-argument callback for "something you may
        be waiting for changed"; L{None} until the adapter sets it.
    """

    __slots__ = (
        "_aborted",
        "_body",
        "_bodySize",
        "_channel",
        "bodyComplete",
        "bytesSent",
        "client",
        "endTime",
        "expectContinue",
        "headers",
        "httpVersion",
        "keepAlive",
        "method",
        "mount",
        "outcome",
        "queryString",
        "rawPath",
        "reportConsumed",
        "responseComplete",
        "responseStarted",
        "scheme",
        "server",
        "startTime",
        "status",
        "trailers",
        "trailersOffered",
        "wake",
        "writePaused",
    )

    def __init__(self, channel, clock, grace):
        """
        @param channel: the protocol that carries this exchange.
        @type channel: L{IExchangeChannel<gracehttp._core.interfaces.IExchangeChannel>}
        @param clock: schedules the grace period.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param grace: seconds between disconnect and cancel; C{0} cancels at
            once, negative never cancels.
        @type grace: L{float}
        """
        # Lifecycle.__init__, written out: one call less per request (the
        # lifecycle tests check that the two agree).
        self._clock = clock
        self._grace = grace
        self.lifecycleState = PENDING
        self.disconnected = False
        self.disconnectReason = None
        self.cancelled = False
        self._cancel = None
        self._graceCall = None
        self._channel = channel
        self.method = "GET"
        self.rawPath = b"/"
        self.queryString = b""
        self.httpVersion = "1.1"
        self.headers = []
        self.client = None
        self.server = None
        self.scheme = "http"
        self.expectContinue = False
        self.trailersOffered = False
        self.trailers = ()
        self.keepAlive = True
        self.bodyComplete = False
        self.writePaused = False
        self.responseStarted = False
        self.responseComplete = False
        self.outcome = None
        self.wake = None
        self.status = None
        self.startTime = clock.seconds()
        self.endTime = None
        self.bytesSent = 0
        self.mount = None
        self._body = []
        self._bodySize = 0
        self.reportConsumed = True
        self._aborted = False

    def _wake(self):
        """
        Call the adapter's C{wake}, if it set one.  Also the lifecycle's
        way to tell the application of the disconnect.
        """
        wake = self.wake
        if wake is not None:
            wake()

    # -- protocol side -----------------------------------------------------

    def receiveBody(self, data):
        """
        Buffer request body bytes from the client and wake the adapter.

        @type data: L{bytes}
        @return: the body bytes buffered and not yet consumed, once the
            adapter was woken (an adapter that reads at once leaves none):
            what the channel weighs to decide whether to read on.
        @rtype: L{int}
        """
        self._body.append(data)
        self._bodySize += len(data)
        self._wake()
        return self._bodySize

    def endBody(self):
        """
        The request body is complete (RFC 9112 section 6).
        """
        self.bodyComplete = True
        self._wake()

    def pauseWriting(self):
        """
        The transport is above its high-water mark: writers should wait.
        """
        self.writePaused = True

    def resumeWriting(self):
        """
        The transport drained: writers may go on.
        """
        self.writePaused = False
        self._wake()

    def disconnect(self, outcome=CLIENT_DISCONNECTED):
        """
        The client is gone.  Acts once (see L{gracehttp._core.lifecycle}):
        ends the response for the client (L{endTime}), wakes the adapter
        and, if the application is running, starts the grace period.

        @param outcome: who ended it, for the access log if the response is
            not complete: L{CLIENT_DISCONNECTED} (the client left; if the
            grace period runs out the outcome becomes L{CANCELLED}),
            L{SHUTDOWN} (a graceful stop cut the connection) or L{REJECTED}
            (the server gave up on a body that was malformed, too large or
            stalled, and answered it).
        @type outcome: L{str}
        """
        if self.endTime is None:
            self.endTime = self._clock.seconds()
        Lifecycle.disconnect(self, outcome)

    # -- adapter side ------------------------------------------------------

    @property
    def bufferedBody(self):
        """
        Bytes of request body received and not yet read.

        @rtype: L{int}
        """
        return self._bodySize

    def readBody(self):
        """
        Take every buffered request body byte.

        The first call tells the channel that the application wants the
        body (C{continueWanted}: HTTP/1.1 then sends C{100 Continue} if the
        client asked for it, RFC 9110 section 10.1.1); a call that takes
        bytes tells the channel how many were consumed (C{bodyConsumed},
        while L{reportConsumed}), which may let it read again.

        @return: the bytes buffered so far, possibly empty; check
            L{bodyComplete} and L{disconnected} to know whether more can
            come.
        @rtype: L{bytes}
        """
        if self.expectContinue:
            self.expectContinue = False
            self._channel.continueWanted(self)
        body = self._body
        if not body:
            return b""
        # One chunk is returned as it is (no copy).
        data = b"".join(body)
        body.clear()
        size = self._bodySize
        self._bodySize = 0
        if size and self.reportConsumed:
            self._channel.bodyConsumed(self, size)
        return data

    def startResponse(self, status, headers):
        """
        Begin the response.

        @param status: HTTP status code, 100-599 (RFC 9110 section 15).
        @type status: L{int}
        @param headers: response header fields in order; names are
            lowercased here, and hop-by-hop fields taken out
            (L{checkResponseHead<gracehttp._core.responsehead.checkResponseHead>}).
        @type headers: iterable of (L{bytes}, L{bytes})
        @raise InvalidResponse: the status is out of range, a header name is
            not a token, a value contains CR, LF or NUL, a Content-Length is
            not a decimal number, or the response already started.
            Nothing is sent in that case.
        @raise ClientDisconnected: the client is gone.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.responseStarted:
            raise InvalidResponse("response already started")
        checked, close = checkResponseHead(status, headers)
        if close:
            self.keepAlive = False
        self.responseStarted = True
        self.status = status
        self._channel.writeHead(self, status, checked)

    def write(self, data):
        """
        Send response body bytes.  Callers honour backpressure by waiting
        while L{writePaused} is true.

        @type data: L{bytes}
        @raise ClientDisconnected: the client is gone.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if data:
            self.bytesSent += len(data)
            self._channel.writeBody(self, data)

    def finish(self, trailers=None):
        """
        Complete the response.

        @param trailers: trailer fields to send after the body (RFC 9110
            section 6.5), checked and kept in L{trailers} if the protocol
            offered them (L{trailersOffered}), else dropped; names are
            lowercased and fields a trailer section must not carry dropped
            (L{checkTrailers<gracehttp._core.responsehead.checkTrailers>}).
        @type trailers: iterable of (L{bytes}, L{bytes}), or L{None}
        @raise ClientDisconnected: the client is gone.
        @raise InvalidResponse: L{startResponse} was not called, or a
            trailer field is invalid.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if not self.responseStarted:
            raise InvalidResponse("response finished before it started")
        if trailers is not None and self.trailersOffered:
            self.trailers = checkTrailers(trailers)
        self.responseComplete = True
        self.endTime = self._clock.seconds()
        self._channel.finishResponse(self)
        self._wake()

    def answerServerError(self):
        """
        Send a complete C{500 Internal Server Error} (RFC 9110 section
        15.6.1) in place of the application's response, which must not
        have started (or must have been taken back with
        L{retractResponse}).

        @raise ClientDisconnected: the client is gone.
        """
        self.startResponse(500, SERVER_ERROR_HEADERS)
        self.write(SERVER_ERROR_BODY)
        self.finish()

    def retractResponse(self):
        """
        Take back a started response of which nothing reached the client
        (see L{retractHead<gracehttp._core.interfaces.IExchangeChannel.retractHead>}),
        so that L{startResponse} may be called again.

        @return: whether it was taken back; C{False} if no response started,
            it is complete, the client is gone, or part of it may have been
            sent.
        @rtype: L{bool}
        """
        if not self.responseStarted or self.responseComplete or self.disconnected:
            return False
        if not self._channel.retractHead(self):
            return False
        self.responseStarted = False
        self.status = None
        self.bytesSent = 0
        return True

    def abort(self):
        """
        Give up on a response that started: the channel closes the
        connection.  Does nothing once the client is gone or the response
        is complete.
        """
        if self.disconnected or self.responseComplete:
            return
        self.responseComplete = True
        self._aborted = True
        self.endTime = self._clock.seconds()
        self._channel.abortResponse(self)

    def _finished(self):
        """
        The application is done (it returned, raised or was cancelled), or
        will never start (the client left first, or the server answered the
        request itself): the end of L{appFinished
        <gracehttp._core.lifecycle.Lifecycle.appFinished>}, which stopped
        the grace period.  Records L{outcome} and tells the channel.
        """
        # Drop the adapter's callback: it refers back to this exchange, and
        # breaking the cycle lets it be freed without the collector.  (The
        # lifecycle dropped the cancel callable.)
        self.wake = None
        if self.endTime is None:
            self.endTime = self._clock.seconds()
        if self.outcome is None:
            if self.responseComplete and not self._aborted:
                # Delivered in full, before any disconnect (finish() raises
                # after one, abort() does nothing).
                self.outcome = COMPLETED
            elif self.disconnected:
                outcome = self.disconnectReason
                if self.cancelled and outcome == CLIENT_DISCONNECTED:
                    outcome = CANCELLED
                self.outcome = outcome
            elif self._aborted:
                self.outcome = ABORTED
            else:
                self.outcome = COMPLETED
        self._channel.exchangeFinished(self)
