"""SLEAP analysis HDF5 files (``*.analysis.h5``), read without SLEAP installed.

SLEAP's "Export Analysis HDF5" writes, per video (shapes as h5py reads SLEAP's default,
transposed, file; a file written with ``transpose=False`` holds the reverse order and is read too):

* ``tracks``: (n_instances, 2, n_nodes, n_frames) float px, NaN where a node is missing;
* ``node_names``: (n_nodes,) bytes; ``edge_names``: (n_edges, 2) bytes (source, destination)
  and/or ``edge_inds``: (n_edges, 2) int node indices;
* ``point_scores``: (n_instances, n_nodes, n_frames); ``instance_scores``, ``tracking_scores``:
  (n_instances, n_frames); ``track_occupancy``: (n_frames, n_instances) 0/1;
  ``track_names``: (n_instances,) bytes; ``video_path``: bytes.

``read_sleap_analysis`` returns one instance (track) as ``points (T, K, 2)`` px in the course's
convention; ``parents_from_edges`` turns a SLEAP or DeepLabCut edge list into the parent array
of a skeleton tree (-1 for the root), as ``pictorial`` and ``gimbal`` use.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SleapAnalysis", "read_sleap_analysis", "parents_from_edges"]


@dataclass(frozen=True)
class SleapAnalysis:
    """One instance (track) of a SLEAP analysis file.

    Attributes:
        points: (T, K, 2) px image coordinates (x, y), NaN where the node is missing.
        point_scores: (T, K) per-node confidence (NaN when the file has none).
        instance_scores: (T,) per-instance confidence (NaN when the file has none).
        node_names: K names. edges: (E, 2) int node indices (source, destination).
        instance: which instance (track) this is; n_instances: how many the file holds.
        track_name: the track's name ("" when the file has none). video_path: as stored ("" if none).
    """

    points: np.ndarray
    point_scores: np.ndarray
    instance_scores: np.ndarray
    node_names: tuple[str, ...]
    edges: np.ndarray
    instance: int
    n_instances: int
    track_name: str
    video_path: str

    @property
    def parents(self) -> np.ndarray:
        """(K,) int parent of each node (-1 for the root), from ``edges``."""
        return parents_from_edges(self.node_names, self.edges)


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () else value.tolist()
    return value.decode() if isinstance(value, bytes) else str(value)


def _tracks_as_tkd(tracks: np.ndarray, n_nodes: int, path) -> np.ndarray:
    """tracks in either layout -> (n_instances, T, K, 2)."""
    if tracks.ndim == 4 and tracks.shape[1] == 2 and tracks.shape[2] == n_nodes:
        return tracks.transpose(0, 3, 2, 1)  # (I, 2, K, T), SLEAP's default (transposed) file
    if tracks.ndim == 4 and tracks.shape[2] == 2 and tracks.shape[1] == n_nodes:
        return tracks.transpose(3, 0, 1, 2)  # (T, K, 2, I)
    raise ValueError(f"{path}: tracks: expected shape (instances, 2, {n_nodes}, frames) or "
                     f"(frames, {n_nodes}, 2, instances), got {tracks.shape}")


def _scores(h5, key: str, n_instances: int, T: int, K: int | None, instance: int) -> np.ndarray:
    """One instance's scores as (T, K) or (T,), in either layout; NaN when absent."""
    shape = (T,) if K is None else (T, K)
    if key not in h5:
        return np.full(shape, np.nan)
    s = np.asarray(h5[key][()], dtype=float)
    if K is None:
        s = s[instance] if s.shape == (n_instances, T) else s[:, instance]
    else:
        s = s[instance].T if s.shape == (n_instances, K, T) else s[:, :, instance]
    return s


def read_sleap_analysis(path, instance: int = 0) -> SleapAnalysis:
    """Read one instance of a SLEAP analysis HDF5 file.

    Args:
        path: the ``*.analysis.h5`` file.
        instance: which instance (track) to return, 0-based (default: the first).

    Returns:
        a ``SleapAnalysis`` with ``points`` (T, K, 2) px.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no SLEAP analysis file at {path}")
    with h5py.File(path, "r") as h5:
        for key in ("tracks", "node_names"):
            if key not in h5:
                raise ValueError(f"{path}: not a SLEAP analysis file (no '{key}' dataset)")
        names = tuple(_text(n) for n in h5["node_names"][()])
        K = len(names)
        tracks = _tracks_as_tkd(np.asarray(h5["tracks"][()], dtype=float), K, path)
        n_instances, T = tracks.shape[:2]
        if not 0 <= instance < n_instances:
            raise ValueError(f"instance: expected 0 .. {n_instances - 1} (the file holds {n_instances}), "
                             f"got {instance}")
        if "edge_inds" in h5:
            edges = np.asarray(h5["edge_inds"][()], dtype=int).reshape(-1, 2)
        elif "edge_names" in h5:
            index = {n: i for i, n in enumerate(names)}
            edges = np.array([[index[_text(a)], index[_text(b)]] for a, b in h5["edge_names"][()]], dtype=int)
            edges = edges.reshape(-1, 2)
        else:
            edges = np.zeros((0, 2), dtype=int)
        track_names = [_text(n) for n in h5["track_names"][()]] if "track_names" in h5 else []
        return SleapAnalysis(
            points=tracks[instance],
            point_scores=_scores(h5, "point_scores", n_instances, T, K, instance),
            instance_scores=_scores(h5, "instance_scores", n_instances, T, None, instance),
            node_names=names,
            edges=edges,
            instance=instance,
            n_instances=n_instances,
            track_name=track_names[instance] if instance < len(track_names) else "",
            video_path=_text(h5["video_path"][()]) if "video_path" in h5 else "",
        )


def parents_from_edges(names, edges, root=None) -> np.ndarray:
    """Parent array of the skeleton tree given by an edge list (SLEAP's or DeepLabCut's).

    Args:
        names: K node names (str or bytes).
        edges: E pairs, each of two names or two indices into ``names``; the direction of a pair
            does not matter, the tree is oriented away from ``root``.
        root: a name or index; default: the one node that is never an edge's second element
            (SLEAP's edges point from parent to child), or ``names[0]`` when that is not unique.

    Returns:
        (K,) int: ``parents[k]`` is the index of k's parent, -1 for the root.

    Raises:
        ValueError naming the edge when an edge names an unknown node, joins a node to itself or
        closes a cycle, and naming the nodes the edges do not reach.
    """
    names = [_text(n) for n in names]
    K = len(names)
    index = {n: i for i, n in enumerate(names)}

    def node(v, edge):
        if isinstance(v, (bytes, str, np.bytes_, np.str_)):
            v = _text(v)
            if v not in index:
                raise ValueError(f"edges: edge {edge} names an unknown node {v!r}; nodes are {names}")
            return index[v]
        if not 0 <= int(v) < K:
            raise ValueError(f"edges: edge {edge} has node index {int(v)}, expected 0 .. {K - 1}")
        return int(v)

    pairs = []
    group = list(range(K))  # union-find: an edge joining two nodes already connected closes a cycle

    def find(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for e in edges:
        if len(e) != 2:
            raise ValueError(f"edges: expected pairs of nodes, got {e!r}")
        label = tuple(_text(v) if isinstance(v, (bytes, str, np.bytes_, np.str_)) else int(v) for v in e)
        i, j = node(label[0], label), node(label[1], label)
        shown = (names[i], names[j])
        if i == j:
            raise ValueError(f"edges: edge {shown} joins a node to itself; not a tree")
        ri, rj = find(i), find(j)
        if ri == rj:
            raise ValueError(f"edges: edge {shown} closes a cycle; not a tree")
        group[ri] = rj
        pairs.append((i, j))
    if root is None:
        sources = sorted(set(range(K)) - {j for _, j in pairs})
        r = sources[0] if len(sources) == 1 else 0
    elif isinstance(root, (bytes, str, np.bytes_, np.str_)) and _text(root) not in index:
        raise ValueError(f"root: expected one of the node names {names}, got {_text(root)!r}")
    else:
        r = node(root, "root")
    neighbours = [[] for _ in range(K)]
    for i, j in pairs:
        neighbours[i].append(j)
        neighbours[j].append(i)
    parents = np.full(K, -2, dtype=int)
    parents[r] = -1
    queue = deque([r])
    while queue:
        i = queue.popleft()
        for j in neighbours[i]:
            if parents[j] == -2:
                parents[j] = i
                queue.append(j)
    unreached = [names[k] for k in np.flatnonzero(parents == -2)]
    if unreached:
        raise ValueError(f"edges: nodes {unreached} are not connected to the root {names[r]!r}; not a tree")
    return parents
