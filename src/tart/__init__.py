"""tart: few-shot classification on any pre-trained model with TART's reasoning module."""

from tart.classifier import TartClassifier
from tart.priors_tart import Curriculum, LogisticPrior
from tart.priors_tart2 import MixturePrior, SetCurriculum
from tart.reasoner import TART_PRESETS, Reasoner, ReasonerConfig, tart_preset
from tart.set_reasoner import TART2_PRESETS, SetReasoner, SetReasonerConfig, tart2_preset
from tart.weights import load_reasoner

__all__ = [
    "TART2_PRESETS", "TART_PRESETS", "Curriculum", "LogisticPrior", "MixturePrior", "Reasoner", "ReasonerConfig",
    "SetCurriculum", "SetReasoner", "SetReasonerConfig", "TartClassifier", "load_reasoner", "tart2_preset",
    "tart_preset",
]
__version__ = "0.1.0"
