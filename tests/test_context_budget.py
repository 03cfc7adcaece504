"""The tokenizer (vendored vocabulary, offline) and context assembly to a token budget."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import tiktoken
from hypothesis import given, settings

from baton.model.errors import InvalidArgument
from baton.views import tokens
from baton.views.context_budget import (
    MANDATORY,
    ContextAssembly,
    ContextPiece,
    Inclusion,
    PieceKind,
    assemble,
)
from baton.views.tokens import count_tokens, first_tokens

# -- the tokenizer ---------------------------------------------------------------------


def test_the_vocabulary_loads_with_no_network_and_no_cache(tmp_path: Path) -> None:
    """A fresh process, an empty tiktoken cache and every socket refused: it still counts,
    and nothing is written to the cache (tiktoken's download path is never taken)."""
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from baton.views.tokens import count_tokens
        print(count_tokens("Hello, world! The board is the coordination surface."))
        """
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "DATA_GYM_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 11
    assert list(cache.iterdir()) == []


def test_the_encoding_is_openais_o200k_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's own o200k_base definition, fed the vendored ranks instead of its
    download: the same pattern and special tokens, and the vendored file rebuilt with its
    ranks is byte for byte the file whose hash tiktoken checks."""
    from tiktoken_ext import openai_public

    asked: dict[str, Any] = {}
    ranks = tokens.mergeable_ranks()

    def load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        asked.update(url=url, expected_hash=expected_hash)
        return ranks

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", load)
    official = openai_public.o200k_base()
    assert official["pat_str"] == tokens.PATTERN
    assert official["special_tokens"] == tokens.SPECIAL_TOKENS
    assert asked["url"].endswith("/o200k_base.tiktoken")

    import base64

    original = b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
    )
    assert hashlib.sha256(original).hexdigest() == asked["expected_hash"]

    reference = tiktoken.Encoding(**official)
    sample = "Profile API: GET /users/{id}/profile → 200 {display_name: 'Zoë'} 日本語 🙂"
    assert tokens.encoding().encode_ordinary(sample) == reference.encode_ordinary(sample)


def test_counts() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    # A special token's spelling in a document is ordinary text: counted, never raised on.
    assert count_tokens("<|endoftext|>") > 1
    assert tokens.encoding() is tokens.encoding()  # loaded once


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.text(max_size=300), limit=st.integers(min_value=-2, max_value=120))
def test_first_tokens_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    head = first_tokens(text, limit)
    assert text.startswith(head)
    assert count_tokens(head) <= max(limit, 0)
    if count_tokens(text) <= limit:
        assert head == text


# -- assembly, by example --------------------------------------------------------------


def piece(kind: PieceKind, name: str, text: str, priority: float = 0.0) -> ContextPiece:
    return ContextPiece(kind=kind, name=name, text=text, priority=priority)


TASK = piece(PieceKind.TASK, "api", "Build the profile API endpoint: GET and PATCH.")
CRITERIA = piece(PieceKind.ACCEPTANCE_CRITERIA, "", "- 404 for unknown users\n- validates")
SCHEMA = ContextPiece.of(
    PieceKind.DEPENDENCY_OUTPUT, "schema", {"migration": "0007.sql", "columns": ["a", "b"]}
)
LONG_LINES = "\n".join(f"line {i}: the design says thing number {i}." for i in range(200))
DESIGN = piece(PieceKind.ARTIFACT, "design.md", LONG_LINES)
OLD = piece(PieceKind.MESSAGE, "#3 from planner", "keep it small", priority=3)
NEW = piece(PieceKind.MESSAGE, "#9 from reviewer", "paginate the list", priority=9)
FEEDBACK = piece(PieceKind.REVIEW_FEEDBACK, "round 1", "- add alt text")
ALL = [DESIGN, OLD, SCHEMA, NEW, CRITERIA, FEEDBACK, TASK]


def inclusions(a: ContextAssembly) -> dict[str, Inclusion]:
    return {p.name or p.kind.value: p.inclusion for p in a.pieces}


def test_everything_fits_whole_in_order_of_relevance() -> None:
    a = assemble(ALL, 10_000)
    assert [p.name for p in a.pieces] == [
        "api", "", "round 1", "schema", "#9 from reviewer", "#3 from planner", "design.md",
    ]  # fmt: skip
    assert set(inclusions(a).values()) == {Inclusion.WHOLE}
    assert "Left out" not in a.text
    positions = [a.text.index(p.text) for p in [TASK, CRITERIA, FEEDBACK, SCHEMA, NEW, OLD]]
    assert positions == sorted(positions)
    assert a.text.startswith("# Task: api\nBuild the profile API endpoint")
    assert a.total_tokens == count_tokens(a.text)
    assert a.offered_tokens == sum(count_tokens(p.text) for p in ALL)


def test_a_long_piece_is_summarised_by_its_first_lines() -> None:
    a = assemble(ALL, 400)
    assert a.total_tokens <= 400
    assert inclusions(a)["design.md"] is Inclusion.SUMMARISED
    design = next(p for p in a.pieces if p.name == "design.md")
    assert 0 < design.shown < design.tokens
    assert "line 0: the design says thing number 0.\n" in a.text
    assert f"… ({design.tokens - design.shown} more tokens left out)" in a.text
    section = a.text.split("## Artifact: design.md\n", 1)[1]
    kept = section.split("\n… (", 1)[0]
    assert LONG_LINES.startswith(kept) and LONG_LINES[len(kept)] == "\n"  # whole lines


def test_what_does_not_fit_is_named_with_its_size() -> None:
    a = assemble(ALL, 150)
    assert a.total_tokens <= 150
    left = [p for p in a.pieces if p.inclusion is Inclusion.LEFT_OUT]
    assert left and "design.md" in {p.name for p in left}
    assert "## Left out for lack of room" in a.text
    design = next(p for p in left if p.name == "design.md")
    assert f"- artifact design.md: {design.tokens} tokens" in a.text
    assert inclusions(a)["api"] is Inclusion.WHOLE


def test_newest_message_first() -> None:
    a = assemble([TASK, OLD, NEW], 10_000)
    assert a.text.index("paginate the list") < a.text.index("keep it small")
    cramped = assemble([TASK, OLD, NEW], count_tokens(assemble([TASK, NEW], 10_000).text) + 2)
    assert inclusions(cramped)["#9 from reviewer"] is Inclusion.WHOLE


def test_the_task_alone_over_budget_is_cut_with_a_marker() -> None:
    long_task = piece(PieceKind.TASK, "big", "word " * 2_000)
    a = assemble([long_task, CRITERIA, SCHEMA], 200)
    assert a.total_tokens <= 200 and not a.over_budget
    assert inclusions(a)["big"] is Inclusion.TRUNCATED
    assert inclusions(a)["acceptance_criteria"] is Inclusion.WHOLE  # the short one is kept
    assert inclusions(a)["schema"] is Inclusion.LEFT_OUT
    assert "more tokens cut: the task alone is over the context budget of 200 tokens)" in a.text


def test_a_budget_too_small_for_the_headings_still_assembles() -> None:
    a = assemble([TASK, CRITERIA], 3)
    assert a.over_budget and a.total_tokens > 3
    assert a.text.startswith("# Task: api")
    assert {p.inclusion for p in a.pieces} == {Inclusion.TRUNCATED}


def test_the_record_is_small_json_without_the_texts() -> None:
    a = assemble(ALL, 300)
    payload = a.event_payload()
    wire = json.dumps(payload)
    assert "text" not in payload
    for p in ALL:
        assert p.text not in wire
    assert len(wire) < 1_500
    assert ContextAssembly.model_validate({**payload, "text": a.text}) == a
    assert a.record().total_tokens == a.total_tokens


def test_names_are_one_line_and_bounded() -> None:
    odd = piece(PieceKind.ARTIFACT, "evil\nname\x00" + "x" * 500, "body")
    a = assemble([TASK, odd], 10_000)
    assert "\n## Artifact: evil name " in a.text
    assert len(a.pieces[1].name) == 200


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        assemble([TASK], -1)
    with pytest.raises(ValueError):
        piece(PieceKind.MESSAGE, "m", "x", priority=float("nan"))


# -- assembly, as properties -----------------------------------------------------------

WORDS = ["schema", "endpoint", "the", "review", "a", "profile", "日本", "🙂", "\n", "  ", "{"]
texts = st.lists(st.sampled_from(WORDS), max_size=400).map(" ".join)
pieces = st.lists(
    st.builds(
        ContextPiece,
        kind=st.sampled_from(list(PieceKind)),
        name=st.text(max_size=12),
        text=texts,
        priority=st.integers(min_value=-5, max_value=5).map(float),
    ),
    max_size=12,
)


def mandatory_whole(ps: list[ContextPiece]) -> int:
    """What the task and criteria cost whole, as the assembly counts them."""
    only = [p for p in ps if p.kind in MANDATORY]
    return assemble(only, 10**9).total_tokens + 2 * len(only)


@settings(max_examples=150, deadline=None, database=None)
@given(ps=pieces, budget=st.integers(min_value=0, max_value=3_000))
def test_assembly_properties(ps: list[ContextPiece], budget: int) -> None:
    a = assemble(ps, budget)
    # The count is the text's, and within the budget whenever the task itself fits.
    assert a.total_tokens == count_tokens(a.text)
    assert a.over_budget == (a.total_tokens > budget)
    if budget >= mandatory_whole(ps):
        assert not a.over_budget
        assert all(p.inclusion is Inclusion.WHOLE for p in a.pieces if p.kind in MANDATORY)
    # Every piece accounted for exactly once.
    offered = sorted((p.kind.value, count_tokens(p.text)) for p in ps)
    assert sorted((p.kind.value, p.tokens) for p in a.pieces) == offered
    # In order of relevance: by kind, then priority, highest first, then as given.
    rank = list(PieceKind)
    expected = sorted(
        enumerate(ps), key=lambda ip: (rank.index(ip[1].kind), -ip[1].priority, ip[0])
    )
    assert [(r.kind, r.tokens) for r in a.pieces] == [
        (p.kind, count_tokens(p.text)) for _, p in expected
    ]
    # Mandatory pieces are never left out; what is shown is at most what there was.
    for record in a.pieces:
        assert 0 <= record.shown <= record.tokens
        if record.kind in MANDATORY:
            assert record.inclusion is not Inclusion.LEFT_OUT
        if record.inclusion is Inclusion.WHOLE:
            assert record.shown == record.tokens
        if record.inclusion is Inclusion.LEFT_OUT:
            assert record.shown == 0
    # Idempotent: the same pieces and budget, the same assembly.
    assert assemble(ps, budget) == a


@settings(max_examples=60, deadline=None, database=None)
@given(ps=pieces, budget=st.integers(min_value=0, max_value=2_000), seed=st.integers())
def test_the_order_given_matters_only_between_equals(
    ps: list[ContextPiece], budget: int, seed: int
) -> None:
    distinct = [p.model_copy(update={"priority": float(i)}) for i, p in enumerate(ps)]
    shuffled = list(distinct)
    random.Random(seed).shuffle(shuffled)
    assert assemble(shuffled, budget) == assemble(distinct, budget)


@settings(max_examples=60, deadline=None, database=None)
@given(ps=pieces, budget=st.integers(min_value=0, max_value=3_000))
def test_whole_pieces_appear_whole_and_in_order(ps: list[ContextPiece], budget: int) -> None:
    a = assemble(ps, budget)
    ordered = sorted(
        enumerate(ps), key=lambda ip: (list(PieceKind).index(ip[1].kind), -ip[1].priority, ip[0])
    )
    cursor = 0
    for (_, original), record in zip(ordered, a.pieces, strict=True):
        if record.inclusion is Inclusion.WHOLE:
            found = a.text.find(original.text, cursor)
            assert found >= 0
            cursor = found + len(original.text)
