"""One call seeds every random number generator a course notebook touches."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, Keras and TensorFlow with ``seed``.

    After this, building a model (its initial weights) and training it with seeded worlds
    repeats bit for bit. Worlds and learners that take their own ``seed`` are seeded separately.
    """
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds TensorFlow's global generator
