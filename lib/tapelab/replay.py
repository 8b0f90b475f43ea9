"""Replay memory: the last ``capacity`` transitions of Q-learning, kept in five NumPy arrays.

04's reference learner (:class:`tapelab.qlearner.ReplayBuffer`) and 05's DQN
(:class:`tapelab.dqn.ReplayBuffer`, whose ``sample`` the students write) store their
transitions here; they differ only in how a minibatch is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ReplayMemory:
    """The last ``capacity`` transitions in five NumPy arrays; ``sample`` is left to a subclass.

    ``states[i]``, ``actions[i]``, ``rewards[i]``, ``next_states[i]``, ``dones[i]`` is one transition;
    rows 0 to ``len(self) − 1`` are filled. Once full, each new transition overwrites the oldest, so
    every row holds one of the last ``capacity`` transitions.
    """

    def __init__(self, capacity: int, state_dim: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be a positive number of transitions, actual: {capacity}.")
        self.capacity = int(capacity)
        self.state_dim = int(state_dim)
        self.states = np.zeros([capacity, state_dim], np.float32)
        self.actions = np.zeros([capacity], np.int32)
        self.rewards = np.zeros([capacity], np.float32)
        self.next_states = np.zeros([capacity, state_dim], np.float32)
        self.dones = np.zeros([capacity], np.float32)
        self.size = 0
        self._next = 0     # the row the next transition goes to

    def __len__(self) -> int:
        return self.size

    def add(self, states: Any, actions: Any, rewards: Any, next_states: Any, dones: Any) -> None:
        """Store a batch of transitions (each argument with a leading batch axis), oldest first."""
        states = np.asarray(states, np.float32).reshape(-1, self.state_dim)
        count = len(states)
        columns = (np.asarray(actions, np.int32).reshape(-1), np.asarray(rewards, np.float32).reshape(-1),
                   np.asarray(next_states, np.float32).reshape(-1, self.state_dim),
                   np.asarray(dones, np.float32).reshape(-1))
        if any(len(column) != count for column in columns):
            raise ValueError(f"add() needs one action, reward, next state and done flag per state, actual: "
                             f"{count} states and {[len(c) for c in columns]}.")
        kept = slice(max(0, count - self.capacity), count)     # more than capacity at once: the last ones stay
        rows = (self._next + np.arange(count)[kept]) % self.capacity
        for store, values in zip((self.states, self.actions, self.rewards, self.next_states, self.dones),
                                 (states, *columns)):
            store[rows] = values[kept]
        self._next = int((self._next + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Any:
        """``batch_size`` stored transitions drawn with ``rng``; written by a subclass."""
        raise NotImplementedError(
            f"{type(self).__name__}.sample(batch_size, rng) is not written yet: ReplayMemory stores the "
            "transitions and leaves drawing a minibatch to its subclass (see tapelab.dqn.ReplayBuffer).")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}/{self.capacity} transitions)"
