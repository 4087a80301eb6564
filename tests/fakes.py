"""
Test doubles shared by the unit tests: a recording exchange channel and a
thread pool that runs work synchronously.
"""

from zope.interface import implementer

from gracehttp._core.exchange import BODY_BUFFER_SIZE, Exchange
from gracehttp._core.interfaces import IExchangeChannel


@implementer(IExchangeChannel)
class RecordingChannel:
    """
    An L{IExchangeChannel} that records what an exchange asks of it.

    Its read side follows the HTTP/1.1 channel's rule: L{deliverBody}
    gives the exchange body bytes as the protocol would and pauses reading
    while the exchange holds more than L{BODY_BUFFER_SIZE} unconsumed
    bytes; L{bodyConsumed} resumes it once they are consumed.

    @ivar head: C{(status, headers)} once the head is written.
    @ivar body: the response body bytes written so far.
    @ivar finished: the response was finished.
    @ivar aborted: the response was aborted.
    @ivar readingPaused: reading from the client is paused.
    @ivar pauses: how many times reading paused.
    @ivar consumed: the body bytes the application consumed, as reported.
    @ivar continues: how many C{100 Continue} were sent.
    @ivar finishedExchanges: the exchanges whose application finished.
    """

    def __init__(self):
        self.head = None
        self.body = b""
        self.finished = False
        self.aborted = False
        self.readingPaused = False
        self.pauses = 0
        self.consumed = 0
        self.continues = 0
        self.finishedExchanges = []

    def writeHead(self, exchange, status, headers):
        self.head = (status, headers)

    def retractHead(self, exchange):
        if self.body:
            return False
        self.head = None
        return True

    def writeBody(self, exchange, data):
        self.body += data

    def finishResponse(self, exchange):
        self.finished = True

    def abortResponse(self, exchange):
        self.aborted = True

    def exchangeFinished(self, exchange):
        self.finishedExchanges.append(exchange)

    def bodyConsumed(self, exchange, size):
        self.consumed += size
        if self.readingPaused and exchange.bufferedBody <= BODY_BUFFER_SIZE:
            self.readingPaused = False

    def continueWanted(self, exchange):
        if not exchange.bodyComplete and not exchange.disconnected:
            self.continues += 1

    def deliverBody(self, exchange, data):
        """
        Give C{exchange} request body bytes as a protocol does, pausing
        reading past L{BODY_BUFFER_SIZE} unconsumed bytes.

        @type data: L{bytes}
        """
        if exchange.receiveBody(data) > BODY_BUFFER_SIZE and not self.readingPaused:
            self.readingPaused = True
            self.pauses += 1


def makeExchange(clock, grace=3.0, method="GET", path=b"/", query=b"", headers=(), body=None):
    """
    Build an exchange on a L{RecordingChannel}, as the HTTP/1.1 protocol
    would after parsing a request head.

    @param body: if not L{None}, these bytes are delivered as the complete
        request body.
    @return: C{(exchange, channel)}
    """
    channel = RecordingChannel()
    exchange = Exchange(channel, clock, grace)
    exchange.method = method
    exchange.rawPath = path
    exchange.queryString = query
    exchange.headers = list(headers)
    exchange.client = ("127.0.0.1", 50000)
    exchange.server = ("127.0.0.1", 8000)
    if body is not None:
        if body:
            exchange.receiveBody(body)
        exchange.endBody()
    return exchange, channel


class SynchronousThreadPool:
    """
    A stand-in for L{twisted.python.threadpool.ThreadPool} that queues work
    and runs it only when told, on the calling thread, so tests decide
    exactly when a "thread" picks a job up.

    @ivar queue: the jobs not yet run, as C{(f, args, kwargs)}.
    """

    def __init__(self):
        self.queue = []
        self.started = False
        self.joined = False

    def start(self):
        self.started = True

    def stop(self):
        self.joined = True

    def callInThread(self, f, *args, **kwargs):
        self.queue.append((f, args, kwargs))

    def runAll(self):
        """
        Run every queued job (and any they queue) in order.
        """
        while self.queue:
            f, args, kwargs = self.queue.pop(0)
            f(*args, **kwargs)
