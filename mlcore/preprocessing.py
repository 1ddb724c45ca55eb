"""Feature encoding fitted on training rows only and saved with the model.

Numeric inputs (age, the six Garvan lab tests and the derived T3/TT4 ratio)
get a piecewise-linear encoding whose bin edges are the split points of a
small decision tree fitted on the training labels (Gorishniy et al. 2022),
plus a robust-scaled, softly clipped log value and a missing indicator. A
missing value encodes as zeros with its indicator set. Flags are 0/1, sex is
one-hot. A missing FTI is derived from TT4 / T4U when both are given.

Where the class a bin points to changes from one bin to the next, the edge
between them also gets a step bit (value above the edge: 1). The Garvan labels
follow the laboratory's cut-offs exactly (every hypothyroid row has TSH 6.1
mU/L or more), and a ramp that starts at a cut-off barely moves just above it
(TSH 6.1 is 0.06 of the way along a 6.05-6.95 bin), so a network reading ramps
alone called TSH 6.1-6.4 normal where a tree splits. Edges inside a class's
range get no step: a step there would let the probabilities jump back and
forth between bins, where a ramp only bends.

The referral source is not an input of models trained now (it acted as a
shortcut to the referring Garvan site); models saved before it was dropped
still read it (``use_referral_source`` in their preprocessing.json).

Transforming needs numpy only (the web process never imports scikit-learn);
fitting imports scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlcore.schema import CLASSES, GARVAN_LABS, HISTORY_FLAGS, REFERRAL_SOURCES, SEXES

# The lab tests the network reads: the six of the Garvan data, whatever else the schema accepts (free T4
# and free T3 feed the guideline reading, not the network).
MODEL_LABS = GARVAN_LABS
# Numeric features in encoding order; "T3_TT4_ratio" is derived (T3 / TT4, both nmol/L).
NUMERIC_FEATURES = ("age", *MODEL_LABS, "T3_TT4_ratio")
_TT4, _T4U, _FTI = (1 + MODEL_LABS.index(name) for name in ("TT4", "T4U", "FTI"))


def _column(rows, name: str) -> np.ndarray:
    """One column of a list of panel dicts or of a DataFrame, as an object array."""
    if hasattr(rows, "columns"):
        if name not in rows.columns:
            return np.full(len(rows), None, dtype=object)
        return rows[name].to_numpy(dtype=object)
    return np.array([row.get(name) for row in rows] + [None], dtype=object)[:-1]


def _numeric(rows, name: str) -> np.ndarray:
    if hasattr(rows, "columns") and name in rows.columns:
        return rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.array([np.nan if v is None else v for v in _column(rows, name)], dtype=np.float64)


def _flags(rows, name: str) -> np.ndarray:
    if hasattr(rows, "columns") and name in rows.columns and rows[name].dtype == bool:
        return rows[name].to_numpy()
    return _column(rows, name) == True  # noqa: E712 (elementwise on an object array)


def derive_fti(matrix: np.ndarray) -> None:
    """Fill a missing FTI with TT4 / T4U where both are measured (in place, on a numeric_matrix).

    In the Garvan data FTI is the free thyroxine index TT4 / T4U (nmol/L-equivalent): it holds
    within ±1 for 98 % of the records that have all three (shared/DOMAIN.md, "Units"; the
    classic definition of the index: Clark & Horn, J Clin Endocrinol Metab 1965;25:39-45).
    """
    tt4, t4u = matrix[:, _TT4], matrix[:, _T4U]
    missing = np.isnan(matrix[:, _FTI]) & (tt4 >= 0) & (t4u > 0)
    if missing.any():
        matrix[missing, _FTI] = tt4[missing] / t4u[missing]


def numeric_matrix(rows, *, fti_from_tt4_t4u: bool = True) -> np.ndarray:
    """(n, len(NUMERIC_FEATURES)) raw numeric values, NaN where missing (FTI derived unless told not to)."""
    n = len(rows)
    matrix = np.full((n, len(NUMERIC_FEATURES)), np.nan)
    for j, name in enumerate(NUMERIC_FEATURES[:-1]):
        matrix[:, j] = _numeric(rows, name)
    if fti_from_tt4_t4u:
        derive_fti(matrix)
    t3, tt4 = matrix[:, 2], matrix[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(tt4 > 0, t3 / tt4, np.nan)
    matrix[:, -1] = ratio
    return matrix


def class_boundaries(values: np.ndarray, labels: np.ndarray, edges: Sequence[float]) -> list[float]:
    """The interior edges where the class a bin points to changes: in each bin, the class whose share
    of the bin's rows most exceeds its share of all rows (shares smoothed by one row of the prior)."""
    present = ~np.isnan(values)
    x, y = values[present], labels[present]
    if len(edges) < 3 or len(x) == 0:
        return []
    n_classes = len(CLASSES)
    prior = (np.bincount(y, minlength=n_classes) + 1.0) / (len(y) + n_classes)
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    counts = np.zeros((len(edges) - 1, n_classes))
    np.add.at(counts, (bins, y), 1.0)
    lift = (counts + prior) / (counts.sum(axis=1, keepdims=True) + 1.0) / prior
    leading = lift.argmax(axis=1)
    return [float(edges[i + 1]) for i in range(len(edges) - 2) if leading[i] != leading[i + 1]]


def tree_cut_edges(
    values: np.ndarray, labels: np.ndarray, *, max_leaves: int, min_leaf: int, seed: int = 0
) -> list[float]:
    """Bin edges for one feature: the split points of a small tree fitted on (value, label)."""
    from sklearn.tree import DecisionTreeClassifier

    present = ~np.isnan(values)
    x, y = values[present], labels[present]
    if len(x) == 0:
        return [0.0, 1.0]
    low, high = float(np.min(x)), float(np.max(x))
    if len(np.unique(y)) < 2 or low == high or len(x) < 2 * min_leaf:
        return [low, high if high > low else low + 1.0]
    tree = DecisionTreeClassifier(max_leaf_nodes=max_leaves, min_samples_leaf=min_leaf, random_state=seed).fit(
        x.reshape(-1, 1), y
    )
    splits = tree.tree_.threshold[tree.tree_.feature >= 0]
    return sorted({low, high, *(float(s) for s in splits)})


@dataclass
class Preprocessor:
    """Encodes validated panels as a float32 matrix; fit on training rows, then save/load as JSON."""

    max_leaves: int = 16
    min_leaf: int = 24
    edges: dict[str, list[float]] = field(default_factory=dict)
    log_median: dict[str, float] = field(default_factory=dict)
    log_scale: dict[str, float] = field(default_factory=dict)
    # Both False only in models saved before these choices (read from their preprocessing.json).
    derive_fti: bool = True
    use_referral_source: bool = False
    # Edges with a step bit, per numeric feature (class_boundaries); fitted when step_bits is true.
    step_bits: bool = True
    steps: dict[str, list[float]] = field(default_factory=dict)

    def fit(self, rows, labels: Sequence[str], *, seed: int = 0) -> Preprocessor:
        y = np.array([CLASSES.index(label) for label in labels])
        matrix = numeric_matrix(rows, fti_from_tt4_t4u=self.derive_fti)
        for j, name in enumerate(NUMERIC_FEATURES):
            values = matrix[:, j]
            self.edges[name] = tree_cut_edges(values, y, max_leaves=self.max_leaves, min_leaf=self.min_leaf, seed=seed)
            self.steps[name] = class_boundaries(values, y, self.edges[name]) if self.step_bits else []
            logs = np.log1p(np.maximum(values[~np.isnan(values)], 0.0))
            if len(logs):
                q25, q50, q75 = np.percentile(logs, [25, 50, 75])
                self.log_median[name] = float(q50)
                self.log_scale[name] = float(max(q75 - q25, 1e-3))
            else:
                self.log_median[name], self.log_scale[name] = 0.0, 1.0
        return self

    @property
    def feature_groups(self) -> dict[str, list[int]]:
        """Encoded column indices of each input (numeric features, flags, "sex" and, in old models,
        "referral_source")."""
        groups: dict[str, list[int]] = {}
        start = 0
        for name in NUMERIC_FEATURES:
            bins = len(self.edges[name]) - 1
            width = bins + len(self.steps.get(name, ())) + 2
            groups[name] = list(range(start, start + width))
            start += width
        for name in HISTORY_FLAGS:
            groups[name] = [start]
            start += 1
        groups["sex"] = list(range(start, start + len(SEXES)))
        start += len(SEXES)
        if self.use_referral_source:
            groups["referral_source"] = list(range(start, start + len(REFERRAL_SOURCES)))
        return groups

    @property
    def n_features(self) -> int:
        return sum(len(columns) for columns in self.feature_groups.values())

    def transform(self, rows) -> np.ndarray:
        """Encode validated panels (list of dicts or DataFrame with INPUT_FIELDS columns)."""
        if not self.edges:
            raise RuntimeError("the preprocessor is not fitted")
        groups = self.feature_groups
        out = np.zeros((len(rows), self.n_features), dtype=np.float32)
        matrix = numeric_matrix(rows, fti_from_tt4_t4u=self.derive_fti)
        for j, name in enumerate(NUMERIC_FEATURES):
            values = matrix[:, j]
            missing = np.isnan(values)
            filled = np.where(missing, 0.0, values)
            edges = np.asarray(self.edges[name])
            columns = groups[name]
            # Per-bin ramps, computed in a contiguous block then copied into place (much faster
            # than clipping into a strided view of the output).
            ramps = filled.astype(np.float32)[:, None] - edges[None, :-1].astype(np.float32)
            ramps *= (1.0 / np.diff(edges)).astype(np.float32)[None, :]
            np.clip(ramps, 0.0, 1.0, out=ramps)
            if missing.any():
                ramps[missing] = 0.0
            out[:, columns[0] : columns[0] + len(edges) - 1] = ramps
            steps = np.asarray(self.steps.get(name, ()), dtype=np.float64)
            if len(steps):
                bits = filled[:, None] > steps[None, :]
                bits[missing] = False
                out[:, columns[0] + len(edges) - 1 : columns[-2]] = bits
            z = (np.log1p(np.maximum(filled, 0.0)) - self.log_median[name]) / self.log_scale[name]
            # Smooth clipping (RealMLP): roughly linear near 0, bounded by 3 for extreme values.
            out[:, columns[-2]] = np.where(missing, 0.0, z / np.sqrt(1.0 + (z / 3.0) ** 2))
            out[:, columns[-1]] = missing
        for name in HISTORY_FLAGS:
            out[:, groups[name][0]] = _flags(rows, name)
        for name, codes in (("sex", SEXES), ("referral_source", REFERRAL_SOURCES)):
            if name not in groups:
                continue
            values = _column(rows, name)
            for column, code in zip(groups[name], codes, strict=True):
                out[:, column] = values == code
        return out

    def to_dict(self) -> dict:
        return {
            "max_leaves": self.max_leaves,
            "min_leaf": self.min_leaf,
            "edges": self.edges,
            "log_median": self.log_median,
            "log_scale": self.log_scale,
            "derive_fti": self.derive_fti,
            "use_referral_source": self.use_referral_source,
            "step_bits": self.step_bits,
            "steps": self.steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Preprocessor:
        return cls(
            max_leaves=data["max_leaves"],
            min_leaf=data["min_leaf"],
            edges={k: [float(v) for v in vs] for k, vs in data["edges"].items()},
            log_median={k: float(v) for k, v in data["log_median"].items()},
            log_scale={k: float(v) for k, v in data["log_scale"].items()},
            derive_fti=bool(data.get("derive_fti", False)),
            use_referral_source=bool(data.get("use_referral_source", True)),
            step_bits=bool(data.get("step_bits", False)),
            steps={k: [float(v) for v in vs] for k, vs in data.get("steps", {}).items()},
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        return cls.from_dict(json.loads(Path(path).read_text()))
