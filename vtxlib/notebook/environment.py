"""Where a notebook runs: Colab or local Python, which GPU, which tier of backends."""

from __future__ import annotations

import platform
import shutil
import subprocess
from typing import Literal, Optional

from ..colab_install import in_colab
from ..types import VtxModel


class EnvironmentInfo(VtxModel):
    colab: bool
    gpu: Optional[str]
    cuda: bool
    python: str
    system: str
    tier: Literal["gpu", "embedded-cpu"]

    def describe(self) -> str:
        where = "Google Colab" if self.colab else "local Python"
        device = f"GPU {self.gpu}" if self.gpu else "no GPU"
        tier = ("GPU tier (NeMo / pyannote / SpeechBrain when installed)" if self.tier == "gpu"
                else "embedded CPU tier (faster-whisper tiny.en, pyannote segmentation-3.0 + CAM++)")
        return f"{where}, Python {self.python} on {self.system}, {device}: {tier}"


def detect_environment() -> EnvironmentInfo:
    from ..gpu import cuda_available

    gpu = _nvidia_gpu_name()
    cuda = cuda_available()
    return EnvironmentInfo(colab=in_colab(), gpu=gpu, cuda=cuda, python=platform.python_version(),
                           system=f"{platform.system()} {platform.machine()}",
                           tier="gpu" if cuda else "embedded-cpu")


def _nvidia_gpu_name() -> Optional[str]:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return ", ".join(names) or None
