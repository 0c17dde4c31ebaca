"""Neural mesh models (NeMo/NOVUM, 3D-CompNets): cuboid meshes with unit vertex features, trained contrastively.

``mesh`` (model, cuboids, projection), ``bank`` (vertex/background features), ``losses`` (NOVUM, Eq. 5),
``classify`` (Eq. 7), ``train`` (resumable training), ``flops`` (loss FLOPs, scaling), ``family`` (the registry's
entry point), plus inference (render-and-compare pose) in ``inference``/``predict``.
"""
