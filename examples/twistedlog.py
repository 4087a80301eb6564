"""
Send the standard library's C{logging} to Twisted's log, where C{twist}
writes gracehttp's own events: one stream, text in a terminal and JSON
otherwise (see the "Logs" section of docs/howto/twist.rst).

Under C{twist}, records of C{logging} have no handler of their own: the
default one drops C{INFO} and writes the rest to standard error, which
C{twist} turns into log events of level C{error}.  L{TwistedLogHandler}
makes each record one Twisted log event instead, in the namespace of its
logger (C{[examples.flask_app.app#info] ...} in the text log) and at its
level.

For Flask and FastAPI::

    from examples.twistedlog import sendLoggingToTwisted
    sendLoggingToTwisted()

For Django, in the C{LOGGING} setting (see
C{examples/django_project/settings.py}).
"""

import logging

from twisted.logger import Logger, LogLevel

_LEVELS = [
    (logging.CRITICAL, LogLevel.critical),
    (logging.ERROR, LogLevel.error),
    (logging.WARNING, LogLevel.warn),
    (logging.INFO, LogLevel.info),
]


def twistedLevel(levelno):
    """
    @param levelno: a C{logging} level number, e.g. C{logging.INFO}.
    @return: the Twisted log level for it; below C{INFO}, C{debug}.
    @rtype: L{LogLevel}
    """
    for threshold, level in _LEVELS:
        if levelno >= threshold:
            return level
    return LogLevel.debug


class TwistedLogHandler(logging.Handler):
    """
    A C{logging} handler that emits each record as a Twisted log event.
    The event's text is the formatted record (with its traceback, if
    any); C{logger} and C{levelname} are fields of the event, so they are
    in a JSON log too.
    """

    def emit(self, record):
        try:
            Logger(namespace=record.name).emit(
                twistedLevel(record.levelno),
                "{message}",
                message=self.format(record),
                logger=record.name,
                levelname=record.levelname,
            )
        except Exception:
            self.handleError(record)


def sendLoggingToTwisted(level=logging.INFO):
    """
    Give the root logger a L{TwistedLogHandler} (once) and C{level}.

    @param level: the least level of record passed on, e.g.
        C{logging.INFO}.
    """
    root = logging.getLogger()
    if not any(isinstance(handler, TwistedLogHandler) for handler in root.handlers):
        root.addHandler(TwistedLogHandler())
    root.setLevel(level)
