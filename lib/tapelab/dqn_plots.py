"""Pictures of DQN on CartPole: the cart and its pole, the learning curves of a run, one greedy episode.

Every function returns a ``matplotlib.figure.Figure`` and never shows it (a notebook displays the
figure when it is a cell's last value), as in :mod:`tapelab.plots`.

- ``cartpole_sketch(states)``: the cart at x and its pole at angle θ, with the limits that end an episode;
- ``dqn_curves(history)``: the training episodes' returns and the greedy checks against the steps, and the TD loss;
- ``episode_plot(states)``: x and θ through one episode, with the same limits.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tapelab.plots import moving_average

#: CartPole's limits: an episode terminates when |x| > 2.4 or |θ| > 12°.
X_LIMIT = 2.4
THETA_LIMIT_DEGREES = 12.0
POLE_LENGTH = 1.0  # twice CartPole's half-length 0.5


def cartpole_sketch(states: Sequence[Sequence[float]], titles: Sequence[str] | None = None) -> Figure:
    """One panel per state s = [x, ẋ, θ, θ̇]: the track with its limits ±2.4, the cart at x, the pole at θ.

    The dashed lines mark θ = ±12° around the pole's pivot; ẋ and θ̇ are printed under the track.
    """
    fig = Figure(figsize=(4.2 * len(states), 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(states)))
    for k, (ax, state) in enumerate(zip(axes, states)):
        x, x_dot, theta, theta_dot = (float(v) for v in state)
        ax.plot([-X_LIMIT - 0.4, X_LIMIT + 0.4], [0, 0], color="gray", lw=2)
        for edge in (-X_LIMIT, X_LIMIT):
            ax.plot([edge, edge], [-0.12, 0.12], color="tab:red", lw=2)
        ax.add_patch(Rectangle((x - 0.25, 0.0), 0.5, 0.25, color="tab:blue"))
        pivot = (x, 0.25)
        for limit in (-THETA_LIMIT_DEGREES, THETA_LIMIT_DEGREES):
            angle = math.radians(limit)
            ax.plot([x, x + POLE_LENGTH * math.sin(angle)], [0.25, 0.25 + POLE_LENGTH * math.cos(angle)],
                    color="tab:red", ls="--", lw=1)
        ax.plot([pivot[0], x + POLE_LENGTH * math.sin(theta)], [pivot[1], 0.25 + POLE_LENGTH * math.cos(theta)],
                color="tab:orange", lw=5, solid_capstyle="round")
        ax.text(0, -0.3, f"ẋ = {x_dot:+.2f}   θ̇ = {theta_dot:+.2f}", ha="center", fontsize=9)
        title = titles[k] if titles else ""
        ax.set_title(f"{title}{': ' if title else ''}x = {x:+.2f}, θ = {math.degrees(theta):+.1f}°", fontsize=10)
        ax.set(xlim=(-X_LIMIT - 0.5, X_LIMIT + 0.5), ylim=(-0.45, 1.45), aspect="equal")
        ax.set_yticks([])
        ax.set_xticks([-X_LIMIT, 0, X_LIMIT])
    return fig


def dqn_curves(history: Any, *, window: int = 20, max_return: float | None = 500.0) -> Figure:
    """Left: each training episode's return (ε-greedy) against the steps, its moving average, and the
    mean greedy return of every check; right: the mean TD loss of the updates (log scale).

    ``history`` is a :class:`tapelab.dqn_training.DQNHistory`; its ``goal`` and ``max_return`` (the
    time limit's return) are drawn as reference lines.
    """
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_return, ax_loss = fig.subplots(1, 2)
    ends = np.asarray(history.episode_ends)
    ax_return.plot(ends, history.returns, ".", ms=2, alpha=0.3, color="tab:blue", label="a training episode (ε-greedy)")
    ax_return.plot(ends, moving_average(history.returns, window), color="tab:blue", label=f"mean of {window} episodes")
    if history.checks:
        steps, means = zip(*history.checks)
        ax_return.plot(steps, means, "o-", color="black", ms=4, label="greedy check: mean of 100 episodes")
    if history.goal is not None:
        ax_return.axhline(history.goal, color="tab:green", ls="--", lw=1, label=f"goal {history.goal:g}")
    if max_return is not None:
        ax_return.axhline(max_return, color="gray", ls=":", lw=1, label=f"time limit ({max_return:g})")
    ax_return.set(xlabel="environment steps", ylabel="return Σ r", title="Return per episode")
    ax_return.legend(loc="upper left", fontsize="small")
    if history.losses:
        steps, losses = zip(*history.losses)
        ax_loss.plot(steps, losses, ",", alpha=0.3, color="tab:red")
        ax_loss.plot(steps, moving_average(losses, 100), color="tab:red")
    ax_loss.set(xlabel="environment steps", ylabel="mean TD loss", title="Loss (Q(s, a) − y)²", yscale="log")
    return fig


def episode_plot(states: Sequence[Sequence[float]]) -> Figure:
    """x and θ (in degrees) of the states of one episode, step by step, with the limits ±2.4 and ±12°."""
    s = np.asarray(states, dtype=np.float64)
    fig = Figure(figsize=(9, 3.0), layout="constrained")
    ax_x, ax_theta = fig.subplots(1, 2, sharex=True)
    t = np.arange(len(s))
    for ax, values, limit, name in ((ax_x, s[:, 0], X_LIMIT, "cart position x"),
                                    (ax_theta, np.degrees(s[:, 2]), THETA_LIMIT_DEGREES, "pole angle θ (degrees)")):
        ax.plot(t, values, color="tab:blue")
        ax.axhspan(-limit, limit, color="tab:green", alpha=0.08)
        for edge in (-limit, limit):
            ax.axhline(edge, color="tab:red", ls="--", lw=1)
        ax.set(xlabel="step", title=name, ylim=(-1.25 * limit, 1.25 * limit))
    return fig
