"""Synthetic, mirror-symmetric human heads with distinct identities (stand-in for face-track datasets).

PDR/LOOCC (Unsup3D-style de-rendering) assumes left-right symmetric objects and is evaluated by clustering
face tracks by identity, so we need heads whose shape *and* colours change with the identity while the
bilateral symmetry stays exact. A head is a UV sphere deformed by smooth identity-dependent bumps (nose,
brows, sockets, cheekbones, chin, jaw, hair volume) plus two ears and a short neck; the albedo is painted
by region masks evaluated on the object-space surface point (skin, eyes, brows, lips, hair, beard).

Conventions follow PASCAL3D+: +z up, the face looks towards -y (azimuth 0 sees it frontally), x is the
left-right axis. Geometry is first built in a *head frame* (head height about 1, skull centre at the
origin); :func:`build_face_mesh` then centres the bounding box and scales its largest side to 1. The head
frame is where the feature layout is defined, so :meth:`FaceIdentity.shade` maps points back to it with
the (cached, deterministic) normalisation of the identity's mesh.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .primitives import Mesh, ellipsoid, merge, rotation_matrix, transform

Color = tuple[float, float, float]
Array = np.ndarray | torch.Tensor

# Tessellation: 2 * S * (R - 1) head faces + 2 ears + neck = 1408 faces (within the 600-1500 budget).
_HEAD_SEGMENTS, _HEAD_RINGS = 32, 20
_NECK_SEGMENTS, _NECK_RINGS = 12, 5
_EAR_RINGS, _EAR_SEGMENTS = 4, 8

# Feature layout in the head frame (head height ~1, eyes at mid-height as in human proportions).
_EYE_Z = 0.0
_MOUTH_Z = -0.29

_SKIN_TONES = np.array([  # light to dark, interpolated so skin tone is a continuum
    [0.97, 0.82, 0.72], [0.93, 0.74, 0.60], [0.82, 0.60, 0.45], [0.67, 0.46, 0.31],
    [0.49, 0.32, 0.21], [0.32, 0.20, 0.13],
])
_HAIR_COLORS = np.array([  # black, dark brown, brown, auburn, red, blond, platinum, grey
    [0.06, 0.05, 0.05], [0.20, 0.12, 0.07], [0.40, 0.26, 0.14], [0.45, 0.18, 0.08],
    [0.70, 0.30, 0.10], [0.85, 0.70, 0.42], [0.93, 0.88, 0.72], [0.62, 0.62, 0.62],
])
_EYE_COLORS = np.array([  # dark brown, brown, hazel, green, blue, grey
    [0.20, 0.11, 0.05], [0.38, 0.22, 0.10], [0.48, 0.38, 0.16], [0.25, 0.45, 0.25],
    [0.22, 0.42, 0.70], [0.45, 0.52, 0.58],
])


@dataclass(frozen=True)
class FaceIdentity:
    """Shape and colour parameters of one synthetic person (lengths in the head frame, head height ~1)."""

    family: ClassVar[str] = "face"  # lets a face stand where a Texture is expected (manifests record it)

    # head shape
    width: float = 0.70  # skull width (x)
    height: float = 1.0  # skull height (z), crown to chin
    depth: float = 0.86  # skull depth (y), face to back of head
    jaw_width: float = 0.72  # fraction of the skull width left at the jaw line
    chin_width: float = 0.10  # half-width of the chin prominence
    chin: float = 0.05  # forward protrusion of the chin
    forehead: float = 1.0  # > 1 bulges the forehead forward, < 1 slopes it back
    cheekbones: float = 0.025  # outward bump below the eyes
    # nose
    nose_length: float = 0.19
    nose_width: float = 0.06
    nose_protrusion: float = 0.10
    # eyes, brows, mouth, ears
    brow_ridge: float = 0.02
    eye_socket: float = 0.025
    eye_spacing: float = 0.135  # |x| of each eye centre
    mouth_width: float = 0.085  # half-width of the lips
    ear_size: float = 1.0
    # hair
    hairline: float = 0.62  # elevation (radians on the skull) of the front hairline
    bald: bool = False  # hair only in a fringe over the ears and the back
    hair_length: float = 0.0  # how far hair comes down at the back: 0 = nape, 1 = shoulder-length
    hair_top: float = 0.04  # hair volume on the crown
    hair_back: float = 0.04  # hair volume on the back of the head
    # colours
    skin_color: Color = (0.82, 0.60, 0.45)
    hair_color: Color = (0.20, 0.12, 0.07)
    eye_color: Color = (0.38, 0.22, 0.10)
    lip_color: Color = (0.70, 0.36, 0.34)
    beard: bool = False
    moustache: bool = False
    beard_color: Color = (0.20, 0.12, 0.07)

    @property
    def color_a(self) -> Color:
        """Dominant colour (the skin), for flat 'cartoon' rendering that reads a texture's ``color_a``."""
        return self.skin_color

    def shade(self, points: torch.Tensor) -> torch.Tensor:
        """Albedo RGB in [0, 1], ``(N, 3)``, at surface points ``(N, 3)`` of this identity's normalised mesh."""
        centre, scale = _head(self)[1:]
        p = points * scale + torch.as_tensor(centre, dtype=points.dtype, device=points.device)
        return _albedo(self, p)


def _pick(rng: np.random.Generator, palette: np.ndarray, jitter: float) -> Color:
    """A palette entry with per-channel jitter, so identities sharing a palette entry still differ."""
    c = palette[rng.integers(len(palette))] * rng.uniform(1 - jitter, 1 + jitter, 3)
    return tuple(float(v) for v in c.clip(0, 1))


def sample_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw a plausible, diverse identity: proportions, features, skin tone, hair style and colours."""
    u = rng.uniform
    t = u(0, len(_SKIN_TONES) - 1)
    i = int(min(t, len(_SKIN_TONES) - 2))
    skin = (_SKIN_TONES[i] * (i + 1 - t) + _SKIN_TONES[i + 1] * (t - i)) * u(0.95, 1.05, 3)
    lip = skin * np.array([0.85, 0.55, 0.55]) + np.array([0.08, 0.0, 0.0]) * u(0, 1)
    hair = _pick(rng, _HAIR_COLORS, 0.12)
    for _ in range(8):  # hair must stand out from the skin, or the hairline (an identity cue) disappears
        if np.linalg.norm(np.subtract(hair, skin)) > 0.25:
            break
        hair = _pick(rng, _HAIR_COLORS, 0.12)
    bald = u() < 0.12
    facial_hair = u()
    return FaceIdentity(
        width=u(0.64, 0.76), height=u(0.94, 1.06), depth=u(0.80, 0.92),
        jaw_width=u(0.58, 0.86), chin_width=u(0.06, 0.13), chin=u(0.02, 0.08),
        forehead=u(0.9, 1.12), cheekbones=u(0.0, 0.045),
        nose_length=u(0.15, 0.22), nose_width=u(0.045, 0.08), nose_protrusion=u(0.07, 0.13),
        brow_ridge=u(0.0, 0.035), eye_socket=u(0.012, 0.035), eye_spacing=u(0.12, 0.15),
        mouth_width=u(0.07, 0.10), ear_size=u(0.8, 1.2),
        hairline=u(0.45, 0.75), bald=bald, hair_length=0.0 if bald else u(0, 1) ** 2,
        hair_top=0.0 if bald else u(0.0, 0.09), hair_back=0.0 if bald else u(0.01, 0.09),
        skin_color=tuple(float(v) for v in skin.clip(0, 1)), hair_color=hair,
        eye_color=_pick(rng, _EYE_COLORS, 0.1), lip_color=tuple(float(v) for v in lip.clip(0, 1)),
        beard=facial_hair < 0.2, moustache=facial_hair < 0.3,
        beard_color=tuple(float(v) for v in (np.array(hair) * u(0.8, 1.05)).clip(0, 1)),
    )


def _smoothstep(e0: float, e1: float, x: Array) -> Array:
    """Hermite ramp from 0 at ``e0`` to 1 at ``e1`` (either order); works on numpy arrays and tensors."""
    s = ((x - e0) / (e1 - e0)).clip(0, 1)
    return s * s * (3 - 2 * s)


def _hairline(identity: FaceIdentity, around: Array) -> Array:
    """Skull elevation (radians) above which hair grows, as a function of the angle ``around`` from the front.

    Piecewise-smooth through knots: forehead, temples, sideburns in front of the ears, above the ears, and
    the nape (lower for long hair). Shared by the hair volume and the hair albedo so the two agree.
    """
    knots = ((0.0, identity.hairline), (0.85, min(identity.hairline, 0.45)), (1.15, 0.0), (1.35, 0.0),
             (1.65, 0.3), (2.6, -0.45 - 0.6 * identity.hair_length))
    level = knots[0][1]
    for (a0, v0), (a1, v1) in zip(knots[:-1], knots[1:], strict=True):
        level = level + (v1 - v0) * _smoothstep(a0, a1, around)
    return level


def _sym_sphere(
    rings: int, segments: int, lat_warp: float = 0.0, lon_warp: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit UV sphere, exactly mirror-symmetric in x, with its (around, elevation) angles and faces.

    Columns sit at signed angles ``around`` from the front (-y), so column -k is column k mirrored; x is
    built as sign * sin|angle| so mirrored vertices match bit for bit. Quads on the -x side take the mirrored
    diagonal, making the triangulation symmetric too. ``lon_warp`` packs columns towards the face and
    ``lat_warp`` packs rings towards eye level, where the features are.
    """
    half = segments // 2
    k = np.arange(-half + 1, half + 1)
    s = k / half
    around = np.pi * s * ((1 - lon_warp) + lon_warp * np.abs(s))
    r = np.linspace(-1, 1, rings + 1)[1:-1]
    elev = np.pi / 2 * r * ((1 - lat_warp) + lat_warp * r * r)
    ca, ce = np.abs(np.cos(elev))[:, None], np.sin(elev)[:, None]
    x = np.sign(k) * np.sin(np.abs(around)) * ca
    x[:, k == half] = 0.0
    y = -np.cos(around) * ca
    z = np.broadcast_to(ce, x.shape)
    verts = np.concatenate([np.stack([x, y, z], -1).reshape(-1, 3), [[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]])
    ang = np.concatenate([np.broadcast_to(np.abs(around), x.shape).reshape(-1), [np.pi / 2, np.pi / 2]])
    el = np.concatenate([np.broadcast_to(elev[:, None], x.shape).reshape(-1), [-np.pi / 2, np.pi / 2]])

    nr, ns = rings - 1, segments
    ring, col = np.meshgrid(np.arange(nr - 1), np.arange(ns), indexing="ij")
    a, b = ring * ns + col, ring * ns + (col + 1) % ns  # lower ring, this and next column
    c, d = a + ns, b + ns  # upper ring
    plus = (k[col] >= 0) & (k[col] < half)  # quad between columns k and k+1 lies on the +x side
    tri1 = np.where(plus[..., None], np.stack([a, b, d], -1), np.stack([a, b, c], -1))
    tri2 = np.where(plus[..., None], np.stack([a, d, c], -1), np.stack([b, d, c], -1))
    bottom, top = nr * ns, nr * ns + 1
    j = np.arange(ns)
    caps = [np.stack([np.full(ns, bottom), (j + 1) % ns, j], -1),
            np.stack([np.full(ns, top), (nr - 1) * ns + j, (nr - 1) * ns + (j + 1) % ns], -1)]
    faces = np.concatenate([tri1.reshape(-1, 3), tri2.reshape(-1, 3), *caps])
    if Mesh(verts, faces).signed_volume() < 0:
        faces = faces[:, ::-1]
    return verts, ang, el, faces


def _gauss(d2: np.ndarray) -> np.ndarray:
    """Unnormalised Gaussian of a squared, already-scaled distance: the profile of every bump."""
    return np.exp(-d2)


def _skull(identity: FaceIdentity) -> Mesh:
    """The head surface: a deformed sphere carrying every identity-dependent bump."""
    d, around, elev, faces = _sym_sphere(_HEAD_RINGS, _HEAD_SEGMENTS, lat_warp=0.45, lon_warp=0.5)
    sx, sy, sz = d.T
    a, b, h = identity.width / 2, identity.depth / 2, identity.height / 2
    front = _smoothstep(-0.15, -0.6, sy)

    # Face fuller than an ellipsoid (flat front, strong lower face), narrowing to the jaw.
    sy = np.where(sy < 0, -np.abs(sy) ** (0.75 + 0.15 * _smoothstep(-0.6, 0.4, sz)), sy)
    fx = identity.jaw_width + (1 - identity.jaw_width) * _smoothstep(-1.0, 0.05, sz)
    x, y, z = a * sx * fx, b * sy, h * sz
    y = y * np.where(sy < 0, 1 + (identity.forehead - 1) * _smoothstep(0.15, 0.7, sz), 1.0)
    y = y * np.where(sy > 0, 1 + 0.08 * _smoothstep(-0.4, 0.2, sz), 1.0)  # occiput
    z = z - 0.05 * _smoothstep(-0.3, -0.9, sz) * front  # chin hangs a little lower than the jaw corners

    ax = np.abs(x)
    # Nose: a wedge growing from the bridge down to the tip, then tucking in at the base.
    top, tip = _EYE_Z + 0.04, _EYE_Z + 0.04 - identity.nose_length
    along = ((top - z) / (top - tip)).clip(0, None)
    profile = np.where(z > tip, along ** 1.3, np.exp(-(((z - tip) / 0.035) ** 2)))
    width = identity.nose_width * (0.45 + 0.55 * along.clip(0, 1))
    nose = identity.nose_protrusion * profile * _gauss((x / width) ** 2) * front
    brow = identity.brow_ridge * _gauss(((z - _EYE_Z - 0.065) / 0.035) ** 2 + (x / 0.22) ** 4) * front
    socket = identity.eye_socket * _gauss(((ax - identity.eye_spacing) / 0.055) ** 2 + ((z - _EYE_Z) / 0.04) ** 2)
    lips = 0.015 * _gauss((x / identity.mouth_width) ** 4 + ((z - _MOUTH_Z) / 0.03) ** 2) * front
    chin = identity.chin * _gauss((x / identity.chin_width) ** 2 + ((z - (-0.43)) / 0.07) ** 2) * front
    cheek = identity.cheekbones * _gauss(((ax - 0.2) / 0.07) ** 2 + ((z - _EYE_Z + 0.08) / 0.06) ** 2)
    y = y - nose - brow - lips - chin - 0.6 * cheek + socket * front
    x = x + np.sign(x) * cheek

    # Hair: volume on the crown and the back, with a step at the hairline.
    hair = _smoothstep(-0.05, 0.3, elev - _hairline(identity, around))
    crown = identity.hair_top * _smoothstep(0.0, 1.2, elev) + identity.hair_back * _smoothstep(1.0, 2.4, around)
    bulk = 0.012 + crown if identity.hair_top + identity.hair_back > 0 else 0.0
    r = hair * bulk
    x, y, z = x + r * d[:, 0], y + r * d[:, 1], z + r * d[:, 2]
    return Mesh(np.stack([x, y, z], -1), faces)


def _ears(identity: FaceIdentity, skull: Mesh) -> Mesh:
    """Two flat ellipsoids on the sides at eye-to-nose height, the left one the exact mirror of the right."""
    v = skull.verts.astype(np.float64)
    band = np.abs(v[:, 2] - (_EYE_Z - 0.07)) < 0.05
    side = float(v[band, 0].max())
    s = identity.ear_size
    ear = ellipsoid((0.025 * s, 0.055 * s, 0.09 * s), _EAR_RINGS, _EAR_SEGMENTS)
    rot = rotation_matrix("z", -0.35) @ rotation_matrix("y", 0.25) @ rotation_matrix("x", -0.15)
    right = transform(ear, rotation=rot, translation=(side - 0.005, 0.04, _EYE_Z - 0.07))
    return merge([right, transform(right, scale=(-1.0, 1.0, 1.0))])


def _neck(identity: FaceIdentity) -> Mesh:
    """A short, flat-bottomed neck tucked under the jaw (its top is hidden inside the head)."""
    d, _, _, faces = _sym_sphere(_NECK_RINGS, _NECK_SEGMENTS)
    squared = np.sign(d[:, 2]) * np.abs(d[:, 2]) ** 0.35  # push rings to the ends: a rounded cylinder
    rx = 0.24 * identity.width
    verts = np.stack([rx * d[:, 0], 0.05 + 1.1 * rx * d[:, 1], -0.45 + 0.17 * squared], -1)
    return Mesh(verts, faces)


@functools.lru_cache(maxsize=512)
def _head(identity: FaceIdentity) -> tuple[Mesh, np.ndarray, float]:
    """Head-frame mesh and its normalisation (centre, scale); cached so shading reuses the build."""
    skull = _skull(identity)
    mesh = merge([skull, _ears(identity, skull), _neck(identity)])
    v = mesh.verts.astype(np.float64)
    lo, hi = v.min(0), v.max(0)
    centre, scale = (lo + hi) / 2, float((hi - lo).max())
    centre[0] = 0.0  # the box is symmetric in x; keep x = 0 exactly on the mirror plane
    return mesh, centre, scale


def build_face_mesh(identity: FaceIdentity) -> Mesh:
    """Closed, x-mirror-symmetric head of ``identity``: centred box, largest side 1, outward normals."""
    mesh, centre, scale = _head(identity)
    return Mesh((mesh.verts.astype(np.float64) - centre) / scale, mesh.faces.copy())


def face_landmarks(identity: FaceIdentity) -> dict[str, np.ndarray]:
    """Surface points (normalised object coordinates) of the eyes, nose tip, mouth and chin.

    The layout is known in (x, z); y comes from casting a ray from the front (-y) onto the mesh, so the
    points lie on the rendered surface (keypoints for evaluation, probes for tests). The person's left
    eye is on +x: they look towards -y with +z up.
    """
    mesh, centre, scale = _head(identity)
    tip = _EYE_Z + 0.04 - identity.nose_length
    xz = {"left_eye": (identity.eye_spacing, _EYE_Z), "right_eye": (-identity.eye_spacing, _EYE_Z),
          "nose_tip": (0.0, tip), "mouth": (0.0, _MOUTH_Z), "chin": (0.0, -0.43)}
    tri = mesh.verts.astype(np.float64)[mesh.faces]
    out = {}
    for name, (x, z) in xz.items():
        t = _ray_hit(tri, np.array([x, -10.0, z]), np.array([0.0, 1.0, 0.0]))
        out[name] = ((np.array([x, -10.0 + t, z]) - centre) / scale).astype(np.float32)
    return out


def _ray_hit(tri: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> float:
    """Distance to the nearest triangle hit by a ray (Moller-Trumbore over all triangles at once)."""
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    pv = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, pv)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = origin - tri[:, 0]
    u = np.einsum("ij,ij->i", tv, pv) * inv
    qv = np.cross(tv, e1)
    v = (qv @ direction) * inv
    t = np.einsum("ij,ij->i", e2, qv) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    if not hit.any():
        raise ValueError("the ray misses the mesh")
    return float(t[hit].min())


def _ellipse(
    x: torch.Tensor, z: torch.Tensor, cx: float, cz: float, rx: float, rz: float, soft: float = 0.15
) -> torch.Tensor:
    """Soft inside-mask of an axis-aligned ellipse in the (x, z) plane; ``soft`` blurs the rim."""
    q = ((x - cx) / rx) ** 2 + ((z - cz) / rz) ** 2
    return torch.sigmoid((1 - q) / soft)


def _mix(base: torch.Tensor, color: Color, mask: torch.Tensor) -> torch.Tensor:
    """Paint ``color`` over ``base`` with per-point opacity ``mask``."""
    c = torch.tensor(color, dtype=base.dtype, device=base.device)
    return base + (c - base) * mask[:, None]


def _albedo(identity: FaceIdentity, p: torch.Tensor) -> torch.Tensor:
    """Paint skin, brows, eyes, lips, facial hair and hair on head-frame points ``p`` (symmetric: uses |x|)."""
    x, y, z = p[:, 0].abs(), p[:, 1], p[:, 2]
    a, b, h = identity.width / 2, identity.depth / 2, identity.height / 2
    # Angles of the skull direction; ratios, so the radial hair displacement barely moves them.
    around = torch.atan2(x / a, -y / b)
    elev = torch.atan2(z / h, torch.hypot(x / a, y / b))
    front = (y < -0.15).to(p.dtype)
    rgb = torch.tensor(identity.skin_color, dtype=p.dtype, device=p.device).expand(len(p), 3)

    ex, ew = identity.eye_spacing, 0.05
    blush = _ellipse(x, z, ex + 0.03, _EYE_Z - 0.13, 0.07, 0.05, 0.6) * front
    rgb = _mix(rgb, (0.85, 0.35, 0.35), 0.12 * blush)  # rosy cheeks
    lip_up = identity.mouth_width
    if identity.beard:
        low = -0.25 + 0.25 * _smoothstep(0.55, 1.1, around)  # chin and jaw, up to the sideburns
        beard = torch.sigmoid((low - z) / 0.012) * torch.sigmoid((1.3 - around) / 0.04) * (z > -0.58).to(p.dtype)
        rgb = _mix(rgb, identity.beard_color, beard * 0.95)
    if identity.moustache:
        band = _ellipse(x, z, 0.0, _MOUTH_Z + 0.05, lip_up + 0.02, 0.022, 0.2) * front
        rgb = _mix(rgb, identity.beard_color, band * 0.95)
    rgb = _mix(rgb, identity.lip_color, _ellipse(x, z, 0.0, _MOUTH_Z, lip_up, 0.026) * front)
    rgb = _mix(rgb, (0.25, 0.08, 0.08), _ellipse(x, z, 0.0, _MOUTH_Z, lip_up * 0.95, 0.005, 0.3) * front)

    arch = _EYE_Z + 0.06 - 2.0 * (x - ex + 0.01) ** 2
    brow = torch.sigmoid((0.016 - (z - arch).abs()) / 0.003) * torch.sigmoid((0.065 - (x - ex).abs()) / 0.008)
    brow_color = tuple(0.5 * c + 0.5 * d for c, d in zip(identity.hair_color, (0.16, 0.1, 0.06), strict=True))
    rgb = _mix(rgb, brow_color, brow * front * 0.9)

    white = _ellipse(x, z, ex, _EYE_Z, ew, 0.02, 0.08) * front
    iris = _ellipse(x, z, ex, _EYE_Z, 0.02, 0.02, 0.1) * white
    pupil = _ellipse(x, z, ex, _EYE_Z, 0.008, 0.008, 0.2) * white
    rgb = _mix(rgb, (0.95, 0.95, 0.93), white)
    rgb = _mix(rgb, identity.eye_color, iris)
    rgb = _mix(rgb, (0.03, 0.03, 0.03), pupil)

    hair = torch.sigmoid((elev - _hairline(identity, around)) / 0.012) * (z > -0.62).to(p.dtype)
    if identity.bald:
        hair = hair * torch.sigmoid((0.35 - elev) / 0.02) * torch.sigmoid((around - 1.2) / 0.03)  # a horseshoe
    return _mix(rgb, identity.hair_color, hair).clamp(0, 1)
