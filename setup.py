from setuptools import setup

# Metadata and packages: setup.cfg.  Version: incremental, enabled in
# pyproject.toml ([tool.incremental]), from src/gracehttp/_version.py.
setup()
