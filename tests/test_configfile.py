"""
Tests for L{gracehttp._configfile}: the configuration file and the
C{GRACEHTTP_*} environment variables, parsed and checked from the settings
table.
"""

import inspect
import os
import re
import tempfile
import textwrap
import unittest

from twisted.logger import Logger, formatEvent

import gracehttp
from gracehttp._config import SETTINGS, Config
from gracehttp._configfile import (
    ENTRIES,
    ConfigError,
    layered,
    loadConfig,
    readEnvironment,
    readFile,
    variableName,
)


def writeFile(testCase, text, name="gracehttp.toml"):
    """
    Write C{text} (dedented) to a file in a temporary directory removed
    after the test.

    @return: its path.
    """
    directory = tempfile.TemporaryDirectory()
    testCase.addCleanup(directory.cleanup)
    path = os.path.join(directory.name, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    return path


def collectingLogger():
    """
    @return: a L{Logger} and the list of the texts it logs, with levels.
    """
    events = []
    log = Logger(
        observer=lambda event: events.append((event["log_level"].name, formatEvent(event)))
    )
    return log, events


class FileTests(unittest.TestCase):
    """
    L{readFile} reads every kind of option from TOML values of its type.
    """

    def assertFileError(self, text, message):
        """
        The file's text is refused with exactly C{message} (C{PATH} stands
        for the file's path).
        """
        path = writeFile(self, text)
        with self.assertRaises(ConfigError) as caught:
            readFile(path)
        self.assertEqual(str(caught.exception), message.replace("PATH", path))
        self.assertNotIn("\n", str(caught.exception))

    def test_everyKind(self):
        """
        Booleans (flags and on/off), integers, seconds as integers or floats,
        choices, strings, address lists, and arrays for repeatable options.
        """
        path = writeFile(
            self,
            """
            app = "main:app"
            mount = ["/legacy=proj.wsgi:application@wsgi", "/v2=api:app"]
            log-level = "warn"
            interface = "asgi3"
            listen = ["tcp:8000", "unix:/run/app.sock:mode=660"]
            threads = 4
            disconnect-grace-period = 1
            lifespan-timeout = 7.5
            limit-request-body = 0
            proxy-headers = true
            h2c = false
            ws-per-message-deflate = false
            forwarded-allow-ips = ["10.0.0.0/8", "::1"]
            access-log = "off"
            root-path = "/api"
            """,
        )
        self.assertEqual(
            readFile(path),
            {
                "app": "main:app",
                "mount": ["/legacy=proj.wsgi:application@wsgi", "/v2=api:app"],
                "logLevel": "warn",
                "interface": "asgi3",
                "listen": ["tcp:8000", "unix:/run/app.sock:mode=660"],
                "threads": 4,
                "disconnectGracePeriod": 1.0,
                "lifespanTimeout": 7.5,
                "limitRequestBody": 0,
                "proxyHeaders": True,
                "h2c": False,
                "wsPerMessageDeflate": False,
                "forwardedAllowIPs": ("10.0.0.0/8", "::1"),
                "accessLog": "off",
                "rootPath": "/api",
            },
        )

    def test_singleStrings(self):
        """One string is accepted for a repeatable option and for an address list."""
        path = writeFile(
            self,
            """
            listen = "tcp:8000"
            mount = "/a=m:app"
            forwarded-allow-ips = "10.0.0.1, 10.0.0.2"
            """,
        )
        self.assertEqual(
            readFile(path),
            {
                "listen": ["tcp:8000"],
                "mount": ["/a=m:app"],
                "forwardedAllowIPs": ("10.0.0.1", "10.0.0.2"),
            },
        )

    def test_alias(self):
        """An option's alias is a key too."""
        path = writeFile(self, "asgi-disconnect-grace-period = 0.5\n")
        self.assertEqual(readFile(path), {"disconnectGracePeriod": 0.5})

    def test_empty(self):
        """An empty file sets nothing."""
        self.assertEqual(readFile(writeFile(self, "")), {})

    def test_missing(self):
        """A file that does not exist: one line naming it."""
        with self.assertRaises(ConfigError) as caught:
            readFile("/nonexistent/gracehttp.toml")
        self.assertEqual(
            str(caught.exception),
            "cannot read the configuration file '/nonexistent/gracehttp.toml': "
            "No such file or directory",
        )

    def test_notTOML(self):
        """Text that is not TOML: one line naming the file and where."""
        self.assertFileError(
            "threads = 4\naccess-log off\n",
            "PATH is not a TOML file: Expected '=' after a key in a key/value pair "
            "(at line 2, column 12)",
        )

    def test_notUTF8(self):
        """Bytes that are not UTF-8 are not TOML either."""
        path = writeFile(self, "")
        with open(path, "wb") as f:
            f.write(b'root-path = "\xff"\n')
        with self.assertRaises(ConfigError) as caught:
            readFile(path)
        self.assertIn("is not a TOML file", str(caught.exception))

    def test_unknownKey(self):
        """A key that names no option is an error, with the closest key as a hint."""
        self.assertFileError(
            'acces-log = "off"\n',
            "PATH: unknown key 'acces-log' (did you mean 'access-log'?)",
        )
        self.assertFileError("[server]\nport = 8000\n", "PATH: unknown key 'server'")

    def test_wrongType(self):
        """A value of another TOML type than the option's is an error naming both."""
        cases = [
            ('threads = "4"', "PATH: threads must be an integer, not a string ('4')"),
            ("threads = 4.5", "PATH: threads must be an integer, not a float (4.5)"),
            ("threads = true", "PATH: threads must be an integer, not a boolean (True)"),
            ("proxy-headers = 1", "PATH: proxy-headers must be true or false, not an integer (1)"),
            (
                'ws-per-message-deflate = "off"',
                "PATH: ws-per-message-deflate must be true or false, not a string ('off')",
            ),
            (
                "timeout-header = true",
                "PATH: timeout-header must be an integer or a number, not a boolean (True)",
            ),
            ("lifespan = 1", "PATH: lifespan must be a string, not an integer (1)"),
            ("access-log = false", "PATH: access-log must be a string, not a boolean (False)"),
            ("listen = [8000]", "PATH: listen must be an array of strings, not [8000]"),
            (
                "listen = 8000",
                "PATH: listen must be a string or an array of strings, not an integer (8000)",
            ),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                self.assertFileError(text + "\n", message)

    def test_outOfRange(self):
        """A value of the right type but out of range names the file and the key."""
        self.assertFileError(
            "threads = 0\n", "PATH: threads must be a whole number of at least 1, not 0"
        )
        self.assertFileError(
            'lifespan = "maybe"\n', "PATH: lifespan must be one of auto, on, off, not 'maybe'"
        )
        self.assertFileError(
            'mount = ["legacy"]\n',
            "PATH: mount: --mount 'legacy' is not of the form PREFIX=MODULE:ATTRIBUTE[@INTERFACE]",
        )

    def test_settingTwice(self):
        """A setting and its alias both given: an error."""
        self.assertFileError(
            "disconnect-grace-period = 1\nasgi-disconnect-grace-period = 2\n",
            "PATH gives both disconnect-grace-period and asgi-disconnect-grace-period, "
            "the same setting",
        )

    def test_everySetting(self):
        """Every setting of the table, and every alias, is a key."""
        for setting in SETTINGS:
            self.assertEqual(ENTRIES[setting.option].name, setting.name)
            for alias, _ in setting.aliases:
                self.assertEqual(ENTRIES[alias].name, setting.name)


class EnvironmentTests(unittest.TestCase):
    """
    L{readEnvironment} reads C{GRACEHTTP_*} variables as command-line text.
    """

    def read(self, environ):
        log, events = collectingLogger()
        return readEnvironment(environ, log), events

    def test_names(self):
        """A variable is GRACEHTTP_ and the option upper-cased, - made _."""
        self.assertEqual(variableName("access-log"), "GRACEHTTP_ACCESS_LOG")
        self.assertEqual(variableName("h2c"), "GRACEHTTP_H2C")

    def test_everyKind(self):
        """
        Command-line text for each option; boolean words for flags and on/off
        options; white space between the values of a repeatable option.
        """
        values, events = self.read(
            {
                "GRACEHTTP_APP": "main:app",
                "GRACEHTTP_MOUNT": "/a=m:app\n/b=n:app@wsgi",
                "GRACEHTTP_LOG_LEVEL": "debug",
                "GRACEHTTP_LISTEN": "tcp:8000  unix:/run/app.sock:mode=660",
                "GRACEHTTP_THREADS": "4",
                "GRACEHTTP_ASGI_DISCONNECT_GRACE_PERIOD": "-1",
                "GRACEHTTP_PROXY_HEADERS": "Yes",
                "GRACEHTTP_H2C": "0",
                "GRACEHTTP_WS_PER_MESSAGE_DEFLATE": "off",
                "GRACEHTTP_FORWARDED_ALLOW_IPS": "10.0.0.1,10.0.0.2",
                "GRACEHTTP_ACCESS_LOG": "/var/log/access.log",
                "PATH": "/bin",
            }
        )
        self.assertEqual(
            values,
            {
                "app": "main:app",
                "mount": ["/a=m:app", "/b=n:app@wsgi"],
                "logLevel": "debug",
                "listen": ["tcp:8000", "unix:/run/app.sock:mode=660"],
                "threads": 4,
                "disconnectGracePeriod": -1.0,
                "proxyHeaders": True,
                "h2c": False,
                "wsPerMessageDeflate": False,
                "forwardedAllowIPs": ("10.0.0.1", "10.0.0.2"),
                "accessLog": "/var/log/access.log",
            },
        )
        self.assertEqual(events, [])

    def test_emptyIsUnset(self):
        """An empty variable sets nothing."""
        self.assertEqual(self.read({"GRACEHTTP_THREADS": "", "GRACEHTTP_LISTEN": ""})[0], {})

    def test_badValues(self):
        """A bad value is one line naming the variable."""
        cases = [
            ({"GRACEHTTP_THREADS": "x"}, "GRACEHTTP_THREADS must be a whole number, not 'x'"),
            (
                {"GRACEHTTP_THREADS": "0"},
                "GRACEHTTP_THREADS must be a whole number of at least 1, not 0",
            ),
            ({"GRACEHTTP_H2C": "maybe"}, "GRACEHTTP_H2C must be true or false, not 'maybe'"),
            (
                {"GRACEHTTP_TIMEOUT_HEADER": "soon"},
                "GRACEHTTP_TIMEOUT_HEADER must be a number of seconds, not 'soon'",
            ),
            (
                {
                    "GRACEHTTP_DISCONNECT_GRACE_PERIOD": "1",
                    "GRACEHTTP_ASGI_DISCONNECT_GRACE_PERIOD": "2",
                },
                "the environment gives both GRACEHTTP_ASGI_DISCONNECT_GRACE_PERIOD and "
                "GRACEHTTP_DISCONNECT_GRACE_PERIOD, the same setting",
            ),
        ]
        for environ, message in cases:
            with self.subTest(environ=environ):
                with self.assertRaises(ConfigError) as caught:
                    self.read(environ)
                self.assertEqual(str(caught.exception), message)

    def test_unknownVariableWarned(self):
        """
        An unknown GRACEHTTP_ variable is ignored with one warning, naming the
        closest option's variable if one is close; GRACEHTTP_CONFIG is known.
        """
        values, events = self.read(
            {
                "GRACEHTTP_ACCES_LOG": "off",
                "GRACEHTTP_CONFIG": "gracehttp.toml",
                "GRACEHTTP_REQUIRE_NGINX": "1",
                "GRACEHTTP_THREADS": "2",
            }
        )
        self.assertEqual(values, {"threads": 2})
        self.assertEqual(
            events,
            [
                (
                    "warn",
                    "GRACEHTTP_ACCES_LOG is not a gracehttp option; ignored "
                    "(did you mean 'GRACEHTTP_ACCESS_LOG'?)",
                ),
                ("warn", "GRACEHTTP_REQUIRE_NGINX is not a gracehttp option; ignored"),
            ],
        )


class LayerTests(unittest.TestCase):
    """
    L{layered} puts the environment over the file.
    """

    def test_environmentOverFile(self):
        """The environment's value wins; a repeatable option's list is replaced whole."""
        path = writeFile(
            self,
            """
            threads = 2
            root-path = "/api"
            listen = ["tcp:8001", "tcp:8002"]
            """,
        )
        log, _ = collectingLogger()
        values = layered(path, {"GRACEHTTP_THREADS": "3", "GRACEHTTP_LISTEN": "tcp:8003"}, log)
        self.assertEqual(values, {"threads": 3, "rootPath": "/api", "listen": ["tcp:8003"]})

    def test_noFile(self):
        """Without a file, the environment alone."""
        log, _ = collectingLogger()
        self.assertEqual(layered(None, {"GRACEHTTP_THREADS": "3"}, log), {"threads": 3})


class LoadConfigTests(unittest.TestCase):
    """
    L{gracehttp.loadConfig} gives a C{.tac} file the settings of a
    configuration file as L{gracehttp.makeService} keywords.
    """

    def test_makeServiceKeywords(self):
        """
        Each key becomes its makeService keyword (mount becomes mounts; log-level is left
        out), and the settings make a Config.
        """
        path = writeFile(
            self,
            """
            app = "main:app"
            mount = ["/a=m:app"]
            log-level = "warn"
            threads = 4
            listen = ["tcp:8000"]
            """,
        )
        keywords = gracehttp.loadConfig(path)
        self.assertEqual(
            keywords,
            {"app": "main:app", "mounts": ["/a=m:app"], "threads": 4, "listen": ["tcp:8000"]},
        )
        parameters = inspect.signature(gracehttp.makeService).parameters
        self.assertLessEqual(set(keywords), set(parameters))
        config = Config(**{k: v for k, v in keywords.items() if k not in ("app", "mounts")})
        self.assertEqual(config.listen, ("tcp:8000",))

    def test_environment(self):
        """With an environment, its variables win and GRACEHTTP_CONFIG names the file."""
        path = writeFile(self, "threads = 4\nroot-path = '/api'\n")
        self.assertEqual(
            loadConfig(environ={"GRACEHTTP_CONFIG": path, "GRACEHTTP_THREADS": "8"}),
            {"threads": 8, "rootPath": "/api"},
        )
        self.assertEqual(loadConfig(path), {"threads": 4, "rootPath": "/api"})

    def test_nothing(self):
        """No file and no environment: no keywords."""
        self.assertEqual(loadConfig(), {})

    def test_error(self):
        """A bad file raises ConfigError, a ValueError."""
        with self.assertRaises(ValueError):
            loadConfig(writeFile(self, "threads = 'x'\n"))


class DocumentedExampleTests(unittest.TestCase):
    """
    The example configuration file of the docs is valid and complete.
    """

    def test_everyOption(self):
        """
        docs/examples/gracehttp.toml reads without error and names every
        option, set or (an option off by default) in a commented example.
        """
        path = os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "docs",
            "examples",
            "gracehttp.toml",
        )
        values = readFile(path)
        with open(path) as f:
            commented = {m.group(1) for m in re.finditer(r"^# ([a-z0-9-]+) = ", f.read(), re.M)}
        aliases = {alias for setting in SETTINGS for alias, _ in setting.aliases}
        named = set(values) | {ENTRIES[key].name for key in commented if key in ENTRIES}
        self.assertEqual(named, {ENTRIES[key].name for key in ENTRIES if key not in aliases})
