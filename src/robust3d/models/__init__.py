"""Models: a registry of model ids (any paper's ``<paper>.models``), the shared runtime (device, determinism,
checkpoints), backbones, data loading, and one sub-package or module per method family (``neural_mesh``: NOVUM /
3D-CompNets; ``dual_head``: baselines). Families read the paper section they are given, never a paper by name."""
