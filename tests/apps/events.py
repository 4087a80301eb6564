"""
A record of what test applications saw, that tests can wait on (no
polling): L{Events.add} from the application's thread or task,
L{Events.waitFor} from the test.
"""

import threading


class Events:
    """
    An ordered record of named events, with waiting.
    """

    def __init__(self):
        self._events = []
        self._changed = threading.Condition()

    def add(self, event):
        """
        Record C{event}; wake the waiters.

        @type event: L{str}
        """
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def count(self, event):
        """
        @return: how many times C{event} was recorded.
        @rtype: L{int}
        """
        with self._changed:
            return self._events.count(event)

    def clear(self):
        """
        Forget what was recorded.
        """
        with self._changed:
            del self._events[:]

    def waitFor(self, event, timeout=10.0):
        """
        Wait until C{event} has been recorded.

        @param timeout: the longest wait, in seconds.
        @return: whether it was.
        @rtype: L{bool}
        """
        with self._changed:
            return self._changed.wait_for(lambda: event in self._events, timeout)
