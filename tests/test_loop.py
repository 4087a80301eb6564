"""
Tests for the C{loop} setting (C{--loop auto|asyncio|uvloop}): the asyncio
event loop under Twisted's asyncio reactor.
"""

import asyncio
import os
import socket
import sys
import tempfile
import unittest
from unittest import mock

from gracehttp import _service

from .server import runTwist, startSubprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NewEventLoopTests(unittest.TestCase):
    """
    L{_service.newEventLoop} makes the loop each value asks for.
    """

    def setUp(self):
        # Imported here, not at the top: the child processes import this
        # module for its application, one of them where uvloop is missing.
        import uvloop

        self.uvloop = uvloop

    def kind(self, loop):
        eventLoop = _service.newEventLoop(loop)
        try:
            return type(eventLoop)
        finally:
            eventLoop.close()

    def test_asyncio(self):
        """asyncio: the standard library's loop, even with uvloop installed."""
        self.assertTrue(issubclass(self.kind("asyncio"), asyncio.BaseEventLoop))

    def test_uvloop(self):
        """uvloop: uvloop's loop."""
        self.assertIs(self.kind("uvloop"), self.uvloop.Loop)

    def test_autoInstalled(self):
        """auto: uvloop's loop when uvloop is installed."""
        self.assertIs(self.kind("auto"), self.uvloop.Loop)

    def test_autoMissing(self):
        """auto: the standard library's loop when uvloop cannot be imported."""
        with mock.patch.dict(sys.modules, {"uvloop": None}):
            self.assertTrue(issubclass(self.kind("auto"), asyncio.BaseEventLoop))

    def test_uvloopMissing(self):
        """uvloop, not installed: a one-line ValueError saying how to install it."""
        with mock.patch.dict(sys.modules, {"uvloop": None}):
            with self.assertRaises(ValueError) as caught:
                _service.newEventLoop("uvloop")
        self.assertEqual(
            str(caught.exception),
            "--loop uvloop: uvloop is not installed (pip install 'gracehttp[uvloop]')",
        )


async def _app(scope, receive, send):
    """
    An ASGI application that answers C{ok}.
    """
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class TwistTests(unittest.TestCase):
    """
    C{twist gracehttp --loop}: the server answers, and the start-up line
    names uvloop when it is used.
    """

    def startupLine(self, *options):
        server = startSubprocess("tests.test_loop:_app", "--lifespan", "off", *options, cwd=REPO)
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                self.assertTrue(s.makefile("rb").read().startswith(b"HTTP/1.1 200 OK\r\n"))
            [line] = [x for x in server.output().splitlines() if "gracehttp listening on" in x]
        finally:
            self.assertEqual(server.stop(), 0, server.output())
        return line

    def test_uvloop(self):
        """--loop uvloop: the reactor runs on uvloop."""
        self.assertIn(
            "reactor AsyncioSelectorReactor on uvloop, pid", self.startupLine("--loop", "uvloop")
        )

    def test_asyncio(self):
        """--loop asyncio: the standard library's loop."""
        self.assertIn("reactor AsyncioSelectorReactor, pid", self.startupLine("--loop", "asyncio"))

    def test_uvloopNotInstalled(self):
        """--loop uvloop without uvloop: one line, exit status 1."""
        with tempfile.TemporaryDirectory() as directory:
            os.mkdir(os.path.join(directory, "uvloop"))
            with open(os.path.join(directory, "uvloop", "__init__.py"), "w") as f:
                f.write("raise ImportError('uvloop is missing here')\n")
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [directory, env.get("PYTHONPATH")]))
            child = runTwist(
                "gracehttp", "--app", "tests.test_loop:_app", "--loop", "uvloop", cwd=REPO, env=env
            )
            try:
                self.assertEqual(child.wait(60), 1)
            finally:
                child.stop()
        self.assertEqual(
            child.output(),
            "gracehttp: error: --loop uvloop: uvloop is not installed "
            "(pip install 'gracehttp[uvloop]')\n",
        )
