"""
The readiness endpoint: whether the server takes requests, for a load
balancer or Kubernetes, on a listening address of its own
(C{--readiness-listen}), without an application route.

Theory of operation
===================

L{Readiness} is the server's answer, in three states that only move
forward: C{starting} (the service started: the ASGI lifespan startup or
the WSGI thread pool, then the main endpoints' C{listen()}), C{ready}
(every main endpoint listens), C{draining} (a stop began: from the first
moment of C{stopService}, while the main endpoints stop listening and
the requests in flight finish, until the process exits).  The service
(L{HTTPService<gracehttp._service.HTTPService>}) moves it, and listens on
the readiness endpoint before anything else and stops listening there
last, so that the endpoint answers through the whole start and the whole
stop.

L{ReadinessProtocol} answers one request per connection, whatever its
method (C{HEAD} gets no body), and closes:

  - C{GET /livez}: C{200 alive} in every state (liveness: the process
    serves; a Kubernetes liveness probe must not restart a pod that is
    draining);
  - any other target: C{200 ready} when ready, else C{503 starting} or
    C{503 draining} (with C{Retry-After: 1} while starting).

A request may begin with a PROXY protocol header
(L{gracehttp._protocols.proxyprotocol}), which is skipped: a load
balancer that sends the header to its targets sends it with its health
checks too, while a Kubernetes probe sends none, and both may probe the
same endpoint.

It reads until the end of the request head (the blank line), at most
L{MAX_HEAD} bytes (more: C{431}) and for at most L{TIMEOUT} seconds
(then the connection is closed): a probe's request is a few lines.  It
takes no part in the server state: it is not counted as a connection, is
not in the access log, and a graceful stop does not wait for it.
"""

from twisted.internet.protocol import Factory, Protocol

from gracehttp._protocols.proxyprotocol import InvalidProxyHeader, parseHeader

STARTING = "starting"
READY = "ready"
DRAINING = "draining"

MAX_HEAD = 8192
"""
The longest request head the readiness endpoint reads, in bytes.
"""

TIMEOUT = 10.0
"""
Seconds a readiness connection has to send its request head.
"""

LIVENESS_PATH = b"/livez"
"""
The target answered C{200 alive} in every state.
"""


class Readiness:
    """
    Whether the server takes requests: L{STARTING}, then L{READY}, then
    L{DRAINING}; it never goes back.

    @ivar state: the current state.
    """

    def __init__(self):
        self.state = STARTING

    def ready(self):
        """
        Every main endpoint listens: ready, unless a stop already began.
        """
        if self.state == STARTING:
            self.state = READY

    def draining(self):
        """
        A stop began: draining until the process exits.
        """
        self.state = DRAINING


def answer(state, target, head):
    """
    The response to one readiness request.

    @param state: the L{Readiness} state.
    @param target: the request target.
    @type target: L{bytes}
    @param head: the request is C{HEAD}: no body.
    @return: the whole response, closing the connection.
    @rtype: L{bytes}
    """
    if target.partition(b"?")[0] == LIVENESS_PATH:
        status, body, extra = b"200 OK", b"alive\n", b""
    elif state == READY:
        status, body, extra = b"200 OK", b"ready\n", b""
    else:
        status, body = b"503 Service Unavailable", state.encode("ascii") + b"\n"
        extra = b"Retry-After: 1\r\n" if state == STARTING else b""
    return _response(status, body, extra, head)


def _response(status, body, extra, head):
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
        + str(len(body)).encode("ascii")
        + b"\r\nCache-Control: no-store\r\nConnection: close\r\n"
        + extra
        + b"\r\n"
        + (b"" if head else body)
    )


class ReadinessProtocol(Protocol):
    """
    One readiness request on a connection: read its head, answer, close
    (see the module docstring).
    """

    def connectionMade(self):
        self._buffer = b""
        self._proxyHeaderRead = False
        self._timeout = self.factory.clock.callLater(TIMEOUT, self.transport.abortConnection)

    def dataReceived(self, data):
        if self._buffer is None:
            return
        self._buffer += data
        if not self._proxyHeaderRead and not self._skipProxyHeader():
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._finish(_response(b"431 Request Header Fields Too Large", b"", b"", True))
            return
        requestLine = self._buffer.split(b"\r\n", 1)[0].split(b" ")
        if len(requestLine) != 3:
            self._finish(_response(b"400 Bad Request", b"", b"", True))
            return
        method, target, _ = requestLine
        self._finish(answer(self.factory.readiness.state, target, method == b"HEAD"))

    def _skipProxyHeader(self):
        """
        Drop a PROXY protocol header the request may begin with (a load
        balancer's health check sends one when the PROXY protocol is on for
        its targets).

        @return: whether the request can be read now (else more bytes of
            what may be a header are needed).
        """
        try:
            parsed = parseHeader(self._buffer)
        except InvalidProxyHeader:
            parsed = (None, None, 0)
        if parsed is None:
            return False
        self._buffer = self._buffer[parsed[2] :]
        self._proxyHeaderRead = True
        return True

    def _finish(self, response):
        self._buffer = None
        self.transport.write(response)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self._buffer = None
        if self._timeout.active():
            self._timeout.cancel()


class ReadinessFactory(Factory):
    """
    Answers readiness requests from a L{Readiness}.

    @ivar readiness: the state answered.
    @ivar clock: times each connection's request head.
    """

    protocol = ReadinessProtocol
    noisy = False

    def __init__(self, readiness, clock):
        self.readiness = readiness
        self.clock = clock
