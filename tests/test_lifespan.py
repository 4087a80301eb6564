"""
Tests for L{gracehttp._apps.asgi.lifespan} (ASGI lifespan spec 2.0) and its use by
the ASGI adapter, with a L{Clock} and a fresh asyncio event loop per test.
"""

import asyncio
import contextlib
import json

from twisted.logger import Logger, LogLevel

from gracehttp._apps.asgi import lifespan as _lifespan
from gracehttp._apps.asgi.adapter import ASGIAdapter
from gracehttp._apps.asgi.lifespan import Lifespan
from gracehttp._errors import LifespanFailure, LifespanTimeout

from .fakes import makeExchange
from .test_asgi import ASGITestCase, respond, spin


class LifespanTestCase(ASGITestCase):
    """
    A fresh event loop, clock and captured log (of the lifespan and the
    ASGI adapter) per test.
    """

    def setUp(self):
        super().setUp()
        self.patch(_lifespan, "_log", Logger(observer=self.logged.append))

    def lifespan(self, app, **kwargs):
        return Lifespan(app, self.loop, self.clock, **kwargs)

    def startup(self, lifespan):
        d = lifespan.startup()
        spin(self.loop)
        return d

    def shutdown(self, lifespan):
        d = lifespan.shutdown()
        spin(self.loop)
        return d

    def levels(self):
        return [event["log_level"] for event in self.logged]


def answeringApp(
    received, startup="lifespan.startup.complete", shutdown="lifespan.shutdown.complete", fill=None
):
    """
    A lifespan application that records what it receives and answers each
    phase with the given message types.
    """

    async def app(scope, receive, send):
        received.append(await receive())
        if fill:
            scope["state"].update(fill)
        await send({"type": startup, "message": "no database"})
        received.append(await receive())
        await send({"type": shutdown, "message": "disk full"})

    return app


class StartupTests(LifespanTestCase):
    def test_scope(self):
        """
        The lifespan scope is typed lifespan, version 3.0 / spec 2.0, and carries the state dict.
        """
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()

        lifespan = self.lifespan(app)
        self.startup(lifespan)
        self.assertEqual(
            scopes,
            [
                {
                    "type": "lifespan",
                    "asgi": {"version": "3.0", "spec_version": "2.0"},
                    "state": {},
                }
            ],
        )
        self.assertIs(scopes[0]["state"], lifespan.state)
        self.shutdown(lifespan)

    def test_startupComplete(self):
        """lifespan.startup.complete fires startup and cancels its timeout."""
        received = []
        lifespan = self.lifespan(answeringApp(received), timeout=5)
        d = lifespan.startup()
        self.assertNoResult(d)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        spin(self.loop)
        self.assertIsNone(self.successResultOf(d))
        self.assertTrue(lifespan.started)
        self.assertEqual(received, [{"type": "lifespan.startup"}])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.shutdown(lifespan)

    def test_startupFailed(self):
        """lifespan.startup.failed fails startup with LifespanFailure in auto and on."""
        for mode in "auto", "on":
            lifespan = self.lifespan(answeringApp([], startup="lifespan.startup.failed"), mode=mode)
            failure = self.failureResultOf(self.startup(lifespan), LifespanFailure)
            self.assertNotIsInstance(failure.value, LifespanTimeout)
            self.assertEqual(str(failure.value), "no database")
            self.assertFalse(lifespan.started)
            self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_startupFailedWithTraceback(self):
        """
        A multi-line startup.failed message (Starlette's traceback) is summed up by its last line
        and kept whole as details.
        """
        traceback = (
            "Traceback (most recent call last):\n"
            '  File "app.py", line 6, in lifespan\n'
            "    raise RuntimeError('database is down')\n"
            "RuntimeError: database is down\n"
        )

        async def app(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.failed", "message": traceback})

        failure = self.failureResultOf(self.startup(self.lifespan(app)), LifespanFailure)
        self.assertEqual(str(failure.value), "RuntimeError: database is down")
        self.assertEqual(failure.value.details, traceback.rstrip())

    def test_startupFailedOneLine(self):
        """A one-line startup.failed message is the failure's message, with no details."""
        failure = self.failureResultOf(
            self.startup(self.lifespan(answeringApp([], startup="lifespan.startup.failed"))),
            LifespanFailure,
        )
        self.assertIsNone(failure.value.details)

    def test_raiseInAuto(self):
        """
        An app raising on the lifespan scope in auto mode means unsupported: startup succeeds, info
        logged.
        """
        calls = []

        async def app(scope, receive, send):
            calls.append(scope["type"])
            assert scope["type"] == "http"

        lifespan = self.lifespan(app, mode="auto")
        self.assertIsNone(self.successResultOf(self.startup(lifespan)))
        self.assertFalse(lifespan.started)
        self.assertEqual(self.levels(), [LogLevel.info])
        self.assertIn("AssertionError", self.logged[0]["why"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))
        self.assertEqual(calls, ["lifespan"])

    def test_raiseInOn(self):
        """An app raising before answering startup in on mode fails startup, traceback logged."""

        async def app(scope, receive, send):
            raise ValueError("no lifespan here")

        lifespan = self.lifespan(app, mode="on")
        failure = self.failureResultOf(self.startup(lifespan), LifespanFailure)
        self.assertIn("no lifespan here", str(failure.value))
        [event] = self.logged
        self.assertEqual(event["log_level"], LogLevel.error)
        self.assertTrue(event["log_failure"].check(ValueError))

    def test_returnWithoutAnswerInOn(self):
        """An app returning without answering startup fails it in on mode."""

        async def app(scope, receive, send):
            await receive()

        lifespan = self.lifespan(app, mode="on")
        self.failureResultOf(self.startup(lifespan), LifespanFailure)

    def test_startupTimeout(self):
        """
        No answer within the timeout fails startup with LifespanTimeout at exactly the timeout,
        cancelling the app.
        """
        seen = []

        async def app(scope, receive, send):
            await receive()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        lifespan = self.lifespan(app, timeout=10)
        d = self.startup(lifespan)
        self.clock.advance(10 - 2**-10)
        spin(self.loop)
        self.assertNoResult(d)
        self.clock.advance(2**-10)
        self.failureResultOf(d, LifespanTimeout)
        spin(self.loop)
        self.assertEqual(seen, ["cancelled"])
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))

    def test_off(self):
        """In off mode the app is never called and both phases succeed at once."""
        calls = []

        async def app(scope, receive, send):
            calls.append(scope)

        lifespan = self.lifespan(app, mode="off")
        self.assertIsNone(self.successResultOf(self.startup(lifespan)))
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))
        self.assertEqual(calls, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_invalidMode(self):
        """A mode other than auto, on, off is refused."""
        self.assertRaises(ValueError, self.lifespan, answeringApp([]), mode="yes")

    def test_startupOnce(self):
        """Startup runs once."""
        lifespan = self.lifespan(answeringApp([]))
        self.startup(lifespan)
        self.assertRaises(RuntimeError, lifespan.startup)
        self.shutdown(lifespan)


class ShutdownTests(LifespanTestCase):
    def test_shutdown(self):
        """Shutdown sends lifespan.shutdown only when asked and fires on shutdown.complete."""
        received = []
        lifespan = self.lifespan(answeringApp(received))
        self.startup(lifespan)
        spin(self.loop, 100)
        self.assertEqual(received, [{"type": "lifespan.startup"}])
        d = lifespan.shutdown()
        self.assertNoResult(d)
        spin(self.loop)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(received, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.logged, [])

    def test_shutdownFailed(self):
        """lifespan.shutdown.failed is logged as an error; shutdown still completes."""
        lifespan = self.lifespan(answeringApp([], shutdown="lifespan.shutdown.failed"))
        self.startup(lifespan)
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))
        [event] = self.logged
        self.assertEqual(event["log_level"], LogLevel.error)
        self.assertEqual(event["message"], "disk full")

    def test_shutdownFailedThenRaises(self):
        """
        An application that reports lifespan.shutdown.failed and then
        raises (Starlette does) is logged once: its message carries the
        traceback.
        """

        async def app(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send(
                {
                    "type": "lifespan.shutdown.failed",
                    "message": "Traceback ...\nValueError: close failed",
                }
            )
            raise ValueError("close failed")

        lifespan = self.lifespan(app)
        self.startup(lifespan)
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))
        spin(self.loop)
        [event] = self.logged
        self.assertEqual(event["log_level"], LogLevel.error)
        self.assertIn("ValueError: close failed", event["message"])

    def test_shutdownRaises(self):
        """An app raising during shutdown is logged as an error; shutdown completes."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            raise ValueError("close failed")

        lifespan = self.lifespan(app)
        self.startup(lifespan)
        self.assertIsNone(self.successResultOf(self.shutdown(lifespan)))
        [event] = self.logged
        self.assertEqual(event["log_level"], LogLevel.error)
        self.assertTrue(event["log_failure"].check(ValueError))

    def test_shutdownTimeout(self):
        """
        No answer to shutdown within the timeout: logged, shutdown completes at exactly the timeout,
        app cancelled.
        """
        seen = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        lifespan = self.lifespan(app, timeout=4)
        self.startup(lifespan)
        d = self.shutdown(lifespan)
        self.clock.advance(4 - 2**-10)
        self.assertNoResult(d)
        self.clock.advance(2**-10)
        self.assertIsNone(self.successResultOf(d))
        spin(self.loop)
        self.assertEqual(seen, ["cancelled"])
        self.assertEqual(self.levels(), [LogLevel.error])

    def test_appEndedEarly(self):
        """If the lifespan task ended after startup, shutdown does nothing."""

        async def app(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.complete"})

        lifespan = self.lifespan(app)
        self.startup(lifespan)
        self.assertIsNone(self.successResultOf(lifespan.shutdown()))
        self.assertEqual(self.clock.getDelayedCalls(), [])


class AdapterLifespanTests(LifespanTestCase):
    def adapter(self, app, **kwargs):
        return ASGIAdapter(app, self.clock, self.loop, **kwargs)

    def test_stateCopiedPerRequest(self):
        """Each request's scope gets a shallow copy of the state startup filled."""
        pool = ["connection"]
        scopes = []

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                await answeringApp([], fill={"pool": pool, "name": "db"})(scope, receive, send)
                return
            scopes.append(scope)
            scope["state"]["name"] = "changed"
            scope["state"]["added"] = True
            await respond(send)

        adapter = self.adapter(app)
        self.successResultOf(self.startup(adapter))
        for _ in range(2):
            exchange, channel = makeExchange(self.clock)
            adapter.handle(exchange)
            spin(self.loop)
            self.assertTrue(channel.finished)
        first, second = (scope["state"] for scope in scopes)
        self.assertIsNot(first, second)
        self.assertEqual(second, {"pool": pool, "name": "changed", "added": True})
        self.assertIs(second["pool"], pool)
        self.assertEqual(adapter.lifespan.state, {"pool": pool, "name": "db"})
        self.successResultOf(self.shutdown(adapter))

    def test_emptyStateNotPassed(self):
        """A lifespan that filled no state gives request scopes an empty state."""
        scopes = []

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                await answeringApp([])(scope, receive, send)
                return
            scopes.append(scope)
            await respond(send)

        adapter = self.adapter(app)
        self.successResultOf(self.startup(adapter))
        exchange, _channel = makeExchange(self.clock)
        adapter.handle(exchange)
        spin(self.loop)
        self.assertEqual(scopes[0]["state"], {})
        self.successResultOf(self.shutdown(adapter))

    def test_unsupportedLifespanStateNotPassed(self):
        """
        State left by a lifespan that raised (unsupported, auto mode) is not passed to requests:
        theirs is empty.
        """
        scopes = []

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                scope["state"]["half"] = "done"
                raise ValueError("lifespan unsupported")
            scopes.append(scope)
            await respond(send)

        adapter = self.adapter(app)
        self.successResultOf(self.startup(adapter))
        exchange, _channel = makeExchange(self.clock)
        adapter.handle(exchange)
        spin(self.loop)
        self.assertEqual(scopes[0]["state"], {})

    def test_adapterStartupFailure(self):
        """The adapter's startup fails when the lifespan does."""
        adapter = self.adapter(answeringApp([], startup="lifespan.startup.failed"), lifespan="on")
        self.failureResultOf(self.startup(adapter), LifespanFailure)

    def test_adapterLifespanOptions(self):
        """The adapter passes its lifespan mode and timeout on."""

        async def app(scope, receive, send):
            await asyncio.Event().wait()

        adapter = self.adapter(app, lifespan="on", lifespanTimeout=2.5)
        d = self.startup(adapter)
        [call] = self.clock.getDelayedCalls()
        self.assertEqual(call.getTime(), 2.5)
        self.clock.advance(2.5)
        self.failureResultOf(d, LifespanTimeout)

    def test_asgi2Lifespan(self):
        """An ASGI 2 application gets a lifespan scope with version 2.0."""
        scopes = []

        class App:
            def __init__(self, scope):
                scopes.append(scope)
                self.app = answeringApp([])

            async def __call__(self, receive, send):
                await self.app(scopes[-1], receive, send)

        adapter = self.adapter(App)
        self.successResultOf(self.startup(adapter))
        self.assertEqual(scopes[0]["asgi"], {"version": "2.0", "spec_version": "2.0"})
        self.successResultOf(self.shutdown(adapter))

    def test_fastAPILifespan(self):
        """
        A FastAPI lifespan= context manager runs at startup and shutdown, and its state reaches
        requests.
        """
        from fastapi import FastAPI, Request

        events = []

        @contextlib.asynccontextmanager
        async def lifespan(app):
            events.append("enter")
            yield {"greeting": "hello"}
            events.append("exit")

        api = FastAPI(lifespan=lifespan)

        @api.get("/")
        async def index(request: Request):
            return {"greeting": request.state.greeting}

        adapter = self.adapter(api, lifespan="on")
        self.successResultOf(self.startup(adapter))
        self.assertEqual(events, ["enter"])
        exchange, channel = makeExchange(self.clock)
        adapter.handle(exchange)
        spin(self.loop)
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(json.loads(channel.body), {"greeting": "hello"})
        self.successResultOf(self.shutdown(adapter))
        self.assertEqual(events, ["enter", "exit"])
        self.assertEqual(self.logged, [])
