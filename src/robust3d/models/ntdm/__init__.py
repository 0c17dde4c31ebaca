"""NTDM (Wang et al., WACV 2024): neural textured deformable meshes for robust analysis-by-synthesis."""
