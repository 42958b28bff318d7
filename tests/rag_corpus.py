"""Documents for the knowledge tests, generated (deterministic): a long handbook as a PDF, and
Markdown, HTML and DOCX versions; facts from tests/data/rag/qa.json are planted among filler text."""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

QA = Path(__file__).parent / "data" / "rag" / "qa.json"

SUBJECTS = ["The regional committee", "Our operations group", "The planning office", "Each depot manager",
            "The quality team", "The procurement desk", "The quarterly review", "The logistics council"]
VERBS = ["discussed", "summarised", "revisited", "documented", "compared", "outlined", "scheduled", "assessed"]
OBJECTS = ["the routing schedule", "the inventory forecast", "the maintenance calendar", "the packaging guidelines",
           "the supplier scorecard", "the loading bay layout", "the tender documents", "the customs paperwork",
           "the pallet labelling rules", "the route optimisation pilot", "the dock scheduling tool"]
ENDINGS = ["before the next board meeting.", "with the regional leads.", "as part of the annual plan.",
           "in close cooperation with the carriers.", "to improve throughput at the hubs.",
           "after feedback from the drivers.", "for the upcoming peak season."]


@dataclass(frozen=True)
class Fact:
    topic: str
    fact: str
    question: str
    answer: str


def facts() -> list[Fact]:
    return [Fact(**f) for f in json.loads(QA.read_text())["facts"]]


def filler(rng: random.Random, sentences: int) -> str:
    return " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"
                    for _ in range(sentences))


def sections(pages: int = 50, seed: int = 7, density: int = 2) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) per page: one page a section; facts spread over the pages; `density` is the
    filler paragraphs per page (2: ~150 words; 6: ~400 words, a dense page of prose)."""
    rng = random.Random(seed)
    planted = facts()
    where = {round(i * pages / len(planted)): fact for i, fact in enumerate(planted)}
    out: list[tuple[str, list[str]]] = []
    for page in range(pages):
        fact = where.get(page)
        heading = fact.topic if fact else f"Operations notes {page + 1}"
        paragraphs = [filler(rng, 5), filler(rng, 4)] + [filler(rng, 5) for _ in range(density - 2)]
        if fact:
            paragraphs.insert(1, fact.fact)
        out.append((heading, paragraphs))
    return out


def pdf(pages: int = 50, seed: int = 7, density: int = 2) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_auto_page_break(False)
    for heading, paragraphs in sections(pages, seed, density):
        document.add_page()
        document.set_font("Helvetica", "B", 14)
        document.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        document.set_font("Helvetica", size=10)
        for paragraph in paragraphs:
            document.multi_cell(0, 5, paragraph, new_x="LMARGIN", new_y="NEXT")
            document.ln(3)
    return bytes(document.output())


def markdown(pages: int = 10, seed: int = 11) -> bytes:
    text = "\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) for h, ps in sections(pages, seed))
    return f"# Handbook\n\n{text}\n".encode()


def html(pages: int = 10, seed: int = 13) -> bytes:
    body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections(pages, seed))
    head = "<head><title>Handbook</title><style>p{}</style><script>var x = 1;</script></head>"
    return f"<!DOCTYPE html><html>{head}<body>{body}</body></html>".encode()


def docx(pages: int = 10, seed: int = 17) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for heading, paragraphs in sections(pages, seed):
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
