"""Procedural low-poly CAD stand-ins for PASCAL3D+/ImageNet3D (no datasets can be downloaded here)."""
