#!/usr/bin/python3
"""Round trip of `bitlens weights`: runs a Keras .h5 model with the numpy oracle
(keras_oracle.py), but every layer that the export describes is computed from the exported
tensors alone, following weights.json and docs/weights.md: the kernel the rule names
(kernel_sign / kernel), the integer thresholds and flips, the multiply/add steps and the clamp,
the bit max-pool's min/max choice, and the folded layers passed through. The latent weights in
the file are not read for those layers. Equal outputs to `bitlens run` mean the exported
weights are the ones the model computes with.

It also checks the export's own consistency: dtypes and shapes as the manifest says, kernel_sign
= sign(kernel), kernel = kernel_sign * kernel_scale, and the packed words (kernel_bits) unpacked
by the layouts in kernels/include/bitlens/bl_kernels.h equal kernel_sign.

Usage: weights_roundtrip.py MODEL.h5 WEIGHTS_DIR --input X.npy [...] --output Y.npy [...]
Exit status 0: outputs written; 1: the export is inconsistent or a described layer was never
reached (message on stderr); 3: the oracle does not support something in the model.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_oracle as ko  # noqa: E402

F32 = np.float32


class ExportError(Exception):
    pass


def load_export(d):
    with open(os.path.join(d, "weights.json")) as f:
        m = json.load(f)
    if m.get("format") != "bitlens-weights" or m.get("version") != 1 or m.get("layout") != "npy":
        raise ExportError(f"{d}/weights.json is not a version-1 npy export")
    for n in m["nodes"]:
        n["t"] = {}
        for t in n["tensors"]:
            a = np.load(os.path.join(d, t["file"]))
            if a.dtype != np.dtype(t["dtype"]) or list(a.shape) != t["shape"]:
                raise ExportError(f"{t['file']}: {a.dtype} {a.shape}, the manifest says {t['dtype']} {t['shape']}")
            n["t"][t["name"]] = a
        check_node(n)
    return m


def kernel_name(n):
    names = [k for k in n["t"] if k.endswith("kernel")]
    return names[0] if names else None


def unpack_bits(words, nbits, offset_words):
    """bits [offset_words*32, +nbits) of the LSB-first word stream; 1 = -1."""
    out = np.zeros(nbits, np.int8)
    for i in range(nbits):
        w = int(words[offset_words + i // 32])
        out[i] = -1 if (w >> (i % 32)) & 1 else 1
    return out


def check_node(n):
    t, k = n["t"], kernel_name(n)
    if k is None:
        return
    K = t[k]
    if k + "_sign" in t:
        s = t[k + "_sign"]
        if not np.all(np.abs(s) == 1):
            raise ExportError(f"{n['node']}: {k}_sign holds values other than +-1")
        if not np.array_equal(np.where(K < 0, -1, 1), s):
            raise ExportError(f"{n['node']}: {k}_sign != sign({k})")
        scale = t.get(k + "_scale")
        # A depthwise kernel (kh, kw, C, dm) has one scale per output channel c * dm + j.
        if scale is not None and n["op"] == "depthwise_conv2d":
            want = s.astype(F32) * scale.reshape(K.shape[-2], K.shape[-1]).astype(F32)
        else:
            want = s.astype(F32) * (scale.astype(F32) if scale is not None else F32(1))
        if not np.array_equal(want, K):
            raise ExportError(f"{n['node']}: {k} != {k}_sign * scale")
    if k + "_int8" in t:
        q, m = t[k + "_int8"], n["weight_denominator"]
        if q.dtype != np.int8 or not np.array_equal(q.astype(np.float64), np.round(t[k].astype(np.float64) * m)):
            raise ExportError(f"{n['node']}: {k}_int8 != round({k} * {m})")
    if k + "_bits" in t:
        words, s = t[k + "_bits"], t[k + "_sign"]
        if n["op"] == "dense" or s.ndim == 2:  # (n, units): output o at o*ceil(n/32), bit i
            nin, co = s.shape[0], s.shape[-1]
            wpo = (nin + 31) // 32
            got = np.stack([unpack_bits(words, nin, o * wpo) for o in range(co)], axis=-1)
            want = s.reshape(nin, co)
        elif n["op"] == "depthwise_conv2d":  # per (j, kh, kw): channel bit vector of ceil(C/32) words
            s4 = s.reshape(n["geometry"]["kernel_size"] + list(s.shape[-2:]))
            kh, kw, c, m = s4.shape
            cw = (c + 31) // 32
            got = np.zeros_like(s4)
            for j in range(m):
                for a in range(kh):
                    for b in range(kw):
                        got[a, b, :, j] = unpack_bits(words, c, ((j * kh + a) * kw + b) * cw)
            want = s4
        else:  # conv: output o's (kh, kw, ci) bit stream at o * ceil(kh*kw*ci / 32)
            co = s.shape[-1]
            per = s.size // co
            wpf = (per + 31) // 32
            got = np.stack([unpack_bits(words, per, o * wpf) for o in range(co)], axis=-1)
            want = s.reshape(per, co)
        if not np.array_equal(got, want):
            raise ExportError(f"{n['node']}: {k}_bits unpacked != {k}_sign")


# ---- computing a node from its exported tensors ------------------------------------------------

def window_sum(x, K, g, out_hw, groups, depthwise):
    """x (B, H, W, C) already binarized/padded-value-ready; K (kh, kw, Cin/g, F) or (kh, kw, C, M)."""
    kh, kw = g["kernel_size"]
    sh, sw = g["strides"]
    dh, dw = g["dilation_rate"]
    p = g["padding"]
    pv = float(g["pad_value"])
    B, H, W, C = x.shape
    xp = np.full((B, H + p["top"] + p["bottom"], W + p["left"] + p["right"], C), pv, np.float64)
    xp[:, p["top"]:p["top"] + H, p["left"]:p["left"] + W, :] = x
    oh, ow = out_hw
    K = K.astype(np.float64)
    if depthwise:
        c, m = K.shape[-2], K.shape[-1]
        acc = np.zeros((B, oh, ow, c, m))
    else:
        F = K.shape[-1]
        cg, og = C // groups, F // groups
        acc = np.zeros((B, oh, ow, F))
    for a in range(kh):
        for b in range(kw):
            v = xp[:, a * dh:a * dh + (oh - 1) * sh + 1:sh, b * dw:b * dw + (ow - 1) * sw + 1:sw, :]
            if depthwise:
                acc += v[..., :, None] * K[a, b]
            else:
                for gi in range(groups):
                    acc[..., gi * og:(gi + 1) * og] += v[..., gi * cg:(gi + 1) * cg] @ K[a, b][:, gi * og:(gi + 1) * og]
    return acc.reshape(B, oh, ow, -1)


def output_stage(n, acc):
    t = n["t"]
    if "threshold" in t:
        d = acc
        if not np.all(d == np.round(d)):
            raise ExportError(f"{n['node']}: the integer dot product is not an integer")
        th, fl = t["threshold"].astype(np.float64), t["flip"].astype(bool)
        neg = np.where(fl, d > th, d < th)
        return np.where(neg, -1.0, 1.0).astype(F32)
    y = acc.astype(F32)
    for mul, add in (("mul", "add"), ("mul2", "add2")):
        if mul in t:
            y = (y * t[mul]).astype(F32)
        if add in t:
            y = (y + t[add]).astype(F32)
        if mul == "mul" and "mid_clamp" in n:  # ReLU then BatchNorm: the clamp between the steps
            mlo, mhi = n["mid_clamp"]
            if mlo is not None:
                y = np.where(y < mlo, F32(mlo), y).astype(F32)
            if mhi is not None:
                y = np.where(y > mhi, F32(mhi), y).astype(F32)
    lo, hi = n.get("clamp", [None, None])
    if lo is not None:
        y = np.where(y < lo, F32(lo), y).astype(F32)
    if hi is not None:
        y = np.where(y > hi, F32(hi), y).astype(F32)
    if n["output_format"] == "s1":
        y = np.where(y < 0, -1.0, 1.0).astype(F32)
    if n["output_format"] == "s8":
        # The folded quantizer: round_half_even(y * L) (np.round rounds half to even) clamped,
        # the level q / L as the float the Keras quantizer returns (NaN: level 0).
        L = F32(n["output_levels"])
        lo, hi = n["output_clamp"]
        q = np.round((y * L).astype(F32))
        q = np.where(np.isnan(q), 0.0, np.clip(q, lo, hi))
        y = (q.astype(F32) / L).astype(F32)
    return y


def run_weighted(n, x, cfg, num, first, keras3):
    t, k = n["t"], kernel_name(n)
    kc = n["kernel_class"]
    if kc == "binary":
        x = np.where(x < 0, -1.0, 1.0)  # sign(0) = +1, the documented binarization
    elif first and n.get("input_quantizer"):
        # The layer's input quantizer is an activation, not a weight: applied as Keras does.
        x = ko.apply_quantizer(ko.quantizer_spec(cfg.get("input_quantizer")), x, num)
    K = (t[k + "_sign"] if k + "_sign" in t else t[k]).astype(np.float64)
    g = n.get("geometry")
    if k + "_int8" in t:
        # int8 node: the integer sum of the input's level integers times the kernel's integers.
        L = float(n["input_levels"])
        x = np.round(x.astype(np.float64) * L)
        K = t[k + "_int8"].astype(np.float64)
        if g is not None:
            g = dict(g, pad_value=float(g["pad_value"]) * L)
    out_shape = n["output_shape"]
    if n["op"] == "dense" or K.ndim == 2:
        acc = x.astype(np.float64) @ K.reshape(-1, K.shape[-1])
        return activation(n, output_stage(n, acc).reshape(x.shape[0], *out_shape), num, keras3)
    one_d = len(out_shape) == 2
    xs = x[:, None] if one_d else x
    Ks = K[None] if K.ndim == 3 else K
    oh, ow = (1, out_shape[0]) if one_d else (out_shape[0], out_shape[1])
    acc = window_sum(xs.astype(np.float64), Ks, g, (oh, ow), g["groups"], n["op"] == "depthwise_conv2d")
    return activation(n, output_stage(n, acc).reshape(x.shape[0], *out_shape), num, keras3)


def activation(n, y, num, keras3):
    # The layer's own activation (not a weight): computed as Keras does, by the oracle.
    return ko.activation(n["activation"], y, num, keras3) if "activation" in n else y


def run_bit_pool(n, x):
    g = n["geometry"]
    kh, kw = g["kernel_size"]
    sh, sw = g["strides"]
    top, left = g["padding"]["top"], g["padding"]["left"]
    one_d = len(n["output_shape"]) == 2
    xs = x[:, None] if one_d else x
    B, H, W, C = xs.shape
    oh, ow = (1, n["output_shape"][0]) if one_d else n["output_shape"][:2]
    use_min = n["t"]["pool_min"].astype(bool)
    y = np.zeros((B, oh, ow, C), F32)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            win = xs[:, max(r0, 0):min(r0 + kh, H), max(c0, 0):min(c0 + kw, W), :]
            y[:, i, j, :] = np.where(use_min, win.min(axis=(1, 2)), win.max(axis=(1, 2)))
    return y.reshape(x.shape[0], *n["output_shape"])


def run_node(n, inputs, cfg, num, first, keras3):
    x = np.asarray(inputs[0], F32)
    t = n["t"]
    if n["op"] in ("conv2d", "depthwise_conv2d", "dense"):
        return run_weighted(n, x, cfg, num, first, keras3)
    if n["op"] == "batch_norm":
        return ((x * t["mul"]).astype(F32) + t["add"]).astype(F32)
    if n["op"] == "max_pool":
        if not np.all(np.abs(x) == 1):
            raise ExportError(f"{n['node']}: a bit max-pool received values other than +-1")
        return run_bit_pool(n, x)
    if "alpha" in t:
        flat = x.reshape(x.shape[0], -1)
        a = np.resize(t["alpha"], flat.shape[1])
        return np.where(flat >= 0, flat, (a * flat).astype(F32)).reshape(x.shape).astype(F32)
    if "value" in t:
        return ((x + t["value"]) if n["op"] == "const_add" else (x * t["value"])).astype(F32)
    raise ExportError(f"{n['node']}: op {n['op']} with tensors {sorted(t)} is not described in docs/weights.md")


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("weights")
    p.add_argument("--input", action="append", default=[])
    p.add_argument("--output", action="append", default=[])
    a = p.parse_args(argv)
    try:
        m = load_export(a.weights)
    except ExportError as e:
        print(f"weights_roundtrip: {e}", file=sys.stderr)
        return 1
    owners, folded, residual_adds = {}, set(), set()
    for n in m["nodes"]:
        owners.setdefault(n["layer"], []).append(n)
        folded.update(n["folded"])
        if "residual_add" in n:
            residual_adds.add(n["residual_add"]["layer"])
    reached = set()
    original = ko.run_layer

    # Nested models: BitLens names a nested layer "<model path>/<name>" when the bare name
    # clashes with another layer, else "<name>" (core/frontend/loader.cpp); the stack of
    # nested model names being run gives the path.
    nesting = []
    graph_run = ko.Graph.run

    def run_nested(self, ins, trace=None):
        top = not hasattr(run_nested, "entered")
        run_nested.entered = True
        name = None if top else self.model_name
        if name:
            nesting.append(name)
        try:
            return graph_run(self, ins, trace)
        finally:
            if name:
                nesting.pop()

    graph_init = ko.Graph.__init__

    def init(self, config, *args):
        graph_init(self, config, *args)
        self.model_name = (config.get("config") or {}).get("name") if isinstance(config.get("config"), dict) else None

    ko.Graph.__init__ = init
    ko.Graph.run = run_nested

    def bitlens_name(name):
        full = "/".join(nesting + [name])
        return full if full in owners or full in folded else name

    def patched(cls, cfg, inputs, w, num, keras3, kwargs):
        name = bitlens_name(cfg.get("name"))
        # An Add folded into a conv's output stage (residual_add): the node's output is the
        # stage's value plus the other operand, one float32 addition per value.
        if name in residual_adds:
            reached.add(name)
            if len(inputs) != 2:
                raise ExportError(f"residual_add '{name}' has {len(inputs)} inputs, not 2")
            return (np.asarray(inputs[0], F32) + np.asarray(inputs[1], F32)).astype(F32)
        if name in folded:
            reached.add(name)
            return inputs[0]
        if name in owners:
            reached.add(name)
            y = inputs
            for i, n in enumerate(owners[name]):
                y = [run_node(n, y, cfg, num, i == 0, keras3)]
            return y[0]
        return original(cls, cfg, inputs, w, num, keras3, kwargs)

    ko.run_layer = patched
    try:
        model = ko.H5Model(a.model)
        with np.errstate(all="ignore"):
            outs = ko.run_model(model, [np.load(x) for x in a.input], "main")
    except ko.Unsupported as e:
        print(f"weights_roundtrip: unsupported: {e}", file=sys.stderr)
        return 3
    except ExportError as e:
        print(f"weights_roundtrip: {e}", file=sys.stderr)
        return 1
    missing = (set(owners) | folded) - reached
    if missing:
        print(f"weights_roundtrip: layers in weights.json never reached: {sorted(missing)}", file=sys.stderr)
        return 1
    if len(outs) != len(a.output):
        print(f"weights_roundtrip: {len(outs)} outputs, {len(a.output)} --output given", file=sys.stderr)
        return 1
    for o, path in zip(outs, a.output):
        np.save(path, o)
    print(f"ok: {len(m['nodes'])} node(s) from the export, {len(folded)} folded layer(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
