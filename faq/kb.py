"""The knowledge base: faq/data/kb.yaml loaded into typed entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faq.normalize import DATA
from faq.yamlfile import read_yaml

CATEGORIES = ("contacts", "programme", "checks", "app", "conversation")


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    label: str
    question: str
    answer: str
    examples: tuple[str, ...] = ()
    dynamic: str | None = None
    requires_any: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    links: tuple[Link, ...] = field(default=())

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.examples)


class KnowledgeBaseError(ValueError):
    pass


def load_entries(path: Path = DATA / "kb.yaml") -> list[Entry]:
    rows = read_yaml(path)
    if not isinstance(rows, list):
        raise KnowledgeBaseError(f"{path}: expected a list of entries")
    entries = []
    for n, row in enumerate(rows):
        try:
            entry = Entry(
                id=str(row["id"]),
                category=str(row["category"]),
                label=str(row["label"]),
                question=str(row["question"]),
                answer=str(row["answer"]).strip(),
                examples=tuple(str(x) for x in row.get("examples") or ()),
                dynamic=row.get("dynamic"),
                requires_any=tuple(str(x) for x in row.get("requires_any") or ()),
                related=tuple(row.get("related") or ()),
                links=tuple(Link(str(x["label"]), str(x["url"])) for x in row.get("links") or ()),
            )
        except (KeyError, TypeError) as exc:
            raise KnowledgeBaseError(f"{path}: entry {n + 1} is missing {exc}") from None
        if len(entry.label.encode("utf-16-le")) // 2 > 20:
            raise KnowledgeBaseError(f"{path}: {entry.id}: label over LINE's 20 characters")
        if entry.category not in CATEGORIES:
            raise KnowledgeBaseError(f"{path}: {entry.id}: unknown category {entry.category!r}")
        entries.append(entry)
    ids = [e.id for e in entries]
    duplicated = {i for i in ids if ids.count(i) > 1}
    if duplicated:
        raise KnowledgeBaseError(f"{path}: duplicated ids {sorted(duplicated)}")
    dangling = {r for e in entries for r in e.related} - set(ids)
    if dangling:
        raise KnowledgeBaseError(f"{path}: related ids that do not exist: {sorted(dangling)}")
    return entries
