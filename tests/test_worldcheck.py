"""Tests of tapelab.worldcheck: every defect check_world names, with its code and its exact message."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tapelab import worldcheck
from tapelab.worlds import MultiArmedBandit, MultiArmedBandit2, WorldCheckError, check_world, find_world_problems


class Good:
    """A minimal correct world: three steps, reward = action, seeded noise-free."""

    action_dim = 2

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.state = [0.0, 0.0]

    def act(self, action):
        if action not in range(self.action_dim):
            raise ValueError("bad action")
        self.state = [float(action), self.state[1] + 1.0]
        return float(action) + float(self.rng.normal()), list(self.state)

    def terminal(self):
        return self.state[1] >= 3


def test_check_world_accepts_correct_worlds():
    """Does check_world pass the bandits (class or instance) and a minimal correct world?"""
    for world in (MultiArmedBandit, MultiArmedBandit2, MultiArmedBandit2(5), Good, Good(1)):
        check_world(world)
        assert find_world_problems(world) == []


class NumpyScalars:
    """A correct world written with NumPy: an np.int64 position, np.float64 states, an np.bool_ terminal()."""

    action_dim = 2

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.position = np.int64(0)
        self.state = list(np.eye(3)[0])

    def act(self, action):
        if action not in (0, 1):
            raise ValueError("bad action")
        self.position = np.clip(self.position + (1 if action == 1 else -1), 0, 2)
        self.state = list(np.eye(3)[self.position])
        return np.float64(-1.0), list(self.state)

    def terminal(self):
        return self.position == 2


def test_check_world_accepts_numpy_scalars():
    """Does check_world accept NumPy floats in the state, a NumPy float reward and a NumPy bool from terminal()?"""
    world = NumpyScalars(0)
    assert type(world.terminal()) is np.bool_ and type(world.state[0]) is np.float64
    check_world(NumpyScalars)
    assert find_world_problems(NumpyScalars) == []


def test_check_world_does_not_play_the_given_instance():
    """Does checking a world instance leave that instance untouched?"""
    world = MultiArmedBandit2(0)
    check_world(world)
    assert world.state == [1.0, 0.0, 0.0, 0.0, 0.0]


class TupleState(Good):
    def __init__(self, seed=None):
        super().__init__(seed)
        self.state = (0.0, 0.0)


class ListSubclassState(Good):
    class Cells(list):
        pass

    def __init__(self, seed=None):
        super().__init__(seed)
        self.state = self.Cells([0.0, 0.0])


class FloatSubclassState(Good):
    class Cell(float):
        pass

    def act(self, action):
        reward, state = super().act(action)
        self.state = [self.Cell(state[0]), state[1]]
        return reward, list(self.state)


class NestedState(Good):
    def act(self, action):
        reward, _ = super().act(action)
        self.state = [[float(action)], self.state[1]]
        return reward, list(self.state)

    def terminal(self):
        return self.state[-1] >= 3


class GrowingState(Good):
    def act(self, action):
        reward, _ = super().act(action)
        self.state = self.state + [0.0]
        return reward, list(self.state)


class RewardOnly(Good):
    def act(self, action):
        reward, _ = super().act(action)
        return reward


class NanReward(Good):
    def act(self, action):
        _, state = super().act(action)
        return float("nan"), state


class TensorReward(Good):
    def act(self, action):
        import tensorflow as tf

        reward, state = super().act(action)
        return tf.constant(reward), state


class Endless(Good):
    def terminal(self):
        return False


class Lenient(Good):
    def act(self, action):
        self.state = [float(action), self.state[1] + 1.0]
        return 0.0, list(self.state)


class GlobalRandom(Good):
    def act(self, action):
        _, state = super().act(action)
        return random.random(), state


class Aliasing(Good):
    def act(self, action):
        reward, _ = super().act(action)
        return reward, self.state


class InPlace(Good):
    def act(self, action):
        if action not in range(self.action_dim):
            raise ValueError("bad action")
        self.state[0] = float(action)
        self.state[1] += 1.0
        return 0.0, list(self.state)


class StaleState(Good):
    def act(self, action):
        old = list(self.state)
        super().act(action)
        return 0.0, old


class NoActionDim(Good):
    action_dim = 0


class IntTerminal(Good):
    def terminal(self):
        return int(self.state[1] >= 3)


DEFECTS = [
    (TupleState, "state-not-list",
     "world.state must be a flat Python list of floats, actual: (0.0, 0.0) (tuple); "
     "build it with [...] or convert it with list(...)."),
    (ListSubclassState, "state-not-list",
     "world.state must be a flat Python list of floats, actual: [0.0, 0.0] (Cells); "
     "build it with [...] or convert it with list(...)."),
    (FloatSubclassState, "state-not-list",
     "the next_state returned by act() must be a flat list of floats, actual: element 0 is <any> (Cell); "
     "nested lists, tensors and strings cannot be fed to the network."),
    (NestedState, "state-not-list",
     "the next_state returned by act() must be a flat list of floats, actual: element 0 is [1.0] (list); "
     "nested lists, tensors and strings cannot be fed to the network."),
    (GrowingState, "state-length",
     "the state must keep its length, actual: 2 at the start and 3 after 1 action(s); "
     "the network has a fixed number of inputs."),
    (RewardOnly, "act-return",
     "act(action) must return a tuple (reward, next_state), actual: <any> (float)."),
    (NanReward, "reward-not-finite",
     "the reward must be a finite float, actual: nan (float); "
     "convert a tensor with float(...) and check for division by zero."),
    (TensorReward, "reward-not-finite", None),
    (Endless, "never-terminates",
     "an episode must end, actual: terminal() is still False after 50 random actions; "
     "check the condition in terminal() and that act() moves towards it."),
    (Lenient, "invalid-action",
     "act(2) must raise an error for an action outside range(2), actual: it was accepted; "
     "Python lists accept index -1 and slices silently, so check the range yourself."),
    (GlobalRandom, "nondeterministic",
     "two worlds made with the same seed must give the same rewards and states for the same actions, "
     "actual: they differ at step 1; draw random numbers from the world's own numpy Generator "
     "(np.random.default_rng(seed)), not from random or np.random."),
    (Aliasing, "state-aliasing",
     "act() must return a new list, actual: it returned world.state itself, so a caller that keeps it "
     "sees it change; return list(self.state)."),
    (InPlace, "state-aliasing",
     "act() must leave the previous state list alone, actual: it changed world.state in place, so the state "
     "s a learner saved before acting changed too; assign a new list to self.state."),
    (StaleState, "state-mismatch",
     "act() must return the new state, actual: the returned next_state differs from world.state after the "
     "action; most likely act() returns the old state."),
    (NoActionDim, "action-dim",
     "world.action_dim must be a positive int (the number of actions), actual: 0 (int)."),
    (IntTerminal, "terminal-not-bool", "terminal() must return a bool, actual: 0 (int)."),
]


@pytest.mark.parametrize("cls, code, message", DEFECTS, ids=[d[0].__name__ for d in DEFECTS])
def test_check_world_names_each_defect(cls, code, message):
    """Does check_world report each defect with its code and its exact message?"""
    with pytest.raises(WorldCheckError) as info:
        check_world(cls, max_steps=50)
    problems = info.value.problems
    assert code in info.value.codes, info.value
    problem = next(p for p in problems if p.code == code)
    if message is None:
        assert problem.message.startswith("the reward must be a finite float, actual: <tf.Tensor")
    elif "<any>" in message:
        head, tail = message.split("<any>")
        assert problem.message.startswith(head) and problem.message.endswith(tail)
    else:
        assert problem.message == message
    assert problem.message in str(info.value)


def test_check_world_error_lists_every_problem():
    """Does the error start with the number of problems and list each on its own line?"""
    with pytest.raises(WorldCheckError) as info:
        check_world(Endless, max_steps=10)
    text = str(info.value)
    assert text.splitlines()[0] == "the world has 1 problem(s):"
    assert text.splitlines()[1].startswith("- an episode must end")
    assert isinstance(info.value, AssertionError)


def test_check_world_reports_a_failing_constructor():
    """Does a world whose constructor raises get a problem instead of a crash?"""
    def broken(seed):
        raise ZeroDivisionError("oops")

    assert [p.message for p in find_world_problems(broken)] == [
        "making the world failed with ZeroDivisionError: oops."]


def test_unwritten_world_raises_not_implemented():
    """Does a world whose methods still raise NotImplementedError make check_world raise that, not a defect list?"""
    class Unwritten:
        action_dim = 2

        def __init__(self, seed=None):
            raise NotImplementedError()

    class HalfWritten(Good):
        def act(self, action):
            raise NotImplementedError()

    for cls in (Unwritten, HalfWritten):
        with pytest.raises(NotImplementedError):
            check_world(cls)


class IntTerminalLenient(IntTerminal, Lenient):
    pass


def test_problems_come_in_the_order_of_the_checks():
    """With several defects, are they reported in the order the checks run (episode, then invalid actions)?"""
    assert [p.code for p in find_world_problems(IntTerminalLenient)] == ["terminal-not-bool", "invalid-action"]


def test_worlds_reexports_the_checker():
    """Are check_world and its types importable from tapelab.worlds, as the notebooks import them?"""
    import tapelab.worlds

    for name in ("check_world", "find_world_problems", "WorldProblem", "WorldCheckError", "NUMBER_TYPES"):
        assert getattr(tapelab.worlds, name) is getattr(worldcheck, name)
