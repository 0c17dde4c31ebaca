"""The 12 PASCAL3D+ rigid classes: a dataset fact shared by the synthetic benchmark, the real-dataset converters
and config checks (kept free of torch, so config validation stays light)."""

PASCAL3D_CLASSES = (
    "aeroplane", "bicycle", "boat", "bottle", "bus", "car",
    "chair", "diningtable", "motorbike", "sofa", "train", "tvmonitor",
)  # fmt: skip
