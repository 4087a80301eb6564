"""
HTTP/1.1 (RFC 9112) as a Twisted protocol, parsed with C{httptools}.

Theory of operation
===================

One L{HTTPChannel} per connection, built by L{HTTPFactory}.  C{httptools}
(llhttp) parses; we add the checks it leaves to us, the limits and the
timers, queue the requests, frame the responses, and hand each request to
an application adapter as an L{Exchange<gracehttp._core.exchange.Exchange>}.
The channel is one class made of parts, each in its own module with its
own theory of operation:

  - L{channel<gracehttp._protocols.http11.channel>}: the connection: the
    transport's callbacks, rejection and closing, the producer;
  - L{states<gracehttp._protocols.http11.states>}: the connection's named
    states and the moves between them;
  - L{parsing<gracehttp._protocols.http11.parsing>}: each read through
    llhttp, its callbacks, where a request begins in a read;
  - L{head<gracehttp._protocols.http11.head>}: from a parsed head to an
    exchange: syntax checks, head and body limits, target, proxy headers;
  - L{chunked<gracehttp._protocols.http11.chunked>}: the chunked request
    body reader;
  - L{refusedmethod<gracehttp._protocols.http11.refusedmethod>}: the
    request line of a method llhttp refuses (501 or 400);
  - L{pipeline<gracehttp._protocols.http11.pipeline>}: the queue of
    requests, the active one, the concurrency limit;
  - L{framing<gracehttp._protocols.http11.framing>}: response heads and
    bodies, 100 Continue, error responses;
  - L{readgate<gracehttp._protocols.http11.readgate>}: pausing, holding
    and releasing what the client sends;
  - L{timer<gracehttp._protocols.http11.timer>}: head, body, keep-alive
    and close timeouts;
  - L{upgrade<gracehttp._protocols.http11.upgrade>}: the protocol switch
    hook (L{IProtocolSwitch}) and the handover of a connection;
  - L{factory<gracehttp._protocols.http11.factory>}: the factory, the
    connection limit, ALPN.
"""

from gracehttp._protocols.http11.channel import HTTPChannel
from gracehttp._protocols.http11.factory import ALPN_PROTOCOLS, HTTPFactory
from gracehttp._protocols.http11.head import LARGE_BODY_READ_SIZE, LOGGED_TARGET
from gracehttp._protocols.http11.pipeline import MAX_PIPELINED, RETRY_AFTER
from gracehttp._protocols.http11.readgate import HOLD_SIZE
from gracehttp._protocols.http11.states import ConnectionState, IllegalMove
from gracehttp._protocols.http11.upgrade import IProtocolSwitch

__all__ = [
    "ALPN_PROTOCOLS",
    "HOLD_SIZE",
    "LARGE_BODY_READ_SIZE",
    "LOGGED_TARGET",
    "MAX_PIPELINED",
    "RETRY_AFTER",
    "ConnectionState",
    "HTTPChannel",
    "HTTPFactory",
    "IProtocolSwitch",
    "IllegalMove",
]
