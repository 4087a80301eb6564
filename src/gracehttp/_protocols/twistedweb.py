"""
A C{twisted.web} request as the protocol side of an exchange, so that a
gracehttp adapter can answer requests of an existing C{twisted.web} site
(L{gracehttp.web}).

Theory of operation
===================

One L{RequestChannel} per request: it builds the L{Exchange} from the
C{twisted.web.server.Request}, and provides
L{IExchangeChannel<gracehttp._core.interfaces.IExchangeChannel>} for it by
calling the request's own methods.  C{twisted.web} parses and frames the
HTTP; the adapter runs the application with the usual guarantees:

  - the disconnect: C{Request.notifyFinish()} fails when the connection
    is lost before the response is finished; that is the exchange's
    disconnect, so the application is told and, after the grace period,
    cancelled (or, for WSGI, dropped if it still waits for a thread);
  - the request body: C{twisted.web} has read all of it before the
    resource is rendered (into memory, or a temporary file past its
    threshold).  The channel hands it to the exchange L{BODY_CHUNK} bytes
    at a time, the next chunk on the reactor turn after the application
    consumed the last (C{bodyConsumed}), so the body is not copied into
    memory whole again;
  - the response: the status and headers go to the request when the first
    body bytes (or the end) are written, so a head can still be taken back
    (C{retractHead}) until then; C{twisted.web} frames the body (its
    C{Content-Length}, or chunked) and omits it for C{HEAD}; its default
    C{Content-Type} is not added;
  - backpressure: the channel registers itself as the request's streaming
    producer, and the exchange's writers wait while C{twisted.web}'s
    transport is paused.

What C{twisted.web} decides stays its own: its parsing and limits, its
timeouts, its C{100 Continue}, its access log (the site's C{logPath} or
C{logFormatter}).
"""

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer
from twisted.web.http_headers import Headers
from zope.interface import implementer

from gracehttp._core.exchange import Exchange
from gracehttp._core.interfaces import IExchangeChannel
from gracehttp._protocols.addresses import serverAddress

BODY_CHUNK = 64 * 1024
"""
Bytes of the request body handed to the exchange at a time.
"""


def _address(address):
    """
    @return: C{(host, port)} for a TCP address, L{None} otherwise.
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    return None


@implementer(IExchangeChannel, IPushProducer)
class RequestChannel:
    """
    The protocol side of one exchange made from a C{twisted.web} request
    (see the module docstring).

    @ivar exchange: the exchange.
    @type exchange: L{Exchange}
    @ivar _request: the C{twisted.web} request.
    @ivar _head: the status and headers to give the request with the first
        body bytes, or L{None}.
    @ivar _producing: the channel is the request's registered producer.
    @ivar _clock: schedules the next chunk of the body.
    @ivar _feeding: the next chunk of the body is scheduled.
    """

    def __init__(self, request, clock, grace):
        """
        Build the exchange from C{request}.

        @param request: the request being rendered.
        @type request: L{twisted.web.server.Request}
        @param clock: schedules the grace period.
        @type clock: L{twisted.internet.interfaces.IReactorTime}
        @param grace: seconds between a disconnect and the cancel.
        @type grace: L{float}
        """
        self._request = request
        self._clock = clock
        self._head = None
        self._producing = False
        self._feeding = False
        exchange = self.exchange = Exchange(self, clock, grace)
        exchange.method = request.method.decode("ascii")
        exchange.rawPath = request.path
        _, _, exchange.queryString = request.uri.partition(b"?")
        exchange.queryString = exchange.queryString.partition(b"#")[0]
        exchange.httpVersion = request.clientproto.decode("ascii").partition("/")[2]
        exchange.headers = [
            (name.lower(), value)
            for name, values in request.requestHeaders.getAllRawHeaders()
            for value in values
        ]
        exchange.client = _address(request.getClientAddress())
        exchange.server = serverAddress(request.getHost())
        exchange.scheme = "https" if request.isSecure() else "http"
        request.defaultContentType = None
        request.notifyFinish().addErrback(self._lost)
        self._feedBody()

    def _lost(self, reason):
        """
        The connection was lost before the response was finished.
        """
        self.exchange.disconnect()

    def _feedBody(self):
        """
        Hand the exchange the next chunk of the request body, or its end.
        """
        content = self._request.content
        data = content.read(BODY_CHUNK) if content is not None else b""
        exchange = self.exchange
        if data:
            exchange.receiveBody(data)
        if len(data) < BODY_CHUNK:
            exchange.endBody()

    # -- IExchangeChannel ----------------------------------------------------

    def writeHead(self, exchange, status, headers):
        self._head = (status, headers)
        if not self._producing:
            self._request.registerProducer(self, True)
            self._producing = True

    def retractHead(self, exchange):
        if self._head is None:
            return False
        self._head = None
        return True

    def _sendHead(self):
        head = self._head
        if head is None:
            return
        self._head = None
        request = self._request
        status, headers = head
        request.setResponseCode(status)
        request.responseHeaders = Headers()
        for name, value in headers:
            request.responseHeaders.addRawHeader(name, value)

    def writeBody(self, exchange, data):
        self._sendHead()
        self._request.write(data)

    def finishResponse(self, exchange):
        self._sendHead()
        self._unregister()
        self._request.finish()

    def abortResponse(self, exchange):
        self._unregister()
        self._request.loseConnection()

    def exchangeFinished(self, exchange):
        self._unregister()

    def bodyConsumed(self, exchange, size):
        # Not now: this is called from inside the application's read, which
        # must return its bytes before newer ones arrive (as HTTP/1.1 does).
        if not exchange.bodyComplete and not self._feeding:
            self._feeding = True
            self._clock.callLater(0, self._feedNext)

    def _feedNext(self):
        self._feeding = False
        if not self.exchange.disconnected:
            self._feedBody()

    def continueWanted(self, exchange):
        """
        Nothing to do: C{twisted.web} answered C{Expect: 100-continue}
        when it read the body.
        """

    def _unregister(self):
        if self._producing:
            self._producing = False
            self._request.unregisterProducer()

    # -- IPushProducer (towards the request) ---------------------------------

    def pauseProducing(self):
        self.exchange.pauseWriting()

    def resumeProducing(self):
        self.exchange.resumeWriting()

    def stopProducing(self):
        """
        Nothing to do: a lost connection reaches the exchange through
        C{notifyFinish}.
        """
