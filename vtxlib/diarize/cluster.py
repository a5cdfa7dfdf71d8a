"""Spectral clustering of speaker embeddings with the number of speakers from the eigengap.

The method of 3D-Speaker's ``speakerlab/process/cluster.py`` (Apache-2.0; senko ships a copy):
cosine affinity, each row pruned to its strongest ``1 - pval`` share, unnormalised Laplacian, the
number of speakers where the gap between consecutive eigenvalues is largest, k-means on the
spectral embedding; then clusters of fewer than ``min_cluster_size`` members join the nearest large
one and clusters whose centroids are more similar than ``merge_cosine`` are merged. Written here
because importing senko's copy takes 8 s (it imports umap and hdbscan at module level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class SpectralOptions:
    pval: float = 0.04
    min_pnum: int = 6  # every row keeps at least this many neighbours
    min_cluster_size: int = 4
    merge_cosine: Optional[float] = 0.85


def spectral_labels(vectors: np.ndarray, min_speakers: int, max_speakers: int,
                    options: SpectralOptions, num_speakers: Optional[int] = None) -> np.ndarray:
    """Cluster labels 0..k-1 for unit ``vectors`` (n, d)."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=int)
    max_speakers = min(max_speakers, n)
    if n < 2 or max_speakers <= 1 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    affinity = _pruned_affinity(vectors, options)
    laplacian = np.diag(np.abs(affinity).sum(axis=1)) - affinity
    eigenvalues, eigenvectors = np.linalg.eigh(laplacian)
    if num_speakers:
        k = min(num_speakers, n)
    else:
        low = max(min_speakers, 1)
        gaps = np.diff(eigenvalues[low - 1:max_speakers + 1])
        k = int(np.argmax(gaps)) + low if gaps.size else low
    labels = _kmeans(eigenvectors[:, :k], k)
    if not num_speakers:
        labels = _absorb_small(labels, vectors, options.min_cluster_size, min_speakers)
        if options.merge_cosine is not None:
            labels = _merge_similar(labels, vectors, options.merge_cosine, min_speakers)
    return np.unique(labels, return_inverse=True)[1]


def centroids_of(labels: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    centres = np.stack([vectors[labels == k].mean(axis=0) for k in np.unique(labels)])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)


def _pruned_affinity(vectors: np.ndarray, options: SpectralOptions) -> np.ndarray:
    affinity = vectors @ vectors.T
    n = len(vectors)
    dropped = min(int((1 - options.pval) * n), n - options.min_pnum)
    if dropped > 0:
        weakest = np.argsort(affinity, axis=1)[:, :dropped]
        np.put_along_axis(affinity, weakest, 0.0, axis=1)
    affinity = 0.5 * (affinity + affinity.T)
    np.fill_diagonal(affinity, 0.0)
    return affinity


def _kmeans(points: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=0, n_init=10).fit_predict(points)


def _absorb_small(labels: np.ndarray, vectors: np.ndarray, min_size: int, min_speakers: int) -> np.ndarray:
    ids, sizes = np.unique(labels, return_counts=True)
    order = np.argsort(-sizes)
    large = ids[order[:max(int((sizes >= min_size).sum()), min(min_speakers, len(ids)), 1)]]
    small = np.setdiff1d(ids, large)
    if small.size == 0:
        return labels
    kept = np.isin(labels, large)
    centres = centroids_of(labels[kept], vectors[kept])
    labels = labels.copy()
    moving = np.isin(labels, small)
    labels[moving] = np.sort(large)[np.argmax(vectors[moving] @ centres.T, axis=1)]
    return labels


def _merge_similar(labels: np.ndarray, vectors: np.ndarray, threshold: float, min_speakers: int) -> np.ndarray:
    labels = labels.copy()
    while len(np.unique(labels)) > max(min_speakers, 1):
        ids = np.unique(labels)
        centres = centroids_of(labels, vectors)
        similarity = np.triu(centres @ centres.T, 1)
        i, j = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[i, j] < threshold:
            break
        labels[labels == ids[j]] = ids[i]
    return labels
