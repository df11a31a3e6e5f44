"""Errors a user can cause and fix: the CLI prints their message and exits non-zero, without a traceback."""


class NnlabError(Exception):
    """Base class of the errors that describe bad input rather than a bug."""


class ConfigError(NnlabError, ValueError):
    """A configuration key or value is unknown or out of range."""


class DataError(NnlabError, ValueError):
    """Data that cannot be used as given (NaN, wrong shape, bad labels, empty)."""


class ModelFileError(NnlabError):
    """A model file that is missing, truncated, corrupted or not an nnlab model."""
