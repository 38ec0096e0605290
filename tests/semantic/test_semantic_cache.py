"""Vectors are computed once per paper and once per profile text, and kept in a cache.

Needs numpy (a dependency of digest itself) but not the model or the semantic extra: the
texts are turned into vectors by a small deterministic bag-of-words embedder standing in for
the neural model, which lets the tests count exactly what was embedded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from support.stores import opened_store

from digest.models import Paper, Profile, Term, Topic
from digest.rank.semantic import (
    DIMENSIONS,
    MISSING_EXTRA_NOTE,
    MemoryEmbeddingCache,
    SemanticError,
    SemanticIndex,
    StoreEmbeddingCache,
    profile_key,
    profile_text,
    semantic_index_for_run,
    vector_from_blob,
    vector_to_blob,
)
from digest.store import Store

MODEL_KEY_FOR_TESTS = "word-hash/1"  # WordHashEmbedder.name: the cache's model key


class WordHashEmbedder:
    """Each word adds 1 to a hashed dimension; rows are unit length. Counts its calls."""

    name = "word-hash/1"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        self.texts.extend(texts)
        rows = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(".", " ").replace(";", " ").split():
                slot = int(hashlib.sha1(word.encode()).hexdigest(), 16) % DIMENSIONS
                rows[i, slot] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)


PAPERS = tuple(
    Paper(id=f"2403.0000{i}", title=title, abstract=abstract)
    for i, (title, abstract) in enumerate(
        [
            ("Diffusion samplers", "fast sampling of diffusion models"),
            ("Galaxy halos", "dark matter halos around galaxies"),
            ("Neural operators", "learning solution operators of partial differential equations"),
        ]
    )
)
PROFILE = Profile(
    topics=(Topic("main", (Term("diffusion"),)),), description="fast sampling of models"
)


def test_vectors_round_trip_through_bytes() -> None:
    import numpy as np

    vector = np.linspace(-1, 1, DIMENSIONS, dtype=np.float32)
    blob = vector_to_blob(vector)
    assert len(blob) == 4 * DIMENSIONS
    assert np.array_equal(vector_from_blob(blob), vector)
    assert vector_from_blob(blob).dtype == np.float32


def test_papers_are_embedded_once_and_then_come_from_the_cache() -> None:
    embedder, cache = WordHashEmbedder(), MemoryEmbeddingCache()
    first = SemanticIndex.build(PAPERS, embedder, cache)
    assert first.computed == 3
    assert len(embedder.texts) == 3
    again = SemanticIndex.build([*PAPERS, PAPERS[0]], embedder, cache)  # duplicates count once
    assert again.computed == 0
    assert len(embedder.texts) == 3
    assert again.ids == first.ids
    assert again.matrix.shape == (3, DIMENSIONS)
    more = Paper(id="2403.00009", title="New", abstract="another paper")
    grown = SemanticIndex.build([*PAPERS, more], embedder, cache)
    assert grown.computed == 1
    assert embedder.texts[-1] == "New. another paper"


def test_vectors_of_another_model_are_not_reused() -> None:
    embedder, cache = WordHashEmbedder(), MemoryEmbeddingCache()
    SemanticIndex.build(PAPERS, embedder, cache)
    other = WordHashEmbedder()
    other.name = "word-hash/2"  # a new text recipe or model
    assert SemanticIndex.build(PAPERS, other, cache).computed == 3


def test_profile_vectors_are_recomputed_only_when_the_profile_text_changes() -> None:
    embedder, cache = WordHashEmbedder(), MemoryEmbeddingCache()
    index = SemanticIndex.build(PAPERS, embedder, cache)
    before = len(embedder.texts)
    scores = index.scores_for(PROFILE)
    assert scores is not None
    assert len(embedder.texts) == before + 1
    assert profile_key(profile_text(PROFILE)) in cache.get(
        [profile_key(profile_text(PROFILE))], embedder.name
    )
    # the next run (a new index over the same cache) and a different min_score: no new embedding
    next_run = SemanticIndex.build(PAPERS, embedder, cache)
    assert next_run.scores_for(replace(PROFILE, min_score=4.0)) == scores
    assert len(embedder.texts) == before + 1
    changed = replace(PROFILE, description="dark matter halos")
    assert next_run.scores_for(changed) != scores
    assert len(embedder.texts) == before + 2


def test_similarity_is_the_cosine_of_unit_vectors() -> None:
    index = SemanticIndex.build(PAPERS, WordHashEmbedder(), MemoryEmbeddingCache())
    scores = index.scores_for(PROFILE)
    assert scores is not None
    assert set(scores.similarity) == {p.id for p in PAPERS}
    best = max(scores.similarity, key=scores.similarity.__getitem__)
    assert best == "2403.00000"
    assert all(-1.0001 <= s <= 1.0001 for s in scores.similarity.values())
    assert scores.of("nope") is None


def test_a_profile_without_text_has_no_semantic_scores() -> None:
    index = SemanticIndex.build(PAPERS, WordHashEmbedder(), MemoryEmbeddingCache())
    assert index.scores_for(Profile(authors=("Ada Lovelace",))) is None
    assert index.profile_vector(Profile(categories=("cs.LG",))) is None


def test_no_papers_make_an_empty_index() -> None:
    index = SemanticIndex.build([], WordHashEmbedder(), MemoryEmbeddingCache())
    assert index.matrix.shape == (0, DIMENSIONS)
    scores = index.scores_for(PROFILE)
    assert scores is not None and scores.similarity == {}


# --- the cache in a real store file ---------------------------------------------------------


def test_store_cache_keeps_vectors_per_model(store: Store) -> None:
    import numpy as np

    cache = StoreEmbeddingCache(store)
    one, two = np.full(DIMENSIONS, 0.5, np.float32), np.full(DIMENSIONS, -0.25, np.float32)
    cache.put({"2403.00001": one, "profile:abc": two}, "m/1")
    cache.put({"2403.00001": two}, "m/2")
    found = cache.get(["2403.00001", "profile:abc", "missing"], "m/1")
    assert set(found) == {"2403.00001", "profile:abc"}
    assert np.array_equal(found["2403.00001"], one)
    assert np.array_equal(cache.get(["2403.00001"], "m/2")["2403.00001"], two)
    cache.put({"2403.00001": two}, "m/1")  # a recomputed vector replaces the old one
    assert np.array_equal(cache.get(["2403.00001"], "m/1")["2403.00001"], two)


def test_store_cache_reads_many_ids_in_chunks(store: Store) -> None:
    import numpy as np

    cache = StoreEmbeddingCache(store)
    vectors = {f"id{i}": np.full(DIMENSIONS, i, np.float32) for i in range(1200)}
    cache.put(vectors, "m/1")
    found = cache.get(list(vectors), "m/1")
    assert len(found) == 1200
    assert found["id1199"][0] == 1199.0


def test_store_cache_with_semantic_index_survives_a_reopen(store_path: Path) -> None:
    embedder = WordHashEmbedder()
    with opened_store(store_path) as first:
        SemanticIndex.build(PAPERS, embedder, StoreEmbeddingCache(first))
    with opened_store(store_path) as reopened:
        index = SemanticIndex.build(PAPERS, embedder, StoreEmbeddingCache(reopened))
        assert index.computed == 0


def test_a_readonly_store_cache_reads_but_never_writes(store: Store, store_path: Path) -> None:
    embedder = WordHashEmbedder()
    SemanticIndex.build(PAPERS[:1], embedder, StoreEmbeddingCache(store))
    with opened_store(store_path, readonly=True) as readonly:
        cache = StoreEmbeddingCache(readonly, readonly=True)
        index = SemanticIndex.build(PAPERS, embedder, cache)
        assert index.computed == 2  # embedded for this preview, not stored
        assert index.scores_for(PROFILE) is not None
    stored = store.embeddings([p.id for p in PAPERS], MODEL_KEY_FOR_TESTS)
    assert set(stored) == {PAPERS[0].id}


def test_prune_drops_vectors_of_papers_gone_stale_and_keeps_profiles(store: Store) -> None:
    store.save_papers(PAPERS[:1], dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    store.save_papers(PAPERS[1:2], dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    embedder = WordHashEmbedder()
    cache = StoreEmbeddingCache(store)
    index = SemanticIndex.build(PAPERS, embedder, cache)  # PAPERS[2] never reached the store
    index.scores_for(PROFILE)
    store.prune_embeddings(dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    every = [p.id for p in PAPERS] + [profile_key(profile_text(PROFILE))]
    assert set(store.embeddings(every, MODEL_KEY_FOR_TESTS)) == {
        PAPERS[1].id,
        profile_key(profile_text(PROFILE)),
    }


# --- the run's entry point ------------------------------------------------------------------


class BrokenEmbedder(WordHashEmbedder):
    def embed(self, texts: Sequence[str]) -> Any:
        raise SemanticError("cannot load the embedding model: no weights", path="/nowhere")


def test_a_run_gets_an_index_and_no_note_when_the_model_works() -> None:
    cache = MemoryEmbeddingCache()
    index, note = semantic_index_for_run(PAPERS, cache, embedder=WordHashEmbedder())
    assert index is not None and index.computed == 3
    assert note == ""


def test_a_run_falls_back_to_keywords_with_one_note_when_the_model_fails() -> None:
    index, note = semantic_index_for_run(PAPERS, MemoryEmbeddingCache(), embedder=BrokenEmbedder())
    assert index is None
    assert note == (
        "semantic matching is off: /nowhere: cannot load the embedding model: no weights; "
        "papers were ranked by keywords only"
    )
    assert "pip install" in MISSING_EXTRA_NOTE
