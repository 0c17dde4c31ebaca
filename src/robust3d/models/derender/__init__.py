"""Unsup3D de-rendering (depth, albedo, light, view from one image) and PDR's leave-one-out cycle contrast."""
