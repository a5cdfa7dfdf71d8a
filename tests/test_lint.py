"""ruff (ruff.toml: pycodestyle errors, pyflakes incl. unused imports, import order) over the code.

Files that had findings when the linter was introduced are listed in ``NOT_YET_CLEAN``: every other
file must be clean, and a listed file that has become clean must leave the list, so it only
shrinks. Emptying it: ``ruff check --fix vtxlib tests bench tools`` (import order, unused imports),
then the long lines and undefined names by hand.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("vtxlib", "tests", "bench", "tools")

NOT_YET_CLEAN = frozenset({
    "bench/batch_ray.py",
    "bench/colab_wheel_cache.py",
    "bench/diarization.py",
    "bench/gpu_smoke.py",
    "bench/report_open.py",
    "bench/run.py",
    "bench/serialization.py",
    "bench/service_load.py",
    "bench/speech.py",
    "bench/voices.py",
    "tests/test_align.py",
    "tests/test_asr_nemo.py",
    "tests/test_asr_whisper.py",
    "tests/test_colab_install.py",
    "tests/test_colab_lock.py",
    "tests/test_diarize_pyannote.py",
    "tests/test_diarize_sortformer.py",
    "tests/test_emotion.py",
    "tests/test_enhance.py",
    "tests/test_gpu_runtime.py",
    "tests/test_live.py",
    "tests/test_netguard.py",
    "tests/test_pipeline_resume.py",
    "tests/test_plots.py",
    "tests/test_report.py",
    "tests/test_schema.py",
    "tests/test_service.py",
    "tests/test_subtitles.py",
    "tests/test_voices.py",
    "tests/test_youtube.py",
    "vtxlib/acquire.py",
    "vtxlib/align.py",
    "vtxlib/asr/whisper_cpu.py",
    "vtxlib/cli.py",
    "vtxlib/emotion/embedded.py",
    "vtxlib/enhance.py",
    "vtxlib/live/__init__.py",
    "vtxlib/live/session.py",
    "vtxlib/live/speakers.py",
    "vtxlib/live/transcriber.py",
    "vtxlib/live/widget.py",
    "vtxlib/notebook.py",
    "vtxlib/pipeline.py",
    "vtxlib/plots.py",
    "vtxlib/report.py",
    "vtxlib/service.py",
    "vtxlib/subtitles.py",
    "vtxlib/testing/enroll.py",
    "vtxlib/testing/samples.py",
    "vtxlib/testing/synth.py",
    "vtxlib/timeline.py",
    "vtxlib/types.py",
    "vtxlib/versions.py",
    "vtxlib/youtube.py",
})


@pytest.fixture(scope="module")
def findings() -> dict[str, list[str]]:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "json", "--no-cache", *PATHS],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        pytest.fail(f"ruff did not run (exit {proc.returncode}): {proc.stderr.strip()[:300]} "
                    f"(pip install 'vtxlib[dev]')")
    by_file: dict[str, list[str]] = {}
    for item in json.loads(proc.stdout or "[]"):
        name = Path(item["filename"]).resolve().relative_to(ROOT).as_posix()
        by_file.setdefault(name, []).append(f"{name}:{item['location']['row']}: {item['code']} {item['message']}")
    return by_file


def test_ruff_finds_nothing_outside_the_shrinking_list(findings):
    new = [line for name, lines in sorted(findings.items()) if name not in NOT_YET_CLEAN for line in lines]
    assert not new, "ruff findings (run `ruff check --fix vtxlib tests bench tools`):\n" + "\n".join(new)


def test_files_that_became_clean_leave_the_list(findings):
    clean = sorted(name for name in NOT_YET_CLEAN if name not in findings)
    assert not clean, f"remove from NOT_YET_CLEAN in tests/test_lint.py: {clean}"
    assert all((ROOT / name).is_file() for name in NOT_YET_CLEAN)
