"""Generate notebooks/*.ipynb from their jupytext percent-format sources in notebooks/src/.

    python tools/make_notebooks.py            rewrite notebooks/NN_name.ipynb from notebooks/src/NN_name.py
    python tools/make_notebooks.py --check    exit 1, naming every notebook that differs from its source
    python tools/make_notebooks.py --repo you/vtx[@ref]
                                              a fork's notebooks: an "Open in Colab" badge on top and
                                              VTX_SOURCE defaulting to git+https://github.com/you/vtx@ref

The sources are what you edit (``# %%`` cells, ``# %% [markdown]``, one ``# %% tags=["parameters"]``
cell with Colab ``# @param`` fields). The generated notebooks are byte-for-byte deterministic: fixed
notebook metadata, cell ids derived from the notebook name and position, no outputs, no execution
counts, and only the ``tags`` of a cell's metadata kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
SOURCE_DIR = NOTEBOOK_DIR / "src"
SETUP_PLACEHOLDER = "# vtx-setup-cell"  # a cell starting with this becomes the shared setup cell
SETUP_FILE = "_setup.py"  # in the sources folder: that cell's code, its two comment lines left out
#: every notebook ends with these two cells: Drive flushed, how to release the runtime
FINISH_MARKDOWN = ("## Finish\n\nFlushes Drive (so the next notebook's runtime sees what this one wrote) and "
                   "says how to release the runtime: Colab's free tier holds one GPU runtime at a time.")
FINISH_CODE = "nb.finish_runtime()"
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
REPO_RE = r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+(@[A-Za-z0-9._/-]+)?$"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
    "colab": {"provenance": [], "toc_visible": True},
    "accelerator": "GPU",
}


def sources(source_dir: Path = SOURCE_DIR) -> list[Path]:
    return sorted(source_dir.glob("[0-9][0-9]_*.py"))


def parse_repo(repo: str) -> tuple[str, str]:
    """"you/vtx@ref" -> ("you/vtx", "ref"); the ref defaults to main."""
    import re

    if not re.match(REPO_RE, repo.strip()):
        raise ValueError(f"--repo {repo!r}: expected a GitHub repository as you/vtx or you/vtx@branch")
    name, _, ref = repo.strip().partition("@")
    return name, ref or "main"


def build(source: Path, repo: Optional[str] = None):
    """The notebook a percent-format source describes, with stable ids and metadata; with REPO
    (``you/vtx[@ref]``) an "Open in Colab" badge and that repository as the default VTX_SOURCE."""
    import jupytext
    import nbformat

    notebook = jupytext.read(source, fmt="py:percent")
    setup = _setup_code(source.parent)
    if repo:
        name, ref = parse_repo(repo)
        default = f'VTX_SOURCE = "git+https://github.com/{name}@{ref}"  # @param'
        setup = setup.replace('VTX_SOURCE = ""  # @param', default, 1)
        url = f"https://colab.research.google.com/github/{name}/blob/{ref}/notebooks/{source.stem}.ipynb"
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(BADGE.format(url=url)))
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(SETUP_PLACEHOLDER):
            cell.source = setup
    notebook.cells += [nbformat.v4.new_markdown_cell(FINISH_MARKDOWN), nbformat.v4.new_code_cell(FINISH_CODE)]
    notebook.metadata = nbformat.from_dict(METADATA)
    prefix = source.stem.replace("_", "-")
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{prefix}-{index:02d}"
        tags = cell.metadata.get("tags")
        cell["metadata"] = nbformat.from_dict({"tags": list(tags)} if tags else {})
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nbformat.validate(notebook)
    return notebook


def _setup_code(source_dir: Path) -> str:
    lines = (source_dir / SETUP_FILE).read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[2:]).strip("\n")


def render(source: Path, repo: Optional[str] = None) -> str:
    import nbformat

    return nbformat.writes(build(source, repo)) + "\n"


def stale_notebooks(source_dir: Path = SOURCE_DIR, out: Path = NOTEBOOK_DIR,
                    repo: Optional[str] = None) -> tuple[list[str], list[str]]:
    """(notebooks that differ from their source or are missing, notebooks without a source)."""
    specs = sources(source_dir)
    differ = [f"{s.stem}.ipynb" for s in specs
              if not (out / f"{s.stem}.ipynb").is_file()
              or (out / f"{s.stem}.ipynb").read_text(encoding="utf-8") != render(s, repo)]
    expected = {f"{s.stem}.ipynb" for s in specs}
    orphans = sorted(p.name for p in out.glob("*.ipynb") if p.name not in expected)
    return differ, orphans


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook differs from its source")
    parser.add_argument("--src", type=Path, default=SOURCE_DIR, help="folder of the percent sources")
    parser.add_argument("--out", type=Path, default=NOTEBOOK_DIR, help="folder of the generated notebooks")
    parser.add_argument("--repo", default=None, metavar="you/vtx[@ref]",
                        help="a published fork: add an Open in Colab badge and default VTX_SOURCE to it")
    args = parser.parse_args(argv)
    if args.repo:
        try:
            parse_repo(args.repo)
        except ValueError as e:
            sys.stderr.write(f"{e}\n")
            return 2
    if not sources(args.src):
        sys.stderr.write(f"no notebook sources (NN_name.py) in {args.src}\n")
        return 1
    if args.check:
        differ, orphans = stale_notebooks(args.src, args.out, args.repo)
        if differ or orphans:
            sys.stderr.write(f"notebooks differ from their sources: {', '.join(differ) or 'none'}; without a "
                             f"source: {', '.join(orphans) or 'none'}. Run python tools/make_notebooks.py\n")
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for source in sources(args.src):
        (args.out / f"{source.stem}.ipynb").write_text(render(source, args.repo), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
