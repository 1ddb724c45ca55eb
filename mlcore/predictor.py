"""Fast prediction from a saved model directory with numpy only (no TensorFlow, no Keras)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlcore import calibration
from mlcore.explain import explain_row, group_attributions, integrated_gradients
from mlcore.network import WEIGHTS_FILE, NumpyNetwork
from mlcore.preprocessing import Preprocessor
from mlcore.schema import CLASSES
from mlcore.scope import NoveltyScorer

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"


@dataclass
class PredictionResult:
    """One scored panel: class, calibrated probabilities, uncertainty flag and explanation."""

    predicted_class: str
    probabilities: dict[str, float]
    uncertain: bool
    explanation: list[dict] = field(default_factory=list)

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
        self.uncertain_threshold: float = float(metadata["uncertain_threshold"])
        self._groups = preprocessor.feature_groups
        self._baseline = preprocessor.transform([metadata["explanation_baseline"]])[0]
        novelty = metadata.get("scope", {}).get("novelty")
        self._novelty = NoveltyScorer(novelty) if novelty and novelty.get("threshold") is not None else None

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

    def predict(self, rows, *, explain: bool = True) -> list[PredictionResult]:
        """Class (by the tuned decision rule), calibrated probabilities, uncertain flag and, unless
        ``explain=False``, the top inputs behind each prediction (empty when the panel is close to
        the typical normal reference panel)."""
        features = self.preprocessor.transform(rows)
        probabilities = calibration.apply_temperature(self.network.probabilities(features), self.temperature)
        decided = self.decide(probabilities)
        if explain:
            records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
        results = []
        for i in range(len(features)):
            explanation = self.explain_features(features[i], records[i]) if explain else []
            results.append(
                PredictionResult(
                    predicted_class=CLASSES[decided[i]],
                    probabilities={c: float(p) for c, p in zip(CLASSES, probabilities[i], strict=True)},
                    uncertain=bool(probabilities[i].max() < self.uncertain_threshold),
                    explanation=explanation,
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
