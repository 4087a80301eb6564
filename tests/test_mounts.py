"""
Tests for L{gracehttp._apps.mounts}: matching a request to a mount, 404s,
the order of lifespans, and the C{--mount} syntax.
"""

from unittest import TestCase

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from zope.interface import implementer
from zope.interface.verify import verifyObject

from gracehttp._apps.mounts import MountAdapter, mountItems, parseMount
from gracehttp._core.interfaces import IAppAdapter

from .fakes import makeExchange


@implementer(IAppAdapter)
class RecordingAdapter:
    """
    An adapter that records what it is given and asked.
    """

    def __init__(self, name, events, startup=None):
        self.name = name
        self.events = events
        self.handled = []
        self.inFlight = []
        self._startup = startup

    def handle(self, exchange):
        self.handled.append(exchange.rawPath)
        exchange.appStarted(lambda: None)
        exchange.appFinished()

    def startup(self):
        self.events.append(("startup", self.name))
        return self._startup if self._startup is not None else succeed(None)

    def shutdown(self):
        self.events.append(("shutdown", self.name))
        return succeed(None)


class MountAdapterTests(TestCase):
    def setUp(self):
        self.clock = Clock()
        self.events = []
        self.root = RecordingAdapter("root", self.events)
        self.api = RecordingAdapter("api", self.events)
        self.v2 = RecordingAdapter("v2", self.events)

    def adapter(self, rootPath="", withRoot=True):
        mounts = [("/api", self.api), ("/api/v2", self.v2)]
        if withRoot:
            mounts.insert(0, ("", self.root))
        return MountAdapter(mounts, rootPath)

    def route(self, adapter, path):
        exchange, channel = makeExchange(self.clock, path=path)
        adapter.handle(exchange)
        return exchange, channel

    def test_interface(self):
        """MountAdapter provides IAppAdapter."""
        self.assertTrue(verifyObject(IAppAdapter, self.adapter()))

    def test_longestPrefixOnSegments(self):
        """The longest prefix matching on a segment boundary answers; the root takes the rest."""
        adapter = self.adapter()
        cases = {
            b"/api": "api",
            b"/api/x": "api",
            b"/api/v2": "v2",
            b"/api/v2/items": "v2",
            b"/api/v22": "api",
            b"/apix": "root",
            b"/": "root",
        }
        for path, name in cases.items():
            with self.subTest(path=path):
                exchange, _ = self.route(adapter, path)
                self.assertEqual(
                    exchange.mount, {"root": "/", "api": "/api", "v2": "/api/v2"}[name]
                )
        self.assertEqual(self.v2.handled, [b"/api/v2", b"/api/v2/items"])

    def test_noMatchIs404(self):
        """Without a root mount, an unmatched request is answered 404 and never reaches an app."""
        exchange, channel = self.route(self.adapter(withRoot=False), b"/other")
        self.assertEqual(channel.head[0], 404)
        self.assertTrue(channel.finished)
        self.assertEqual(self.root.handled + self.api.handled + self.v2.handled, [])
        self.assertIsNone(exchange.mount)
        self.assertEqual(channel.finishedExchanges, [exchange])

    def test_rootPathComesFirst(self):
        """With a server root path, the mount is matched after it (when the proxy passed it on)."""
        adapter = self.adapter(rootPath="/site")
        self.route(adapter, b"/site/api/x")
        self.route(adapter, b"/api/y")
        self.assertEqual(self.api.handled, [b"/site/api/x", b"/api/y"])

    def test_lifespanOrder(self):
        """Mounts start in the order given and shut down in reverse."""
        adapter = self.adapter()
        adapter.startup()
        adapter.shutdown()
        self.assertEqual(
            self.events,
            [
                ("startup", "root"),
                ("startup", "api"),
                ("startup", "v2"),
                ("shutdown", "v2"),
                ("shutdown", "api"),
                ("shutdown", "root"),
            ],
        )

    def test_failedStartupStops(self):
        """A mount whose startup fails fails the whole startup; later mounts are not started."""
        self.api._startup = fail(RuntimeError("no database"))
        failures = []
        self.adapter().startup().addErrback(failures.append)
        self.assertEqual(len(failures), 1)
        self.assertEqual(self.events, [("startup", "root"), ("startup", "api")])

    def test_slowStartupWaited(self):
        """The next mount starts only when the previous one is ready."""
        waiting = Deferred()
        self.root._startup = waiting
        self.adapter().startup()
        self.assertEqual(self.events, [("startup", "root")])
        waiting.callback(None)
        self.assertEqual(len(self.events), 3)

    def test_duplicatePrefix(self):
        """Two applications at one prefix are refused."""
        with self.assertRaises(ValueError):
            MountAdapter([("/a", self.api), ("/a", self.v2)])


class SyntaxTests(TestCase):
    def test_parseMount(self):
        """--mount PREFIX=REFERENCE[@INTERFACE]; a trailing slash is dropped."""
        self.assertEqual(
            parseMount("/legacy=proj.wsgi:application"),
            ("/legacy", "proj.wsgi:application", "auto"),
        )
        self.assertEqual(
            parseMount("/legacy/=proj.wsgi:application@wsgi"),
            ("/legacy", "proj.wsgi:application", "wsgi"),
        )
        self.assertEqual(parseMount("/=api:app"), ("", "api:app", "auto"))

    def test_badMount(self):
        """A value without '=' or a prefix without '/' is a one-line error."""
        for text in ["proj:app", "/x=", "legacy=proj:app"]:
            with self.subTest(text=text), self.assertRaises(ValueError):
                list(mountItems([text]))

    def test_mapping(self):
        """makeService(mounts=...) takes a mapping of prefixes to apps, references or pairs."""
        app = object()
        self.assertEqual(
            list(mountItems({"/a": app, "/b/": "m:app@wsgi", "/c": (app, "asgi3")})),
            [("/a", app, "auto"), ("/b", "m:app", "wsgi"), ("/c", app, "asgi3")],
        )
