"""
Worker processes (C{--workers N}): one parent binds the sockets and
supervises N processes that serve them.

Theory of operation
===================

  - L{binding<gracehttp._workers.binding>}: the parent binds every
    C{--listen} endpoint once and holds the sockets; a worker adopts them.
  - L{supervisor<gracehttp._workers.supervisor>}: the parent's state
    machine (start, restart with back-off, rolling replacement, stop),
    with its transition table.
  - L{process<gracehttp._workers.process>}: starting a worker process and
    hearing from it.
  - L{worker<gracehttp._workers.worker>}: the worker process itself.
  - L{reloader<gracehttp._workers.reloader>}: C{--reload}, a file change
    triggers the supervisor's rolling replacement.
  - L{service<gracehttp._workers.service>}: the parent's service, which
    ties them, and L{makeWorkersService}.

Shared sockets, not C{SO_REUSEPORT}: the workers accept from sockets the
parent bound once and passed down as inherited descriptors, adopted with
L{IReactorSocket.adoptStreamPort
<twisted.internet.interfaces.IReactorSocket.adoptStreamPort>}.  With
C{SO_REUSEPORT} each worker would bind a socket of its own and the kernel
would spread new connections over them by a hash of the addresses; but a
connection waiting in the queue of a worker's socket when that worker
stops (a restart, a reload) is reset with it, which a rolling replacement
must never do, and systemd's sockets and UNIX sockets cannot be split that
way.  With one shared queue per endpoint, a worker that stops listening
leaves the queue to the others, the parent's copy keeps it open while no
worker listens (connections wait instead of being refused), and a
C{systemd:} socket is passed on as it came.  The cost: which worker
accepts a connection is whichever is woken first, not a fair hash; under
load a busy worker is slower to accept, which spreads connections by how
busy each is.
"""

from gracehttp._workers.service import WorkersService, makeWorkersService


def supervises(config):
    """
    @param config: the settings.
    @type config: L{Config<gracehttp._config.Config>}
    @return: a parent process supervises workers (C{workers} above 1, or
        C{reload}): it must not import the application.
    @rtype: L{bool}
    """
    return config.workers > 1 or config.reload


__all__ = ["WorkersService", "makeWorkersService", "supervises"]
