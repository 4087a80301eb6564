"""
Tests for L{gracehttp._protocols.addresses}.
"""

import unittest

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

from gracehttp._protocols.addresses import serverAddress


class ServerAddressTests(unittest.TestCase):
    """
    L{serverAddress} gives the ASGI C{scope["server"]} of a listening
    socket's address.
    """

    def test_tcp(self):
        """IPv4 and IPv6 addresses are (host, port)."""
        self.assertEqual(serverAddress(IPv4Address("TCP", "127.0.0.1", 8000)), ("127.0.0.1", 8000))
        self.assertEqual(serverAddress(IPv6Address("TCP", "::1", 8443)), ("::1", 8443))

    def test_unix(self):
        """A UNIX socket is (path, None), as the ASGI HTTP scope says."""
        self.assertEqual(serverAddress(UNIXAddress(b"/run/app.sock")), ("/run/app.sock", None))

    def test_unnamed(self):
        """An unnamed UNIX socket (a socketpair) has no address: None."""
        self.assertIsNone(serverAddress(UNIXAddress(None)))
