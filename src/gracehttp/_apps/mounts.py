"""
Several applications in one server, each under its own path prefix: the
C{--mount PREFIX=MODULE:ATTRIBUTE[@INTERFACE]} option and
C{makeService(mounts=...)}.

Theory of operation
===================

Each mounted application has an adapter of its own (ASGI or WSGI, detected
or given), made with the mount's prefix as its root path, so that it sees
the prefix as C{root_path} (ASGI) or C{SCRIPT_NAME} (WSGI) and builds
URLs under it, with the root path's one meaning (a target already under it
is not prefixed again).  A L{MountAdapter} is the one adapter the server
sees, and hands each exchange to the adapter of the mount that matches:

  - the longest prefix that matches the request's path on a segment
    boundary (C{/api} matches C{/api} and C{/api/x}, not C{/apix}); the
    C{--app} application, if any, is the root mount (prefix C{""}), which
    matches every path;
  - a WebSocket upgrade request is routed the same way
    (L{MountAdapter.sessionAdapterFor}): an ASGI mount gets the session,
    with the prefix as its C{root_path}; a WSGI mount answers the request
    as plain HTTP;
  - the path matched is the raw request path (percent-encoded as sent),
    after the server's own C{--root-path} if the request carries it;
  - a request that matches no mount is answered C{404 Not Found} without
    reaching an application;
  - the exchange records its mount (C{exchange.mount}), for the access
    log.

Lifespan: L{MountAdapter.startup} starts the mounts one after the other,
in the order given (the root mount first), so each ASGI mount's lifespan
startup runs once, and a failed one stops the server; L{MountAdapter.shutdown}
shuts them down in the reverse order.  WSGI mounts each have a thread pool
of their own (C{--threads} threads each): a slow mount cannot take the
threads of another, and each pool's admission (a request whose client left
while it waited is never started) stays exact.
"""

from twisted.internet.defer import Deferred
from zope.interface import implementer

from gracehttp._core.interfaces import IAppAdapter, ISessionAdapter

_NOT_FOUND = b"Not Found\n"
_NOT_FOUND_HEADERS = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(_NOT_FOUND)),
)

INTERFACE_SEPARATOR = "@"
"""
What separates an application reference from the interface forced for it
in a C{--mount} value (C{/legacy=proj.wsgi:application@wsgi}).
"""


def parseMount(text):
    """
    Parse one C{--mount} value.

    @param text: C{PREFIX=MODULE:ATTRIBUTE}, optionally followed by
        C{@INTERFACE} (C{auto}, C{asgi}, C{asgi3}, C{asgi2} or C{wsgi}).
    @type text: L{str}
    @return: the prefix (see L{normalisePrefix}), the reference, and the
        interface (C{"auto"} when none is given).
    @rtype: L{tuple} of (L{str}, L{str}, L{str})
    @raise ValueError: the value is not of that form (a one-line message).
    """
    prefix, equals, reference = text.partition("=")
    if not equals or not reference:
        raise ValueError(f"--mount {text!r} is not of the form PREFIX=MODULE:ATTRIBUTE[@INTERFACE]")
    reference, separator, interface = reference.partition(INTERFACE_SEPARATOR)
    return normalisePrefix(prefix), reference, interface if separator else "auto"


def mountItems(mounts):
    """
    The mounts of C{makeService(mounts=...)}, one by one.

    @param mounts: a mapping of prefix to an application, a reference
        (C{"module:attr"}, optionally C{"@interface"}), or C{(application or
        reference, interface)}; or an iterable of C{--mount} values.
    @return: C{(prefix, application or reference, interface)} per mount.
    @rtype: iterator of L{tuple}
    @raise ValueError: a prefix or a C{--mount} value is malformed.
    """
    if isinstance(mounts, str):
        mounts = [mounts]
    if not hasattr(mounts, "items"):
        for text in mounts:
            yield parseMount(text)
        return
    for prefix, target in mounts.items():
        interface = "auto"
        if isinstance(target, tuple):
            target, interface = target
        elif isinstance(target, str):
            target, separator, given = target.partition(INTERFACE_SEPARATOR)
            interface = given if separator else "auto"
        yield normalisePrefix(prefix), target, interface


def normalisePrefix(prefix):
    """
    @param prefix: a mount's path prefix, e.g. C{"/legacy"} or C{"/"}.
    @type prefix: L{str}
    @return: the prefix without a trailing slash; C{""} for the root.
    @rtype: L{str}
    @raise ValueError: it does not start with C{/}.
    """
    if not prefix.startswith("/"):
        raise ValueError(f"a mount prefix must start with '/', not {prefix!r}")
    return prefix.rstrip("/")


def _under(path, prefix):
    """
    Is the raw path C{path} at or under C{prefix} (on a segment boundary)?

    @type path: L{bytes}
    @type prefix: L{bytes}
    @rtype: L{bool}
    """
    return path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (b"", b"/")


@implementer(IAppAdapter)
class MountAdapter:
    """
    Hands each exchange to the adapter of the mount its path falls under
    (see the module docstring).

    @ivar _mounts: C{(prefix, adapter)} in the order given (startup order).
    @ivar _byLength: C{(prefix as bytes, prefix, adapter)}, longest first
        (matching order).
    @ivar _rootPath: the server's C{--root-path}, as raw bytes.
    """

    def __init__(self, mounts, rootPath=""):
        """
        @param mounts: the mounts, in the order their lifespans start.
        @type mounts: L{list} of C{(prefix, adapter)}: a prefix from
            L{normalisePrefix}, an L{IAppAdapter}
        @param rootPath: the server's root path (C{--root-path}).
        @type rootPath: L{str}
        @raise ValueError: two mounts have the same prefix.
        """
        prefixes = [prefix for prefix, adapter in mounts]
        for prefix in prefixes:
            if prefixes.count(prefix) > 1:
                raise ValueError(f"two applications are mounted at {prefix or '/'!r}")
        self._mounts = list(mounts)
        self._byLength = sorted(
            ((prefix.encode("utf-8"), prefix, adapter) for prefix, adapter in mounts),
            key=lambda mount: -len(mount[0]),
        )
        self._rootPath = rootPath.rstrip("/").encode("utf-8")

    def _route(self, request):
        """
        The mount C{request}'s path falls under.

        @type request: L{gracehttp._core.exchange.Exchange}
        @return: C{(prefix, adapter)}, or L{None} when no mount matches.
        """
        path = request.rawPath
        root = self._rootPath
        if root and _under(path, root):
            path = path[len(root) :] or b"/"
        for raw, prefix, adapter in self._byLength:
            if _under(path, raw):
                return prefix, adapter
        return None

    def handle(self, exchange):
        """
        Run the application mounted where C{exchange}'s path falls, or
        answer 404.

        @type exchange: L{gracehttp._core.exchange.Exchange}
        """
        mount = self._route(exchange)
        if mount is not None:
            prefix, adapter = mount
            exchange.mount = prefix or "/"
            adapter.handle(exchange)
            return
        if not exchange.disconnected:
            exchange.startResponse(404, _NOT_FOUND_HEADERS)
            exchange.write(_NOT_FOUND)
            exchange.finish()
        exchange.appFinished()

    def sessionAdapterFor(self, request):
        """
        Route a WebSocket upgrade request as any other request: the adapter
        of the mount it falls under, if that application takes WebSocket
        sessions (an ASGI one).

        @type request: L{gracehttp._core.exchange.Exchange}
        @return: the mount's adapter, or L{None} (a WSGI mount, or none
            matches: the request is then answered as plain HTTP, through
            L{handle}).
        @rtype: L{ISessionAdapter} or L{None}
        """
        mount = self._route(request)
        if mount is None or not ISessionAdapter.providedBy(mount[1]):
            return None
        prefix, adapter = mount
        request.mount = prefix or "/"
        return adapter

    def startup(self):
        """
        Start the mounts one after the other, in order.

        @return: a Deferred that fires when all are ready, or fails with
            the first failure (the mounts after it are not started).
        """
        return self._inTurn([adapter for prefix, adapter in self._mounts], "startup")

    def shutdown(self):
        """
        Shut the mounts down one after the other, in the reverse order.

        @return: a Deferred that fires when all are done.
        """
        return self._inTurn([adapter for prefix, adapter in reversed(self._mounts)], "shutdown")

    def _inTurn(self, adapters, method):
        d = Deferred()
        d.callback(None)
        for adapter in adapters:
            d.addCallback(lambda ignored, adapter=adapter: getattr(adapter, method)())
        return d

    @property
    def inFlight(self):
        """
        Every mount's in-flight Deferreds.

        @rtype: L{list} of L{Deferred}
        """
        return [d for prefix, adapter in self._mounts for d in adapter.inFlight]
