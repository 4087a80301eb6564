"""
The protocol side: Twisted protocols that speak HTTP on a connection and
turn each request into an L{Exchange<gracehttp._core.exchange.Exchange>}
for an application adapter.  They know HTTP; they know nothing of WSGI or
ASGI.

  - L{http11<gracehttp._protocols.http11>}: HTTP/1.1 (RFC 9112) on
    C{httptools}, and the factory every endpoint listens with: a package
    of the connection's parts (states, parsing, the head, the pipeline,
    framing, the read gate, the timers, the protocol switch hook);
  - L{syntax<gracehttp._protocols.syntax>}: the request syntax checks
    C{httptools} leaves to us (C{Host}, transfer codings, chunk lines,
    request lines);
  - L{socketwriter<gracehttp._protocols.socketwriter>}: writing to a TCP
    socket at once when nothing is buffered;
  - L{proxyprotocol<gracehttp._protocols.proxyprotocol>}: C{haproxy:}
    endpoints, whose connections begin with a PROXY protocol header, read
    before the HTTP protocol is made;
  - L{readiness<gracehttp._protocols.readiness>}: the readiness endpoint
    (C{--readiness-listen}) and its own tiny protocol.
"""
