"""`python -m robust3d <command> ...`: one entry point per pipeline step, each runnable without Snakemake.

Commands register themselves in :data:`robust3d.commands.COMMANDS` with a function that adds their arguments and
one that runs them; heavy imports happen inside the run functions so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from robust3d.cli_registry import COMMANDS, command

#: Modules whose import registers the commands (the paper stages' own commands come with robust3d.papers.commands).
COMMAND_MODULES = ("robust3d.commands.synth", "robust3d.commands.variants", "robust3d.commands.depth",
                   "robust3d.commands.pretrain", "robust3d.commands.datasets", "robust3d.commands.evaluate",
                   "robust3d.commands.models", "robust3d.commands.compare", "robust3d.commands.byom",
                   "robust3d.commands.report", "robust3d.papers.commands")


def _check_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", "--configfiles", nargs="+", default=[], metavar="FILE",
                   help="config files, layered left to right as `snakemake --configfile` does (default: config.yaml)")
    p.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE",
                   help="overrides, as `snakemake --config` takes them (e.g. 'datasets={raw_root: /data/raw}')")


@command("check-config", "print the config a `snakemake` call with the same --configfile/--config flags runs",
         _check_config_arguments)
def _check_config(args: argparse.Namespace) -> int:
    import yaml

    from robust3d.config_layers import parse_overrides
    from robust3d.errors import ConfigError
    from robust3d.papers import load_config

    for entry in args.config:
        if "=" not in entry:
            raise ConfigError(f"--config '{entry}': give key=value overrides (config files go after --configfile, "
                              "as for snakemake)")
    files = args.configfile or ["config.yaml"]
    print(yaml.safe_dump(load_config(files, parse_overrides(args.config)), sort_keys=False), end="")
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
