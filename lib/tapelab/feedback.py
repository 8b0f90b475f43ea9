"""Checks that teach: the common mistakes of the course, each with the hint a student sees.

A test cell calls :func:`expect` (or raises :class:`Hint`) with one of the
:data:`MISTAKES` codes. nbgrader shows the raised message in the feedback, so
the student reads what is wrong and where to look instead of a bare traceback.
Hints never contain hidden-test values or the solution.
"""

from __future__ import annotations

from typing import NoReturn

#: code -> (short name, the hint shown to the student). Codes are stable: tests and the
#: `mistakes_diagnosed` benchmark refer to them.
MISTAKES: dict[str, tuple[str, str]] = {
    "no-watch": (
        "a constant used without tape.watch",
        "The gradient is None: the tape only records operations on trainable Variables. "
        "Call tape.watch(x) on a tf.constant, or make x a tf.Variable.",
    ),
    "variable-rebound": (
        "a Variable rebound to a Tensor by x = x - lr * grad",
        "The gradient is None after the first step: `x = x - learning_rate * grad` makes the name x hold a new "
        "tf.Tensor, which the next tape does not watch. Update the Variable in place with "
        "x.assign_sub(learning_rate * grad), so that x stays a tf.Variable.",
    ),
    "numpy-in-tape": (
        "NumPy inside the tape",
        "The gradient is None: a NumPy call (or .numpy()) inside the tape leaves TensorFlow, so the tape "
        "loses the path. Use tf.math / tf operations between the `with` and tape.gradient.",
    ),
    "int-dtype": (
        "an integer tensor where a float one is needed",
        "The gradient is None: tapes only differentiate floating-point tensors. "
        "Create the value as a float (3.0, not 3) or cast it with tf.cast(x, tf.float32).",
    ),
    "all-variables": (
        "model.variables instead of model.trainable_variables",
        "Differentiate with respect to model.trainable_variables, not model.variables: "
        "non-trainable variables (optimizer counters, statistics) have no gradient and must not be updated.",
    ),
    "shape-broadcast": (
        "a [batch, 1] vs [batch] broadcast in the loss",
        "The loss has the wrong shape: a [batch, 1] tensor minus a [batch] tensor broadcasts to [batch, batch]. "
        "Squeeze or index so both sides have the same shape before subtracting.",
    ),
    "terminal-not-masked": (
        "the terminal state not masked in the target",
        "At a terminal state the target must be just the reward: r + γ·max Q(s') only when the episode goes on. "
        "Check world.terminal() after act() and drop the bootstrap term when it is True.",
    ),
    "no-stop-gradient": (
        "no stop_gradient on the target",
        "The gradient flows through the target r + γ·max Q(s'): wrap the next-state Q values in tf.stop_gradient "
        "(or compute them outside the tape) so only Q(s, a) is pushed towards the target.",
    ),
    "argmax-axis": (
        "argmax over the wrong axis / a tensor used as the action",
        "The action must be one integer index into the action_dim outputs (a Python int or a NumPy integer, "
        "not a tensor or an array): take argmax over the last axis of the Q values for one state, e.g. int(...).",
    ),
    "optimizer-not-applied": (
        "the optimizer never applied",
        "The weights did not change after train_step: compute the gradients with tape.gradient and then call "
        "self.optimizer.apply_gradients(zip(grads, self.trainable_variables)).",
    ),
    "state-aliasing": (
        "a world that returns its own mutable state list",
        "act() returned the world's own state list: a caller that changes it changes the world. "
        "Return a copy (list(self.state)) or build a new list for every step.",
    ),
    "epsilon-greedy": (
        "ε-greedy that never explores or always explores",
        "choose_action must pick a uniformly random action with probability exploration_prob and the argmax "
        "of q otherwise; check the comparison against random.random() and which branch returns what.",
    ),
    "adjoint-missing-path": (
        "a chain-rule adjoint missing one of its paths",
        "An adjoint misses a path: a node that feeds several children collects w̄child·∂child/∂w from every one "
        "of them (in the seed graph w1 feeds both w3 = w1·w2 and w4 = sin(w1), so w̄1 = w̄4·∂w4/∂w1 + w̄3·∂w3/∂w1).",
    ),
}


class Hint(AssertionError):
    """A failed check whose message tells the student what to fix."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in MISTAKES:
            raise KeyError(f"unknown mistake code {code!r}; known: {sorted(MISTAKES)}")
        self.code = code
        text = MISTAKES[code][1]
        super().__init__(f"[{code}] {text}" + (f" ({detail})" if detail else ""))


def expect(condition: bool, code: str, detail: str = "") -> None:
    """Raise :class:`Hint` for mistake `code` unless `condition` holds."""
    if not condition:
        raise Hint(code, detail)


def fail(code: str, detail: str = "") -> NoReturn:
    """Raise :class:`Hint` for mistake `code` unconditionally."""
    raise Hint(code, detail)
