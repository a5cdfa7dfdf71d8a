"""The ten notebooks: structure, generator consistency, a headless papermill run of all of them on the
embedded tier (one shared workspace, so each notebook reads the previous one's artifacts), assertions
on what they recorded and wrote, nbval over the executed copies, and no secret in any of them."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from needs import require
from repo_tools import make_notebooks_module  # noqa: E402

nbformat = require("nbformat", extra="notebooks")
papermill = require("papermill", extra="notebooks")

from vtxlib.notebook import recorded  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
EXPECTED = ["00_quickstart", "00_setup_gpu", "01_acquire", "02_transcribe", "03_diarize", "04_align", "05_emotion",
            "06_subtitles", "07_enhance", "08_review", "09_upload"]
FAKE_HF_TOKEN = "hf_FAKEtokenForNotebookTests0123456789"
FAKE_GEMINI_KEY = "AIzaFAKEgeminiKeyForNotebookTests0123456"
VIDEO_ID = "dQw4w9WgXcQ"
# parameters each notebook gets on top of SOURCE and WORKSPACE
EXTRA_PARAMETERS = {"02_transcribe": {"ASR": "whisper-cpu"},  # the embedded tier even where a GPU is
                    "03_diarize": {"DIARIZER": "embedded"},
                    "05_emotion": {"EMOTION": "embedded"},
                    "07_enhance": {"ENHANCE": "auto"},  # no key in the env: must skip cleanly
                    "08_review": {"SPEAKER_NAMES": "SPEAKER_00=Alice"},
                    "09_upload": {"VIDEO_ID": VIDEO_ID, "DRY_RUN": True},
                    "00_quickstart": {"SPEAKER_NAMES": "SPEAKER_00=Alice", "VIDEO_ID": VIDEO_ID, "DRY_RUN": True}}
QUICKSTART = "00_quickstart"  # a runtime of its own, with a workspace of its own


def _sample_wav() -> Path:
    from vtxlib.testing.samples import pyannote_sample

    return pyannote_sample().wav


def _load(name: str):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


# -- structure (fast) -----------------------------------------------------------------------------
def test_notebook_list_is_exactly_the_eleven():
    found = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == EXPECTED, f"notebooks/ must hold exactly the eleven notebooks, found {found}"


def test_notebooks_are_generated_from_their_percent_sources():
    make_notebooks = make_notebooks_module()
    assert [s.stem for s in make_notebooks.sources()] == EXPECTED
    assert make_notebooks.stale_notebooks() == ([], []), "run: python tools/make_notebooks.py"
    assert make_notebooks.main(["--check"]) == 0


def test_drift_check_names_the_notebook_that_differs(tmp_path, capsys):
    make_notebooks = make_notebooks_module()
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for source in [*make_notebooks.sources(), make_notebooks.SOURCE_DIR / make_notebooks.SETUP_FILE]:
        (src / source.name).write_text(source.read_text())
    assert make_notebooks.main(["--src", str(src), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.ipynb")) == [f"{n}.ipynb" for n in EXPECTED]
    assert make_notebooks.main(["--check", "--src", str(src), "--out", str(out)]) == 0
    edited = src / "03_diarize.py"
    edited.write_text(edited.read_text().replace("MAX_SPEAKERS = 0", "MAX_SPEAKERS = 5"))
    (out / "99_extra.ipynb").write_text("{}")
    capsys.readouterr()
    assert make_notebooks.main(["--check", "--src", str(src), "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert "03_diarize.ipynb" in message and "99_extra.ipynb" in message and "04_align" not in message
    setup = src / make_notebooks.SETUP_FILE  # the shared setup cell: every notebook that uses it is stale
    setup.write_text(setup.read_text().replace("VTX_SOURCE = \"\"", "VTX_SOURCE = \"x\""))
    capsys.readouterr()
    assert make_notebooks.main(["--check", "--src", str(src), "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert all(f"{n}.ipynb" in message for n in EXPECTED)


def test_repo_option_writes_a_colab_badge_and_the_default_source(tmp_path, capsys):
    make_notebooks = make_notebooks_module()
    out = tmp_path / "fork"
    assert make_notebooks.main(["--out", str(out), "--repo", "someone/vtx-fork@v1.2"]) == 0
    notebook = nbformat.read(out / "03_diarize.ipynb", as_version=4)
    badge = notebook.cells[0]
    assert badge.cell_type == "markdown" and "colab-badge.svg" in badge.source
    assert ("https://colab.research.google.com/github/someone/vtx-fork/blob/v1.2/notebooks/03_diarize.ipynb"
            in badge.source)
    setup = next(c for c in notebook.cells if c.cell_type == "code").source
    assert 'VTX_SOURCE = "git+https://github.com/someone/vtx-fork@v1.2"  # @param' in setup
    assert make_notebooks.main(["--check", "--out", str(out), "--repo", "someone/vtx-fork@v1.2"]) == 0
    main_branch = nbformat.read(make_notebooks.SOURCE_DIR.parent / "00_quickstart.ipynb", as_version=4)
    assert "colab-badge" not in json.dumps(main_branch)  # the committed notebooks: no public address
    assert make_notebooks.main(["--out", str(out), "--repo", "not a repo"]) == 2
    assert "expected a GitHub repository" in capsys.readouterr().err


def test_generated_notebooks_are_deterministic():
    make_notebooks = make_notebooks_module()
    source = make_notebooks.SOURCE_DIR / "05_emotion.py"
    first, second = make_notebooks.render(source), make_notebooks.render(source)
    assert first == second
    notebook = nbformat.reads(first, as_version=4)
    assert [c.id for c in notebook.cells][:3] == ["05-emotion-00", "05-emotion-01", "05-emotion-02"]
    assert set(notebook.metadata) == {"kernelspec", "language_info", "colab", "accelerator"}
    assert all(set(c.metadata) <= {"tags"} for c in notebook.cells)


def test_every_notebook_has_the_same_setup_cell_and_no_placeholder_repository():
    setups = {name: [c for c in _load(name).cells if c.cell_type == "code"][0].source for name in EXPECTED}
    assert len(set(setups.values())) == 1, "the setup cells differ between notebooks"
    setup = setups["00_setup_gpu"]
    assert 'VTX_SOURCE = ""  # @param' in setup and "setup_runtime(VTX_SOURCE)" in setup
    for path in [*NOTEBOOK_DIR.glob("*.ipynb"), *(NOTEBOOK_DIR / "src").glob("*.py"), ROOT / "README.md",
                 *(ROOT / "docs").glob("*.md"), *(ROOT / "tools").glob("*.py")]:
        assert "OWNER" not in path.read_text(), f"placeholder repository owner in {path}"


def test_setup_cell_without_vtx_source_says_what_to_set(tmp_path):
    """On a fresh runtime (vtxlib not importable, no repository around) the setup cell stops with one
    line naming VTX_SOURCE and what it accepts."""
    setup = [c for c in _load("01_acquire").cells if c.cell_type == "code"][0].source
    script = tmp_path / "setup_cell.py"
    script.write_text(setup)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VTX_SOURCE")}
    # -I -S: no site-packages, so not even an installed vtxlib is found (a bare Colab runtime)
    proc = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: vtxlib is missing: set VTX_SOURCE")
    assert ".whl" in last and ".zip" in last and "git+https://" in last


def _assigned_names(source: str) -> list[str]:
    return [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)]


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_structure(name):
    notebook = _load(name)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    params = tagged[0].source
    assert params.startswith("# @title")
    names = _assigned_names(params)
    assert names and "WORKSPACE" in names
    for line in params.splitlines():
        if "=" in line and not line.startswith("#"):
            assert "# @param" in line, f"parameter without a Colab form field: {line}"
    form = code[code.index(tagged[0]) + 1].source
    assert "widgets.parameter_form(globals()" in form
    assert re.findall(r"^    '(\w+)':", form, re.M)[: len(names)] == names, "widget form and @param fields differ"
    form_choices = dict(re.findall(r"^    '(\w+)': (\[.*?\]|None),", form, re.M)[: len(names)])
    for name, choices in re.findall(r"^(\w+) = .*# @param (\[.*\])", params, re.M):
        assert ast.literal_eval(form_choices[name]) == json.loads(choices), f"{name}: form and @param choices differ"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "notebooks are committed without outputs"
    assert code[-1].source == "nb.finish_runtime()", "every notebook ends by flushing Drive and saying how to release"
    body = "\n".join(c.source for c in code[code.index(tagged[0]) + 2:])
    assert "Pipeline(" not in body and "def " not in body and "class " not in body, "no pipeline logic in notebooks"
    assert "nb." in body
    text = json.dumps(notebook)
    assert not re.search(r"AIza[0-9A-Za-z_-]{20,}|hf_[A-Za-z0-9]{20,}|ya29\.[0-9A-Za-z_-]+", text), "a secret?"


# -- notebook parameters against the pipeline's options -------------------------------------------
def _option_fields(cls) -> set[str]:
    """Field names of a dataclass or a pydantic model."""
    fields = getattr(cls, "model_fields", None)
    if fields is not None:
        return set(fields)
    import dataclasses

    return {f.name for f in dataclasses.fields(cls)}


def _notebook_options() -> dict[str, dict[str, str]]:
    """notebook -> {PipelineOptions field: the parameter passed for it} from its nb.stage_run(...) calls."""
    import inspect

    from vtxlib.notebook import stage_run

    own = set(inspect.signature(stage_run).parameters) - {"options"}
    found = {}
    for name in EXPECTED:
        pairs = {}
        for cell in _load(name).cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "stage_run":
                    pairs.update({kw.arg: kw.value.id for kw in node.keywords
                                  if kw.arg not in own and isinstance(kw.value, ast.Name)})
        found[name] = pairs
    return found


def _form_choices(name: str) -> dict[str, list]:
    params = next(c.source for c in _load(name).cells if "parameters" in c.metadata.get("tags", []))
    return {n: json.loads(c) for n, c in re.findall(r"^(\w+) = .*# @param (\[.*\])", params, re.M)}


def test_every_option_a_notebook_sets_is_a_pipeline_option():
    from vtxlib.notebook import session_options
    from vtxlib.pipeline import PipelineOptions

    fields = _option_fields(PipelineOptions)
    used = {option for pairs in _notebook_options().values() for option in pairs}
    assert used, "no stage_run options found in the notebooks"
    assert used <= fields, f"not PipelineOptions fields: {sorted(used - fields)}"
    assert set(session_options()) <= fields
    missing = set(session_options()) - used
    assert not missing, f"no notebook parameter sets {sorted(missing)}"


def test_choices_offered_by_the_forms_are_exactly_the_backends():
    import typing

    from vtxlib.asr import ASR_BACKENDS
    from vtxlib.diarize import DIARIZERS
    from vtxlib.pipeline import PipelineOptions

    def literal_choices(option):
        return typing.get_args(PipelineOptions.model_fields[option].annotation)

    backends = {o: literal_choices(o) for o in ("asr", "diarizer", "emotion", "enhance", "visible_speaker",
                                                "translator")}
    assert sorted(backends["asr"]) == sorted(ASR_BACKENDS) and sorted(backends["diarizer"]) == sorted(DIARIZERS)
    offered = {}
    for name, pairs in _notebook_options().items():
        choices = _form_choices(name)
        for option, parameter in pairs.items():
            if parameter in choices:
                offered[option] = choices[parameter]
                for value in choices[parameter]:
                    PipelineOptions(**{option: value})  # raises on a name the pipeline does not know
    assert set(offered) == set(backends)
    for option, values in offered.items():
        assert sorted(values) == sorted(backends[option]), f"{option}: the form offers {values}"


def test_batch_runner_maps_every_option_parameter():
    from vtxlib.batch import notebook_parameter
    from vtxlib.pipeline import option_names

    pairs = {o: p for nb_pairs in _notebook_options().values() for o, p in nb_pairs.items()}
    # the batch runner passes each CLI option on as the parameter named notebook_parameter(option)
    wrong = {o: p for o, p in pairs.items() if notebook_parameter(o) != p}
    assert not wrong, f"notebook parameters the batch runner would not set: {wrong}"
    assert set(option_names("notebook")) <= set(pairs)


def test_widget_form_feeds_the_same_variables():
    require("ipywidgets", extra="notebooks")
    from vtxlib.widgets import parameter_form

    namespace = {"ASR": "auto", "NUM_SPEAKERS": 0, "USE_DRIVE": True, "SOURCE": "", "MIN_FREE_GB": 1.0}
    form = parameter_form(namespace, {"ASR": ["auto", "whisper-cpu", "nemo"], "NUM_SPEAKERS": None,
                                      "USE_DRIVE": None, "SOURCE": None, "MIN_FREE_GB": None}, show=False)
    kinds = {n: type(w).__name__ for n, w in form.widgets.items()}
    assert kinds == {"ASR": "Dropdown", "NUM_SPEAKERS": "IntText", "USE_DRIVE": "Checkbox", "SOURCE": "Text",
                     "MIN_FREE_GB": "FloatText"}
    form.widgets["ASR"].value = "whisper-cpu"
    form.widgets["NUM_SPEAKERS"].value = 3
    form.widgets["USE_DRIVE"].value = False
    form.widgets["SOURCE"].value = "https://example.org/v.mp4"
    assert namespace["ASR"] == "whisper-cpu" and namespace["NUM_SPEAKERS"] == 3
    assert namespace["USE_DRIVE"] is False and namespace["SOURCE"] == "https://example.org/v.mp4"
    with pytest.raises(KeyError):
        parameter_form(namespace, {"MISSING": None}, show=False)


# -- headless run of all ten --------------------------------------------------------------------------
def _set_env(values: dict) -> dict:
    previous = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return previous


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """All ten notebooks executed in order on one shared workspace: 00 in its own kernel (it alone
    sees a fake GEMINI_API_KEY), 01-09 in one kernel as a batch run does, so models load once.
    nbval below reruns each executed copy in a fresh kernel: every notebook also runs alone."""
    from vtxlib.batch import NotebookKernel

    root = tmp_path_factory.mktemp("notebooks")
    workspace, out = root / "workspace", root / "executed"
    out.mkdir()
    sample = _sample_wav()
    base_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                "VTX_WORKSPACE": None, "HF_TOKEN": FAKE_HF_TOKEN, "GEMINI_API_KEY": None,
                "GOOGLE_API_KEY": None, "OMP_NUM_THREADS": "1"}
    saved = _set_env(base_env)
    seconds = {}
    shared = NotebookKernel("batch", "python3")
    try:
        for name in EXPECTED:
            setup = name == "00_setup_gpu"
            alone = setup or name == QUICKSTART
            before = _set_env({"GEMINI_API_KEY": FAKE_GEMINI_KEY if setup else None})
            started = time.perf_counter()
            try:
                papermill.execute_notebook(
                    str(NOTEBOOK_DIR / f"{name}.ipynb"), str(out / f"{name}.ipynb"),
                    parameters={**({} if setup else {"SOURCE": str(sample)}),
                                "WORKSPACE": str(root / "quickstart-workspace" if name == QUICKSTART else workspace),
                                **EXTRA_PARAMETERS.get(name, {})},
                    kernel_name="python3", cwd=str(NOTEBOOK_DIR), progress_bar=False, log_output=False,
                    execution_timeout=300,
                    **({} if alone else shared.engine_kwargs()))
            finally:
                _set_env(before)
            seconds[name] = round(time.perf_counter() - started, 1)
    finally:
        shared.shutdown()
        _set_env(saved)
    print("notebook seconds:", seconds)
    notebooks = {name: nbformat.read(out / f"{name}.ipynb", as_version=4) for name in EXPECTED}
    return {"dir": out, "workspace": workspace, "notebooks": notebooks,
            "records": {n: recorded(nb) for n, nb in notebooks.items()}, "seconds": seconds}


def _outputs_of(notebook, mime: str) -> list:
    return [o for c in notebook.cells for o in c.get("outputs", []) if mime in o.get("data", {})]


@pytest.mark.notebooks
def test_every_notebook_recorded_its_result(executed):
    records = executed["records"]
    assert sorted(records) == EXPECTED
    for name, values in records.items():
        assert values.get("notebook") == name, f"{name} recorded nothing"
        errors = [o for c in executed["notebooks"][name].cells for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors


@pytest.mark.notebooks
def test_setup_notebook_reports_environment_and_secret_presence(executed):
    setup = executed["records"]["00_setup_gpu"]
    from vtxlib.gpu import cuda_available

    assert setup["tier"] == ("gpu" if cuda_available() else "embedded-cpu")
    assert setup["colab"] is False and setup["installed"] is False
    assert Path(setup["workspace"]) == executed["workspace"].resolve()
    assert setup["secrets"]["HF_TOKEN"] is True and setup["secrets"]["GEMINI_API_KEY"] is True
    assert setup["secrets"]["youtube_client_secrets"] is False


@pytest.mark.notebooks
def test_stage_notebooks_chain_through_the_workspace(executed):
    r = executed["records"]
    media_id = r["01_acquire"]["media_id"]
    assert all(r[n]["media_id"] == media_id for n in EXPECTED[2:]), "every notebook works on the same media"
    assert r["01_acquire"]["duration"] == pytest.approx(30.0, abs=0.1)
    words = r["02_transcribe"]["words"]
    assert words >= 50 and r["02_transcribe"]["backend"] == "whisper-cpu"
    # 02 shows how the language was found (the English sample: detected, no warning line)
    language = [o for o in _outputs_of(executed["notebooks"]["02_transcribe"], "text/html")
                if "spoken language" in "".join(o["data"]["text/html"])]
    assert language and "en (detected, p " in "".join(language[0]["data"]["text/html"])
    assert r["03_diarize"]["speakers"] == 2 and r["03_diarize"]["backend"].startswith("embedded")
    assert r["05_emotion"]["backend"].startswith("embedded")
    assert r["04_align"]["words"] == words and r["04_align"]["speakers"] == 2
    assert sum(r["05_emotion"]["emotions"].values()) == r["04_align"]["turns"]
    assert r["05_emotion"]["labelled_turns"] == r["04_align"]["turns"]
    for name in ("04_align", "05_emotion", "08_review"):  # plots rendered inline
        assert _outputs_of(executed["notebooks"][name], "image/png") or \
            _outputs_of(executed["notebooks"][name], "application/vnd.jupyter.widget-view+json")
    assert _outputs_of(executed["notebooks"]["04_align"], "image/png")
    assert len(_outputs_of(executed["notebooks"]["05_emotion"], "image/png")) == 2
    # 08: the report's interactive figure, with a static picture for saved/exported notebooks
    figure = [o for o in _outputs_of(executed["notebooks"]["08_review"], "text/html")
              if "vtx-svg" in "".join(o["data"]["text/html"])]
    assert figure and "image/png" in figure[0]["data"]
    # the ASR artifact was computed once (02) and reused by every later notebook
    asr_artifacts = list((executed["workspace"] / "media" / media_id / "asr").glob("*.json"))
    assert len(asr_artifacts) == 1


@pytest.mark.notebooks
def test_quickstart_gives_captions_in_one_pass(executed):
    r = executed["records"][QUICKSTART]
    assert {"transcript.vtt", "transcript.srt", "transcript.json", "report.html"} <= set(r["files"])
    folder = Path(r["output_dir"])
    assert folder.is_relative_to(executed["dir"].parent / "quickstart-workspace")  # its own runtime and workspace
    vtt = (folder / "transcript.vtt").read_text()
    assert vtt.startswith("WEBVTT") and re.search(r"<v(\.\w+)* Alice>", vtt)
    assert r["speakers"] == 2 and r["words"] >= 50 and r["enhanced"] is False
    assert r["speaker_names"] == {"SPEAKER_00": "Alice"}
    assert r["upload"]["dry_run"] is True and r["upload"]["video_id"] == VIDEO_ID
    language = [o for o in _outputs_of(executed["notebooks"][QUICKSTART], "text/html")
                if "spoken language" in "".join(o["data"]["text/html"])]
    assert language and "en (detected, p " in "".join(language[0]["data"]["text/html"])  # LANGUAGE empty: identified


@pytest.mark.notebooks
def test_subtitle_files_written(executed):
    import webvtt

    r = executed["records"]["06_subtitles"]
    expected = {"transcript.vtt", "transcript.srt", "transcript.json", "report.html"}
    assert expected <= set(r["files"])
    folder = Path(r["output_dir"])
    assert all((folder / name).is_file() for name in r["files"])
    vtt = (folder / "transcript.vtt").read_text()
    assert vtt.startswith("WEBVTT") and re.search(r"<v(\.\w+)* SPEAKER_0[01]>", vtt)
    document = json.loads((folder / "transcript.json").read_text())
    assert len(document["speakers"]) == 2 == r["speakers"]
    names = {document["speaker_names"].get(s, s) for s in document["speakers"]}  # 08 renames one later
    cues = [c.text.split(": ", 1) for c in webvtt.from_srt(str(folder / "transcript.srt"))]
    assert {name for name, _ in cues} == names
    spoken = [text for _, text in cues if text != "(overlapping speech)"]
    assert sum(len(text.split()) for text in spoken) == sum(len(t["words"]) for t in document["turns"])
    report = (folder / "report.html").read_text()
    assert all(name in report for name in names)


@pytest.mark.notebooks
def test_enhance_skips_cleanly_without_a_key(executed):
    r = executed["records"]["07_enhance"]
    assert r["key_set"] is False and r["enhanced"] is False
    assert r["words"] == executed["records"]["02_transcribe"]["words"]


@pytest.mark.notebooks
def test_review_renames_speakers_everywhere(executed):
    r = executed["records"]["08_review"]
    assert r["speaker_names"] == {"SPEAKER_00": "Alice"}
    folder = Path(executed["records"]["06_subtitles"]["output_dir"])
    assert re.search(r"<v(\.\w+)* Alice>", (folder / "transcript.vtt").read_text())
    assert "Alice" in Path(r["report"]).read_text()
    assert json.loads((folder / "transcript.json").read_text())["speaker_names"] == {"SPEAKER_00": "Alice"}


@pytest.mark.notebooks
def test_saved_notebooks_read_as_documents(executed):
    """Once saved: no INFO lines on stderr, no progress widgets (dead once the kernel is gone), one
    progress summary per stage run, and links that carry their file (no path relative to the kernel)."""
    for name, notebook in executed["notebooks"].items():
        outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
        stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
        assert not re.search(r"^INFO ", stderr, re.M), f"{name}: {stderr[:300]}"
        working = [o for c in notebook.cells if "parameter_form(" not in c.source  # the form is meant to be live
                   for o in c.get("outputs", [])]
        assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in working), name
        for page in (o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})):
            page = "".join(page) if isinstance(page, list) else page
            hrefs = re.findall(r'<a [^>]*href="([^"]*)"', page)
            assert all(h.startswith(("data:", "http://", "https://", "#")) for h in hrefs), (name, hrefs)
    subtitles = executed["notebooks"]["06_subtitles"]
    texts = ["".join(o.get("data", {}).get("text/plain", "")) for c in subtitles.cells for o in c.get("outputs", [])]
    summaries = [t for t in texts if "cached: " in t]
    assert len(summaries) == 1 and re.search(r"(^| · )subtitles [\d.]+ s · ", summaries[0]), summaries  # one line
    links = [h for c in subtitles.cells for o in c.get("outputs", [])
             for h in re.findall(r'<a download="transcript\.vtt" href="data:text/vtt;base64,([^"]+)"',
                                 "".join(o.get("data", {}).get("text/html", "")))]
    folder = Path(executed["records"]["06_subtitles"]["output_dir"])
    assert len(links) == 1
    carried = __import__("base64").b64decode(links[0]).decode("utf-8")  # the file as 06 wrote it (08 renames later)
    on_disk = (folder / "transcript.vtt").read_text(encoding="utf-8")
    assert carried.startswith("WEBVTT") and carried.count(" --> ") == on_disk.count(" --> ") > 5


@pytest.mark.notebooks
def test_review_runs_the_subtitles_once_and_its_figure_plays(executed):
    source = (NOTEBOOK_DIR / "src" / "08_review.py").read_text()
    assert source.count('stage_run("subtitles"') == 1
    review = executed["notebooks"]["08_review"]
    pages = ["".join(o["data"]["text/html"]) for c in review.cells for o in c.get("outputs", [])
             if "text/html" in o.get("data", {})]
    figure = next(p for p in pages if "vtx-tl" in p)
    assert '<audio class="vtx-audio"' in figure and "click to play from there" in figure


@pytest.mark.notebooks
def test_upload_dry_run_writes_the_request(executed):
    r = executed["records"]["09_upload"]
    assert r["dry_run"] is True and r["video_id"] == VIDEO_ID and r["action"] in ("insert", "update")
    request = json.loads(Path(r["request_path"]).read_text())
    assert request["body"]["snippet"]["videoId"] == VIDEO_ID
    assert request["media"]["path"].endswith("transcript.vtt")


@pytest.mark.notebooks
def test_no_secret_in_any_notebook_or_output(executed):
    for path in sorted(executed["dir"].glob("*.ipynb")) + sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        text = path.read_text()
        assert FAKE_HF_TOKEN not in text and FAKE_GEMINI_KEY not in text, path.name
    for path in executed["workspace"].rglob("*"):
        if path.is_file() and path.suffix in (".json", ".vtt", ".srt", ".txt", ".html"):
            text = path.read_text(errors="ignore")
            assert FAKE_HF_TOKEN not in text and FAKE_GEMINI_KEY not in text, path


@pytest.mark.notebooks
def test_nbval_over_the_executed_notebooks(executed):
    """nbval re-executes each executed copy; with --nbval-lax only cells marked NBVAL_CHECK_OUTPUT
    (deterministic facts) are compared with what papermill recorded; every cell must run."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    env.pop("VTX_WORKSPACE", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", "--rootdir", str(executed["dir"]), str(executed["dir"])],
                          capture_output=True, text=True, cwd=executed["dir"], env=env, timeout=600)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    code_cells = sum(1 for nb in executed["notebooks"].values() for c in nb.cells if c.cell_type == "code")
    assert passed == code_cells, summary
    checked = sum("NBVAL_CHECK_OUTPUT" in c.source for nb in executed["notebooks"].values() for c in nb.cells)
    assert checked == len(EXPECTED)


# -- helpers the notebooks call ---------------------------------------------------------------------
def test_drive_mount_failure_and_full_disk_give_clear_messages(tmp_path):
    from vtxlib.errors import InputError
    from vtxlib.notebook import DriveUnavailable, check_free_space, mount_drive

    def refuse(mount_point):
        raise ValueError("mount failed: credential propagation was unsuccessful")

    with pytest.raises(DriveUnavailable, match="could not be mounted.*USE_DRIVE"):
        mount_drive(str(tmp_path / "drive"), mount=refuse)
    with pytest.raises(InputError, match="GB free.*WORKSPACE"):
        check_free_space(tmp_path, min_free_gb=1e9)
    assert check_free_space(tmp_path, min_free_gb=0.0) > 0


def test_form_values_and_speaker_names_are_parsed():
    from vtxlib.errors import InputError
    from vtxlib.notebook import normalise_option, parse_speaker_names

    assert normalise_option("num_speakers", 0) is None and normalise_option("num_speakers", 3) == 3
    assert normalise_option("asr_model", "  ") is None and normalise_option("asr", "nemo") == "nemo"
    assert parse_speaker_names("SPEAKER_00=Alice; SPEAKER_01 = Bob Smith\n") == {
        "SPEAKER_00": "Alice", "SPEAKER_01": "Bob Smith"}
    assert parse_speaker_names("") == {}
    with pytest.raises(InputError, match="SPEAKER_00=Name"):
        parse_speaker_names("Alice")


def test_secret_status_never_returns_values(tmp_path, monkeypatch):
    from vtxlib.notebook import secret_status
    from vtxlib.workspace import Workspace

    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    status = secret_status(Workspace(tmp_path))
    assert status == {"HF_TOKEN": True, "GEMINI_API_KEY": False}


def test_cookies_given_once_are_kept_with_the_secrets(tmp_path):
    from vtxlib.errors import InputError
    from vtxlib.notebook import store_cookies
    from vtxlib.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    uploaded = tmp_path / "cookies-export.txt"
    uploaded.write_text("# Netscape HTTP Cookie File\n")
    kept = store_cookies(ws, str(uploaded))
    assert kept == ws.secrets_dir / "cookies.txt" and kept.read_text() == uploaded.read_text()
    assert kept.stat().st_mode & 0o777 == 0o600
    assert store_cookies(ws, str(kept)) == kept  # already there: nothing to copy
    with pytest.raises(InputError, match="COOKIES: .* not found"):
        store_cookies(ws, str(tmp_path / "nowhere.txt"))
