"""Tests of tapelab.worlds: the bandits, the Gymnasium adapter and check_world."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tapelab.worlds import (
    GymWorld,
    MultiArmedBandit,
    MultiArmedBandit2,
    ScriptedWorld,
    World,
    WorldCheckError,
    check_world,
    find_world_problems,
    gym_world,
)

MEANS2 = [[1, 3, 2, 4], [0, 1, 4, 3], [5, 0, 0, 0], [1, 3, 1, 3]]


def one_hot(k: int, progress: float = 0.0) -> list[float]:
    return [1.0 if i == k else 0.0 for i in range(4)] + [progress]


def play(world, actions):
    return [world.act(a) for a in actions]


# -- the bandits ---------------------------------------------------------------------------

def test_bandits_follow_the_world_protocol():
    """Do both bandits satisfy the World protocol and start in the original states?"""
    assert isinstance(MultiArmedBandit(0), World)
    assert isinstance(MultiArmedBandit2(0), World)
    assert MultiArmedBandit(0).state == [0.0] * 5
    assert MultiArmedBandit2(0).state == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert MultiArmedBandit(0).action_dim == MultiArmedBandit2(0).action_dim == 4


@pytest.mark.parametrize("cls, length, step", [(MultiArmedBandit, 6, 1 / 6 + 1 / 1000),
                                               (MultiArmedBandit2, 12, 1 / 12 + 1 / 1000)])
def test_episode_length_and_state_update(cls, length, step):
    """Does an episode last 6 (resp. 12) actions, with the one-hot of the action plus progress as the state?"""
    world = cls(1)
    progress = 0.0
    for t in range(length):
        assert not world.terminal()
        action = t % 4
        _, state = world.act(action)
        progress += step
        assert state[:4] == one_hot(action)[:4]
        assert state[4] == pytest.approx(progress, abs=1e-12)
    assert world.terminal()


def test_act_after_the_end_is_refused():
    """Does acting in a finished episode raise instead of running on?"""
    world = MultiArmedBandit(0)
    play(world, [0] * 6)
    with pytest.raises(RuntimeError, match="the episode is over"):
        world.act(0)


@pytest.mark.parametrize("bad, error, message", [
    (4, ValueError, r"action must be in range\(4\), actual: 4\."),
    (-1, ValueError, r"action must be in range\(4\), actual: -1\."),
    (1.5, TypeError, r"action must be an int in range\(4\), actual: 1\.5 of type float; convert an argmax"),
])
def test_invalid_actions_raise(bad, error, message):
    """Are actions outside range(action_dim), and non-integers, refused with a clear message?"""
    with pytest.raises(error, match=message):
        MultiArmedBandit2(0).act(bad)


def test_integer_like_actions_are_accepted():
    """Are NumPy and TensorFlow integer scalars accepted as actions?"""
    import tensorflow as tf

    world = MultiArmedBandit2(0)
    world.act(np.int64(2))
    world.act(tf.constant(1))
    assert world.state[:4] == [0.0, 1.0, 0.0, 0.0]


def test_act_returns_a_fresh_list():
    """Does act() return a new list each time, so callers that keep it never see it change?"""
    world = MultiArmedBandit2(0)
    _, first = world.act(1)
    kept = list(first)
    assert first is not world.state
    first.append(99.0)
    assert len(world.state) == 5
    _, second = world.act(2)
    assert first[:5] == kept and second is not first


def test_same_seed_same_episode_and_generator_accepted():
    """Do two worlds with one seed (an int or a Generator) give the same rewards, and other seeds different ones?"""
    actions = [0, 3, 1, 2, 0, 3, 1, 2, 0, 3, 1, 2]
    a = play(MultiArmedBandit2(7), actions)
    b = play(MultiArmedBandit2(7), actions)
    c = play(MultiArmedBandit2(8), actions)
    d = play(MultiArmedBandit2(np.random.default_rng(7)), actions)
    assert a == b == d
    assert [r for r, _ in a] != [r for r, _ in c]
    assert all(isinstance(r, float) for r, _ in a)


def test_bandit2_reward_means():
    """Does MultiArmedBandit2 pay N(meanmatrix[k][a], 1) in one-hot state k, for every k and a?"""
    n = 4000
    world = MultiArmedBandit2(123)
    for k in range(4):
        for a in range(4):
            rewards = []
            for _ in range(n):
                world.state = one_hot(k)
                rewards.append(world.act(a)[0])
            # 5 standard errors: a correct bandit fails this about once in 3 million pairs.
            assert np.mean(rewards) == pytest.approx(MEANS2[k][a], abs=5 / np.sqrt(n))
            assert np.std(rewards) == pytest.approx(1.0, abs=0.05)


def test_bandit1_reward_means_and_scaling():
    """Does MultiArmedBandit pay N(bandits[a], 1)·(k + 1) after arm k, and unscaled at the start?"""
    n = 4000
    means = [0.9, 1.2, 0.7, 1.0]
    world = MultiArmedBandit(321)
    for k in [None, 0, 1, 2, 3]:
        scale = 1 if k is None else k + 1
        for a in range(4):
            rewards = []
            for _ in range(n):
                world.state = [0.0] * 5 if k is None else one_hot(k)
                rewards.append(world.act(a)[0])
            assert np.mean(rewards) == pytest.approx(means[a] * scale, abs=5 * scale / np.sqrt(n))
            assert np.std(rewards) == pytest.approx(scale, rel=0.05)


def test_scripted_world_plays_its_script():
    """Does ScriptedWorld pay the scripted rewards and states, record the actions and end after the script?"""
    world = ScriptedWorld([1, 0], [(1.5, [0, 1]), (-2, [1, 1])], action_dim=2)
    assert world.act(1) == (1.5, [0.0, 1.0]) and not world.terminal()
    assert world.act(0) == (-2.0, [1.0, 1.0]) and world.terminal()
    assert world.actions == [1, 0]
    with pytest.raises(RuntimeError, match="the episode is over"):
        world.act(0)
    with pytest.raises(ValueError):
        ScriptedWorld([0], [(0, [0])], action_dim=2).act(2)


# -- Gymnasium -------------------------------------------------------------------------------

def test_gym_discrete_observations_become_one_hot():
    """Does a FrozenLake environment become a world with one-hot states that check_world accepts?"""
    world = gym_world("FrozenLake-v1", seed=0)
    assert isinstance(world, GymWorld) and world.action_dim == 4
    assert world.state == [1.0] + [0.0] * 15
    reward, state = world.act(1)
    assert isinstance(reward, float) and len(state) == 16 and sum(state) == 1.0
    check_world(lambda seed: gym_world("FrozenLake-v1", seed=seed))


def test_gym_box_observations_become_float_lists():
    """Does CartPole become a world with 4 float states that ends and passes check_world?"""
    world = gym_world("CartPole-v1", seed=0)
    assert world.action_dim == 2 and len(world.state) == 4
    assert all(isinstance(x, float) for x in world.state)
    check_world(lambda seed: gym_world("CartPole-v1", seed=seed))


def test_gym_continuous_actions_are_refused():
    """Is an environment without a Discrete action space refused with a message?"""
    with pytest.raises(TypeError, match="the action space must be gymnasium.spaces.Discrete"):
        gym_world("Pendulum-v1")


# -- check_world -----------------------------------------------------------------------------

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
