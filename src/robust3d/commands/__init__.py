"""The CLI's command modules (``python -m robust3d <command>``), one per stage.

Together with :mod:`robust3d.cli` they are a composition root: they may import every layer (the paper stages
included, for the whole config check); no shared package imports them. Each module registers its commands with
:func:`robust3d.cli_registry.command`; heavy imports happen inside the run functions so that ``--help`` stays fast.
"""

