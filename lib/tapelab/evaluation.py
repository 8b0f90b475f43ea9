"""Evaluation of a Q-learner: greedy play on seeded worlds, and its regret against the exact Q*.

:func:`evaluate` plays the greedy policy π(s) = argmax_a Q(s, a) (``model.select_best_move``)
for a number of episodes and reports the mean ± std of the undiscounted return. Given the
exact Q* (:class:`tapelab.qstar.QStar`) it also reports the regret

    V*(s₀) − V^π(s₀)

both discounted with Q*'s γ: 0 for an optimal policy, whatever the reward noise of the games.
Worlds are made as in :mod:`tapelab.training` (:func:`tapelab.worldmakers.seeded_worlds`),
so an evaluation repeats exactly for the same ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tapelab.qstar import QStar
from tapelab.worldmakers import seeded_worlds


@dataclass
class Evaluation:
    """Greedy play: mean ± std of the undiscounted return over seeded episodes; exact regret if Q* is known."""

    mean_return: float
    std_return: float
    episodes: int
    optimal_value: float | None = None
    policy_value: float | None = None

    @property
    def regret(self) -> float | None:
        """V*(s₀) − V^greedy(s₀), both discounted with Q*'s γ (0 for an optimal policy)."""
        if self.optimal_value is None or self.policy_value is None:
            return None
        return self.optimal_value - self.policy_value

    def __str__(self) -> str:
        text = f"return {self.mean_return:.2f} ± {self.std_return:.2f} over {self.episodes} episodes"
        if self.regret is not None:
            text += f", regret vs Q* {self.regret:.3f}"
        return text


def evaluate(
    model: Any,
    make_world: Callable[..., Any],
    episodes: int = 100,
    *,
    seed: int = 0,
    qstar: QStar | None = None,
) -> Evaluation:
    """Play ``episodes`` greedy episodes (``model.select_best_move``) on worlds seeded from ``seed``.

    With ``qstar`` also the exact value of the greedy policy and of the optimal one (regret).
    """
    make = seeded_worlds(make_world, seed)
    returns = []
    for _ in range(episodes):
        world = make()
        total = 0.0
        while not world.terminal():
            reward, _ = world.act(model.select_best_move(world))
            total += float(reward)
        returns.append(total)
    result = Evaluation(float(np.mean(returns)), float(np.std(returns)), episodes)
    if qstar is not None:
        result.optimal_value = qstar.value()
        result.policy_value = qstar.policy_value(lambda s: int(np.argmax(model.predict_q(s))))
    return result
