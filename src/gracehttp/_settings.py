"""
The settings of the HTTP layer, in one immutable value shared by a
factory's connections.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class HTTPSettings:
    """
    How the HTTP layer treats clients.  Every size is in bytes, every time
    in seconds; L{None} means "no limit".

    @ivar disconnectGracePeriod: seconds between a client's disconnect and
        the cancellation of its request (see L{gracehttp._core.exchange}); C{0}
        cancels at once, negative never.
    @ivar limitRequestHeaderSize: bytes of request head accepted, counted
        as the request target plus each header field's name and value plus
        4; over it: 431 (RFC 6585 section 5) and close.
    @ivar limitRequestHeaders: header fields accepted (trailer fields
        count separately against the same limits); over it: 431 and close.
    @ivar limitRequestBody: request body bytes accepted; over it: 413
        (RFC 9110 section 15.5.14), at once for a Content-Length, as soon
        as a chunked body passes it otherwise; then close.
    @ivar timeoutHeader: seconds a client has to send a complete request
        head, from connection for the first request and from the first
        byte for a later one; then 408 (RFC 9110 section 15.5.9) and close.
        A connection that sends nothing in that time is closed silently.
        Also the longest a request body may stop arriving (not one byte)
        while the channel reads it: then the exchange is disconnected (the
        application is told), 408 is sent if its response had not started,
        and the connection closes.
    @ivar timeoutKeepAlive: seconds an idle keep-alive connection is kept
        between requests before it is closed.
    @ivar timeoutClose: seconds a connection the server closes may take to
        close, counted from when what is left to send fits in the
        transport's buffer (its high-water mark, 64 KiB for TCP): the
        client has to read the rest and close or, over TLS, answer
        C{close_notify} (RFC 8446 section 6.1).  Then the connection is
        aborted.  15 s, as twisted.web allows after its timeouts: a client
        reading at 5 KiB/s gets the last 64 KiB (over TLS, what the
        kernel's socket buffer still holds also has to be read first), and
        it is half the default graceful timeout, so TLS clients that never
        answer do not hold a graceful stop to its limit.
    @ivar limitConcurrency: requests in flight across the factory's
        connections; past it new requests get 503 with C{Retry-After: 1}
        (RFC 9110 section 15.6.4) and the connection closes.
    @ivar limitConnections: open connections; past it new ones are closed
        at once.
    @ivar proxyHeaders: trust C{X-Forwarded-For}, C{X-Forwarded-Proto} and
        C{Forwarded} (RFC 7239) from L{forwardedAllowIPs}.
    @ivar forwardedAllowIPs: peer addresses or CIDR networks whose proxy
        headers are trusted, as strings; C{"*"} trusts every peer.
    """

    disconnectGracePeriod: float = 3.0
    limitRequestHeaderSize: int = 64 * 1024
    limitRequestHeaders: int = 100
    limitRequestBody: int | None = None
    timeoutHeader: float = 10.0
    timeoutKeepAlive: float = 5.0
    timeoutClose: float = 15.0
    limitConcurrency: int | None = None
    limitConnections: int | None = None
    proxyHeaders: bool = False
    forwardedAllowIPs: tuple = ("127.0.0.1",)
