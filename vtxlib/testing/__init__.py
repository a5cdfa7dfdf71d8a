"""Evaluation material: the pyannote sample recording with its references, and synthetic
multi-speaker conversations with exact ground truth (used by the tests and ``bench/``)."""
