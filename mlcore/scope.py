"""The model's scope, fitted on its training rows: value ranges and a novelty score for panels.

- Ranges: the 0.1th-99.9th percentiles of each lab test and of age in the training
  rows. Beyond them the network extrapolates from a handful of rows (at most 1 in
  1,000 on each side); they are also the percentiles the schema warns outside of
  (shared/DOMAIN.md, "Input validation").
- Novelty: how unlike every diagnostic class of the training rows a panel's
  combination of values is. Per class, a Gaussian on the log values of TSH, T3,
  TT4 and T4U (mean and covariance of the class's complete panels); a panel's
  squared Mahalanobis distance over the labs it has, d2, follows a chi-square law
  with as many degrees of freedom as labs measured under that Gaussian, so the
  Wilson-Hilferty transform z = ((d2 / k)^(1/3) - (1 - 2 / 9k)) / sqrt(2 / 9k)
  (Wilson & Hilferty, PNAS 1931;17:684-8) puts panels with 1 to 4 labs on one
  scale (about a standard normal). The score is the smallest z over the classes;
  the threshold is the 99.5th percentile of the training rows' scores.

  Why: single values can each be in range while their combination is not (a
  suppressed TSH with a low TT4 is central hypothyroidism or an assay problem, not
  a pattern the classes contain). The log scale makes the skewed lab values close
  to Gaussian; FTI is left out because it is TT4 / T4U (a singular direction in log
  space) and TBG because it is rarely measured.

numpy only: the web process scores panels with it.
"""

from __future__ import annotations

import numpy as np

from mlcore.preprocessing import MODEL_LABS, numeric_matrix
from mlcore.schema import CLASSES

RANGE_FIELDS = (*MODEL_LABS, "age")
RANGE_PERCENTILES = (0.1, 99.9)
NOVELTY_LABS = ("TSH", "T3", "TT4", "T4U")
NOVELTY_PERCENTILE = 99.5
NOVELTY_KIND = "min_class_mahalanobis_log_labs"
_LOG_FLOOR = 1e-3  # a reported 0 (below the assay's limit) is read as this before the log
_RIDGE = 1e-3  # added to the covariance diagonal (log units squared): keeps it invertible
_MIN_CLASS_ROWS = 20  # a class with fewer complete panels gets no Gaussian of its own


def _columns(rows, names) -> np.ndarray:
    from mlcore.preprocessing import NUMERIC_FEATURES

    matrix = numeric_matrix(rows, fti_from_tt4_t4u=False)
    return matrix[:, [NUMERIC_FEATURES.index(name) for name in names]]


def _log_labs(rows) -> np.ndarray:
    return np.log(np.maximum(_columns(rows, NOVELTY_LABS), _LOG_FLOOR))


def _wilson_hilferty(d2: np.ndarray, dof: int) -> np.ndarray:
    c = 2.0 / (9.0 * dof)
    return (np.cbrt(d2 / dof) - (1.0 - c)) / np.sqrt(c)


class NoveltyScorer:
    """Scores panels with fitted novelty parameters (the "novelty" entry of metadata["scope"])."""

    def __init__(self, params: dict):
        self.params = params
        self.threshold = float(params["threshold"])
        self._components = [
            (np.asarray(c["mean"], dtype=float), np.asarray(c["covariance"], dtype=float)) for c in params["components"]
        ]
        self._inverses: dict[tuple[bool, ...], list[tuple[np.ndarray, np.ndarray]]] = {}

    def _for_pattern(self, measured: tuple[bool, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
        if measured not in self._inverses:
            keep = np.array(measured)
            self._inverses[measured] = [
                (mean[keep], np.linalg.inv(cov[np.ix_(keep, keep)])) for mean, cov in self._components
            ]
        return self._inverses[measured]

    def scores(self, rows) -> np.ndarray:
        """One score per row, larger = more unusual (0 when none of TSH, T3, TT4, T4U is measured)."""
        x = _log_labs(rows)
        measured = ~np.isnan(x)
        out = np.zeros(len(x))
        patterns = {tuple(row) for row in measured}
        for pattern in patterns:
            dof = sum(pattern)
            if dof == 0:
                continue
            rows_here = np.all(measured == np.array(pattern), axis=1)
            values = x[rows_here][:, np.array(pattern)]
            best = np.full(len(values), np.inf)
            for mean, inverse in self._for_pattern(pattern):
                centred = values - mean
                d2 = np.einsum("ij,jk,ik->i", centred, inverse, centred)
                best = np.minimum(best, _wilson_hilferty(d2, dof))
            out[rows_here] = best
        return out


def fit_scope(frame) -> dict:
    """Ranges and novelty parameters of training rows (a DataFrame with a "label" column)."""
    values = _columns(frame, RANGE_FIELDS)
    ranges = {}
    for j, name in enumerate(RANGE_FIELDS):
        present = values[~np.isnan(values[:, j]), j]
        if len(present):
            low, high = np.percentile(present, RANGE_PERCENTILES)
            ranges[name] = [round(float(low), 4), round(float(high), 4)]
    x = _log_labs(frame)
    complete = ~np.isnan(x).any(axis=1)
    labels = frame["label"].to_numpy()
    components = []
    for name in CLASSES:
        rows = x[complete & (labels == name)]
        if len(rows) >= _MIN_CLASS_ROWS:
            covariance = np.cov(rows, rowvar=False) + _RIDGE * np.eye(len(NOVELTY_LABS))
            components.append({"class": name, "mean": rows.mean(axis=0).tolist(), "covariance": covariance.tolist()})
    if not components and complete.sum() > len(NOVELTY_LABS):
        rows = x[complete]
        covariance = np.cov(rows, rowvar=False) + _RIDGE * np.eye(len(NOVELTY_LABS))
        components.append({"class": "all", "mean": rows.mean(axis=0).tolist(), "covariance": covariance.tolist()})
    novelty = {
        "kind": NOVELTY_KIND,
        "labs": list(NOVELTY_LABS),
        "log_floor": _LOG_FLOOR,
        "components": components,
        "threshold": None,
        "percentile": NOVELTY_PERCENTILE,
    }
    if components:
        novelty["threshold"] = float(
            np.percentile(NoveltyScorer({**novelty, "threshold": 0}).scores(frame), NOVELTY_PERCENTILE)
        )
    return {
        "ranges": ranges,
        "range_percentiles": list(RANGE_PERCENTILES),
        "novelty": novelty,
    }
