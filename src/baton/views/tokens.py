"""Counting tokens the way a model does, with a vocabulary that ships with Baton.

The tokenizer is OpenAI's ``o200k_base`` encoding (GPT-4o, GPT-4.1 and later), run by
``tiktoken``. Plain ``tiktoken.get_encoding`` downloads its vocabulary on first use;
Baton never does: the vocabulary is vendored in ``vocab/o200k_base.tokens.xz`` (0.9 MB,
MIT, see ``vocab/LICENSE``) and the :class:`tiktoken.Encoding` is built here from it,
once, on first use, without touching tiktoken's download or its cache directory. For
models with other tokenizers (Anthropic's, say) the counts are an estimate, typically
within 10-20% for English text and code; budgets leave headroom for that.

Text is encoded as *ordinary* text: a special token's spelling inside a document
(``<|endoftext|>``) counts as the characters it is, never as a special token, and never
raises.
"""

from __future__ import annotations

import base64
import lzma
import threading
from importlib import resources

import tiktoken

ENCODING_NAME = "o200k_base"
VOCABULARY = "vocab/o200k_base.tokens.xz"

#: The encoding's pre-tokenizer and special tokens, as ``tiktoken_ext.openai_public``
#: defines them (tests check that they still agree).
PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
VOCABULARY_SIZE = 199_998  # mergeable tokens, ranks 0..199997

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def mergeable_ranks() -> dict[bytes, int]:
    """The vendored vocabulary: each token's bytes and its rank (its line number)."""
    packed = resources.files("baton.views").joinpath(VOCABULARY).read_bytes()
    lines = lzma.decompress(packed).splitlines()  # xz checks its own CRC64
    ranks = {base64.b64decode(token): rank for rank, token in enumerate(lines)}
    if len(ranks) != VOCABULARY_SIZE:
        raise RuntimeError(
            f"the vendored {ENCODING_NAME} vocabulary has {len(ranks)} tokens, "
            f"not {VOCABULARY_SIZE}: reinstall baton"
        )
    return ranks


def encoding() -> tiktoken.Encoding:
    """The ``o200k_base`` encoding, loaded from the vendored vocabulary on first call
    (about a quarter of a second) and shared by every later call, in every thread."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                _encoding = tiktoken.Encoding(
                    ENCODING_NAME,
                    pat_str=PATTERN,
                    mergeable_ranks=mergeable_ranks(),
                    special_tokens=SPECIAL_TOKENS,
                )
    return _encoding


def count_tokens(text: str) -> int:
    """How many ``o200k_base`` tokens ``text`` is."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))


def first_tokens(text: str, limit: int) -> str:
    """The longest start of ``text`` that is at most ``limit`` tokens, cut between two
    tokens and never inside a character (``text`` itself when it fits)."""
    if limit <= 0 or not text:
        return ""
    enc = encoding()
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= limit:
        return text
    keep = limit
    while keep > 0:
        # A token may end inside a multi-byte character: drop the broken tail. The
        # prefix is encoded again because its tokens may differ from the cut ones.
        head = enc.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
        overshoot = len(enc.encode_ordinary(head)) - limit
        if overshoot <= 0:
            return head
        keep -= overshoot
    return ""
