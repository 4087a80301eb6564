"""
Turn an C{--app} reference into an application, and tell WSGI from ASGI
(and ASGI 3 from ASGI 2).
"""

import asyncio.coroutines
import importlib
import inspect
import os
import sys
import traceback

from gracehttp._errors import AppLoadError

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
            raise AppLoadError(f"calling {reference!r} failed: {_describe(e)}") from e
    if not callable(app):
        raise AppLoadError(f"{reference!r} is not callable (it is a {type(app).__name__})")
    return app


def detectInterface(app):
    """
    Tell which spec, and which ASGI version, an application follows.

    In this order:

      1. A class: instances that are awaitable (C{__await__}) make it an
         ASGI 3 application (C{App(scope, receive, send)} is awaited);
         instances with an C{async __call__}, or an C{__init__} that takes
         one argument, make it an ASGI 2 "double-callable" (C{App(scope)}
         is called with C{(receive, send)}; ASGI spec, "Legacy
         Applications").  Any other class is WSGI: PEP 3333 allows a class
         whose instances are the response iterable.
      2. A coroutine function, an object whose C{__call__} is one, or a
         callable marked by asgiref's C{markcoroutinefunction}: ASGI 3.
      3. Any other callable, by the positional parameters it requires
         (L{inspect.signature}; C{self} and the arguments a
         C{functools.partial} binds are not counted): three
         C{(scope, receive, send)} is ASGI 3 (a plain C{def __call__} that
         returns a coroutine, as much middleware is written), two
         C{(environ, start_response)} is WSGI, one C{(scope)} is ASGI 2.
      4. What the signature cannot tell (no signature, C{*args}, another
         count): WSGI, the PEP 3333 callable.

    uvicorn, which serves only ASGI, stops after steps 1 and 2: for it
    every other callable is ASGI 2, including an ASGI 3 callable whose
    C{__call__} is a plain C{def}.  Step 3 is what tells those apart; a
    callable that hides its parameters (C{*args} without
    C{functools.wraps}) still needs C{--interface}.

    @param app: the application.
    @return: C{"asgi3"}, C{"asgi2"} or C{"wsgi"}.
    @rtype: L{str}
    """
    if inspect.isclass(app):
        if hasattr(app, "__await__"):
            return "asgi3"
        if isCoroutineFunction(app.__call__) or _requiredPositional(app) == 1:
            return "asgi2"
        return "wsgi"
    # The method itself, not whether app is callable.
    call = getattr(app, "__call__", None)  # noqa: B004
    if isCoroutineFunction(app) or isCoroutineFunction(call):
        return "asgi3"
    return _BY_POSITIONAL.get(_requiredPositional(app), "wsgi")


_BY_POSITIONAL = {1: "asgi2", 2: "wsgi", 3: "asgi3"}


def detectASGIVersion(app):
    """
    Tell which ASGI version an application said to be ASGI follows
    (C{--interface asgi}).

    As L{detectInterface}, except that an application it would take for
    WSGI is ASGI 3 (the current version) unless it is a class, which
    cannot be ASGI 3 without C{__await__}: ASGI 2.

    @param app: an ASGI application.
    @return: C{"asgi3"} or C{"asgi2"}.
    @rtype: L{str}
    """
    detected = detectInterface(app)
    if detected == "wsgi":
        return "asgi2" if inspect.isclass(app) else "asgi3"
    return detected


def resolveInterface(app, interface):
    """
    Turn an C{--interface} value into what the application is served as.

    @param app: the application.
    @param interface: C{"auto"}, C{"asgi"} (ASGI, version detected),
        C{"asgi3"}, C{"asgi2"} or C{"wsgi"}.
    @type interface: L{str}
    @return: C{(picked, detected)}: C{"asgi3"}, C{"asgi2"} or C{"wsgi"},
        and whether detection picked it (rather than C{interface}).
    @rtype: L{tuple} of (L{str}, L{bool})
    """
    if interface == "auto":
        return detectInterface(app), True
    if interface == "asgi":
        return detectASGIVersion(app), True
    return interface, False


def _requiredPositional(app):
    """
    How many positional arguments calling C{app} requires.

    @return: the count, or L{None} if the signature cannot tell (none
        available, C{*args}, a keyword-only parameter without default).
    @rtype: L{int} or L{None}
    """
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        required = parameter.default is parameter.empty
        if parameter.kind is parameter.KEYWORD_ONLY and required:
            return None
        if parameter.kind in _POSITIONAL and required:
            count += 1
    return count


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def isCoroutineFunction(obj):
    """
    Is C{obj} a coroutine function, as C{inspect} sees it or as asgiref's
    C{markcoroutinefunction} marks it?

    @rtype: L{bool}
    """
    return inspect.iscoroutinefunction(obj) or (
        _COROUTINE_MARKER is not None and getattr(obj, "_is_coroutine", None) is _COROUTINE_MARKER
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
        if e.name is not None and (moduleName == e.name or moduleName.startswith(e.name + ".")):
            raise AppLoadError(f"No module named {e.name!r}") from e
        raise AppLoadError(f"importing {moduleName!r} failed: {_describe(e)}") from e
    except Exception as e:
        raise AppLoadError(f"importing {moduleName!r} failed: {_describe(e)}") from e


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
