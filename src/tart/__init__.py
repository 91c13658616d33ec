"""tart: few-shot classification on any pre-trained model with TART's reasoning module."""

from tart.classifier import TartClassifier
from tart.pretrained import load_reasoner
from tart.reasoner import PRESETS, Reasoner, ReasonerConfig, preset
from tart.synthetic import Curriculum, LogisticPrior

__all__ = [
    "PRESETS", "Curriculum", "LogisticPrior", "Reasoner", "ReasonerConfig", "TartClassifier", "load_reasoner",
    "preset",
]
__version__ = "0.1.0"
