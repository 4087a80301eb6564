"""
The examples in C{examples/}, started as their READMEs say (C{twist
gracehttp --app ...} from the repository's root, in a subprocess, on a free
port of 127.0.0.1), answer real requests; a client that hangs up is seen by
each example's application, and the FastAPI one shows the grace period at
work.  The Docker example's C{Dockerfile}, which no test builds (no Docker
engine runs here), is read for the properties its page promises.

One server per example class.  Every wait is on a log line or an answer,
never on time.
"""

import json
import os
import re
import shlex
import socket
import tempfile
from unittest import TestCase

import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from gracehttp._config import SETTINGS, Config

from .server import startSubprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExampleServerMixin:
    """
    One example served by C{twist gracehttp} for the whole class.

    @cvar appRef: the C{--app} value the example's README gives.
    """

    appRef = None

    @classmethod
    def environment(cls):
        """
        @return: the environment of the server: ours, as a user's shell
            would have it, without the C{DJANGO_SETTINGS_MODULE} that the
            Django tests of this process may have set (the example's own
            default must apply).
        """
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    @classmethod
    def setUpClass(cls):
        cls.server = startSubprocess(cls.appRef, cwd=ROOT, env=cls.environment())
        cls.base = f"http://127.0.0.1:{cls.server.port}"
        cls.session = requests.Session()

    @classmethod
    def tearDownClass(cls):
        cls.session.close()
        cls.server.stop()

    def get(self, path):
        return self.session.get(self.base + path, timeout=30)

    def hangUpWhile(self, path, runningLine):
        """
        Send C{GET path}, wait until the server's log says the application
        is running it, then close the connection without reading an answer.

        @param runningLine: a regular expression for the log line that says
            the request is being worked on.
        """
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))
            self.server.waitFor(runningLine)

    def assertAccessLogged(self, path, outcome):
        """
        Wait for the access log line of C{GET path} with no response and
        C{outcome}.
        """
        self.server.waitFor(
            rf'"GET {re.escape(path)} HTTP/1\.1" - - "-" "-" [\d.]+ {re.escape(outcome)}$'
        )


class FlaskExampleTests(ExampleServerMixin, TestCase):
    """
    C{examples/flask_app}.
    """

    appRef = "examples.flask_app.app:app"

    def test_index(self):
        """
        GET / is answered with the example's greeting.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "Hello from Flask, served by gracehttp\n")

    def test_item(self):
        """
        A JSON view with a URL built by url_for answers.
        """
        self.assertEqual(self.get("/items/3").json(), {"number": 3, "url": "/items/3"})

    def test_echo(self):
        """
        A POSTed body comes back unchanged.
        """
        body = os.urandom(100_000)
        response = self.session.post(self.base + "/echo", data=body, timeout=30)
        self.assertEqual(response.content, body)

    def test_reportDone(self):
        """
        A report whose client waits is answered when it is done.
        """
        self.assertEqual(self.get("/report?seconds=0.2").json(), {"report": "done", "seconds": 0.2})

    def test_reportStopsWhenClientLeaves(self):
        """
        A report whose client hangs up sees environ["gracehttp.disconnected"]
        set, logs that it stopped, and the access log says
        client-disconnected.
        """
        self.hangUpWhile("/report?seconds=31", r"report: started, working for 31\.0 s")
        self.server.waitFor(r"report: client left after [\d.]+ s; stopped and cleaned up")
        self.assertAccessLogged("/report?seconds=31", "client-disconnected")


class DjangoWSGIExampleTests(ExampleServerMixin, TestCase):
    """
    C{examples/django_project} as WSGI.
    """

    appRef = "examples.django_project.wsgi:application"

    def test_index(self):
        """
        GET / is answered by Django, which says it runs as WSGI.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "Hello from Django (WSGI), served by gracehttp\n")

    def test_item(self):
        """
        A JSON view with a URL built by reverse() answers.
        """
        self.assertEqual(self.get("/items/4").json(), {"number": 4, "url": "/items/4"})

    def test_reportStopsWhenClientLeaves(self):
        """
        A sync view whose client hangs up sees
        request.META["gracehttp.disconnected"] set and logs that it stopped.
        """
        self.hangUpWhile("/report?seconds=32", r"report: started, working for 32\.0 s")
        self.server.waitFor(r"report: client left after [\d.]+ s; stopped and cleaned up")
        self.assertAccessLogged("/report?seconds=32", "client-disconnected")


class DjangoASGIExampleTests(ExampleServerMixin, TestCase):
    """
    C{examples/django_project} as ASGI.
    """

    appRef = "examples.django_project.asgi:application"

    def test_index(self):
        """
        GET / is answered by Django, which says it runs as ASGI.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "Hello from Django (ASGI), served by gracehttp\n")

    def test_item(self):
        """
        A JSON view with a URL built by reverse() answers.
        """
        self.assertEqual(self.get("/items/5").json(), {"number": 5, "url": "/items/5"})

    def test_asyncReportCancelledWhenClientLeaves(self):
        """
        An async view whose client hangs up is cancelled by Django when
        gracehttp's http.disconnect reaches it, and logs its cleanup.
        """
        self.hangUpWhile("/async-report?seconds=33", r"async report: started, working for 33\.0 s")
        self.server.waitFor(r"async report: cancelled [\d.]+ s in, the client having left")
        self.assertAccessLogged("/async-report?seconds=33", "client-disconnected")


class FastAPIExampleTests(ExampleServerMixin, TestCase):
    """
    C{examples/fastapi_sqlalchemy}, on a database file of its own.
    """

    appRef = "examples.fastapi_sqlalchemy.app:app"

    @classmethod
    def environment(cls):
        cls.directory = tempfile.TemporaryDirectory()
        path = os.path.join(cls.directory.name, "example.sqlite3")
        return dict(super().environment(), DATABASE_URL="sqlite+aiosqlite:///" + path)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.directory.cleanup()

    def pool(self):
        """
        @return: what GET / says: poolSize, checkedOut, reports.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_index(self):
        """
        GET / reads the database through a pool of 5.
        """
        self.assertEqual(self.pool()["poolSize"], 5)

    def test_reportCommitted(self):
        """
        A report whose client waits is answered and committed.
        """
        before = self.pool()["reports"]
        self.assertEqual(self.get("/report?seconds=0.2").json(), {"report": "done", "seconds": 0.2})
        self.assertEqual(self.pool()["reports"], before + 1)

    def test_reportRollsBackWhenClientLeaves(self):
        """
        A report whose client hangs up is told (http.disconnect), rolls back
        and returns its connection: nothing is committed and no connection
        stays checked out.
        """
        before = self.pool()["reports"]
        self.hangUpWhile("/report?seconds=34", r"report: took a pooled connection .* for 34\.0 s")
        self.server.waitFor(
            r"report: client left after [\d.]+ s; rolled back, connection returned to the pool"
        )
        self.assertAccessLogged("/report?seconds=34", "client-disconnected")
        self.assertEqual(self.pool(), {"poolSize": 5, "checkedOut": 0, "reports": before})

    def test_stubbornCancelledAfterGracePeriod(self):
        """
        A handler that ignores the disconnect is cancelled once the grace
        period (3 s by default) has passed, no sooner; its connection goes
        back to the pool and the access log says cancelled.
        """
        self.hangUpWhile("/stubborn?seconds=35", r"stubborn: holding a pooled connection")
        cancelled = self.server.waitFor(r"stubborn: cancelled by the server ([\d.]+) s after")
        self.assertGreaterEqual(float(cancelled.group(1)), 3.0)
        self.assertAccessLogged("/stubborn?seconds=35", "cancelled")
        self.assertEqual(self.pool()["checkedOut"], 0)


def dockerfileInstructions(path):
    """
    Read a Dockerfile's instructions: comments dropped, continued lines
    joined.

    @return: C{(INSTRUCTION, arguments)} pairs, in order.
    @rtype: L{list} of L{tuple} of (L{str}, L{str})
    """
    instructions = []
    pending = ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            whole = pending + stripped
            pending = ""
            instruction, _, arguments = whole.partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


class DockerExampleTests(TestCase):
    """
    C{examples/docker}: what its Dockerfile and compose file promise, read
    from the files (the image is not built here).
    """

    @classmethod
    def setUpClass(cls):
        directory = os.path.join(ROOT, "examples", "docker")
        cls.instructions = dockerfileInstructions(os.path.join(directory, "Dockerfile"))
        with open(os.path.join(directory, "Dockerfile"), encoding="utf-8") as f:
            cls.dockerfileText = f.read()
        with open(os.path.join(directory, "compose.yaml"), encoding="utf-8") as f:
            cls.compose = f.read()

    def arguments(self, instruction):
        return [args for name, args in self.instructions if name == instruction]

    def command(self):
        """
        @return: the CMD, which must be in exec form (a JSON array).
        """
        [cmd] = self.arguments("CMD")
        return json.loads(cmd)

    def gracehttpOptions(self):
        """
        @return: the CMD's gracehttp options, by name without dashes.
        """
        command = self.command()
        options = command[command.index("gracehttp") + 1 :]
        self.assertEqual(len(options) % 2, 0, options)
        pairs = zip(options[::2], options[1::2], strict=True)
        return {name.removeprefix("--"): value for name, value in pairs}

    def test_runsAsUnprivilegedUser(self):
        """
        The last USER is neither root nor uid 0, and a RUN creates it.
        """
        user = self.arguments("USER")[-1].split(":")[0]
        self.assertNotIn(user, ("root", "0"))
        self.assertTrue(any("useradd" in run and user in run for run in self.arguments("RUN")))

    def test_stopSignal(self):
        """
        STOPSIGNAL is SIGTERM, the signal gracehttp stops gracefully on.
        """
        self.assertEqual(self.arguments("STOPSIGNAL"), ["SIGTERM"])

    def test_serverIsProcessOne(self):
        """
        The CMD is in exec form and runs twist gracehttp itself (no shell in
        between to swallow SIGTERM).
        """
        command = self.command()
        self.assertTrue(command[0].endswith("/twist"), command)
        self.assertIn("gracehttp", command)

    def test_optionsValid(self):
        """
        Every option of the CMD is a gracehttp option and its value is
        accepted by the configuration's checks.
        """
        known = {"app"}
        for setting in SETTINGS:
            known.add(setting.option)
            known.update(alias for alias, _ in setting.aliases)
        options = self.gracehttpOptions()
        self.assertLessEqual(set(options), known)
        values = {}
        for setting in SETTINGS:
            if setting.option in options:
                values[setting.name] = setting.kind.parse(options[setting.option], setting.option)
        Config(**values)

    def test_stopTimeoutCoversGracefulStop(self):
        """
        compose.yaml's stop_grace_period, and the docker run --stop-timeout
        the Dockerfile's header gives, are longer than the longest graceful
        stop of the CMD: graceful timeout + disconnect grace period +
        lifespan timeout.
        """
        options = self.gracehttpOptions()
        longest = sum(
            float(options[name])
            for name in ("graceful-timeout", "disconnect-grace-period", "lifespan-timeout")
        )
        [stop] = re.findall(r"^\s*stop_grace_period:\s*(\d+)s\s*$", self.compose, re.M)
        self.assertGreater(int(stop), longest)
        self.assertIn(f"--stop-timeout {stop}", self.dockerfileText)

    def test_listensOnEveryInterface(self):
        """
        The server listens on every interface of the container, on the port
        the image exposes.
        """
        listen = self.gracehttpOptions()["listen"]
        self.assertRegex(listen, r"^tcp:\d+:interface=0\.0\.0\.0$")
        self.assertEqual(self.arguments("EXPOSE"), [listen.split(":")[1]])

    def test_pluginCacheWritten(self):
        """
        A RUN writes Twisted's plugin cache after installing, so the
        unprivileged user finds the plugin without a rescan each start.
        """
        runs = self.arguments("RUN")
        install = next(i for i, run in enumerate(runs) if "pip install" in run)
        self.assertTrue(any("getPlugins" in run for run in runs[install:]))

    def test_copiedFilesExist(self):
        """
        Every COPY source other than the build context exists in the
        repository, so the image holds the example as the tests run it.
        """
        for arguments in self.arguments("COPY"):
            words = [w for w in shlex.split(arguments) if not w.startswith("--")]
            for source in words[:-1]:
                if source != ".":
                    self.assertTrue(os.path.exists(os.path.join(ROOT, source)), source)


class StarletteChatExampleTests(ExampleServerMixin, TestCase):
    """
    C{examples/starlette_chat}: a WebSocket chat room, talked to with the
    C{websockets} library's client.
    """

    appRef = "examples.starlette_chat.app:app"

    def join(self, name):
        """
        @return: a client in the room as C{name}, once its own join was
            announced to it.
        """
        ws = self.enterContext(
            connect(f"ws://127.0.0.1:{self.server.port}/ws?name={name}", open_timeout=30)
        )
        self.assertEqual(ws.recv(timeout=30), f"* {name} joined")
        return ws

    def test_page(self):
        """
        GET / is the chat page, which opens the room's WebSocket.
        """
        response = self.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("new WebSocket(", response.text)

    def test_talk(self):
        """
        A member's message reaches every member, itself included.
        """
        alice = self.join("alice")
        bob = self.join("bob")
        self.assertEqual(alice.recv(timeout=30), "* bob joined")
        alice.send("hello")
        self.assertEqual(alice.recv(timeout=30), "alice: hello")
        self.assertEqual(bob.recv(timeout=30), "alice: hello")

    def test_dropSeenByApplication(self):
        """
        A member whose connection is lost without a close frame is seen
        leaving with code 1006 by the application, announced to the
        others, and its session is logged client-disconnected.
        """
        carol = self.join("carol")
        dave = self.join("dave")
        self.assertEqual(carol.recv(timeout=30), "* dave joined")
        dave.socket.shutdown(socket.SHUT_RDWR)
        dave.socket.close()
        self.server.waitFor(r"chat: dave left \(code 1006, \d+ in the room\)")
        self.assertEqual(carol.recv(timeout=30), "* dave left")
        self.server.waitFor(r'"GET /ws\?name=dave HTTP/1\.1" 101 .* client-disconnected')

    def test_nameTaken(self):
        """
        A second member with a name in use is refused: the application
        closes before accepting, which is an HTTP 403 to the client.
        """
        self.join("erin")
        with self.assertRaises(InvalidStatus) as caught:
            connect(f"ws://127.0.0.1:{self.server.port}/ws?name=erin", open_timeout=30)
        self.assertEqual(caught.exception.response.status_code, 403)
