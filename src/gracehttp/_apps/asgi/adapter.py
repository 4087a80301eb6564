"""
The ASGI adapter: runs an ASGI application (ASGI 3.0 or 2.0, HTTP and
WebSocket spec version 2.5) for each request exchange and each WebSocket
session (the C{websocket} scope: L{gracehttp._apps.asgi.websocket}).

The scope's C{http_version} is the exchange's (C{"1.0"}, C{"1.1"} or
C{"2"}).  When the protocol can send response trailers (HTTP/2, to a
client that sent C{TE: trailers}) the scope offers the
C{http.response.trailers} extension: an application that starts its
response with C{trailers} true ends it with C{http.response.trailers}
events after its body (ASGI extensions, "HTTP Trailers").

Each request becomes one asyncio task on the reactor's event loop; the
task is bridged to Twisted with L{Deferred.fromFuture}.  The disconnect
rules (L{gracehttp._core.exchange}) are split between the exchange and
this module: the exchange owns the
disconnect -> grace -> cancel state machine and calls the task's C{cancel}
when the grace period ends, so the application sees
L{asyncio.CancelledError}; this module makes C{receive()} return
C{http.disconnect} and C{send()} raise L{ClientDisconnected}.
"""

import asyncio
import inspect
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import Deferred
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from gracehttp._apps.asgi.lifespan import Lifespan
from gracehttp._apps.asgi.pathsend import EXTENSION, sendPath
from gracehttp._apps.asgi.waiting import Waiters
from gracehttp._apps.asgi.websocket import SessionCycle, runSession, websocketScope
from gracehttp._core.interfaces import IAppAdapter, ISessionAdapter
from gracehttp._errors import ClientDisconnected
from gracehttp._loader import detectASGIVersion

_log = Logger()

TRAILERS = "http.response.trailers"
"""
The ASGI HTTP trailers extension's name, and its event's type.
"""


class AsyncioReactorRequired(RuntimeError):
    """
    An ASGI application was given a reactor without an asyncio event loop.
    The message is one line, meant for the user.
    """


def requireAsyncioReactor(reactor):
    """
    Get the asyncio event loop ASGI applications run on.

    @param reactor: the running reactor.
    @return: the reactor's asyncio event loop.
    @rtype: L{asyncio.AbstractEventLoop}
    @raise AsyncioReactorRequired: C{reactor} is not Twisted's asyncio
        reactor.
    """
    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is None:
        raise AsyncioReactorRequired(
            f"ASGI applications need the asyncio reactor, not "
            f"{type(reactor).__name__}: run `twist --reactor asyncio gracehttp ...`"
        )
    return loop


def isASGI3(app):
    """
    Is C{app} a single-callable ASGI 3 application rather than an ASGI 2
    double-callable one (ASGI spec, "Legacy Applications")?

    See L{detectASGIVersion<gracehttp._loader.detectASGIVersion>}: a
    coroutine function, an object whose C{__call__} is one, an awaitable
    class, or a callable that requires three positional arguments is
    ASGI 3; a class without C{__await__} or a callable that requires one
    argument is ASGI 2; what cannot be told is taken to be ASGI 3.

    @param app: an ASGI application.
    @rtype: L{bool}
    """
    return detectASGIVersion(app) == "asgi3"


def _singleCallable(app):
    """
    Wrap an ASGI 2 application so it is called like an ASGI 3 one.
    """

    async def asgi3(scope, receive, send):
        await app(scope)(receive, send)

    return asgi3


def _returnsCoroutine(app):
    """
    Does calling C{app} give a coroutine (what C{loop.create_task} takes)?
    """
    return inspect.iscoroutinefunction(app) or (
        not inspect.isclass(app)
        # The method itself, not whether app is callable.
        and inspect.iscoroutinefunction(getattr(app, "__call__", None))  # noqa: B004
    )


def _coroutineCallable(app):
    """
    Wrap an ASGI 3 application that returns some other awaitable (an
    awaitable class, a marked synchronous callable) so that it returns a
    coroutine.
    """

    async def coroutine(scope, receive, send):
        return await app(scope, receive, send)

    return coroutine


def scopePath(rootPath, rawPath):
    """
    The C{path} of an ASGI HTTP scope: the request target's path with
    percent-encoded sequences and UTF-8 byte sequences decoded, under the
    root path (ASGI HTTP spec, "HTTP Connection Scope": C{path} includes
    C{root_path}).

    A proxy may pass the mount point on (C{/api/items}) or strip it
    (C{/items}); both give C{/api/items} for the root path C{/api}.  A
    path that already starts with the root path on a segment boundary is
    not prefixed again (C{/apix} is not under C{/api}).  WSGI's
    C{SCRIPT_NAME} and C{PATH_INFO} follow the same rule
    (L{gracehttp._apps.wsgi.environ.EnvironBuilder.pathInfo}).

    @param rootPath: the mount point, without a trailing slash, or C{""}.
    @type rootPath: L{str}
    @type rawPath: L{bytes}
    @rtype: L{str}
    """
    if b"%" in rawPath:
        rawPath = unquote_to_bytes(rawPath)
    path = rawPath.decode("utf-8", "replace")
    if not rootPath or (
        path.startswith(rootPath) and path[len(rootPath) : len(rootPath) + 1] in ("", "/")
    ):
        return path
    return rootPath + path


@implementer(IAppAdapter, ISessionAdapter)
class ASGIAdapter:
    """
    Runs an ASGI application for each request and WebSocket session, and
    its lifespan.

    @ivar inFlight: one L{Deferred} per running application task (made
        with L{Deferred.fromFuture} when read), firing with L{None} once the
        task is done and its exchange told; it never fails.  The service waits for them at shutdown.
    @type inFlight: L{list} of L{Deferred}
    @ivar lifespan: the application's lifespan.
    @type lifespan: L{Lifespan}
    """

    def __init__(
        self,
        app,
        reactor,
        loop,
        rootPath="",
        lifespan="auto",
        lifespanTimeout=60.0,
        asgi3=None,
    ):
        """
        @param app: an ASGI 3 application (C{async def app(scope, receive,
            send)}) or an ASGI 2 one (C{app(scope)} returns an object with
            C{async __call__(receive, send)}).
        @param reactor: schedules the lifespan timeouts.
        @type reactor: L{twisted.internet.interfaces.IReactorTime}
        @param loop: the event loop application tasks run on; in production
            the asyncio reactor's (see L{requireAsyncioReactor}).
        @type loop: L{asyncio.AbstractEventLoop}
        @param rootPath: the C{root_path} of every scope: the mount point
            of the application behind a proxy, e.g. C{"/api"} (a trailing
            slash is dropped); see L{scopePath}.
        @type rootPath: L{str}
        @param lifespan: C{"auto"}, C{"on"} or C{"off"}; see L{Lifespan}.
        @type lifespan: L{str}
        @param lifespanTimeout: seconds each lifespan phase may take.
        @type lifespanTimeout: L{float}
        @param asgi3: whether C{app} is ASGI 3; L{None} detects it with
            L{isASGI3}.
        @type asgi3: L{bool} or L{None}
        """
        if asgi3 is None:
            asgi3 = isASGI3(app)
        version = "3.0" if asgi3 else "2.0"
        if not asgi3:
            app = _singleCallable(app)
        elif not _returnsCoroutine(app):
            app = _coroutineCallable(app)
        self._app = app
        self._loop = loop
        self._rootPath = rootPath.rstrip("/")
        self._asgiInfo = {"version": version, "spec_version": "2.5"}
        self._state = {}
        self._tasks = set()
        self.lifespan = Lifespan(
            app,
            loop,
            reactor,
            mode=lifespan,
            timeout=lifespanTimeout,
            asgiVersion=version,
        )

    def startup(self):
        """
        Run the lifespan startup (ASGI lifespan spec, "Startup").

        @return: a L{Deferred} that fires when requests may be served, or
            fails with L{LifespanFailure<gracehttp._errors.LifespanFailure>}.
        """
        return self.lifespan.startup().addCallback(self._started)

    def _started(self, ignored):
        if self.lifespan.started:
            self._state = self.lifespan.state

    def shareState(self, other):
        """
        Give this adapter's requests the lifespan state of C{other} (which
        ran the application's lifespan; this one runs none), as it is now.

        @type other: L{ASGIAdapter}
        """
        self._state = other._state

    def shutdown(self):
        """
        Run the lifespan shutdown (ASGI lifespan spec, "Shutdown").

        @return: a L{Deferred} that fires when it is done.
        """
        return self.lifespan.shutdown()

    def handle(self, exchange):
        """
        Start the application's task for one request.

        @param exchange: the request.
        @type exchange: L{gracehttp._core.exchange.Exchange}
        """
        if exchange.disconnected:
            exchange.appFinished()
            return
        rawPath = exchange.rawPath
        rootPath = self._rootPath
        scope = {
            "type": "http",
            "asgi": self._asgiInfo,
            "http_version": exchange.httpVersion,
            "method": exchange.method,
            "scheme": exchange.scheme,
            "path": scopePath(rootPath, rawPath),
            "raw_path": rawPath,
            "query_string": exchange.queryString,
            "root_path": rootPath,
            "headers": exchange.headers,
            "client": exchange.client,
            "server": exchange.server,
            "state": self._state.copy(),
            "extensions": {EXTENSION: {}, TRAILERS: {}}
            if exchange.trailersOffered
            else {EXTENSION: {}},
        }
        cycle = _Cycle(exchange, self._loop)
        exchange.wake = cycle.wake
        task = self._loop.create_task(self._call(scope, cycle))
        exchange.appStarted(task.cancel)
        self._tasks.add(task)
        cycle.task = task

    def handleSession(self, session):
        """
        Start the application's task for one WebSocket session (its
        C{websocket} scope).

        @type session: L{gracehttp._core.session.Session}
        """
        if session.disconnected:
            session.appFinished()
            return
        rootPath = self._rootPath
        scope = websocketScope(
            session,
            self._asgiInfo,
            rootPath,
            self._state.copy(),
            scopePath(rootPath, session.rawPath),
        )
        cycle = SessionCycle(session, self._loop)
        session.wake = cycle.wake
        task = self._loop.create_task(runSession(self._app, scope, cycle, self._tasks))
        session.appStarted(task.cancel)
        self._tasks.add(task)
        cycle.task = task

    @property
    def inFlight(self):
        """
        See the class docstring.

        @rtype: L{list} of L{Deferred}
        """
        return [Deferred.fromFuture(task).addErrback(_reported) for task in self._tasks]

    async def _call(self, scope, cycle):
        """
        Run the application for one request, then complete or abort its
        response and tell the exchange, in the same task step as the
        application's last one.

        @param scope: the HTTP connection scope.
        @type cycle: L{_Cycle}
        """
        exchange = cycle.exchange
        try:
            await self._app(scope, cycle.receive, cycle.send)
        except (Exception, asyncio.CancelledError) as error:
            _report(error, exchange)
        else:
            _report(None, exchange)
        finally:
            self._tasks.discard(cycle.task)
            cycle.task = None
            exchange.appFinished()


def _reported(failure):
    """
    How a task failed is logged by L{_report}; its in-flight L{Deferred}
    only says that it is done.
    """


def _report(error, exchange):
    """
    Log how an application ended and make sure its response ends.

    @param error: what the application raised, or L{None} if it returned.
    @type error: L{BaseException} or L{None}
    @type exchange: L{gracehttp._core.exchange.Exchange}
    """
    if error is not None:
        if exchange.disconnected and _fromDisconnect(error):
            _log.info(
                "ASGI application stopped after the client disconnected ({error})",
                error=type(error).__name__,
            )
        else:
            _log.failure(
                "ASGI application raised",
                Failure(error, type(error), error.__traceback__),
                level=LogLevel.error,
            )
            _giveUp(exchange)
    elif not exchange.responseComplete and not exchange.disconnected:
        _log.error(
            "ASGI application returned without {what} its response",
            what="finishing" if exchange.responseStarted else "starting",
        )
        _giveUp(exchange)


def _fromDisconnect(error):
    """
    Is C{error} the disconnect surfacing: L{ClientDisconnected} from
    C{send()} or the grace period's L{asyncio.CancelledError}, raised as is,
    chained under a framework's own exception (Starlette turns the
    L{OSError} into its C{ClientDisconnect}) or, with nothing else, in an
    exception group?

    @type error: L{BaseException}
    @rtype: L{bool}
    """
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, (ClientDisconnected, asyncio.CancelledError)):
            return True
        if isinstance(error, BaseExceptionGroup):
            return all(_fromDisconnect(member) for member in error.exceptions)
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _giveUp(exchange):
    """
    End a response the application failed to complete: a small 500 if
    nothing of its own response reached the client yet (not started, or
    started with no body byte sent: the head is taken back), else close the
    connection so the client cannot mistake what it got for a whole
    response.
    """
    if exchange.disconnected or exchange.responseComplete:
        return
    if exchange.responseStarted and not exchange.retractResponse():
        exchange.abort()
    else:
        exchange.answerServerError()


class _Cycle(Waiters):
    """
    The C{receive} and C{send} callables of one request (ASGI HTTP spec,
    "Request - receive event" to "Disconnected Client - send exception").

    Both wait on asyncio futures resolved by L{wake}, the exchange's wake
    callback; C{receive} and C{send} may wait at the same time (one task
    listening for the disconnect while another streams), so each wait has
    its own future and a cancelled waiter never disturbs the other.

    @ivar exchange: the request.
    @ivar task: the asyncio task running the application for it.
    """

    __slots__ = ("_bodyDone", "_bodyEnded", "_trailers", "exchange", "task")

    def __init__(self, exchange, loop):
        Waiters.__init__(self, loop)
        self.exchange = exchange
        self.task = None
        self._bodyDone = False
        # The trailer fields so far, while the response awaits them.
        self._trailers = None
        self._bodyEnded = False

    async def receive(self):
        """
        The next request event.

        Buffered body bytes come first, as C{http.request} events, the last
        with C{more_body} false.  After that the call waits until the client
        disconnects or the response is complete, and returns
        C{http.disconnect}; a client that left before the body was complete
        gets C{http.disconnect} once the buffered bytes are delivered.

        @return: an C{http.request} or C{http.disconnect} event.
        @rtype: L{dict}
        """
        exchange = self.exchange
        while True:
            if self._bodyDone:
                if exchange.disconnected or exchange.responseComplete:
                    return {"type": "http.disconnect"}
            elif exchange.bufferedBody or exchange.bodyComplete:
                body = exchange.readBody()
                if exchange.bodyComplete:
                    self._bodyDone = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return {"type": "http.request", "body": body, "more_body": True}
            elif exchange.disconnected:
                return {"type": "http.disconnect"}
            elif exchange.expectContinue:
                # Nothing is buffered: this only sends 100 Continue.
                exchange.readBody()
            await self._wait()

    async def _waitForWriting(self):
        """
        Wait while the transport is above its high-water mark.

        @raise ClientDisconnected: the client left meanwhile.
        """
        exchange = self.exchange
        while exchange.writePaused and not exchange.disconnected:
            await self._wait()
        if exchange.disconnected:
            raise ClientDisconnected("client disconnected")

    async def send(self, message):
        """
        Send a response event: C{http.response.start}, then
        C{http.response.body} until one has C{more_body} false, or one
        C{http.response.pathsend} (L{gracehttp._apps.asgi.pathsend}); then,
        if the start said C{trailers}, C{http.response.trailers} until one
        has C{more_trailers} false.  While the transport is above its
        high-water mark, a body event with C{more_body} waits until it
        drains.

        @param message: the ASGI event.
        @type message: L{dict}
        @raise ClientDisconnected: the client is gone (ASGI HTTP spec 2.4,
            "Disconnected Client - send exception").
        @raise RuntimeError: the event is of an unknown type or out of order.
        @raise gracehttp._core.responsehead.InvalidResponse: the status or a header
            cannot be sent.
        """
        exchange = self.exchange
        if exchange.disconnected:
            raise ClientDisconnected("client disconnected")
        kind = message["type"]
        if kind == "http.response.body":
            if not exchange.responseStarted or exchange.responseComplete or self._bodyEnded:
                raise RuntimeError(
                    "http.response.body sent "
                    + (
                        "after the response ended"
                        if exchange.responseStarted
                        else "before http.response.start"
                    )
                )
            body = message.get("body", b"")
            if body:
                exchange.write(body)
            if not message.get("more_body", False):
                self._endBody()
            elif exchange.writePaused:
                await self._waitForWriting()
        elif kind == "http.response.start":
            if exchange.responseStarted:
                raise RuntimeError("http.response.start sent twice")
            exchange.startResponse(message.get("status"), message.get("headers", ()))
            if message.get("trailers", False):
                self._trailers = []
        elif kind == TRAILERS:
            self._sendTrailers(message)
        elif kind == EXTENSION:
            if not exchange.responseStarted or exchange.responseComplete:
                raise RuntimeError(f"{EXTENSION} sent out of order")
            await sendPath(exchange, message["path"], self._waitForWriting)
        else:
            raise RuntimeError(f"unexpected ASGI message type {kind!r}")

    def _endBody(self):
        """
        The last body event: finish the response, unless trailers follow.
        """
        if self._trailers is None:
            self.exchange.finish()
        else:
            self._bodyEnded = True

    def _sendTrailers(self, message):
        """
        An C{http.response.trailers} event: gather its fields, and finish
        the response with them at the last one.

        @raise RuntimeError: the start did not announce trailers, or the
            body is not complete.
        """
        trailers = self._trailers
        if trailers is None or not self._bodyEnded:
            raise RuntimeError(f"{TRAILERS} sent out of order")
        trailers.extend(message.get("headers", ()))
        if not message.get("more_trailers", False):
            self._trailers = None
            self.exchange.finish(trailers)
