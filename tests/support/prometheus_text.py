"""Reading Prometheus' text format in tests (prometheus_client's own parser)."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

# What no label value may look like: a sid, a phone number, an e-mail address, a code.
SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
EMAIL = re.compile(r"@")
CODE = re.compile(r"(?<![\d.])\d{4,10}(?![\d.])")


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    return sum(
        sample.value
        for sample in samples(text)
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def personal_label_values(text: str) -> list[tuple[str, str, str]]:
    """(sample, label, value) of every label value shaped like personal data or a sid.
    Histogram bounds (`le`) are numbers by design and are left out."""
    found = []
    for sample in samples(text):
        for label, label_value in sample.labels.items():
            if label == "le":
                continue
            if any(p.search(label_value) for p in (SID, PHONE, EMAIL, CODE)):
                found.append((sample.name, label, label_value))
    return found
