"""A TF-IDF + logistic-regression text classifier: scikit-learn to fit, numpy to predict."""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Newton-CG is deterministic and, on a few thousand sparse features, ~5x faster than lbfgs.
SOLVER = "newton-cg"
TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class LinearModel:
    """Fitted weights in a plain form: prediction needs no scikit-learn and takes microseconds."""

    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: FloatArray
    weights: FloatArray  # (n_features, n_classes): one contiguous row per feature
    bias: FloatArray

    def vectorize(self, features: Sequence[str]) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Sublinear-TF x IDF, L2-normalised; features not seen in training are dropped."""
        counts = Counter(index for f in features if (index := self.vocabulary.get(f)) is not None)
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
        indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[indices]
        values /= math.sqrt(float(values @ values))
        return indices, values

    def probabilities(self, features: Sequence[str]) -> FloatArray:
        """Softmax over classes, aligned with `classes`."""
        indices, values = self.vectorize(features)
        scores = self.bias + values @ self.weights[indices] if len(indices) else self.bias.copy()
        scores = scores - scores.max()
        exp = np.exp(scores)
        result: FloatArray = exp / exp.sum()
        return result

    @classmethod
    def fit(
        cls,
        feature_lists: Sequence[Sequence[str]],
        labels: Sequence[str],
        *,
        c: float = 10.0,
        random_state: int = 0,
    ) -> LinearModel:
        """Fit on featurised examples; deterministic for a given input and `random_state`."""
        from scipy.sparse import csr_matrix
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("training data needs at least two intents")
        vocabulary: dict[str, int] = {}
        for features in feature_lists:
            for feature in features:
                vocabulary.setdefault(feature, len(vocabulary))
        n_docs = len(feature_lists)
        df = np.zeros(len(vocabulary), dtype=np.float64)
        rows: list[int] = []
        cols: list[int] = []
        counts: list[float] = []
        for row, features in enumerate(feature_lists):
            tally = Counter(vocabulary[f] for f in features)
            for col, count in tally.items():
                rows.append(row)
                cols.append(col)
                counts.append(float(count))
                df[col] += 1
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        col_index = np.asarray(cols, dtype=np.intp)
        data = (1.0 + np.log(np.asarray(counts))) * idf[col_index]
        matrix = csr_matrix((data, (rows, cols)), shape=(n_docs, len(vocabulary)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        matrix = csr_matrix(matrix.multiply(1.0 / norms[:, None]))

        model = LogisticRegression(
            C=c,
            solver=SOLVER,
            tol=TOLERANCE,
            max_iter=1000,
            class_weight="balanced",
            random_state=random_state,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(matrix, np.asarray(labels))
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            log.warning("NLU classifier did not fully converge; predictions are still usable")
        classes = tuple(str(name) for name in model.classes_)
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(classes) == 2:  # binary LR keeps one row; softmax([0, z]) == sigmoid(z)
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            intercept = np.array([0.0, intercept[0]])
        return cls(
            classes=classes,
            vocabulary=vocabulary,
            idf=idf,
            weights=np.ascontiguousarray(coef.T),
            bias=intercept,
        )

    def save(self, path: Path) -> None:
        """Write as .npz without pickled objects, so loading a cache can't run code."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        with path.open("wb") as handle:
            np.savez(
                handle,
                classes=np.array(self.classes, dtype=str),
                terms=np.array(terms, dtype=str),
                idf=self.idf,
                weights=self.weights,
                bias=self.bias,
            )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        """Read what `save` wrote; raises on anything malformed."""
        with np.load(path, allow_pickle=False) as archive:
            classes = tuple(str(c) for c in archive["classes"])
            terms = [str(t) for t in archive["terms"]]
            idf = np.asarray(archive["idf"], dtype=np.float64)
            weights = np.ascontiguousarray(archive["weights"], dtype=np.float64)
            bias = np.asarray(archive["bias"], dtype=np.float64)
        if weights.shape != (len(terms), len(classes)) or idf.shape != (len(terms),):
            raise ValueError("model arrays have inconsistent shapes")
        if bias.shape != (len(classes),) or not np.all(np.isfinite(weights)):
            raise ValueError("model bias or weights are invalid")
        return cls(
            classes=classes,
            vocabulary={term: i for i, term in enumerate(terms)},
            idf=idf,
            weights=weights,
            bias=bias,
        )
