"""
The interfaces that meet at the per-request exchange and at the WebSocket
session.

A protocol (HTTP/1.1 today; HTTP/2 streams later) implements
L{IExchangeChannel}: it carries one exchange's request body from the wire
and its response to the wire.  An app
adapter (WSGI or ASGI) implements L{IAppAdapter}: it runs the application
for one exchange.  Neither side knows the other; both know only
L{gracehttp._core.exchange.Exchange}.

A WebSocket session is the same seam for a WebSocket: the protocol
implements L{ISessionChannel}, an adapter that runs WebSocket applications
(ASGI) L{ISessionAdapter}; both know only
L{gracehttp._core.session.Session}.
"""

from zope.interface import Attribute, Interface


class IAppAdapter(Interface):
    """
    Runs an application (WSGI or ASGI) for each request exchange.
    """

    inFlight = Attribute(
        "A list of Deferreds, read at shutdown: together they fire (never"
        " fail) once every application call the adapter started or queued is"
        " over."
    )

    def handle(exchange):
        """
        Start the application for one request.

        Called on the reactor thread as soon as the request head is parsed;
        the body may still be arriving.  The adapter must call
        C{exchange.appStarted(cancel)} when the application is started, and
        C{exchange.appFinished()} once, when it is done or in place of
        starting it (its client already left).  A call out of turn raises
        L{LifecycleError<gracehttp._core.lifecycle.LifecycleError>} (see
        L{gracehttp._core.lifecycle}).

        @param exchange: the request to answer.
        @type exchange: L{gracehttp._core.exchange.Exchange}
        @return: L{None}
        """

    def startup():
        """
        Prepare to serve: run ASGI lifespan startup, start the thread pool.

        @return: a L{twisted.internet.defer.Deferred} that fires when the
            application may receive requests, or fails with
            L{gracehttp.LifespanFailure}.
        """

    def shutdown():
        """
        Release what L{startup} acquired: ASGI lifespan shutdown, stop the
        thread pool.  Called after the last request finished.

        @return: a L{twisted.internet.defer.Deferred} that fires when done.
        """


class IExchangeChannel(Interface):
    """
    The protocol side of one exchange: what carries its response to the
    client and its request body from the client.

    Every method names the exchange: one connection may carry several
    (pipelined HTTP/1.1 requests; HTTP/2 streams, each with its own
    flow-control window).  The read side is per exchange: the exchange
    reports what its application consumed (L{bodyConsumed}) and when it
    wants the body (L{continueWanted}); the protocol decides when to read.

    All methods are called on the reactor thread.
    """

    def writeHead(exchange, status, headers):
        """
        Queue the response head.  The protocol may hold it until the first
        body bytes or the end of the response so that both leave in one
        write.

        @param status: the HTTP status code (RFC 9110 section 15).
        @type status: L{int}
        @param headers: the application's response headers, already
            validated, names lowercased.
        @type headers: L{list} of (L{bytes}, L{bytes}) tuples
        """

    def retractHead(exchange):
        """
        Take back the response head queued by L{writeHead} if none of it has
        been sent (the protocol still holds it), so that the exchange can
        start another response (a 500 for an application that failed
        before its first body byte).

        @return: whether the head was taken back; C{False} once any of it
            may have reached the client.
        @rtype: L{bool}
        """

    def writeBody(exchange, data):
        """
        Send response body bytes (framed as the protocol requires).

        @type data: L{bytes}
        """

    def finishResponse(exchange):
        """
        Complete the response (terminating chunk, keep-alive bookkeeping).
        """

    def abortResponse(exchange):
        """
        The response cannot be completed (the application failed after it
        started): close the connection so the client cannot mistake what it
        got for a whole response.
        """

    def exchangeFinished(exchange):
        """
        The application is done with C{exchange} and its outcome is known
        (C{exchange.outcome}): the hook for request accounting and the
        access log.
        """

    def bodyConsumed(exchange, size):
        """
        The application of C{exchange} consumed C{size} bytes of its
        buffered request body (L{Exchange.readBody
        <gracehttp._core.exchange.Exchange.readBody>}).  What that allows is
        the protocol's: HTTP/1.1 parses on if this exchange's unconsumed
        bytes had stopped it; an HTTP/2 stream reopens its flow-control
        window (RFC 9113 section 5.2) by C{size}.

        Called while C{exchange.reportConsumed} is set (the protocol sets
        it when it needs to hear), for a disconnected exchange too (the
        bytes were consumed all the same).

        @param size: bytes consumed, at least 1.
        @type size: L{int}
        """

    def continueWanted(exchange):
        """
        The application of C{exchange} started reading its request body,
        for the first time, and the client sent C{Expect: 100-continue}
        (RFC 9110 section 10.1.1).  The protocol sends C{100 Continue} if
        the client may still be waiting for it: the body is not complete,
        the exchange is not disconnected and its response has not started.
        """


class ISessionAdapter(Interface):
    """
    Runs an application for each WebSocket session (the ASGI C{websocket}
    scope).  WSGI has no WebSockets.
    """

    def handleSession(session):
        """
        Start the application for one WebSocket session, whose opening
        handshake it is to answer (L{Session.accept
        <gracehttp._core.session.Session.accept>} or L{Session.deny
        <gracehttp._core.session.Session.deny>}).

        Called on the reactor thread once the opening handshake is read.
        As for L{IAppAdapter.handle}, the adapter calls
        C{session.appStarted(cancel)} when the application starts and
        C{session.appFinished()} once when it is done (or in place of
        starting it).

        @type session: L{gracehttp._core.session.Session}
        @return: L{None}
        """


class ISessionChannel(Interface):
    """
    The protocol side of one WebSocket session: what carries its messages
    to and from the peer.  All methods are called on the reactor thread,
    by the session, after it checked the application's request.
    """

    def acceptSession(session, subprotocol, headers):
        """
        Answer the opening handshake with C{101 Switching Protocols} (RFC
        6455 section 4.2.2), and start exchanging messages.

        @param subprotocol: the C{Sec-WebSocket-Protocol} to answer, or
            L{None}.
        @type subprotocol: L{str} or L{None}
        @param headers: more fields, checked, names lowercased.
        @type headers: L{list} of (L{bytes}, L{bytes})
        """

    def denySession(session, status, headers, body):
        """
        Answer the opening handshake with a complete HTTP response instead,
        and close the connection.

        @param status: the HTTP status, 200-599.
        @type status: L{int}
        @param headers: the fields, checked, names lowercased, without
            C{content-length}.
        @type headers: L{list} of (L{bytes}, L{bytes})
        @type body: L{bytes}
        """

    def sendMessage(session, data):
        """
        Send one message (RFC 6455 section 6.1).

        @param data: L{str} for a text message, L{bytes} for a binary one.
        """

    def closeSession(session, code, reason):
        """
        Send a close frame (RFC 6455 section 5.5.1) and complete the
        closing handshake.

        @param code: the close code, checked.
        @type code: L{int}
        @type reason: L{str}
        """

    def messagesConsumed(session):
        """
        The session's queue of received messages, which was full, is below
        its bounds again: read on.
        """

    def sessionFinished(session):
        """
        The application is done with C{session} and its outcome is known
        (C{session.outcome}): the hook for accounting and the access log.
        """
