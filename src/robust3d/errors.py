"""Errors every layer may raise without importing the layer that explains them."""


class ConfigError(ValueError):
    """A config that cannot run; the message is one line naming the key."""


class InputError(ValueError):
    """An input file that cannot be used; the message is one line naming the file and what is wrong with it."""
