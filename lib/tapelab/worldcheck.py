"""check_world: play a world with seeded random actions and name each way it breaks the protocol.

As Gymnasium's ``check_env``, :func:`find_world_problems` runs small checks in order:

1. the world can be made, has a positive ``action_dim``, methods ``act`` and ``terminal``
   and a start ``state`` that is a flat list of finite numbers (a failure here ends the check);
2. one seeded episode of random actions, each step checked as it comes: ``act`` returns
   ``(reward, next_state)``, a finite reward, a new list of the same length equal to
   ``world.state``, the previous state list left alone (the first problem ends the episode);
   ``terminal()`` is a bool and becomes True within ``max_steps`` actions;
3. actions outside ``range(action_dim)`` are refused;
4. two worlds made with the same seed give the same episode for the same actions.

Each problem is a :class:`WorldProblem` (:mod:`tapelab.worldproblems`, with what a state
may be): a stable code and a message saying what was expected, what was found and the
most likely cause. :func:`check_world` raises them together as a :class:`WorldCheckError`.
A ``NotImplementedError`` (a world not written yet) passes through unchanged.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tapelab.worldmakers import fresh_worlds

# The types and the wording of a defect live in their own module; these names stay importable from here.
from tapelab.worldproblems import NUMBER_TYPES, WorldCheckError, WorldProblem, describe_value, state_problem

__all__ = ["check_world", "find_world_problems", "WorldProblem", "WorldCheckError", "NUMBER_TYPES"]


def check_world(world_or_factory: Any, *, max_steps: int = 10_000, seed: int = 0) -> None:
    """Play a world with seeded random actions and raise :class:`WorldCheckError` if it is broken.

    ``world_or_factory`` is a world (it is deep-copied, never played itself) or a callable
    that makes one (called with ``seed=seed`` when it accepts a ``seed`` argument). A state is
    a plain Python list (no subclass) whose elements are each of :data:`NUMBER_TYPES`, as is a
    reward; ``terminal()`` returns a Python or NumPy bool. The checks are listed in the module
    docstring; a ``NotImplementedError`` passes through unchanged.
    """
    problems = find_world_problems(world_or_factory, max_steps=max_steps, seed=seed)
    if problems:
        raise WorldCheckError(problems)


def find_world_problems(world_or_factory: Any, *, max_steps: int = 10_000, seed: int = 0) -> list[WorldProblem]:
    """The defects :func:`check_world` reports, as a list (empty when the world is fine)."""
    make = fresh_worlds(world_or_factory, seed)
    try:
        world = make()
    except NotImplementedError:
        raise  # the world is not written yet: that is not a defect to describe
    except Exception as error:  # noqa: BLE001 - reported to the student
        return [WorldProblem("construction-failed", f"making the world failed with {type(error).__name__}: {error}.")]
    for check in (check_action_dim, check_methods, check_start_state):
        problem = check(world)
        if problem:
            return [problem]
    episode = play_episode(world, max_steps=max_steps, seed=seed)
    problems = episode.problems + check_invalid_actions(make, world.action_dim)
    if not problems and episode.actions:
        problems += check_same_seed_same_episode(make, episode)
    return problems


# -- 1. the world as made -----------------------------------------------------------------

def check_action_dim(world: Any) -> WorldProblem | None:
    action_dim = getattr(world, "action_dim", None)
    if isinstance(action_dim, bool) or not isinstance(action_dim, numbers.Integral) or action_dim < 1:
        return WorldProblem(
            "action-dim",
            f"world.action_dim must be a positive int (the number of actions), actual: {describe_value(action_dim)}.",
        )
    return None


def check_methods(world: Any) -> WorldProblem | None:
    for name in ("act", "terminal"):
        if not callable(getattr(world, name, None)):
            return WorldProblem("missing-method", f"the world must have a method {name}(), see tapelab.worlds.World.")
    return None


def check_start_state(world: Any) -> WorldProblem | None:
    return state_problem(getattr(world, "state", None), "world.state")


# -- 2. one episode ------------------------------------------------------------------------

@dataclass
class Step:
    """One action of the checker's episode: the state before it, and what act() gave back."""

    number: int            # 1 for the first action
    start_length: int      # len(world.state) at the start of the episode
    before: Any            # the world.state object before the action ...
    snapshot: Any          # ... and a copy of it taken then
    reward: Any
    next_state: Any
    state_after: Any       # world.state after the action


@dataclass
class Episode:
    """The actions played, (reward, next_state) after each, and the problems seen on the way."""

    actions: list[int] = field(default_factory=list)
    trajectory: list[tuple[Any, Any]] = field(default_factory=list)
    problems: list[WorldProblem] = field(default_factory=list)


def play_episode(world: Any, *, max_steps: int, seed: int) -> Episode:
    """Play `world` with random actions of a Generator seeded with `seed` until it ends or a step is wrong."""
    rng = np.random.default_rng(seed)
    episode = Episode()
    length = len(world.state)
    done = world.terminal()
    if not isinstance(done, (bool, np.bool_)):
        episode.problems.append(WorldProblem(
            "terminal-not-bool", f"terminal() must return a bool, actual: {describe_value(done)}."))
    while not done and len(episode.actions) < max_steps:
        action = int(rng.integers(world.action_dim))
        episode.actions.append(action)
        before = world.state
        snapshot = list(before) if isinstance(before, list) else before
        try:
            out = world.act(action)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            episode.problems.append(WorldProblem(
                "act-failed", f"act({action}) raised {type(error).__name__}: {error}."))
            return episode
        if not (isinstance(out, tuple) and len(out) == 2):
            episode.problems.append(WorldProblem(
                "act-return", f"act(action) must return a tuple (reward, next_state), actual: {describe_value(out)}."))
            return episode
        reward, next_state = out
        episode.trajectory.append((reward, list(next_state) if isinstance(next_state, list) else next_state))
        step = Step(len(episode.actions), length, before, snapshot, reward, next_state, world.state)
        for check in STEP_CHECKS:
            problem = check(step)
            if problem:
                episode.problems.append(problem)
                return episode
        done = world.terminal()
    if not done:
        episode.problems.append(WorldProblem(
            "never-terminates",
            f"an episode must end, actual: terminal() is still False after {max_steps} random actions; "
            "check the condition in terminal() and that act() moves towards it.",
        ))
    return episode


def check_reward(step: Step) -> WorldProblem | None:
    if type(step.reward) not in NUMBER_TYPES or not math.isfinite(float(step.reward)):
        return WorldProblem(
            "reward-not-finite",
            f"the reward must be a finite float, actual: {describe_value(step.reward)}; "
            "convert a tensor with float(...) and check for division by zero.",
        )
    return None


def check_next_state(step: Step) -> WorldProblem | None:
    return state_problem(step.next_state, "the next_state returned by act()")


def check_state_length(step: Step) -> WorldProblem | None:
    if len(step.next_state) != step.start_length:
        return WorldProblem(
            "state-length",
            f"the state must keep its length, actual: {step.start_length} at the start and {len(step.next_state)} "
            f"after {step.number} action(s); the network has a fixed number of inputs.",
        )
    return None


def check_returns_new_state(step: Step) -> WorldProblem | None:
    if step.next_state != step.state_after:
        return WorldProblem(
            "state-mismatch",
            "act() must return the new state, actual: the returned next_state differs from world.state "
            "after the action; most likely act() returns the old state.",
        )
    return None


def check_returns_a_copy(step: Step) -> WorldProblem | None:
    if step.next_state is step.state_after:
        return WorldProblem(
            "state-aliasing",
            "act() must return a new list, actual: it returned world.state itself, so a caller that keeps "
            "it sees it change; return list(self.state).",
        )
    return None


def check_previous_state_untouched(step: Step) -> WorldProblem | None:
    if step.before != step.snapshot:
        return WorldProblem(
            "state-aliasing",
            "act() must leave the previous state list alone, actual: it changed world.state in place, so "
            "the state s a learner saved before acting changed too; assign a new list to self.state.",
        )
    return None


#: the checks of each step, in order; the first problem ends the episode.
STEP_CHECKS: tuple[Callable[[Step], WorldProblem | None], ...] = (
    check_reward, check_next_state, check_state_length, check_returns_new_state, check_returns_a_copy,
    check_previous_state_untouched,
)


# -- 3. invalid actions, 4. determinism -----------------------------------------------------

def check_invalid_actions(make: Callable[[], Any], action_dim: int) -> list[WorldProblem]:
    """Invalid actions (action_dim, then -1) must be refused by a fresh world, not silently accepted."""
    for bad in (action_dim, -1):
        try:
            probe = make()
        except Exception:  # noqa: BLE001 - the construction problem is reported elsewhere
            return []
        if not _rejects(probe, bad):
            return [WorldProblem(
                "invalid-action",
                f"act({bad}) must raise an error for an action outside range({action_dim}), actual: it was "
                "accepted; Python lists accept index -1 and slices silently, so check the range yourself.",
            )]
    return []


def check_same_seed_same_episode(make: Callable[[], Any], episode: Episode) -> list[WorldProblem]:
    """A second world made with the same seed must pay the same rewards and states for the same actions."""
    replay = make()
    for i, action in enumerate(episode.actions):
        try:
            reward, next_state = replay.act(action)
        except Exception:  # noqa: BLE001 - a replay that fails is not a determinism problem
            return []
        if (reward, list(next_state)) != episode.trajectory[i]:
            return [WorldProblem(
                "nondeterministic",
                f"two worlds made with the same seed must give the same rewards and states for the same "
                f"actions, actual: they differ at step {i + 1}; draw random numbers from the world's own "
                "numpy Generator (np.random.default_rng(seed)), not from random or np.random.",
            )]
    return []


# -- helpers -------------------------------------------------------------------------------

def _rejects(world: Any, action: Any) -> bool:
    try:
        world.act(action)
    except Exception:  # noqa: BLE001 - any error is a refusal
        return True
    return False
