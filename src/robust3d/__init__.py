"""robust3d: reproduce five papers on 3D-aware, robust vision, on real data or an embedded synthetic benchmark."""

__version__ = "0.1.0"
