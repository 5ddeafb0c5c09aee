"""The coordinator directory and the 76 provinces, from faq/data/directory.yaml.

Escalation follows the letter: province → region → central. Province names are found in free
text even when shortened ("สุราษ"), nicknamed ("โคราช") or misspelled ("สุราษฏร์ธานี").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from faq.normalize import DATA, normalize
from faq.yamlfile import read_yaml


@dataclass(frozen=True)
class Coordinator:
    name: str
    phone: str

    def line(self) -> str:
        return f"{self.name} โทร {self.phone}"


@dataclass(frozen=True)
class Region:
    name: str
    aliases: tuple[str, ...]
    coordinators: tuple[Coordinator, ...]
    provinces: tuple[str, ...]


@dataclass(frozen=True)
class Found:
    """A name found in text: the canonical name and the span of the text it came from."""

    name: str
    start: int
    end: int


def _people(rows: list[dict[str, str]] | None) -> tuple[Coordinator, ...]:
    return tuple(Coordinator(str(r["name"]), str(r["phone"])) for r in rows or [])


class Directory:
    def __init__(self, path: Path = DATA / "directory.yaml") -> None:
        data = read_yaml(path)
        self.central = _people(data["central"])
        self.regions: dict[str, Region] = {
            name: Region(
                name,
                tuple(body.get("aliases") or ()),
                _people(body.get("coordinators")),
                tuple(body["provinces"]),
            )
            for name, body in data["regions"].items()
        }
        self.region_of: dict[str, str] = {
            province: region.name
            for region in self.regions.values()
            for province in region.provinces
        }
        unknown = set(data.get("provincial") or {}) - set(self.region_of)
        if unknown:
            raise ValueError(f"directory.yaml: provincial rows for unknown provinces {unknown}")
        self.provincial: dict[str, Coordinator] = {
            province: Coordinator(str(row["name"]), str(row["phone"]))
            for province, row in (data.get("provincial") or {}).items()
        }
        aliases = {normalize(k): v for k, v in (data.get("province_aliases") or {}).items()}
        # Every way of writing a province, longest first so "สุราษฎร์ธานี" wins over "สุราษ".
        self._province_forms = sorted(
            [(normalize(p), p) for p in self.region_of] + list(aliases.items()),
            key=lambda item: -len(item[0]),
        )
        self._region_forms = sorted(
            [(normalize(r.name), r.name) for r in self.regions.values()]
            + [(normalize(a), r.name) for r in self.regions.values() for a in r.aliases],
            key=lambda item: -len(item[0]),
        )
        self.provinces = tuple(sorted(self.region_of))

    # -- finding names in text ---------------------------------------------------------------

    def find_province(self, text: str) -> Found | None:
        """The province named in `text` (already normalized or not), or None."""
        norm = normalize(text)
        for form, province in self._province_forms:
            at = norm.find(form)
            if at < 0:
                continue
            # Short names ("ตาก", "เลย") are everyday words too: only after "จังหวัด"/"จ".
            before = norm[:at].rstrip()
            if len(form) >= 4 or norm == form or before.endswith(("จังหวัด", "จ")):
                return Found(province, at, at + len(form))
        return self._fuzzy_province(norm)

    def _fuzzy_province(self, norm: str) -> Found | None:
        # Misspellings: compare each run of Thai text after "จังหวัด"/"จ" with the names.
        for marker in ("จังหวัด", "จว", "จ "):
            at = norm.find(marker)
            if at >= 0:
                rest = norm[at + len(marker) :].strip()
                word = rest.split(" ")[0][:14]
                if len(word) >= 3:
                    hit = process.extractOne(
                        word, self.provinces, scorer=fuzz.ratio, score_cutoff=75
                    )
                    if hit:
                        start = norm.find(word)
                        return Found(hit[0], start, start + len(word))
        return None

    def match_province(self, text: str) -> str | None:
        """A province from a short free-text answer ("สุราษ", "จ.สงขลา", "อุบล")."""
        found = self.find_province(text)
        if found:
            return found.name
        norm = normalize(text).removeprefix("จังหวัด").removeprefix("จ").strip()
        if len(norm) < 2:
            return None
        prefixed = [p for p in self.provinces if normalize(p).startswith(norm)]
        if len(prefixed) == 1:
            return prefixed[0]
        hit = process.extractOne(norm, self.provinces, scorer=fuzz.ratio, score_cutoff=70)
        return hit[0] if hit else None

    def find_region(self, text: str) -> Found | None:
        norm = normalize(text)
        for form, region in self._region_forms:
            at = norm.find(form)
            if at >= 0 and (form.startswith("ภาค") or len(form) >= 5):
                return Found(region, at, at + len(form))
        return None

    def match_region(self, text: str) -> str | None:
        """A region from a short answer: "ภาคใต้", "ใต้", "อีสาน"."""
        found = self.find_region(text if normalize(text).startswith("ภาค") else "ภาค" + text)
        return found.name if found else None

    # -- escalation --------------------------------------------------------------------------

    def region_for(self, province: str) -> Region:
        return self.regions[self.region_of[province]]
