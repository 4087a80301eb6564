"""
C{--reload} (L{gracehttp._workers.reloader}): which file changes count,
that a batch of changes reloads through the reactor, and, end to end, that
editing the application's module makes the new code served.
"""

import os
import tempfile
import unittest

from watchfiles import Change

import gracehttp
from gracehttp._workers.reloader import Reloader, ReloadFilter

from .server import startSubprocess
from .test_e2e_workers import SUPERVISING, TIMEOUT, get


class ReloadFilterTests(unittest.TestCase):
    def test_includePatterns(self):
        """
        A file counts if its name matches an include pattern and it is not
        under an ignored directory (version control, caches).
        """
        accept = ReloadFilter(("*.py", "*.html"))
        self.assertTrue(accept(Change.modified, "/srv/app/views.py"))
        self.assertTrue(accept(Change.added, "/srv/app/templates/index.html"))
        self.assertFalse(accept(Change.modified, "/srv/app/notes.txt"))
        self.assertFalse(accept(Change.modified, "/srv/app/__pycache__/views.py"))
        self.assertFalse(accept(Change.modified, "/srv/app/.git/hooks/x.py"))


class FakeReactor:
    def __init__(self):
        self.calls = []

    def callFromThread(self, f, *args):
        self.calls.append((f, args))
        f(*args)


class ReloaderTests(unittest.TestCase):
    def test_batchReloadsOnce(self):
        """
        Each batch of changes watchfiles reports calls reload once, in the
        reactor thread (through callFromThread); empty batches (the
        watch's wake-ups) reload nothing; the watch gets the directories,
        the filter and the stop event.
        """
        reloads = []
        seen = {}

        def watch(*paths, watch_filter, stop_event, **options):
            seen.update(paths=paths, stop=stop_event, filter=watch_filter)
            yield set()
            yield {(Change.modified, "/d/a.py"), (Change.added, "/d/b.py")}
            yield set()
            yield {(Change.deleted, "/d/c.py")}

        reactor = FakeReactor()
        reloader = Reloader(reactor, lambda: reloads.append(1), ["/d"], ("*.py",), watch=watch)
        reloader.run()
        self.assertEqual(len(reloads), 2)
        self.assertEqual(len(reactor.calls), 3)
        self.assertEqual(seen["paths"], ("/d",))
        self.assertIsInstance(seen["filter"], ReloadFilter)
        self.assertFalse(seen["stop"].is_set())
        reloader.stop()
        self.assertTrue(seen["stop"].is_set())

    def test_currentDirectoryByDefault(self):
        """
        Without --reload-dir the current directory is watched.
        """
        seen = []

        def watch(*paths, **kwargs):
            seen.extend(paths)
            return iter(())

        Reloader(FakeReactor(), lambda: None, (), ("*.py",), watch=watch).run()
        self.assertEqual(seen, [os.path.abspath(os.curdir)])

    def test_reloadMakesParent(self):
        """
        makeService with reload and one worker gives the parent's service
        (the parent must not import the application).
        """
        service = gracehttp.makeService("tests.apps.workers_app:wsgi", reload=True)
        self.assertIsInstance(service, gracehttp._workers.WorkersService)


VERSION_APP = """\
VERSION = {version!r}


def app(environ, start_response):
    body = VERSION.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""


class ReloadEndToEndTests(unittest.TestCase):
    def test_editServedAfterReload(self):
        """
        twist gracehttp --reload: editing the application's module replaces
        the worker, and the new code answers.
        """
        directory = tempfile.mkdtemp()
        module = os.path.join(directory, "versioned.py")
        with open(module, "w") as f:
            f.write(VERSION_APP.format(version="one"))
        child = startSubprocess(
            "versioned:app", "--reload", "--reload-dir", directory, cwd=directory
        )
        self.addCleanup(child.stop)
        child.waitFor(SUPERVISING, TIMEOUT)
        child.waitFor("gracehttp reload: watching", TIMEOUT)
        self.assertEqual(get(child.port)[2], b"one")
        with open(module, "w") as f:
            f.write(VERSION_APP.format(version="two"))
        child.waitFor(r"gracehttp reloading: 1 file\(s\) changed: .*versioned\.py", TIMEOUT)
        child.waitFor("gracehttp reloaded: every worker replaced", TIMEOUT)
        self.assertEqual(get(child.port)[2], b"two")
        self.assertEqual(child.stop(), 0)
