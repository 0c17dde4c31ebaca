"""Models: a registry of model ids (config ``compnets.models``), shared backbones, data loading, and one
sub-package or module per method family (``neural_mesh``: NOVUM / 3D-CompNets; ``dual_head``: baselines)."""
