"""
Protocol switches: another protocol (a WebSocket session) taking an
HTTP/1.1 connection over after an C{Upgrade} request (RFC 9110 section
7.8), through an L{IProtocolSwitch} the factory holds.

Theory of operation
===================

llhttp stops parsing after the head of a request that asks to leave
HTTP/1.1 (C{Connection: upgrade} with C{Upgrade}, or C{CONNECT}): what
follows it is not HTTP/1.1, and is never parsed as such.

Without a protocol switch (the factory's C{protocolSwitch} is L{None}),
such a request is answered as plain HTTP by the application, after the
requests queued before it, and the connection then closes; what the
client sent after its head is read and discarded (state C{FINISHING}).

With one, an upgrade request without a body (a WebSocket opening
handshake has none; an C{Upgrade} request with a body is answered as plain
HTTP as above, since llhttp does not read that body) is not handed to the
application when it is parsed.  The connection parses nothing more and
holds what arrives (state C{SWITCHING}), bounded as any held bytes are
(past L{HOLD_SIZE<gracehttp._protocols.http11.readgate.HOLD_SIZE>} the
transport is paused).  When the request is the active one (the requests
pipelined before it are answered first; a request over C{limitConcurrency}
is answered 503 first, and never offered), the switch is asked
(L{IProtocolSwitch.takeOver}).  If it declines, fails, or the server is
stopping (keep-alive ended), the request goes to the application as
without a switch.  If it returns a protocol, the connection is that
protocol's (state C{SWITCHED}):

  - the transport's protocol is not replaced: Twisted has no public way to
    give a connected transport another protocol, and over TLS the
    transport's protocol is the TLS layer, which wraps the channel.  The
    channel stays the transport's protocol and becomes a pipe: every read
    goes to the new protocol's C{dataReceived}, and the connection's loss
    to its C{connectionLost}.  The new protocol is connected to the
    transport itself (C{makeConnection}), so it writes, registers its own
    producer and closes the connection directly; its first
    C{dataReceived} carries the bytes read after the request's head (the
    rest of that read, and what was held since);
  - the channel stops being the transport's producer (the new protocol may
    register its own), cancels its timers (head, keep-alive) and resumes
    a transport it had paused; from then on only the new protocol times
    the connection;
  - the server state: the upgrade request becomes the new protocol's
    unit of work.  It stays counted in flight, and is not logged at the
    switch: the new protocol ends it once, when its work is done, either
    as the request itself (its C{status} and C{outcome} set, then
    C{appFinished()}, which logs it) or with a record of its own
    (L{IServerState.requestFinished
    <gracehttp._core.serverstate.IServerState.requestFinished>}; a
    WebSocket session is logged with its messages and close code).  So
    C{limitConcurrency} counts a session, and a graceful stop waits for
    it.  The connection stays counted until it is lost
    (C{limitConnections} counts it, and a graceful stop waits for it
    too).  A graceful stop reaches the new protocol if it provides
    L{IConnection<gracehttp._core.serverstate.IConnection>}
    (C{stopKeepAlive}, C{abortForShutdown}); if it does not, the stop's
    last step aborts the transport;
  - pipelined requests: none can follow an upgrade request (what follows
    it is the new protocol's), and those before it were answered before
    it was offered.
"""

from twisted.logger import Logger
from zope.interface import Interface

from gracehttp._protocols.http11.states import FINISHING, SWITCHED, SWITCHING

_log = Logger()


class IProtocolSwitch(Interface):
    """
    Takes an HTTP/1.1 connection over when a request asks to switch
    protocols (RFC 9110 section 7.8, C{Upgrade}; or C{CONNECT}, RFC 9110
    section 9.3.6).  See L{gracehttp._protocols.http11.upgrade}.
    """

    def takeOver(request):
        """
        Take the connection of C{request} over, or decline.

        Called on the reactor thread once the head of a request that asks
        to leave HTTP/1.1 is parsed and it is the connection's active
        request (every request before it answered), before any
        application sees it.  Only requests without a body are offered.

        @param request: the request: its fields (method, target, version,
            headers, addresses, scheme, start time) are filled in and its
            body is empty and complete.  It must not be answered through
            its methods (C{startResponse}...): the protocol returned writes
            the response (C{101 Switching Protocols}, RFC 9110 section
            15.2.2, or a refusal) on the transport.  It stays counted in
            flight until the protocol returned ends it, once: with
            C{request.appFinished()} (after setting its C{status} and
            C{outcome}), or by reporting a record of its own to the server
            state (C{requestFinished}).
        @type request: L{Exchange<gracehttp._core.exchange.Exchange>}
        @return: L{None} to decline: the application answers the request
            as plain HTTP, and the connection closes after it.  Or the
            protocol that takes the connection over: it is connected to
            the transport (C{makeConnection}), then given the bytes read
            after the request's head (C{dataReceived}, if there are any),
            everything the connection reads from then on, and its loss.
            It may provide L{IConnection
            <gracehttp._core.serverstate.IConnection>} to hear of a
            graceful stop.
        @rtype: L{IProtocol<twisted.internet.interfaces.IProtocol>} or
            L{None}
        """


class ProtocolSwitching:
    """
    Offering an upgrade request to the protocol switch, and handing the
    connection over: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it calls the channel's C{_enter}, read gate, timer and
    pipeline).

    @ivar _switch: the factory's protocol switch, or L{None}.
    @type _switch: L{IProtocolSwitch}
    @ivar _upgrade: the upgrade request to offer to the switch, from its
        head until it is offered, or L{None}.
    @type _upgrade: L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar _switched: the protocol that took the connection over, or
        L{None}.
    @type _switched: L{IProtocol<twisted.internet.interfaces.IProtocol>}
    """

    def _initSwitching(self):
        self._upgrade = None
        self._switched = None

    def _upgradeRequested(self, data, offset):
        """
        llhttp stopped at an upgrade request whose head ends at
        C{data[offset]}: parse nothing more.  Hold what follows for the
        switch, and offer the request if it is the active one; or, if it
        is not to be offered, answer the queue and close.

        @type data: L{bytes}
        @type offset: L{int}
        """
        exchange = self._upgrade
        if exchange is None:
            self._enter(FINISHING)
            self._readOn()
            if not self._queue:
                self._close()
            return
        self._enter(SWITCHING)
        rest = data[offset:]
        if rest:
            # Before anything held after this read.
            self._held.appendleft(rest)
            self._heldSize += len(rest)
        if self._queue[0] is exchange:
            self._start(exchange)

    def _offerUpgrade(self, exchange):
        """
        Ask the switch to take the connection of the active request
        C{exchange} over; hand it over, or give the request to the
        application.
        """
        self._upgrade = None
        protocol = None
        if not self._noKeepAlive:
            try:
                protocol = self._switch.takeOver(exchange)
            except Exception:
                _log.failure("Protocol switch failed for {client}", client=self._client)
        if protocol is None:
            self._enter(FINISHING)
            self._takeHeld()
            self._readOn()
            self._adapter.handle(exchange)
            return
        self._switchTo(protocol)

    def _switchTo(self, protocol):
        """
        Hand the connection over to C{protocol}: stop producing and timing,
        connect C{protocol} to the transport and give it what was read
        after the request's head.  The upgrade request is the protocol's
        to end.
        """
        self._enter(SWITCHED)
        self._switched = protocol
        self._queue.clear()
        self._active = None
        self._disarm()
        data = self._takeHeld()
        transport = self.transport
        if self._producing:
            self._producing = False
            transport.unregisterProducer()
        protocol.makeConnection(transport)
        if data:
            protocol.dataReceived(data)
        self._readOn()
