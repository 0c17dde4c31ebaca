"""The sample format shared by synthetic and real datasets, and atomic file writing."""
