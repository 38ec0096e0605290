"""Vectors kept on disk between previews (digest.rank.vectorfile): private, keyed by model,
paper id and the embedded text's hash, and read before anything is embedded again.

Needs numpy but not the model (the bag-of-words stand-in of test_semantic_cache counts what
was embedded)."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digest.rank.semantic import MemoryEmbeddingCache, SemanticIndex
from digest.rank.vectorfile import FILE_NAME, FileEmbeddingCache, LayeredEmbeddingCache
from digest.util.cache_folder import CACHE_DIR_ENV, default_cache_dir
from tests.semantic.test_semantic_cache import PAPERS, PROFILE, WordHashEmbedder

pytestmark = pytest.mark.usefixtures("semantic_extra")


def test_a_second_index_over_the_same_papers_embeds_nothing(tmp_path: Path) -> None:
    first = WordHashEmbedder()
    SemanticIndex.build(PAPERS, first, FileEmbeddingCache(tmp_path)).scores_for(PROFILE)
    assert len(first.texts) == len(PAPERS) + 1  # the papers and the profile

    second = WordHashEmbedder()
    index = SemanticIndex.build(PAPERS, second, FileEmbeddingCache(tmp_path))
    scores = index.scores_for(PROFILE)
    assert second.texts == []  # a new process (a new cache object) reads the file
    assert index.computed == 0
    assert scores is not None and set(scores.similarity) == {p.id for p in PAPERS}


def test_a_paper_whose_text_changed_is_embedded_again(tmp_path: Path) -> None:
    SemanticIndex.build(PAPERS, WordHashEmbedder(), FileEmbeddingCache(tmp_path))
    revised = (replace(PAPERS[0], abstract="a new version of the abstract"), *PAPERS[1:])
    embedder = WordHashEmbedder()
    index = SemanticIndex.build(revised, embedder, FileEmbeddingCache(tmp_path))
    assert index.computed == 1
    assert embedder.texts == ["Diffusion samplers. a new version of the abstract"]


def test_vectors_of_another_model_are_kept_apart(tmp_path: Path) -> None:
    SemanticIndex.build(PAPERS, WordHashEmbedder(), FileEmbeddingCache(tmp_path))
    other = WordHashEmbedder()
    other.name = "another-model/1"
    assert SemanticIndex.build(PAPERS, other, FileEmbeddingCache(tmp_path)).computed == 3


def test_the_file_and_its_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "digest"
    SemanticIndex.build(PAPERS, WordHashEmbedder(), FileEmbeddingCache(folder))
    assert stat.S_IMODE((folder / FILE_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_cache_folder_follows_the_environment(tmp_path: Path) -> None:
    assert default_cache_dir({CACHE_DIR_ENV: str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "digest"
    assert default_cache_dir({}) == Path.home() / ".cache" / "digest"


def test_a_layered_cache_reads_the_first_then_the_second(tmp_path: Path) -> None:
    first, second = MemoryEmbeddingCache(), FileEmbeddingCache(tmp_path)
    one, two = np.ones(3, np.float32), np.full(3, 2.0, np.float32)
    first.put({"a": one}, "m")
    second.put({"a": two, "b": two}, "m")
    found = LayeredEmbeddingCache(first, second).get(["a", "b", "c"], "m")
    assert sorted(found) == ["a", "b"]
    assert np.array_equal(found["a"], one) and np.array_equal(found["b"], two)
    LayeredEmbeddingCache(first, second).put({"c": one}, "m")
    assert "c" in first.get(["c"], "m") and "c" in second.get(["c"], "m")
