"""``lecturekit export``: student notebooks to HTML (nbconvert) and PDF (system Chromium)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lecturekit.course import export

ROOT = Path(__file__).resolve().parents[2]
STUDENT_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
STUDENT_NOTEBOOKS = [p for p in STUDENT_NOTEBOOKS if p.stem == p.parent.name]


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _course(root: Path, with_figure: bool = True) -> Path:
    """A one-part course: a title, a figure output (optional) and a printed result."""
    outputs = [new_output("stream", name="stdout", text="MPE 1.234 mm\n")]
    if with_figure:
        outputs.insert(0, new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}))
    nb = new_notebook(cells=[new_markdown_cell("# Cameras of the arena\nThe projection $f_c(x)$."),
                             new_code_cell("show_rig()", outputs=outputs)])
    path = root / "notebooks" / "04_triangulation" / "04_triangulation.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def test_main_exports_every_student_notebook_to_html(tmp_path, capsys):
    notebook = _course(tmp_path)
    second = tmp_path / "notebooks" / "05_gimbal" / "05_gimbal.ipynb"
    second.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell("# GIMBAL")]), second)
    (tmp_path / "notebooks" / "scratch").mkdir()  # a folder without <name>/<name>.ipynb is not a part

    assert export.main(["--course", str(tmp_path), "--out", str(tmp_path / "exports")]) == 0
    written = sorted(p.name for p in (tmp_path / "exports").iterdir())
    assert written == ["04_triangulation.html", "05_gimbal.html"]
    assert capsys.readouterr().out.split() == [str(tmp_path / "exports" / n) for n in written]

    html = (tmp_path / "exports" / "04_triangulation.html").read_text()
    stored = nbformat.read(notebook, as_version=4).cells[1].outputs[0]["data"]["image/png"]
    assert "Cameras of the arena" in html and "MPE 1.234 mm" in html
    assert stored.replace("\n", "") in html.replace("\n", "")  # the figure, embedded byte for byte


def test_execute_runs_the_notebook_without_touching_it(tmp_path):
    """A released notebook has no outputs; ``--execute`` exports what running it shows."""
    path = tmp_path / "notebooks" / "00_demo" / "00_demo.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Demo"), new_code_cell("print(6 * 7, 'mm')")]), path)
    before = path.read_bytes()
    assert export.main(["--course", str(tmp_path), "--out", str(tmp_path / "out"), "--execute"]) == 0
    assert "42 mm" in (tmp_path / "out" / "00_demo.html").read_text()
    assert path.read_bytes() == before
    export.export_notebook(path, tmp_path / "plain")
    assert "42 mm" not in (tmp_path / "plain" / "00_demo.html").read_text()


def test_export_validates_its_arguments(tmp_path):
    notebook = _course(tmp_path)
    with pytest.raises(ValueError, match="notebook: expected an existing .ipynb"):
        export.export_notebook(tmp_path / "missing.ipynb", tmp_path)
    with pytest.raises(TypeError, match="formats: expected a non-empty sequence"):
        export.export_notebook(notebook, tmp_path, formats="html")
    with pytest.raises(ValueError, match=r"formats: unknown \['docx'\]"):
        export.export_notebook(notebook, tmp_path, formats=("html", "docx"))
    with pytest.raises(ValueError, match="course: no notebooks/ folder"):
        export.student_notebooks(tmp_path / "nowhere")
    assert export.main(["--course", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 1


def test_pdf_without_chromium_says_why(tmp_path, monkeypatch, capsys):
    _course(tmp_path)
    monkeypatch.setattr(export, "chromium_executable", lambda: None)
    assert export.main(["--course", str(tmp_path), "--out", str(tmp_path / "exports"), "--pdf"]) == 2
    assert "needs Chromium" in capsys.readouterr().err
    assert not (tmp_path / "exports").exists()


def _pdf_images(data: bytes) -> int:
    return len(re.findall(rb"/Subtype\s*/Image", data))


@pytest.mark.skipif(export.chromium_executable() is None,
                    reason="Chromium not on the PATH (apt-get install chromium): PDF export not testable")
def test_pdf_export_with_system_chromium(tmp_path):
    with_figure = _course(tmp_path / "a")
    without = _course(tmp_path / "b", with_figure=False)
    html, pdf = export.export_notebook(with_figure, tmp_path / "out", ("html", "pdf"))
    plain = export.export_notebook(without, tmp_path / "out-plain", ("pdf",))[0]
    data, plain_data = pdf.read_bytes(), plain.read_bytes()
    assert html.suffix == ".html" and data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    # The figure output is printed as an image; the notebook without one has none.
    assert _pdf_images(data) >= 1 and _pdf_images(plain_data) == 0


@pytest.mark.parametrize("notebook", STUDENT_NOTEBOOKS, ids=[p.stem for p in STUDENT_NOTEBOOKS])
def test_course_notebooks_export_to_html(notebook, tmp_path):
    """Every released student notebook converts; its first heading is in the HTML."""
    (html,) = export.export_notebook(notebook, tmp_path, ("html",))
    nb = nbformat.read(notebook, as_version=4)
    headings = [line.lstrip("# ").strip() for cell in nb.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("# ")]
    text = html.read_text()
    assert headings, f"{notebook.name}: no '# title' heading"
    import html as html_lib

    assert html_lib.escape(headings[0], quote=False) in text or headings[0] in text
