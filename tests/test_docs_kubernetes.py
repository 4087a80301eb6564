"""
The Kubernetes how-to (C{docs/howto/kubernetes.rst}): its manifests parse
as YAML, its container's options are gracehttp's and valid, and its
numbers (the termination grace period, the sum it explains, the defaults
it quotes, the probe ports) agree with the settings table.  No cluster
runs here; the manifests are read, not applied.
"""

import os
import re
import unittest

import yaml

from gracehttp._config import DEFAULTS, SETTINGS, Config
from gracehttp._protocols.readiness import LIVENESS_PATH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "howto", "kubernetes.rst")

_BY_OPTION = {setting.option: setting for setting in SETTINGS}


def yamlBlocks(text):
    """
    @return: the text of each C{.. code-block:: yaml} directive, dedented.
    """
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: yaml\n\n((?:    .*\n|\n)+)", text, re.M):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks


def gracehttpOptions(args):
    """
    @return: the options after C{gracehttp} in a container's C{args}, by
        option name, each a list of values.
    """
    options = args[args.index("gracehttp") + 1 :]
    found = {}
    for name, value in zip(options[::2], options[1::2], strict=True):
        found.setdefault(name.removeprefix("--"), []).append(value)
    return found


def seconds(options, name):
    """
    @return: a seconds setting as the options give it, else its default.
    """
    setting = _BY_OPTION[name]
    if name in options:
        return setting.kind.parse(options[name][-1], name)
    return DEFAULTS[setting.name]


class KubernetesPageTests(unittest.TestCase):
    """
    The page's manifests, read as Kubernetes would read them.
    """

    @classmethod
    def setUpClass(cls):
        with open(PAGE, encoding="utf-8") as f:
            cls.text = f.read()
        cls.documents = [doc for block in yamlBlocks(cls.text) for doc in yaml.safe_load_all(block)]
        [cls.deployment] = [doc for doc in cls.documents if doc["kind"] == "Deployment"]
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        [cls.container] = cls.pod["containers"]
        cls.options = gracehttpOptions(cls.container["args"])

    def containerPort(self, port):
        """
        @return: the container port a probe's or Service's port names.
        """
        if isinstance(port, int):
            return port
        [found] = [p["containerPort"] for p in self.container["ports"] if p["name"] == port]
        return found

    def test_manifestsParse(self):
        """Every YAML block parses: a Deployment and two Services."""
        kinds = sorted(doc["kind"] for doc in self.documents)
        self.assertEqual(kinds, ["Deployment", "Service", "Service"])
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(self.deployment["spec"]["selector"]["matchLabels"], labels)
        for service in self.documents[1:]:
            self.assertEqual(service["spec"]["selector"], labels)

    def test_optionsValid(self):
        """The container runs twist gracehttp with options that make a valid Config."""
        self.assertEqual(self.container["args"][0], "twist")
        values = {}
        for option, given in self.options.items():
            if option == "app":
                continue
            setting = _BY_OPTION[option]
            parsed = [setting.kind.parse(text, option) for text in given]
            values[setting.name] = parsed if setting.kind.repeatable else parsed[-1]
        Config(**values)

    def test_terminationCoversStop(self):
        """
        terminationGracePeriodSeconds exceeds preStop + graceful timeout +
        disconnect grace period + lifespan timeout, and the page's sum
        says those numbers.
        """
        sleep = int(self.container["lifecycle"]["preStop"]["exec"]["command"][1])
        parts = [
            sleep,
            seconds(self.options, "graceful-timeout"),
            seconds(self.options, "disconnect-grace-period"),
            seconds(self.options, "lifespan-timeout"),
        ]
        total = sum(parts)
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], total)
        written = " + ".join(f"{part:g}" for part in parts) + f" = {total:g} seconds"
        self.assertIn(written, " ".join(self.text.split()))
        period = self.pod["terminationGracePeriodSeconds"]
        self.assertIn(f"``terminationGracePeriodSeconds: {period}``", self.text)

    def test_defaultsQuoted(self):
        """The defaults the page quotes, and their sum, are the settings table's."""
        defaults = [
            DEFAULTS["gracefulTimeout"],
            DEFAULTS["disconnectGracePeriod"],
            DEFAULTS["lifespanTimeout"],
        ]
        text = " ".join(self.text.split())
        for option, value in zip(
            ("graceful-timeout", "disconnect-grace-period", "lifespan-timeout"),
            defaults,
            strict=True,
        ):
            self.assertRegex(text, rf"``--{option}`` seconds[^(]*\(default {value:g}[;)]")
        written = " + ".join(f"{value:g}" for value in defaults) + f" = {sum(defaults):g} seconds"
        self.assertIn(written, text)

    def test_probesOnReadinessEndpoint(self):
        """Both probes go to the --readiness-listen port; liveness on /livez, readiness not."""
        [readiness] = self.options["readiness-listen"]
        port = int(readiness.split(":")[1])
        readinessProbe = self.container["readinessProbe"]["httpGet"]
        livenessProbe = self.container["livenessProbe"]["httpGet"]
        self.assertEqual(self.containerPort(readinessProbe["port"]), port)
        self.assertEqual(self.containerPort(livenessProbe["port"]), port)
        self.assertEqual(livenessProbe["path"], LIVENESS_PATH.decode())
        self.assertNotEqual(readinessProbe["path"], LIVENESS_PATH.decode())

    def test_servicesTargetListeners(self):
        """
        The Service targets the --listen port; the NLB Service a haproxy:
        port the page adds, and checks health on the readiness port.
        """
        [listen] = self.options["listen"]
        service, public = self.documents[1:]
        self.assertEqual(
            self.containerPort(service["spec"]["ports"][0]["targetPort"]),
            int(listen.split(":")[1]),
        )
        target = public["spec"]["ports"][0]["targetPort"]
        self.assertIn(f"- haproxy:tcp:{target}:interface=0.0.0.0", self.text)
        annotations = public["metadata"]["annotations"]
        prefix = "service.beta.kubernetes.io/aws-load-balancer-"
        self.assertEqual(annotations[prefix + "proxy-protocol"], "*")
        [readiness] = self.options["readiness-listen"]
        self.assertEqual(annotations[prefix + "healthcheck-port"], readiness.split(":")[1])
