"""
Sphinx configuration for the gracehttp documentation.

Build with: sphinx-build docs docs/_build
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from gracehttp._version import __version__

project = "gracehttp"
author = "The gracehttp developers"
release = __version__.public()
version = release

extensions = []
exclude_patterns = ["_build", "examples"]
html_theme = "alabaster"
