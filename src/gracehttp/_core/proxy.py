"""
Proxy headers: who the client is, and which scheme it used, when a
reverse proxy we trust says so.

Three headers are understood:

  - C{Forwarded} (RFC 7239): a comma-separated list of elements, one per
    proxy hop, each a C{;}-separated list of C{name=value} pairs; C{for=}
    (the node that sent the request to that hop: an IPv4 address, a
    bracketed, quoted IPv6 address, C{unknown} or an obfuscated C{_name},
    optionally with C{:port}) and C{proto=} (the scheme of that hop) are
    used.
  - C{X-Forwarded-For} (de facto): a comma-separated list of addresses,
    one appended by each proxy.
  - C{X-Forwarded-Proto} (de facto): the scheme.

When C{Forwarded} is present the C{X-Forwarded-*} headers are ignored.

Choosing the client
===================

Any hop can write whatever it likes to the left of what the proxies we
trust appended, so the list is read from the right: the client is the
right-most address that is not itself a trusted proxy (the "right-most
untrusted" rule).  When every address is trusted (e.g. C{"*"}), the
left-most one, the client the first proxy reports, is used.  With
C{Forwarded} the scheme is the C{proto=} of the element chosen that way;
with C{X-Forwarded-Proto} it is the right-most value (set by the proxy that
talks to us).  A scheme other than C{http}/C{https}, or a header that does
not parse, is ignored as a whole: the connection's own address and scheme
stay.  A port is kept when C{Forwarded} gives one, else it is C{0}; an
C{unknown} node makes the client L{None}.
"""

import ipaddress
import re

_SCHEMES = ("http", "https")

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PAIR = re.compile(r"[ \t]*(" + _TOKEN + r")=(" + _TOKEN + r'|"(?:[^"\\]|\\.)*")[ \t]*(?:([;,])|$)')
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")


class TrustedProxies:
    """
    The peers whose proxy headers are believed, parsed once (per factory).

    @ivar everyone: C{"*"} was given: every peer is trusted, including
        peers without an IP address (UNIX sockets).
    """

    def __init__(self, specs):
        """
        @param specs: IP addresses or CIDR networks (C{"10.0.0.0/8"},
            C{"::1"}), or C{"*"}.
        @type specs: iterable of L{str}
        @raise ValueError: an entry is none of these (see L{trustedNetwork}).
        """
        self.everyone = False
        networks = []
        for spec in specs:
            network = trustedNetwork(spec)
            if network is None:
                self.everyone = True
            else:
                networks.append(network)
        self._networks = tuple(networks)

    def __contains__(self, host):
        """
        Is C{host} a trusted proxy?

        @param host: an IP address, or L{None} (a UNIX socket peer).
        @type host: L{str} or L{None}
        @rtype: L{bool}
        """
        if self.everyone:
            return True
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)


def trustedNetwork(spec):
    """
    Parse one entry of C{--forwarded-allow-ips}: the one check of a
    trusted proxy's address, made by the configuration
    (L{gracehttp._config.Config}) and by L{TrustedProxies}.

    @param spec: an IP address, a CIDR network or C{"*"}.
    @type spec: L{str}
    @return: the network (one address is a network of one), or L{None}
        for C{"*"} (every peer).
    @rtype: L{ipaddress.IPv4Network} or L{ipaddress.IPv6Network} or L{None}
    @raise ValueError: C{spec} is none of these (a one-line message naming
        it).
    """
    if spec == "*":
        return None
    if isinstance(spec, str):
        try:
            return ipaddress.ip_network(spec, strict=False)
        except ValueError:
            pass
    raise ValueError(f"forwarded allow IPs: {spec!r} is not an IP address, a CIDR network or '*'")


def forwarded(headers, trusted, client, scheme):
    """
    Apply the proxy headers of a request that came from a trusted peer.

    @param headers: the request's header fields, names lowercased.
    @type headers: L{list} of (L{bytes}, L{bytes})
    @param trusted: the trusted proxies.
    @type trusted: L{TrustedProxies}
    @param client: the peer's C{(host, port)}, or L{None}.
    @param scheme: the connection's scheme, C{"http"} or C{"https"}.
    @return: C{(client, scheme)} as the proxies report them (see the module
        docstring), or the arguments unchanged.
    """
    forwardedValues = []
    forValues = []
    protoValues = []
    for name, value in headers:
        if name == b"forwarded":
            forwardedValues.append(value)
        elif name == b"x-forwarded-for":
            forValues.append(value)
        elif name == b"x-forwarded-proto":
            protoValues.append(value)
    if forwardedValues:
        return _fromForwarded(b",".join(forwardedValues), trusted, client, scheme)
    if forValues:
        client = _fromXForwardedFor(b",".join(forValues), trusted, client)
    if protoValues:
        proto = b",".join(protoValues).decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        if proto in _SCHEMES:
            scheme = proto
    return client, scheme


def _fromXForwardedFor(value, trusted, client):
    nodes = []
    for entry in value.decode("latin-1").split(","):
        node = _node(entry.strip())
        if node is None:
            return client
        nodes.append(node)
    return nodes[_choose(nodes, trusted)]


def _fromForwarded(value, trusted, client, scheme):
    elements = parseForwarded(value.decode("latin-1"))
    if elements is None:
        return client, scheme
    nodes = []
    for element in elements:
        text = element.get("for", "unknown")
        if text.count(":") > 1 and not text.startswith("["):
            # RFC 7239 section 6: an IPv6 node is always bracketed.
            return client, scheme
        node = _node(text)
        if node is None:
            return client, scheme
        nodes.append(node)
    index = _choose(nodes, trusted)
    chosen = nodes[index]
    proto = elements[index].get("proto", scheme).lower()
    if proto not in _SCHEMES:
        proto = scheme
    return (chosen if chosen[0] is not None else None), proto


def _choose(nodes, trusted):
    """
    The index of the right-most node that is not a trusted proxy, or C{0}.
    """
    for index in range(len(nodes) - 1, -1, -1):
        host = nodes[index][0]
        if host is None or host not in trusted:
            return index
    return 0


def parseForwarded(value):
    """
    Parse a C{Forwarded} field value (RFC 7239 section 4).

    @type value: L{str}
    @return: one L{dict} per element, parameter names lowercased and
        quoted-strings unquoted; L{None} if the value does not parse.
    @rtype: L{list} of L{dict} or L{None}
    """
    elements = [{}]
    position = 0
    end = len(value)
    while position < end:
        if value[position] in " \t,":
            # Empty list elements are allowed (RFC 9110 section 5.6.1).
            if value[position] == "," and elements[-1]:
                elements.append({})
            position += 1
            continue
        match = _PAIR.match(value, position)
        if match is None:
            return None
        name, token, separator = match.groups()
        if token.startswith('"'):
            token = re.sub(r"\\(.)", r"\1", token[1:-1])
        elements[-1][name.lower()] = token
        position = match.end()
        if separator == ",":
            elements.append({})
    if not elements[-1]:
        elements.pop()
    return elements or None


def _node(text):
    """
    Parse a node: an X-Forwarded-For entry or a C{for=} value (RFC 7239
    section 6).

    @type text: L{str}
    @return: C{(host, port)}; C{host} is L{None} for C{unknown}; C{port} is
        C{0} when absent or obfuscated.  L{None} if it does not parse.
    """
    port = "0"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            return None
        if rest:
            if rest[0] != ":":
                return None
            port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    else:
        if text.count(":") == 1:
            text, port = text.split(":")
        host = text
        if host == "unknown":
            host = None
        elif _OBFUSCATED.fullmatch(host) is None:
            try:
                host = str(ipaddress.ip_address(host))
            except ValueError:
                return None
    if _PORT.fullmatch(port) is None:
        return None
    return (host, int(port) if port.isdigit() else 0)
