"""Tests of tapelab.qlearner: the network, ε-greedy, and the Q-learning update against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import keras
import tensorflow as tf

from tapelab.qlearner import (
    FIT_MESSAGE,
    QLearner,
    QLearnerBase,
    ReplayBuffer,
    Transitions,
    linear_schedule,
)
from tapelab.seeding import seed_everything
from tapelab.worlds import MultiArmedBandit2, ScriptedWorld as Scripted


S0 = [1.0, 0.0, 0.5, -1.0, 0.25]
S1 = [0.0, 1.0, -0.5, 2.0, 0.5]
S2 = [0.5, 0.5, 0.0, 0.0, 0.75]


def hand_set(model, seed=0):
    """Give the default network fixed weights; return them as NumPy arrays (W1, b1, W2, b2)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in model.network.weights]
    model.network.set_weights(weights)
    return weights


def forward(weights, state):
    w1, b1, w2, b2 = weights
    h = np.maximum(0.0, np.asarray(state, np.float64) @ w1 + b1)
    return h @ w2 + b2


def linear_model(w, b, *, exploration_prob=0.0, gamma=0.9, lr=0.1, **kwargs):
    model = QLearner(5, 4, exploration_prob=exploration_prob, discount_rate=gamma,
                     network=[keras.layers.Dense(4)], **kwargs)
    model.network.set_weights([np.asarray(w, np.float32), np.asarray(b, np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(lr))
    return model


# -- the network -----------------------------------------------------------------------------

def test_default_network_is_the_original_layout():
    """Is the default network Dense(24, relu) → Dense(action_dim), built from the start?"""
    model = QLearner(5, 4)
    hidden, out = model.network.layers
    assert (hidden.units, hidden.activation.__name__) == (24, "relu")
    assert (out.units, out.activation.__name__) == (4, "linear")
    assert [tuple(w.shape) for w in model.trainable_variables] == [(5, 24), (24,), (24, 4), (4,)]
    assert QLearner(3, 2, hidden_units=7).network.layers[0].units == 7


def test_network_can_be_swapped():
    """Can the network be given as a list of layers, a builder or a Keras model, and is a wrong width refused?"""
    stacked = QLearner(5, 4, network=[keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(4)])
    assert [tuple(w.shape) for w in stacked.trainable_variables] == [(5, 8), (8,), (8, 4), (4,)]
    built = QLearner(5, 4, network=lambda s, a: keras.Sequential([keras.layers.Dense(a)]))
    assert [tuple(w.shape) for w in built.trainable_variables] == [(5, 4), (4,)]
    with pytest.raises(ValueError) as info:
        QLearner(5, 4, network=[keras.layers.Dense(3)])
    assert str(info.value) == (
        "the network must map a batch of states [batch, 5] to Q values [batch, 4], actual output shape for "
        "one state: (1, 3); end it with Dense(action_dim).")
    with pytest.raises(TypeError, match="network must be a Keras layer, a list of layers or a builder"):
        QLearner(5, 4, network=42)


def test_predict_q_and_select_best_move():
    """Does predict_q give [action_dim] for one state and [n, action_dim] for a batch, and select_best_move an int?"""
    model = QLearner(5, 4)
    weights = hand_set(model)
    np.testing.assert_allclose(model.predict_q(S0), forward(weights, S0), atol=1e-5)
    batch = model.predict_q(np.array([S0, S1, S2]))
    assert batch.shape == (3, 4)
    np.testing.assert_allclose(batch, model(tf.constant([S0, S1, S2])).numpy(), atol=1e-6)
    world = Scripted(S1, [(0.0, S2)])
    best = model.select_best_move(world)
    assert type(best) is int and best == int(np.argmax(forward(weights, S1)))


# -- ε-greedy --------------------------------------------------------------------------------

def test_greedy_choice_is_a_python_int():
    """With ε = 0, is the action argmax_a Q(s, a) as a Python int, for lists, arrays and tensors?"""
    model = QLearner(5, 4, exploration_prob=0.0)
    for q in ([0.1, 0.7, 0.2, 0.0], np.array([0.1, 0.7, 0.2, 0.0]), tf.constant([[0.1, 0.7, 0.2, 0.0]])):
        action = model.choose_action(q)
        assert type(action) is int and action == 1


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 1.0])
def test_exploration_frequency(epsilon):
    """Does choose_action pick each non-greedy action with probability ε/4 (and the greedy one 1 − 3ε/4)?"""
    model = QLearner(5, 4, exploration_prob=epsilon, seed=3)
    n = 8000
    counts = np.bincount([model.choose_action([0.0, 0.0, 1.0, 0.0]) for _ in range(n)], minlength=4) / n
    expected = np.full(4, epsilon / 4)
    expected[2] += 1 - epsilon
    np.testing.assert_allclose(counts, expected, atol=5 * np.sqrt(0.25 / n))


def test_batched_choice_matches_epsilon():
    """Does choose_actions return one int32 action per row, greedy with ε = 0?"""
    model = QLearner(5, 4, exploration_prob=0.0)
    q = np.array([[0, 1, 0, 0], [0, 0, 0, 2], [3, 0, 0, 0]], np.float32)
    actions = model.choose_actions(q)
    assert actions.dtype == np.int32 and actions.tolist() == [1, 3, 0]


def test_same_seed_same_exploration():
    """Do two learners with one seed explore identically, and reseed restart the sequence?"""
    a, b = QLearner(5, 4, exploration_prob=0.5, seed=1), QLearner(5, 4, exploration_prob=0.5, seed=1)
    first = [a.choose_action([0, 1, 0, 0]) for _ in range(50)]
    assert first == [b.choose_action([0, 1, 0, 0]) for _ in range(50)]
    a.reseed(1)
    assert first == [a.choose_action([0, 1, 0, 0]) for _ in range(50)]


# -- what is not a Keras fit ----------------------------------------------------------------------

def test_fit_is_refused_with_an_explanation():
    """Does fit() (and train_on_batch) raise a TypeError that says to train on a world instead?"""
    model = QLearner(5, 4)
    model.compile()
    with pytest.raises(TypeError) as info:
        model.fit(np.zeros((2, 5)), np.zeros((2, 4)))
    assert str(info.value) == FIT_MESSAGE
    assert FIT_MESSAGE.startswith("A QLearner learns from a world, not from arrays")
    with pytest.raises(TypeError):
        model.train_on_batch(np.zeros((2, 5)), np.zeros((2, 4)))


def test_base_leaves_train_step_and_choose_action_to_subclasses():
    """Do QLearnerBase.train_step and choose_action raise NotImplementedError naming the class, also through super()?"""
    class Mine(QLearnerBase):
        pass

    class Lazy(QLearnerBase):
        def choose_action(self, q):
            return super().choose_action(q)

    with pytest.raises(NotImplementedError, match=r"^Mine.train_step\(world\) is not written yet"):
        Mine(5, 4).train_step(MultiArmedBandit2(0))
    with pytest.raises(NotImplementedError) as info:
        Mine(5, 4).choose_action([0.0, 1.0, 0.0, 0.0])
    assert str(info.value) == (
        "Mine.choose_action(q) is not written yet: QLearnerBase leaves the ε-greedy choice to its subclass "
        "(a uniformly random action with probability exploration_prob, else the argmax of q).")
    with pytest.raises(NotImplementedError, match=r"^Lazy.choose_action\(q\) is not written yet"):
        Lazy(5, 4).choose_action([0.0, 1.0, 0.0, 0.0])


def test_training_needs_compile():
    """Does train_step before compile() raise a RuntimeError saying to compile?"""
    with pytest.raises(RuntimeError, match=r"call model.compile\(optimizer='adam'\) before training"):
        QLearner(5, 4).train_step(MultiArmedBandit2(0))


# -- the update, by hand -----------------------------------------------------------------------

def test_loss_value_matches_hand_computation():
    """For a hand-set network and a scripted world, is the loss (Q(s, a) − (r + γ max Q(s')))², a = argmax?"""
    model = QLearner(5, 4, exploration_prob=0.0, discount_rate=0.9)
    weights = hand_set(model, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    world = Scripted(S0, [(1.5, S1), (-0.5, S2)])
    out = model.train_step(world)
    q, q_next = forward(weights, S0), forward(weights, S1)
    a = int(np.argmax(q))
    assert out["action"] == a and world.actions == [a] and type(out["action"]) is int
    assert out["reward"] == 1.5
    assert out["loss"] == pytest.approx((q[a] - (1.5 + 0.9 * q_next.max())) ** 2, rel=1e-5)


def test_terminal_step_target_is_the_reward():
    """When the action ends the episode, is the target just r (no γ max Q(s') term)?"""
    model = QLearner(5, 4, exploration_prob=0.0, discount_rate=0.9)
    weights = hand_set(model, seed=2)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    out = model.train_step(Scripted(S0, [(2.0, S1)]))
    q = forward(weights, S0)
    assert out["loss"] == pytest.approx((q.max() - 2.0) ** 2, rel=1e-5)


def test_gradient_step_by_hand_reaches_only_the_chosen_action():
    """Does one SGD step change only column a of a linear Q = sW + b, by −η·2(Q(s, a) − y)·s, target held fixed?"""
    rng = np.random.default_rng(5)
    w = 0.1 * rng.normal(size=(5, 4))
    b = np.array([0.0, 3.0, 0.0, 0.0])      # action 1 is greedy in S0 ...
    w[:, 3] = 0.0
    w[1, 3] = 20.0                           # ... and action 3 is the best in S1.
    model = linear_model(w, b, gamma=0.9, lr=0.1)
    q, q_next = np.asarray(S0) @ w + b, np.asarray(S1) @ w + b
    a, a_next = int(np.argmax(q)), int(np.argmax(q_next))
    assert a != a_next
    y = 0.7 + 0.9 * q_next.max()
    model.train_step(Scripted(S0, [(0.7, S1), (0.0, S2)]))
    new_w, new_b = (v.numpy() for v in model.network.weights)
    delta = 2 * (q[a] - y)
    expected_w, expected_b = w.copy(), b.copy()
    expected_w[:, a] -= 0.1 * delta * np.asarray(S0)
    expected_b[a] -= 0.1 * delta
    np.testing.assert_allclose(new_w, expected_w, atol=1e-5)
    np.testing.assert_allclose(new_b, expected_b, atol=1e-5)
    # The column of the target's action a' is untouched: no gradient flowed through the target.
    np.testing.assert_array_equal(new_w[:, a_next], w[:, a_next].astype(np.float32))


def test_gradient_of_the_default_network_reaches_only_the_chosen_output():
    """In the default network, does the output layer change only in the chosen action's column and bias?"""
    model = QLearner(5, 4, exploration_prob=0.0)
    weights = hand_set(model, seed=4)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    out = model.train_step(Scripted(S0, [(1.0, S1), (0.0, S2)]))
    w2, b2 = weights[2], weights[3]
    new_w2, new_b2 = model.network.weights[2].numpy(), model.network.weights[3].numpy()
    others = [i for i in range(4) if i != out["action"]]
    np.testing.assert_array_equal(new_w2[:, others], w2[:, others])
    np.testing.assert_array_equal(new_b2[others], b2[others])
    assert new_b2[out["action"]] != b2[out["action"]]


def test_batch_loss_is_a_mean_over_transitions():
    """Does learn() on a batch give the mean of the per-transition squared errors (no [batch, batch] broadcast)?"""
    rng = np.random.default_rng(9)
    w, b = rng.normal(size=(5, 4)), rng.normal(size=4)
    model = linear_model(w, b, gamma=0.5, lr=0.0)
    states = np.array([S0, S1, S2])
    next_states = np.array([S1, S2, S0])
    actions, rewards, dones = np.array([0, 3, 2]), np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.0])
    loss, q_up = model.learn(states, actions, rewards, next_states, dones)
    q, q_next = states @ w + b, next_states @ w + b
    y = rewards + 0.5 * (1 - dones) * q_next.max(axis=1)
    assert loss == pytest.approx(np.mean((q[np.arange(3), actions] - y) ** 2), rel=1e-5)
    np.testing.assert_allclose(q_up, q_next, atol=1e-5)


def test_huber_loss_from_compile():
    """With compile(loss="huber"), is the loss |δ| − ½ for a large error δ?"""
    w, b = np.zeros((5, 4)), np.array([5.0, 0.0, 0.0, 0.0])
    model = linear_model(w, b)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="huber")
    out = model.train_step(Scripted(S0, [(1.0, S1)]))
    assert out["loss"] == pytest.approx(4.0 - 0.5, rel=1e-6)


# -- the extras ---------------------------------------------------------------------------------

def test_target_network_is_used_and_synced():
    """Does the target come from θ⁻ (frozen between syncs) and is θ⁻ ← θ every target_update_every updates?"""
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(5, 4)), rng.normal(size=4)
    model = linear_model(w, b, gamma=0.9, lr=0.1, target_update_every=2)
    np.testing.assert_array_equal(model.target_network.weights[0].numpy(), model.network.weights[0].numpy())
    model.target_network.set_weights([np.zeros((5, 4), np.float32), np.zeros(4, np.float32)])
    loss, _ = model.learn([S0], [2], [1.0], [S1], [0.0])
    q = np.asarray(S0) @ w + b
    assert loss == pytest.approx((q[2] - 1.0) ** 2, rel=1e-5)   # θ⁻ = 0: y = r
    assert not np.any(model.target_network.weights[0].numpy())
    model.learn([S0], [2], [1.0], [S1], [0.0])
    np.testing.assert_array_equal(model.target_network.weights[0].numpy(), model.network.weights[0].numpy())


def test_double_dqn_target():
    """Is the Double DQN target r + γ Q(s', argmax_a' Q(s', a'; θ); θ⁻)?"""
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(5, 4)), rng.normal(size=4)
    model = linear_model(w, b, gamma=0.9, lr=0.0, target_update_every=100, double_dqn=True)
    wt, bt = rng.normal(size=(5, 4)), rng.normal(size=4)
    model.target_network.set_weights([wt.astype(np.float32), bt.astype(np.float32)])
    loss, _ = model.learn([S0], [1], [0.5], [S1], [0.0])
    q, q_online, q_target = np.asarray(S0) @ w + b, np.asarray(S1) @ w + b, np.asarray(S1) @ wt + bt
    y = 0.5 + 0.9 * q_target[int(np.argmax(q_online))]
    assert loss == pytest.approx((q[1] - y) ** 2, rel=1e-5)


def test_replay_buffer_ring_and_sampling():
    """Does the buffer keep the last `capacity` transitions and sample only stored ones, repeatably?"""
    def batch(values):
        n = len(values)
        v = np.asarray(values, np.float32)
        return Transitions(np.tile(v[:, None], (1, 2)), np.arange(n), v, v[:, None] * np.ones((1, 2)), np.zeros(n))

    buffer = ReplayBuffer(3, 2, seed=0)
    buffer.add(batch([1, 2]))
    buffer.add(batch([3, 4, 5]))
    assert len(buffer) == 3
    assert sorted(buffer.rewards.tolist()) == [3.0, 4.0, 5.0]
    sample = buffer.sample(20)
    assert set(sample.rewards.tolist()) <= {3.0, 4.0, 5.0}
    assert sample.states.shape == (20, 2)
    again = ReplayBuffer(3, 2, seed=0)
    again.add(batch([1, 2]))
    again.add(batch([3, 4, 5]))
    np.testing.assert_array_equal(again.sample(20).rewards, sample.rewards)


def test_replay_learner_updates_on_minibatches():
    """With a replay buffer, does learning store every step and still run the online loop?"""
    seed_everything(0)
    model = QLearner(5, 4, replay_capacity=50, replay_batch_size=8)
    model.compile()
    for seed in range(6):
        world = MultiArmedBandit2(seed)
        while not world.terminal():
            assert np.isfinite(model.train_step(world)["loss"])
    assert len(model.replay) == 50 and model.steps_taken == 72


def test_epsilon_schedule():
    """Does linear_schedule go from start to end, and does the learner follow it as it takes steps?"""
    schedule = linear_schedule(1.0, 0.1, 100)
    assert [schedule(t) for t in (0, 50, 100, 500)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    model = QLearner(5, 4, epsilon_schedule=schedule)
    model.compile()
    assert model.exploration_prob == 1.0
    world = MultiArmedBandit2(0)
    while not world.terminal():
        model.train_step(world)
    assert model.exploration_prob == pytest.approx(schedule(12))


def test_defaults_leave_extras_off():
    """Do the default arguments give the plain algorithm: no buffer, no target network, fixed ε, squared error?"""
    model = QLearner(5, 4)
    assert model.replay is None and model.target_network is None and not model.double_dqn
    assert model.epsilon_schedule is None and model.exploration_prob == 0.1 and model.discount_rate == 0.9


# -- a borrowed reference method gets caught ----------------------------------------------------

class OwnLearner(QLearnerBase):
    """choose_action and train_step written from scratch, as a student would (eager, with a tape)."""

    def choose_action(self, q):
        if self.rng.random() < self.exploration_prob:
            return int(self.rng.integers(self.action_dim))
        return int(tf.argmax(q))

    def train_step(self, world):
        state = tf.constant([world.state])
        with tf.GradientTape() as tape:
            q = self(state, training=True)[0]
            action = self.choose_action(q)
            reward, next_state = world.act(action)
            target = reward
            if not world.terminal():
                target += self.discount_rate * tf.reduce_max(tf.stop_gradient(self(tf.constant([next_state]))[0]))
            loss = self.loss_fn(tf.reshape(tf.cast(target, tf.float32), [1]), q[action][None])
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": float(loss), "action": action, "reward": reward}


class ClassDelegate(QLearnerBase):
    def choose_action(self, q):
        return QLearner.choose_action(self, q)

    def train_step(self, world):
        return QLearner.train_step(self, world)


class LearnDelegate(OwnLearner):
    def train_step(self, world):
        state = list(world.state)
        action = self.choose_action(self.predict_q(state))
        reward, next_state = world.act(action)
        return QLearner.learn(self, [state], [action], [reward], [next_state], [float(world.terminal())])


BORROWED = "is tapelab's reference and runs only for a QLearner, actual: it was called for a"


def test_borrowed_reference_methods_refuse_other_learners():
    """Do QLearner's choose_action, choose_actions, train_step and learn refuse a self that is not a QLearner?"""
    model = ClassDelegate(5, 4)
    model.compile()
    with pytest.raises(AssertionError) as info:
        model.choose_action([0.0, 1.0, 0.0, 0.0])
    assert str(info.value) == (
        "QLearner.choose_action is tapelab's reference and runs only for a QLearner, actual: it was called for a "
        "ClassDelegate; a call to the reference earns no credit: write the method in your class.")
    with pytest.raises(AssertionError, match="QLearner.train_step " + BORROWED):
        model.train_step(MultiArmedBandit2(0))
    with pytest.raises(AssertionError, match="QLearner.choose_actions " + BORROWED):
        QLearner.choose_actions(model, np.zeros((2, 4)))
    learner = LearnDelegate(5, 4)
    learner.compile()
    with pytest.raises(AssertionError, match="QLearner.learn " + BORROWED):
        learner.train_step(MultiArmedBandit2(0))


def test_subclasses_of_the_reference_keep_working():
    """Does a subclass of QLearner still run the reference methods through super()?"""
    class Tuned(QLearner):
        def train_step(self, world):
            return super().train_step(world)

    model = Tuned(5, 4, exploration_prob=0.0)
    model.compile()
    assert set(model.train_step(MultiArmedBandit2(0))) == {"loss", "action", "reward"}
    assert type(model.choose_action([0.0, 0.0, 1.0, 0.0])) is int


def test_own_train_step_matches_the_reference():
    """Does a train_step written from scratch give the reference's loss and weights?"""
    own, ref = OwnLearner(5, 4, exploration_prob=0.0), QLearner(5, 4, exploration_prob=0.0)
    weights = hand_set(own, seed=6)
    ref.network.set_weights(weights)
    own.compile(optimizer=keras.optimizers.SGD(0.1))
    ref.compile(optimizer=keras.optimizers.SGD(0.1))
    mine = own.train_step(Scripted(S0, [(1.0, S1), (0.0, S2)]))
    theirs = ref.train_step(Scripted(S0, [(1.0, S1), (0.0, S2)]))
    assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
    for a, b in zip(own.network.weights, ref.network.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
