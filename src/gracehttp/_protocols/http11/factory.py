"""
The factory every endpoint listens with: one L{HTTPChannel} per
connection, the connection limit, ALPN, and HTTP/2.

Theory of operation
===================

Connections: past C{limitConnections} open connections (the server
state's count) L{HTTPFactory.buildProtocol} returns a protocol that closes
the new connection at once (not L{None}, which Twisted's TLS wrapper cannot
wrap).

TLS: L{HTTPFactory} provides C{IProtocolNegotiationFactory}; Twisted's TLS
wrapper offers L{ALPN_PROTOCOLS} (C{h2} when the factory serves HTTP/2,
then C{http/1.1}) on every handshake.  Twisted 26 refuses the handshake
of a client that offers ALPN when the factory declares no protocol.

HTTP/2: the factory holds the HTTP/2 protocol's class (C{http2}), or
L{None} when C{h2} is not installed; each connection starts as an
L{HTTPChannel} and hands itself over to it when the client chooses
HTTP/2 (L{gracehttp._protocols.chooser}).

Protocol switches: the factory holds the L{IProtocolSwitch
<gracehttp._protocols.http11.upgrade.IProtocolSwitch>} its connections
offer their upgrade requests to, or L{None}
(L{gracehttp._protocols.http11.upgrade}).
"""

from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

from gracehttp._core.proxy import TrustedProxies
from gracehttp._core.serverstate import ServerState
from gracehttp._protocols.http11.channel import HTTPChannel
from gracehttp._settings import HTTPSettings

ALPN_PROTOCOLS = [b"h2", b"http/1.1"]
"""
The application protocols offered over TLS, most preferred first, as ALPN
protocol IDs (RFC 7301; IANA's registry names C{http/1.1} and C{h2}).
Twisted's TLS wrapper asks L{HTTPFactory.acceptableProtocols} for them on
every handshake and picks the first one the client also offers.  A client
that offers none of them is refused the handshake, as RFC 7301 section 3.2
says (Twisted sends an C{internal_error} alert rather than
C{no_application_protocol}); a client that offers no ALPN at all is served
HTTP/1.1.  A factory without HTTP/2 (C{h2} not installed) offers
C{http/1.1} alone.
"""


class _Refused(Protocol):
    """
    A connection over C{limitConnections}: closed as soon as it is made.
    (Returning L{None} from C{buildProtocol} would do for plain TCP, where
    the reactor closes the socket, but Twisted's TLS wrapper needs a
    protocol to wrap.)  Before a TLS handshake has completed, closing is an
    abort.
    """

    def connectionMade(self):
        self.transport.loseConnection()


@implementer(IProtocolNegotiationFactory)
class HTTPFactory(Factory):
    """
    Builds an L{HTTPChannel} per connection and hands each request to one
    application adapter.  Over TLS it offers L{ALPN_PROTOCOLS}.

    @ivar adapter: runs the application.
    @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
    @ivar reactor: the clock for timeouts and grace periods.
    @ivar settings: limits, timeouts and the grace period.
    @type settings: L{HTTPSettings}
    @ivar serverState: the counts, limits, draining and C{Date} header
        every connection reports to.
    @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
    @ivar trustedProxies: the peers whose proxy headers are applied, or
        L{None} when C{settings.proxyHeaders} is off.
    @type trustedProxies: L{TrustedProxies<gracehttp._core.proxy.TrustedProxies>}
    @ivar protocolSwitch: what takes a connection over after an upgrade
        request, or L{None}: such requests are answered as plain HTTP.
        Read by each connection when it is made.
    @type protocolSwitch: L{IProtocolSwitch
        <gracehttp._protocols.http11.upgrade.IProtocolSwitch>}
    @ivar http2: the HTTP/2 protocol's class (called with the factory to
        make one), or L{None}: HTTP/1.1 only.
    @type http2: L{type} of L{HTTP2Connection
        <gracehttp._protocols.http2.connection.HTTP2Connection>}
    """

    protocol = HTTPChannel
    noisy = False

    def __init__(
        self, adapter, reactor, settings=None, serverState=None, protocolSwitch=None, http2=None
    ):
        """
        @type adapter: L{IAppAdapter<gracehttp._core.interfaces.IAppAdapter>}
        @type reactor: L{twisted.internet.interfaces.IReactorTime}
        @param settings: L{None} for the defaults.
        @type settings: L{HTTPSettings}
        @param serverState: shared with the service; L{None} makes one from
            C{settings}' connection and concurrency limits.
        @type serverState: L{IServerState<gracehttp._core.serverstate.IServerState>}
        @param protocolSwitch: see L{protocolSwitch}.
        @type protocolSwitch: L{IProtocolSwitch
            <gracehttp._protocols.http11.upgrade.IProtocolSwitch>}
        @param http2: see L{http2}.
        @raise ValueError: an entry of C{settings.forwardedAllowIPs} is not
            an IP address, a network or C{"*"}.
        """
        self.adapter = adapter
        self.reactor = reactor
        if settings is None:
            settings = HTTPSettings()
        self.settings = settings
        if serverState is None:
            serverState = ServerState(reactor, settings.limitConnections, settings.limitConcurrency)
        self.serverState = serverState
        self.trustedProxies = (
            TrustedProxies(settings.forwardedAllowIPs) if settings.proxyHeaders else None
        )
        self.protocolSwitch = protocolSwitch
        self.http2 = http2

    def buildProtocol(self, addr):
        """
        A new channel, or, when the server state refuses it
        (C{limitConnections} connections are open), a protocol that closes
        the new connection at once (and is not counted).

        @rtype: L{HTTPChannel} or L{_Refused}
        """
        channel = Factory.buildProtocol(self, addr)
        if not self.serverState.connectionOpened(channel):
            return _Refused()
        return channel

    def acceptableProtocols(self):
        """
        The ALPN protocol IDs this factory speaks, most preferred first
        (L{IProtocolNegotiationFactory}); Twisted's TLS wrapper offers them
        on every handshake.  See L{ALPN_PROTOCOLS}.

        @rtype: L{list} of L{bytes}
        """
        if self.http2 is None:
            return ALPN_PROTOCOLS[1:]
        return list(ALPN_PROTOCOLS)
