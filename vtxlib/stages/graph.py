"""The stage graph: every stage, registered once, in dependency order. A new stage is its module
in this package and one line here (docs/architecture.md, "Adding a stage")."""

from __future__ import annotations

from .align import AlignStage
from .asr import AsrStage
from .audio import AudioStage
from .diarize import DiarizeStage
from .emotion import EmotionStage
from .enhance import EnhanceStage
from .language import LanguageStage
from .orchestrator import StageGraph
from .outputs import OutputsStage
from .speech import SpeechStage
from .translate import TranslateStage
from .upload import UploadStage

GRAPH = StageGraph([
    AudioStage(),
    SpeechStage(),
    LanguageStage(),
    AsrStage(),
    DiarizeStage(),
    AlignStage(),
    EmotionStage(),
    EnhanceStage(),
    OutputsStage(),
    TranslateStage(),
    UploadStage(),
])
