"""Corrupted variants of test images: ImageNet-C style 2D corruptions and depth-aware ImageNet-3DCC corruptions."""
