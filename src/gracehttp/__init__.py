"""
gracehttp: a WSGI and ASGI application container on Twisted.

When a client goes away mid-request the application is told (ASGI
C{http.disconnect}, WSGI C{environ["gracehttp.disconnected"]}), gets a grace
period to clean up, and only then is cancelled.

Serve from the command line with C{twist gracehttp module:app} (or the
C{gracehttp} command), or from a C{.tac} file with L{makeService}
(L{loadConfig} reads the command line's configuration file for it).
"""

from gracehttp import _version
from gracehttp._configfile import ConfigError, loadConfig
from gracehttp._errors import AppLoadError, ClientDisconnected, LifespanFailure, LifespanTimeout
from gracehttp._service import makeService
from gracehttp.tap import Options

__version__ = _version.__version__.public()
"""
The version of gracehttp, e.g. C{"0.1.0"} (kept by incremental in
C{gracehttp/_version.py}).
"""

__all__ = [
    "AppLoadError",
    "ClientDisconnected",
    "ConfigError",
    "LifespanFailure",
    "LifespanTimeout",
    "Options",
    "__version__",
    "loadConfig",
    "makeService",
]
