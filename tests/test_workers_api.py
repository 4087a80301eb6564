"""
Worker processes through the API (L{gracehttp.makeService} with
C{workers}, for C{.tac} files) and the command line's options, in process
without starting anything; and a C{.tac} file run by C{twistd}.
"""

import os
import socket
import sys
import tempfile
import textwrap
import unittest

from twisted.logger import LogLevel

import gracehttp
from gracehttp import tap
from gracehttp._config import Config
from gracehttp._workers import WorkersService
from gracehttp._workers.process import WorkerSpawner

from .server import Subprocess, childEnvironment, runTwist
from .test_e2e_workers import REPO, SUPERVISING, TIMEOUT, WSGI, get


def wsgiApp(environ, start_response):
    """
    A WSGI application given as an object, not a reference.
    """
    start_response("200 OK", [])
    return [b""]


class MakeServiceTests(unittest.TestCase):
    def test_workersService(self):
        """
        makeService with workers above 1 and a reference gives the parent's
        service; its workers get the reference and every setting.
        """
        service = gracehttp.makeService(WSGI, workers=3, threads=4, listen="tcp:0")
        self.assertIsInstance(service, WorkersService)
        spec = service._spec
        self.assertEqual(spec["app"], WSGI)
        self.assertEqual(
            Config.fromDict(spec["config"]), Config(workers=3, threads=4, listen="tcp:0")
        )
        self.assertEqual((spec["logFormat"], spec["logLevel"]), ("text", "info"))

    def test_mounts(self):
        """
        Mounted applications reach the workers as references with their
        interface.
        """
        service = gracehttp.makeService(mounts={"/a/": WSGI, "/b": (WSGI, "wsgi")}, workers=2)
        self.assertEqual(service._spec["mounts"], [["/a", WSGI, "auto"], ["/b", WSGI, "wsgi"]])

    def test_applicationObjectRefused(self):
        """
        An application object (not a reference) with workers is a one-line
        ValueError: each worker must import it.
        """
        with self.assertRaises(ValueError) as caught:
            gracehttp.makeService(wsgiApp, workers=2)
        self.assertIn("'module:attribute' reference", str(caught.exception))
        self.assertNotIn("\n", str(caught.exception))
        with self.assertRaises(ValueError):
            gracehttp.makeService(mounts={"/a": wsgiApp}, workers=2)

    def test_workersAtLeastOne(self):
        """
        workers must be a whole number of at least 1.
        """
        with self.assertRaises(ValueError) as caught:
            gracehttp.makeService(WSGI, workers=0)
        self.assertIn("workers must be a whole number of at least 1", str(caught.exception))


class OptionsTests(unittest.TestCase):
    def test_parentDoesNotImport(self):
        """
        With --workers 2 the command line does not import the application
        (a worker does): a reference to a missing module parses.
        """
        options = tap.Options()
        options.parseOptions(["--app", "tests.apps.nosuchmodule:app", "--workers", "2"])
        self.assertEqual(options["application"], "tests.apps.nosuchmodule:app")

    def test_workersLogLikeTwist(self):
        """
        The workers log in twist's format, to its log file, at its level.
        """
        options = tap.Options()
        options.parseOptions(["--app", WSGI, "--workers", "2"])
        logFile = tempfile.TemporaryFile("w")
        self.addCleanup(logFile.close)
        options.parent = {"logFormat": "json", "logFile": logFile, "logLevel": LogLevel.warn}
        service = tap.makeService(options)
        self.assertEqual(
            (service._spec["logFormat"], service._logFd, service._spec["logLevel"]),
            ("json", logFile.fileno(), "warn"),
        )


class SpawnerTests(unittest.TestCase):
    def test_systemdVariablesNotPassed(self):
        """
        A worker's environment has no LISTEN_* variables (the sockets they
        described were the parent's) and has its description.
        """
        spawned = []

        class Reactor:
            def spawnProcess(self, protocol, executable, args, env, childFDs):
                spawned.append((args, env, childFDs))

        class Bound:
            description = "tcp:0"
            family = 2

            def fileno(self):
                return 7

        environ = {"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x", "KEEP": "1"}
        spawner = WorkerSpawner(Reactor(), [Bound()], {"app": WSGI}, environ=environ)
        spawner.spawn(0)
        [(args, env, childFDs)] = spawned
        self.assertEqual(args[1:], ["-m", "gracehttp._workers.worker"])
        self.assertEqual(sorted(env), ["GRACEHTTP_WORKER", "KEEP"])
        self.assertEqual(childFDs, {0: "w", 1: 1, 2: 2, 3: 7, 4: "r"})


class TacTests(unittest.TestCase):
    def test_tacWithWorkers(self):
        """
        A .tac file that asks makeService for 2 workers, run by twistd:
        the workers serve (wsgi.multiprocess true), SIGTERM stops it with
        status 0.
        """
        directory = tempfile.mkdtemp()
        tac = os.path.join(directory, "app.tac")
        with open(tac, "w") as f:
            f.write(
                textwrap.dedent(
                    f"""\
                    from twisted.application.service import Application
                    import gracehttp
                    application = Application("workers")
                    gracehttp.makeService(
                        {WSGI!r}, workers=2, listen="tcp:0:interface=127.0.0.1"
                    ).setServiceParent(application)
                    """
                )
            )
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        child = Subprocess(
            [twistd, "-n", "--logfile=-", "--pidfile=", "-y", tac],
            cwd=REPO,
            env=childEnvironment(),
        )
        self.addCleanup(child.stop)
        match = child.waitFor(SUPERVISING, TIMEOUT)
        port = int(match.group(2).rpartition(":")[2])
        status, pid, body = get(port)
        self.assertEqual((status, body), (200, f"{pid} True".encode()))
        self.assertEqual(child.stop(), 0)


class BindFailureTests(unittest.TestCase):
    def test_portInUse(self):
        """
        An endpoint the parent cannot bind: one line naming it and the
        reason, exit status 1, no worker started.
        """
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        child = runTwist(
            "gracehttp",
            "--app",
            WSGI,
            "--workers",
            "2",
            "--listen",
            f"tcp:{port}:interface=127.0.0.1",
            cwd=REPO,
        )
        self.addCleanup(child.stop)
        self.assertEqual(child.wait(TIMEOUT), 1)
        output = child.output()
        self.assertIn(
            f"gracehttp failed to start: cannot listen on 'tcp:{port}:interface=127.0.0.1': "
            "Address already in use",
            output,
        )
        self.assertNotIn("started worker", output)
        self.assertNotIn("Traceback", output)
