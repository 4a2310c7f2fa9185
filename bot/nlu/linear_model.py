"""A TF-IDF + logistic-regression text classifier: scikit-learn to fit, numpy to predict."""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
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
class FittedModel:
    """Fitted weights with their terms: what training gives and the cache file holds."""

    classes: tuple[str, ...]
    terms: tuple[str, ...]
    idf: FloatArray
    weights: FloatArray  # (n_terms, n_classes), a row per term in `terms` order
    bias: FloatArray

    @classmethod
    def fit(
        cls,
        feature_lists: Sequence[Sequence[str]],
        labels: Sequence[str],
        *,
        c: float = 10.0,
        random_state: int = 0,
    ) -> FittedModel:
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
            terms=tuple(vocabulary),  # a dict keeps insertion order: the columns' order
            idf=idf,
            weights=np.ascontiguousarray(coef.T),
            bias=intercept,
        )

    def save(self, path: Path) -> None:
        """Write as .npz without pickled objects, so loading a cache can't run code."""
        with path.open("wb") as handle:
            np.savez(
                handle,
                classes=np.array(self.classes, dtype=str),
                terms=np.array(self.terms, dtype=str),
                idf=self.idf,
                weights=self.weights,
                bias=self.bias,
            )

    @classmethod
    def load(cls, path: Path) -> FittedModel:
        """Read what `save` wrote; raises on anything malformed."""
        with np.load(path, allow_pickle=False) as archive:
            classes = tuple(str(c) for c in archive["classes"])
            terms = tuple(str(t) for t in archive["terms"])
            idf = np.asarray(archive["idf"], dtype=np.float64)
            weights = np.ascontiguousarray(archive["weights"], dtype=np.float64)
            bias = np.asarray(archive["bias"], dtype=np.float64)
        if weights.shape != (len(terms), len(classes)) or idf.shape != (len(terms),):
            raise ValueError("model arrays have inconsistent shapes")
        if bias.shape != (len(classes),) or not np.all(np.isfinite(weights)):
            raise ValueError("model bias or weights are invalid")
        return cls(classes=classes, terms=terms, idf=idf, weights=weights, bias=bias)


KeyArray = npt.NDArray[np.int64]
EMPTY_INDICES: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
EMPTY_VALUES: FloatArray = np.empty(0, dtype=np.float64)
# Returned to every caller of a message with no known feature: nobody may write into them.
EMPTY_INDICES.setflags(write=False)
EMPTY_VALUES.setflags(write=False)


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A fitted model in the form prediction needs: no scikit-learn, microseconds a message.

    It keeps no terms. All languages' vocabularies as a dict of strings took 10.7 MB of every
    process that parses (89,405 terms: the strings, their int values, the tables); here each
    term is its string's hash in a sorted int64 array (0.7 MB), and a message's features are
    looked up by hash with one `searchsorted`. `hash()` differs from process to process (and
    is the same in a forked child), so the array is built at load time, never stored. The
    weights are float32 (6.8 MB less): a score sums about a hundred products, far from where
    float32's seven digits would move a decision.
    """

    classes: tuple[str, ...]
    #: hash() of each term, sorted; row i of `idf` and `weights` is the term with keys[i].
    keys: KeyArray
    idf: FloatArray
    weights: npt.NDArray[np.float32]  # (n_terms, n_classes)
    bias: FloatArray

    @classmethod
    def from_fitted(
        cls, fitted: FittedModel, hash_term: Callable[[str], int] = hash
    ) -> LinearModel:
        """Rows reordered by their term's hash. Two terms with the same 64-bit hash (for
        11,000 terms about n^2 / 2^65, 3e-12 per language and start: computed, not seen)
        keep the first term's row: a feature matching either then counts as that term,
        rather than the model failing to load."""
        terms = fitted.terms
        keys = np.fromiter(map(hash_term, terms), dtype=np.int64, count=len(terms))
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        distinct = np.ones(len(keys), dtype=bool)
        distinct[1:] = keys[1:] != keys[:-1]
        if not distinct.all():
            log.warning("%d NLU terms share a hash with another term", int((~distinct).sum()))
            order, keys = order[distinct], keys[distinct]
        return cls(
            classes=fitted.classes,
            keys=keys,
            idf=np.ascontiguousarray(fitted.idf[order]),
            weights=np.ascontiguousarray(fitted.weights[order], dtype=np.float32),
            bias=fitted.bias,
        )

    @property
    def term_count(self) -> int:
        return len(self.keys)

    def vectorize(self, features: Sequence[str]) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Sublinear-TF x IDF, L2-normalised; features not seen in training are dropped."""
        if not features or not len(self.keys):
            return EMPTY_INDICES, EMPTY_VALUES
        hashes = np.fromiter(map(hash, features), dtype=np.int64, count=len(features))
        positions = np.searchsorted(self.keys, hashes)
        np.minimum(positions, len(self.keys) - 1, out=positions)  # past the last: no term
        # A Counter of a few dozen rows costs half of np.unique's sorting.
        counts = Counter(positions[self.keys[positions] == hashes].tolist())
        if not counts:
            return EMPTY_INDICES, EMPTY_VALUES
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
