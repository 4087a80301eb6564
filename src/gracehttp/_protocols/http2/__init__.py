"""
HTTP/2 (RFC 9113) as a Twisted protocol, on C{h2} (the C{gracehttp[http2]}
extra).

Theory of operation
===================

Every connection starts as an HTTP/1.1 channel; the protocol chooser
(L{gracehttp._protocols.chooser}) hands it to an L{HTTP2Connection} when
the client chose HTTP/2: by TLS ALPN (C{h2}), or, with C{--h2c}, by
sending the HTTP/2 connection preface on a cleartext connection.  The
connection reports to the same server state and adapter as HTTP/1.1,
and each stream is one L{Exchange<gracehttp._core.exchange.Exchange>}
with its own disconnect, grace period and cancel.  The parts, each with
its theory of operation:

  - L{connection<gracehttp._protocols.http2.connection>}: the protocol:
    the transport's callbacks, C{h2}'s events, the streams;
  - L{admission<gracehttp._protocols.http2.admission>}: each new stream
    refused, answered by the server or started; requests given up on;
  - L{stream<gracehttp._protocols.http2.stream>}: one stream as its
    exchange's channel: request body and flow control, response framing;
  - L{sending<gracehttp._protocols.http2.sending>}: streams taking turns
    within the flow-control windows, transport backpressure;
  - L{timer<gracehttp._protocols.http2.timer>}: idle connection, stalled
    header blocks, bodies and windows;
  - L{closing<gracehttp._protocols.http2.closing>}: graceful stop
    (C{GOAWAY}), connection errors, the bounded close;
  - L{guard<gracehttp._protocols.http2.guard>}: bounds on floods (rapid
    reset, control frames, CONTINUATION);
  - L{request<gracehttp._protocols.http2.request>}: the checks of RFC
    9113 section 8 and the request limits.

Importing this package imports C{h2}: the service does it only when
C{h2} is installed (L{gracehttp._service}).
"""

from gracehttp._protocols.http2.connection import HTTP2Connection
from gracehttp._protocols.http2.guard import FrameGuard
from gracehttp._protocols.http2.stream import CONNECTION_WINDOW, STREAM_WINDOW, H2Stream

__all__ = ["CONNECTION_WINDOW", "STREAM_WINDOW", "FrameGuard", "H2Stream", "HTTP2Connection"]
