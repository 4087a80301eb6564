"""
The worker's side of the shared sockets (L{gracehttp._workers.binding}):
what an adopted endpoint listens with.
"""

import os
import socket
import unittest

from gracehttp._workers.binding import AdoptedEndpoint


class FakePort:
    """
    A port as Twisted's TCP port reads its accept count: each doRead
    records C{numberAccepts}, then grows it as Twisted does after a full
    loop.
    """

    def __init__(self):
        self.numberAccepts = 100
        self.seen = []

    def doRead(self):
        self.seen.append(self.numberAccepts)
        self.numberAccepts += 20


class FakeReactor:
    def __init__(self):
        self.adopted = []
        self.port = FakePort()

    def adoptStreamPort(self, fileno, family, factory):
        self.adopted.append((fileno, family, factory))
        return self.port


class AdoptedEndpointTests(unittest.TestCase):
    def listen(self, description):
        reactor = FakeReactor()
        fileno = os.dup(0)
        endpoint = AdoptedEndpoint(reactor, fileno, socket.AF_INET, description, 10.0)
        factory = object()
        ports = []
        endpoint.listen(factory).addCallback(ports.append)
        return reactor, endpoint, factory, ports, fileno

    def test_adoptsAndClosesDescriptor(self):
        """
        listen() adopts the inherited descriptor with the factory as is
        (tcp:) and closes the descriptor (the port holds a duplicate).
        """
        reactor, endpoint, factory, ports, fileno = self.listen("tcp:0")
        self.assertEqual(reactor.adopted, [(fileno, socket.AF_INET, factory)])
        self.assertEqual(ports, [reactor.port])
        self.assertFalse(endpoint.tls)
        with self.assertRaises(OSError):
            os.fstat(fileno)

    def test_acceptsOneAtATime(self):
        """
        The adopted port accepts one connection per wake-up, every time,
        though Twisted's accept loop would grow its count: a burst of
        connections is spread over the workers.
        """
        ports = self.listen("tcp:0")[3]
        port = ports[0]
        for _ in range(3):
            port.doRead()
        self.assertEqual(port.seen, [1, 1, 1])

    def test_proxyHeaderReadFirst(self):
        """
        A haproxy: description wraps the factory in the PROXY protocol
        header reader.
        """
        from gracehttp._protocols.proxyprotocol import ProxyHeaderFactory

        reactor, _, factory, _, _ = self.listen("haproxy:tcp:0")
        [(_, _, wrapped)] = reactor.adopted
        self.assertIsInstance(wrapped, ProxyHeaderFactory)
        self.assertIs(wrapped.wrappedFactory, factory)
