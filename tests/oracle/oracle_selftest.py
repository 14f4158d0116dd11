#!/usr/bin/python3
"""Self-test of keras_oracle.py on values computed by hand from the Keras and Larq documentation
(the examples in keras/src/activations/activations.py docstrings, larq quantizer definitions,
TF 'SAME' padding arithmetic). The oracle is the reference the differential test trusts, so its
own definitions are pinned here, independently of BitLens."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_oracle as ko  # noqa: E402

MAIN = ko.Num("main")
ALT = ko.Num("alt")


def f32(*v):
    return np.array(v, dtype=np.float32)


def run(cls, cfg, inputs, weights=None, num=MAIN, keras3=False):
    return ko.run_layer(cls, cfg, [np.asarray(x, np.float32) for x in inputs],
                        {k: np.asarray(v, np.float32) for k, v in (weights or {}).items()}, num, keras3, {})


class Quantizers(unittest.TestCase):
    def test_sign_of_zero_is_plus_one(self):
        # larq.math.sign = tf.sign(tf.sign(x) + 0.1): sign(0) = sign(-0) = +1.
        for q in ("ste_sign", "approx_sign", "swish_sign"):
            got = ko.apply_quantizer(ko.quantizer_spec(q), f32(-2, -0.0, 0.0, 3), MAIN)
            np.testing.assert_array_equal(got, f32(-1, 1, 1, 1))

    def test_heaviside_and_tern(self):
        np.testing.assert_array_equal(
            ko.apply_quantizer(ko.quantizer_spec("ste_heaviside"), f32(-1, 0, 0.5), MAIN), f32(0, 0, 1))
        # sign(sign(x + 0.05) + sign(x - 0.05)): the thresholds themselves go outwards.
        np.testing.assert_array_equal(
            ko.apply_quantizer(ko.quantizer_spec("ste_tern"), f32(-0.1, -0.05, 0, 0.05, 0.1), MAIN),
            f32(-1, -1, 0, 1, 1))

    def test_magnitude_aware_sign_scales_per_last_axis(self):
        # reduce_mean(|x|) over all axes but the last.
        x = np.array([[1.0, -4.0], [-3.0, 2.0]], np.float32)
        got = ko.apply_quantizer(ko.quantizer_spec("magnitude_aware_sign"), x, MAIN)
        np.testing.assert_array_equal(got, np.array([[2.0, -3.0], [-2.0, 3.0]], np.float32))

    def test_dorefa_rounds_half_to_even(self):
        spec = ko.quantizer_spec({"class_name": "DoReFa", "config": {"k_bit": 1, "mode": "activations"}})
        np.testing.assert_array_equal(ko.apply_quantizer(spec, f32(-1, 0.5, 0.6, 2), MAIN), f32(0, 0, 1, 1))


    def test_qkeras_quantizers_by_hand(self):
        # quantized_bits(8, 0): levels q/128, q in -128..127, half to even; quantized_relu(4, 0):
        # q/16, q in 0..15; the call form reads as the object form.
        qb = ko.quantizer_spec("quantized_bits(8, 0, alpha=1)")
        np.testing.assert_array_equal(ko.apply_quantizer(qb, f32(0.3, -0.3, 2.5 / 128, 3.0, -3.0), MAIN),
                                      f32(38 / 128, -38 / 128, 2 / 128, 127 / 128, -1.0))
        same = ko.quantizer_spec({"class_name": "quantized_bits", "config": {"bits": 8, "integer": 0, "alpha": 1}})
        self.assertEqual(qb, ("quantized_bits", {"bits": 8, "integer": 0, "alpha": 1}))
        self.assertEqual(same[0], "quantized_bits")
        # TF's x + (-x + xq) in float32 at x = 2^24: -2^24 + 127/128 rounds to -2^24 + 1.
        np.testing.assert_array_equal(ko.apply_quantizer(qb, f32(2.0 ** 24), MAIN), f32(1.0))
        qr = ko.quantizer_spec("quantized_relu(4,0)")
        np.testing.assert_array_equal(ko.apply_quantizer(qr, f32(-1, 0.7, 0.5 / 16, 5.0), MAIN),
                                      f32(0, 11 / 16, 0, 15 / 16))
        # binary / ternary with alpha None: tanh is only the estimator's base.
        np.testing.assert_array_equal(ko.apply_quantizer(ko.quantizer_spec("binary()"), f32(-1e-30, 0, 1e-30, 7), MAIN),
                                      f32(-1, 1, 1, 1))
        np.testing.assert_array_equal(ko.apply_quantizer(ko.quantizer_spec("ternary()"), f32(-0.5, -0.2, 0.33, 0.3), MAIN),
                                      f32(-1, 0, 1, 0))
        with self.assertRaises(ko.Unsupported):
            ko.apply_quantizer(ko.quantizer_spec("ternary(alpha='auto_po2')"), f32(0.1), MAIN)
        # alpha="auto_po2" on a (4, 1) kernel: max 0.9 -> 0.9 * 2 / 14 -> 2^-3, z = 7, -2, 0, 5, kept
        # by the refits (mean(x z) / mean(z z) = 2.475 / 19.5 -> 2^-3): values z / 8.
        w = np.array([[0.9], [-0.3], [0.05], [0.6]], np.float32)
        got = ko.apply_quantizer(ko.quantizer_spec("quantized_bits(4, 0, alpha='auto_po2')"), w, MAIN)
        np.testing.assert_array_equal(got, np.array([[0.875], [-0.25], [0.0], [0.625]], np.float32))
        got = ko.apply_quantizer(ko.quantizer_spec("binary(alpha='auto_po2')"), f32(0.3, -0.5, 0.2).reshape(3, 1), MAIN)
        np.testing.assert_array_equal(got, np.array([[0.25], [-0.25], [0.25]], np.float32))


class Activations(unittest.TestCase):
    def test_relu_docstring_examples(self):
        x = f32(-10, -5, 0, 5, 10)
        np.testing.assert_array_equal(ko.relu_general(x, MAIN), f32(0, 0, 0, 5, 10))
        np.testing.assert_array_equal(ko.relu_general(x, MAIN, negative_slope=0.5), f32(-5, -2.5, 0, 5, 10))
        np.testing.assert_array_equal(ko.relu_general(x, MAIN, max_value=5.0), f32(0, 0, 0, 5, 5))
        np.testing.assert_array_equal(ko.relu_general(x, MAIN, threshold=5.0), f32(0, 0, 0, 0, 10))

    def test_hard_sigmoid_follows_the_keras_version(self):
        x = f32(-3, 1, 2.5)
        np.testing.assert_allclose(ko.activation("hard_sigmoid", x, MAIN, keras3=False), f32(0, 0.7, 1), rtol=1e-6)
        np.testing.assert_allclose(ko.activation("hard_sigmoid", x, MAIN, keras3=True),
                                   f32(0, 1 / 6 + 0.5, 2.5 / 6 + 0.5), rtol=1e-6)

    def test_more_definitions(self):
        x = f32(-2, 0, 2)
        cases = {
            "hard_tanh": [-1, 0, 1], "softsign": [-2 / 3, 0, 2 / 3], "relu6": [0, 0, 2],
            "elu": [np.expm1(-2), 0, 2], "exponential": np.exp([-2, 0, 2]),
            "swish": [-2 / (1 + np.exp(2)), 0, 2 / (1 + np.exp(-2))],
            "hard_swish": [-2 * 1 / 6, 0, 2 * 5 / 6],
            "gelu": [-2 * 0.5 * (1 + ko.math.erf(-2 / np.sqrt(2))), 0, 2 * 0.5 * (1 + ko.math.erf(2 / np.sqrt(2)))],
            "selu": [1.0507009873554805 * 1.6732632423543772 * np.expm1(-2), 0, 1.0507009873554805 * 2],
            "softplus": np.log1p(np.exp([-2, 0, 2])), "leaky_relu": [-0.4, 0, 2],
        }
        for name, want in cases.items():
            np.testing.assert_allclose(ko.activation(name, x, MAIN, False), np.float32(want), rtol=1e-6, atol=1e-7,
                                       err_msg=name)
        with self.assertRaises(ko.Unsupported):
            ko.activation("binary_tanh", x, MAIN, False)


class Layers(unittest.TestCase):
    def test_same_padding_amounts(self):
        # out = ceil(in / s); total = max((out-1)*s + (k-1)*d + 1 - in, 0); extra pixel after.
        self.assertEqual(ko.same_pads(5, 3, 2, 1), (1, 1))
        self.assertEqual(ko.same_pads(4, 3, 2, 1), (0, 1))
        self.assertEqual(ko.same_pads(4, 1, 3, 1), (0, 0))
        self.assertEqual(ko.same_pads(3, 3, 1, 2), (2, 2))

    def test_pad_values_pad_the_quantized_input(self):
        # One pixel -0.5, 3x3 kernel of ones: sign gives -1 in the centre, the border holds pad_values.
        cfg = {"padding": "same", "strides": [1, 1], "dilation_rate": [1, 1], "use_bias": False,
               "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign", "activation": "linear"}
        k = np.ones((3, 3, 1, 1), np.float32)
        x = np.full((1, 1, 1, 1), -0.5, np.float32)
        for pad, want in ((1.0, 7.0), (-1.0, -9.0), (0.0, -1.0)):
            got = run("QuantConv2D", dict(cfg, pad_values=pad), [x], {"kernel": k})
            self.assertEqual(float(got.reshape(-1)[0]), want, pad)
        # A plain Conv2D pads the *unquantized* input with zeros.
        got = run("Conv2D", {"padding": "same", "use_bias": False}, [x], {"kernel": k})
        self.assertEqual(float(got.reshape(-1)[0]), -0.5)

    def test_average_pooling_same_counts_in_image_taps_only(self):
        x = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
        got = run("AveragePooling2D", {"pool_size": [2, 2], "strides": [1, 1], "padding": "same"}, [x])
        np.testing.assert_array_equal(got.reshape(2, 2), [[2.5, 3.0], [3.5, 4.0]])
        got = run("MaxPooling2D", {"pool_size": [2, 2], "strides": [1, 1], "padding": "same"}, [-x])
        np.testing.assert_array_equal(got.reshape(2, 2), [[-1, -2], [-3, -4]])  # no zero from padding

    def test_causal_conv1d_and_groups(self):
        x = np.array([1, 2, 3], np.float32).reshape(1, 3, 1)
        got = run("Conv1D", {"padding": "causal", "use_bias": False}, [x], {"kernel": np.ones((2, 1, 1))})
        np.testing.assert_array_equal(got.reshape(-1), [1, 3, 5])
        x = np.array([1, 2], np.float32).reshape(1, 1, 1, 2)
        got = run("Conv2D", {"groups": 2, "use_bias": False}, [x],
                  {"kernel": np.array([10, 100], np.float32).reshape(1, 1, 1, 2)})
        np.testing.assert_array_equal(got.reshape(-1), [10, 200])

    def test_depthwise_channel_order_is_c_times_m_plus_m(self):
        x = np.array([1, 2], np.float32).reshape(1, 1, 1, 2)
        k = np.array([[1, 10], [100, 1000]], np.float32).reshape(1, 1, 2, 2)
        got = run("DepthwiseConv2D", {"use_bias": False}, [x], {"depthwise_kernel": k})
        np.testing.assert_array_equal(got.reshape(-1), [1, 10, 200, 2000])

    def test_batch_norm_tie_is_exactly_zero_in_both_readings(self):
        w = {"gamma": f32(0.7), "beta": f32(0), "moving_mean": f32(3), "moving_variance": f32(2.5)}
        x = f32(3, 2, 4).reshape(3, 1)
        for num in (MAIN, ALT):
            y = run("BatchNormalization", {"axis": -1, "epsilon": 1e-3}, [x], w, num)
            self.assertEqual(float(y[0, 0]), 0.0)
            self.assertLess(float(y[1, 0]), 0.0)
            self.assertGreater(float(y[2, 0]), 0.0)

    def test_zero_gamma_gives_beta(self):
        w = {"gamma": f32(0), "beta": f32(-0.25), "moving_mean": f32(1), "moving_variance": f32(1)}
        y = run("BatchNormalization", {"axis": [1]}, [f32(5, -5).reshape(2, 1)], w)
        np.testing.assert_array_equal(y.reshape(-1), [-0.25, -0.25])

    def test_fused_epsilon_floor_only_on_tf_keras2_rank4(self):
        # Variance 0: the output is gamma / sqrt(epsilon) for x = 1 (mean 0, beta 0).
        w = {"gamma": f32(1), "beta": f32(0), "moving_mean": f32(0), "moving_variance": f32(0)}
        x4 = f32(1).reshape(1, 1, 1, 1)
        x2 = f32(1).reshape(1, 1)
        cfg = {"axis": -1, "epsilon": 1e-5}
        floor = 1 / np.sqrt(np.float32(1.001e-5))
        raw = 1 / np.sqrt(np.float32(1e-5))
        for num in (MAIN, ALT):
            self.assertAlmostEqual(float(run("BatchNormalization", cfg, [x4], w, num)[0, 0, 0, 0]), floor, delta=floor * 1e-6)
            self.assertAlmostEqual(float(run("BatchNormalization", cfg, [x4], w, num, keras3=True)[0, 0, 0, 0]), raw,
                                   delta=raw * 1e-6)
            self.assertAlmostEqual(float(run("BatchNormalization", cfg, [x2], w, num)[0, 0]), raw, delta=raw * 1e-6)
            renorm = dict(cfg, renorm=True)
            self.assertAlmostEqual(float(run("BatchNormalization", renorm, [x4], w, num)[0, 0, 0, 0]), raw, delta=raw * 1e-6)


if __name__ == "__main__":
    unittest.main()
