"""The compact predictor gives what the fitted weights give, whatever the message's features."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.linear_model import FittedModel, LinearModel

EXAMPLES = [
    (["w:need", "w:help", "c: ne", "c:elp "], "request_help"),
    (["w:want", "w:help", "c:elp ", "b:want help"], "request_help"),
    (["w:not", "w:breathing", "c:bre", "c:ing "], "crisis_overdose"),
    (["w:turning", "w:blue", "c:ing ", "c: bl"], "crisis_overdose"),
    (["w:stop", "w:texting", "c:sto", "c:ing "], "opt_out"),
    (["w:stop", "w:messages", "c:sto", "c:ges "], "opt_out"),
]
FITTED = FittedModel.fit([f for f, _ in EXAMPLES], [label for _, label in EXAMPLES])
TERMS = FITTED.terms


def reference_probabilities(fitted: FittedModel, features: Sequence[str]) -> np.ndarray:
    """The model's arithmetic written out plainly, on the fitted float64 weights."""
    row_of = {term: row for row, term in enumerate(fitted.terms)}
    counts = Counter(row_of[f] for f in features if f in row_of)
    scores = fitted.bias.copy()
    if counts:
        rows = list(counts)
        values = np.array([(1 + math.log(counts[r])) * fitted.idf[r] for r in rows])
        values /= math.sqrt(float(values @ values))
        scores = scores + values @ fitted.weights[rows]
    exp = np.exp(scores - scores.max())
    result: np.ndarray = exp / exp.sum()
    return result


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(TERMS), st.text(max_size=12).map(lambda t: f"w:{t}")),
        max_size=40,
    )
)
def test_probabilities_match_the_fitted_weights(features: list[str]) -> None:
    model = LinearModel.from_fitted(FITTED)
    expected = reference_probabilities(FITTED, features)
    np.testing.assert_allclose(model.probabilities(features), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("features", "intent"),
    [
        (["w:need", "w:help"], "request_help"),
        (["w:not", "w:breathing"], "crisis_overdose"),
        (["w:stop", "w:texting", "w:unknown-word"], "opt_out"),
    ],
)
def test_the_likeliest_class_is_the_trained_one(features: list[str], intent: str) -> None:
    model = LinearModel.from_fitted(FITTED)
    assert model.classes[int(np.argmax(model.probabilities(features)))] == intent


def test_no_known_feature_gives_the_bias_alone() -> None:
    model = LinearModel.from_fitted(FITTED)
    indices, values = model.vectorize(["w:zebra", "c:qqq"])
    assert len(indices) == len(values) == 0
    np.testing.assert_allclose(
        model.probabilities(["w:zebra"]), reference_probabilities(FITTED, [])
    )


def test_terms_sharing_a_hash_keep_one_row_and_still_predict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two terms with one 64-bit hash: the model still loads and a feature matching either
    counts as the first of them, instead of failing to start."""
    first, second = "w:breathing", "w:blue"
    assert first in TERMS and second in TERMS

    def colliding(term: str) -> int:
        return hash(first) if term == second else hash(term)

    with caplog.at_level(logging.WARNING):
        model = LinearModel.from_fitted(FITTED, hash_term=colliding)
    assert model.term_count == len(TERMS) - 1
    assert "1 NLU terms share a hash" in caplog.text
    crisis = model.classes.index("crisis_overdose")
    assert int(np.argmax(model.probabilities(["w:not", first]))) == crisis


def test_saved_and_loaded_weights_predict_the_same(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    FITTED.save(path)
    loaded = FittedModel.load(path)
    assert loaded.terms == TERMS
    features = ["w:need", "w:help", "c:elp "]
    np.testing.assert_array_equal(
        LinearModel.from_fitted(loaded).probabilities(features),
        LinearModel.from_fitted(FITTED).probabilities(features),
    )
