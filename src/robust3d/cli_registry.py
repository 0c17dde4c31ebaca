"""The CLI's command registry: every ``python -m robust3d <command>`` registers here with :func:`command`.

A leaf module (it imports nothing of the package), so the command modules of robust3d.commands and of the paper
stages can both register without importing each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator registering ``fn(args)`` as the subcommand ``name``."""

    def register(fn: Callable[[argparse.Namespace], int | None]):
        COMMANDS[name] = Command(help, add_arguments, fn)
        return fn

    return register


def config_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yaml", help="YAML config (validated against the schema)")
