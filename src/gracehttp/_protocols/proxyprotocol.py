"""
The PROXY protocol (HAProxy's, versions 1 and 2): the client's and the
server's addresses as a load balancer saw them, sent ahead of the
connection's own bytes.

Theory of operation
===================

A load balancer that passes TCP through (HAProxy in C{mode tcp} with
C{send-proxy}, an AWS Network Load Balancer with proxy protocol v2)
opens its own connection to the server, so the server's peer is the
load balancer.  With the PROXY protocol it first sends one header that
says the connection's original source and destination, then the
client's bytes unchanged.

C{--listen haproxy:ENDPOINT} (e.g. C{haproxy:tcp:8000}) serves
L{ProxyProtocolEndpoint}: every connection on it must begin with a
header, in version 1 (a text line, C{PROXY TCP4 1.2.3.4 10.0.0.5 56324
443\\r\\n}) or version 2 (a binary block behind a 12-byte signature).
L{ProxyHeaderProtocol} reads it before anything else:

  - the HTTP protocol is built and connected only once the header is
    complete (L{ProxyHeaderFactory.buildProtocol} makes the header reader
    alone), so its C{connectionMade} reads the header's addresses from
    C{transport.getPeer()} and C{getHost()} like any connection's.  No
    protocol (HTTP/1.1, HTTP/2, a WebSocket session taken over from
    HTTP/1.1) has anything to learn, and a plain C{tcp:} connection pays
    nothing;
  - the header's source address is then the peer everywhere: ASGI
    C{scope["client"]}, WSGI C{REMOTE_ADDR} and C{REMOTE_PORT}, the
    access log's C{client}, the C{--forwarded-allow-ips} check; its
    destination is C{scope["server"]} (and WSGI's C{SERVER_NAME} and
    C{SERVER_PORT} when a request has no C{Host});
  - a header that says no address (version 1 C{UNKNOWN}; version 2
    C{LOCAL}, a health check of the balancer's own, or an address family
    other than TCP over IPv4 or IPv6) leaves the connection's own
    addresses, as the specification says;
  - anything else (a connection that does not begin with a header, a
    header that does not parse) is closed at once, logged at info level:
    no HTTP protocol was made, no application sees it, and it was never
    counted by the server state;
  - the header must be complete within the head timeout
    (C{timeoutHeader}); the HTTP/1.1 head timeout starts after it.  When
    the endpoint stops listening (a graceful stop), the connections still
    waiting for their header are closed, as new ones are refused.

Over TLS (C{haproxy:ssl:...}), the header comes before the TLS handshake,
as load balancers send it (the specification puts it first on the TCP
connection): L{ProxyProtocolEndpoint} listens on TCP with the header
reader outside and TLS inside.  (Twisted's own C{haproxy:} endpoint would
wrap it the other way round and expect the header inside TLS.)

The header reader is the HTTP protocol's transport; it forwards every
read and write, so a proxied connection forgoes the direct socket writes
of L{gracehttp._protocols.socketwriter}.

The format is the one in HAProxy's C{proxy-protocol.txt} (version 1,
section 2.1; version 2, section 2.2).
"""

import ipaddress

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import directlyProvides, implementer, providedBy

_log = Logger()

PREFIX = "haproxy:"
"""
The C{--listen} prefix of a PROXY protocol endpoint (the name Twisted's
endpoint has): C{haproxy:} followed by any endpoint description.
"""

V1_PREFIX = b"PROXY "
"""
How a version 1 header begins.
"""

V1_MAX_LENGTH = 107
"""
The longest version 1 header, in bytes, C{\\r\\n} included (section 2.1).
"""

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
"""
How a version 2 header begins (section 2.2).
"""

_V2_ADDRESSES = {
    # family and transport byte: (address type, address size in bytes)
    0x11: (IPv4Address, 4),  # TCP over IPv4
    0x21: (IPv6Address, 16),  # TCP over IPv6
}

_V2_FAMILIES = frozenset({0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32})
"""
The family and transport bytes version 2 defines: UNSPEC, then TCP and
UDP over IPv4, IPv6 and UNIX sockets.
"""


class InvalidProxyHeader(ValueError):
    """
    The connection does not begin with a valid PROXY protocol header.
    """


def parseHeader(data):
    """
    Parse the PROXY protocol header that C{data} begins with.

    @param data: the connection's first bytes, as received so far.
    @type data: L{bytes}
    @return: L{None} if more bytes are needed; else C{(source,
        destination, length)}: the addresses the header says
        (L{IPv4Address} or L{IPv6Address}, both L{None} when it says none)
        and the header's length in bytes.
    @rtype: L{tuple} or L{None}
    @raise InvalidProxyHeader: C{data} cannot begin a valid header.
    """
    if data.startswith(V2_SIGNATURE):
        return _parseV2(data)
    if data.startswith(V1_PREFIX):
        return _parseV1(data)
    if V2_SIGNATURE.startswith(data[: len(V2_SIGNATURE)]) or V1_PREFIX.startswith(data[:6]):
        return None
    raise InvalidProxyHeader("no PROXY protocol header")


def _parseV1(data):
    """
    Parse a version 1 header: C{PROXY TCP4|TCP6 SOURCE DESTINATION
    SOURCEPORT DESTINATIONPORT\\r\\n}, or C{PROXY UNKNOWN ...\\r\\n}.
    """
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise InvalidProxyHeader("PROXY v1 header too long")
        return None
    fields = data[len(V1_PREFIX) : end].split(b" ")
    if fields[0] == b"UNKNOWN":
        return None, None, end + 2
    if fields[0] not in (b"TCP4", b"TCP6") or len(fields) != 5:
        raise InvalidProxyHeader("PROXY v1 header malformed")
    version = 4 if fields[0] == b"TCP4" else 6
    source = _v1Address(version, fields[1], fields[3])
    destination = _v1Address(version, fields[2], fields[4])
    return source, destination, end + 2


def _v1Address(version, host, port):
    """
    @return: the address a version 1 header's host and port fields say.
    @rtype: L{IPv4Address} or L{IPv6Address}
    @raise InvalidProxyHeader: either is not valid for C{version}.
    """
    try:
        address = ipaddress.ip_address(host.decode("ascii"))
    except ValueError:
        raise InvalidProxyHeader("PROXY v1 header: bad address") from None
    if address.version != version:
        raise InvalidProxyHeader("PROXY v1 header: bad address")
    if not (port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        raise InvalidProxyHeader("PROXY v1 header: bad port")
    kind = IPv4Address if version == 4 else IPv6Address
    return kind("TCP", str(address), int(port))


def _parseV2(data):
    """
    Parse a version 2 header: the signature, the version and command, the
    address family and transport, the length of what follows, then the
    addresses (and type-length-value fields, which are skipped).
    """
    if len(data) < 16:
        return None
    versionCommand, family = data[12], data[13]
    if versionCommand >> 4 != 2 or versionCommand & 0x0F > 1 or family not in _V2_FAMILIES:
        raise InvalidProxyHeader("PROXY v2 header malformed")
    length = 16 + int.from_bytes(data[14:16], "big")
    if len(data) < length:
        return None
    if versionCommand & 0x0F == 0 or family not in _V2_ADDRESSES:
        # LOCAL, or addresses other than TCP over IP: the connection's own.
        return None, None, length
    kind, size = _V2_ADDRESSES[family]
    if length - 16 < 2 * size + 4:
        raise InvalidProxyHeader("PROXY v2 header: addresses truncated")
    hosts = data[16 : 16 + size], data[16 + size : 16 + 2 * size]
    ports = data[16 + 2 * size : 18 + 2 * size], data[18 + 2 * size : 20 + 2 * size]
    source, destination = (
        kind("TCP", str(ipaddress.ip_address(host)), int.from_bytes(port, "big"))
        for host, port in zip(hosts, ports, strict=True)
    )
    return source, destination, length


class ProxyHeaderProtocol(ProtocolWrapper):
    """
    Reads a connection's PROXY protocol header, then connects the HTTP
    protocol to the connection and forwards everything (see the module
    docstring).

    @ivar wrappedProtocol: the HTTP protocol, or L{None} until the header
        is complete.
    """

    def __init__(self, factory):
        ProtocolWrapper.__init__(self, factory, None)
        self._buffer = b""
        self._source = None
        self._destination = None
        self._timeout = None

    def logPrefix(self):
        return "PROXY"

    def makeConnection(self, transport):
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        factory = self.factory
        self._timeout = factory.reactor.callLater(factory.timeout, self._timedOut)

    def dataReceived(self, data):
        protocol = self.wrappedProtocol
        if protocol is not None:
            protocol.dataReceived(data)
        elif self._buffer is not None:
            self._readHeader(self._buffer + data)

    def _readHeader(self, data):
        """
        The header may be complete in C{data}: connect the HTTP protocol
        and give it what follows, or close if it is invalid.
        """
        try:
            parsed = parseHeader(data)
        except InvalidProxyHeader as e:
            _log.info(
                "Closing a connection from {peer}: {reason}",
                peer=_hostPort(self.transport.getPeer()),
                reason=str(e),
            )
            self._stop()
            return
        if parsed is None:
            self._buffer = data
            return
        self._source, self._destination, length = parsed
        self._buffer = None
        self._cancelTimeout()
        protocol = self.factory.wrappedFactory.buildProtocol(self.getPeer())
        if protocol is None:
            self.transport.loseConnection()
            return
        self.wrappedProtocol = protocol
        protocol.makeConnection(self)
        if len(data) > length:
            protocol.dataReceived(data[length:])

    def _stop(self):
        self._buffer = None
        self._cancelTimeout()
        self.transport.loseConnection()

    def _timedOut(self):
        self._timeout = None
        self._stop()

    def _cancelTimeout(self):
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None

    def connectionLost(self, reason):
        self._cancelTimeout()
        self._buffer = None
        self.factory.unregisterProtocol(self)
        protocol, self.wrappedProtocol = self.wrappedProtocol, None
        if protocol is not None:
            protocol.connectionLost(reason)

    def getPeer(self):
        """
        @return: the client's address as the header says it, else the
            connection's peer.
        """
        return self._source or self.transport.getPeer()

    def getHost(self):
        """
        @return: the server's address as the header says it, else the
            connection's own.
        """
        return self._destination or self.transport.getHost()


class ProxyHeaderFactory(WrappingFactory):
    """
    Makes a L{ProxyHeaderProtocol} per connection; the wrapped factory's
    protocol is built once the header is read, with the header's source
    address.

    @ivar reactor: times the header.
    @ivar timeout: seconds the header has to arrive.
    """

    protocol = ProxyHeaderProtocol
    noisy = False

    def __init__(self, wrappedFactory, reactor, timeout):
        WrappingFactory.__init__(self, wrappedFactory)
        self.reactor = reactor
        self.timeout = timeout

    def buildProtocol(self, addr):
        return self.protocol(self)

    def stopFactory(self):
        """
        The endpoint stopped listening (a stop began): close the
        connections whose header has not arrived, as new connections are
        now refused, so that none becomes an HTTP connection after the
        stop closed the idle ones.
        """
        for protocol in list(self.protocols):
            if protocol.wrappedProtocol is None:
                protocol._stop()
        WrappingFactory.stopFactory(self)


@implementer(IStreamServerEndpoint)
class ProxyProtocolEndpoint:
    """
    An endpoint whose connections begin with a PROXY protocol header:
    C{--listen haproxy:ENDPOINT}.

    @ivar wrapped: the endpoint it listens on.
    @ivar tls: C{wrapped} is a TLS endpoint (the header is read before the
        TLS handshake).
    """

    def __init__(self, reactor, wrapped, timeout):
        """
        @param reactor: times each header.
        @param wrapped: the endpoint to listen on.
        @type wrapped: L{IStreamServerEndpoint}
        @param timeout: seconds a connection's header has to arrive.
        @type timeout: L{float}
        """
        self._reactor = reactor
        self.wrapped = wrapped
        self.tls = isinstance(wrapped, SSL4ServerEndpoint)
        self._timeout = timeout

    def listen(self, protocolFactory):
        """
        Listen on the wrapped endpoint, each connection read by a
        L{ProxyHeaderProtocol} first; over TLS, the header first, then the
        TLS layer.

        @return: a Deferred firing with the listening port.
        """
        wrapped = self.wrapped
        if not self.tls:
            return wrapped.listen(ProxyHeaderFactory(protocolFactory, self._reactor, self._timeout))
        from twisted.protocols.tls import TLSMemoryBIOFactory

        # What reactor.listenSSL does, with the header reader outside TLS.
        tlsFactory = TLSMemoryBIOFactory(wrapped._sslContextFactory, False, protocolFactory)
        tcp = TCP4ServerEndpoint(
            wrapped._reactor, wrapped._port, wrapped._backlog, wrapped._interface
        )
        return tcp.listen(ProxyHeaderFactory(tlsFactory, self._reactor, self._timeout))


def _hostPort(address):
    """
    @return: C{"host:port"} of a TCP address, else the address's C{repr}.
    """
    host = getattr(address, "host", None)
    if host is None:
        return repr(address)
    return f"{host}:{address.port}"
