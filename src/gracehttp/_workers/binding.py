"""
The parent binds every C{--listen} endpoint once; the workers adopt the
sockets.

Theory of operation
===================

The parent parses each endpoint description with Twisted
(L{gracehttp._service.parseEndpoint}), so every endpoint it accepts
(C{tcp:}, C{tcp6:}, C{unix:}, C{ssl:}, C{systemd:}, and each of them
behind C{haproxy:}) binds exactly as it
would in one process, and makes it listen with a factory that never
serves: the port stops reading in the same call, before the reactor could
accept anything, so the parent only holds the listening socket.  A
C{systemd:} endpoint adopts the descriptor systemd passed, which is then
held the same way.

Each worker is given the sockets as inherited descriptors (L{BoundSocket}
says which, with its address family and description) and makes an
L{AdoptedEndpoint} of each: C{listen()} is
L{IReactorSocket.adoptStreamPort<twisted.internet.interfaces.IReactorSocket.adoptStreamPort>},
wrapped in TLS (L{TLSMemoryBIOFactory}) for an C{ssl:} description with
the context factory Twisted made from that description, so ALPN, the
certificate and the key are the same as in one process; behind
C{haproxy:}, each connection's PROXY protocol header is read first.  Every worker
accepts from the one queue of each socket.  A worker that stops listening
closes only its own copy: the parent's copy keeps the socket, and its
queue, open for the other workers and the next one.  A worker accepts one
connection per wake-up (L{acceptOneAtATime}), so a burst of connections
is spread over the workers.
"""

import os
from dataclasses import dataclass

from twisted.internet.defer import DeferredList, fail, maybeDeferred, succeed
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.protocol import Factory, Protocol

from gracehttp._service import _listenReason, _url, parseEndpoint


class CannotBind(Exception):
    """
    An endpoint cannot listen.

    @ivar description: its C{--listen} value.
    @ivar reason: why, in a few words (the OS's reason).
    """

    def __init__(self, description, reason):
        super().__init__(f"cannot listen on {description!r}: {reason}")
        self.description = description
        self.reason = reason


@dataclass
class BoundSocket:
    """
    A listening socket the parent holds for its workers.

    @ivar description: the C{--listen} value it was bound from.
    @ivar port: the parent's listening port (not reading).
    @ivar family: its address family (C{socket.AF_INET}, C{AF_INET6},
        C{AF_UNIX}).
    @ivar url: how to reach it, for the log.
    """

    description: str
    port: object
    family: int
    url: str

    def fileno(self):
        """
        @return: the listening socket's descriptor in the parent.
        @rtype: L{int}
        """
        return self.port.fileno()


class _HeldForWorkers(Factory):
    """
    The factory the parent's ports are made with; they never read, so it
    never builds a protocol.
    """

    noisy = False
    protocol = Protocol


def bindAll(reactor, descriptions):
    """
    Bind every endpoint, or none.

    @param descriptions: the C{--listen} values.
    @type descriptions: L{list} of L{str}
    @return: fires with a L{BoundSocket} per description, in order; fails
        with L{CannotBind} for the first that cannot listen (those bound
        already are closed), or L{ValueError} if one cannot be parsed.
    @rtype: L{Deferred}
    """
    try:
        endpoints = [parseEndpoint(reactor, description) for description in descriptions]
    except ValueError as e:
        return fail(e)
    listening = [maybeDeferred(endpoint.listen, _HeldForWorkers()) for endpoint in endpoints]
    for d in listening:
        d.addCallback(_stopReading)

    def bound(results):
        ports = [port for ok, port in results if ok]
        for index, (ok, result) in enumerate(results):
            if not ok:
                closing = [maybeDeferred(port.stopListening) for port in ports]
                error = CannotBind(descriptions[index], _listenReason(result.value))
                return DeferredList(closing, consumeErrors=True).addCallback(_raise, error)
        return [
            BoundSocket(description, port, port.socket.family, _url(endpoint, port.getHost()))
            for description, endpoint, port in zip(descriptions, endpoints, ports, strict=True)
        ]

    return DeferredList(listening, consumeErrors=True).addCallback(bound)


def _stopReading(port):
    port.stopReading()
    return port


def _raise(ignored, error):
    raise error


def closeAll(sockets):
    """
    Close the parent's copies of the sockets.

    @type sockets: L{list} of L{BoundSocket}
    @rtype: L{Deferred}
    """
    closing = [maybeDeferred(bound.port.stopListening) for bound in sockets]
    return DeferredList(closing, consumeErrors=True)


class AdoptedEndpoint:
    """
    A worker's endpoint for a socket it inherited
    (L{IStreamServerEndpoint<twisted.internet.interfaces.IStreamServerEndpoint>}).

    @ivar tls: it serves TLS (the log says C{https}).
    """

    def __init__(self, reactor, fileno, family, description, timeoutHeader):
        """
        @param fileno: the inherited listening socket's descriptor; it is
            closed once adopted (the port holds a duplicate).
        @param family: its address family.
        @param description: the C{--listen} value it was bound from: an
            C{ssl:} one gives the TLS context, a C{haproxy:} one makes each
            connection read a PROXY protocol header first (before TLS).
        @param timeoutHeader: seconds a PROXY protocol header has to
            arrive.
        """
        from gracehttp._protocols.proxyprotocol import PREFIX

        self._reactor = reactor
        self._fileno = fileno
        self._family = family
        self._proxyHeader = description[: len(PREFIX)].lower() == PREFIX
        if self._proxyHeader:
            description = description[len(PREFIX) :]
        self._timeoutHeader = timeoutHeader
        self._tlsContext = tlsContextFor(reactor, description)
        self.tls = self._tlsContext is not None

    def listen(self, factory):
        """
        Adopt the socket: accept connections on it with C{factory}
        (wrapped in TLS for an C{ssl:} description, and in a PROXY
        protocol header reader for a C{haproxy:} one, as
        L{ProxyProtocolEndpoint
        <gracehttp._protocols.proxyprotocol.ProxyProtocolEndpoint>} does).

        @return: fires with the port.
        @rtype: L{Deferred}
        """
        if self._tlsContext is not None:
            from twisted.protocols.tls import TLSMemoryBIOFactory

            factory = TLSMemoryBIOFactory(self._tlsContext, False, factory)
        if self._proxyHeader:
            from gracehttp._protocols.proxyprotocol import ProxyHeaderFactory

            factory = ProxyHeaderFactory(factory, self._reactor, self._timeoutHeader)
        port = self._reactor.adoptStreamPort(self._fileno, self._family, factory)
        os.close(self._fileno)
        acceptOneAtATime(port)
        return succeed(port)


def acceptOneAtATime(port):
    """
    Make a port accept one connection each time its socket is readable.

    Twisted's port accepts up to C{numberAccepts} connections in a row
    (100 at first, 20 more each time it takes them all), which suits a
    process that has its socket to itself.  Workers share the socket:
    the first one woken would take a whole burst (a client that opens 64
    connections at once) before another runs, all the more on one CPU.
    Going back to the event loop after each one gives every woken worker
    its turn, so a burst is spread over the workers; the cost is one more
    pass through the event loop per connection, not per request.

    @param port: a TCP or UNIX listening port (its C{doRead} reads
        C{numberAccepts}).
    """
    doRead = port.doRead

    def acceptOne():
        port.numberAccepts = 1
        return doRead()

    port.doRead = acceptOne


def tlsContextFor(reactor, description):
    """
    @return: the TLS context factory of an C{ssl:} description (the one
        Twisted's endpoint would listen with), or L{None} for any other.
    """
    if not description.startswith("ssl:"):
        return None
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, SSL4ServerEndpoint)
    # The endpoint keeps the context factory it made from the description
    # and offers no public accessor for it.
    return endpoint._sslContextFactory
