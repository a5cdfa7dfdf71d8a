"""Output cells: Markdown, HTML tables, figures, file lists and the machine-readable record.

Values recorded with :func:`record` are displayed under the ``application/vnd.vtx.record+json``
MIME type; the batch runner and the tests read them back from the executed notebooks
(:func:`recorded`). Outside IPython everything goes to the log instead.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from ..colab_install import in_colab

log = logging.getLogger("vtxlib.notebook")

RECORD_MIME = "application/vnd.vtx.record+json"
DOWNLOAD_LINK_MAX_BYTES = 1_000_000  # show_outputs puts smaller files in the notebook as download links


def _display(obj: Any, raw: bool = False) -> None:
    try:
        from IPython.display import display
    except ImportError:  # plain Python: nothing to render into
        log.info("%s", obj)
        return
    display(obj, raw=raw)


def show_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown
    except ImportError:
        log.info("%s", text)
        return
    _display(Markdown(text))


def show_table(columns: list[str], rows: list[tuple], caption: str = "") -> None:
    """A small HTML table (every cell escaped) with a plain-text fallback."""
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(v))}</td>" for v in row)
                   + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    plain = "\n".join(["  ".join(map(str, columns))] + ["  ".join(map(str, r)) for r in rows])
    _display({"text/html": f"<table>{cap}<tr>{head}</tr>{body}</table>", "text/plain": plain}, raw=True)


def show_figure(fig: Any) -> None:
    """Show a matplotlib or plotly figure inline (and release a matplotlib one)."""
    if not type(fig).__module__.startswith("matplotlib"):
        _display(fig)
        return
    from ..plots import figure_png

    try:
        from IPython.display import Image
    except ImportError:
        return
    # rendered here rather than through the inline backend, which a pyplot-free Figure never reaches
    _display(Image(data=figure_png(fig), format="png"))


def record(**values: Any) -> None:
    """Display VALUES as this notebook's machine-readable result (read by the batch runner and tests)."""
    data = json.loads(json.dumps(values, default=_jsonable))
    _display({RECORD_MIME: data, "text/plain": json.dumps(data, indent=1, sort_keys=True)}, raw=True)


def _jsonable(value: Any) -> Any:
    """Models (an UploadResult, a Document's parts) are recorded as their JSON; anything else as text."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)


def recorded(notebook) -> dict:
    """Everything :func:`record` displayed in an executed notebook (an nbformat node), merged in order."""
    values: dict = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
            if RECORD_MIME in data:
                values.update(data[RECORD_MIME])
    return values


def show_cues(vtt_path: Path | str, limit: int = 8) -> None:
    """The first cues of a WebVTT file as text."""
    blocks = Path(vtt_path).read_text(encoding="utf-8").strip().split("\n\n")
    preview = "\n\n".join(blocks[: limit + 1])  # +1: the WEBVTT header block
    _display({"text/plain": preview, "text/html": f"<pre>{html.escape(preview)}</pre>"}, raw=True)


def show_outputs(outputs: dict[str, Path]) -> dict[str, int]:
    """A table of the written files: size, full path and, for files up to
    :data:`DOWNLOAD_LINK_MAX_BYTES`, a download link that carries the file itself (a ``data:`` URI),
    so it works wherever the saved notebook is opened (Jupyter, Colab, an exported copy) rather than
    only beside the kernel's folder. Returns the sizes."""
    sizes = {name: Path(path).stat().st_size for name, path in outputs.items() if path and Path(path).exists()}
    rows, plain = [], []
    for name in sorted(sizes):
        path = Path(outputs[name])
        rows.append(_output_row(name, path, sizes[name]))
        plain.append(f"{name}  {sizes[name]}  {path}")
    head = "<tr><th>file</th><th>bytes</th><th>download</th><th>path</th></tr>"
    _display({"text/html": f"<table>{head}{''.join(rows)}</table>", "text/plain": "\n".join(plain)}, raw=True)
    if in_colab():
        show_markdown("The files are in the workspace on Drive (Files panel); "
                      "`from google.colab import files; files.download(path)` downloads a large one.")
    return sizes


def _output_row(name: str, path: Path, size: int) -> str:
    link = _download_link(path) if size <= DOWNLOAD_LINK_MAX_BYTES else "(large: open the path)"
    return (f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{size}</td>"
            f"<td>{link}</td><td><code>{html.escape(str(path))}</code></td></tr>")


def _download_link(path: Path) -> str:
    import base64
    import mimetypes

    kind = {".vtt": "text/vtt", ".srt": "application/x-subrip", ".rttm": "text/plain"}.get(
        path.suffix, mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name, quote=True)
    return f'<a download="{name}" href="data:{kind};base64,{data}">{html.escape(path.name)}</a>'


def files_written(outputs: dict[str, Path]) -> list[str]:
    return sorted(Path(p).name for p in outputs.values() if p and Path(p).is_file())
