"""Words as the ranker sees them: tokenise, fold, stem, and compile a keyword into patterns.

Matching rules (what a researcher can expect from a keyword):
- Case- and accent-insensitive: "schrodinger" finds "Schrödinger".
- Inflected, not stemmed: a word finds its regular inflections (plural, -ed, -ing, -'s) and
  British/American spellings ("initialization" finds "initializations", "initialisation";
  "model" finds "modelling"), never another word that shares a Snowball stem
  ("initialization" does not find "initial", "reasoning" not "reasonable").
- Several words are a phrase: they appear in order, consecutively or with one word between
  ("large vision language model"), or across a coordination of up to three words
  ("large language and image generation models" finds "large language model").
- Hyphens and spaces are interchangeable ("state-space" = "state space"), and a hyphenated or
  two/three-word keyword also finds its closed form ("fine-tuning" finds "finetuning",
  "data set" finds "dataset") and the other way round.
- A trailing `*` is a prefix wildcard on the surface word ("quantiz*" finds "quantized",
  "quantization").
- A case-sensitive term (Term.case_sensitive, set automatically for keywords written in
  capitals such as "LLM") matches only that exact spelling, or it plus a plural "s"
  ("LLMs"), never "llm" inside ordinary prose.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# A word is a run of letters/digits, optionally with an inner apostrophe ("Hilbert's");
# a hyphen chain joins words without spaces ("text-to-3D").
_WORD = r"[^\W_]+(?:['’][^\W_]+)*"
WORD_RE = re.compile(_WORD)
CHAIN_RE = re.compile(rf"{_WORD}(?:-{_WORD})*")
_KEYWORD_CHAIN_RE = re.compile(rf"{_WORD}(?:-{_WORD})*\*?")  # a trailing "*" is a wildcard
_ACRONYM = re.compile(r"^[^\W_a-z]*[A-Z][^\W_a-z]*$")
_VOWELS = frozenset("aeiouy")
MAX_ALTERNATIVES = 8

# snowballstemmer hands out PyStemmer's C build of the same algorithm when it is installed
# (a dependency): the pure-Python one takes ~40x longer, which a day's index would feel.
_stemmer = snowballstemmer.stemmer("english")
# PyStemmer's own cache (10,000 words) costs more than it saves: a day has 25,000 distinct
# words, stemmed once each by `stems` (80 ms of a run's 90 ms in it), and `stem` has its own.
if hasattr(_stemmer, "maxCacheSize"):
    _stemmer.maxCacheSize = 0


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower-case and strip accents, so spelling variants of one word share a key."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.casefold().replace("’", "'")


@lru_cache(maxsize=200_000)
def stem(folded: str) -> str:
    """The stem of an already folded word.

    Snowball keeps the "s" of vowel-less words ("llms", "cnns"), which are almost always
    plural acronyms, so we drop it ourselves to make "LLM" find "LLMs".
    """
    if len(folded) >= 4 and folded.endswith("s") and not _VOWELS.intersection(folded[:-1]):
        return folded[:-1]
    result: str = _stemmer.stemWord(folded)
    return result


def stems(folded: Sequence[str]) -> list[str]:
    """`stem` of each already folded word, in one call to the stemmer."""
    found: list[str] = _stemmer.stemWords(folded)
    for n, word in enumerate(folded):
        if len(word) >= 4 and word.endswith("s") and not _VOWELS.intersection(word[:-1]):
            found[n] = word[:-1]
    return found


def looks_like_acronym(text: str) -> bool:
    """True for keywords written in capitals ("LLM", "GPT4", "SE3"): match them by case."""
    words = WORD_RE.findall(text)
    return bool(words) and all(len(w) >= 2 and _ACRONYM.match(w) for w in words)


# One word (or closed hyphen compound) in a field's text:
# (folded surface form, word position, width in words, start char, end char).
# A compound such as "pre-training" is also indexed as the single word "pretraining" spanning
# `width` positions, so phrases can be checked across both spellings. Plain tuples: the
# index is built from a million of these per run.
Occurrence = tuple[str, int, int, int, int]


def occurrences(text: str, first_position: int = 0) -> Iterator[Occurrence]:
    position = first_position
    for chain in CHAIN_RE.finditer(text):
        surface = chain.group()
        if "-" not in surface:
            # most chains are one word: no need to split them (the index's hottest loop)
            yield (fold(surface), position, 1, chain.start(), chain.end())
            position += 1
            continue
        base = chain.start()
        parts = list(WORD_RE.finditer(surface))
        for offset, part in enumerate(parts):
            yield (fold(part.group()), position + offset, 1, base + part.start(), base + part.end())
        if len(parts) > 1:
            joined = fold("".join(p.group() for p in parts))
            yield (joined, position, len(parts), chain.start(), chain.end())
        position += len(parts)


# --- Compiled keywords --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordPattern:
    """How one word of a keyword matches a word of the text.

    kind "word": any inflection of the folded word `value` (see `inflections`); "prefix": any
    surface word starting with `value`; "exact": the surface word `value` (case kept), or it
    plus "s".
    """

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class CompiledTerm:
    """A keyword as alternatives, each a sequence of word patterns matched consecutively."""

    alternatives: tuple[tuple[WordPattern, ...], ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.alternatives[0]) > 1


def _pattern(word: str, *, case_sensitive: bool, prefix: bool) -> WordPattern:
    if prefix:
        return WordPattern("prefix", fold(word))
    if case_sensitive:
        return WordPattern("exact", word)
    return WordPattern("word", fold(word))


def keyword_words(text: str) -> list[list[tuple[str, bool]]]:
    """Split keyword text into hyphen chains of (word, is_prefix); quotes are ignored."""
    chains: list[list[tuple[str, bool]]] = []
    for chain in _KEYWORD_CHAIN_RE.finditer(text.replace('"', " ")):
        raw = chain.group()
        star = raw.endswith("*")
        words = WORD_RE.findall(raw.rstrip("*"))
        chains.append([(w, star and i == len(words) - 1) for i, w in enumerate(words)])
    return chains


@lru_cache(maxsize=100_000)
def compile_term(text: str, case_sensitive: bool = False) -> CompiledTerm:
    """Compile keyword text. Raises ValueError if it holds no word."""
    if text.isalnum():  # one plain word, the commonest keyword: nothing to split or join
        return CompiledTerm(((_pattern(text, case_sensitive=case_sensitive, prefix=False),),))
    chains = keyword_words(text)
    if not chains:
        raise ValueError(f"keyword {text!r} has no letters or digits")

    def options(chain: list[tuple[str, bool]]) -> list[tuple[WordPattern, ...]]:
        split = tuple(_pattern(w, case_sensitive=case_sensitive, prefix=p) for w, p in chain)
        if len(chain) == 1:
            return [split]
        joined_word = "".join(w for w, _ in chain)
        joined = _pattern(joined_word, case_sensitive=case_sensitive, prefix=chain[-1][1])
        return [split, (joined,)]

    sequences: list[tuple[WordPattern, ...]] = []
    for combo in itertools.product(*(options(c) for c in chains)):
        sequences.append(tuple(p for part in combo for p in part))
        if len(sequences) >= MAX_ALTERNATIVES:
            break
    # "data set" also finds "dataset": a short multi-word keyword may be written closed.
    words = [w for c in chains for w in c]
    if 1 < len(words) <= 3 and len(chains) > 1 and not any(p for _, p in words[:-1]):
        closed = "".join(w for w, _ in words)
        sequences.append((_pattern(closed, case_sensitive=case_sensitive, prefix=words[-1][1]),))
    return CompiledTerm(tuple(dict.fromkeys(sequences)))


def exact_surface_matches(pattern: str, surface: str) -> bool:
    """Case-sensitive comparison allowing a plural "s" ("LLM" matches "LLMs")."""
    return surface == pattern or surface == pattern + "s"


# --- Inflections -------------------------------------------------------------------------
# A keyword word matches the surface forms below, looked up directly in the index: a small
# rule set for regular English inflection, plus British/American spellings. Derivations
# ("initial" from "initialization") are deliberately left out: they change the meaning.

_SIBILANT_ENDS = ("ss", "sh", "ch", "x", "z")
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxz")
# (American, British) pieces swapped anywhere in a word: "-ization"/"-isation",
# "-ize"/"-ise" (and their inflections), "-yze"/"-yse", "-ling"/"-lling" ...
_SPELLINGS = (
    ("ization", "isation"),
    ("izing", "ising"),
    ("ized", "ised"),
    ("izes", "ises"),
    ("ize", "ise"),
    ("yzing", "ysing"),
    ("yzed", "ysed"),
    ("yze", "yse"),
    ("eling", "elling"),
    ("eled", "elled"),
    ("ior", "iour"),
)
_MIN_BASE = 3


def _bases(word: str) -> set[str]:
    """What an inflected keyword word may be an inflection of ("models" -> "model")."""
    found = {word}
    if len(word) > 4 and word.endswith("ies"):
        found.add(word[:-3] + "y")
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(_SIBILANT_ENDS):
        found.add(word[:-2])
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        found.add(word[:-1])
    if word.endswith("'s"):
        found.add(word[:-2])
    for suffix in ("ing", "ed"):
        root = word[: -len(suffix)]
        if word.endswith(suffix) and len(root) >= _MIN_BASE and _VOWELS.intersection(root):
            found.update((root, root + "e"))
            if len(root) > 3 and root[-1] == root[-2] and root[-1] in _CONSONANTS:
                found.add(root[:-1])  # "running" -> "run"
    return found


# An adjective and its noun name one property ("equivariant", "equivariance"): kept together.
_PROPERTY_ENDS = (("ant", "ance"), ("ent", "ence"))


def _forms(base: str) -> set[str]:
    """The regular inflections of a base word (and of its property noun or adjective)."""
    forms = {base, base + "s", base + "'s"}
    for adjective, noun in _PROPERTY_ENDS:
        if len(base) > 6 and base.endswith(adjective):
            forms.update((base[: -len(adjective)] + noun, base[: -len(adjective)] + noun + "s"))
        elif len(base) > 7 and base.endswith(noun):
            forms.update((base[: -len(noun)] + adjective, base[: -len(noun)] + adjective + "s"))
    if base.endswith(_SIBILANT_ENDS):
        forms.add(base + "es")
    if len(base) > 2 and base.endswith("y") and base[-2] in _CONSONANTS:
        forms.update((base[:-1] + "ies", base[:-1] + "ied"))
    if base.endswith("is"):
        forms.add(base[:-2] + "es")  # analysis -> analyses
    if base.endswith(("ix", "ex")):
        forms.add(base[:-2] + "ices")  # matrix -> matrices
    if base.endswith("e"):
        forms.update((base + "d", base[:-1] + "ing"))
    else:
        forms.update((base + "ed", base + "ing"))
        if len(base) >= 3 and base[-1] in _CONSONANTS and base[-2] in _VOWELS:
            doubled = base + base[-1]
            forms.update((doubled + "ed", doubled + "ing"))  # "run" -> "running"
    forms.update({f + "s" for f in list(forms) if f.endswith("ing")})  # "embeddings"
    return forms


def _spellings(form: str) -> set[str]:
    variants = {form}
    for american, british in _SPELLINGS:
        for one, other in ((american, british), (british, american)):
            if one in form:
                variants.add(form.replace(one, other))
    return variants


@lru_cache(maxsize=100_000)
def inflections(folded: str) -> frozenset[str]:
    """The folded surface forms a keyword word (already folded) matches."""
    if not folded.isalpha():
        return frozenset({folded, folded + "s"})  # "gpt4", "3d": no inflection rules
    found: set[str] = set()
    for base in _bases(folded):
        for form in _forms(base):
            found.update(_spellings(form))
    return frozenset(found)
