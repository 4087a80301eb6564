"""
C{twist gracehttp}: command-line options and the service they build.

The plugin (C{twisted/plugins/gracehttp_plugin.py}) points C{twist} and
C{twistd} here.  Parsing the options loads the application, because the
reactor must be chosen before C{twist} installs its default one: an ASGI
application gets the asyncio reactor (on the event loop C{--loop} asks
for), a WSGI application Twisted's default reactor.  Everything else
(thread pool, adapter, listening ports, access log file, log level filter,
and the observer C{twist} writes the process's log with: see
L{batchProcessLog}) is built in L{makeService}.

Every option but C{--app}, C{--mount}, C{--log-level} and C{--config} is
a setting of L{gracehttp._config.Config}: its C{opt_*} handler and
C{--help} text are made from the settings table (see
L{_addSettingOptions}), and the parsed values become one checked
L{Config<gracehttp._config.Config>}, which L{makeService} hands to
L{gracehttp.makeService}.

The options also come from a TOML file (C{--config}) and C{GRACEHTTP_*}
environment variables (L{gracehttp._configfile}): each handler records
that its option was given on the command line, and L{Options.postOptions}
takes every option not given there from the environment, else from the
file, else its default.  The application may be given as the one
positional argument, anywhere among the options (L{Options.parseArgs};
L{Options.parseOptions} moves options before arguments, as GNU C{getopt}
does).  The C{gracehttp} command (L{main}) is C{twist gracehttp}.
"""

import getopt
import os
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
from gracehttp._configfile import CONFIG_VARIABLE, LOG_LEVELS, ConfigError, layered
from gracehttp._errors import AppLoadError
from gracehttp._loader import loadApp, resolveInterface

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

    @ivar given: the keys of the options given on the command line (the
        application as an argument counts as C{--app}); the configuration
        file and the environment set the others.
    """

    synopsis = "[options] [MODULE:ATTRIBUTE]"
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
        self["configFile"] = None
        self.given = set()

    def getSynopsis(self):
        """
        @return: the usage line of C{--help}, under the command that runs
            these options.
        """
        program, _, plugin = _command(self).partition(" ")
        if not plugin:
            return f"Usage: {program} {self.synopsis}"
        return f"Usage: {program} [{program} options] {plugin} {self.synopsis}"

    def opt_app(self, reference):
        """
        The application to serve, as MODULE:ATTRIBUTE (e.g.
        myproject.asgi:application; MODULE:FACTORY() calls a factory);
        usually given as the argument instead. The current directory is
        importable.
        """
        self["app"] = reference
        self.given.add("app")

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
        self.given.add("mount")

    def opt_config(self, path):
        """
        Read options from this TOML file: keys are the long options without
        --, e.g. access-log = "off"; arrays for repeatable options. Each
        option may also be set by a GRACEHTTP_ environment variable, e.g.
        GRACEHTTP_ACCESS_LOG=off. The command line wins, then the
        environment, then the file (default: $GRACEHTTP_CONFIG, else none).
        """
        self["configFile"] = path

    def parseArgs(self, *args):
        """
        Take the application from the one positional argument, as in
        C{twist gracehttp main:app}.

        @raise usage.UsageError: more than one argument, or C{--app} too.
        """
        if len(args) > 1:
            raise usage.UsageError(
                "one application argument is taken, not " + " ".join(repr(arg) for arg in args)
            )
        if not args:
            return
        if "app" in self.given:
            raise usage.UsageError(
                f"the application is given twice: {args[0]!r} and --app {self['app']!r}"
            )
        self["app"] = args[0]
        self.given.add("app")

    def opt_log_level(self, level):
        """
        Log only events at this level or above: debug, info, warn or error
        (default: what twist's own --log-level says, info).
        """
        self["logLevel"] = _parse(_LOG_LEVEL, level, "--log-level")
        self.given.add("logLevel")

    def parseOptions(self, options=None):
        """
        Parse the command line; a usage error ends the process with one
        line.

        C{twist} and C{twistd} would print the error followed by the whole
        C{--help} text of C{twist} (some ninety lines) and exit with status
        64; the one problem and where to find the help is easier to read,
        in a terminal as in a service manager's journal.

        The options may come after the application argument: they are
        moved before it (L{_optionsFirst}), since C{twisted.python.usage}
        stops at the first argument.

        @param options: the arguments after C{gracehttp}; L{None} means
            C{sys.argv[1:]}.
        @type options: L{list} of L{str} or L{None}
        @raise SystemExit: (status 1, after one line on stderr) a value is
            invalid or missing, an option is unknown, the configuration
            file or environment is wrong, or the application cannot be
            loaded.
        """
        if options is None:
            options = sys.argv[1:]
        try:
            super().parseOptions(_optionsFirst(options, self.shortOpt, self.longOpt))
        except usage.UsageError as e:
            _exit(f"{e} (see {_command(self)} --help)")

    def postOptions(self):
        """
        Check the values (they make C{self["config"]}), load the
        application, and install the asyncio reactor (on the C{--loop}
        event loop) for an ASGI application if no reactor is installed
        yet.

        @raise usage.UsageError: a value is out of range, C{--app} is
            missing, or the configuration file or the environment is wrong.
        @raise SystemExit: (status 1, after one line on stderr) the
            application cannot be loaded, it is an ASGI application and
            the chosen reactor is not the asyncio one, or C{--loop uvloop}
            asks for uvloop and it is not installed.
        """
        self._readConfiguration(os.environ)
        if self["app"] is None and not self["mount"]:
            raise usage.UsageError(
                f"no application to serve: {_command(self)} MODULE:ATTRIBUTE (e.g. "
                "myproject.asgi:application), or --app, or --mount"
            )
        for setting in SETTINGS:
            if setting.kind.repeatable and not self[setting.name]:
                self[setting.name] = list(setting.default)
        try:
            self["config"] = Config(**{setting.name: self[setting.name] for setting in SETTINGS})
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["interfaceOption"] = self["interface"]
        from gracehttp._workers import supervises

        if supervises(self["config"]):
            # The workers import the applications; the parent never does.
            self["application"] = self["app"]
            self["mounts"] = list(self["mount"])
            return
        interfaces = self._loadApplications()
        if any(interface != "wsgi" for interface in interfaces):
            try:
                _service.installAsyncioReactorIfNone(self["config"].loop)
            except ValueError as e:
                _exit(str(e))
            from twisted.internet import reactor

            from gracehttp._apps.asgi.adapter import AsyncioReactorRequired, requireAsyncioReactor

            try:
                requireAsyncioReactor(reactor)
            except AsyncioReactorRequired as e:
                _exit(str(e))

    def _readConfiguration(self, environ):
        """
        Set every option not given on the command line that the
        environment or the configuration file gives.

        @param environ: the environment (its C{GRACEHTTP_*} variables).
        @raise usage.UsageError: the file or a variable is wrong.
        """
        path = self["configFile"] or environ.get(CONFIG_VARIABLE) or None
        try:
            values = layered(path, environ)
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None
        for name, value in values.items():
            if name not in self.given:
                self[name] = value

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
        self.given.add(name)

    def append(self, text):
        self[name].append(_parse(kind, text, option))
        self.given.add(name)

    def store(self, text):
        self[name] = _parse(kind, text, option)
        self.given.add(name)

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
    processLog = batchProcessLog(options)
    try:
        from gracehttp._workers import makeWorkersService, supervises

        if supervises(options["config"]):
            return makeWorkersService(
                options["app"],
                options["mounts"],
                options["config"],
                log=_workersLog(options),
            )
        service = _service.makeService(
            options["application"],
            mounts=options["mounts"] or None,
            **options["config"].toDict(),
        )
    except ValueError as e:
        _exit(str(e))
    except OSError as e:
        _exit(f"cannot open the access log {options['accessLog']!r}: {e.strerror or e}")
    if processLog is not None and options["config"].accessLog == "-":
        processLog.serve(service.accessLog)
    return service


def batchProcessLog(options, reactor=None):
    """
    Under C{twist}, write the process's log through a
    L{ProcessLog<gracehttp._core.logwriter.ProcessLog>}: the same text or
    JSON as C{twist}'s own observer, access log lines formatted from their
    fields and written once per reactor turn (see
    L{gracehttp._core.logwriter}).  C{twist} builds its log observer after
    L{makeService}, with the factory its options hold; C{twistd} (which
    logs its own way) is left alone.

    @param options: the parsed options; C{options.parent} is C{twist}'s.
    @type options: L{Options}
    @param reactor: the reactor; L{None} means the installed one.
    @return: the process's log, or L{None} if not under C{twist}.
    @rtype: L{ProcessLog<gracehttp._core.logwriter.ProcessLog>} or L{None}
    """
    parent = getattr(options, "parent", None)
    if parent is None or "fileLogObserverFactory" not in parent:
        return None
    logFormat = parent.get("logFormat")
    if logFormat not in ("text", "json"):
        return None
    if reactor is None:
        from twisted.internet import reactor
    from gracehttp._core.logwriter import ProcessLog

    processLog = ProcessLog(logFormat, reactor, parent.get("logLevel", LogLevel.info))
    parent["fileLogObserverFactory"] = processLog
    return processLog


def _workersLog(options):
    """
    How worker processes log: as C{twist} was told to (its C{--log-format},
    C{--log-file} and C{--log-level}, or C{--log-level} here), else text on
    descriptor 1 at C{info}.

    @type options: L{Options}
    @return: C{(format, descriptor, level name)}.
    @rtype: L{tuple}
    """
    parent = getattr(options, "parent", None) or {}
    logFile = parent.get("logFile") if hasattr(parent, "get") else None
    try:
        fd = logFile.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 1
    level = options["logLevel"]
    if level is None:
        parentLevel = parent.get("logLevel") if hasattr(parent, "get") else None
        level = parentLevel.name if parentLevel is not None else "info"
    logFormat = parent.get("logFormat", "text") if hasattr(parent, "get") else "text"
    return (logFormat, fd, level)


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


def _optionsFirst(arguments, shortOptions, longOptions):
    """
    Move the options before the positional arguments, as GNU C{getopt}
    reads them: C{["main:app", "--threads", "4"]} becomes C{["--threads=4",
    "--", "main:app"]}.

    @param shortOptions: the short options, in L{getopt} form (C{"a:"}).
    @param longOptions: the long options, in L{getopt} form
        (C{["threads="]}).
    @return: the same arguments, reordered; unchanged if they do not parse
        (the caller's own parse then names the problem).
    @rtype: L{list} of L{str}
    """
    try:
        options, positional = getopt.gnu_getopt(arguments, shortOptions, longOptions)
    except getopt.GetoptError:
        return list(arguments)
    reordered = []
    for option, value in options:
        if option.startswith("--"):
            takesValue = option[2:] + "=" in longOptions
            reordered.append(f"{option}={value}" if takesValue else option)
        else:
            takesValue = option[1:] + ":" in shortOptions
            reordered.extend([option, value] if takesValue else [option])
    return [*reordered, "--", *positional] if positional else reordered


_commandName = None
"""
C{"gracehttp"} when L{main} runs the process, for the help and the errors.
"""


def main(argv=None):
    """
    The C{gracehttp} command: C{gracehttp ARGS} is C{twist gracehttp ARGS},
    for people who do not know C{twist} (C{twist}'s own options, such as
    C{--log-format}, need the C{twist} form).

    @param argv: the command line, its first item the command; L{None}
        means L{sys.argv}.
    @type argv: L{list} of L{str} or L{None}
    """
    from twisted.application.twist._twist import Twist

    global _commandName
    _commandName = "gracehttp"
    argv = sys.argv if argv is None else argv
    Twist.main([argv[0], "gracehttp", *argv[1:]])


def _command(options):
    """
    The command that runs these options, for a pointer to its help:
    C{gracehttp} run as that command (L{main}), C{twistd gracehttp} under
    C{twistd}, C{twist gracehttp} otherwise.

    @type options: L{Options}
    @rtype: L{str}
    """
    if _commandName is not None:
        return _commandName
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
