"""The course's original QLearner, bandit and training loop, kept as the benchmark baseline.

Copied from the original notebook ("Writing a modular Deep Q Learning keras.Model") without
changes except one: ``choose_action(y)`` in ``train_step`` read an undefined name and is
``choose_action(q)`` here, or the baseline could not run at all. Everything else (eager
execution, the global TensorFlow RNG, argmax tensors as actions) is as the students first
saw it. ``bench/bench_qlearner.py`` times it against tapelab.qlearner.
"""

import tensorflow as tf
from tensorflow import keras
from tensorflow.math import argmax
import random


class QLearner (keras.Model):
    def __init__(
            self, 
            state_dim, 
            action_dim, 
            hidden_units=24, 
            exploration_prob=0.1,
            discount_rate=0.9,
            name='qlearner', 
            **kwargs
        ):
        super().__init__(**kwargs)
        self.exploration_prob = exploration_prob
        self.discount_rate = discount_rate
        self.input_dim = state_dim
        self.action_dim = action_dim
        self.hidden = keras.layers.Dense(hidden_units, activation='relu')
        self.out = keras.layers.Dense(action_dim, activation='linear')
    
    def call(self, inputs):
        h = self.hidden(inputs)
        return self.out(h)
    
    def choose_action(self, q):
        if random.random() < self.exploration_prob:
            return random.randrange(self.action_dim)
        else:
            return argmax(q)
        
    def select_best_move(self, world):
        state = tf.convert_to_tensor([world.state])
        q = self(state, training=False)[0]
        return argmax(q)
    
    def train_step(self, world):
        state = tf.convert_to_tensor([world.state])
        
        with tf.GradientTape() as tape:
            q = self(state, training=True)[0]
            action = self.choose_action(q)  # the original read choose_action(y): a NameError
            reward, next_state = world.act(action)
            next_state = tf.convert_to_tensor([next_state])
            q_observed = q[action]
            
            
            # calculate estimate of q value based on reward and q of best action in next state
            if world.terminal():
                best_next_q_value = 0
            else:
                next_q_values = tf.stop_gradient(self(next_state))[0] # No gradient computation
                best_next_action = argmax(next_q_values)
                best_next_q_value = next_q_values[best_next_action]
            
            q_estimate = reward + self.discount_rate * best_next_q_value
            #loss can be factored out--use model.compile(loss=keras.losses{DESIRED_LOSS_FUNCTION}) and call it using self.loss_function
            loss = (q_observed - q_estimate)**2
        
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))


class MultiArmedBandit2:
    def __init__(self):
        self.action_dim = 4
        self.meanmatrix = [[1, 3, 2, 4], 
                           [0, 1, 4, 3], 
                           [5, 0, 0, 0], 
                           [1, 3, 1, 3]]
        self.state = [1.0] + [0.0] * 4
    
    def terminal(self):
        return self.state[-1] >= 1
    
    def get_reward(self, action):
        state = self.state.index(1)
        mean = self.meanmatrix[state][action]
        return tf.random.normal([1], mean=mean, stddev=1)[0].numpy()
        
    def act(self, action):
        reward = self.get_reward(action)
        self.state = [1.0 if i == action else 0.0 for i in range(self.action_dim)] + [self.state[self.action_dim] + 1/12 + 1/1000]
        return reward, self.state


def train(games_to_train=5000, max_steps=None, max_seconds=None):
    """The original loop (without its printing), stopped after ``max_steps`` steps or ``max_seconds``.

    Returns (steps taken, seconds spent in the loop).
    """
    import time

    model = QLearner(5, 4, exploration_prob=0.1, discount_rate=0.99)
    model.compile(optimizer="adam")
    steps = 0
    start = time.perf_counter()
    for i in range(games_to_train):
        world = MultiArmedBandit2()
        while not world.terminal():
            model.train_step(world)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return steps, time.perf_counter() - start
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                return steps, time.perf_counter() - start
    return steps, time.perf_counter() - start
