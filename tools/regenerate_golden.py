"""Regenerate tests/golden/baseline_small.json after a deliberate change of model behaviour.

Usage: .venv/bin/python tools/regenerate_golden.py   (then commit the file, saying why outputs changed)
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_scenarios import GOLDEN, golden_result  # noqa: E402

GOLDEN.parent.mkdir(parents=True, exist_ok=True)
GOLDEN.write_text(json.dumps(golden_result(), indent=1, sort_keys=True) + "\n")
print(f"wrote {GOLDEN.relative_to(ROOT)}")
