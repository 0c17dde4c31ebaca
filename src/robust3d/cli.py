"""`python -m robust3d <command> ...`: one entry point per pipeline step, each runnable without Snakemake.

Commands register themselves in :data:`COMMANDS` with a function that adds their arguments and one that
runs them; heavy imports happen inside the run functions so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}
#: Modules whose import registers further commands.
COMMAND_MODULES = ("robust3d.synth.commands", "robust3d.variants.commands", "robust3d.depth.commands",
                   "robust3d.data.datasets.commands", "robust3d.evaluate.commands",
                   "robust3d.tables.commands", "robust3d.models.commands")


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator registering ``fn(args)`` as the subcommand ``name``."""

    def register(fn: Callable[[argparse.Namespace], int | None]):
        COMMANDS[name] = Command(help, add_arguments, fn)
        return fn

    return register


def _config_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yaml", help="YAML config (validated against the schema)")


@command("check-config", "validate a config file and print it with defaults filled in", _config_argument)
def _check_config(args: argparse.Namespace) -> int:
    import yaml

    from robust3d.config import load_config

    print(yaml.safe_dump(load_config(args.config), sort_keys=False), end="")
    return 0


def _load_command_modules() -> None:
    """Import the modules that register further commands."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)


def build_parser() -> argparse.ArgumentParser:
    _load_command_modules()
    parser = argparse.ArgumentParser(prog="robust3d", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from robust3d.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConfigError as err:
        print(f"robust3d: config error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
