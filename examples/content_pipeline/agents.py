"""Deterministic function agents for the content pipeline (no model is called).

Every agent is a plain Python function, so the example runs offline and always tells
the same story; each sleeps a moment to stand for real work.

The editor applies a real rubric to what it is given (numbers need citations; headlines
are at most 70 characters). The writer's first draft breaks both rules, so the editor
rejects it with one issue per fault; the second attempt reads ``ctx.feedback`` and fixes
exactly what was asked, and the editor approves it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from baton.agents import FunctionAgent, TaskContext, Verdict

WORK_S = 0.05
MAX_HEADLINE = 70

FACTS = [
    {
        "id": "F1",
        "claim": "Enterprise inquiries about multi-agent systems rose more than 1,400% in a year.",
        "source": "background/board-as-coordination-layer.txt",
    },
    {
        "id": "F2",
        "claim": "A task that takes 5,000 tokens for one agent can take 20,000 when several "
        "agents coordinate.",
        "source": "background/patterns-and-tradeoffs.txt",
    },
    {
        "id": "F3",
        "claim": "Teams name observability as their biggest pain with multi-agent systems.",
        "source": "background/patterns-and-tradeoffs.txt",
    },
]

FIRST_HEADLINE = "Why Every Team of AI Agents Needs a Shared Task Board Instead of a Chat Thread"
SHORT_HEADLINE = "Why AI agent teams need a shared board"

_CITED = re.compile(r"\[\d+\]$")
_CITE_ASK = re.compile(r"^Paragraph (\d+): cite a source")


async def _work() -> None:
    await asyncio.sleep(WORK_S)


async def researcher(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    return {"topic": ctx.input["topic"], "facts": FACTS}


async def writer(ctx: TaskContext) -> dict[str, Any]:
    """Draft from the research; on a rework, fix exactly the issues the editor raised."""
    await _work()
    facts = ctx.dependencies["research"].output["facts"]
    asked = [item for round_ in ctx.feedback for item in round_["items"]]
    cite = {int(m.group(1)) for a in asked if (m := _CITE_ASK.match(a))}
    shorten = any(a.startswith("Headline") for a in asked)
    paragraphs, citations = [], []
    for number, fact in enumerate(facts, start=1):
        text = fact["claim"]
        if number in cite:
            citations.append(fact["source"])
            text = f"{text} [{len(citations)}]"
        paragraphs.append(text)
    return {
        "headline": SHORT_HEADLINE if shorten else FIRST_HEADLINE,
        "paragraphs": paragraphs,
        "citations": citations,
        "draft": 1 + len(ctx.feedback),
        "addressed": asked,
    }


async def designer(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    article = ctx.dependencies["draft"].output
    charts = []
    for text in article["paragraphs"]:
        found = _CITED.search(text)
        if found and any(ch.isdigit() for ch in text[: found.start()]):
            source = article["citations"][int(found.group(0)[1:-1]) - 1]
            charts.append({"figure": text[: found.start()].strip(), "source": source})
    return {"charts": charts, "style": "house-bar-v2"}


async def editor(ctx: TaskContext) -> Verdict:
    """Review the draft or the visuals against the rubric."""
    await _work()
    work = ctx.task.output
    issues = review_article(work) if ctx.task.key == "draft" else review_visuals(work)
    if issues:
        return Verdict(approve=False, feedback=issues)
    return Verdict(approve=True, comment=f"{ctx.task.key} meets the rubric")


def review_article(article: dict[str, Any]) -> list[str]:
    issues = [
        f"Paragraph {n}: cite a source for {text!r}"
        for n, text in enumerate(article["paragraphs"], start=1)
        if any(ch.isdigit() for ch in text) and not _CITED.search(text)
    ]
    if len(article["headline"]) > MAX_HEADLINE:
        issues.append(
            f"Headline is {len(article['headline'])} characters; keep it to {MAX_HEADLINE}"
        )
    return issues


def review_visuals(visuals: dict[str, Any]) -> list[str]:
    return [f"Chart {c['figure']!r} names no source" for c in visuals["charts"] if not c["source"]]


async def publisher(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    article = ctx.dependencies["draft"].output
    slug = re.sub(r"[^a-z0-9]+", "-", article["headline"].lower()).strip("-")
    return {
        "url": f"https://example.com/blog/{slug}",
        "seo": {"title": article["headline"], "description": article["paragraphs"][0][:155]},
        "charts": len(ctx.dependencies["visuals"].output["charts"]),
        "scheduled_for": "2026-05-04T09:00:00Z",
    }


AGENTS = {
    role: FunctionAgent(fn, roles=[role], name=role)
    for role, fn in {
        "researcher": researcher,
        "writer": writer,
        "designer": designer,
        "editor": editor,
        "publisher": publisher,
    }.items()
}
