"""
gracehttp inside an existing C{twisted.web} site: resources that run an
ASGI or a WSGI application with gracehttp's disconnect guarantees.

    from twisted.web.resource import Resource
    from twisted.web.static import File
    from gracehttp.web import ASGIResource

    root = Resource()
    root.putChild(b"static", File("/srv/static"))
    root.putChild(b"app", ASGIResource(app))

A request under C{/app/} runs the application with its mount point as
C{root_path} (ASGI) or C{SCRIPT_NAME} (WSGI).  When the client goes away
the application is told (ASGI C{http.disconnect} and C{send()} raising
L{gracehttp.ClientDisconnected}; WSGI C{environ["gracehttp.disconnected"]}
set and C{wsgi.input}/C{write()} raising), gets the grace period, and is
then cancelled (ASGI) or logged (WSGI); a WSGI request whose client left
while it waited for a thread never starts.  C{twisted.web.wsgi}, by
contrast, never tells the application.

C{twisted.web}'s own rules apply to what reaches the resource: it parses
the request and reads the whole body before rendering (into memory, or a
temporary file past its threshold), with its own limits and timeouts, and
writes its own access log.  See L{gracehttp._protocols.twistedweb}.
"""

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from gracehttp._protocols.twistedweb import RequestChannel

__all__ = ["ASGIResource", "WSGIResource"]


class _AppResource(Resource):
    """
    A leaf resource that hands each request to an adapter, one adapter per
    mount point (the path the resource was reached at).

    @ivar _grace: seconds between a disconnect and the cancel.
    @ivar _reactor: the reactor; the global one when not given.
    @ivar _adapters: the adapters made so far, by root path.
    """

    isLeaf = True

    def __init__(self, gracePeriod, reactor):
        Resource.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self._grace = float(gracePeriod)
        self._reactor = reactor
        self._adapters = {}

    def _makeAdapter(self, rootPath):
        raise NotImplementedError()

    def _adapter(self, request):
        rootPath = "/" + b"/".join(request.prepath).decode("utf-8", "replace")
        rootPath = rootPath.rstrip("/")
        adapter = self._adapters.get(rootPath)
        if adapter is None:
            adapter = self._adapters[rootPath] = self._makeAdapter(rootPath)
        return adapter

    def render(self, request):
        """
        Run the application for C{request}.

        @type request: L{twisted.web.server.Request}
        @return: L{NOT_DONE_YET}: the response is written as the
            application produces it.
        """
        channel = RequestChannel(request, self._reactor, self._grace)
        self._adapter(request).handle(channel.exchange)
        return NOT_DONE_YET


class ASGIResource(_AppResource):
    """
    A C{twisted.web} resource that runs an ASGI application (see the module
    docstring).  The reactor must be Twisted's asyncio reactor.
    """

    def __init__(self, app, *, gracePeriod=3.0, reactor=None, lifespan="off"):
        """
        @param app: an ASGI 3 or ASGI 2 application.
        @param gracePeriod: seconds between a client's disconnect and the
            cancellation of its request's task; C{0} at once, negative
            never.
        @type gracePeriod: L{float}
        @param reactor: Twisted's asyncio reactor; the global one when not
            given.
        @param lifespan: C{"off"} (the default: a resource has no start
            and stop of its own), or C{"auto"} or C{"on"}, in which case
            call L{startup} before the site serves and L{shutdown} after.
        @type lifespan: L{str}
        @raise gracehttp._apps.asgi.adapter.AsyncioReactorRequired: the
            reactor is not the asyncio one.
        """
        from gracehttp._apps.asgi.adapter import ASGIAdapter, requireAsyncioReactor

        _AppResource.__init__(self, gracePeriod, reactor)
        loop = requireAsyncioReactor(self._reactor)
        self._lifespanAdapter = ASGIAdapter(app, self._reactor, loop, lifespan=lifespan)
        self._app = app
        self._loop = loop

    def _makeAdapter(self, rootPath):
        from gracehttp._apps.asgi.adapter import ASGIAdapter

        adapter = ASGIAdapter(
            self._app, self._reactor, self._loop, rootPath=rootPath, lifespan="off"
        )
        adapter.shareState(self._lifespanAdapter)
        return adapter

    def startup(self):
        """
        Run the application's lifespan startup (with C{lifespan} C{"auto"}
        or C{"on"}); requests then get its state.

        @return: a Deferred that fires when it is done, or fails with
            L{gracehttp.LifespanFailure}.
        """
        return self._lifespanAdapter.startup().addCallback(self._shareState)

    def _shareState(self, ignored):
        for adapter in self._adapters.values():
            adapter.shareState(self._lifespanAdapter)

    def shutdown(self):
        """
        Run the application's lifespan shutdown.

        @return: a Deferred that fires when it is done.
        """
        return self._lifespanAdapter.shutdown()


class WSGIResource(_AppResource):
    """
    A C{twisted.web} resource that runs a WSGI application on a thread pool
    (see the module docstring).
    """

    def __init__(self, app, threadpool, *, gracePeriod=3.0, reactor=None):
        """
        @param app: a WSGI application (PEP 3333).
        @param threadpool: runs the application; the caller starts it
            before the site serves and stops it after, as with
            C{twisted.web.wsgi.WSGIResource}.  Its C{max} is how many
            requests run at once; the others wait, and those whose client
            leaves meanwhile never start.
        @type threadpool: L{twisted.python.threadpool.ThreadPool}
        @param gracePeriod: seconds after a client's disconnect before a
            request still running is logged (a thread cannot be
            cancelled).
        @type gracePeriod: L{float}
        @param reactor: the reactor; the global one when not given.
        """
        _AppResource.__init__(self, gracePeriod, reactor)
        self._app = app
        self._threadpool = threadpool

    def _makeAdapter(self, rootPath):
        from gracehttp._apps.wsgi.adapter import WSGIAdapter

        return WSGIAdapter(self._app, self._reactor, self._threadpool, rootPath=rootPath)
