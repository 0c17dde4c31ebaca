"""Paper-stage tests: the shared fixtures of tests/conftest.py apply; its helper modules (fixtures_real) import too."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
