from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.config.profiles import (
    load_profile,
    parse_profile,
    profile_from_dict,
    profile_from_options,
    profile_to_dict,
)
from digest.errors import ConfigError
from digest.models import Profile, Term, Topic

EXAMPLES = Path(__file__).parents[2] / "config" / "profiles"


def test_every_shipped_example_loads() -> None:
    files = sorted(EXAMPLES.glob("*.toml"))
    assert len(files) >= 3
    for file in files:
        assert load_profile(file).all_terms


def test_example_profile_reads_every_setting() -> None:
    profile = load_profile(EXAMPLES / "example.toml")
    assert [t.name for t in profile.topics] == ["diffusion", "fast-sampling"]
    terms = {t.text: t for t in profile.all_terms}
    assert terms["diffusion model"].weight == 2.0
    assert terms["DDPM"].case_sensitive is True
    assert terms["Schrödinger bridge"].weight == 1.5
    assert terms["ODE solver"].weight == pytest.approx(0.8)  # topic weight applied
    assert profile.exclude == ("medical imag*", "heat diffusion")
    assert profile.authors == ("Yang Song", "Stefano Ermon")
    assert profile.categories == ("cs.LG", "stat.ML")
    assert (profile.min_score, profile.max_papers, profile.popularity_weight) == (3.0, 20, 0.5)
    assert profile.sources == ("arxiv", "huggingface")
    assert profile.description.startswith("Diffusion")


def test_shorthand_keywords_and_weights() -> None:
    profile = parse_profile(
        'keywords = ["score matching^2", "LoRA", {text="GAN", case_sensitive=false}]'
    )
    assert profile.topics[0].name == "keywords"
    assert profile.all_terms == (
        Term("score matching", 2.0),
        Term("LoRA", 1.0),
        Term("GAN", 1.0, False),
    )


@pytest.mark.parametrize(
    ("text", "line", "key", "reason"),
    [
        ('keywords = ["a b"]\nmax_paper = 3\n', 2, "max_paper", "unknown key"),
        (
            'keywords = ["x"]\n[topics.t]\nkeywords = ["y"]\nwieght = 2\n',
            4,
            "topics.t.wieght",
            "unknown key",
        ),
        ('keywords = ["x"]\nmax_papers = 0\n', 2, "max_papers", "out of range"),
        ('keywords = ["x"]\nmax_papers = "ten"\n', 2, "max_papers", "expected an integer"),
        ('keywords = ["x"]\nmin_score = true\n', 2, "min_score", "expected a number"),
        ('\nkeywords = ["x^11"]\n', 2, "keywords[0]", "out of range"),
        ('keywords = [{text = "x", weight = 0}]\n', 1, "keywords[0].weight", "out of range"),
        ('keywords = ["x^heavy"]\n', 1, "keywords[0]", "must be a number"),
        ('keywords = ["ab*"]\n', 1, "keywords[0]", "at least 3 letters"),
        ('keywords = ["a*b*"]\n', 1, "keywords[0]", "only once"),
        ('keywords = "diffusion"\n', 1, "keywords", "expected a list"),
        ("keywords = []\n", 1, "keywords", "at least one keyword"),
        (
            'keywords = ["x"]\ncategories = ["not a category"]\n',
            2,
            "categories[0]",
            "arXiv category",
        ),
        ('keywords = ["x"]\nrequire_categories = true\n', 2, "require_categories", "needs"),
        ('description = "only words"\n', None, None, "profile is empty"),
        ('keywords = ["x"]\nmin_score = = 2\n', 2, None, "invalid TOML"),
    ],
)
def test_errors_name_file_line_and_key(
    text: str, line: int | None, key: str | None, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_profile(text, "me.toml")
    err = caught.value
    assert (err.path, err.line, err.key) == ("me.toml", line, key)
    assert reason in err.reason
    assert str(err).startswith("me.toml")


def test_load_profile_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


def test_profile_from_options() -> None:
    profile = profile_from_options(
        ["diffusion model", "score matching^2", "LLM"],
        exclude=["medical imaging"],
        authors=["Yang Song"],
        categories=["cs.LG"],
    )
    assert profile.all_terms == (
        Term("diffusion model"),
        Term("score matching", 2.0),
        Term("LLM", 1.0, True),
    )
    assert profile.exclude == ("medical imaging",)
    assert profile.authors == ("Yang Song",)
    assert profile.categories == ("cs.LG",)


def test_profile_from_options_errors_name_the_option() -> None:
    with pytest.raises(ConfigError) as caught:
        profile_from_options(["ok", "bad^99"])
    assert caught.value.key == "--keyword 'bad^99'"
    assert "out of range" in str(caught.value)
    with pytest.raises(ConfigError, match="empty"):
        profile_from_options([])
    assert profile_from_options([], categories=["astro-ph"]).categories == ("astro-ph",)


def test_dict_round_trip_of_a_parsed_profile() -> None:
    profile = load_profile(EXAMPLES / "example.toml")
    data = profile_to_dict(profile)
    import json

    assert profile_from_dict(json.loads(json.dumps(data))) == profile


def test_damaged_stored_profile_is_config_error() -> None:
    data = profile_to_dict(profile_from_options(["x"]))
    data["max_papers"] = "many"
    with pytest.raises(ConfigError, match="max_papers"):
        profile_from_dict(data)
    del data["topics"]
    with pytest.raises(ConfigError, match="malformed"):
        profile_from_dict(data)


_text = st.text(min_size=0, max_size=12)
_term = st.builds(
    Term,
    _text,
    st.floats(min_value=0.01, max_value=10, allow_nan=False),
    st.booleans(),
)
_profiles = st.builds(
    Profile,
    topics=st.lists(
        st.builds(Topic, _text, st.lists(_term, max_size=3).map(tuple)), max_size=3
    ).map(tuple),
    exclude=st.lists(_text, max_size=2).map(tuple),
    authors=st.lists(_text, max_size=2).map(tuple),
    categories=st.lists(_text, max_size=2).map(tuple),
    require_categories=st.booleans(),
    sources=st.lists(_text, max_size=2).map(tuple),
    min_score=st.floats(min_value=0, max_value=100, allow_nan=False),
    max_papers=st.integers(1, 500),
    include_updates=st.booleans(),
    popularity_weight=st.floats(min_value=0, max_value=10, allow_nan=False),
    description=_text,
)


@given(_profiles)
def test_any_profile_round_trips_exactly(profile: Profile) -> None:
    assert profile_from_dict(profile_to_dict(profile)) == profile
