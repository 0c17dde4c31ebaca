"""Classification by Eq. 7: every feature-map cell votes for a class with its best vertex-or-background match.

``S_y = sum_i max(max_{k in C_y} f_i . C_k, max_n f_i . b_n)``: ignoring geometry turns classification into one
matrix product of the feature map with the whole bank (NOVUM's "real-time" classifier), then maxima per class.
"""

from __future__ import annotations

import torch


def classify(feature_map: torch.Tensor, features: torch.Tensor, n_vertices: torch.Tensor, background: torch.Tensor,
             chunk: int = 4096) -> torch.Tensor:
    """Scores ``(B, Y)`` of unit feature maps ``(B, D, h, w)``; padded vertex rows never win.

    The product runs over ``chunk`` cells at a time so memory stays ``chunk x (Y Kmax)`` at any scale.
    """
    b, d, h, w = feature_map.shape
    y_count, kmax, _ = features.shape
    valid = torch.arange(kmax, device=features.device)[None, :] < n_vertices.to(features.device)[:, None]
    bank = torch.cat([features.reshape(-1, d), background], 0).to(feature_map.dtype)  # one matrix: all vertices + B
    cells = feature_map.permute(0, 2, 3, 1).reshape(-1, d)
    scores = torch.zeros(b * h * w, y_count, dtype=feature_map.dtype, device=feature_map.device)
    pad = (~valid).reshape(1, y_count, kmax)
    for start in range(0, cells.shape[0], chunk):
        sim = cells[start:start + chunk] @ bank.T
        vert = sim[:, : y_count * kmax].reshape(-1, y_count, kmax).masked_fill(pad, float("-inf")).amax(-1)
        back = sim[:, y_count * kmax:].amax(-1, keepdim=True) if background.shape[0] else torch.full_like(vert, -2.0)
        scores[start:start + chunk] = torch.maximum(vert, back)
    return scores.reshape(b, h * w, y_count).sum(1)
