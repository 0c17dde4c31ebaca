"""A neural mesh model's own options (its config entry beyond family and backbone), parsed and checked here."""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.models.spec import ModelSpec

#: The contrastive losses (:data:`robust3d.models.neural_mesh.losses.LOSSES`).
LOSS_NAMES = ("novum", "compnets")


@dataclass(frozen=True)
class MeshOptions:
    """``loss``: novum or compnets; ``cross_samples``: the compnets loss's N; ``n_vertices``: K of the cuboids
    (the model's own ``vertices_per_class``, or the section's ``mesh.vertices_per_class``).

    ``background_weight`` (each background term of the softmax) and ``regularizer`` (weight of the mean
    background-vertex cosine, ``losses.background_regularizer``): NOVUM's release values for the novum loss
    (``mesh.novum_background_weight``, ``mesh.novum_regularizer``: 0.005 and 0.1); the compnets loss is Eq. 5,
    whose background terms weigh 1 and which has no regulariser.
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
        mesh = section["mesh"]
        k = own if own is not None else mesh["vertices_per_class"]
        return cls(loss, int(cross) if cross is not None else None, int(k), *loss_weights(loss, mesh))


def loss_weights(loss: str, mesh: dict) -> tuple[float, float]:
    """``(background_weight, regularizer)`` of the loss ``loss`` (see :class:`MeshOptions`); ``mesh``: the config's
    mesh block."""
    if loss == "novum":
        return float(mesh["novum_background_weight"]), float(mesh["novum_regularizer"])
    return 1.0, 0.0
