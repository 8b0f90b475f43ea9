"""The exact optimal Q* of a finite-episode world, by dynamic programming.

For a world with deterministic transitions s' = T(s, a), known reward means
R(s, a) = E[r | s, a] and an episode that ends after finitely many steps, the optimal
action values satisfy the Bellman optimality equation

    Q*(s, a) = R(s, a) + γ · max_a' Q*(s', a')      (just R(s, a) when s' is terminal),

and the backward recursion over the episode computes them exactly. Because the state of the
course's bandits includes the progress counter, Q* depends on the step: near the end of an
episode there is less future to invest in.

A learned Q-network is judged against this: its greedy policy argmax_a Q(s, a) should pick
an optimal action in every reachable state (actions within ``tol`` of the best count as
optimal, so exact ties do not matter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

State = tuple[float, ...]


@dataclass
class QStar:
    """Q*(s, a) for every reachable non-terminal state s of a world, with γ = ``discount``.

    ``states`` lists the reachable non-terminal states in step order (step 0 first);
    ``q[s]`` is the vector of Q*(s, ·) and ``step[s]`` the number of actions taken before s.
    """

    discount: float
    action_dim: int
    initial: State
    states: list[State]
    q: dict[State, np.ndarray]
    step: dict[State, int]
    _dynamics: Any = field(repr=False, default=None)
    _rounded: dict[State, np.ndarray] | None = field(repr=False, default=None)

    def __call__(self, state: Sequence[float]) -> np.ndarray:
        """Q*(s, ·) as an array of length action_dim (states given as float32 are matched too)."""
        key = tuple(float(x) for x in state)
        if key in self.q:
            return self.q[key]
        if self._rounded is None:
            self._rounded = {_rounded(s): v for s, v in self.q.items()}
        try:
            return self._rounded[_rounded(key)]
        except KeyError:
            raise KeyError(f"state {list(key)} is not a reachable state of this world") from None

    def __repr__(self) -> str:
        return (f"QStar(discount={self.discount:g}, action_dim={self.action_dim}, "
                f"states={len(self.states)}, V*(start)={self.value():.3f})")

    def value(self, state: Sequence[float] | None = None) -> float:
        """V*(s) = max_a Q*(s, a); the optimal expected return from the start by default."""
        return float(np.max(self(self.initial if state is None else state)))

    def policy(self, state: Sequence[float]) -> int:
        """The optimal action argmax_a Q*(s, a) (the lowest index among exact ties)."""
        return int(np.argmax(self(state)))

    def optimal_actions(self, state: Sequence[float], tol: float = 1e-9) -> list[int]:
        """Every action a with Q*(s, a) ≥ max_a' Q*(s, a') − tol."""
        values = self(state)
        return [int(a) for a in np.flatnonzero(values >= values.max() - tol)]

    def states_at(self, step: int) -> list[State]:
        """The reachable states after ``step`` actions."""
        return [s for s in self.states if self.step[s] == step]

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, Q): every reachable state as a row of S [n, state_dim] and Q*(s, ·) as a row of Q [n, action_dim]."""
        return (np.array(self.states, dtype=np.float32),
                np.array([self.q[s] for s in self.states], dtype=np.float64))

    def greedy_path(self, q_values: Callable[[np.ndarray], np.ndarray]) -> list[State]:
        """The states visited when playing argmax_a Q(s, a) of ``q_values`` from the start."""
        world = self._dynamics
        path: list[State] = []
        s = list(self.initial)
        while not world.is_terminal(s):
            path.append(tuple(s))
            a = int(np.argmax(np.asarray(q_values(np.array([s], np.float32)))[0]))
            s = [float(x) for x in world.transition(s, a)]
        return path

    def disagreements(self, q_values: Callable[[np.ndarray], np.ndarray], tol: float = 0.1,
                      where: str = "greedy-path") -> list[State]:
        """States where the greedy action of ``q_values`` is not optimal (Q* more than ``tol`` below the best).

        ``q_values`` maps a batch of states [n, state_dim] to action values [n, action_dim],
        e.g. ``model.predict_q``. ``where="greedy-path"`` checks the states the greedy policy
        visits from the start (so its play is optimal); ``where="all"`` every reachable state.
        """
        if where == "greedy-path":
            states = self.greedy_path(q_values)
        elif where == "all":
            states = self.states
        else:
            raise ValueError(f"where must be 'greedy-path' or 'all', actual: {where!r}.")
        q_star = np.array([self(s) for s in states])
        greedy = np.argmax(np.asarray(q_values(np.array(states, np.float32))), axis=-1)
        chosen = q_star[np.arange(len(states)), greedy]
        bad = chosen < q_star.max(axis=1) - tol
        return [states[i] for i in np.flatnonzero(bad)]

    def is_greedy_optimal(self, q_values: Callable[[np.ndarray], np.ndarray], tol: float = 0.1,
                          where: str = "greedy-path") -> bool:
        """Whether the greedy policy of ``q_values`` picks an optimal action in every state of ``where``."""
        return not self.disagreements(q_values, tol, where)

    def policy_value(self, policy: Callable[[Sequence[float]], int], state: Sequence[float] | None = None) -> float:
        """The exact expected (discounted) return of a deterministic ``policy`` from ``state`` (the start by default)."""
        world = self._dynamics
        s: list[float] = list(self.initial if state is None else state)
        total, factor = 0.0, 1.0
        while not world.is_terminal(s):
            a = int(policy(s))
            total += factor * world.mean_reward(s, a)
            factor *= self.discount
            s = world.transition(s, a)
        return total


def _rounded(state: State) -> State:
    return tuple(round(x, 5) for x in state)


def q_star(world: Any, discount: float) -> QStar:
    """Solve Q* for ``world`` (an instance or a class) by backward induction over the episode.

    The world must expose its dynamics: ``initial_state()``, ``transition(s, a)``,
    ``mean_reward(s, a)``, ``is_terminal(s)`` and ``action_dim`` (both bandits of
    :mod:`tapelab.worlds` do). Raises ValueError when the episode does not end.
    """
    if isinstance(world, type):
        world = world(seed=0)
    for name in ("initial_state", "transition", "mean_reward", "is_terminal"):
        if not callable(getattr(world, name, None)):
            raise TypeError(
                f"q_star needs the world's dynamics, actual: {type(world).__name__} has no method {name}(); "
                "exact Q* is available for worlds with known reward means such as MultiArmedBandit2."
            )
    action_dim = int(world.action_dim)
    initial = tuple(float(x) for x in world.initial_state())

    # Forward: the reachable states, step by step.
    step: dict[State, int] = {initial: 0}
    order: list[State] = [initial]
    frontier = [initial]
    depth = 0
    while frontier:
        depth += 1
        if depth > 100_000:
            raise ValueError("the episode of this world does not end within 100000 steps; Q* needs a finite episode.")
        nxt: list[State] = []
        for s in frontier:
            for a in range(action_dim):
                s2 = tuple(float(x) for x in world.transition(list(s), a))
                if world.is_terminal(s2):
                    continue
                if s2 in step and step[s2] < depth:
                    raise ValueError(
                        "Q* by backward induction needs states that never repeat within an episode, actual: "
                        f"state {list(s2)} comes back; add a progress counter to the state."
                    )
                if s2 not in step:
                    step[s2] = depth
                    order.append(s2)
                    nxt.append(s2)
        frontier = nxt

    # Backward: Q*(s, a) = R(s, a) + γ max_a' Q*(s', a'), latest states first.
    q: dict[State, np.ndarray] = {}
    for s in reversed(order):
        values = np.empty(action_dim)
        for a in range(action_dim):
            s2 = tuple(float(x) for x in world.transition(list(s), a))
            future = 0.0 if world.is_terminal(s2) else float(np.max(q[s2]))
            values[a] = world.mean_reward(list(s), a) + discount * future
        q[s] = values
    return QStar(discount=float(discount), action_dim=action_dim, initial=initial, states=order, q=q,
                 step=step, _dynamics=world)
