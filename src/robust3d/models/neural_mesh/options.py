"""A neural mesh model's own options (its config entry beyond family and backbone), parsed and checked here."""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.models.spec import ModelSpec

#: The contrastive losses (:data:`robust3d.models.neural_mesh.losses.LOSSES`).
LOSS_NAMES = ("novum", "compnets", "nemo")
#: Which class's mesh the pose is estimated with (``pose_from`` option, ``predict.predict``): the predicted one
#: (3D-CompNets Sec. 3.4) or the image's ground-truth one (NeMo's protocol).
POSE_FROM = ("predicted", "gt")


@dataclass(frozen=True)
class MeshOptions:
    """``loss``: novum, compnets or nemo; ``cross_samples``: the compnets loss's N; ``n_vertices``: K of the cuboids
    (the model's own ``vertices_per_class``, or the section's ``mesh.vertices_per_class``).

    ``background_weight`` (each background term of the softmax) and ``regularizer`` (weight of the mean
    background-vertex cosine, ``losses.background_regularizer``): NOVUM's release values for the novum loss
    (``mesh.novum_background_weight``, ``mesh.novum_regularizer``: 0.005 and 0.1); the nemo loss the same two
    (NOVUM took them from NeMo: ``--weight_noise 5e-3`` and ``0.1 x`` the mean background similarity); the compnets
    loss is Eq. 5, whose background terms weigh 1 and which has no regulariser.

    Prediction options, checked here too (read by ``predict``): ``pose_from`` (:data:`POSE_FROM`, default
    ``predicted``) and ``classify`` (default true; false leaves ``pred_class`` empty and needs ``pose_from: gt``).
    """

    loss: str
    cross_samples: int | None
    n_vertices: int
    background_weight: float = 1.0
    regularizer: float = 0.0

    @classmethod
    def of(cls, spec: ModelSpec, section: dict) -> MeshOptions:
        loss, cross, own = (spec.options.get(k) for k in ("loss", "cross_samples", "vertices_per_class"))
        if loss not in LOSS_NAMES:
            raise ValueError(f"model '{spec.name}': loss must be one of {', '.join(LOSS_NAMES)}, got {loss!r}")
        if loss == "compnets" and (not isinstance(cross, int) or cross < 1):
            raise ValueError(f"model '{spec.name}': the compnets loss needs cross_samples >= 1, got {cross!r}")
        if loss == "nemo" and cross is not None:
            raise ValueError(f"model '{spec.name}': the nemo loss contrasts no other class; drop cross_samples "
                             f"(got {cross!r})")
        prediction_options(spec)
        mesh = section["mesh"]
        k = own if own is not None else mesh["vertices_per_class"]
        return cls(loss, int(cross) if cross is not None else None, int(k), *loss_weights(loss, mesh))


def prediction_options(spec: ModelSpec) -> tuple[str, bool]:
    """``(pose_from, classify)`` of a neural mesh model (see :class:`MeshOptions`), checked."""
    pose_from, classify = spec.options.get("pose_from", "predicted"), spec.options.get("classify", True)
    if pose_from not in POSE_FROM:
        raise ValueError(f"model '{spec.name}': pose_from must be one of {', '.join(POSE_FROM)}, got {pose_from!r}")
    if not isinstance(classify, bool):
        raise ValueError(f"model '{spec.name}': classify must be true or false, got {classify!r}")
    if not classify and pose_from != "gt":
        raise ValueError(f"model '{spec.name}': a model that does not classify estimates the pose with the "
                         "ground-truth class's mesh; set pose_from: gt")
    return pose_from, classify


def loss_weights(loss: str, mesh: dict) -> tuple[float, float]:
    """``(background_weight, regularizer)`` of the loss ``loss`` (see :class:`MeshOptions`); ``mesh``: the config's
    mesh block."""
    if loss in ("novum", "nemo"):
        return float(mesh["novum_background_weight"]), float(mesh["novum_regularizer"])
    return 1.0, 0.0
