"""Every figure stored in a solution notebook is at least 600 px wide (STYLE.md: readable at 100 % zoom).

Reads the PNG header (IHDR width, big-endian at bytes 16-20) of every base64 image/png output.
This fails until the notebooks are re-executed with the course style (lecturekit.plotting).
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
MIN_WIDTH_PX = 600


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("data: expected a PNG file (signature and IHDR chunk)")
    return struct.unpack(">II", data[16:24])


def test_png_size_reads_a_png_written_by_matplotlib(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.0, 2.0), dpi=100)
    fig.savefig(tmp_path / "f.png", dpi=100)
    plt.close(fig)
    assert png_size((tmp_path / "f.png").read_bytes()) == (300, 200)
    with pytest.raises(ValueError, match="data: expected a PNG"):
        png_size(b"GIF89a" + bytes(30))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_every_stored_figure_is_at_least_600_px_wide(path):
    nb = nbformat.read(path, as_version=4)
    narrow = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                width, height = png_size(base64.b64decode(png))
                if width < MIN_WIDTH_PX:
                    narrow.append(f"cell {index}: {width} x {height} px")
    assert not narrow, f"{path.name}: figures narrower than {MIN_WIDTH_PX} px: {narrow}"
