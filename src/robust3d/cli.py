"""`python -m robust3d <command> ...`: one entry point per pipeline step, each runnable without Snakemake.

Commands register themselves in :data:`robust3d.commands.COMMANDS` with a function that adds their arguments and
one that runs them; heavy imports happen inside the run functions so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from robust3d.cli_registry import COMMANDS, command, config_argument

#: Modules whose import registers the commands (the paper stages' own commands come with robust3d.papers.commands).
COMMAND_MODULES = ("robust3d.commands.synth", "robust3d.commands.variants", "robust3d.commands.depth",
                   "robust3d.commands.datasets", "robust3d.commands.evaluate", "robust3d.commands.models",
                   "robust3d.papers.commands")


@command("check-config", "validate a config file and print it with defaults filled in", config_argument)
def _check_config(args: argparse.Namespace) -> int:
    import yaml

    from robust3d.papers import load_config

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
    from robust3d.errors import ConfigError, InputError

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConfigError as err:
        print(f"robust3d: config error: {err}", file=sys.stderr)
        return 2
    except InputError as err:
        print(f"robust3d: bad input: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
