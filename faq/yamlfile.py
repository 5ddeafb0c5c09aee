"""Reading the FAQ's YAML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's safe loader when PyYAML was built with it: the same scanner rules and the same
# constructor, so the same data, read ~10x faster (the pure-Python parser took a quarter of the
# FAQ's load on a 300-entry knowledge base). `test_faq` compares the two on every data file.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
