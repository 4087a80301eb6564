"""
The configuration file and the environment: two more places for the
options of C{twist gracehttp}.

Theory of operation
===================

Whatever the command line can say, a TOML file (C{--config PATH}, or
C{$GRACEHTTP_CONFIG}) and C{GRACEHTTP_*} environment variables can say
too, built from the same settings table (L{gracehttp._config.SETTINGS})
plus the three options of the command line only (C{app}, C{mount},
C{log-level}), so a new setting is in both without a line here:

  - a file key is the long option without its dashes (C{access-log});
    an alias is accepted as well, but not together with its setting;
  - a variable is C{GRACEHTTP_} and the key upper-cased with C{-} made
    C{_} (C{GRACEHTTP_ACCESS_LOG}).

A file value is a TOML value of the setting's type (L{_TOML_TYPES}): a
boolean for a flag or an C{on|off} option, an integer for a count, an
integer or a float for seconds, an array of strings for a repeatable
option (one string is an array of one), a string for the rest; a setting
of a kind not in that table takes its command-line text.  A variable's
value is the command-line text; a flag's is a boolean word
(L{_BOOLEAN_WORDS}); a repeatable option's holds its values separated by
white space; an empty variable counts as unset.  Each value is parsed and
checked here, so that a mistake names the key or the variable it came
from (C{"gracehttp.toml: threads must be a whole number of at least 1,
not 0"}), as a L{ConfigError}: one line, which the command line prints
before exiting with status 1.

The layers are merged by L{layered}: the environment over the file; the
command line (L{gracehttp.tap.Options}) puts its own options over both.
A repeatable option given by a later layer replaces the whole list of an
earlier one.

An unknown key in the file is an error (a typo must not be silently
ignored).  An unknown C{GRACEHTTP_} variable is logged once, as a
warning, and otherwise ignored: the prefix is a name space others use
too (a test suite's switches, a deployment's own variables), and a
variable meant for something else must not stop the server.

L{loadConfig} gives a C{.tac} file the same settings, as
L{gracehttp.makeService} keywords.
"""

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger

from gracehttp._apps.mounts import parseMount
from gracehttp._config import (
    SETTINGS,
    Addresses,
    Choice,
    Count,
    Endpoints,
    Flag,
    Kind,
    OnOff,
    Seconds,
    Strings,
    Text,
)

ENVIRONMENT_PREFIX = "GRACEHTTP_"
"""
The prefix of the environment variables that set options.
"""

CONFIG_VARIABLE = ENVIRONMENT_PREFIX + "CONFIG"
"""
The environment variable naming the configuration file when C{--config}
does not.
"""

LOG_LEVELS = ("debug", "info", "warn", "error")
"""
The C{--log-level} choices (L{twisted.logger.LogLevel} names).
"""

_log = Logger()


class ConfigError(ValueError):
    """
    A configuration file or an environment variable says something wrong:
    the message is one line naming the file and key, or the variable.
    """


class _Application(Kind):
    """
    The application, C{MODULE:ATTRIBUTE} (C{--app}).
    """

    metavar = "MODULE:ATTRIBUTE"

    def check(self, value: Any, label: str) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be MODULE:ATTRIBUTE, not {value!r}")
        return value


class _Mounts(Kind):
    """
    Mounted applications, each C{PREFIX=MODULE:ATTRIBUTE[@INTERFACE]}
    (C{--mount}).
    """

    metavar = "PREFIX=MODULE:ATTRIBUTE"
    repeatable = True

    def check(self, value: Any, label: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError(f"{label}: {entry!r} is not a mount (a string)")
            try:
                parseMount(entry)
            except ValueError as e:
                raise ValueError(f"{label}: {e}") from None
        return list(value)


@dataclass(frozen=True)
class _Entry:
    """
    One thing the file and the environment can set.

    @ivar name: the key of L{gracehttp.tap.Options} it sets (the setting's
        name, e.g. C{"accessLog"}).
    @ivar kind: its values.
    """

    name: str
    kind: Kind


def _entries() -> dict[str, _Entry]:
    """
    @return: every file key (options and aliases, without their dashes),
        to what it sets.
    """
    entries = {
        "app": _Entry("app", _Application()),
        "mount": _Entry("mount", _Mounts()),
        "log-level": _Entry("logLevel", Choice(LOG_LEVELS)),
    }
    for setting in SETTINGS:
        entries[setting.option] = _Entry(setting.name, setting.kind)
        for alias, _ in setting.aliases:
            entries[alias] = _Entry(setting.name, setting.kind)
    return entries


ENTRIES = _entries()
"""
What a configuration file and the environment can set: file key to
L{_Entry}.
"""

_TOML_TYPES: dict[type[Kind], tuple[type, ...]] = {
    Flag: (bool,),
    OnOff: (bool,),
    Count: (int,),
    Seconds: (int, float),
    Choice: (str,),
    Text: (str,),
    _Application: (str,),
    Addresses: (str, list),
    Endpoints: (str, list),
    Strings: (str, list),
    _Mounts: (str, list),
}
"""
The TOML types a file value of each kind may have (a L{list} is an array
of strings); a kind not listed takes a string, parsed as on the command
line.
"""

_TYPE_WORDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array of strings",
}

_BOOLEAN_WORDS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}
"""
What an environment variable for an on/off setting may say (any case).
"""


def variableName(key: str) -> str:
    """
    @param key: a file key, e.g. C{"access-log"}.
    @return: its environment variable, e.g. C{"GRACEHTTP_ACCESS_LOG"}.
    """
    return ENVIRONMENT_PREFIX + key.upper().replace("-", "_")


def readFile(path: str) -> dict[str, Any]:
    """
    Read a configuration file.

    @param path: a TOML file whose keys are long options without their
        dashes.
    @return: the values it gives, by L{gracehttp.tap.Options} key (e.g.
        C{{"accessLog": "off", "listen": ["tcp:8000"]}}), parsed and
        checked.
    @raise ConfigError: it cannot be read, is not TOML, has a key that
        names no option, or a value of the wrong type or out of range.
    """
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        raise ConfigError(
            f"cannot read the configuration file {path!r}: {e.strerror or e}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not a TOML file: {e}") from None
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in document.items():
        entry = ENTRIES.get(key)
        if entry is None:
            raise ConfigError(f"{path}: unknown key {key!r}{_suggestion(key, ENTRIES)}")
        _once(seen, entry.name, key, path)
        values[entry.name] = _fileValue(entry.kind, value, f"{path}: {key}")
    return values


def _fileValue(kind: Kind, value: Any, label: str) -> Any:
    """
    A file value, parsed and checked.

    @param label: the file and key, to name in an error.
    @raise ConfigError: it is of the wrong type or out of range.
    """
    expected = _TOML_TYPES.get(type(kind), (str,))
    if isinstance(value, bool) != (bool in expected) or not isinstance(value, expected):
        words = " or ".join(_TYPE_WORDS[t] for t in expected)
        raise ConfigError(f"{label} must be {words}, not {_tomlType(value)} ({value!r})")
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{label} must be an array of strings, not {value!r}")
    try:
        if type(kind) not in _TOML_TYPES:
            value = kind.parse(str(value), label)
        value = kind.check(value, label)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return list(value) if kind.repeatable else value


def _tomlType(value: Any) -> str:
    """
    @return: what a TOML value is, in words: C{"a string"}.
    """
    for pythonType, words in [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
    ]:
        if isinstance(value, pythonType):
            return words
    return "a date or time"


def readEnvironment(environ: Mapping[str, str], log: Logger = _log) -> dict[str, Any]:
    """
    Read the C{GRACEHTTP_*} environment variables.

    @param environ: the environment, e.g. L{os.environ}.
    @param log: where an unknown C{GRACEHTTP_} variable is logged, once,
        as a warning.
    @return: the values they give, by L{gracehttp.tap.Options} key,
        parsed and checked.  An empty variable counts as unset.
    @raise ConfigError: a variable's value is wrong, or a setting and its
        alias are both set.
    """
    variables = {variableName(key): entry for key, entry in ENTRIES.items()}
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENVIRONMENT_PREFIX) or variable == CONFIG_VARIABLE:
            continue
        if variable not in variables:
            log.warn(
                "{variable} is not a gracehttp option; ignored{suggestion}",
                variable=variable,
                suggestion=_suggestion(variable, variables, ENVIRONMENT_PREFIX),
            )
            continue
        text = environ[variable]
        if not text:
            continue
        entry = variables[variable]
        _once(seen, entry.name, variable, "the environment")
        values[entry.name] = _environmentValue(entry.kind, text, variable)
    return values


def _environmentValue(kind: Kind, text: str, variable: str) -> Any:
    """
    A variable's value, parsed and checked.

    @raise ConfigError: it is wrong.
    """
    try:
        if isinstance(kind, (Flag, OnOff)):
            value: Any = _BOOLEAN_WORDS.get(text.strip().lower())
            if value is None:
                raise ValueError(f"{variable} must be true or false, not {text!r}")
        elif kind.repeatable:
            value = [kind.parse(item, variable) for item in text.split()]
        else:
            value = kind.parse(text, variable)
        value = kind.check(value, variable)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return list(value) if kind.repeatable else value


def _once(seen: dict[str, str], name: str, key: str, where: str) -> None:
    """
    Refuse a setting given twice in one place (under its name and an
    alias).

    @param seen: the keys seen so far, by setting name; C{key} is added.
    @raise ConfigError: C{name} was seen already.
    """
    if name in seen:
        raise ConfigError(f"{where} gives both {seen[name]} and {key}, the same setting")
    seen[name] = key


def _suggestion(key: str, known: Mapping[str, Any], prefix: str = "") -> str:
    """
    @param prefix: a prefix every key has, left out of the comparison
        (which it would make look alike).
    @return: C{" (did you mean 'access-log'?)"} for the closest known key,
        or C{""}.
    """
    close = difflib.get_close_matches(
        key.removeprefix(prefix), [name.removeprefix(prefix) for name in known], n=1
    )
    return f" (did you mean {prefix + close[0]!r}?)" if close else ""


def layered(path: str | None, environ: Mapping[str, str], log: Logger = _log) -> dict[str, Any]:
    """
    The values of the configuration file and of the environment, the
    environment's over the file's.

    @param path: the configuration file, or L{None} for none.
    @param environ: the environment.
    @param log: see L{readEnvironment}.
    @return: the values, by L{gracehttp.tap.Options} key.
    @raise ConfigError: see L{readFile} and L{readEnvironment}.
    """
    values = readFile(path) if path is not None else {}
    values.update(readEnvironment(environ, log))
    return values


def loadConfig(path: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """
    Read a configuration file (and, if given, the environment's
    C{GRACEHTTP_*} variables over it) as L{gracehttp.makeService}
    keywords, for a C{.tac} file that shares its settings with C{twist
    gracehttp --config}::

        application = Application("gracehttp")
        makeService(**loadConfig("gracehttp.toml")).setServiceParent(application)

    C{app} stays a C{"module:attribute"} reference (L{gracehttp.makeService}
    loads it), C{mount} becomes C{mounts}; C{log-level} is left out (under
    C{twistd}, its own options decide what is logged).

    @param path: the TOML file, as for C{--config}; L{None} for none (or,
        with C{environ}, the one C{$GRACEHTTP_CONFIG} names).
    @param environ: the environment to read, e.g. L{os.environ}; L{None}
        (the default) reads none.
    @return: the keywords the file and environment give; a setting they
        do not give is left out (its default applies).
    @raise ConfigError: (a L{ValueError}) see L{readFile} and
        L{readEnvironment}.
    """
    if environ is None:
        values = readFile(path) if path is not None else {}
    else:
        values = layered(path or environ.get(CONFIG_VARIABLE) or None, environ)
    values.pop("logLevel", None)
    if "mount" in values:
        values["mounts"] = values.pop("mount")
    return values


__all__ = ["ConfigError", "layered", "loadConfig", "readEnvironment", "readFile"]
