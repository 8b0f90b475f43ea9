"""Worlds a QLearner can learn in: the protocol, the course's two bandits, a checker.

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
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import operator
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

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


# ---------------------------------------------------------------------------------------
# check_world
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorldProblem:
    """One defect found by :func:`check_world`: a stable code and a plain-language message."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class WorldCheckError(AssertionError):
    """Raised by :func:`check_world`; ``problems`` lists every defect found."""

    def __init__(self, problems: list[WorldProblem]) -> None:
        self.problems = problems
        lines = [f"the world has {len(problems)} problem(s):"] + [f"- {p.message}" for p in problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


#: the number types a state or a reward may hold: Python's and NumPy's own (the tests compare exactly these).
NUMBER_TYPES = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                np.uint64, np.uint32, np.uint16, np.uint8)


def _state_problem(state: Any, where: str) -> WorldProblem | None:
    if type(state) is not list:
        return WorldProblem(
            "state-not-list",
            f"{where} must be a flat Python list of floats, actual: {_describe(state)}; "
            "build it with [...] or convert it with list(...).",
        )
    if not state:
        return WorldProblem("state-not-list", f"{where} must be a non-empty list of floats, actual: [].")
    for i, x in enumerate(state):
        if type(x) not in NUMBER_TYPES:
            return WorldProblem(
                "state-not-list",
                f"{where} must be a flat list of floats, actual: element {i} is {_describe(x)}; "
                "nested lists, tensors and strings cannot be fed to the network.",
            )
        if not math.isfinite(float(x)):
            return WorldProblem("state-not-list", f"{where} must contain finite floats, actual: element {i} is {x}.")
    return None


def _accepts_seed(factory: Callable[..., Any]) -> bool:
    try:
        return "seed" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _fresh(world_or_factory: Any, seed: int) -> Callable[[], Any]:
    """A zero-argument maker of fresh worlds that all start from the same seed."""
    if isinstance(world_or_factory, type) or (callable(world_or_factory) and not hasattr(world_or_factory, "act")):
        factory = world_or_factory
        if _accepts_seed(factory):
            return lambda: factory(seed=seed)
        return factory
    template = copy.deepcopy(world_or_factory)
    return lambda: copy.deepcopy(template)


def _rejects(world: Any, action: Any) -> bool:
    try:
        world.act(action)
    except Exception:  # any error is a refusal
        return True
    return False


def find_world_problems(world_or_factory: Any, *, max_steps: int = 10_000, seed: int = 0) -> list[WorldProblem]:
    """The defects :func:`check_world` reports, as a list (empty when the world is fine)."""
    make = _fresh(world_or_factory, seed)
    try:
        world = make()
    except NotImplementedError:
        raise  # the world is not written yet: that is not a defect to describe
    except Exception as error:  # noqa: BLE001 - reported to the student
        return [WorldProblem("construction-failed", f"making the world failed with {type(error).__name__}: {error}.")]
    problems: list[WorldProblem] = []

    action_dim = getattr(world, "action_dim", None)
    if isinstance(action_dim, bool) or not isinstance(action_dim, numbers.Integral) or action_dim < 1:
        return [WorldProblem(
            "action-dim",
            f"world.action_dim must be a positive int (the number of actions), actual: {_describe(action_dim)}.",
        )]
    for name in ("act", "terminal"):
        if not callable(getattr(world, name, None)):
            return [WorldProblem("missing-method", f"the world must have a method {name}(), see tapelab.worlds.World.")]
    problem = _state_problem(getattr(world, "state", None), "world.state")
    if problem:
        return [problem]

    # One seeded episode with random actions.
    rng = np.random.default_rng(seed)
    length = len(world.state)
    done = world.terminal()
    if not isinstance(done, (bool, np.bool_)):
        problems.append(WorldProblem(
            "terminal-not-bool", f"terminal() must return a bool, actual: {_describe(done)}."))
    actions: list[int] = []
    trajectory: list[tuple[Any, Any]] = []
    steps = 0
    while not done and steps < max_steps:
        action = int(rng.integers(action_dim))
        actions.append(action)
        before = world.state
        snapshot = list(before) if isinstance(before, list) else before
        try:
            out = world.act(action)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001
            problems.append(WorldProblem(
                "act-failed", f"act({action}) raised {type(error).__name__}: {error}."))
            break
        steps += 1
        if not (isinstance(out, tuple) and len(out) == 2):
            problems.append(WorldProblem(
                "act-return",
                f"act(action) must return a tuple (reward, next_state), actual: {_describe(out)}.",
            ))
            break
        reward, next_state = out
        trajectory.append((reward, list(next_state) if isinstance(next_state, list) else next_state))
        if type(reward) not in NUMBER_TYPES or not math.isfinite(float(reward)):
            problems.append(WorldProblem(
                "reward-not-finite",
                f"the reward must be a finite float, actual: {_describe(reward)}; "
                "convert a tensor with float(...) and check for division by zero.",
            ))
            break
        problem = _state_problem(next_state, "the next_state returned by act()")
        if problem:
            problems.append(problem)
            break
        if len(next_state) != length:
            problems.append(WorldProblem(
                "state-length",
                f"the state must keep its length, actual: {length} at the start and {len(next_state)} "
                f"after {steps} action(s); the network has a fixed number of inputs.",
            ))
            break
        if next_state != world.state:
            problems.append(WorldProblem(
                "state-mismatch",
                "act() must return the new state, actual: the returned next_state differs from world.state "
                "after the action; most likely act() returns the old state.",
            ))
            break
        if next_state is world.state:
            problems.append(WorldProblem(
                "state-aliasing",
                "act() must return a new list, actual: it returned world.state itself, so a caller that keeps "
                "it sees it change; return list(self.state).",
            ))
            break
        if before != snapshot:
            problems.append(WorldProblem(
                "state-aliasing",
                "act() must leave the previous state list alone, actual: it changed world.state in place, so "
                "the state s a learner saved before acting changed too; assign a new list to self.state.",
            ))
            break
        done = world.terminal()
    else:
        if not done:
            problems.append(WorldProblem(
                "never-terminates",
                f"an episode must end, actual: terminal() is still False after {max_steps} random actions; "
                "check the condition in terminal() and that act() moves towards it.",
            ))

    # Invalid actions must be refused, not silently accepted.
    for bad in (action_dim, -1):
        try:
            probe = make()
        except Exception:  # noqa: BLE001
            break
        if not _rejects(probe, bad):
            problems.append(WorldProblem(
                "invalid-action",
                f"act({bad}) must raise an error for an action outside range({action_dim}), actual: it was "
                "accepted; Python lists accept index -1 and slices silently, so check the range yourself.",
            ))
            break

    # The same seed and the same actions must give the same episode.
    if not problems and actions:
        replay = make()
        for i, action in enumerate(actions):
            try:
                reward, next_state = replay.act(action)
            except Exception:  # noqa: BLE001
                break
            if (reward, list(next_state)) != trajectory[i]:
                problems.append(WorldProblem(
                    "nondeterministic",
                    f"two worlds made with the same seed must give the same rewards and states for the same "
                    f"actions, actual: they differ at step {i + 1}; draw random numbers from the world's own "
                    "numpy Generator (np.random.default_rng(seed)), not from random or np.random.",
                ))
                break
    return problems


def check_world(world_or_factory: Any, *, max_steps: int = 10_000, seed: int = 0) -> None:
    """Play a world with seeded random actions and raise :class:`WorldCheckError` if it is broken.

    A ``NotImplementedError`` (a world whose methods are not written yet) passes through unchanged.

    ``world_or_factory`` is a world (it is deep-copied, never played itself) or a callable
    that makes one (called with ``seed=seed`` when it accepts a ``seed`` argument). Checked:
    ``state`` is a plain Python list (no subclass) of finite numbers, each of
    :data:`NUMBER_TYPES` (Python or NumPy floats and ints); ``action_dim`` is a positive int;
    ``act`` returns ``(reward, next_state)`` with a finite reward (also of :data:`NUMBER_TYPES`)
    and a *new* list of the same length equal to ``world.state``; ``terminal()`` is a bool
    (Python or NumPy) and becomes True within
    ``max_steps`` actions; actions outside ``range(action_dim)`` raise; two worlds made with
    the same seed give the same episode for the same actions.
    """
    problems = find_world_problems(world_or_factory, max_steps=max_steps, seed=seed)
    if problems:
        raise WorldCheckError(problems)
