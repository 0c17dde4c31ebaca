"""Procedural, part-based CAD categories standing in for PASCAL3D+ (and many extra classes for scaling).

Conventions follow PASCAL3D+ so the pose code can be shared with the real benchmark: +z is up, the front
of the object faces -y (azimuth 0 looks at the front), vehicles are long along y, and every mesh is
centred at its bounding-box centre with its largest bounding-box side equal to 1. Each builder samples
both proportions and part structure (style variants, optional parts) from the generator, so that a
category has intra-class shape variation like a set of CAD models. Meshes stay low-poly (100-1500 faces)
because renderer cost scales with faces.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from robust3d.geometry.classes import PASCAL3D_CLASSES

from .primitives import (
    Mesh,
    box,
    cone,
    cylinder,
    ellipsoid,
    lathe,
    merge,
    normalize,
    prism,
    rotation_matrix,
    subdivide,
    torus,
    transform,
    tube_between,
    wedge,
)

MIN_FACES, MAX_FACES = 100, 1500

Vec3 = Sequence[float] | np.ndarray
Builder = Callable[[np.random.Generator], Mesh]


# ----------------------------------------------------------------------------------------- helpers
def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _box(center: Vec3, size: Vec3) -> Mesh:
    return transform(box(size), translation=center)


def _at(mesh: Mesh, center: Vec3, rotation: np.ndarray | None = None) -> Mesh:
    return transform(mesh, rotation=rotation, translation=center)


def _side(profile_yz: Sequence[Sequence[float]], width: float, x: float = 0.0) -> Mesh:
    """Side silhouette in (y, z) extruded along x: the natural way to draw vehicle bodies, fins, sails."""
    return _at(prism(profile_yz, width, axis="x"), (x, 0.0, 0.0))


def _tube(p0: Vec3, p1: Vec3, radius: float, segments: int = 6) -> Mesh:
    return tube_between(p0, p1, radius, segments)


def _wheel(center: Vec3, radius: float, width: float, tyre: float = 0.35, segments: int = 12,
           tube_segments: int = 6, hub: bool = True) -> list[Mesh]:
    """Torus tyre (radial thickness tyre * radius, axle along x) plus an optional hub disc."""
    t = tyre * radius
    tyre_mesh = torus(radius - t / 2, t / 2, segments, tube_segments, axis="x")
    out = [transform(tyre_mesh, scale=(width / t, 1.0, 1.0), translation=center)]
    if hub:
        out.append(_at(cylinder(radius - 0.9 * t, 0.6 * width, segments, axis="x"), center))
    return out


def _mirror_x(parts: list[Mesh]) -> list[Mesh]:
    """Parts plus their mirror images across x = 0 (left/right symmetric pieces)."""
    return parts + [transform(p, scale=(-1.0, 1.0, 1.0)) for p in parts]


def _finish(parts: list[Mesh]) -> Mesh:
    """Merge, lift tiny meshes to MIN_FACES by subdivision, and normalise to the PASCAL3D+ unit box."""
    mesh = merge(parts)
    while mesh.num_faces < MIN_FACES:
        mesh = subdivide(mesh)
    if mesh.num_faces > MAX_FACES:
        raise RuntimeError(f"mesh has {mesh.num_faces} faces > {MAX_FACES}; lower the tessellation")
    return normalize(mesh)


# ---------------------------------------------------------------------------------------- vehicles
CAR_KINDS = ("sedan", "hatchback", "suv", "pickup", "coupe")


def build_car(rng: np.random.Generator, style: str | None = None) -> Mesh:
    """Extruded body + cabin silhouettes on four wheels; sedan / hatchback / SUV / pickup / coupe.

    ``style`` fixes the kind (the de-rendering paper clusters car kinds); by default it is drawn.
    """
    if style is not None and style not in CAR_KINDS:
        raise ValueError(f"unknown car kind '{style}' (known: {', '.join(CAR_KINDS)})")
    style = style or _pick(rng, CAR_KINDS)
    length, width = _u(rng, 3.8, 4.9), _u(rng, 1.65, 1.95)
    radius, clear = _u(rng, 0.29, 0.35), _u(rng, 0.12, 0.2)
    body_h, cabin_h = _u(rng, 0.45, 0.62), _u(rng, 0.38, 0.5)
    if style == "suv":
        radius, clear, body_h, cabin_h = radius * 1.15, clear * 1.7, body_h * 1.2, cabin_h * 1.25
    elif style == "coupe":
        clear, body_h, cabin_h = clear * 0.8, body_h * 0.9, cabin_h * 0.8
    elif style == "pickup":
        clear, body_h = clear * 1.5, body_h * 1.15
    y0, y1, z0, z1 = -length / 2, length / 2, clear, clear + body_h
    nose, tail = _u(rng, 0.2, 0.45), _u(rng, 0.05, 0.2)
    body = [(y0, z0), (y1, z0), (y1, z1 - tail), (y1 - tail, z1), (y0 + nose, z1),
            (y0, z1 - body_h * _u(rng, 0.3, 0.55))]
    parts = [_side(body, width)]

    start = y0 + length * _u(rng, 0.27, 0.34)
    wind, rear = cabin_h * _u(rng, 1.2, 1.8), cabin_h * _u(rng, 0.8, 1.3)
    if style == "sedan":
        end = y1 - length * _u(rng, 0.17, 0.24)
    elif style == "coupe":
        end, wind, rear = y1 - length * _u(rng, 0.12, 0.18), wind * 1.3, rear * 1.5
    elif style == "hatchback":
        end, rear = y1 - tail, cabin_h * _u(rng, 0.25, 0.5)
    else:  # suv / pickup: upright glass
        start, wind, rear = y0 + length * _u(rng, 0.22, 0.27), cabin_h * _u(rng, 0.6, 0.9), cabin_h * 0.08
        end = y1 - tail if style == "suv" else start + length * _u(rng, 0.24, 0.3)
    room = end - start - 0.4
    if wind + rear > room:
        wind, rear = wind * room / (wind + rear), rear * room / (wind + rear)
    cabin_w = width * _u(rng, 0.82, 0.92)
    cabin = [(start, z1), (end, z1), (end - rear, z1 + cabin_h), (start + wind, z1 + cabin_h)]
    parts.append(_side(cabin, cabin_w))

    tw = _u(rng, 0.18, 0.26)
    for y in (y0 + length * _u(rng, 0.16, 0.21), y1 - length * _u(rng, 0.16, 0.22)):
        for sx in (-1, 1):
            parts += _wheel((sx * (width / 2 - 0.4 * tw), y, radius), radius, tw)
    if style == "pickup":
        bed_h, wall = _u(rng, 0.25, 0.4), 0.06
        bed_z = z1 + bed_h / 2
        parts += _mirror_x([_box((width / 2 - wall / 2, (end + y1) / 2, bed_z), (wall, y1 - end, bed_h))])
        parts.append(_box((0.0, y1 - wall / 2, z1 + bed_h / 2), (width, wall, bed_h)))
    if style in ("sedan", "coupe") and _chance(rng, 0.35):  # rear spoiler on two posts
        ys = y1 - 0.15
        parts.append(_box((0.0, ys, z1 + 0.12), (width * 0.85, 0.2, 0.04)))
        parts += _mirror_x([_box((width * 0.3, ys, z1 + 0.05), (0.04, 0.06, 0.1))])
    if style == "suv" and _chance(rng, 0.6):  # roof rails
        rail_len = max(end - rear - start - wind, 0.4) * 0.9
        center = ((start + wind + end - rear) / 2, z1 + cabin_h + 0.04)
        parts += _mirror_x([_box((cabin_w * 0.4, *center), (0.05, rail_len, 0.08))])
    if _chance(rng, 0.7):  # side mirrors
        parts += _mirror_x([_box((width / 2 + 0.06, start + wind * 0.3, z1 + 0.12), (0.12, 0.06, 0.08))])
    return _finish(parts)


def _wing(root: Vec3, chord_root: float, chord_tip: float, span: float, sweep: float, thickness: float,
          side: int, dihedral: float = 0.0) -> Mesh:
    """Trapezoidal half wing; leading edge root at `root`, tip at x = side * span, swept towards +y."""
    prof = [(0.0, 0.0), (0.0, chord_root), (side * span, sweep + chord_tip), (side * span, sweep)]
    return _at(prism(prof, thickness, axis="z"), root, rotation_matrix("y", -side * dihedral))


def _fin(y: float, z: float, chord_root: float, chord_tip: float, height: float, sweep: float,
         thickness: float) -> Mesh:
    """Vertical trapezoidal fin in the y-z plane (tail fins, rudders)."""
    prof = [(y, z), (y + chord_root, z), (y + sweep + chord_tip, z + height), (y + sweep, z + height)]
    return _side(prof, thickness)


def _nacelle(center: Vec3, radius: float, length: float) -> Mesh:
    prof = [(radius * 0.8, -length / 2), (radius, -length * 0.3), (radius, length * 0.2),
            (radius * 0.7, length / 2)]
    return _at(lathe(prof, 10, axis="y"), center)


def _propeller(center: Vec3, radius: float, blades: int, phase: float) -> list[Mesh]:
    hub = lathe([(0.0, -radius * 0.25), (radius * 0.18, radius * 0.1)], 8, axis="y")
    parts = [_at(hub, center)]
    blade = _box((0.0, 0.0, radius / 2), (radius * 0.16, radius * 0.05, radius))
    for k in range(blades):
        parts.append(_at(blade, center, rotation_matrix("y", phase + 2 * np.pi * k / blades)))
    return parts


def build_aeroplane(rng: np.random.Generator) -> Mesh:
    """Lathed fuselage (nose at -y) + wings + tail; airliner (engine layouts), fighter or propeller plane."""
    style = _pick(rng, ("airliner", "fighter", "propeller"))
    r = _u(rng, 0.045, 0.07)
    if style == "fighter":
        nose = _u(rng, 0.25, 0.35)
        prof = [(0.0, -0.5), (r * 0.45, -0.5 + nose * 0.5), (r * 0.85, -0.5 + nose), (r, -0.1),
                (r * 0.9, 0.45), (r * 0.7, 0.5)]
    else:
        nose, tail = _u(rng, 0.06, 0.12), _u(rng, 0.2, 0.3)
        prof = [(0.0, -0.5), (r * 0.6, -0.5 + nose * 0.35), (r * 0.9, -0.5 + nose * 0.75), (r, -0.5 + nose),
                (r, 0.5 - tail), (r * 0.55, 0.5 - tail * 0.35), (r * 0.2, 0.5)]
    parts = [lathe(prof, 12, axis="y")]
    thick = r * 0.3

    if style == "fighter":
        cr, span, ct = _u(rng, 0.38, 0.5), _u(rng, 0.26, 0.36), _u(rng, 0.02, 0.06)
        y_le = _u(rng, -0.1, 0.0)
        sweep = cr - ct - _u(rng, 0.0, 0.05)
        parts += [_wing((s * r * 0.5, y_le, 0.0), cr, ct, span, sweep, thick, s) for s in (-1, 1)]
        fin = _fin(0.5 - 0.2, 0.0, 0.16, 0.06, _u(rng, 0.12, 0.17), 0.1, thick * 0.7)
        if _chance(rng, 0.5):  # twin canted fins
            parts += [_at(fin, (s * r * 0.8, 0.0, r * 0.4), rotation_matrix("y", -s * 0.3)) for s in (-1, 1)]
        else:
            parts.append(_at(fin, (0.0, 0.0, r * 0.6)))
        if _chance(rng, 0.7):
            parts += [_wing((s * r * 0.6, 0.5 - 0.12, 0.0), 0.1, 0.03, 0.12, 0.06, thick, s) for s in (-1, 1)]
        if _chance(rng, 0.3):  # canards
            parts += [_wing((s * r * 0.7, -0.22, r * 0.2), 0.08, 0.01, 0.08, 0.06, thick, s) for s in (-1, 1)]
        if _chance(rng, 0.6):  # side intakes
            parts += _mirror_x([_box((r * 1.05, -0.1, -r * 0.2), (r * 0.6, 0.25, r * 0.9))])
        return _finish(parts)

    if style == "airliner":
        span, cr, sweep = _u(rng, 0.42, 0.56), _u(rng, 0.15, 0.22), _u(rng, 0.1, 0.22)
        ct, y_le, zw = cr * _u(rng, 0.25, 0.4), _u(rng, -0.12, -0.02), -r * _u(rng, 0.2, 0.6)
        engines = _pick(rng, ("wing2", "wing4", "rear2"))
    else:
        span, cr, sweep = _u(rng, 0.5, 0.65), _u(rng, 0.13, 0.18), 0.0
        ct, y_le = cr * _u(rng, 0.6, 1.0), _u(rng, -0.3, -0.15)
        zw = r * 0.9 if _chance(rng, 0.5) else -r * 0.6
        sweep = (cr - ct) * 0.3
        engines = "twin" if _chance(rng, 0.4) else "nose"
    dih = _u(rng, 0.02, 0.1)
    parts += [_wing((s * r * 0.5, y_le, zw), cr, ct, span, sweep, thick, s, dih) for s in (-1, 1)]

    tail_y, fin_h, fin_c = 0.5 - _u(rng, 0.16, 0.22), _u(rng, 0.11, 0.17), _u(rng, 0.13, 0.18)
    parts.append(_fin(tail_y, r * 0.5, fin_c, fin_c * 0.5, fin_h, fin_c * 0.6, thick * 0.8))
    t_tail = engines == "rear2" or _chance(rng, 0.25)
    z_stab = r * 0.5 + fin_h if t_tail else 0.0
    y_stab = tail_y + (fin_c * 0.6 if t_tail else 0.02)
    for s in (-1, 1):
        parts.append(_wing((s * r * 0.3, y_stab, z_stab), cr * 0.5, cr * 0.25, span * 0.33, sweep * 0.5,
                           thick * 0.8, s, dih))

    nr, nl = r * _u(rng, 0.35, 0.5), _u(rng, 0.1, 0.14)
    if engines == "rear2":
        parts += _mirror_x([_nacelle((r + nr * 0.9, tail_y - nl * 0.6, r * 0.3), nr, nl)])
    elif engines in ("wing2", "wing4", "twin"):
        fracs = (0.3, 0.62) if engines == "wing4" else (_u(rng, 0.28, 0.38),)
        for f in fracs:
            x, y, z = r * 0.5 + f * span, y_le + f * sweep - nl * 0.45, zw + f * span * np.sin(dih) - nr * 0.9
            parts += _mirror_x([_nacelle((x, y, z), nr, nl)])
            if engines == "twin":
                parts += _mirror_x(_propeller((x, y - nl / 2 - 0.01, z), _u(rng, 0.08, 0.1), 3, 0.3))
    if engines == "nose":
        parts += _propeller((0.0, -0.51, 0.0), _u(rng, 0.11, 0.15), int(rng.integers(2, 5)), _u(rng, 0, 1))
    return _finish(parts)


def build_bicycle(rng: np.random.Generator) -> Mesh:
    """Two thin torus wheels + a tube frame (diamond, sloped or step-through), bars and saddle."""
    style = _pick(rng, ("road", "mountain", "city", "bmx"))
    radius = _u(rng, 0.24, 0.27) if style == "bmx" else _u(rng, 0.31, 0.35)
    tyre = {"road": 0.025, "mountain": 0.05, "city": 0.035, "bmx": 0.05}[style] * _u(rng, 0.85, 1.15)
    wb = _u(rng, 0.85, 0.95) if style == "bmx" else _u(rng, 0.95, 1.1)
    tr = _u(rng, 0.015, 0.024)
    rear, front = np.array([0.0, wb / 2, radius]), np.array([0.0, -wb / 2, radius])
    bb = np.array([0.0, wb / 2 - _u(rng, 0.38, 0.45), radius - _u(rng, 0.04, 0.08)])
    st_len = {"road": (0.5, 0.6), "mountain": (0.42, 0.5), "city": (0.48, 0.56), "bmx": (0.28, 0.34)}[style]
    a = _u(rng, 0.22, 0.35)
    sdir = np.array([0.0, np.sin(a), np.cos(a)])
    seat_top = bb + _u(rng, *st_len) * sdir
    h = _u(rng, 0.28, 0.36)
    hdir = np.array([0.0, np.sin(h), np.cos(h)])
    head_lo = front + _u(rng, 0.4, 0.5) * hdir
    head_hi = head_lo + _u(rng, 0.12, 0.2) * hdir
    dx = np.array([0.055, 0.0, 0.0])

    parts = [_tube(bb, seat_top, tr), _tube(bb, head_lo, tr * 1.15), _tube(head_lo, head_hi, tr * 1.3)]
    if style == "city":  # step-through: low second tube instead of a top tube
        parts.append(_tube(bb + 0.3 * (seat_top - bb), head_lo + 0.4 * (head_hi - head_lo), tr))
    elif style == "mountain":
        parts.append(_tube(seat_top - 0.1 * sdir, head_hi, tr))
    else:
        parts.append(_tube(seat_top, head_hi, tr))
    for s in (-1, 1):
        parts += [_tube(bb + s * dx, rear + s * dx, tr * 0.7), _tube(seat_top, rear + s * dx, tr * 0.7),
                  _tube(head_lo + s * dx, front + s * dx, tr * (1.4 if style == "mountain" else 0.9))]
    saddle_at = seat_top + _u(rng, 0.05, 0.15) * sdir
    parts.append(_tube(seat_top, saddle_at, tr * 0.8))
    saddle = prism([(-0.08, 0.1), (0.08, 0.1), (0.025, -0.15), (-0.025, -0.15)], 0.05, axis="z")
    parts.append(_at(saddle, saddle_at + [0.0, 0.0, 0.025]))

    stem = head_hi + np.array([0.0, -_u(rng, 0.04, 0.1), _u(rng, 0.03, 0.12)])
    hw = _u(rng, 0.2, 0.3)
    parts += [_tube(head_hi, stem, tr), _tube(stem - [hw, 0, 0], stem + [hw, 0, 0], tr * 0.8)]
    if style == "road":  # drop bars curl forward and down
        for s in (-1, 1):
            end = stem + [s * hw, -0.08, -0.1]
            parts += [_tube(stem + [s * hw, 0, 0], end, tr * 0.8),
                      _tube(end, end + [0, 0.06, -0.04], tr * 0.8)]
    elif style == "city":  # swept-back grips
        for s in (-1, 1):
            parts.append(_tube(stem + [s * hw, 0, 0], stem + [s * (hw + 0.03), 0.12, 0.02], tr * 0.8))

    for c in (rear, front):
        parts += _wheel(c, radius, tyre, tyre=tyre / radius, segments=16, tube_segments=4, hub=False)
        parts.append(_at(cylinder(0.03, 0.11, 8, axis="x"), c))
    if style == "city" and _chance(rng, 0.6):
        parts.append(_box(rear + [0.0, -0.05, radius + 0.06], (0.14, 0.36, 0.03)))  # rear rack
    if style == "city" and _chance(rng, 0.5):
        parts.append(_box(stem + [0.0, -0.2, -0.12], (0.32, 0.26, 0.22)))  # front basket
    if _chance(rng, 0.3):  # kickstand
        parts.append(_tube(bb + [0.04, 0.05, 0.0], bb + [0.15, 0.25, -bb[2] + 0.01], tr * 0.6))
    return _finish(parts)


def build_motorbike(rng: np.random.Generator) -> Mesh:
    """Two thick wheels, fork, tank/engine/seat mass and handlebar; sport, cruiser, dirt bike or scooter."""
    style = _pick(rng, ("sport", "cruiser", "dirt", "scooter"))
    radius = _u(rng, *{"sport": (0.3, 0.33), "cruiser": (0.3, 0.34), "dirt": (0.33, 0.37),
                       "scooter": (0.2, 0.25)}[style])
    wb = _u(rng, *{"sport": (1.35, 1.45), "cruiser": (1.55, 1.75), "dirt": (1.4, 1.5),
                   "scooter": (1.2, 1.35)}[style])
    tw = {"sport": 0.18, "cruiser": 0.16, "dirt": 0.1, "scooter": 0.12}[style] * _u(rng, 0.9, 1.1)
    rake = {"sport": 0.42, "cruiser": 0.55, "dirt": 0.45, "scooter": 0.4}[style] + _u(rng, -0.05, 0.05)
    fork_len = _u(rng, *{"sport": (0.65, 0.75), "cruiser": (0.75, 0.85), "dirt": (0.85, 0.95),
                         "scooter": (0.55, 0.65)}[style])
    seat_z = {"sport": 0.8, "cruiser": 0.68, "dirt": 0.92, "scooter": 0.75}[style] * _u(rng, 0.95, 1.05)
    front, rear = np.array([0.0, -wb / 2, radius]), np.array([0.0, wb / 2, radius])
    head = front + fork_len * np.array([0.0, np.sin(rake), np.cos(rake)])
    parts = _wheel(front, radius, tw) + _wheel(rear, radius, tw)
    parts += [_tube(front + [s * 0.08, 0, 0], head + [s * 0.08, 0, 0], 0.03) for s in (-1, 1)]
    bar = head + ([0.0, 0.15, 0.25] if style == "cruiser" else [0.0, 0.05, 0.08])
    hw = _u(rng, 0.3, 0.4)
    parts += [_tube(head, bar, 0.025), _tube(bar - [hw, 0, 0], bar + [hw, 0, 0], 0.018)]

    if style == "scooter":
        shield = [(front[1] + radius * 0.7, 0.25), (front[1] + radius * 0.7 + 0.2, 0.25),
                  (head[1] + 0.12, head[2]), (head[1], head[2])]
        parts.append(_side(shield, 0.42))
        floor_y0 = front[1] + radius * 0.7 + 0.15
        body_y = rear[1] - _u(rng, 0.1, 0.2)
        parts.append(_box((0.0, (floor_y0 + body_y) / 2, 0.26), (0.34, body_y - floor_y0, 0.08)))
        parts.append(_at(ellipsoid((0.2, _u(rng, 0.35, 0.45), 0.22), 5, 10), (0.0, body_y, seat_z - 0.2)))
        parts.append(_box((0.0, body_y - 0.05, seat_z), (0.26, _u(rng, 0.45, 0.55), 0.08)))
        if _chance(rng, 0.5):  # top box
            parts.append(_box((0.0, rear[1] + 0.05, seat_z + 0.15), (0.3, 0.3, 0.26)))
        return _finish(parts)

    tank_y = head[1] + _u(rng, 0.3, 0.4)
    parts.append(_at(ellipsoid((0.15, _u(rng, 0.24, 0.3), 0.13), 5, 10), (0.0, tank_y, seat_z + 0.02)))
    eng = (0.22, 0.32, 0.28) if style == "dirt" else (0.32, _u(rng, 0.4, 0.5), _u(rng, 0.3, 0.38))
    parts.append(_box((0.0, tank_y + 0.05, radius * 1.05), eng))
    pivot = np.array([0.0, tank_y + 0.3, radius * 0.95])
    parts += [_tube(head, pivot + [0.0, 0.0, 0.25], 0.03)]
    parts += [_tube(pivot + [s * 0.1, 0, 0], rear + [s * 0.1, 0, 0], 0.025) for s in (-1, 1)]
    seat_len = _u(rng, 0.45, 0.6) if style != "dirt" else _u(rng, 0.6, 0.75)
    seat_y0 = tank_y + 0.2
    parts.append(_box((0.0, seat_y0 + seat_len / 2, seat_z), (0.28, seat_len, 0.09)))
    cover = [(tank_y - 0.1, radius * 1.2), (seat_y0 + seat_len * 0.6, radius * 1.5),
             (seat_y0 + seat_len * 0.8, seat_z - 0.04), (tank_y - 0.15, seat_z - 0.02)]
    parts.append(_side(cover, _u(rng, 0.16, 0.24)))  # side covers fill the frame under tank and seat
    side = _pick(rng, ("left", "right"))
    ex = 0.17 if side == "right" else -0.17
    ex_z = seat_z - 0.15 if style == "sport" else radius * 0.8
    parts.append(_at(cylinder(0.05, _u(rng, 0.5, 0.7), 8, axis="y"), (ex, rear[1] - 0.15, ex_z)))
    if _chance(rng, 0.4):  # twin exhaust
        parts.append(_at(cylinder(0.05, 0.5, 8, axis="y"), (-ex, rear[1] - 0.15, ex_z)))
    if style == "dirt":
        parts.append(_box((0.0, front[1] + 0.05, 2 * radius + 0.1), (tw * 1.4, radius * 1.1, 0.03)))
        parts.append(_box((0.0, head[1] - 0.05, head[2] - 0.08), (0.25, 0.02, 0.2)))  # number plate
    else:
        parts.append(_at(ellipsoid((0.08, 0.06, 0.08), 4, 8), head + [0.0, -0.1, -0.05]))  # headlight
    if style == "sport":
        sb = seat_y0 + seat_len
        parts.append(_side([(sb - 0.1, seat_z - 0.1), (rear[1] + 0.25, seat_z + 0.05),
                            (rear[1] + 0.2, seat_z + 0.15), (sb - 0.1, seat_z + 0.05)], 0.22))
        fairing = [(head[1] - 0.18, radius + 0.1), (head[1] + 0.3, radius + 0.05),
                   (head[1] + 0.35, seat_z + 0.05), (head[1] + 0.05, head[2] + 0.12),
                   (head[1] - 0.2, head[2] - 0.1)]
        parts.append(_side(fairing, _u(rng, 0.4, 0.5)))
    if style == "cruiser":
        parts.append(_box((0.0, rear[1] - 0.05, 2 * radius + 0.03), (tw * 1.3, radius * 1.4, 0.04)))
        parts += _mirror_x([_box((0.25, -0.05, radius * 0.6), (0.16, 0.35, 0.03))])  # footboards
        if _chance(rng, 0.5):  # sissy bar
            top = [0.0, seat_y0 + seat_len, seat_z + _u(rng, 0.3, 0.45)]
            parts.append(_tube([0.0, seat_y0 + seat_len, seat_z], top, 0.02))
            parts.append(_box(top, (0.25, 0.04, 0.15)))
    return _finish(parts)


def build_boat(rng: np.random.Generator) -> Mesh:
    """Tapered hull with a pointed bow at -y, plus mast+sails, cabin, superstructure or oars."""
    style = _pick(rng, ("sailboat", "motorboat", "ship", "rowboat"))
    width = _u(rng, *{"sailboat": (0.28, 0.36), "motorboat": (0.3, 0.38), "ship": (0.13, 0.18),
                      "rowboat": (0.32, 0.42)}[style])
    depth = _u(rng, *{"sailboat": (0.09, 0.13), "motorboat": (0.1, 0.14), "ship": (0.08, 0.12),
                      "rowboat": (0.08, 0.11)}[style])
    bow = _u(rng, 0.2, 0.35)
    hw = width / 2
    top = np.array([(-hw, 0.5), (-hw, -0.5 + bow), (0.0, -0.5), (hw, -0.5 + bow), (hw, 0.5)])
    kx = _u(rng, 0.8, 0.9) if style == "ship" else _u(rng, 0.35, 0.65)
    bottom = top * [kx, 0.85] + [0.0, 0.05]
    parts = [_at(prism(bottom, depth, axis="z", top_profile=top), (0.0, 0.0, depth / 2))]

    if style == "sailboat":
        ym, mh = -_u(rng, 0.05, 0.2), _u(rng, 0.9, 1.3)
        boom = _u(rng, 0.35, 0.5)
        main_sail = [(ym + 0.01, depth + 0.07), (ym + boom, depth + 0.07), (ym + 0.01, depth + mh * 0.95)]
        parts += [_tube((0.0, ym, depth * 0.5), (0.0, ym, depth + mh), 0.008),
                  _tube((0.0, ym, depth + 0.06), (0.0, ym + boom, depth + 0.06), 0.006),
                  _side(main_sail, 0.006)]
        if _chance(rng, 0.7):  # jib
            parts.append(_side([(ym - 0.01, depth + 0.05), (ym - 0.01, depth + mh * 0.85),
                                (-0.5 + bow * 0.3, depth + 0.02)], 0.006))
        if _chance(rng, 0.6):
            parts.append(_box((0.0, ym + 0.15, depth + 0.03), (width * 0.5, 0.2, 0.06)))
    elif style == "motorboat":
        yc0, yc1, ch = _u(rng, -0.2, -0.05), _u(rng, 0.15, 0.3), _u(rng, 0.08, 0.13)
        cabin = [(yc0, depth), (yc1, depth), (yc1 - 0.03, depth + ch), (yc0 + ch * 1.5, depth + ch)]
        parts.append(_side(cabin, width * 0.7))
        if _chance(rng, 0.35):  # flybridge
            parts.append(_box((0.0, yc1 - 0.1, depth + ch + 0.03), (width * 0.5, 0.12, 0.06)))
        if _chance(rng, 0.6):  # outboard motor
            parts.append(_box((0.0, 0.52, depth * 0.6), (0.06, 0.05, depth * 1.3)))
    elif style == "ship":
        levels, y = int(rng.integers(1, 4)), _u(rng, 0.0, 0.25)
        z, sy, sx = depth, _u(rng, 0.18, 0.3), width * 0.8
        for _ in range(levels):
            lh = _u(rng, 0.04, 0.06)
            parts.append(_box((0.0, y, z + lh / 2), (sx, sy, lh)))
            z, sy, sx = z + lh, sy * 0.7, sx * 0.9
        for k in range(int(rng.integers(1, 3))):
            fy = y + sy * 0.5 + 0.07 * k
            parts.append(_at(cylinder(0.022, 0.1, 8), (0.0, fy, z + 0.04)))
        if _chance(rng, 0.6):
            parts.append(_tube((0.0, y - 0.05, z), (0.0, y - 0.05, z + _u(rng, 0.1, 0.2)), 0.005))
        if _chance(rng, 0.5):  # deck containers ahead of the bridge
            n = int(rng.integers(2, 5))
            for k in range(n):
                parts.append(_box((0.0, y - 0.15 - 0.07 * k, depth + 0.02), (width * 0.6, 0.06, 0.04)))
    else:  # rowboat
        for k in range(int(rng.integers(2, 4))):
            parts.append(_box((0.0, -0.15 + 0.2 * k, depth * 0.85), (width * 0.85, 0.05, 0.015)))
        if _chance(rng, 0.7):
            for s in (-1, 1):
                p0 = np.array([s * width * 0.45, 0.05, depth])
                parts.append(_tube(p0, p0 + [s * _u(rng, 0.18, 0.28), 0.1, -depth * 0.9], 0.006))
    return _finish(parts)


def build_bottle(rng: np.random.Generator) -> Mesh:
    """Lathed body/shoulder/neck stack of frustums plus cap, optional label band, lip ring or handle."""
    style = _pick(rng, ("wine", "water", "beer", "jug", "flask"))
    ranges = {  # radius, body height, shoulder height, neck radius, neck height
        "wine": ((0.036, 0.042), (0.17, 0.21), (0.04, 0.06), (0.013, 0.016), (0.07, 0.1)),
        "water": ((0.03, 0.04), (0.14, 0.2), (0.02, 0.04), (0.012, 0.015), (0.015, 0.03)),
        "beer": ((0.028, 0.033), (0.1, 0.13), (0.05, 0.07), (0.011, 0.013), (0.05, 0.07)),
        "jug": ((0.05, 0.065), (0.16, 0.22), (0.03, 0.05), (0.015, 0.02), (0.02, 0.04)),
        "flask": ((0.04, 0.055), (0.1, 0.14), (0.015, 0.03), (0.01, 0.013), (0.02, 0.035)),
    }[style]
    rad, body_h, sh, rn, neck_h = (_u(rng, *r) for r in ranges)
    top = body_h + sh + neck_h
    prof = [(rad * _u(rng, 0.88, 1.0), 0.0), (rad, body_h * 0.06), (rad, body_h),
            (rad * 0.9, body_h + sh * 0.3), (rn + (rad - rn) * 0.35, body_h + sh * 0.75),
            (rn, body_h + sh), (rn, top)]
    if style == "water" and _chance(rng, 0.5):  # pinched waist
        prof.insert(2, (rad * 0.86, body_h * 0.5))
    seg = 4 if style == "flask" else 12
    body = lathe(prof, seg)
    if style == "flask":  # flat rectangular flask
        body = transform(body, scale=(1.0, _u(rng, 0.4, 0.6), 1.0), rotation=rotation_matrix("z", np.pi / 4))
    parts = [body]
    cap = _pick(rng, ("cap", "none", "foil")) if style == "wine" else _pick(rng, ("cap",) * 6 + ("none",))
    if cap == "cap":
        ch = _u(rng, 0.012, 0.025)
        parts.append(_at(cylinder(rn * 1.2, ch, 12), (0.0, 0.0, top + ch / 2 - 0.002)))
    elif cap == "foil":
        parts.append(_at(cylinder(rn * 1.06, neck_h * 0.45, 12), (0.0, 0.0, top - neck_h * 0.22)))
    else:
        parts.append(_at(torus(rn * 1.05, rn * 0.25, 12, 4), (0.0, 0.0, top - rn * 0.25)))  # lip ring
    if style != "flask" and _chance(rng, 0.5):  # label band
        lh = body_h * _u(rng, 0.3, 0.5)
        parts.append(_at(cylinder(rad * 1.015, lh, 12), (0.0, 0.0, body_h * _u(rng, 0.4, 0.6))))
    if style == "jug":
        hr = body_h * _u(rng, 0.22, 0.3)
        parts.append(_at(torus(hr, 0.008, 12, 4, axis="y"), (rad + hr * 0.55, 0.0, body_h * 0.65)))
    return _finish(parts)


def build_bus(rng: np.random.Generator) -> Mesh:
    """Long extruded box on 4-6 wheels with side window strips; city, coach, double-decker or school bus."""
    style = _pick(rng, ("city", "coach", "double_decker", "school"))
    length = _u(rng, *{"city": (10.5, 13.0), "coach": (11.0, 13.5), "double_decker": (9.5, 11.5),
                       "school": (9.0, 11.0)}[style])
    height = _u(rng, *{"city": (2.9, 3.2), "coach": (3.3, 3.7), "double_decker": (4.1, 4.4),
                       "school": (2.8, 3.1)}[style])
    width, radius, z0 = _u(rng, 2.45, 2.6), _u(rng, 0.48, 0.55), _u(rng, 0.3, 0.45)
    y0, y1, top = -length / 2, length / 2, z0 + height
    parts: list[Mesh] = []
    if style == "school":  # conventional hood in front of the box body
        hood_l, hood_h = _u(rng, 1.3, 1.7), _u(rng, 0.9, 1.2)
        parts.append(_side([(y0, z0), (y0 + hood_l + 0.1, z0), (y0 + hood_l + 0.1, z0 + hood_h),
                            (y0 + 0.2, z0 + hood_h), (y0, z0 + hood_h * 0.7)], width * 0.8))
        y0 += hood_l
    slope = _u(rng, *{"city": (0.15, 0.3), "coach": (0.6, 1.0), "double_decker": (0.1, 0.2),
                      "school": (0.1, 0.25)}[style])
    parts.append(_side([(y0, z0), (y1, z0), (y1, top - 0.15), (y1 - 0.15, top), (y0 + slope, top),
                        (y0, top - height * 0.45)], width))
    strips = (0.35, 0.75) if style == "double_decker" else (0.62,)
    for zf in strips:
        strip_h = height * (0.18 if style == "double_decker" else 0.3)
        parts += _mirror_x([_box((width / 2 + 0.01, (y0 + y1) / 2 + 0.2, z0 + height * zf),
                                 (0.04, (y1 - y0) * 0.82, strip_h))])
    if style != "coach":
        parts.append(_box((0.0, y0 - 0.01, z0 + height * 0.65), (width * 0.88, 0.04, height * 0.32)))

    tw = _u(rng, 0.28, 0.34)
    axles = [y0 + (0.9 if style == "school" else _u(rng, 2.0, 2.8))]
    rear_axle = y1 - _u(rng, 2.4, 3.2)
    axles += [rear_axle - 0.65, rear_axle + 0.65] if style == "coach" else [rear_axle]
    for y in axles:
        for sx in (-1, 1):
            parts += _wheel((sx * (width / 2 - tw / 2), y, radius), radius, tw, segments=12, tube_segments=4)
    if style == "city" and _chance(rng, 0.6):  # roof AC unit
        parts.append(_box((0.0, _u(rng, -1.0, 1.0), top + 0.15), (width * 0.6, _u(rng, 1.5, 2.5), 0.3)))
    if _chance(rng, 0.7):  # mirrors on arms
        arm = _tube((width / 2, y0 + 0.3, top - 0.6), (width / 2 + 0.3, y0 - 0.1, top - 0.7), 0.04)
        parts += _mirror_x([arm])
    return _finish(parts)


def build_train(rng: np.random.Generator) -> Mesh:
    """A locomotive (high-speed nose, steam, metro or diesel) plus 0-2 carriages on bogies, front at -y."""
    style = _pick(rng, ("highspeed", "steam", "metro", "diesel"))
    n_cars = int(rng.integers(1, 4)) if style in ("steam", "diesel") else int(rng.integers(2, 4))
    width, height, z0, gap = _u(rng, 2.8, 3.2), _u(rng, 3.5, 4.1), _u(rng, 0.9, 1.1), _u(rng, 0.6, 1.0)
    lens = [_u(rng, 13.0, 19.0) for _ in range(n_cars)]
    lens[0] = {"steam": _u(rng, 10.0, 13.0), "diesel": _u(rng, 15.0, 19.0)}.get(style, lens[0])
    y = -(sum(lens) + gap * (n_cars - 1)) / 2
    top = z0 + height
    parts: list[Mesh] = []

    def bogies(ya: float, yb: float) -> None:
        for yc in (ya + (yb - ya) * 0.18, yb - (yb - ya) * 0.18):
            parts.append(_box((0.0, yc, z0 - 0.3), (width * 0.75, 3.0, 0.3)))
            axle = cylinder(0.45, width * 0.85, 8, axis="x")
            parts.extend(_at(axle, (0.0, yc + d, 0.45)) for d in (-0.9, 0.9))

    def windows(ya: float, yb: float) -> None:
        parts.extend(_mirror_x([_box((width / 2 + 0.01, (ya + yb) / 2, z0 + height * 0.62),
                                     (0.04, (yb - ya) * 0.8, height * 0.22))]))

    for k, ln in enumerate(lens):
        ya, yb = y, y + ln
        if k == 0 and style == "steam":
            br = height * 0.3
            zb = z0 + 0.5 + br  # boiler axis
            parts.append(_box((0.0, (ya + yb) / 2, z0 + 0.25), (width * 0.9, ln, 0.5)))
            parts.append(_at(cylinder(br, ln * 0.65, 12, axis="y"), (0.0, ya + 0.3 + ln * 0.325, zb)))
            parts.append(_at(cylinder(0.35, top - zb, 8), (0.0, ya + 1.5, (top + zb) / 2)))
            if _chance(rng, 0.7):  # steam dome
                parts.append(_at(ellipsoid((0.5, 0.7, 0.5), 4, 8), (0.0, ya + ln * 0.4, zb + br)))
            parts.append(_box((0.0, yb - ln * 0.15, z0 + height * 0.425), (width, ln * 0.3, height * 0.85)))
            for f in (0.3, 0.47, 0.64):
                parts += _mirror_x([_at(cylinder(0.8, 0.2, 10, axis="x"), (width * 0.42, ya + ln * f, 0.8))])
            parts.append(_at(wedge((width * 0.8, 1.0, 0.8)), (0.0, ya - 0.4, 0.5)))  # cowcatcher
        elif k == 0 and style == "diesel":
            cab = ln * 0.28
            parts.append(_box((0.0, ya + cab / 2, z0 + height / 2), (width, cab, height)))
            hood = (width * 0.8, ln - cab, height * 0.75)
            parts.append(_box((0.0, (ya + cab + yb) / 2, z0 + height * 0.375), hood))
            if _chance(rng, 0.6):
                parts.append(_at(cylinder(0.2, 0.5, 8), (0.0, ya + cab + 1.5, z0 + height * 0.75 + 0.2)))
            bogies(ya, yb)
        elif k == 0:
            nose = _u(rng, 4.0, 8.0) if style == "highspeed" else _u(rng, 0.3, 0.6)
            prof = ([(ya, z0), (yb, z0), (yb, top), (ya + nose, top), (ya + nose * 0.25, z0 + height * 0.45),
                     (ya, z0 + height * 0.2)] if style == "highspeed"
                    else [(ya, z0), (yb, z0), (yb, top), (ya + nose, top), (ya, top - height * 0.2)])
            parts.append(_side(prof, width))
            if style == "metro":
                parts.append(_box((0.0, ya - 0.02, z0 + height * 0.62), (width * 0.8, 0.05, height * 0.3)))
            if _chance(rng, 0.7):  # pantograph
                yc = ya + ln * 0.6
                parts += [_tube((0.0, yc - 0.8, top), (0.0, yc, top + 1.0), 0.05),
                          _tube((0.0, yc, top + 1.0), (0.0, yc + 0.8, top), 0.05),
                          _tube((-0.8, yc, top + 1.0), (0.8, yc, top + 1.0), 0.05)]
            windows(ya + nose, yb)
            bogies(ya, yb)
        else:
            tender = style == "steam" and k == 1
            ch = height * (0.7 if tender else 1.0)
            parts.append(_box((0.0, (ya + yb) / 2, z0 + ch / 2), (width, ln, ch)))
            if not tender:
                windows(ya, yb)
            parts.append(_box((0.0, ya - gap / 2, z0 + height * 0.4), (width * 0.6, gap + 0.2, height * 0.7)))
            bogies(ya, yb)
        y = yb + gap
    return _finish(parts)


# --------------------------------------------------------------------------------------- furniture
def build_chair(rng: np.random.Generator) -> Mesh:
    """Seat + backrest at +y (so the chair faces -y) on four legs or an office pedestal; optional arms."""
    style = _pick(rng, ("dining", "office", "armchair", "ladder"))
    w, d, t, h = _u(rng, 0.42, 0.52), _u(rng, 0.4, 0.5), _u(rng, 0.03, 0.07), _u(rng, 0.42, 0.48)
    back_h, bt, tilt = _u(rng, 0.35, 0.55), _u(rng, 0.025, 0.06), _u(rng, 0.0, 0.22)
    parts = [_box((0.0, 0.0, h - t / 2), (w, d, t))]
    lean = rotation_matrix("x", -tilt)  # top of the back leans towards +y
    back_base = np.array([0.0, d / 2 - bt / 2, h])
    if style == "ladder":
        up = back_h * np.array([0.0, np.sin(tilt), np.cos(tilt)])
        for s in (-1, 1):
            p0 = back_base + [s * (w / 2 - 0.02), 0.0, -t]
            parts.append(_tube(p0, p0 + up, 0.018, 8))
        for f in np.linspace(0.35, 0.9, int(rng.integers(2, 5))):
            parts.append(_at(box((w - 0.04, bt * 0.6, back_h * 0.1)), back_base + f * up))
    else:
        bw = w * _u(rng, 0.8, 1.0)
        gap = _u(rng, 0.04, 0.1) if style == "office" else 0.0
        panel = transform(box((bw, bt, back_h)), translation=(0.0, 0.0, back_h / 2 + gap))
        parts.append(_at(panel, back_base, lean))
        if gap:
            parts.append(_at(box((0.05, bt, gap + 0.02)), back_base + [0.0, 0.0, gap / 2]))

    if style == "office":
        parts.append(_at(cylinder(0.025, h - t - 0.08, 8), (0.0, 0.0, (h - t + 0.08) / 2)))
        n_legs, leg_len = 5, _u(rng, 0.24, 0.3)
        for k in range(n_legs):
            rot = rotation_matrix("z", 2 * np.pi * k / n_legs + 0.3)
            parts.append(_at(box((leg_len, 0.04, 0.03)), rot @ [leg_len / 2, 0.0, 0.07], rot))
            parts.append(_at(ellipsoid((0.025, 0.025, 0.025), 4, 6), rot @ [leg_len, 0.0, 0.03]))  # caster
    else:
        inset, splay = _u(rng, 0.02, 0.05), (_u(rng, 0.0, 0.04) if _chance(rng, 0.3) else 0.0)
        round_legs = _chance(rng, 0.5)
        lr = _u(rng, 0.014, 0.025)
        for sx in (-1, 1):
            for sy in (-1, 1):
                top_p = np.array([sx * (w / 2 - inset), sy * (d / 2 - inset), h - t])
                bot_p = top_p * [1, 1, 0] + [sx * splay, sy * splay, 0.0]
                if round_legs:
                    parts.append(_tube(bot_p, top_p, lr, 8))
                else:
                    parts.append(_at(box((2 * lr, 2 * lr, h - t)), (top_p + bot_p) / 2))
        if _chance(rng, 0.4):  # side stretchers
            for sx in (-1, 1):
                x = sx * (w / 2 - inset)
                parts.append(_tube((x, -(d / 2 - inset), 0.15), (x, d / 2 - inset, 0.15), lr * 0.6))
    if style == "armchair" or (style == "office" and _chance(rng, 0.6)):
        arm_h = _u(rng, 0.18, 0.25)
        for s in (-1, 1):
            x = s * (w / 2 + 0.02)
            parts.append(_box((x, 0.0, h + arm_h), (0.06, d * 0.85, 0.04)))
            parts.append(_box((x, -d * 0.3, h + arm_h / 2 - t / 2), (0.04, 0.04, arm_h + t)))
    return _finish(parts)


def build_sofa(rng: np.random.Generator) -> Mesh:
    """Base, seat cushions, back at +y and 0/2 arms; two/three-seaters, sectional with a chaise."""
    style = _pick(rng, ("two_seat", "three_seat", "sectional", "armless"))
    n_seats = {"two_seat": 2, "three_seat": 3, "sectional": 3}.get(style, int(rng.integers(2, 4)))
    seat_w, depth = _u(rng, 0.55, 0.7), _u(rng, 0.8, 1.0)
    arm_w = 0.0 if style == "armless" else _u(rng, 0.1, 0.25)
    inner = n_seats * seat_w
    width = inner + 2 * arm_w
    leg_h = _u(rng, 0.05, 0.14) if _chance(rng, 0.6) else 0.0
    base_h, cush_h, back_t = _u(rng, 0.18, 0.28), _u(rng, 0.1, 0.16), _u(rng, 0.15, 0.25)
    back_top, arm_top = _u(rng, 0.75, 0.95), _u(rng, 0.55, 0.68)
    back_top = max(back_top, arm_top + 0.6 * arm_w + 0.05)  # back stays highest, even over rolled arms
    zb = leg_h + base_h
    parts = [_box((0.0, 0.0, leg_h + base_h / 2), (inner, depth, base_h)),
             _box((0.0, depth / 2 - back_t / 2, (leg_h + back_top) / 2), (width, back_t, back_top - leg_h))]
    for i in range(n_seats):
        x = -inner / 2 + seat_w * (i + 0.5)
        parts.append(_box((x, -back_t / 2, zb + cush_h / 2), (seat_w * 0.97, depth - back_t, cush_h)))
        if _chance(rng, 0.5) and style != "armless":
            parts.append(_box((x, depth / 2 - back_t - 0.06, zb + cush_h + 0.2), (seat_w * 0.95, 0.12, 0.38)))
    if arm_w:
        xa = width / 2 - arm_w / 2
        parts += _mirror_x([_box((xa, 0.0, (leg_h + arm_top) / 2), (arm_w, depth, arm_top - leg_h))])
        if _chance(rng, 0.4):  # rolled arms
            parts += _mirror_x([_at(cylinder(arm_w * 0.6, depth, 10, axis="y"), (xa, 0.0, arm_top))])
    if style == "sectional":
        ext, sx = _u(rng, 0.5, 0.8), _pick(rng, ("left", "right"))
        x = (inner / 2 - seat_w / 2) * (1 if sx == "right" else -1)
        chaise_h = base_h + cush_h
        parts.append(_box((x, -depth / 2 - ext / 2, leg_h + chaise_h / 2), (seat_w, ext, chaise_h)))
    if leg_h:
        for sx in (-1, 1):
            for sy in (-1, 1):
                c = (sx * (width / 2 - 0.06), sy * (depth / 2 - 0.06), leg_h / 2)
                parts.append(_box(c, (0.05, 0.05, leg_h)))
    return _finish(parts)


def build_diningtable(rng: np.random.Generator) -> Mesh:
    """Table top (rectangular, round or oval) on four legs, a pedestal or trestles; long side along x."""
    style = _pick(rng, ("four_leg", "round", "trestle", "apron"))
    h, t = _u(rng, 0.72, 0.78), _u(rng, 0.025, 0.06)
    length, width = _u(rng, 1.2, 2.0), _u(rng, 0.75, 1.0)
    parts: list[Mesh] = []
    if style == "round":
        rad = _u(rng, 0.45, 0.65)
        oval = _u(rng, 1.0, 1.5) if _chance(rng, 0.4) else 1.0
        top = cylinder(rad, t, 16)
        parts.append(transform(top, scale=(oval, 1.0, 1.0), translation=(0.0, 0.0, h - t / 2)))
        parts.append(_at(cylinder(_u(rng, 0.05, 0.1), h - t, 8), (0.0, 0.0, (h - t) / 2)))
        if _chance(rng, 0.5):
            parts.append(_at(cylinder(_u(rng, 0.25, 0.35), 0.04, 12), (0.0, 0.0, 0.02)))
        else:
            n = int(rng.integers(3, 5))
            for k in range(n):
                rot = rotation_matrix("z", 2 * np.pi * k / n)
                parts.append(_at(box((0.3, 0.06, 0.05)), rot @ [0.15, 0.0, 0.025], rot))
        return _finish(parts)
    parts.append(_box((0.0, 0.0, h - t / 2), (length, width, t)))
    if style == "trestle":
        for s in (-1, 1):
            x = s * (length / 2 - _u(rng, 0.15, 0.25))
            parts += [_box((x, 0.0, (h - t) / 2), (0.07, width * 0.35, h - t)),
                      _box((x, 0.0, 0.04), (0.09, width * 0.85, 0.08)),
                      _box((x, 0.0, h - t - 0.03), (0.09, width * 0.85, 0.06))]
        parts.append(_box((0.0, 0.0, 0.3), (length * 0.7, 0.06, 0.08)))
        return _finish(parts)
    inset, lr = _u(rng, 0.04, 0.12), _u(rng, 0.02, 0.04)
    round_legs = _chance(rng, 0.5)
    for sx in (-1, 1):
        for sy in (-1, 1):
            c = (sx * (length / 2 - inset), sy * (width / 2 - inset), (h - t) / 2)
            leg = cylinder(lr, h - t, 8) if round_legs else box((2 * lr, 2 * lr, h - t))
            parts.append(_at(leg, c))
    if style == "apron" or _chance(rng, 0.3):
        ah = _u(rng, 0.06, 0.12)
        za = h - t - ah / 2
        parts += _mirror_x([_box((length / 2 - inset, 0.0, za), (0.02, width - 2 * inset, ah))])
        parts += [_box((0.0, s * (width / 2 - inset), za), (length - 2 * inset, 0.02, ah)) for s in (-1, 1)]
    if _chance(rng, 0.3):  # H stretcher
        parts += _mirror_x([_tube((length / 2 - inset, -width / 2 + inset, 0.15),
                                  (length / 2 - inset, width / 2 - inset, 0.15), lr * 0.6)])
        parts.append(_tube((-length / 2 + inset, 0.0, 0.15), (length / 2 - inset, 0.0, 0.15), lr * 0.6))
    return _finish(parts)


def build_tvmonitor(rng: np.random.Generator) -> Mesh:
    """Screen facing -y (bezel + proud panel) on a stand, feet or round base; CRTs get a tapered back."""
    style = _pick(rng, ("flat", "crt", "monitor"))
    width = _u(rng, *{"flat": (0.8, 1.3), "crt": (0.4, 0.6), "monitor": (0.45, 0.7)}[style])
    aspect = _u(rng, 0.72, 0.8) if style == "crt" else _u(rng, 0.55, 0.68)
    height, bezel = width * aspect, _u(rng, 0.01, 0.04)
    stand_h = _u(rng, *{"flat": (0.05, 0.12), "crt": (0.02, 0.05), "monitor": (0.1, 0.2)}[style])
    zc = stand_h + height / 2
    depth = _u(rng, 0.06, 0.1) if style == "crt" else _u(rng, 0.02, 0.05)
    parts = [_box((0.0, 0.0, zc), (width, depth, height)),
             _box((0.0, -depth / 2 - 0.004, zc), (width - 2 * bezel, 0.01, height - 2 * bezel))]
    if style == "crt":
        back = _u(rng, 0.6, 0.9) * width
        k = _u(rng, 0.4, 0.6)
        rect = np.array([(-height / 2, -width / 2), (height / 2, -width / 2), (height / 2, width / 2),
                         (-height / 2, width / 2)])  # (z, x) for axis 'y'
        rect = rect * 0.95
        shell = prism(rect, back, axis="y", top_profile=rect * k + [-(1 - k) * height * 0.3, 0.0])
        parts.append(_at(shell, (0.0, depth / 2 + back / 2, zc)))
        parts.append(_box((0.0, depth / 2 + back * 0.3, stand_h / 2), (width * 0.6, back * 0.5, stand_h)))
    elif style == "flat" and _chance(rng, 0.4):  # two feet
        for s in (-1, 1):
            parts.append(_box((s * width * 0.35, 0.0, stand_h / 2 + 0.01), (0.04, 0.04, stand_h + 0.02)))
            parts.append(_box((s * width * 0.35, 0.0, 0.005), (0.05, 0.25, 0.01)))
    else:
        neck_y = depth / 2 + 0.02
        parts.append(_box((0.0, neck_y, (zc + 0.01) / 2), (0.06, 0.03, zc)))
        if style == "monitor" and _chance(rng, 0.6):
            parts.append(_at(cylinder(_u(rng, 0.09, 0.13), 0.015, 16), (0.0, neck_y, 0.0075)))
        else:
            foot = (width * _u(rng, 0.25, 0.4), _u(rng, 0.15, 0.25), 0.015)
            parts.append(_box((0.0, neck_y, 0.0075), foot))
    if style == "flat" and _chance(rng, 0.3):  # soundbar
        parts.append(_box((0.0, -0.03, stand_h * 0.4), (width * 0.8, 0.06, 0.05)))
    return _finish(parts)


_BUILDERS: dict[str, Builder] = {
    "aeroplane": build_aeroplane, "bicycle": build_bicycle, "boat": build_boat, "bottle": build_bottle,
    "bus": build_bus, "car": build_car, "chair": build_chair, "diningtable": build_diningtable,
    "motorbike": build_motorbike, "sofa": build_sofa, "train": build_train, "tvmonitor": build_tvmonitor,
}  # fmt: skip


# -------------------------------------------------------------------------------------- procedural
PROCEDURAL_KINDS = ("box", "cylinder", "cone", "ellipsoid", "torus", "wedge")
_PROC_SEED = 0x3D5CA1E
_OVERLAP = 0.2  # children sink this fraction of their size into the parent so parts stay connected


@dataclass(frozen=True)
class PartSpec:
    """One part of a procedural recipe; instances only resample size and a little placement jitter."""

    kind: str
    axis: str  # symmetry axis of cylinder / cone / torus, orientation of the wedge
    segments: int
    taper: float  # cone top radius / bottom radius
    parent: int  # index of the part this one attaches to (-1 for the root)
    side: int  # parent face: 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z
    size: tuple[float, float, float]  # typical size (root-relative units)
    spread: float  # per-instance log-uniform size variation
    offset: tuple[float, float]  # position on the parent face as a fraction of the parent half-size
    mirror: bool  # add a copy mirrored across the parent's x plane


@dataclass(frozen=True)
class Recipe:
    """Structure of a procedural category, shared by all its instances."""

    name: str
    parts: tuple[PartSpec, ...]

    def signature(self) -> tuple:
        """Discrete structure; unique across procedural categories."""
        return tuple((p.kind, "" if p.kind == "box" else p.axis, p.parent, p.side, p.mirror)
                     for p in self.parts)


_RECIPES: list[Recipe] = []
_SIGNATURES: set[tuple] = set()


def _sample_recipe(name: str, rng: np.random.Generator) -> Recipe:
    parts = []
    for k in range(int(rng.integers(2, 6))):
        kind = PROCEDURAL_KINDS[int(rng.integers(len(PROCEDURAL_KINDS)))]
        parent, side = (-1, 4) if k == 0 else (int(rng.integers(k)), int(rng.integers(6)))
        lo = np.log(0.4) if k == 0 else np.log(0.12)
        size = tuple(float(s) for s in np.exp(rng.uniform(lo, 0.0, 3)))
        offset = tuple(float(o) for o in rng.uniform(-0.5, 0.5, 2))
        x_off = side // 2 == 0 or abs(offset[0]) > 0.2  # x is the first lateral axis for y/z faces
        parts.append(PartSpec(
            kind=kind, axis="xyz"[int(rng.integers(3))], segments=int(rng.choice([6, 8, 10, 12])),
            taper=float(rng.choice([0.0, rng.uniform(0.3, 0.7)])), parent=parent, side=side, size=size,
            spread=float(rng.uniform(0.08, 0.25)), offset=offset,
            mirror=k > 0 and x_off and _chance(rng, 0.3),
        ))  # fmt: skip
    return Recipe(name, tuple(parts))


def procedural_category_names(n: int) -> list[str]:
    """Deterministic names 'proc000', 'proc001', ... for class-scaling experiments."""
    return [f"proc{i:03d}" for i in range(n)]


def _procedural_index(name: str) -> int | None:
    m = re.fullmatch(r"proc(\d{3,})", name)
    return int(m.group(1)) if m and name == f"proc{int(m.group(1)):03d}" else None


def procedural_recipe(name: str) -> Recipe:
    """Seed-derived recipe of a procedural category; structures are made unique by rejecting repeats.

    Recipes are generated in index order and cached, so recipe i never depends on how many are asked for.
    """
    index = _procedural_index(name)
    if index is None:
        raise ValueError(f"{name!r} is not a procedural category name (expected e.g. 'proc000')")
    while len(_RECIPES) <= index:
        i = len(_RECIPES)
        rng = np.random.default_rng([_PROC_SEED, i])
        recipe = _sample_recipe(f"proc{i:03d}", rng)
        while recipe.signature() in _SIGNATURES:
            recipe = _sample_recipe(f"proc{i:03d}", rng)
        _SIGNATURES.add(recipe.signature())
        _RECIPES.append(recipe)
    return _RECIPES[index]


def _unit_part(p: PartSpec) -> Mesh:
    """Part primitive filling the unit cube [-0.5, 0.5]^3, ready to be scaled to its sampled size."""
    if p.kind == "box":
        return box()
    if p.kind == "cylinder":
        return cylinder(0.5, 1.0, p.segments, p.axis)
    if p.kind == "cone":
        return cone(0.5, 0.5 * p.taper, 1.0, p.segments, p.axis)
    if p.kind == "ellipsoid":
        return ellipsoid((0.5, 0.5, 0.5), max(4, p.segments // 2), p.segments)
    if p.kind == "torus":
        thick = np.where(np.array(list("xyz")) == p.axis, 1.0 / 0.3, 1.0)
        return transform(torus(0.35, 0.15, p.segments, 6, p.axis), scale=thick)
    rot = {"x": None, "y": rotation_matrix("z", np.pi / 2), "z": rotation_matrix("x", np.pi / 2)}[p.axis]
    return transform(wedge(), rotation=rot)


def build_procedural(recipe: Recipe, rng: np.random.Generator) -> Mesh:
    """One instance of a procedural category: each part rests on its parent's face with resampled sizes."""
    centers: list[np.ndarray] = []
    halves: list[np.ndarray] = []
    parts: list[Mesh] = []
    for p in recipe.parts:
        size = np.array(p.size) * np.exp(rng.uniform(-p.spread, p.spread, 3))
        c = np.zeros(3)
        if p.parent >= 0:
            pc, ph = centers[p.parent], halves[p.parent]
            a, sign = p.side // 2, 1.0 - 2.0 * (p.side % 2)
            c = pc.copy()
            c[a] += sign * (ph[a] + size[a] / 2 * (1.0 - 2.0 * _OVERLAP))
            lateral = [b for b in range(3) if b != a]
            c[lateral] += (np.array(p.offset) + rng.uniform(-0.05, 0.05, 2)) * ph[lateral]
        unit = _unit_part(p)
        parts.append(transform(unit, scale=size, translation=c))
        if p.mirror:
            m = c.copy()
            m[0] = 2 * centers[p.parent][0] - c[0]
            parts.append(transform(unit, scale=size * [-1.0, 1.0, 1.0], translation=m))
        centers.append(c)
        halves.append(size / 2)
    return _finish(parts)


# ------------------------------------------------------------------------------------------- public
def all_category_names(n_procedural: int = 0) -> list[str]:
    """The 12 PASCAL3D+ classes followed by `n_procedural` procedural ones."""
    return list(PASCAL3D_CLASSES) + procedural_category_names(n_procedural)


def get_builder(category: str) -> Builder:
    """Builder `rng -> Mesh` for a PASCAL3D+ or procedural category name."""
    if category in _BUILDERS:
        return _BUILDERS[category]
    if _procedural_index(category) is not None:
        return partial(build_procedural, procedural_recipe(category))
    raise ValueError(
        f"unknown category {category!r}; valid categories are {', '.join(PASCAL3D_CLASSES)} "
        "or procedural names 'proc000', 'proc001', ... (see procedural_category_names)"
    )


def build_instances(category: str, n: int, seed: int = 0) -> list[Mesh]:
    """`n` distinct CAD instances of a category, deterministic in (category, seed).

    Instance i uses its own stream seeded by (seed, category, i), so the first k instances do not depend on n.
    """
    builder = get_builder(category)
    key = zlib.crc32(category.encode())
    return [builder(np.random.default_rng([seed, key, i])) for i in range(n)]
