"""
The nginx how-to (C{docs/howto/nginx.rst}) followed literally: its proxy
parameters and both of its C{location /api/} blocks (prefix passed on,
prefix stripped) are read from the page, put in front of gracehttp serving
real frameworks with C{--root-path /api}, and spoken to through nginx.

Needs the C{nginx} binary (Debian's C{nginx-light}; C{.ci/run} installs
it).  Without it these tests are skipped, unless
C{GRACEHTTP_REQUIRE_NGINX=1} (set by C{.ci/run}) makes that a failure.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from unittest import SkipTest, TestCase

import httpx

from .server import startInProcess

HOWTO = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "howto", "nginx.rst"
)


def howtoBlocks():
    """
    The C{.. code-block:: nginx} blocks of the how-to, dedented.

    @rtype: L{list} of L{str}
    """
    with open(HOWTO, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for match in re.finditer(r"\.\. code-block:: nginx\n\n((?:    .*\n|\n)+)", text):
        lines = match.group(1).rstrip().splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitForPort(port, process, timeout=10.0):
    """
    Wait until C{port} accepts connections (nginx gives no other sign of
    being ready), for at most C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"nginx did not listen on {port}: {process.stderr.read()}"
                ) from None
            time.sleep(0.05)


class NginxMixin:
    """
    One framework behind nginx, both layouts.
    """

    appRef = None

    @classmethod
    def setUpClass(cls):
        nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
        if nginx is None:
            if os.environ.get("GRACEHTTP_REQUIRE_NGINX") == "1":
                raise AssertionError("nginx is required (GRACEHTTP_REQUIRE_NGINX=1) and not found")
            raise SkipTest("nginx is not installed")
        _host, port, cls.stopApp = startInProcess(cls.appRef, rootPath="/api")
        cls.directory = tempfile.mkdtemp()
        cls.ports = {"passed": freePort(), "stripped": freePort()}
        cls.nginx = subprocess.Popen(
            [nginx, "-p", cls.directory, "-c", cls.writeConfig(port), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for nginxPort in cls.ports.values():
            waitForPort(nginxPort, cls.nginx)

    @classmethod
    def writeConfig(cls, appPort):
        """
        An nginx configuration made of the how-to's own blocks.

        @return: its path.
        """
        params = [b for b in howtoBlocks() if b.startswith("proxy_http_version")]
        locations = [b for b in howtoBlocks() if b.startswith("location /api/")]
        assert len(params) == 1 and len(locations) == 2, (params, locations)
        paramsPath = os.path.join(cls.directory, "gracehttp_params")
        with open(paramsPath, "w") as f:
            f.write(params[0] + "\n")
        passed, stripped = sorted(locations, key=lambda b: "myproject/;" in b)
        servers = []
        for name, location in (("passed", passed), ("stripped", stripped)):
            location = location.replace("/etc/nginx/gracehttp_params", paramsPath)
            servers.append(f"server {{ listen 127.0.0.1:{cls.ports[name]}; {location} }}")
        config = f"""
            daemon off;
            master_process off;
            pid {cls.directory}/nginx.pid;
            events {{ worker_connections 64; }}
            http {{
                access_log off;
                client_body_temp_path {cls.directory}/body;
                proxy_temp_path {cls.directory}/proxy;
                upstream myproject {{ server 127.0.0.1:{appPort}; keepalive 32; }}
                {" ".join(servers)}
            }}
        """
        path = os.path.join(cls.directory, "nginx.conf")
        with open(path, "w") as f:
            f.write(config)
        return path

    @classmethod
    def tearDownClass(cls):
        cls.nginx.terminate()
        cls.nginx.wait(10)
        cls.nginx.stderr.close()
        cls.stopApp()
        shutil.rmtree(cls.directory, ignore_errors=True)

    def expectedURL(self, base, path):
        return path

    def check(self, layout):
        base = f"http://127.0.0.1:{self.ports[layout]}"
        response = httpx.get(base + "/api/items/3", timeout=30)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(),
            {"url": self.expectedURL(base, "/api/items/3"), "path": "/api/items/3"},
        )

    def test_prefixPassedOn(self):
        """Behind the how-to's pass-through block the app routes and builds URLs under /api."""
        self.check("passed")

    def test_prefixStripped(self):
        """Behind the how-to's stripping block the app routes and builds URLs under /api."""
        self.check("stripped")


class FlaskNginxTests(NginxMixin, TestCase):
    appRef = "tests.apps.flask_app:app"


class DjangoWSGINginxTests(NginxMixin, TestCase):
    appRef = "tests.apps.djangoproject.wsgi:application"


class DjangoASGINginxTests(NginxMixin, TestCase):
    appRef = "tests.apps.djangoproject.asgi:application"


class FastAPINginxTests(NginxMixin, TestCase):
    appRef = "tests.apps.starlette_app:app"

    def expectedURL(self, base, path):
        # Starlette's url_for is absolute, built from the Host nginx passes.
        return base + path
