"""
An HTTP/1.1 server connection: the transport's protocol, its named states,
rejection and closing.

Theory of operation
===================

One L{HTTPChannel} per connection.  It is made of parts, each in its own
module, sharing the connection's attributes: parsing the reads
(L{parsing<gracehttp._protocols.http11.parsing>}), building each exchange
from its head (L{head<gracehttp._protocols.http11.head>}), the queue of
requests (L{pipeline<gracehttp._protocols.http11.pipeline>}), response
framing (L{framing<gracehttp._protocols.http11.framing>}), the read gate
(L{readgate<gracehttp._protocols.http11.readgate>}), the timers
(L{timer<gracehttp._protocols.http11.timer>}), protocol switches
(L{upgrade<gracehttp._protocols.http11.upgrade>}) and the choice of
HTTP/2 before the first request (L{chooser<gracehttp._protocols.chooser>}).  This module holds what
ties them: the connection's state (L{states
<gracehttp._protocols.http11.states>}, moved only through
L{HTTPChannel._enter}), the transport's callbacks, rejection and closing.

A rejected request is answered with an error status and the connection
closes; bytes after it never reach an application.  It is logged all the
same (the server state's C{requestRejected}), with what was parsed of it,
its status and the C{rejected} outcome.  A rejection that comes while
responses are queued is answered after them (state C{REJECTING}).

The channel is its transport's streaming producer: when the transport's
write buffer passes its high-water mark it calls
L{HTTPChannel.pauseProducing} and the active exchange's writers wait until
L{HTTPChannel.resumeProducing}.

C{connectionLost} disconnects every queued exchange, once (with the
C{shutdown} outcome when a graceful stop cut the connection).

Closing: once a request is rejected, an upgrade is refused or the server
closes (L{HTTPChannel._close}), nothing more is parsed, but the transport
keeps reading (and what it reads is discarded): if the read gate had
paused it, it is resumed.  That is how the close completes: a TLS
transport's C{loseConnection} sends C{close_notify} and closes the socket
only when the client's C{close_notify} or FIN is read (RFC 8446 section
6.1), so a paused TLS transport would stay open, in CLOSE_WAIT, for good;
reading on also notices a client that leaves while queued responses are
still being answered.  The close is bounded by C{timeoutClose} (L{timer
<gracehttp._protocols.http11.timer>}).

Connection accounting (for graceful shutdown): the channel reports itself
to the server state when it is made and lost, and provides
L{IConnection<gracehttp._core.serverstate.IConnection>}:
L{HTTPChannel.stopKeepAlive} closes an idle connection now and a busy one
after its current response (one that has not sent its first request yet
is served that request); L{HTTPChannel.abortForShutdown} aborts it, so
its requests go through disconnect, grace and cancel.
"""

import sys

import httptools
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHandshakeListener, IPushProducer, ISSLTransport
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from gracehttp._core.exchange import CLIENT_DISCONNECTED, REJECTED, SHUTDOWN
from gracehttp._core.interfaces import IExchangeChannel
from gracehttp._core.serverstate import IConnection
from gracehttp._protocols.addresses import serverAddress
from gracehttp._protocols.chooser import ProtocolChoosing
from gracehttp._protocols.http11.framing import ResponseFraming
from gracehttp._protocols.http11.head import ExchangeBuilder
from gracehttp._protocols.http11.parsing import RequestParsing
from gracehttp._protocols.http11.pipeline import Pipeline
from gracehttp._protocols.http11.readgate import ReadGate
from gracehttp._protocols.http11.states import (
    CLOSED,
    CLOSING,
    OPEN,
    REJECTING,
    SWITCHED,
    SWITCHING,
    checkMove,
)
from gracehttp._protocols.http11.timer import ConnectionTimer
from gracehttp._protocols.http11.upgrade import ProtocolSwitching
from gracehttp._protocols.socketwriter import writerFor


def _address(address):
    """
    @return: C{(host, port)} for a TCP address, L{None} for anything else
        (a UNIX socket).
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    return None


@implementer(IExchangeChannel, IPushProducer, IConnection, IHandshakeListener)
class HTTPChannel(
    RequestParsing,
    ExchangeBuilder,
    Pipeline,
    ResponseFraming,
    ReadGate,
    ConnectionTimer,
    ProtocolSwitching,
    ProtocolChoosing,
    Protocol,
):
    """
    An HTTP/1.1 server connection.  See the module docstring, and each
    part's for the attributes it keeps.

    @ivar _state: what the connection does with what it reads.
    @type _state: L{ConnectionState
        <gracehttp._protocols.http11.states.ConnectionState>}
    @ivar _errorPending: the status of the rejection to answer once the
        queue is answered (state C{REJECTING}), or L{None}.
    @ivar _noKeepAlive: the server is stopping: no request after the
        current one.
    @ivar _shutdown: a graceful stop cut the connection: its exchanges are
        disconnected with the C{shutdown} outcome.
    @ivar _producing: the channel is registered as the transport's
        producer.
    @ivar _writePaused: the transport asked its producer to pause.
    @ivar _serverState: what the connection reports to.
    @type _serverState: L{IServerState
        <gracehttp._core.serverstate.IServerState>}
    @ivar _client: the peer's C{(host, port)}, or L{None}.
    @ivar _server: the local C{(host, port)}, or L{None}.
    @ivar _scheme: C{"http"} or C{"https"}.
    @ivar _trusted: the factory's trusted proxies if the peer is one, else
        L{None}.
    @ivar _defaultReadSize: the transport's own C{bufferSize}, or L{None}
        for a transport without one.
    @ivar _grace: the settings' C{disconnectGracePeriod}, in seconds.
    @ivar _reactor: the factory's reactor: the clock of the timers and
        grace periods.
    @ivar _limitHeadSize: the settings' C{limitRequestHeaderSize}, in
        bytes; C{_limitHeaders}, C{_limitBody}, C{_timeoutHeader},
        C{_timeoutKeepAlive} and C{_timeoutClose} likewise (no body limit
        is L{sys.maxsize}).
    """

    def __init__(self):
        self._state = OPEN
        self._errorPending = None
        self._noKeepAlive = False
        self._shutdown = False
        self._producing = False
        self._writePaused = False
        self._initParsing()
        self._initBuilder()
        self._initPipeline()
        self._initFraming()
        self._initReadGate()
        self._initTimer()
        self._initSwitching()

    @property
    def state(self):
        """
        What the connection does with what it reads (read-only: it moves
        only by the rules of L{states<gracehttp._protocols.http11.states>}).

        @rtype: L{ConnectionState
            <gracehttp._protocols.http11.states.ConnectionState>}
        """
        return self._state

    def _enter(self, state):
        """
        Move the connection to C{state}.

        @type state: L{ConnectionState
            <gracehttp._protocols.http11.states.ConnectionState>}
        @raise IllegalMove: no rule moves there from the current state.
        """
        self._state = checkMove(self._state, state)

    # -- the transport's callbacks --------------------------------------------------

    def connectionMade(self):
        factory = self.factory
        settings = factory.settings
        self._parser = httptools.HttpRequestParser(self)
        transport = self.transport
        self._writer = writerFor(transport)
        # A file descriptor transport reads (and buffers writes) by this
        # many bytes; others have no such setting.
        self._defaultReadSize = getattr(transport, "bufferSize", None)
        self._client = _address(transport.getPeer())
        self._server = serverAddress(transport.getHost())
        tls = ISSLTransport.providedBy(transport)
        self._scheme = "https" if tls else "http"
        trusted = factory.trustedProxies
        if trusted is not None and (self._client[0] if self._client else None) in trusted:
            self._trusted = trusted
        else:
            self._trusted = None
        self._limitHeadSize = settings.limitRequestHeaderSize
        self._limitHeaders = settings.limitRequestHeaders
        self._timeoutHeader = settings.timeoutHeader
        self._timeoutKeepAlive = settings.timeoutKeepAlive
        self._timeoutClose = settings.timeoutClose
        limitBody = settings.limitRequestBody
        self._limitBody = sys.maxsize if limitBody is None else limitBody
        self._grace = settings.disconnectGracePeriod
        self._reactor = factory.reactor
        self._serverState = factory.serverState
        self._adapter = factory.adapter
        self._switch = factory.protocolSwitch
        transport.registerProducer(self, True)
        self._producing = True
        self._arm(settings.timeoutHeader)
        self._initChoosing(factory, tls)

    def dataReceived(self, data):
        if self._state is not OPEN:
            self._readStopped(data)
            return
        if self._readPauses or self._held:
            self._hold(data)
            return
        # What _feed does, without its call (one per read).
        self._parse(data)
        if self._parsing is not None and not self._inHead and self._state is OPEN:
            self._bodyContinues()

    def _readStopped(self, data):
        """
        C{data} arrived when nothing is parsed any more: give it to the
        protocol that took the connection over, hold it for the one that
        may, or discard it.
        """
        state = self._state
        if state is SWITCHED:
            self._switched.dataReceived(data)
        elif state is SWITCHING:
            self._hold(data)

    def connectionLost(self, reason):
        self._serverState.connectionClosed(self)
        switched = self._state is SWITCHED
        self._enter(CLOSED)
        self._disarm()
        self._takeHeld()
        self._parsing = None
        if switched:
            self._switched.connectionLost(reason)
        else:
            self._disconnectAll(SHUTDOWN if self._shutdown else CLIENT_DISCONNECTED)

    # -- IPushProducer (towards our transport) --------------------------------

    def pauseProducing(self):
        self._writePaused = True
        if self._queue:
            self._queue[0].pauseWriting()

    def resumeProducing(self):
        self._writePaused = False
        state = self._state
        if state is CLOSING or state is CLOSED:
            # What was left to send when we closed has drained.
            self._closeDrained()
        elif self._queue:
            self._queue[0].resumeWriting()

    def stopProducing(self):
        pass

    # -- IConnection ---------------------------------------------------------

    def abortForShutdown(self):
        """
        Cut the connection at the end of a graceful stop (its graceful
        timeout ran out): its requests are disconnected with the
        C{shutdown} outcome, then go through grace and cancel.  A protocol
        that took the connection over is told instead, if it provides
        L{IConnection}.
        """
        if self._state is SWITCHED and IConnection.providedBy(self._switched):
            self._switched.abortForShutdown()
            return
        self._shutdown = True
        self.transport.abortConnection()

    def stopKeepAlive(self):
        """
        Serve no request after the current one: close now if idle (nothing
        queued, no request head arriving), else after the current response.
        A connection that has not sent its first request yet is not idle:
        it was accepted to be served, so its first request is (with
        C{Connection: close}), bounded by the head timeout that runs from
        the connection; one that sends nothing is closed by that timeout.
        A protocol that took the connection over is told instead, if it
        provides L{IConnection}.
        """
        if self._state is SWITCHED:
            if IConnection.providedBy(self._switched):
                self._switched.stopKeepAlive()
            return
        self._noKeepAlive = True
        if self._response is not None:
            self._response.keepAlive = False
        if self._state is OPEN and not self._queue and not self._inHead and not self._fresh:
            self._close()

    # -- rejecting and closing -------------------------------------------------

    def _reject(self, status):
        """
        Answer C{status} and close (RFC 9112 section 2.2 for 400).  Requests
        queued before the rejected one are answered first.  A request whose
        body the rejection cut short is disconnected (its application is
        told, as for a client that left); it gets the error response if its
        own response had not started.  Nothing is rejected once the
        connection parses no more.

        @param status: 400, 408, 413, 431, 501 or 505.
        @type status: L{int}
        """
        if self._state is not OPEN:
            return
        self._enter(REJECTING)
        self._errorPending = status
        inHead = self._inHead
        self._inHead = False
        self._takeHeld()
        self._readOn()
        queue = self._queue
        parsing = self._parsing
        self._parsing = None
        self._bodyTime = None
        if parsing is not None and parsing in queue:
            if parsing is queue[0]:
                self._rejectActive(parsing, status)
                return
            # Queued behind the active request and never started.
            queue.remove(parsing)
            parsing.status = status
            parsing.outcome = REJECTED
            parsing.appFinished()
        elif inHead or parsing is None:
            # The request never became an exchange: log it all the same.
            self._serverState.requestRejected(self._rejectedRecord(status, inHead))
        if not queue:
            self._writeError(status)
            self._close()

    def _rejectActive(self, exchange, status):
        """
        The active request's body was rejected: disconnect it, answer
        C{status} if its response had not started, and close.
        """
        self._queue.clear()
        exchange.disconnect(REJECTED)
        if not exchange.responseStarted:
            exchange.status = status
            self._writeError(status)
        self._close()

    def _close(self):
        """
        Close the connection, once: parse nothing more but keep reading
        (L{_readOn<gracehttp._protocols.http11.readgate.ReadGate._readOn>}),
        and let the transport send what it holds and close.  If more than
        the transport's high-water mark is still to be sent (it paused us),
        we stay its producer until it drained, so that a slow client still
        receives all of a large last response; from then on the close is
        bounded by C{_closeDrained}.
        """
        state = self._state
        if state is CLOSING or state is CLOSED:
            return
        self._enter(CLOSING)
        self._disarm()
        self._takeHeld()
        self._readOn()
        self.transport.loseConnection()
        if not self._writePaused:
            self._closeDrained()
