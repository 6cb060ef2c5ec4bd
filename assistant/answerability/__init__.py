"""Deciding whether the evidence answers a question, before anything is written.

Judgements, combined:
  * general evidence checks (`checks.py`): an answer of the asked kind (a figure, a date, a
    duration, a frequency) must be in the evidence next to the question's most specific terms, and
    what the question itself names (an identifier, a figure, a quoted title) must be named by a
    passage. They run whatever answers;
  * a calibrated judgement of the evidence: the best passage's and sentence's retrieval scores
    and the largest share of what the question is about one stretch of the evidence names
    (`Evidence.coverage`), combined by a logistic fit per language on the dev set's tune half
    (`python benchmarks/answers.py --llm extractive --calibrate-judge`); when a model answers, its
    probability that the evidence states the answer (yes vs no on the first token) joins them,
    fitted for that model (`--llm local --calibrate-judge`); and, for a question asking only for a
    figure or a date, whether the model finds that value when asked to copy it out of the
    evidence (a typed question is easier for a small model than yes/no).
A report's own list of what a list question asks for (an outline) counts as an answer. Below a
calibrated retrieval score the answer is still given, with a weak-evidence notice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answerability.checks import ALL_CHECKS, DEFAULT_CHECKS, Check
from assistant.atomic import write_atomic
from assistant.lazy import once
from assistant.messages import message
from assistant.types import Evidence, Lang

# Best-passage scores below which an answer carries the weak-evidence notice, measured with
# `python benchmarks/answers.py --calibrate` for the default embedder and reranker. Other set-ups
# start with the notice off until calibrated (settings caution_below_zh / caution_below_en).
CALIBRATED_CAUTION: dict[tuple[str, str], dict[str, float]] = {
    ("multilingual-e5-small-q4", "maxsim"): {"zh": 0.92, "en": 0.86},
}
# The judgement of the evidence (with the model's, when one answers), fitted per language on the dev
# set's tune half for an answerer ("extractive" or a model), embedder and reranker (`python
# benchmarks/answers.py --llm extractive|local --calibrate-judge`); an uncalibrated model refuses
# below P(answerable) = 0.5, an uncalibrated set-up without a model has only the checks
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "judge_calibration.json"
DEFAULT_JUDGE_THRESHOLD = 0.5


def calibration_key(model: str, embedder_id: str, reranker: str) -> str:
    return f"{model.removeprefix('local:')}|{embedder_id.rsplit('/', 1)[-1]}|{reranker}"


@once
def _calibrations() -> dict[str, Any]:
    if not CALIBRATION_FILE.is_file():
        return {}
    data: dict[str, Any] = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return data


def write_calibration(key: str, fitted: dict[str, Any]) -> None:
    data = dict(_calibrations())
    data[key] = fitted
    write_atomic(CALIBRATION_FILE, json.dumps(data, indent=1, sort_keys=True) + "\n")


# what a judgement fitted before the evidence's coverage was measured reads
_FIRST_FEATURES = ("judge", "top", "best")


def judgement_features(probability: float | None, evidence: Evidence) -> dict[str, float]:
    """What the combined judgement reads: the log-odds of the model's P(answerable) (when a model
    judged), the best passage's retrieval score, the best evidence sentence's score, and the
    largest share of what the question is about one stretch of the evidence names."""
    top = evidence.passages[0].score if evidence.passages else 0.0
    features = {"top": float(top), "best": float(max((s.score for s in evidence.scored), default=0.0)),
                "coverage": float(evidence.coverage)}
    if probability is not None:
        p = min(max(probability, 1e-4), 1 - 1e-4)
        features["judge"] = math.log(p / (1 - p))
    return features


def reads(model: dict[str, Any]) -> tuple[str, ...]:
    """The features a fitted judgement reads, in its weights' order."""
    return tuple(model.get("features", _FIRST_FEATURES))


def combined_score(model: dict[str, Any], features: dict[str, float]) -> float:
    values = [features[name] for name in reads(model)]
    z = [(f - m) / s for f, m, s in zip(values, model["mean"], model["scale"], strict=True)]
    return float(sum(w * v for w, v in zip(model["weights"], z, strict=True)) + model["bias"])


def caution_thresholds(embedder_id: str, reranker: str, zh: float | None, en: float | None) -> dict[str, float]:
    """The thresholds in force: set ones as they are, unset ones from CALIBRATED_CAUTION when
    this embedder and reranker were calibrated, otherwise 0 (no notice)."""
    model = embedder_id.rsplit("/", 1)[-1]
    calibrated = CALIBRATED_CAUTION.get((model, reranker), {})
    return {"zh": calibrated.get("zh", 0.0) if zh is None else zh,
            "en": calibrated.get("en", 0.0) if en is None else en}


def judge_calibration(key: str) -> dict[str, Any]:
    """The fitted judgement per language for this model, embedder and reranker ({} if none)."""
    found: dict[str, Any] = _calibrations().get(key, {})
    return found


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    reason: str  # "" when answerable; otherwise what was missing, for logs and evaluators (no question text)
    weak: bool = False  # answerable, but the best passage scores below the caution threshold
    missing: str = ""  # refused: which judgement ("identifier", "quantity", "date", "model", …)
    detail: str = ""  # … and what it lacked (the identifiers not found)
    probability: float | None = None  # the model's P(answerable), when it was asked

    def explanation(self, lang: Lang) -> str:
        """Why the question was refused, in one line of the question's language ("" if it was not)."""
        if self.answerable or not self.missing:
            return ""
        return message(f"why_{self.missing}", lang, detail=self.detail)


class AnswerabilityJudge:
    def __init__(self, checks: Sequence[Check], caution: dict[str, float], min_score: dict[str, float]) -> None:
        self.checks = list(checks)
        self.caution = caution
        self.min_score = min_score

    @classmethod
    def default(cls, caution: dict[str, float], min_score: dict[str, float],
                names: Sequence[str] = DEFAULT_CHECKS) -> AnswerabilityJudge:
        unknown = [n for n in names if n not in ALL_CHECKS]
        if unknown:
            raise ValueError(f"unknown answerability check(s) {', '.join(unknown)}: "
                             f"choose from {', '.join(ALL_CHECKS)}")
        return cls([ALL_CHECKS[n] for n in names], caution, min_score)

    def check(self, evidence: Evidence) -> Verdict:
        """The general checks (no model)."""
        query = evidence.query
        if not evidence.passages:
            return Verdict(False, "no passages", missing="passages")
        if evidence.outline:
            return self._caution(evidence)
        threshold = self.min_score.get(query.lang, 0.0)
        if evidence.passages[0].score < threshold:
            return Verdict(False, f"best passage score {evidence.passages[0].score:.3f} < {threshold:.3f}",
                           missing="score")
        for check in self.checks:
            if check.applies(query) and not check.supported(query, evidence):
                return Verdict(False, f"{check.name} check: no answer of the asked kind near the question's terms",
                               missing=check.name, detail=check.detail(query, evidence))
        return self._caution(evidence)

    def with_judgement(self, verdict: Verdict, probability: float | None, evidence: Evidence,
                       calibration: dict[str, Any], fixed: float | None) -> Verdict:
        """A verdict the checks passed, with the calibrated judgement added: the model's
        P(answerable) combined with the retrieval scores and the evidence's coverage of the
        question where calibrated for this model (or, with no model, those figures alone where
        calibrated for quoting answers); else the model's P(answerable) against `fixed` (or 0.5)."""
        if not verdict.answerable:
            return verdict
        model = calibration.get(evidence.query.lang)
        features = judgement_features(probability, evidence)
        if model is not None and (fixed is None or probability is None) and all(f in features for f in reads(model)):
            score = combined_score(model, features)
            refuse, why = score < model["threshold"], f"judgement {score:.2f} < {model['threshold']:.2f}"
        elif probability is not None:
            threshold = DEFAULT_JUDGE_THRESHOLD if fixed is None else fixed
            refuse, why = probability < threshold, f"model P(answerable) {probability:.2f} < {threshold:.2f}"
        else:
            return verdict
        if refuse:
            return Verdict(False, why, missing="model" if probability is not None else "evidence",
                           probability=probability)
        return Verdict(True, verdict.reason, verdict.weak, probability=probability)

    def with_found_value(self, verdict: Verdict, found: bool | None, evidence: Evidence) -> Verdict:
        """A verdict with the model's search for the asked value added: a quantity or date question
        whose figure or date the model, asked to copy it out of the evidence, finds none of is refused
        as that kind's check would refuse it. Measured on the dev halves with the bundled model
        (`python benchmarks/answers.py --llm local --sets tune,check`, see the README): it refuses
        unanswerable questions the yes/no judgement lets through in both halves."""
        if found is not False or not verdict.answerable:
            return verdict
        kind = evidence.query.kind.value
        return Verdict(False, f"the model found no {kind} in the evidence", missing=kind,
                       probability=verdict.probability)

    def _caution(self, evidence: Evidence) -> Verdict:
        caution = self.caution.get(evidence.query.lang, 0.0)
        score = evidence.passages[0].score
        if score < caution:
            return Verdict(True, f"best passage score {score:.3f} < {caution:.3f}", weak=True)
        return Verdict(True, "")


__all__ = ["AnswerabilityJudge", "Verdict", "calibration_key", "caution_thresholds", "combined_score",
           "judge_calibration", "judgement_features", "write_calibration"]
