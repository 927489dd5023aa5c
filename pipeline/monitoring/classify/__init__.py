"""Classifiers: relevance 0..1, a category and a one-line reason per event.

`rules` (the default) is offline and explainable (`rules.py`); `llm` asks the project's LLM
resource (`llm.py`), one cached answer per content and account. Both classify only events
that have no classification yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from pipeline.monitoring.classify.rules import CLASSIFIED_SCHEMA, Rules, classify_rules


@dataclass
class Classified:
    frame: pl.DataFrame  # event_id, relevance, category, reason (+ model)
    # Events left for the next run (budget spent, a failed answer), and why.
    left: int = 0
    notes: list[str] = field(default_factory=list)
    failed: int = 0


class Classifier(Protocol):
    name: str
    model: str | None

    def classify(self, events: pl.DataFrame) -> Classified: ...


class RulesClassifier:
    name = "rules"
    model = None

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def classify(self, events: pl.DataFrame) -> Classified:
        return Classified(classify_rules(events, self.rules))


__all__ = ["CLASSIFIED_SCHEMA", "Classified", "Classifier", "RulesClassifier"]
