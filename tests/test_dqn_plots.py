"""Tests of tapelab.dqn_plots: every picture is a Figure with the panels and reference lines it promises."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tapelab import dqn_plots
from tapelab.dqn_training import DQNHistory


def test_cartpole_sketch_has_one_panel_per_state():
    """Does cartpole_sketch draw one panel per state, titled with x and θ in degrees?"""
    fig = dqn_plots.cartpole_sketch([[0.0, 0.0, 0.0, 0.0], [1.0, 0.5, -0.2, 0.1]], titles=["a", "b"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[1].get_title() == "b: x = +1.00, θ = -11.5°"


def test_dqn_curves_show_returns_checks_goal_and_loss():
    """Does dqn_curves plot the episodes, the greedy checks, the goal line, and the loss on a log scale?"""
    history = DQNHistory(returns=[10.0, 20.0, 30.0], episode_ends=[10, 30, 60], checks=[(50, 25.0)],
                         losses=[(20, 1.0), (40, 0.5)], goal=195.0)
    fig = dqn_plots.dqn_curves(history)
    ax_return, ax_loss = fig.axes
    labels = ax_return.get_legend_handles_labels()[1]
    assert "greedy check: mean of 100 episodes" in labels and "goal 195" in labels
    assert ax_loss.get_yscale() == "log"


def test_episode_plot_marks_the_limits():
    """Does episode_plot draw x and θ with the ±2.4 and ±12° limits?"""
    states = np.zeros((10, 4))
    fig = dqn_plots.episode_plot(states)
    assert [ax.get_title() for ax in fig.axes] == ["cart position x", "pole angle θ (degrees)"]
    assert fig.axes[1].get_ylim() == (-15.0, 15.0)
