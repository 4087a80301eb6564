"""
Turn an C{--app} reference into an application, and tell WSGI from ASGI.
"""

import asyncio.coroutines
import importlib
import inspect
import os
import sys
import traceback

from ._errors import AppLoadError

# asgiref's markcoroutinefunction() (used by Django) marks sync callables
# that return awaitables this way on Python 3.11; inspect does not know it.
_COROUTINE_MARKER = getattr(asyncio.coroutines, "_is_coroutine", None)


def loadApp(reference):
    """
    Import the application named by C{reference}.

    The forms are C{"module:attribute"}, C{"module:attribute.sub"} (an
    attribute of an attribute) and C{"module:factory()"} (call a
    zero-argument factory and serve what it returns).  The current directory
    is made importable first, as uvicorn and gunicorn do, so C{myapp:app}
    works from the project's directory.

    @param reference: the C{--app} value.
    @type reference: L{str}
    @return: the application callable.
    @raise AppLoadError: with a one-line message when the reference is
        malformed, the module cannot be imported, an attribute is missing,
        the factory fails or the result is not callable.
    """
    moduleName, _, attributePath = reference.partition(":")
    call = attributePath.endswith("()")
    if call:
        attributePath = attributePath[:-2]
    names = attributePath.split(".")
    if not moduleName or not all(name.isidentifier() for name in names):
        raise AppLoadError(
            f"--app {reference!r} is not of the form MODULE:ATTRIBUTE "
            f"(e.g. myproject.asgi:application)"
        )
    _makeCurrentDirectoryImportable()
    app = _getAttributes(_importModule(moduleName), moduleName, names)
    if call:
        try:
            app = app()
        except Exception as e:
            raise AppLoadError(
                f"calling {reference!r} failed: {_describe(e)}"
            ) from e
    if not callable(app):
        raise AppLoadError(
            f"{reference!r} is not callable (it is a {type(app).__name__})"
        )
    return app


def detectInterface(app):
    """
    Tell which spec an application follows (DESIGN.md section 6).

    An ASGI application (ASGI 3.0, C{(scope, receive, send)}) is a coroutine
    function, an object whose C{__call__} is one, or a class whose instances
    are awaited (ASGI 3) or called with C{(receive, send)} (ASGI 2,
    "double-callable").  Anything else callable is a WSGI application
    (PEP 3333).

    @param app: the application.
    @return: C{"asgi"} or C{"wsgi"}.
    @rtype: L{str}
    """
    if inspect.isclass(app):
        if hasattr(app, "__await__") or isCoroutineFunction(app.__call__):
            return "asgi"
        return "wsgi"
    if isCoroutineFunction(app) or isCoroutineFunction(
        getattr(app, "__call__", None)
    ):
        return "asgi"
    return "wsgi"


def isCoroutineFunction(obj):
    """
    Is C{obj} a coroutine function, as C{inspect} sees it or as asgiref's
    C{markcoroutinefunction} marks it?

    @rtype: L{bool}
    """
    return inspect.iscoroutinefunction(obj) or (
        _COROUTINE_MARKER is not None
        and getattr(obj, "_is_coroutine", None) is _COROUTINE_MARKER
    )


def _makeCurrentDirectoryImportable():
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _importModule(moduleName):
    try:
        return importlib.import_module(moduleName)
    except ModuleNotFoundError as e:
        # Only "the module itself (or a parent package) does not exist" is
        # reported as such; a missing import inside the module is its error.
        if e.name is not None and (
            moduleName == e.name or moduleName.startswith(e.name + ".")
        ):
            raise AppLoadError(f"No module named {e.name!r}") from e
        raise AppLoadError(
            f"importing {moduleName!r} failed: {_describe(e)}"
        ) from e
    except Exception as e:
        raise AppLoadError(
            f"importing {moduleName!r} failed: {_describe(e)}"
        ) from e


def _getAttributes(obj, path, names):
    for name in names:
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise AppLoadError(f"{path!r} has no attribute {name!r}") from None
        path = f"{path}:{name}" if ":" not in path else f"{path}.{name}"
    return obj


def _describe(error):
    """
    One line saying what went wrong and where.

    @type error: L{BaseException}
    @rtype: L{str}
    """
    message = " ".join(str(error).split())
    where = ""
    if isinstance(error, SyntaxError) and error.filename:
        message = error.msg
        where = f" ({error.filename}, line {error.lineno})"
    else:
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            where = f" ({frames[-1].filename}, line {frames[-1].lineno})"
    return f"{type(error).__name__}: {message}{where}"
