"""
The addresses a protocol hands to an exchange, from its transport's.
"""

import os

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress


def serverAddress(address):
    """
    The listening socket's address, as the ASGI C{scope["server"]} gives
    it (ASGI HTTP connection scope): C{(host, port)} for TCP, C{(path,
    None)} for a UNIX socket.

    @param address: the transport's C{getHost()}.
    @return: the pair, or L{None} for another kind of address.
    @rtype: L{tuple} or L{None}
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    if isinstance(address, UNIXAddress) and address.name is not None:
        return (os.fsdecode(address.name), None)
    return None
