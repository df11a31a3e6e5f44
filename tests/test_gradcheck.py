"""nnlab.gradcheck itself: verdicts, reports, refusals, the random-direction mode."""

import numpy as np
import pytest

import nnlab
from nnlab import functional as F
from nnlab.tensor import make_result


def f64(values, requires_grad=True):
    return nnlab.tensor(values, requires_grad=requires_grad, dtype=np.float64)


def square_with_wrong_backward(t):
    """t², whose backward forgets the factor 2: the analytic gradient is half the true one."""
    X = t.data
    return make_result(X * X, (t,), lambda g: (g * X,))


def scaled_wrongly_at(element, by):
    """tanh(t), with the gradient of one element multiplied by ``by``."""

    def fn(t):
        X = t.data
        out = np.tanh(X)

        def backward(g):
            grad = g * (1 - out * out)
            grad[element] *= by
            return (grad,)

        return make_result(out, (t,), backward)

    return fn


# ------------------------------------------------------------------------------ verdicts
@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x: (x * x).sum(), [(3,)]),
        (lambda x: F.softmax(x, axis=0), [(4, 2)]),  # a non-scalar output
        (lambda x: x.exp(), [()]),  # 0-d
        (lambda x, y: F.tanh(x @ y), [(2, 3), (3, 2)]),  # two inputs
    ],
)
def test_passes_on_correct_gradients(fn, shapes):
    rng = np.random.default_rng(0)
    inputs = [f64(rng.standard_normal(s)) for s in shapes]
    result = nnlab.gradcheck(fn, inputs)
    assert result and bool(result) is True
    assert result.worst_abs < 1e-7 and result.checks == sum(int(np.prod(s)) for s in shapes)
    assert "gradients agree" in str(result)


def test_a_single_tensor_is_accepted_as_inputs():
    assert nnlab.gradcheck(lambda t: t.sqrt(), f64([1.0, 4.0]))


def test_fails_and_reports_the_worst_error_with_input_and_element():
    x = f64([1.0, -3.0, 0.5])
    result = nnlab.gradcheck(lambda t: square_with_wrong_backward(t).sum(), [x])
    assert not result and bool(result) is False
    assert result.input_index == 0 and result.element == (1,)  # |error| = |x| is largest at -3
    assert result.worst_abs == pytest.approx(3.0, rel=1e-6)  # analytic x vs numeric 2x
    assert result.worst_rel == pytest.approx(0.5, rel=1e-6)
    text = str(result)
    assert "MISMATCH" in text and "input 0" in text and "element (1,)" in text


def test_reports_which_input_is_wrong():
    a, b = f64([0.3, 0.2]), f64([[0.1, -0.4], [0.5, 0.6]])
    result = nnlab.gradcheck(lambda a, b: (a * 2).sum() + scaled_wrongly_at((1, 0), 1.5)(b).sum(), [a, b])
    assert not result and result.input_index == 1 and result.element == (1, 0)


def test_tolerances_decide():
    x = f64([0.7, -0.2])
    fn = scaled_wrongly_at((0,), 1 + 1e-4)  # a relative error of 1e-4 at element 0
    assert nnlab.gradcheck(fn, [x])  # within rtol=1e-3
    strict = nnlab.gradcheck(fn, [x], atol=1e-9, rtol=1e-6)
    assert not strict and strict.element == (0,)


def test_inputs_without_requires_grad_are_not_checked():
    x, data = f64([1.0, 2.0]), f64([5.0, 6.0], requires_grad=False)
    result = nnlab.gradcheck(lambda x, d: square_with_wrong_backward(d).sum() + (x * d).sum(), [x, data])
    assert result and result.checks == 2  # the wrong op only touches `data`, which is not checked


def test_an_input_the_output_does_not_depend_on_has_zero_gradient():
    x, unused = f64([1.0, 2.0]), f64([3.0])
    assert nnlab.gradcheck(lambda x, u: x * 2, [x, unused])
    assert nnlab.gradcheck(lambda u: f64(1.0, requires_grad=False) * 1.0, [unused])


# ------------------------------------------------------------------------------ refusals
def test_refuses_float32_with_a_clear_message():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0 has dtype float32.*float64"):
        nnlab.gradcheck(lambda t: t * 2, [x])


def test_refuses_non_tensors_and_nothing_to_check():
    with pytest.raises(TypeError, match="expected an nnlab Tensor"):
        nnlab.gradcheck(lambda t: t * 2, [np.ones(2)])
    with pytest.raises(ValueError, match="no input requires grad"):
        nnlab.gradcheck(lambda t: t * 2, [f64([1.0], requires_grad=False)])


# ------------------------------------------------------------------------------ side effects
def test_leaves_values_and_gradients_as_they_were():
    x = f64([0.1, 0.2, 0.3])
    original = x.data.copy()
    x.grad = np.array([7.0, 8.0, 9.0])
    nnlab.gradcheck(lambda t: (t * t).sum(), [x])
    np.testing.assert_array_equal(x.data, original)
    assert x.grad.tolist() == [7.0, 8.0, 9.0]


def test_restores_values_when_the_function_raises_half_way():
    x = f64([0.1, 0.2, 0.3])
    original = x.data.copy()
    calls = []

    def fn(t):
        calls.append(1)
        if len(calls) > 3:  # fails in the middle of the finite differences
            raise ArithmeticError("boom")
        return (t * t).sum()

    with pytest.raises(ArithmeticError):
        nnlab.gradcheck(fn, [x])
    np.testing.assert_array_equal(x.data, original)


def test_same_seed_same_report():
    x = f64([1.0, -3.0, 0.5])
    fn = square_with_wrong_backward
    assert nnlab.gradcheck(fn, [x], seed=5) == nnlab.gradcheck(fn, [x], seed=5)


# ------------------------------------------------------------------------------ random direction
def _large():
    return f64(np.random.default_rng(1).standard_normal((50, 50)))  # 2,500 elements


def test_large_inputs_use_one_random_direction():
    x = _large()
    result = nnlab.gradcheck(lambda t: F.tanh(t @ t).sum() + F.logsumexp(t), [x])
    assert result
    assert result.checks == 1 and result.element is None and result.input_index == 0


@pytest.mark.parametrize(
    "wrong",
    [square_with_wrong_backward, scaled_wrongly_at((17, 4), 3.0)],
    ids=["wrong everywhere", "wrong at one element"],
)
def test_random_direction_catches_a_wrong_gradient(wrong):
    result = nnlab.gradcheck(lambda t: wrong(t).sum(), [_large()])
    assert not result and result.checks == 1
    assert "MISMATCH" in str(result)


def test_directional_can_be_forced_either_way():
    x = f64(np.linspace(-1, 1, 6))
    forced = nnlab.gradcheck(lambda t: F.sigmoid(t), [x], directional=True)
    assert forced and forced.checks == 1
    caught = nnlab.gradcheck(lambda t: square_with_wrong_backward(t), [x], directional=True)
    assert not caught
    per_element = nnlab.gradcheck(lambda t: t.exp().sum(), [_large()], directional=False)
    assert per_element and per_element.checks == 2_500


@pytest.mark.parametrize("directional", [False, True])
def test_a_nan_gradient_or_objective_fails(directional):
    x = nnlab.tensor(np.random.default_rng(0).normal(size=(3, 2)), requires_grad=True, dtype=np.float64)
    nan_grad = lambda a: make_result(np.tanh(a.data), (a,), lambda g: (g * np.nan,)).sum()  # noqa: E731
    assert not nnlab.gradcheck(nan_grad, [x], directional=directional)
    assert not nnlab.gradcheck(lambda a: (a * np.nan).sum(), [x], directional=directional)


@pytest.mark.parametrize("directional", [False, True])
@pytest.mark.parametrize("factor", [np.nan, np.inf])
def test_a_nan_or_infinite_mismatch_reports_infinite_errors(directional, factor):
    x = nnlab.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf − inf along a random direction
        result = nnlab.gradcheck(lambda t: (t * factor).sum(), [x], directional=directional)
    assert not result and result.worst_abs == result.worst_rel == np.inf
    assert "worst rel error inf" in str(result)
