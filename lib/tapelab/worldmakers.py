"""Makers of fresh worlds: zero-argument callables that each return a new world.

``make_world`` is a class or a function that makes a world; when it accepts a ``seed``
argument, the maker passes one:

* :func:`fresh_worlds` gives every world the same ``seed``, so two of them play the same
  episode for the same actions (the world checker replays an episode this way);
* :func:`seeded_worlds` gives every world the next seed of a ``numpy.random.SeedSequence``
  spawned from ``seed``, so games differ from each other yet a run repeats exactly.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np


def accepts_seed(make_world: Callable[..., Any]) -> bool:
    """Whether `make_world` has a parameter named ``seed`` (False when its signature cannot be read)."""
    try:
        return "seed" in inspect.signature(make_world).parameters
    except (TypeError, ValueError):
        return False


def fresh_worlds(world_or_factory: Any, seed: int) -> Callable[[], Any]:
    """A zero-argument maker of fresh worlds that all start from the same seed.

    `world_or_factory` is a world (deep-copied, never played itself) or a callable that
    makes one (called with ``seed=seed`` when it accepts a ``seed`` argument).
    """
    if isinstance(world_or_factory, type) or (callable(world_or_factory) and not hasattr(world_or_factory, "act")):
        factory = world_or_factory
        if accepts_seed(factory):
            return lambda: factory(seed=seed)
        return factory
    template = copy.deepcopy(world_or_factory)
    return lambda: copy.deepcopy(template)


def seeded_worlds(make_world: Callable[..., Any], seed: int | None) -> Callable[[], Any]:
    """A maker of fresh worlds; each gets the next seed of a SeedSequence when make_world takes one."""
    if not accepts_seed(make_world):
        return make_world
    parent = np.random.SeedSequence(seed)

    def make() -> Any:
        return make_world(seed=int(parent.spawn(1)[0].generate_state(1)[0]))

    return make
