from __future__ import annotations

import pytest

from digest.textmatch import (
    compile_term,
    fold,
    inflections,
    looks_like_acronym,
    occurrences,
    stem,
)


def test_fold_strips_accents_and_case() -> None:
    assert fold("Schrödinger") == "schrodinger"
    assert fold("ÉCOLE") == "ecole"


def test_vowelless_plural_acronyms_lose_their_s() -> None:
    assert stem("llms") == stem("llm") == "llm"
    assert stem("cnns") == "cnn"
    assert stem("models") == stem("model")
    assert stem("bus") == stem("bus")  # has a vowel: left to Snowball


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LLM", True),
        ("GPT4", True),
        ("SE(3)", False),
        ("LoRA", False),
        ("llm", False),
        ("ΛCDM", True),
    ],
)
def test_acronym_detection(text: str, expected: bool) -> None:
    assert looks_like_acronym(text) is expected


def test_occurrences_index_hyphen_compounds_both_ways() -> None:
    text = "We study pre-training."
    found = list(occurrences(text))
    keys = [(k, pos, width) for k, pos, width, _s, _e in found]
    assert ("pre", 2, 1) in keys and ("training", 3, 1) in keys
    assert ("pretraining", 2, 2) in keys
    compound = next(o for o in found if o[0] == "pretraining")
    assert text[compound[3] : compound[4]] == "pre-training"


def test_compile_phrase_offers_split_and_closed_forms() -> None:
    compiled = compile_term("fine-tuning")
    shapes = {tuple(p.value for p in seq) for seq in compiled.alternatives}
    assert ("fine", "tuning") in shapes
    assert ("finetuning",) in shapes
    assert compiled.is_phrase


def test_compile_prefix_and_exact() -> None:
    prefix = compile_term("quantiz*").alternatives[0][0]
    assert (prefix.kind, prefix.value) == ("prefix", "quantiz")
    exact = compile_term("LLM", True).alternatives[0][0]
    assert (exact.kind, exact.value) == ("exact", "LLM")


def test_compile_rejects_text_without_words() -> None:
    with pytest.raises(ValueError, match="no letters"):
        compile_term("--- !!")


def test_a_word_finds_its_inflections_and_spellings_not_its_snowball_relatives() -> None:
    assert {"initializations", "initialisation"} <= inflections("initialization")
    assert "initial" not in inflections("initialization")
    assert {"reasons", "reasoned"} <= inflections("reasoning")
    assert "reasonable" not in inflections("reasoning")
    assert "generally" not in inflections("generalization")
    assert {"models", "modelling", "modeling"} <= inflections("model")
    assert {"equivariance", "equivariant"} <= inflections("equivariant")
    assert {"matrices"} <= inflections("matrix") and {"analyses"} <= inflections("analysis")
    assert inflections("galaxies") & inflections("galaxy") >= {"galaxy", "galaxies"}
