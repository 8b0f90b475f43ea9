"""Worlds a QLearner can learn in: the protocol, the course's two bandits, a scripted world, Gymnasium.

A *world* is anything with

* ``state`` -- the current observation, a flat Python ``list`` of floats,
* ``action_dim`` -- the number of actions; an action is an ``int`` in ``range(action_dim)``,
* ``act(action) -> (reward, next_state)`` -- perform the action, return the reward r
  (a float) and the new state s' (a *new* list, equal to ``world.state`` afterwards),
* ``terminal() -> bool`` -- whether the episode is over.

Q-learning only ever sees these four things: it observes s, picks a, receives r and s',
and learns Q(s, a) ≈ r + γ·max_a' Q(s', a') (just r when ``terminal()``).

The two bandits reproduce the course's original worlds exactly (reward means, the one-hot
state plus the progress counter, the terminal rule, the reward scaling of the first one),
but draw their rewards from their own ``numpy.random.Generator`` so a seed repeats an episode.
They also expose their dynamics (:meth:`transition`, :meth:`mean_reward`,
:meth:`is_terminal`) so :mod:`tapelab.qstar` can compute the exact Q* by dynamic programming.
:func:`check_world` (from :mod:`tapelab.worldcheck`) tells whether a world keeps the protocol.
"""

from __future__ import annotations

import operator
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

# The checker lives in its own module; these names stay importable from here.
from tapelab.worldcheck import NUMBER_TYPES, WorldCheckError, WorldProblem, check_world, find_world_problems

__all__ = ["World", "MultiArmedBandit", "MultiArmedBandit2", "ScriptedWorld", "GymWorld", "gym_world", "as_generator",
           "check_world", "find_world_problems", "WorldProblem", "WorldCheckError", "NUMBER_TYPES"]

SeedLike = int | np.random.Generator | None


@runtime_checkable
class World(Protocol):
    """What a QLearner needs from a problem.

    ``state`` is a flat list of floats; ``act(action)`` takes an int in ``range(action_dim)``
    and returns ``(reward, next_state)`` where ``next_state`` is a fresh list equal to the new
    ``state``; ``terminal()`` says whether the episode has ended.
    """

    action_dim: int
    state: list[float]

    def act(self, action: int) -> tuple[float, list[float]]: ...

    def terminal(self) -> bool: ...


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A NumPy Generator from an int seed, an existing Generator (used as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _action_index(action: Any, action_dim: int) -> int:
    """`action` as an int in range(action_dim), or a ValueError/TypeError that says what is wrong."""
    try:
        index = operator.index(action)
    except TypeError:
        raise TypeError(
            f"action must be an int in range({action_dim}), actual: {action!r} of type "
            f"{type(action).__name__}; convert an argmax result with int(...)."
        ) from None
    if not 0 <= index < action_dim:
        raise ValueError(f"action must be in range({action_dim}), actual: {index}.")
    return index


class _FiniteBandit:
    """Shared machinery of the two bandits: a one-hot state plus a progress counter.

    The state is ``one_hot(previous action) + [progress]``; every action adds
    ``progress_step`` to the progress, and the episode ends when progress ≥ 1.
    """

    action_dim = 4
    progress_step: float

    def __init__(self, seed: SeedLike = None) -> None:
        self.rng = as_generator(seed)
        self.state: list[float] = self.initial_state()

    # -- dynamics, shared by act() and by the exact Q* of tapelab.qstar -------------------
    def initial_state(self) -> list[float]:
        raise NotImplementedError

    def mean_reward(self, state: Sequence[float], action: int) -> float:
        """E[r | s, a]."""
        raise NotImplementedError

    def transition(self, state: Sequence[float], action: int) -> list[float]:
        """s' after action a in s (deterministic): the one-hot of a, progress + progress_step."""
        return [1.0 if i == action else 0.0 for i in range(self.action_dim)] + [
            state[self.action_dim] + self.progress_step
        ]

    @staticmethod
    def is_terminal(state: Sequence[float]) -> bool:
        """Whether the episode is over in state s: its progress counter reached 1."""
        return state[-1] >= 1

    # -- the world protocol ------------------------------------------------------------
    def terminal(self) -> bool:
        return self.is_terminal(self.state)

    def act(self, action: int) -> tuple[float, list[float]]:
        a = _action_index(action, self.action_dim)
        if self.terminal():
            raise RuntimeError("the episode is over (terminal() is True): make a new world to play again.")
        reward = self._reward(a)
        self.state = self.transition(self.state, a)
        return reward, list(self.state)

    def _reward(self, action: int) -> float:
        return float(self.rng.normal(self.mean_reward(self.state, action), 1.0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(state={self.state})"


class MultiArmedBandit(_FiniteBandit):
    """Four arms with mean rewards [0.9, 1.2, 0.7, 1.0], six pulls per episode.

    The state is the one-hot of the previous arm plus a progress counter (start: all zeros).
    The reward of arm a is N(bandits[a], 1) scaled by (k + 1), where k = argmax(state) is the
    previous arm (0 at the start): pulling a high-index arm makes the next pull count more.
    Progress grows by 1/6 + 1/1000 per pull; the episode ends at progress ≥ 1.
    """

    progress_step = 1 / 6 + 1 / 1000

    def __init__(self, seed: SeedLike = None) -> None:
        self.bandits = [0.9, 1.2, 0.7, 1.0]
        super().__init__(seed)

    def initial_state(self) -> list[float]:
        return [0.0] * (self.action_dim + 1)

    def mean_reward(self, state: Sequence[float], action: int) -> float:
        scale = int(np.argmax(state)) + 1
        return self.bandits[action] * scale

    def _reward(self, action: int) -> float:
        # As in the original: draw N(mean, 1) for the arm, then scale the draw.
        scale = int(np.argmax(self.state)) + 1
        return float(self.rng.normal(self.bandits[action], 1.0)) * scale


class MultiArmedBandit2(_FiniteBandit):
    """A bandit whose reward means depend on the previous arm; twelve pulls per episode.

    In one-hot state k (start: k = 0), pulling arm a pays N(meanmatrix[k][a], 1) and moves
    to state a. Progress grows by 1/12 + 1/1000 per pull; the episode ends at progress ≥ 1.
    """

    progress_step = 1 / 12 + 1 / 1000

    def __init__(self, seed: SeedLike = None) -> None:
        self.meanmatrix = [[1, 3, 2, 4],
                           [0, 1, 4, 3],
                           [5, 0, 0, 0],
                           [1, 3, 1, 3]]
        super().__init__(seed)

    def initial_state(self) -> list[float]:
        return [1.0] + [0.0] * self.action_dim

    def mean_reward(self, state: Sequence[float], action: int) -> float:
        return float(self.meanmatrix[list(state).index(1)][action])


class ScriptedWorld:
    """A world that plays a fixed script: the i-th action gets ``script[i] = (reward, next_state)``.

    The episode ends after the last entry. The actions taken are kept in ``actions``, so a
    test can check what a learner chose. Useful for computing a Q-learning step by hand.
    """

    def __init__(self, start: Sequence[float], script: Sequence[tuple[float, Sequence[float]]],
                 action_dim: int = 4) -> None:
        self.action_dim = action_dim
        self.state = [float(x) for x in start]
        self.script = [(float(r), [float(x) for x in s]) for r, s in script]
        self.actions: list[Any] = []

    def act(self, action: int) -> tuple[float, list[float]]:
        _action_index(action, self.action_dim)
        if self.terminal():
            raise RuntimeError("the episode is over (terminal() is True): make a new world to play again.")
        self.actions.append(action)
        reward, state = self.script[len(self.actions) - 1]
        self.state = list(state)
        return reward, list(state)

    def terminal(self) -> bool:
        return len(self.actions) >= len(self.script)


# ---------------------------------------------------------------------------------------
# Gymnasium adapter
# ---------------------------------------------------------------------------------------

class GymWorld:
    """A Gymnasium environment with a ``Discrete`` action space, seen as a world.

    Discrete observations become one-hot lists; Box observations are flattened to a list of
    floats. ``terminal()`` is True once the environment reports terminated or truncated
    (the Q-learning target then drops the γ·max Q(s') term, as for a true end).
    """

    def __init__(self, env: Any, seed: int | None = None) -> None:
        from gymnasium import spaces

        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(
                f"the action space must be gymnasium.spaces.Discrete, actual: {env.action_space}; "
                "a QLearner picks one of action_dim actions."
            )
        self.env = env
        self.action_dim = int(env.action_space.n)
        self._discrete_obs = isinstance(env.observation_space, spaces.Discrete)
        observation, _ = env.reset(seed=seed)
        self.state = self._encode(observation)
        self._done = False

    def _encode(self, observation: Any) -> list[float]:
        if self._discrete_obs:
            n = int(self.env.observation_space.n)
            return [1.0 if i == int(observation) else 0.0 for i in range(n)]
        return [float(x) for x in np.asarray(observation, dtype=np.float64).ravel()]

    def act(self, action: int) -> tuple[float, list[float]]:
        a = _action_index(action, self.action_dim)
        if self._done:
            raise RuntimeError("the episode is over (terminal() is True): make a new world to play again.")
        observation, reward, terminated, truncated, _ = self.env.step(a)
        self._done = bool(terminated or truncated)
        self.state = self._encode(observation)
        return float(reward), list(self.state)

    def terminal(self) -> bool:
        return self._done


def gym_world(env_id: str, seed: int | None = None, **make_kwargs: Any) -> GymWorld:
    """``GymWorld(gymnasium.make(env_id, **make_kwargs), seed)``."""
    import gymnasium

    return GymWorld(gymnasium.make(env_id, **make_kwargs), seed=seed)
