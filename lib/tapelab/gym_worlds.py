"""Gymnasium environments as kit worlds: one at a time (:class:`GymnasiumWorld`) or many as one NumPy batch.

A kit world (:class:`tapelab.worlds.World`) has ``state``, ``action_dim``, ``act(a) -> (r, s')`` and
``terminal()``. A Gymnasium episode ends in one of two ways, and Q-learning must tell them apart:

* **terminated**: the MDP reached a terminal state (CartPole: the pole leans more than 12° or the
  cart leaves [−2.4, 2.4]). Nothing follows it, so the target is y = r;
* **truncated**: a time limit cut the episode (CartPole-v1: after 500 steps) in a state that could
  have gone on. The time is not part of the state, so s' is worth what it is always worth and the
  target still bootstraps: y = r + γ·max_a' Q(s', a').

Both: y = r + γ·(1 − terminated)·max_a' Q(s', a'). :class:`GymnasiumWorld` keeps the world protocol
(``terminal()`` is True after either, the episode is over) and says which in ``terminated`` and
``truncated``; its state is a fresh list of Python floats, so it passes
:func:`tapelab.worldcheck.check_world`, and a seed repeats an episode.

:class:`VectorWorlds` steps ``n`` copies of an environment in one call, made by
``gymnasium.make_vec(env_id, n, vectorization_mode="vector_entry_point")`` (CartPole has a
NumPy-vectorised implementation: all n carts are one array). Gymnasium's vector environments reset
a finished copy on the *next* step (autoreset mode NEXT_STEP): that step ignores the copy's action
and returns its new start state with reward 0. :meth:`VectorWorlds.step` marks such entries
``fresh``: they are no transitions, and a learner must not store them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from tapelab.worlds import GymWorld, _action_index

__all__ = ["GymnasiumWorld", "CartPoleWorld", "VectorWorlds", "VectorStep"]


class GymnasiumWorld(GymWorld):
    """A Gymnasium environment with ``Discrete`` actions as a world that tells termination from truncation.

    ``env`` is an environment or an id for ``gymnasium.make(env, **make_kwargs)``; ``seed`` seeds its
    reset, so two worlds with one seed play the same episode for the same actions. After the last
    action ``terminal()`` is True, and ``terminated`` (a true end: y = r) or ``truncated`` (a time
    limit: y = r + γ·max_a' Q(s', a')) says why.
    """

    def __init__(self, env: Any, seed: int | None = None, **make_kwargs: Any) -> None:
        if isinstance(env, str):
            env = gymnasium.make(env, **make_kwargs)
        super().__init__(env, seed=seed)
        self.terminated = False
        self.truncated = False

    def act(self, action: int) -> tuple[float, list[float]]:
        """Step the environment; returns (r, s') with s' a new list equal to ``self.state``."""
        a = _action_index(action, self.action_dim)
        if self._done:
            raise RuntimeError("the episode is over (terminal() is True): make a new world to play again.")
        observation, reward, terminated, truncated, _ = self.env.step(a)
        self.terminated, self.truncated = bool(terminated), bool(truncated)
        self._done = self.terminated or self.truncated
        self.state = self._encode(observation)
        return float(reward), list(self.state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(state={[round(x, 4) for x in self.state]})"


class CartPoleWorld(GymnasiumWorld):
    """CartPole-v1 as a world: s = [x, ẋ, θ, θ̇], actions 0 (push left) and 1 (push right), r = 1 per step.

    The episode terminates when |θ| > 12° or |x| > 2.4 and is truncated after ``max_episode_steps``
    (500 in CartPole-v1).
    """

    def __init__(self, seed: int | None = None, max_episode_steps: int = 500) -> None:
        super().__init__("CartPole-v1", seed=seed, max_episode_steps=max_episode_steps)


class VectorStep(NamedTuple):
    """What one joint step of :class:`VectorWorlds` gives back, one entry per copy ([n] or [n, state_dim]).

    Where ``fresh`` is True the copy was reset instead of stepped: ``next_states`` is its new start
    state and the entry is no transition. Elsewhere (``rewards``, ``next_states``, ``terminated``,
    ``truncated``) is the transition (s, a, r, s') of the action, s' the final state when the episode
    ended. ``episode_returns`` holds the undiscounted return of each episode that ended in this step
    (terminated or truncated), NaN for the others.
    """

    rewards: np.ndarray
    next_states: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    fresh: np.ndarray
    episode_returns: np.ndarray


class VectorWorlds:
    """``n`` copies of a Gymnasium environment, stepped as one NumPy batch (Gymnasium's vector entry point).

    ``states`` is the float32 array [n, state_dim] of the states the next actions are taken in;
    :meth:`step` takes n actions and returns a :class:`VectorStep`. ``seed`` seeds the first reset,
    and with it every later one, so a run repeats exactly.
    """

    def __init__(self, env_id: str = "CartPole-v1", n: int = 8, seed: int | None = None, **make_kwargs: Any) -> None:
        self.envs = gymnasium.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **make_kwargs)
        mode = self.envs.metadata.get("autoreset_mode", gymnasium.vector.AutoresetMode.NEXT_STEP)
        if mode != gymnasium.vector.AutoresetMode.NEXT_STEP:
            raise ValueError(f"VectorWorlds steps vector environments that reset on the next step (autoreset mode "
                             f"NEXT_STEP), actual: {mode}.")
        if not isinstance(self.envs.single_action_space, spaces.Discrete):
            raise TypeError(f"the action space must be gymnasium.spaces.Discrete, actual: "
                            f"{self.envs.single_action_space}; a Q-network picks one of action_dim actions.")
        self.n = int(n)
        self.action_dim = int(self.envs.single_action_space.n)
        observations, _ = self.envs.reset(seed=seed)
        self.states = np.asarray(observations, np.float32)
        self.state_dim = self.states.shape[1]
        self._resets_next = np.zeros(self.n, bool)    # copies whose episode ended: the next step resets them
        self._totals = np.zeros(self.n, np.float64)

    def step(self, actions: np.ndarray) -> VectorStep:
        """Take action ``actions[i]`` in copy i (ignored for a copy being reset); the states move on."""
        actions = np.asarray(actions)
        if actions.shape != (self.n,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions must be {self.n} integers, one per copy, actual: an array of shape "
                             f"{actions.shape} and dtype {actions.dtype}.")
        if actions.min() < 0 or actions.max() >= self.action_dim:
            raise ValueError(f"actions must be in range({self.action_dim}), actual: {actions.tolist()}.")
        observations, rewards, terminated, truncated, _ = self.envs.step(actions.astype(np.int64))
        fresh = self._resets_next
        ended = (np.asarray(terminated) | np.asarray(truncated)) & ~fresh
        self._totals = np.where(fresh, 0.0, self._totals + rewards)
        episode_returns = np.where(ended, self._totals, np.nan)
        self._resets_next = ended
        self.states = np.asarray(observations, np.float32)
        return VectorStep(np.asarray(rewards, np.float32), self.states, np.asarray(terminated, bool) & ~fresh,
                          np.asarray(truncated, bool) & ~fresh, fresh.copy(), episode_returns)

    def close(self) -> None:
        self.envs.close()

    def __repr__(self) -> str:
        return f"VectorWorlds({self.envs.spec.id if self.envs.spec else '?'}, n={self.n})"
