#!/usr/bin/python3
"""An independent oracle for BitLens: runs a legacy Keras .h5 model (tf.keras 2.x / Keras 3
legacy h5, with Larq layers) on .npy inputs with numpy, reading the file itself with h5py.

It is written from the Keras and Larq documentation and source (keras/src/activations,
keras/src/layers/{convolutional,pooling,normalization}, tf.nn.batch_normalization, larq
quantizers.py, layers.py, layers_base.py, activations.py), NOT from BitLens' core/reference:
the point is an oracle that shares no code and no reading of the definitions with BitLens.

Usage:
  keras_oracle.py MODEL.h5 --input X.npy [--input X2.npy ...] --output Y.npy [--output ...]
                  [--variant main|alt]
  keras_oracle.py --batch JOBS.txt
      One job per line: MODEL.h5<TAB>IN1.npy[,IN2.npy...]<TAB>OUT_PREFIX
      For every job writes OUT_PREFIX.main.<k>.npy and OUT_PREFIX.alt.<k>.npy (k = model output
      index) and OUT_PREFIX.fragile.txt (the number of sign decisions, in the main reading, on a
      nonzero value within 1e-6 * (1 + max|x|) of 0; --fragile FILE writes it for one run) and prints one line "ok OUT_PREFIX", or writes OUT_PREFIX.error.txt and prints
      "error OUT_PREFIX <message>" (an "unsupported: ..." message when the oracle does not
      implement something in the file). One process for many models: numpy/h5py start-up
      costs ~0.2 s, a small model ~5 ms.

Two numeric variants (both are faithful readings of Keras; they differ only where TensorFlow
itself is not specified to the last bit):
  main: every layer's output is rounded to float32, element-wise operations are done in
        float32 one TF op at a time (as the TF graph does), accumulations (conv, dense, means)
        are done in float64 and rounded once to float32 (TF's summation order is unspecified;
        a sum of +-1 products is an exact integer either way). BatchNormalization follows
        tf.nn.batch_normalization (used by Keras 3 always, by tf.keras when not fused):
            inv = rsqrt(var + eps) * gamma;  y = x * inv + (beta - mean * inv)
        with a correctly rounded float32 rsqrt.
  alt:  everything in float64, BatchNormalization as TF's fused kernel orders it
        (used by tf.keras 2.x for rank-4 inputs with axis=-1):
            y = (x - mean) * (rsqrt(var + eps) * gamma) + beta
        Both readings use the epsilon that Keras passes on: on the fused path tf.keras 2.x
        raises it to at least 1.001e-5 (tf.compat.v1.nn.fused_batch_norm in TF 2.x).
  seq:  as main, but conv/dense sums are float32, one product and one add at a time, in kernel
        tap order (kh, kw, cin) / input order: what TF's CPU DepthwiseConv2dNative and any plain
        loop do; a convolution with a +-1 kernel sums its taps in groups of four instead, the
        order BitLens documents for that kernel. Computed on request (--variant seq) because it
        is slow.
A sign decision whose input is within a rounding error of 0 (e.g. a real-arithmetic tie like
a + b - a - b after float layers) can come out differently in the variants; the caller accepts a
result that matches any of them (see tests/differential/README.md).
"""
import ast
import json
import math
import sys

import h5py
import numpy as np

F32 = np.float32


class Unsupported(Exception):
    """Something in the file that this oracle does not implement (never silently skipped)."""


# ----------------------------------------------------------------------------------------------
# File reading (keras-h5-format.md: model_config attribute, model_weights/layer_names,
# <layer>/weight_names, datasets resolved through weight_names).

def _s(v):
    if isinstance(v, bytes):
        return v.decode("utf-8").rstrip("\x00")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _s(v[()])
    return str(v).rstrip("\x00")


def _names(group, attr):
    """A (possibly chunked: name0, name1, ...) string-list attribute; [] for the empty
    float64 array Keras writes for layers without weights."""
    if attr in group.attrs:
        vals = group.attrs[attr]
    else:
        vals, k = [], 0
        while f"{attr}{k}" in group.attrs:
            vals.extend(list(group.attrs[f"{attr}{k}"]))
            k += 1
    arr = np.asarray(vals)
    if arr.dtype.kind == "f":
        return []
    if arr.shape == ():
        return [_s(arr[()])]
    return [_s(v) for v in arr]


def _short(weight_name):
    s = weight_name.split("/")[-1]
    return s[:-2] if s.endswith(":0") else s


class H5Model:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                raise Unsupported("no model_config attribute (a weights-only file)")
            self.config = json.loads(_s(f.attrs["model_config"]))
            self.keras_version = _s(f.attrs.get("keras_version", "2"))
            mw = f["model_weights"]
            self.weights = {}  # top-level layer name -> list of (full weight name, array)
            for lname in _names(mw, "layer_names"):
                g = mw[lname]
                self.weights[lname] = [(wn, np.array(g[wn])) for wn in _names(g, "weight_names")]

    @property
    def keras3(self):
        try:
            return int(self.keras_version.split(".")[0]) >= 3
        except ValueError:
            return False


# ----------------------------------------------------------------------------------------------
# Numeric helpers

class Num:
    """The variant's arithmetic: `r` rounds a layer result to the variant's precision."""

    def __init__(self, variant):
        if variant not in ("main", "alt", "seq"):
            raise ValueError(variant)
        self.variant = variant
        self.dt = np.float64 if variant == "alt" else F32
        self.seq = variant == "seq"
        # Sign decisions on a value within float32 rounding of 0 but not exactly 0: their bit
        # depends on last-ulp details Keras does not pin down (TF's sigmoid/exp/rsqrt are not
        # correctly rounded, sums have no fixed order). Exact zeros (integer ties) do not count.
        self.fragile = 0

    def note_signs(self, x):
        if x.size:
            finite = np.abs(x[np.isfinite(x)].astype(np.float64))
            lim = 1e-6 * (1.0 + (finite.max() if finite.size else 0.0))
            self.fragile += int(np.count_nonzero((np.abs(x) <= lim) & (x != 0)))

    def r(self, x):
        return np.asarray(x, dtype=self.dt)

    def c(self, v):
        """A Python constant as TF would hold it (a float32 tensor in main)."""
        return self.dt(v)


def larq_sign(x):
    # larq.math.sign: tf.sign(tf.sign(x) + 0.1), so sign(0) = sign(-0) = +1.
    return np.where(x >= 0, 1.0, -1.0).astype(x.dtype)


def quantizer_spec(q):
    """(kind, config) for a serialized quantizer: None, a string alias or a dict object."""
    if q is None:
        return None
    if isinstance(q, str) and "(" in q:
        return qkeras_call(q)
    if isinstance(q, str):
        name, cfg = q, {}
    elif isinstance(q, dict):
        name, cfg = q.get("class_name"), q.get("config") or {}
    else:
        raise Unsupported(f"quantizer {q!r}")
    aliases = {
        "ste_sign": "SteSign", "SteSign": "SteSign",
        "approx_sign": "ApproxSign", "ApproxSign": "ApproxSign",
        "swish_sign": "SwishSign", "SwishSign": "SwishSign",
        "magnitude_aware_sign": "MagnitudeAwareSign", "MagnitudeAwareSign": "MagnitudeAwareSign",
        "ste_heaviside": "SteHeaviside", "SteHeaviside": "SteHeaviside",
        "ste_tern": "SteTern", "SteTern": "SteTern",
        "dorefa_quantizer": "DoReFa", "DoReFa": "DoReFa", "DoReFaQuantizer": "DoReFa",
        "STCustomDoReFa": "STCustomDoReFa",
        "NoOp": "NoOp", "NoOpQuantizer": "NoOp", "noop": "NoOp",
    }
    if isinstance(name, str) and ">" in name:  # Keras 3 registered name, "Custom>STCustomDoReFa"
        name = name.rsplit(">", 1)[1]
    if name in QKERAS_PARAMS:
        return name, dict(cfg)
    if name not in aliases:
        raise Unsupported(f"quantizer {name}")
    return aliases[name], cfg


# QKeras (qkeras/quantizers.py) constructor parameters in positional order.
QKERAS_PARAMS = {
    "quantized_bits": ["bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding",
                       "scale_axis", "qnoise_factor", "var_name", "use_ste", "use_variables"],
    "quantized_relu": ["bits", "integer", "use_sigmoid", "negative_slope", "use_stochastic_rounding",
                       "relu_upper_bound", "is_quantized_clip", "qnoise_factor", "var_name", "use_ste",
                       "use_variables"],
    "binary": ["use_01", "alpha", "use_stochastic_rounding"],
    "ternary": ["alpha", "threshold", "use_stochastic_rounding", "number_of_unrolls"],
}


def qkeras_call(text):
    """A QKeras quantizer written as the Python call QKeras evaluates, "quantized_bits(8,0,alpha=1)",
    read with Python's own parser."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise Unsupported(f"quantizer {text!r}")
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id not in QKERAS_PARAMS:
        raise Unsupported(f"quantizer {text!r}")
    params = QKERAS_PARAMS[call.func.id]
    cfg = {}
    for name, arg in zip(params, call.args):
        cfg[name] = ast.literal_eval(arg)
    for kw in call.keywords:
        cfg[kw.arg] = ast.literal_eval(kw.value)
    return call.func.id, cfg


def qkeras_quantize(kind, cfg, x, num):
    """QKeras 0.9+ forward values: xq as qkeras/quantizers.py computes it, then the straight-
    through x + (-x + xq), every operation rounded to the variant's precision."""
    r, c = num.r, num.c
    if cfg.get("use_stochastic_rounding") or cfg.get("qnoise_factor", 1.0) != 1.0 or not cfg.get("use_ste", True):
        raise Unsupported(f"{kind} {cfg}")
    alpha = cfg.get("alpha")
    if isinstance(alpha, str):
        if kind not in ("quantized_bits", "binary") or alpha not in ("auto", "auto_po2") or \
                cfg.get("scale_axis") is not None:
            raise Unsupported(f"{kind} alpha={alpha}")
        return qkeras_fitted(kind, cfg, x, num)
    if kind == "quantized_bits":
        bits, integer = int(cfg.get("bits", 8)), int(cfg.get("integer", 0))
        keep = bool(cfg.get("keep_negative", True))
        sym = bool(cfg.get("symmetric", False))
        if integer < 0:
            raise Unsupported("quantized_bits integer < 0")
        ub = bits - int(keep)
        if ub > 0:
            m, mi = c(2.0 ** ub), c(2.0 ** integer)
            p = r(r(x * m) / mi)
            rt = r(p + r(-p + np.round(p)))
            lo = c(-0.0) if not keep else r(-m + c(float(sym)))
            xq = r(r(mi * np.clip(rt, lo, r(m - c(1.0)))) / m)
        else:
            xq = np.sign(x)
            xq = r(xq + r(c(1.0) - np.abs(xq)))
            if not keep:
                xq = r(r(xq + c(1.0)) / c(2.0))
        xq = r(c(1.0 if alpha is None else alpha) * xq)
        return r(x + r(-x + xq))
    if kind == "quantized_relu":
        if cfg.get("use_sigmoid") or cfg.get("negative_slope", 0.0) or not cfg.get("is_quantized_clip", True):
            raise Unsupported(f"quantized_relu {cfg}")
        bits, integer = int(cfg.get("bits", 8)), int(cfg.get("integer", 0))
        if integer < 0:
            raise Unsupported("quantized_relu integer < 0")
        m, mi, mf = c(2.0 ** bits), c(2.0 ** integer), c(2.0 ** (integer - bits))
        top = r(mi - mf)
        xu = np.where(x <= top, np.maximum(x, c(0.0)), top).astype(x.dtype)
        p = r(r(x * m) / mi)
        rt = r(p + r(-p + np.round(p)))
        xq = r(mi * np.clip(r(rt / m), c(0.0), r(c(1.0) - r(c(1.0) / m))))
        return r(xu + r(-xu + xq))
    if kind in ("binary", "ternary"):
        if kind == "binary":
            k = np.sign(x)
            k = r(k + r(c(1.0) - np.abs(k)))
            if cfg.get("use_01", False):
                k = r(r(k + c(1.0)) / c(2.0))
        else:
            t = cfg.get("threshold")
            k = r((np.abs(x) >= c(0.33 if t is None else t)).astype(x.dtype) * np.sign(x))
        base = x if alpha is not None else r(np.tanh(x))
        return r(base + r(-base + r(c(1.0 if alpha is None else alpha) * k)))
    raise Unsupported(f"quantizer {kind}")


def qkeras_fitted(kind, cfg, x, num):
    """alpha="auto"/"auto_po2": _get_scale's least squares mean(x q) / (mean(q q) + eps) over all
    axes but the last (per element for a vector), powers of two 2^round(log(s + eps) / log 2) for
    auto_po2; quantized_bits starts from max|x| * 2 / levels and refits five times."""
    r, c = num.r, num.c
    po2 = cfg["alpha"] == "auto_po2"
    eps = c(1e-7)
    axes = tuple(range(x.ndim - 1))

    def pow2(v):
        return r(np.power(c(2.0), np.round(r(r(np.log(r(v + eps))) / c(np.log(2.0))))))

    def least_squares(xv, q):
        if x.ndim > 1:
            qx = r(np.mean(r(xv * q).astype(np.float64), axis=axes, keepdims=True))
            qq = r(np.mean(r(q * q).astype(np.float64), axis=axes, keepdims=True))
        else:
            qx, qq = r(xv * q), r(q * q)
        v = r(qx / r(qq + eps))
        return pow2(v) if po2 else v

    if kind == "binary":
        k = np.sign(x)
        k = r(k + r(c(1.0) - np.abs(k)))
        if cfg.get("use_01", False):
            k = r(r(k + c(1.0)) / c(2.0))
        return r(x + r(-x + r(least_squares(x, k) * k)))
    bits, integer = int(cfg.get("bits", 8)), int(cfg.get("integer", 0))
    keep = bool(cfg.get("keep_negative", True))
    if integer < 0:
        raise Unsupported("quantized_bits integer < 0")
    m, mi = c(2.0 ** (bits - int(keep))), c(2.0 ** integer)
    levels = (2 ** (bits - 1) - 1) * 2  # QKeras makes a fitted quantized_bits symmetric
    xs = r(x / mi)
    mx = np.max(np.abs(xs), axis=axes if x.ndim > 1 else 0, keepdims=True)
    scale = r(r(mx * c(2.0)) / c(levels))

    def ints(sc):
        v = np.floor(r(r(np.abs(xs) / sc) + c(0.5)))
        return r(np.sign(xs) * np.where(v < levels / 2, v, c(levels / 2)))

    if po2:
        scale = pow2(scale)
        for _ in range(5):
            z = ints(scale)
            scale = least_squares(xs, z)
    else:
        z = ints(scale)
    back = r(mi * xs)
    return r(back + r(-back + r(r(scale * m) * r(r(mi * z) / m))))


def sign_kernel(q):
    """Whether a kernel quantizer makes the kernel +-1 (the sign quantizers, not the
    magnitude-aware one, whose +-alpha products BitLens sums exactly)."""
    spec = quantizer_spec(q)
    return spec is not None and spec[0] in ("SteSign", "ApproxSign", "SwishSign")


def apply_quantizer(spec, x, num):
    """larq/quantizers.py forward passes (clip_value only affects gradients)."""
    if spec is None:
        return x
    kind, cfg = spec
    x = num.r(x)
    if kind in ("SteSign", "ApproxSign", "SwishSign"):
        num.note_signs(x)
        return larq_sign(x)
    if kind == "MagnitudeAwareSign":
        # scale = reduce_mean(|x|, axis = all but the last), times ste_sign(x).
        axes = tuple(range(x.ndim - 1))
        scale = num.r(np.mean(np.abs(x.astype(np.float64)), axis=axes))
        num.note_signs(x)
        return num.r(scale * larq_sign(x))
    if kind == "SteHeaviside":
        # larq.math.heaviside: tf.sign(tf.nn.relu(x)): 1 where x > 0, else 0.
        return np.where(x > 0, 1.0, 0.0).astype(x.dtype)
    if kind == "SteTern":
        if cfg.get("ternary_weight_networks", False):
            t = num.r(num.c(0.7) * num.r(np.sum(np.abs(x.astype(np.float64)))) / num.c(x.size))
        else:
            t = num.c(cfg.get("threshold_value", 0.05))
        # tf.sign(tf.sign(x + t) + tf.sign(x - t)), each op in the variant's precision.
        return np.sign(np.sign(num.r(x + t)) + np.sign(num.r(x - t))).astype(x.dtype)
    if kind in ("DoReFa", "STCustomDoReFa"):
        # larq DoReFa: clip to [0, 1], n = 2^k - 1. stm32ai-modelzoo STCustomDoReFa: clip to
        # [-1, 1 - 1/2^(k-1)], n = 2^(k-1) for activations, n = 2^k - 2 for weights. Weights mode
        # (both): tanh, divided by 2 max|tanh| (0 when that is 0), + 0.5, levels, then 2 q - 1.
        st = kind == "STCustomDoReFa"
        k = int(cfg.get("k_bit", 8 if st else 2))
        mode = cfg.get("mode", "activations")
        if mode == "activations":
            n = num.c(2 ** (k - 1) if st else 2 ** k - 1)
            lo, hi = (-1.0, 1.0 - 1 / 2 ** (k - 1.0)) if st else (0.0, 1.0)
            xc = np.clip(x, num.c(lo), num.c(hi))
            return num.r(np.round(num.r(xc * n)) / n)  # tf.round: half to even, like np.round
        if mode == "weights":
            n = num.c(2 ** k - 2 if st else 2 ** k - 1)
            limited = num.r(np.tanh(x))
            d = num.r(np.max(np.abs(limited))) if limited.size else num.c(0.0)
            two_d = num.r(num.c(2.0) * d)
            normed = num.r((num.r(limited / two_d) if two_d != 0 else np.zeros_like(limited)) + num.c(0.5))
            q = num.r(np.round(num.r(normed * n)) / n)
            return num.r(num.c(2.0) * q - num.c(1.0))
        raise Unsupported(f"{kind} mode {mode}")
    if kind == "NoOp":
        return x
    if kind in QKERAS_PARAMS:
        return qkeras_quantize(kind, cfg, x, num)
    raise Unsupported(f"quantizer {kind}")


# ----------------------------------------------------------------------------------------------
# Activations (keras/src/activations/activations.py, tf.keras 2.x activations.py,
# larq/activations.py). `keras3` selects version-dependent definitions.

def _erf(x):
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float64)


def _softplus(x):
    xd = x.astype(np.float64)
    return np.where(xd > 0, xd + np.log1p(np.exp(-np.abs(xd))), np.log1p(np.exp(xd)))


def _softmax(x, axis):
    xd = x.astype(np.float64)
    e = np.exp(xd - np.max(xd, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    xd = x.astype(np.float64)
    m = np.max(xd, axis=axis, keepdims=True)
    return xd - m - np.log(np.sum(np.exp(xd - m), axis=axis, keepdims=True))


def relu_general(x, num, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras ReLU.static_call / tf.keras backend.relu."""
    x = num.r(x)
    ns = num.c(negative_slope)
    th = num.c(threshold)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return num.r(np.where(x >= 0, x, num.r(x * ns)))  # leaky_relu
    neg = None
    if negative_slope != 0.0:
        neg = np.maximum(num.r(th - x), 0) if threshold != 0 else np.maximum(-x, 0)
    if threshold != 0:
        y = num.r(x * (x > th).astype(x.dtype))
    else:
        y = np.maximum(x, 0).astype(x.dtype)
    if max_value is not None:
        y = np.clip(y, num.c(0.0), num.c(max_value)).astype(x.dtype)
    if neg is not None:
        y = num.r(y - num.r(ns * neg))
    return y


def activation(name_or_obj, x, num, keras3):
    if name_or_obj is None:
        return x
    if isinstance(name_or_obj, dict):
        cls = name_or_obj.get("class_name")
        cfg = name_or_obj.get("config")
        if cls == "function" and isinstance(cfg, str):  # Keras 3 serialized builtin
            return activation(cfg, x, num, keras3)
        try:
            spec = quantizer_spec(name_or_obj)
        except Unsupported:
            raise Unsupported(f"activation object {cls}")
        return apply_quantizer(spec, x, num)
    name = name_or_obj
    x = num.r(x)
    d = x.astype(np.float64)
    r = num.r
    if name in ("linear", None, ""):
        return x
    if name == "relu":
        return np.maximum(x, 0).astype(x.dtype)
    if name == "relu6":
        return np.clip(x, 0, 6).astype(x.dtype)
    if name == "leaky_relu":
        return relu_general(x, num, negative_slope=0.2)
    if name == "elu":
        return r(np.where(d > 0, d, np.expm1(d)))
    if name == "selu":
        alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
        return r(scale * np.where(d > 0, d, alpha * np.expm1(d)))
    # gelu: tf.nn.gelu's expression, 0.5 * x * (1 + erf(x / sqrt(2))) (approximate: 1 + tanh(
    # sqrt(2/pi) * (x + 0.044715 * x^3))). In float32, 1 + erf cancels for negative x and is 0
    # below about -5.4, so Keras' result there is -0 (a following sign reads +1); the float32
    # variants take TF's op steps, with erf/tanh correctly rounded to float32.
    if name == "gelu":  # exact form (the string form; approximate=False)
        if num.variant == "alt":
            return 0.5 * d * (1.0 + _erf(d / math.sqrt(2.0)))
        u = r(x / F32(math.sqrt(2.0)))
        s = r(F32(1.0) + r(_erf(u)))
        return r(r(F32(0.5) * x) * s)
    if name == "gelu_approximate":
        if num.variant == "alt":
            return 0.5 * d * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (d + 0.044715 * d ** 3)))
        v = r(d ** 3)  # tf.pow(x, 3), about correctly rounded
        v = r(x + r(F32(0.044715) * v))
        v = r(F32(math.sqrt(2.0 / math.pi)) * v)
        s = r(F32(1.0) + r(np.tanh(v.astype(np.float64))))
        return r(r(F32(0.5) * x) * s)
    if name == "sigmoid":
        return r(1.0 / (1.0 + np.exp(-d)))
    if name == "hard_sigmoid":
        # Piecewise-linear: in float32 variants evaluated one TF op at a time, because the last
        # bit decides exact cancellations in later float sums (and so signs of exact ties).
        if keras3:  # keras/src/backend/tensorflow/nn.py: relu6(x + 3.0) / 6.0
            if num.variant == "alt":
                return np.clip(d + 3.0, 0.0, 6.0) / 6.0
            return r(np.clip(r(x + F32(3.0)), F32(0), F32(6)) / F32(6.0))
        # tf.keras 2.x backend.hard_sigmoid: x * 0.2, + 0.5, clip to [0, 1]
        if num.variant == "alt":
            return np.clip(0.2 * d + 0.5, 0.0, 1.0)
        return np.clip(r(r(x * F32(0.2)) + F32(0.5)), F32(0), F32(1)).astype(F32)
    if name == "tanh":
        return r(np.tanh(d))
    if name in ("hard_tanh", "htanh"):
        return np.clip(x, -1, 1).astype(x.dtype)
    if name == "leaky_tanh":  # larq.activations.leaky_tanh(leaky_slope=0.2)
        return r(np.clip(d, -1, 1) + (np.maximum(d, 1) - 1) * 0.2 + (np.minimum(d, -1) + 1) * 0.2)
    if name == "softsign":  # x / (|x| + 1), two float32 ops (exactly rounded either way)
        return r(d / (np.abs(d) + 1.0)) if num.variant == "alt" else r(x / r(np.abs(x) + F32(1)))
    if name == "softplus":
        return r(_softplus(d))
    if name in ("swish", "silu"):
        return r(d / (1.0 + np.exp(-d)))
    if name in ("hard_swish", "hard_silu"):  # TF backend: x * hard_sigmoid(x) (Keras 3 form)
        if num.variant == "alt":
            return d * np.clip(d + 3.0, 0.0, 6.0) / 6.0
        return r(x * r(np.clip(r(x + F32(3.0)), F32(0), F32(6)) / F32(6.0)))
    if name == "mish":
        return r(d * np.tanh(_softplus(d)))
    if name == "exponential":
        return r(np.exp(d))
    if name == "softmax":
        return r(_softmax(d, -1))
    if name == "log_softmax":
        return r(_log_softmax(d, -1))
    if name == "celu":
        return r(np.maximum(d, 0) + np.minimum(0, np.expm1(d)))
    if name == "log_sigmoid":
        return r(-_softplus(-d))
    if name == "tanh_shrink":
        return r(d - np.tanh(d))
    if name == "hard_shrink":
        return r(np.where(np.abs(d) > 0.5, d, 0.0))
    if name == "soft_shrink":
        return r(np.where(d > 0.5, d - 0.5, np.where(d < -0.5, d + 0.5, 0.0)))
    if name == "squareplus":
        return r((d + np.sqrt(d * d + 4.0)) / 2.0)
    if name == "sparse_plus":
        return r(np.where(d <= -1, 0.0, np.where(d >= 1, d, 0.25 * (d + 1) ** 2)))
    try:  # a Larq quantizer used as an activation ("ste_sign", ...)
        spec = quantizer_spec(name)
    except Unsupported:
        raise Unsupported(f"activation {name}")
    return apply_quantizer(spec, x, num)


# ----------------------------------------------------------------------------------------------
# Convolution and pooling (channels_last; 1-D tensors are (B, steps, C), 2-D (B, H, W, C)).

def _tup(v, n):
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise Unsupported(f"expected {n} values, got {v}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def same_pads(size, k, s, d):
    """TF 'SAME' (and larq _compute_padding): out = ceil(in / s), before = total // 2."""
    eff = (k - 1) * d + 1
    out = (size + s - 1) // s
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def pad_spatial(x, pads, value):
    width = [(0, 0)] + list(pads) + [(0, 0)]
    return np.pad(x, width, mode="constant", constant_values=value)


def conv_pads(x, cfg, rank, ks, strides, dil):
    padding = cfg.get("padding", "valid")
    if padding == "valid":
        return [(0, 0)] * rank
    if padding == "same":
        return [same_pads(x.shape[1 + i], ks[i], strides[i], dil[i]) for i in range(rank)]
    if padding == "causal":
        if rank != 1:
            raise Unsupported("causal padding on a 2-D convolution")
        return [((ks[0] - 1) * dil[0], 0)]
    raise Unsupported(f"padding {padding}")


def taps(xp, ks, strides, dil, out_sizes):
    """Yields (tap index tuple, strided view (B, *out, C)) for every kernel tap."""
    rank = len(ks)
    for idx in np.ndindex(*ks):
        sl = [slice(None)]
        for i in range(rank):
            start = idx[i] * dil[i]
            sl.append(slice(start, start + (out_sizes[i] - 1) * strides[i] + 1, strides[i]))
        sl.append(slice(None))
        yield idx, xp[tuple(sl)]


def out_sizes_of(xp, ks, strides, dil):
    sizes = []
    for i in range(len(ks)):
        eff = (ks[i] - 1) * dil[i] + 1
        n = xp.shape[1 + i]
        if n < eff:
            raise Unsupported("kernel larger than its (padded) input")
        sizes.append((n - eff) // strides[i] + 1)
    return sizes


def conv_nd(x, kernel, cfg, rank, pad_value, groups=1, seq=False, quads=False):
    """Keras ConvND (with groups) on x (B, *spatial, Cin), kernel (*k, Cin/groups, Cout)."""
    ks = tuple(kernel.shape[:rank])
    strides = _tup(cfg.get("strides", 1), rank)
    dil = _tup(cfg.get("dilation_rate", 1), rank)
    pads = conv_pads(x, cfg, rank, ks, strides, dil)
    xp = pad_spatial(x.astype(np.float64), pads, pad_value)
    outs = out_sizes_of(xp, ks, strides, dil)
    cin, cout = x.shape[-1], kernel.shape[-1]
    if cin % groups or cout % groups or kernel.shape[-2] * groups != cin:
        raise Unsupported(f"groups={groups} with {cin} input and {cout} output channels")
    cg, og = cin // groups, cout // groups
    if seq and quads:
        # +-1 kernel: the binary-weights conv kernel's documented order (BitLens bl_kernels.h;
        # Keras leaves the order open): each filter's taps in (k..., cin) order form groups of
        # four, summed as (v0 + v1) + (v2 + v3) (three: (v0 + v1) + v2, two: v0 + v1, one: v0),
        # and the group sums are added in order to a float32 accumulator starting at 0.
        xp = xp.astype(F32)
        w = kernel.astype(F32)
        acc = np.zeros((x.shape[0], *outs, cout), dtype=F32)
        for g in range(groups):
            terms = []  # float32 products of every tap, in filter order
            for idx, v in taps(xp, ks, strides, dil, outs):
                for ci in range(cg):
                    terms.append(v[..., g * cg + ci, None] * w[idx][ci, g * og:(g + 1) * og])
            part = np.zeros(acc[..., g * og:(g + 1) * og].shape, dtype=F32)
            for t in range(0, len(terms), 4):
                q = terms[t:t + 4]
                grp = q[0] if len(q) == 1 else q[0] + q[1]
                if len(q) == 3:
                    grp = grp + q[2]
                elif len(q) == 4:
                    grp = grp + (q[2] + q[3])
                part = part + grp
            acc[..., g * og:(g + 1) * og] = part
        return acc
    if seq:  # float32, one product and one add at a time, taps in (k..., cin) order
        xp = xp.astype(F32)
        acc = np.zeros((x.shape[0], *outs, cout), dtype=F32)
        w = kernel.astype(F32)
        for idx, v in taps(xp, ks, strides, dil, outs):
            for g in range(groups):
                for ci in range(cg):
                    prod = v[..., g * cg + ci, None] * w[idx][ci, g * og:(g + 1) * og]
                    acc[..., g * og:(g + 1) * og] = acc[..., g * og:(g + 1) * og] + prod
        return acc
    acc = np.zeros((x.shape[0], *outs, cout), dtype=np.float64)
    w = kernel.astype(np.float64)
    for idx, v in taps(xp, ks, strides, dil, outs):
        for g in range(groups):
            acc[..., g * og:(g + 1) * og] += v[..., g * cg:(g + 1) * cg] @ w[idx][:, g * og:(g + 1) * og]
    return acc


def depthwise_nd(x, kernel, cfg, rank, pad_value, seq=False):
    """Keras DepthwiseConv: kernel (*k, C, M); output channel c*M + m."""
    ks = tuple(kernel.shape[:rank])
    strides = _tup(cfg.get("strides", 1), rank)
    dil = _tup(cfg.get("dilation_rate", 1), rank)
    pads = conv_pads(x, cfg, rank, ks, strides, dil)
    xp = pad_spatial(x.astype(np.float64), pads, pad_value)
    outs = out_sizes_of(xp, ks, strides, dil)
    c, m = kernel.shape[-2], kernel.shape[-1]
    dt = F32 if seq else np.float64
    xp = xp.astype(dt)
    acc = np.zeros((x.shape[0], *outs, c, m), dtype=dt)
    w = kernel.astype(dt)
    for idx, v in taps(xp, ks, strides, dil, outs):
        acc = acc + v[..., :, None] * w[idx]  # seq: float32 product, then float32 add
    return acc.reshape(x.shape[0], *outs, c * m)


def pool_nd(x, cfg, rank, kind):
    ks = _tup(cfg.get("pool_size", 2), rank)
    st = cfg.get("strides")
    strides = _tup(st if st is not None else ks, rank)
    padding = cfg.get("padding", "valid")
    if cfg.get("data_format", "channels_last") not in ("channels_last", None):
        raise Unsupported("data_format channels_first")
    ones = (1,) * rank
    if padding == "same":
        pads = [same_pads(x.shape[1 + i], ks[i], strides[i], 1) for i in range(rank)]
    elif padding == "valid":
        pads = [(0, 0)] * rank
    else:
        raise Unsupported(f"pool padding {padding}")
    xd = x.astype(np.float64)
    if kind == "max":
        # TF's CPU MaxPool (pooling_ops_common.h SpatialMaxPool): the output starts at the
        # float32 lowest value and each in-image tap replaces it only when greater (Eigen's
        # cwiseMax with the output first), so NaN taps are skipped and a window of only NaN or
        # -inf gives -FLT_MAX. SAME padding ignores the padded taps: padding with NaN makes them
        # lose every comparison too.
        xp = pad_spatial(xd, pads, np.nan)
        outs = out_sizes_of(xp, ks, strides, ones)
        res = np.full((x.shape[0], *outs, x.shape[-1]), float(np.finfo(np.float32).min))
        with np.errstate(invalid="ignore"):
            for _, v in taps(xp, ks, strides, ones, outs):
                res = np.where(v > res, v, res)
        return res
    # Average: Keras/TF SAME average pooling divides by the number of in-image taps.
    xp = pad_spatial(xd, pads, 0.0)
    cnt = pad_spatial(np.ones((1, *x.shape[1:-1], 1)), pads, 0.0)
    outs = out_sizes_of(xp, ks, strides, ones)
    s = np.zeros((x.shape[0], *outs, x.shape[-1]))
    n = np.zeros((1, *outs, 1))
    for (_, v), (_, cv) in zip(taps(xp, ks, strides, ones, outs), taps(cnt, ks, strides, ones, outs)):
        s += v
        n += cv
    return s / n


# ----------------------------------------------------------------------------------------------
# Layers

CONV_RANK = {"Conv1D": 1, "Conv2D": 2, "QuantConv1D": 1, "QuantConv2D": 2,
             "DepthwiseConv1D": 1, "DepthwiseConv2D": 2,
             "QuantDepthwiseConv2D": 2, "SeparableConv1D": 1, "SeparableConv2D": 2,
             "QuantSeparableConv1D": 1, "QuantSeparableConv2D": 2, "QConv2D": 2, "QDepthwiseConv2D": 2}
IDENTITY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
            "AlphaDropout", "ActivityRegularization"}


def check_channels_last(cfg, cls):
    df = cfg.get("data_format", "channels_last")
    if df not in ("channels_last", None):
        raise Unsupported(f"{cls} data_format={df}")


def larq_padding_value(cls, cfg):
    """Larq QuantizerBaseConv: with padding 'same' and pad_values != 0 the *quantized* input is
    padded with tf.pad(constant_values=pad_values) and the conv runs VALID; otherwise the
    native (zero) padding is used. A file without the key means 0.0."""
    if not cls.startswith("Quant"):
        return 0.0
    pv = cfg.get("pad_values", 0.0)
    if pv is None:
        pv = 0.0
    if cfg.get("padding") == "causal" and pv != 0.0:
        raise Unsupported("causal padding with pad_values != 0 (Larq raises ValueError)")
    return float(pv)


def _tf_keras2_fuses_batch_norm(cfg, ndim, axis):
    """tf.keras 2.x BatchNormalization (keras/layers/normalization/batch_normalization.py):
    `fused` is left None by __init__ unless renorm / virtual_batch_size / adjustment rule it out
    (adjustment is not serializable), and build() then fuses 4-D and 5-D inputs whose channel
    axis is 1 or the last one. An explicit fused=False, or synchronized=True, turns it off."""
    if cfg.get("fused") is False or cfg.get("renorm") or cfg.get("synchronized"):
        return False
    if cfg.get("virtual_batch_size") is not None:
        return False
    return (ndim == 4 and axis in (1, 3)) or (ndim == 5 and axis in (1, 4))


def run_layer(cls, cfg, inputs, w, num, keras3, kwargs):
    r = num.r
    if cls in IDENTITY:
        return inputs[0]
    if cls in CONV_RANK:
        rank = CONV_RANK[cls]
        check_channels_last(cfg, cls)
        x = r(inputs[0])
        if x.ndim != rank + 2:
            raise Unsupported(f"{cls} on a rank-{x.ndim - 1} input")
        x = apply_quantizer(quantizer_spec(cfg.get("input_quantizer")), x, num)
        pv = larq_padding_value(cls, cfg)
        if "Separable" in cls:
            dk = apply_quantizer(quantizer_spec(cfg.get("depthwise_quantizer")), r(w["depthwise_kernel"]), num)
            pk = apply_quantizer(quantizer_spec(cfg.get("pointwise_quantizer")), r(w["pointwise_kernel"]), num)
            # tf.nn.separable_conv2d: the depthwise result is a float32 tensor.
            mid = r(depthwise_nd(x, dk, cfg, rank, pv, num.seq))
            pcfg = {"strides": 1, "dilation_rate": 1, "padding": "valid"}
            acc = conv_nd(mid, pk, pcfg, rank, 0.0, 1, num.seq, sign_kernel(cfg.get("pointwise_quantizer")))
        elif "Depthwise" in cls:
            q = cfg.get("depthwise_quantizer")
            k = apply_quantizer(quantizer_spec(q), r(w["depthwise_kernel"]), num)
            acc = depthwise_nd(x, k, cfg, rank, pv, num.seq)
        else:
            k = apply_quantizer(quantizer_spec(cfg.get("kernel_quantizer")), r(w["kernel"]), num)
            acc = conv_nd(x, k, cfg, rank, pv, int(cfg.get("groups", 1) or 1), num.seq,
                          sign_kernel(cfg.get("kernel_quantizer")))
        y = r(acc)
        if cfg.get("use_bias", True):
            y = r(y + apply_quantizer(quantizer_spec(cfg.get("bias_quantizer")), r(w["bias"]), num))
        return activation(cfg.get("activation", "linear"), y, num, keras3)
    if cls in ("Dense", "QuantDense", "QDense"):
        x = apply_quantizer(quantizer_spec(cfg.get("input_quantizer")), r(inputs[0]), num)
        k = apply_quantizer(quantizer_spec(cfg.get("kernel_quantizer")), r(w["kernel"]), num)
        if num.seq and x.ndim > 2 and sign_kernel(cfg.get("kernel_quantizer")):
            # on a sequence or an image Dense is a 1x1 convolution: its +-1 kernel order
            kk = k.reshape((1,) * (x.ndim - 2) + k.shape)
            one = {"strides": 1, "dilation_rate": 1, "padding": "valid"}
            y = conv_nd(x, kk, one, x.ndim - 2, 0.0, 1, True, True)
        elif num.seq:
            y = np.zeros(x.shape[:-1] + k.shape[-1:], F32)
            for i in range(x.shape[-1]):
                y = y + x[..., i, None] * k[i]
        else:
            y = r(x.astype(np.float64) @ k.astype(np.float64))  # last axis, any rank (Keras Dense)
        if cfg.get("use_bias", True):
            y = r(y + apply_quantizer(quantizer_spec(cfg.get("bias_quantizer")), r(w["bias"]), num))
        return activation(cfg.get("activation", "linear"), y, num, keras3)
    if cls == "BatchNormalization":
        x = r(inputs[0])
        axis = cfg.get("axis", -1)
        axes = axis if isinstance(axis, list) else [axis]
        axes = [a % x.ndim for a in axes]
        if axes != [x.ndim - 1]:
            raise Unsupported(f"BatchNormalization axis={axis} on rank {x.ndim}")
        c = x.shape[-1]
        gamma = r(w["gamma"]) if cfg.get("scale", True) else r(np.ones(c))
        beta = r(w["beta"]) if cfg.get("center", True) else r(np.zeros(c))
        mean, var = r(w["moving_mean"]), r(w["moving_variance"])
        eps = cfg.get("epsilon", 1e-3)
        if not keras3 and _tf_keras2_fuses_batch_norm(cfg, x.ndim, axes[0]):
            # tf.keras 2.x's _fused_batch_norm calls tf.compat.v1.nn.fused_batch_norm, and
            # that wrapper in TF 2.x nn_impl.py replaces an epsilon <= 1.001e-5 by 1.001e-5.
            eps = eps if eps > 1.001e-5 else 1.001e-5
        eps = num.c(eps)
        if num.variant == "main":
            inv = F32(1.0) / np.sqrt(r(var + eps))  # float32 sqrt and divide: correctly rounded
            inv = r(inv * gamma)
            return r(r(x * inv) + r(beta - r(mean * inv)))
        scaling = gamma / np.sqrt(var + eps)
        return (x - mean) * scaling + beta
    if cls in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
               "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D"):
        rank = 1 if "1D" in cls else 2
        x = r(inputs[0])
        if x.ndim != rank + 2:
            raise Unsupported(f"{cls} on a rank-{x.ndim - 1} input")
        return r(pool_nd(x, cfg, rank, "max" if cls.startswith("Max") else "avg"))
    if cls in ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
               "GlobalMaxPooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
               "GlobalMaxPool2D"):
        check_channels_last(cfg, cls)
        x = r(inputs[0]).astype(np.float64)
        axes = tuple(range(1, x.ndim - 1))
        keep = bool(cfg.get("keepdims", False))
        # Global max is tf.reduce_max: NaN-propagating since TF 2.4, like np.max.
        y = np.mean(x, axis=axes, keepdims=keep) if "Average" in cls or "Avg" in cls \
            else np.max(x, axis=axes, keepdims=keep)
        return r(y)
    if cls == "Flatten":
        x = inputs[0]
        return x.reshape(x.shape[0], -1)
    if cls == "Reshape":
        x = inputs[0]
        return x.reshape(x.shape[0], *[int(d) for d in cfg["target_shape"]])
    if cls == "ZeroPadding2D":
        p = cfg.get("padding", 1)
        if isinstance(p, int):
            pads = [(p, p), (p, p)]
        elif isinstance(p[0], int):
            pads = [(p[0], p[0]), (p[1], p[1])]
        else:
            pads = [tuple(p[0]), tuple(p[1])]
        check_channels_last(cfg, cls)
        return pad_spatial(r(inputs[0]), pads, 0.0)
    if cls in ("Cropping1D", "Cropping2D"):
        # keras.layers.Cropping{1,2}D: x[:, top:H-bottom, left:W-right] (1-D: along the steps).
        x = r(inputs[0])
        if cls == "Cropping1D":
            c = cfg.get("cropping", (1, 1))
            a, b = (c, c) if isinstance(c, int) else c
            return x[:, a:x.shape[1] - b]
        check_channels_last(cfg, cls)
        c = cfg.get("cropping", ((0, 0), (0, 0)))
        if isinstance(c, int):
            (t, b), (lft, rgt) = (c, c), (c, c)
        elif isinstance(c[0], int):
            (t, b), (lft, rgt) = (c[0], c[0]), (c[1], c[1])
        else:
            (t, b), (lft, rgt) = c
        return x[:, t:x.shape[1] - b, lft:x.shape[2] - rgt]
    if cls == "ZeroPadding1D":
        p = cfg.get("padding", 1)
        pads = [(p, p)] if isinstance(p, int) else [tuple(p)]
        return pad_spatial(r(inputs[0]), pads, 0.0)
    if cls == "UpSampling1D":
        return np.repeat(r(inputs[0]), int(cfg.get("size", 2)), axis=1)
    if cls == "UpSampling2D":
        if cfg.get("interpolation", "nearest") != "nearest":
            raise Unsupported(f"UpSampling2D interpolation={cfg.get('interpolation')}")
        sh, sw = _tup(cfg.get("size", 2), 2)
        return np.repeat(np.repeat(r(inputs[0]), sh, axis=1), sw, axis=2)
    if cls == "Activation":
        return activation(cfg.get("activation"), inputs[0], num, keras3)
    if cls == "QActivation":
        # QKeras: the activation is a quantizer (a call string or a serialized object).
        try:
            spec = quantizer_spec(cfg.get("activation"))
        except Unsupported:
            raise Unsupported(f"QActivation {cfg.get('activation')!r}")
        if spec is None or spec[0] not in QKERAS_PARAMS:
            raise Unsupported(f"QActivation {cfg.get('activation')!r}")
        return apply_quantizer(spec, inputs[0], num)
    if cls == "ReLU":
        mv = cfg.get("max_value")
        return relu_general(inputs[0], num, float(cfg.get("negative_slope", 0.0) or 0.0),
                            None if mv is None else float(mv), float(cfg.get("threshold", 0.0) or 0.0))
    if cls == "LeakyReLU":
        a = cfg.get("negative_slope", cfg.get("alpha", 0.3))  # Keras 3 name, tf.keras 2 name
        x = r(inputs[0])
        return r(np.where(x >= 0, x, r(x * num.c(a))))
    if cls == "ELU":
        a = float(cfg.get("alpha", 1.0))
        d = r(inputs[0]).astype(np.float64)
        return r(np.where(d > 0, d, a * np.expm1(d)))
    if cls == "ThresholdedReLU":
        x = r(inputs[0])
        return r(np.where(x > num.c(cfg.get("theta", 1.0)), x, 0))
    if cls == "PReLU":
        x = r(inputs[0])
        alpha = r(w["alpha"])  # broadcast over shared_axes (stored with size-1 dims there)
        return r(np.maximum(x, 0) - r(alpha * np.maximum(-x, 0)))
    if cls == "Softmax":
        axis = cfg.get("axis", -1)
        axes = tuple(axis) if isinstance(axis, list) else axis
        return r(_softmax(r(inputs[0]), axes))
    if cls in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        xs = [r(t) for t in inputs]
        if any(t.shape != xs[0].shape for t in xs):
            raise Unsupported(f"{cls} with broadcasting")
        y = xs[0]
        for t in xs[1:]:
            if cls in ("Add", "Average"):
                y = r(y + t)
            elif cls == "Subtract":
                y = r(y - t)
            elif cls == "Multiply":
                y = r(y * t)
            elif cls == "Maximum":
                y = np.maximum(y, t)
            else:
                y = np.minimum(y, t)
        if cls == "Average":
            y = r(y / num.c(len(xs)))
        return y
    if cls == "Concatenate":
        return np.concatenate([r(t) for t in inputs], axis=int(cfg.get("axis", -1)))
    if cls == "TFOpLambda":
        fn = cfg.get("function")
        x = r(inputs[0])
        y = inputs[1] if len(inputs) > 1 else num.c(kwargs.get("y"))
        y = r(y)
        if fn in ("__operators__.add", "math.add"):
            return r(x + y)
        if fn in ("math.multiply", "__operators__.mul"):
            return r(x * y)
        if fn in ("math.subtract", "__operators__.sub"):
            return r(x - y)
        raise Unsupported(f"TFOpLambda {fn}")
    raise Unsupported(f"layer class {cls}")


# ----------------------------------------------------------------------------------------------
# Graph: Sequential and Functional configs (Keras 2 and Keras 3 inbound_nodes forms),
# nested models flattened by recursion.

def _is_ref(v):
    return isinstance(v, list) and len(v) >= 3 and isinstance(v[0], str) and isinstance(v[1], int)


def _refs_in(obj, out):
    """Tensor references anywhere in a Keras 2 node (leaves and their kwargs) or a Keras 3
    node ({"args": [...], "kwargs": {...}} with __keras_tensor__ objects)."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = obj["config"]["keras_history"]
            out.append((h[0], h[2]))
            return
        for v in obj.values():
            _refs_in(v, out)
    elif isinstance(obj, list):
        if _is_ref(obj):
            if obj[0] != "_CONSTANT_VALUE":
                out.append((obj[0], obj[2]))
            if len(obj) > 3:
                _refs_in(obj[3], out)
            return
        for v in obj:
            _refs_in(v, out)


def _kwargs_of(node):
    if isinstance(node, dict):
        return node.get("kwargs", {}) or {}
    if _is_ref(node) and len(node) > 3 and isinstance(node[3], dict):
        return node[3]
    if isinstance(node, list) and node and _is_ref(node[0]) and len(node[0]) > 3:
        return node[0][3] if isinstance(node[0][3], dict) else {}
    return {}


class Graph:
    def __init__(self, config, weight_lookup, num, keras3):
        self.num, self.keras3 = num, keras3
        cls = config["class_name"]
        cfg = config["config"]
        self.layers = []  # (name, class, cfg, [(src layer, tensor idx)], kwargs)
        if cls == "Sequential":
            layers = cfg if isinstance(cfg, list) else cfg["layers"]
            prev = None
            self.inputs = []
            for i, l in enumerate(layers):
                lc = l["config"]
                name = lc.get("name") or f"layer_{i}"
                if l["class_name"] == "InputLayer":
                    self.layers.append((name, "InputLayer", lc, [], {}))
                    self.inputs.append(name)
                    prev = name
                    continue
                if prev is None:  # no InputLayer entry: the first layer declares the shape
                    iname = name + "_input"
                    self.layers.append((iname, "InputLayer", lc, [], {}))
                    self.inputs.append(iname)
                    prev = iname
                self.layers.append((name, l["class_name"], lc, [(prev, 0)], {}))
                prev = name
            self.outputs = [(prev, 0)]
        elif cls in ("Functional", "Model"):
            for l in cfg["layers"]:
                name = l.get("name") or l["config"]["name"]
                nodes = l.get("inbound_nodes", [])
                if l["class_name"] != "InputLayer" and not nodes:
                    continue  # unconnected layer: Keras loads and ignores it
                refs = []
                kwargs = {}
                if nodes:
                    if len(nodes) > 1:
                        raise Unsupported(f"shared layer {name}")
                    _refs_in(nodes[0], refs)
                    kwargs = _kwargs_of(nodes[0])
                self.layers.append((name, l["class_name"], l["config"], refs, kwargs))

            def refs_of(v):
                if _is_ref(v):
                    return [(v[0], v[2])]
                return [(t[0], t[2]) for t in v]
            self.inputs = [n for n, _ in refs_of(cfg["input_layers"])]
            self.outputs = refs_of(cfg["output_layers"])
        else:
            raise Unsupported(f"model class {cls}")
        self.weight_lookup = weight_lookup

    def run(self, inputs, trace=None):
        values = {}
        for name, x in zip(self.inputs, inputs):
            values[(name, 0)] = self.num.r(x)
        for name, cls, cfg, refs, kwargs in self.layers:
            if cls == "InputLayer":
                continue
            ins = [values[(a, i)] for a, i in refs]
            if cls in ("Functional", "Model", "Sequential"):
                sub = Graph({"class_name": cls, "config": cfg}, self.weight_lookup.sub(name),
                            self.num, self.keras3)
                sub_trace = {} if trace is not None else None
                outs = sub.run(ins, sub_trace)
                if trace is not None:  # nested layers as "<model>/<layer>" (and bare if unique)
                    for n, y in sub_trace.items():
                        trace[name + "/" + n] = y
                        trace.setdefault(n, y)
                for k, o in enumerate(outs):
                    values[(name, k)] = o
                continue
            y = run_layer(cls, cfg, ins, self.weight_lookup.of(name), self.num, self.keras3, kwargs)
            values[(name, 0)] = y
            if trace is not None:
                trace[name] = y
        return [values[o] for o in self.outputs]


class Weights:
    """Weights of one (possibly nested) model level, by layer name, then by short name."""

    def __init__(self, by_layer_full, layer_names_of_level=None):
        self.by_layer = by_layer_full  # top level: layer name -> [(full name, array)]
        self.prefix_items = None
        if layer_names_of_level is not None:
            self.prefix_items = layer_names_of_level

    def of(self, name):
        if self.prefix_items is not None:
            return self.prefix_items.get(name, {})
        return {_short(wn): a for wn, a in self.by_layer.get(name, [])}

    def sub(self, name):
        """A nested model stored as one top-level group: its weight names are
        '<sublayer>/<var>:0' (or '<model>/<sublayer>/<var>'); split on the longest known
        sub-layer name (names may contain '/')."""
        items = self.by_layer.get(name, []) if self.prefix_items is None else []
        res = {}
        for wn, a in items:
            parts = wn.split("/")
            if parts[0] == name and len(parts) > 2:
                parts = parts[1:]
            layer = "/".join(parts[:-1])
            res.setdefault(layer, {})[_short(wn)] = a
        return Weights(self.by_layer, res)


def run_model(model, inputs, variant, trace=None, stats=None):
    num = Num(variant)
    g = Graph(model.config, Weights(model.weights), num, model.keras3)
    outs = g.run([np.asarray(x, np.float32) for x in inputs], trace)
    if stats is not None:
        stats["fragile"] = num.fragile
    return [np.asarray(o, dtype=np.float32) for o in outs]


# ----------------------------------------------------------------------------------------------

def _main_batch(jobs_path):
    with open(jobs_path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    for line in lines:
        model_path, ins, prefix = line.split("\t")
        try:
            model = H5Model(model_path)
            xs = [np.load(p) for p in ins.split(",")]
            stats = {}
            for variant in ("main", "alt"):
                with np.errstate(all="ignore"):
                    outs = run_model(model, xs, variant, stats=stats if variant == "main" else None)
                for k, o in enumerate(outs):
                    np.save(f"{prefix}.{variant}.{k}.npy", o)
            with open(prefix + ".fragile.txt", "w") as f:
                f.write(f"{stats['fragile']}\n")
            print(f"ok {prefix} fragile={stats['fragile']}", flush=True)
        except Unsupported as e:
            msg = f"unsupported: {e}"
            with open(prefix + ".error.txt", "w") as f:
                f.write(msg + "\n")
            print(f"error {prefix} {msg}", flush=True)
        except Exception as e:  # an oracle bug: reported, the caller fails the test
            msg = f"{type(e).__name__}: {e}"
            with open(prefix + ".error.txt", "w") as f:
                f.write(msg + "\n")
            print(f"error {prefix} {msg}", flush=True)
    return 0


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?")
    p.add_argument("--input", action="append", default=[])
    p.add_argument("--output", action="append", default=[])
    p.add_argument("--variant", default="main", choices=["main", "alt", "seq"])
    p.add_argument("--batch", metavar="JOBS")
    p.add_argument("--trace", metavar="DIR",
                   help="also write every layer's output as DIR/<layer>.npy ('/' in names -> '@')")
    p.add_argument("--fragile", metavar="FILE",
                   help="also write the number of fragile sign decisions (see Num.note_signs)")
    a = p.parse_args(argv)
    if a.batch:
        return _main_batch(a.batch)
    if not a.model or not a.input or not (a.output or a.trace):
        p.error("MODEL, --input and --output are required (or --batch JOBS)")
    try:
        model = H5Model(a.model)
        trace = {} if a.trace else None
        stats = {}
        with np.errstate(all="ignore"):
            outs = run_model(model, [np.load(x) for x in a.input], a.variant, trace, stats)
    except Unsupported as e:
        print(f"keras_oracle: unsupported: {e}", file=sys.stderr)
        return 3
    if a.fragile:
        with open(a.fragile, "w") as f:
            f.write(f"{stats['fragile']}\n")
    if a.trace:
        import os
        os.makedirs(a.trace, exist_ok=True)
        for name, y in trace.items():
            np.save(os.path.join(a.trace, name.replace("/", "@") + ".npy"), np.asarray(y, np.float32))
        if not a.output:
            return 0
    if len(outs) != len(a.output):
        print(f"keras_oracle: the model has {len(outs)} outputs, {len(a.output)} --output given",
              file=sys.stderr)
        return 2
    for o, path in zip(outs, a.output):
        np.save(path, o)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
