"""
Choosing the protocol of a connection: HTTP/1.1 or HTTP/2, on the same
endpoint.

Theory of operation
===================

Every connection starts as an HTTP/1.1 channel
(L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>}): it
times the connection from the start (a TLS handshake, or a client that
sends nothing, is bounded by its head timeout).  When the factory serves
HTTP/2 (its C{http2} is the HTTP/2 protocol's class, when C{h2} is
installed), the channel hands the connection over to HTTP/2 before any
request if the client chose it:

  - over TLS, by ALPN (RFC 7301; RFC 9113 section 3.2): the factory
    offers C{h2} then C{http/1.1}.  The TLS layer tells the channel when
    its handshake completed (C{IHandshakeListener.handshakeCompleted}),
    before any application byte; if C{h2} was negotiated the connection
    is handed over then.  A client that negotiated C{http/1.1}, or no
    protocol, is served HTTP/1.1;
  - on a cleartext connection, with C{--h2c} (C{settings.h2c}), by prior
    knowledge (RFC 9113 section 3.3): the channel's first reads are
    looked at (L{ProtocolChoosing._firstRead}, installed as the channel's
    C{dataReceived} for those reads only, so that HTTP/1.1 pays nothing
    once chosen); bytes that begin the connection preface
    (C{PRI * HTTP/2.0...}) are held until it is complete (24 bytes), then
    the connection is HTTP/2's; anything else is HTTP/1.1's, parsed from
    its first byte.  C{Upgrade: h2c} (RFC 7540 section 3.2, removed by
    RFC 9113) is not supported: such a request is plain HTTP/1.1.

The handover is a protocol switch without a request (the channel's state
moves from C{OPEN} to C{SWITCHED}; see L{gracehttp._protocols.http11.upgrade}):
the channel stops being the transport's producer and cancels its timers,
connects the HTTP/2 protocol to the transport (C{makeConnection}) and
gives it the bytes read so far; from then on every read goes straight to
the HTTP/2 protocol (the channel's C{dataReceived} is replaced by the
protocol's, for the connection's life), and the connection's loss and a
graceful stop reach it through the channel, which stays counted by the
server state as the connection.
"""

from gracehttp._protocols.http11.states import OPEN, SWITCHED

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""
The HTTP/2 client connection preface (RFC 9113 section 3.4).
"""


class ProtocolChoosing:
    """
    Choosing HTTP/2: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it calls the channel's C{_enter}, timer, read gate and
    C{_parse}).

    @ivar _http2: the HTTP/2 protocol's class the factory serves, or
        L{None}.
    @ivar _prefix: the bytes of a possible h2c preface read so far.
    """

    def _initChoosing(self, factory, tls):
        """
        Get ready to choose: on a cleartext connection with h2c, look at
        the first reads.

        @param factory: the channel's factory.
        @param tls: the connection is over TLS.
        """
        self._http2 = factory.http2
        self._prefix = b""
        if self._http2 is not None and not tls and factory.settings.h2c:
            self.dataReceived = self._firstRead

    def handshakeCompleted(self):
        """
        The TLS handshake completed (C{IHandshakeListener}): hand the
        connection over to HTTP/2 if ALPN chose C{h2}.
        """
        if (
            self._http2 is not None
            and self._state is OPEN
            and getattr(self.transport, "negotiatedProtocol", None) == b"h2"
        ):
            self._handOver(b"")

    def _firstRead(self, data):
        """
        The channel's C{dataReceived} until the protocol is chosen: hold
        what may be the h2c preface, hand the connection over once it is
        complete, or give everything to HTTP/1.1 at the first byte that
        is not the preface's.
        """
        prefix = self._prefix + data
        size = min(len(prefix), len(PREFACE))
        if prefix[:size] != PREFACE[:size]:
            del self.dataReceived
            self._prefix = b""
            self.dataReceived(prefix)
        elif size == len(PREFACE):
            del self.dataReceived
            self._prefix = b""
            self._handOver(prefix)
        else:
            self._prefix = prefix

    def _handOver(self, data):
        """
        Hand the connection over to a new HTTP/2 protocol, with C{data},
        the bytes read so far (see the module docstring).
        """
        protocol = self._http2(self.factory)
        self._enter(SWITCHED)
        self._switched = protocol
        self._disarm()
        self._takeHeld()
        transport = self.transport
        if self._producing:
            self._producing = False
            transport.unregisterProducer()
        protocol.makeConnection(transport)
        # Every read goes to the protocol itself from now on.
        self.dataReceived = protocol.dataReceived
        if data:
            protocol.dataReceived(data)
        self._readOn()
