"""Phrasings cut into tokens once, when the decision model is trained, and shipped.

Indexing prepares every phrasing (normalized, English read as Thai, places found, cut by newmm):
with our question sets learned (`question_sets`) that is ~8,000 phrasings and two thirds of the
FAQ's load. What preparing gives hangs only on the lexicon files and the code that does it, so
`python -m faq train` stores it (`faq/data/prepared.json.gz`) under a digest of both. A load whose
digest differs — a word, a synonym or that code changed since — prepares everything afresh:
slower, never wrong; `test_faq` fails until the file is written again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

FILE = "prepared.json.gz"
# What a phrasing's preparation reads: these files of the data folder, this code, pythainlp's
# dictionary and newmm.
LEXICON = ("words.txt", "synonyms.yaml", "english.yaml", "directory.yaml")
CODE = ("normalize.py", "dictionary.py", "directory.py", "matcher.py")

Prepared = Mapping[str, tuple[tuple[str, ...], str]]  # phrasing → (tokens, text)


def digest(data_dir: Path) -> str:
    h = hashlib.sha256(f"pythainlp {version('pythainlp')}\n".encode())
    here = Path(__file__).resolve().parent
    for path in [*(data_dir / name for name in LEXICON), *(here / name for name in CODE)]:
        h.update(path.name.encode() + b"\n")
        h.update(path.read_bytes() if path.exists() else b"(none)")
    return h.hexdigest()


def load(data_dir: Path) -> Prepared:
    """What was stored, if it was prepared as this code and these files would; else nothing."""
    path = data_dir / FILE
    if not path.exists():
        return {}
    stored = json.loads(gzip.decompress(path.read_bytes()))
    if stored["digest"] != digest(data_dir):
        return {}
    return {q: (tuple(tokens), text) for q, tokens, text in stored["phrasings"]}


def save(data_dir: Path, prepared: Prepared) -> None:
    rows = [[q, list(tokens), text] for q, (tokens, text) in sorted(prepared.items())]
    data = json.dumps({"digest": digest(data_dir), "phrasings": rows}, ensure_ascii=False)
    # mtime=0: the same phrasings give the same bytes, so the file changes only when they do.
    (data_dir / FILE).write_bytes(gzip.compress(data.encode("utf-8"), mtime=0))
