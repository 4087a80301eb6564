"""
C{twist gracehttp}: command-line options and the service they build.

The plugin (C{twisted/plugins/gracehttp_plugin.py}) points C{twist} and
C{twistd} here.  Parsing the options loads the application, because the
reactor must be chosen before C{twist} installs its default one: an ASGI
application gets the asyncio reactor, a WSGI
application Twisted's default reactor.  Everything else (thread pool,
adapter, listening ports, access log file, log level filter) is built in
L{makeService}.

Every option but C{--app} and C{--log-level} is a setting of
L{gracehttp._config.Config}: its C{opt_*} handler and C{--help} text are
made from the settings table (see L{_addSettingOptions}), and the parsed
values become one checked L{Config<gracehttp._config.Config>}, which
L{makeService} hands to L{gracehttp.makeService}.
"""

import sys
from collections.abc import Callable

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
)
from twisted.python import usage

from gracehttp import _service
from gracehttp._apps.mounts import parseMount
from gracehttp._config import SETTINGS, Choice, Config, Setting
from gracehttp._errors import AppLoadError
from gracehttp._loader import loadApp, resolveInterface

LOG_LEVELS = ("debug", "info", "warn", "error")
"""
The C{--log-level} choices (L{twisted.logger.LogLevel} names).
"""
_LOG_LEVEL = Choice(LOG_LEVELS)


class Options(usage.Options):
    """
    Options for C{twist gracehttp}.  Each setting's option parses into
    C{self[name]}, C{name} being the setting's name (C{--limit-request-body}
    into C{self["limitRequestBody"]}).  After parsing, C{self["config"]}
    holds the checked L{Config<gracehttp._config.Config>},
    C{self["application"]} the loaded application, C{self["interface"]}
    what it is served as (C{"asgi3"}, C{"asgi2"} or C{"wsgi"}) and
    C{self["interfaceOption"]} the C{--interface} value.

    A usage error (a bad value, an unknown option, no C{--app}) is one line
    on stderr naming the problem and C{--help}, and exit status 1: see
    L{parseOptions}.
    """

    synopsis = "--app MODULE:ATTRIBUTE [options]"
    longdesc = (
        "Serve a WSGI or ASGI application over HTTP/1.1 (and WebSockets for "
        "ASGI). When a client disconnects mid-request the application is told "
        "(ASGI http.disconnect or websocket.disconnect; WSGI "
        "environ['gracehttp.disconnected']) and gets a grace period to clean "
        "up before it is cancelled."
    )

    def __init__(self):
        super().__init__()
        self["app"] = None
        self["mount"] = []
        for setting in SETTINGS:
            self[setting.name] = [] if setting.kind.repeatable else setting.default
        self["logLevel"] = None

    def opt_app(self, reference):
        """
        The application to serve, as MODULE:ATTRIBUTE (e.g.
        myproject.asgi:application; MODULE:FACTORY() calls a factory).
        Required. The current directory is importable.
        """
        self["app"] = reference

    opt_a = opt_app

    def opt_mount(self, value):
        """
        Serve another application under a path prefix, as
        PREFIX=MODULE:ATTRIBUTE, or PREFIX=MODULE:ATTRIBUTE@INTERFACE to force
        its interface (e.g. --mount /legacy=proj.wsgi:application@wsgi).
        Repeatable. The longest matching prefix answers; the prefix is the
        application's root_path or SCRIPT_NAME; --app is then optional, and a
        request no mount matches gets 404.
        """
        try:
            parseMount(value)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["mount"].append(value)

    def opt_log_level(self, level):
        """
        Log only events at this level or above: debug, info, warn or error
        (default: what twist's own --log-level says, info).
        """
        self["logLevel"] = _parse(_LOG_LEVEL, level, "--log-level")

    def parseOptions(self, options=None):
        """
        Parse the command line; a usage error ends the process with one
        line.

        C{twist} and C{twistd} would print the error followed by the whole
        C{--help} text of C{twist} (some ninety lines) and exit with status
        64; the one problem and where to find the help is easier to read,
        in a terminal as in a service manager's journal.

        @param options: the arguments after C{gracehttp}; L{None} means
            C{sys.argv[1:]}.
        @type options: L{list} of L{str} or L{None}
        @raise SystemExit: (status 1, after one line on stderr) a value is
            invalid or missing, an option is unknown, or the application
            cannot be loaded.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            _exit(f"{e} (see {_command(self)} --help)")

    def postOptions(self):
        """
        Check the values (they make C{self["config"]}), load the
        application, and install the asyncio reactor for an ASGI
        application if no reactor is installed yet.

        @raise usage.UsageError: a value is out of range or C{--app} is
            missing.
        @raise SystemExit: (status 1, after one line on stderr) the
            application cannot be loaded, or it is an ASGI application and
            the chosen reactor is not the asyncio one.
        """
        if self["app"] is None and not self["mount"]:
            raise usage.UsageError(
                "--app is required (e.g. --app myproject.asgi:application), or --mount"
            )
        for setting in SETTINGS:
            if setting.kind.repeatable and not self[setting.name]:
                self[setting.name] = list(setting.default)
        try:
            self["config"] = Config(**{setting.name: self[setting.name] for setting in SETTINGS})
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["interfaceOption"] = self["interface"]
        interfaces = self._loadApplications()
        if any(interface != "wsgi" for interface in interfaces):
            _service.installAsyncioReactorIfNone()
            from twisted.internet import reactor

            from gracehttp._apps.asgi.adapter import AsyncioReactorRequired, requireAsyncioReactor

            try:
                requireAsyncioReactor(reactor)
            except AsyncioReactorRequired as e:
                _exit(str(e))

    def _loadApplications(self):
        """
        Load the application (C{self["application"]}, or L{None} without
        C{--app}) and the mounted ones (C{self["mounts"]}: prefix to
        C{(application, interface option)}), and tell what each is.

        @return: the interfaces, e.g. C{["asgi3", "wsgi"]}.
        @raise SystemExit: (status 1, after one line on stderr) one cannot
            be loaded.
        """
        interfaces = []
        self["application"] = None
        if self["app"] is not None:
            self["application"] = self._load(self["app"])
            self["interface"], _ = resolveInterface(self["application"], self["interface"])
            interfaces.append(self["interface"])
        self["mounts"] = {}
        for value in self["mount"]:
            prefix, reference, interface = parseMount(value)
            app = self._load(reference)
            # makeService normalises the prefix again: the root ("") as "/".
            self["mounts"][prefix or "/"] = (app, interface)
            interfaces.append(resolveInterface(app, interface)[0])
        return interfaces

    def _load(self, reference):
        try:
            return loadApp(reference)
        except AppLoadError as e:
            _exit(str(e))


# usage.Options shows opt_* docstrings as --help text but keeps their
# indentation inside the wrapped lines; fold each into one paragraph.
for _method in vars(Options).values():
    if getattr(_method, "__name__", "").startswith("opt_") and _method.__doc__:
        _method.__doc__ = " ".join(_method.__doc__.split())
del _method


def _optionHandler(setting: Setting, doc: str) -> Callable[..., None]:
    """
    An C{opt_*} method for one setting's option: it parses the value into
    C{options[setting.name]} (appends it, for a repeatable option; sets
    C{True}, for a flag).

    @param doc: its C{--help} text.
    """
    name, kind, option = setting.name, setting.kind, f"--{setting.option}"

    def turnOn(self):
        self[name] = True

    def append(self, text):
        self[name].append(_parse(kind, text, option))

    def store(self, text):
        self[name] = _parse(kind, text, option)

    handler: Callable[..., None]
    if not kind.takesValue:
        handler = turnOn
    elif kind.repeatable:
        handler = append
    else:
        handler = store
    handler.__doc__ = doc
    return handler


def _helpText(setting):
    """
    @return: the C{--help} text of a setting's option: its help without
        the code marks, with its default before the final full stop unless
        it is a flag.
    @rtype: L{str}
    """
    text = setting.help.replace("`", "")
    if not setting.kind.takesValue:
        return text
    return f"{text.removesuffix('.')} (default: {setting.shownDefault()[0]})."


def _addSettingOptions(options):
    """
    Give an L{Options} class one C{opt_*} handler per setting's option and
    alias (C{--limit-request-body} is C{opt_limit_request_body}).
    """
    for setting in SETTINGS:
        handlers = {setting.option: _helpText(setting)}
        for alias, why in setting.aliases:
            handlers[alias] = f"Alias of --{setting.option} ({why})."
        for option, doc in handlers.items():
            setattr(options, "opt_" + option.replace("-", "_"), _optionHandler(setting, doc))


_addSettingOptions(Options)


def makeService(options):
    """
    Build the service from parsed options.

    @type options: L{Options}
    @rtype: L{gracehttp._service.HTTPService}
    @raise SystemExit: (status 1, after one line on stderr) a C{--listen}
        value cannot be parsed or the access log file cannot be opened.
    """
    if options["logLevel"] is not None:
        setLogLevel(options, LogLevel.levelWithName(options["logLevel"]))
    try:
        return _service.makeService(
            options["application"],
            mounts=options["mounts"] or None,
            **options["config"].toDict(),
        )
    except ValueError as e:
        _exit(str(e))
    except OSError as e:
        _exit(f"cannot open the access log {options['accessLog']!r}: {e.strerror or e}")


def setLogLevel(options, level, beginner=globalLogBeginner):
    """
    Drop log events below C{level}, for the whole process.

    Under C{twist}, whose own C{--log-level} filters what it logs, that
    level is set (C{twist} builds its log observer after L{makeService},
    from its options).  Otherwise (C{twistd}) every observer the process
    starts logging to is wrapped in a
    L{FilteringLogObserver} with a L{LogLevelFilterPredicate}.

    @param options: the parsed options; C{options.parent} is C{twist}'s.
    @type options: L{Options}
    @type level: L{LogLevel}
    @param beginner: the log beginner the process starts logging with.
    @type beginner: L{twisted.logger.LogBeginner}
    """
    parent = getattr(options, "parent", None)
    if parent is not None and "logLevel" in parent:
        parent["logLevel"] = level
        return
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    beginLoggingTo = beginner.beginLoggingTo

    def filtered(observers, *args, **kwargs):
        observers = [FilteringLogObserver(observer, [predicate]) for observer in observers]
        return beginLoggingTo(observers, *args, **kwargs)

    beginner.beginLoggingTo = filtered


def _exit(message):
    """
    Print one line on stderr and exit with status 1: a mistake in the
    command line deserves a sentence, not a traceback.
    """
    sys.stderr.write(f"gracehttp: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _command(options):
    """
    The command that runs these options, for a pointer to its help:
    C{twistd gracehttp} under C{twistd}, C{twist gracehttp} otherwise.

    @type options: L{Options}
    @rtype: L{str}
    """
    parent = getattr(options, "parent", None)
    if parent is not None and type(parent).__module__.startswith("twisted.scripts"):
        return "twistd gracehttp"
    return "twist gracehttp"


def _parse(kind, text, option):
    """
    Parse one option's value.

    @type kind: L{Kind<gracehttp._config.Kind>}
    @raise usage.UsageError: it is not a value of that kind (the message
        names C{option}).
    """
    try:
        return kind.parse(text, option)
    except ValueError as e:
        raise usage.UsageError(str(e)) from None
