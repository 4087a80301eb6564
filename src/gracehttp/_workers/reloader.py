"""
C{--reload}: replace the workers when a source file changes.

Theory of operation
===================

A daemon thread of the parent runs C{watchfiles.watch} over the
C{--reload-dir} directories (the current directory by default), with
L{ReloadFilter}: a change counts if the file's name matches one of the
C{--reload-include} patterns and it is not under a directory watchfiles
ignores (version control, virtualenvs, caches).  watchfiles groups the
changes that come close together (its debounce) into one batch; the
first batch it yields (an empty one after a second if nothing changed)
says the watcher is in place, and is logged (C{gracehttp reload:
watching ...}); each batch of changes is logged in one line and calls
C{reload} in the reactor thread, which is the supervisor's rolling
replacement, as C{SIGHUP}: the new worker imports
the changed code, the old one drains.  A reload while one is running
queues one more round, so the last change is always served.

The parent never imports the application, so nothing in it goes stale.
L{Reloader.stop} sets the watch's stop event; the thread ends within one
step of watchfiles.
"""

import fnmatch
import os
import threading

from twisted.logger import Logger

_log = Logger()


def requireWatchfiles():
    """
    @raise ValueError: watchfiles is not installed (a one-line message
        naming the extra).
    """
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise ValueError("--reload needs watchfiles: pip install 'gracehttp[reload]'") from None


class ReloadFilter:
    """
    Which changes trigger a reload: watchfiles' default filter (no
    version control, virtualenv or cache directories, no compiled or
    editor files), and a file name matching one of the patterns.
    """

    def __init__(self, includes):
        """
        @param includes: C{fnmatch} patterns matched against the file's
            name, e.g. C{("*.py",)}.
        @type includes: L{tuple} of L{str}
        """
        from watchfiles import DefaultFilter

        self._default = DefaultFilter()
        self._includes = tuple(includes)

    def __call__(self, change, path):
        """
        @param change: what happened (a C{watchfiles.Change}).
        @param path: the file's path.
        @rtype: L{bool}
        """
        name = os.path.basename(path)
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self._includes):
            return False
        return self._default(change, path)


_WAKE_MS = 1000
"""
Milliseconds after which the watch yields an empty batch when nothing
changed: the first batch, empty or not, shows that the watcher is in place
(the C{watching} log line says so), and later empty ones are ignored.
"""


class Reloader:
    """
    Watches the directories in a thread and calls C{reload} in the reactor
    thread after each batch of changes.
    """

    def __init__(self, reactor, reload, directories, includes, watch=None):
        """
        @param reactor: C{reload} is called through its C{callFromThread}.
        @param reload: replaces the workers.
        @param directories: what to watch, recursively; empty means the
            current directory.
        @param includes: see L{ReloadFilter}.
        @param watch: C{watchfiles.watch}, or a function like it (tests).
        """
        if watch is None:
            from watchfiles import watch
        self._reactor = reactor
        self._reload = reload
        self._directories = [os.path.abspath(d) for d in directories or (os.curdir,)]
        self._filter = ReloadFilter(includes)
        self._watch = watch
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        """
        Start watching, in a daemon thread.
        """
        self._thread = threading.Thread(target=self.run, name="gracehttp-reload", daemon=True)
        self._thread.start()

    def run(self):
        """
        Watch until L{stop}: each batch of changes is logged and reloads.
        """
        batches = self._watch(
            *self._directories,
            watch_filter=self._filter,
            stop_event=self._stop,
            raise_interrupt=False,
            yield_on_timeout=True,
            rust_timeout=_WAKE_MS,
        )
        watching = False
        for changes in batches:
            if not watching:
                watching = True
                self._reactor.callFromThread(self._watching)
            if changes:
                paths = sorted(path for _, path in changes)
                self._reactor.callFromThread(self._changed, paths)

    def _watching(self):
        _log.info(
            "gracehttp reload: watching {directories}",
            directories=", ".join(self._directories),
        )

    def _changed(self, paths):
        _log.info(
            "gracehttp reloading: {count} file(s) changed: {paths}",
            count=len(paths),
            paths=", ".join(paths),
        )
        self._reload()

    def stop(self):
        """
        Stop watching.
        """
        self._stop.set()
