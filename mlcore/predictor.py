"""Fast prediction from a saved model directory with numpy only (no TensorFlow, no Keras)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlcore import calibration, reading, rules
from mlcore.explain import explain_row, group_attributions, integrated_gradients
from mlcore.network import WEIGHTS_FILE, NumpyNetwork
from mlcore.preprocessing import NUMERIC_FEATURES, Preprocessor
from mlcore.schema import CLASSES
from mlcore.scope import NoveltyScorer

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"


@dataclass
class PredictionResult:
    """One scored panel (the answer every way in gives): the outcome (``assessed``, ``refer`` or
    ``not_assessed``), the class and calibrated probabilities (None when not assessed), coded reasons
    (why refer, why not assessed), coded notes (shown beside the answer; the outcome stands), coded
    warnings on the inputs, the conditions beside the class, the guideline reading and the explanation.

    ``uncertain`` is true whenever the outcome is not ``assessed`` (what clients read before the
    outcome existed). ``pattern`` is the guideline reading of the panel, when one is made.
    ``conditions`` lists every condition code of ``mlcore.conditions.CONDITION_CODES`` the model knows,
    in that order, as ``{"code", "probability", "present"}`` (``present``: the probability reaches the
    condition's decision threshold); empty for a model without a condition head and when not assessed.
    Reasons, notes and warnings are ``{"code", "params"}`` (mlcore.rules), worded by the app."""

    predicted_class: str | None
    probabilities: dict[str, float] | None
    uncertain: bool
    explanation: list[dict] = field(default_factory=list)
    outcome: str = rules.ASSESSED
    reasons: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    pattern: dict | None = None
    notes: list[dict] = field(default_factory=list)
    conditions: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class Predictor:
    """A trained model loaded once: calibrated probabilities, decisions and explanations."""

    def __init__(self, model_dir: Path, metadata: dict, preprocessor: Preprocessor, network: NumpyNetwork):
        self.model_dir = model_dir
        self.metadata = metadata
        self.preprocessor = preprocessor
        self.network = network
        self.version: str = metadata["version"]
        self.temperature = float(metadata["temperature"])
        self.decision_weights = np.array([metadata["decision_weights"][c] for c in CLASSES])
        self.scope = rules.ModelScope.from_metadata(metadata)
        self._groups = preprocessor.feature_groups
        self._baseline = preprocessor.transform([metadata["explanation_baseline"]])[0]
        novelty = metadata.get("scope", {}).get("novelty")
        self._novelty = NoveltyScorer(novelty) if novelty and novelty.get("threshold") is not None else None

    @property
    def uncertain_threshold(self) -> float:
        """The low-confidence referral threshold (held by the scope the rules read)."""
        return self.scope.uncertain_threshold

    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> Predictor:
        """Load a model directory (None: the default model shipped inside mlcore)."""
        model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        metadata_path = model_dir / "metadata.json"
        if not metadata_path.is_file():
            raise FileNotFoundError(f"{model_dir} is not a model directory (no metadata.json)")
        metadata = json.loads(metadata_path.read_text())
        metrics_path = model_dir / "metrics.json"
        if metrics_path.is_file() and "metrics" not in metadata:
            metadata["metrics"] = json.loads(metrics_path.read_text())
        preprocessor = Preprocessor.load(model_dir / "preprocessing.json")
        network = NumpyNetwork.load(model_dir / WEIGHTS_FILE)
        return cls(model_dir, metadata, preprocessor, network)

    def raw_probabilities(self, rows) -> np.ndarray:
        """The network's mean member probabilities before temperature scaling (as Keras computes them)."""
        return self.network.probabilities(self.preprocessor.transform(rows))

    def predict_proba(self, rows) -> np.ndarray:
        """(n, 3) calibrated probabilities in CLASSES order, for validate_panel dicts or a DataFrame."""
        return calibration.apply_temperature(self.raw_probabilities(rows), self.temperature)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Class indices chosen by the validation-tuned decision weights."""
        return calibration.decide(probabilities, self.decision_weights)

    def novelty_scores(self, rows) -> list[float | None]:
        """One multivariate novelty score per row (None for a model saved without a detector)."""
        novelty = getattr(self, "novelty", None)
        if novelty is None or self.scope.novelty_threshold is None:
            return [None] * len(rows)
        return [float(score) for score in novelty(rows)]

    def predict(self, rows, *, explain: bool = True) -> list[PredictionResult]:
        """The outcome of each panel (mlcore.rules), with the class by the tuned decision rule,
        calibrated probabilities, the guideline reading (mlcore.reading; a class it contradicts is
        referred), a warning naming the entered values the network does not read and, unless
        ``explain=False``, the inputs behind the answer (empty when the panel is close to the typical
        normal reference panel, or not assessed)."""
        features = self.preprocessor.transform(rows)
        probabilities = calibration.apply_temperature(self.network.probabilities(features), self.temperature)
        decided = self.decide(probabilities)
        records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
        novelty = self.novelty_scores(rows)
        results = []
        for i, record in enumerate(records):
            pattern = reading.read_panel(record)
            if rules.can_assess(record):
                assessment = rules.assess(record, None, None, self.scope, pattern=pattern)
                predicted, probs, explanation = None, None, []
            else:
                predicted = CLASSES[decided[i]]
                probs = {c: float(p) for c, p in zip(CLASSES, probabilities[i], strict=True)}
                assessment = rules.assess(record, predicted, probs, self.scope, novelty=novelty[i], pattern=pattern)
                explanation = self.explain_features(features[i], record) if explain else []
            warnings = [*assessment.warnings, *rules.not_used_by_model(record, NUMERIC_FEATURES)]
            results.append(
                PredictionResult(
                    predicted_class=predicted,
                    probabilities=probs,
                    uncertain=assessment.outcome != rules.ASSESSED,
                    explanation=explanation,
                    outcome=assessment.outcome,
                    reasons=[reason.to_dict() for reason in assessment.reasons],
                    warnings=[warning.to_dict() for warning in warnings],
                    pattern=pattern,
                )
            )
        return results

    def novelty(self, rows) -> np.ndarray:
        """One novelty score per panel (larger = more unusual), comparable to
        ``metadata["scope"]["novelty"]["threshold"]`` (mlcore.scope). A LookupError for a model
        saved without a fitted scope."""
        if self._novelty is None:
            raise LookupError(f"model {self.version} has no fitted scope (trained before scopes were fitted)")
        return self._novelty.scores(rows)

    def attributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Integrated-gradients contribution of each input field to each class probability."""
        raw = integrated_gradients(self.network, features, self._baseline, temperature=self.temperature)
        return group_attributions(raw, self._groups)

    def explain_features(self, features: np.ndarray, row: dict, *, top: int = 5) -> list[dict]:
        return explain_row(row, self.attributions(features), top=top)
