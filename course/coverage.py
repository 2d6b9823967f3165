"""A split's coverage report: every sentence of the article in exactly one lesson, nothing added.

Sentences are compared as text: the Markdown the splitter adds (heading marks, list dashes,
backslash escapes) is taken off first, so a sentence counts as itself in either place.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+")
LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+")
ESCAPE = re.compile(r"\\([\\`*_\[\]<>~#>+=.)-])")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Coverage:
    """Where the article's sentences went: how many, and which are missing, doubled or new."""

    sentences: int
    placed_once: int
    missing: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Tell whether every sentence is in exactly one lesson and nothing was added."""
        return not (self.missing or self.repeated or self.added)


def sentences(text: str) -> list[str]:
    """Return TEXT's sentences, line by line, without Markdown marks and runs of spaces."""
    found = []
    for raw in text.splitlines():
        line = LIST_MARK.sub("", HEADING_MARK.sub("", raw), count=1)
        line = " ".join(ESCAPE.sub(r"\1", line).split())
        found += [part for part in SENTENCE_END.split(line) if part]
    return found


def coverage(article: str, lesson_bodies: list[str]) -> Coverage:
    """Compare ARTICLE's sentences with those of LESSON_BODIES (one per lesson)."""
    wanted = Counter(sentences(article))
    placed: Counter[str] = Counter()
    added: list[str] = []
    for body in lesson_bodies:
        for sentence in sentences(body):
            placed[sentence] += 1
            if sentence not in wanted:
                added.append(sentence)
    missing = [sentence for sentence in wanted if placed[sentence] < wanted[sentence]]
    repeated = [sentence for sentence in wanted if placed[sentence] > wanted[sentence]]
    return Coverage(
        sentences=sum(wanted.values()),
        placed_once=sum(min(count, placed[sentence]) for sentence, count in wanted.items()),
        missing=missing,
        repeated=repeated,
        added=added,
    )
