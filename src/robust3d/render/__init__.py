"""Rendering with PyTorch3D under the PASCAL3D+ camera model."""
