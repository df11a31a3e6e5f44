"""nnlab's version, in a module of its own so that io.py (and pyproject.toml) read it without importing the package root."""

__version__ = "0.1.0"
