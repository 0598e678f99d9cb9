"""Read (and write) a DeepLabCut project, so the heatmap notebook runs on your own labelled frames
(lecture: "Pose tracking with CNNs", DeepLabCut, Mathis et al. 2018).

A single-animal DeepLabCut project folder holds

* ``config.yaml`` - with ``bodyparts`` (the keypoint names, in order) and ``scorer``;
* ``labeled-data/<video>/CollectedData_<scorer>.csv`` - one row per labelled frame, with three
  header rows (``scorer`` / ``bodyparts`` / ``coords``) and x, y columns per body part in pixels;
  an empty cell means the body part was not labelled (not visible): it is read as NaN;
* the labelled frames as PNG files next to the CSV.

The row label is the frame's path relative to the project (``labeled-data/v/img001.png``); newer
DeepLabCut versions split it over three index columns (``labeled-data``, ``v``, ``img001.png``):
both layouts are read. Coordinates use DeepLabCut's convention (pixel centres at integers).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DLCProject", "read_collected_data", "read_project", "load_frames", "write_project"]


@dataclass(frozen=True)
class DLCProject:
    """A DeepLabCut project's labels.

    root: project folder; bodyparts: K names; scorer: the labeller's name; image_paths: N
    absolute PNG paths; keypoints: (N, K, 2) px, NaN where not labelled; config: config.yaml as a dict.
    """

    root: Path
    bodyparts: tuple
    scorer: str
    image_paths: tuple
    keypoints: np.ndarray
    config: dict

    @property
    def visible(self) -> np.ndarray:
        """(N, K) bool: the body part was labelled."""
        return np.all(np.isfinite(self.keypoints), axis=-1)


def _number(cell: str) -> float:
    cell = cell.strip()
    return float(cell) if cell not in ("", "nan", "NaN") else np.nan


def read_collected_data(csv_path) -> tuple[str, tuple, tuple, np.ndarray]:
    """Parse one ``CollectedData_<scorer>.csv``.

    Returns (scorer, bodyparts (K names), image paths relative to the project (N strings),
    keypoints (N, K, 2) px with NaN for empty cells).
    """
    path = Path(csv_path)
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if len(rows) < 3 or rows[0][0].strip() != "scorer":
        raise ValueError(f"{path}: expected three header rows starting with 'scorer', 'bodyparts', 'coords'")
    if rows[1][0].strip() == "individuals":
        raise ValueError(f"{path}: multi-animal projects (an 'individuals' header row) are not supported")
    if rows[1][0].strip() != "bodyparts" or rows[2][0].strip() != "coords":
        raise ValueError(f"{path}: expected header rows 'scorer', 'bodyparts', 'coords', got "
                         f"{rows[0][0]!r}, {rows[1][0]!r}, {rows[2][0]!r}")
    coords = [c.strip() for c in rows[2]]
    n_index = next(i for i in range(1, len(coords)) if coords[i] in ("x", "y", "likelihood"))
    columns = list(range(n_index, len(coords)))
    scorer = rows[0][n_index].strip()
    bodyparts: list[str] = []
    for col in columns:
        name = rows[1][col].strip()
        if name not in bodyparts:
            bodyparts.append(name)
    col_of = {(rows[1][c].strip(), coords[c]): c for c in columns}
    for bp in bodyparts:
        if (bp, "x") not in col_of or (bp, "y") not in col_of:
            raise ValueError(f"{path}: body part {bp!r} lacks an x or a y column")
    images, points = [], []
    for row in rows[3:]:
        row = row + [""] * (len(coords) - len(row))
        images.append("/".join(c.strip() for c in row[:n_index] if c.strip()))
        points.append([[_number(row[col_of[(bp, "x")]]), _number(row[col_of[(bp, "y")]])] for bp in bodyparts])
    kp = np.asarray(points, dtype=float).reshape(len(images), len(bodyparts), 2)
    return scorer, tuple(bodyparts), tuple(images), kp


def read_project(project_dir) -> DLCProject:
    """Read every ``labeled-data/*/CollectedData_*.csv`` of a DeepLabCut project folder.

    project_dir: folder with ``config.yaml``. Body parts follow ``config.yaml``'s order.
    """
    import yaml

    root = Path(project_dir)
    config_path = root / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"project_dir: no config.yaml in {root}")
    config = yaml.safe_load(config_path.read_text()) or {}
    bodyparts = tuple(config.get("bodyparts") or ())
    csvs = sorted(root.glob("labeled-data/*/CollectedData_*.csv"))
    if not csvs:
        raise FileNotFoundError(f"project_dir: no labeled-data/*/CollectedData_*.csv in {root}")
    paths, blocks, scorer = [], [], str(config.get("scorer", ""))
    for csv_path in csvs:
        sc, bps, images, kp = read_collected_data(csv_path)
        scorer = scorer or sc
        order = bodyparts or bps
        missing = [b for b in order if b not in bps]
        if missing:
            raise ValueError(f"{csv_path}: body parts {missing} of config.yaml are not in the CSV")
        blocks.append(kp[:, [bps.index(b) for b in order]])
        bodyparts = order
        for rel in images:
            p = root / rel
            paths.append(p if p.is_file() else csv_path.parent / Path(rel).name)
    return DLCProject(root, tuple(bodyparts), scorer, tuple(paths), np.concatenate(blocks), config)


def load_frames(project: DLCProject, indices=None, *, pad: bool = False) -> np.ndarray:
    """The labelled frames as (N, H, W, 3) uint8 (all of them, or ``indices``).

    Frames must share a size unless ``pad=True``: then each frame is zero-padded at the bottom and
    right to the largest height and width, so keypoint coordinates (px from the top-left) stay valid.
    Projects with several videos (e.g. DeepLabCut's reaching example) need it.
    """
    from PIL import Image

    idx = range(len(project.image_paths)) if indices is None else indices
    frames = [np.asarray(Image.open(project.image_paths[i]).convert("RGB")) for i in idx]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1 and not pad:
        raise ValueError(f"project: frames have different sizes {sorted(shapes)}; "
                         "pass pad=True, or load them by indices per video")
    if len(shapes) > 1:
        height, width = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
        frames = [np.pad(f, ((0, height - f.shape[0]), (0, width - f.shape[1]), (0, 0))) for f in frames]
    return np.stack(frames)


def write_project(project_dir, images, keypoints, bodyparts, *, scorer: str = "course", video: str = "video1") -> Path:
    """Write a minimal single-animal DeepLabCut project (config.yaml, PNGs, CollectedData CSV).

    images: (N, H, W, 3) uint8; keypoints: (N, K, 2) px, NaN = not labelled (written as empty
    cells); bodyparts: K names. Returns the project folder.
    """
    import yaml
    from PIL import Image

    images = np.asarray(images)
    kp = np.asarray(keypoints, dtype=float)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images: expected (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    if kp.shape != (images.shape[0], len(bodyparts), 2):
        raise ValueError(f"keypoints: expected ({images.shape[0]}, {len(bodyparts)}, 2) px, got {kp.shape}")
    root = Path(project_dir)
    folder = root / "labeled-data" / video
    folder.mkdir(parents=True, exist_ok=True)
    config = {"Task": "course", "scorer": scorer, "bodyparts": list(bodyparts), "skeleton": [],
              "video_sets": {video: {"crop": f"0, {images.shape[2]}, 0, {images.shape[1]}"}}}
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with open(folder / f"CollectedData_{scorer}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scorer"] + [scorer] * (2 * len(bodyparts)))
        writer.writerow(["bodyparts"] + [b for b in bodyparts for _ in range(2)])
        writer.writerow(["coords"] + ["x", "y"] * len(bodyparts))
        for n, image in enumerate(images):
            name = f"img{n:04d}.png"
            Image.fromarray(image).save(folder / name)
            cells = ["" if not np.isfinite(v) else repr(float(v)) for v in kp[n].ravel()]
            writer.writerow([f"labeled-data/{video}/{name}"] + cells)
    return root
