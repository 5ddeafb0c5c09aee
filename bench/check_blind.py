"""Structural check of a blind question set (default faq/data/blindC.jsonl; D and E too).

Checks: every line is valid JSON with q/id/style; every id is a known topic or null;
exactly 2 questions per topic per style (short, chat, story, mixed); 40 near-miss and
24 far lines, all with id null; no duplicate "q". Does not run the FAQ.
Usage: python bench/check_blind.py [path]
"""

import collections
import json
import sys
from pathlib import Path

TOPICS = [
    "app-crash",
    "app-install",
    "certification-local",
    "certification-province",
    "check-admin-area",
    "check-agency-data",
    "check-child-education",
    "check-completeness",
    "check-elderly",
    "check-foreign-members",
    "check-household-size",
    "check-income",
    "check-occupation",
    "check-program-households",
    "check-small-village",
    "check-vip-households",
    "check-young-head",
    "collection-period",
    "collection-target",
    "contact-channels",
    "contractor",
    "coordinator-central",
    "coordinator-province",
    "coordinator-region",
    "covid-measures",
    "data-correction",
    "district-progress-reports",
    "edit-submitted",
    "forgot-password",
    "gps-location",
    "greeting",
    "household-confirmation",
    "household-eligibility",
    "household-not-found",
    "login-problem",
    "manual-reference",
    "offline-collection",
    "open-ticket",
    "plan-integration",
    "progress-tracking",
    "smart-data-services",
    "staff-list",
    "thanks",
    "ticket-status",
    "training-courses",
    "upload-failed",
    "volunteer-quota",
    "working-group-order",
]
TOPIC_STYLES = ("short", "chat", "story", "mixed")
NULL_STYLES = {"near-miss": 40, "far": 24}


def check(path):
    errors = []
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            errors.append(f"line {n}: invalid JSON ({e})")
            continue
        if not isinstance(o, dict) or set(o) != {"q", "id", "style"}:
            errors.append(f"line {n}: keys must be q, id, style")
            continue
        if not isinstance(o["q"], str) or not o["q"].strip():
            errors.append(f"line {n}: empty q")
        if o["id"] is not None and o["id"] not in TOPICS:
            errors.append(f"line {n}: unknown id {o['id']!r}")
        if o["style"] in NULL_STYLES and o["id"] is not None:
            errors.append(f"line {n}: {o['style']} line must have id null")
        if o["style"] in TOPIC_STYLES and o["id"] is None:
            errors.append(f"line {n}: {o['style']} line needs a topic id")
        if o["style"] not in TOPIC_STYLES and o["style"] not in NULL_STYLES:
            errors.append(f"line {n}: unknown style {o['style']!r}")
        rows.append(o)
    per = collections.Counter((o["id"], o["style"]) for o in rows if o["id"])
    for t in TOPICS:
        for s in TOPIC_STYLES:
            if per[(t, s)] != 2:
                errors.append(f"{t}/{s}: {per[(t, s)]} questions, want 2")
    styles = collections.Counter(o["style"] for o in rows)
    for s, want in NULL_STYLES.items():
        if styles[s] != want:
            errors.append(f"{s}: {styles[s]} lines, want {want}")
    qs = collections.Counter(o["q"].strip() for o in rows)
    errors += [f"duplicate q: {q!r}" for q, c in qs.items() if c > 1]
    return rows, styles, errors


def main(argv):
    path = (
        argv[1]
        if len(argv) > 1
        else Path(__file__).resolve().parent.parent / "faq/data/blindC.jsonl"
    )
    rows, styles, errors = check(path)
    print(f"{path}: {len(rows)} lines; " + ", ".join(f"{s} {c}" for s, c in sorted(styles.items())))
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
