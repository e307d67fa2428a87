"""Text analysis shared by indexing and querying, so both see the same terms.

Three lexical views of a text:
- words: Unicode words, case- and accent-folded; code identifiers split
  (`getUserById` → get, user, by, id and the whole `getuserbyid`;
  `snake_case`, paths); runs of CJK characters as overlapping bigrams.
- stems: the words through Tantivy's English stemmer (`deploys` → `deploy`).
- grams: character trigrams of each word, for partial words and typos.
Everything is produced here and indexed pre-tokenized, so the index and the
queries can never disagree about what a term is.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Callable, TypeVar

import tantivy

# Small on purpose: BM25's IDF handles the rest; this list also drives the
# trivial-query gate (DESIGN §7).
STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its me my of on or our
    she so than that the their them then there these they this to us was we were what when where which who
    why will with would you your do does did how can could should shall may might must been being am not no
    just also about any all some such very too again""".split()
)
# Filler that makes a message trivial for implicit recall, but is still
# indexed and searchable when asked for.
CHITCHAT = frozenset("ok okay yes yeah yep sure hi hey hello please thanks thank cool great nice lol".split())

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_CHUNK_RE = re.compile(r"\w+", re.UNICODE)
_CJK_RE = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ebef]+"
)
MAX_TOKEN = 40

Key = TypeVar("Key")
Value = TypeVar("Value")


class _Memo(dict[Key, Value]):
    """A function's answers by argument: a plain dict, so a hit is one C-level
    lookup (`map(memo.__getitem__, terms)` never enters Python), where an
    `lru_cache` also reorders its list on every hit (~30% of the analysis).
    Bounded by starting afresh when full: natural text refills it at once."""

    def __init__(self, func: Callable[[Key], Value], maxsize: int) -> None:
        super().__init__()
        self.func = func
        self.maxsize = maxsize

    def __missing__(self, key: Key) -> Value:
        if len(self) >= self.maxsize:
            self.clear()
        value = self[key] = self.func(key)
        return value

    __call__ = dict.__getitem__


def _memo(maxsize: int) -> Callable[[Callable[[Key], Value]], _Memo[Key, Value]]:
    return lambda func: _Memo(func, maxsize)


def strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(word: str) -> str:
    """Lowercase and strip accents: `Café` → `cafe`, `Straße` → `strasse`."""
    return strip_accents(word).casefold()


def split_identifier(word: str) -> list[str]:
    """`getUserById` → get, User, By, Id; `HTTPServer2` → HTTP, Server, 2.
    Works for any cased script; uncased scripts only split at digits."""
    parts: list[str] = []
    start = 0
    for i in range(1, len(word)):
        prev, ch = word[i - 1], word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        if (
            (prev.islower() and ch.isupper())
            or (prev.isdigit() != ch.isdigit())
            or (prev.isupper() and ch.isupper() and nxt.islower())
        ):
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return parts


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


@_memo(262_144)
def _chunk_terms(chunk: str) -> tuple[str, ...]:
    """Terms of one `\\w+` chunk: identifier parts, the whole, CJK bigrams.
    Cached: natural text repeats its words, so most chunks are seen before."""
    if chunk.isascii() and "_" not in chunk and (chunk.islower() or chunk.isdigit() or chunk[1:].islower()):
        return (chunk.lower(),)  # the common case: a plain word
    terms: list[str] = []
    pieces = [p for p in strip_accents(chunk).split("_") if p]
    parts: list[str] = []
    for piece in pieces:
        for segment in _CJK_RE.split(piece):
            if segment:
                parts.extend(split_identifier(segment))
        for run in _CJK_RE.findall(piece):
            terms.extend(_cjk_terms(run))
    folded = [p.casefold() for p in parts]
    terms.extend(folded)
    if len(folded) > 1:
        whole = "".join(p.casefold() for p in pieces if not _CJK_RE.search(p))
        if whole and whole not in folded:
            terms.append(whole)
    return tuple(terms)


@_memo(262_144)
def _indexed_chunk(chunk: str) -> tuple[str, ...]:
    return tuple(t for t in _chunk_terms(chunk) if len(t) <= MAX_TOKEN and t not in STOPWORDS)


@_memo(65_536)
def _searched_chunk(chunk: str) -> tuple[str, ...]:
    return tuple(t for t in _chunk_terms(chunk) if len(t) <= MAX_TOKEN)


def word_terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """The word view of a text, in order, with repeats (for BM25 counts).
    Each chunk's terms, filtered, are cached whole, and the chunks are
    mapped and joined in C: a third of the per-term loop's time."""
    terms_of = _searched_chunk if keep_stopwords else _indexed_chunk
    return list(itertools.chain.from_iterable(map(terms_of.__getitem__, _CHUNK_RE.findall(text))))


@_memo(262_144)
def _term_trigrams(term: str) -> tuple[str, ...]:
    if _CJK_RE.match(term):
        return ()  # CJK is covered by bigrams in the word view
    padded = f"^{term}$"
    if len(padded) <= 3:
        return (padded,)
    return tuple(padded[i : i + 3] for i in range(len(padded) - 2))


def trigrams(terms: list[str]) -> list[str]:
    """Character trigrams of each term, padded so word edges count."""
    return list(itertools.chain.from_iterable(map(_term_trigrams.__getitem__, terms)))


_STEMMER = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.stemmer("english")).build()


@_memo(262_144)
def _term_stems(term: str) -> tuple[str, ...]:
    # A term's own tokens: one, unless NFKD put a space in it (U+FDFA).
    return tuple(_STEMMER.analyze(term))


def stems(terms: list[str]) -> list[str]:
    """The terms through the stemmer. Per term and cached, which gives what
    the whitespace analyzer gives for the terms joined by spaces."""
    return list(itertools.chain.from_iterable(map(_term_stems.__getitem__, terms)))


def view_terms(text: str) -> dict[str, list[str]]:
    """A document's three views, as the index stores them."""
    words = word_terms(text)
    return {"words": words, "stems": stems(words), "grams": trigrams(words)}


def query_terms(text: str) -> list[str]:
    """Distinct word terms of a query, in order of first appearance."""
    return list(dict.fromkeys(word_terms(text)))


def is_trivial(text: str) -> bool:
    """DESIGN §7's gate: fewer than 2 tokens of ≥2 characters outside the
    stop list, and no non-ASCII token of ≥3 characters."""
    tokens = [fold(w) for w in _WORD_RE.findall(text)]
    meaningful = [t for t in tokens if len(t) >= 2 and t not in STOPWORDS and t not in CHITCHAT]
    if len(meaningful) >= 2:
        return False
    return not any(len(t) >= 3 and not t.isascii() for t in tokens)
