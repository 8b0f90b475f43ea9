"""Tests of tapelab.plots: figures are returned, never shown, and show the right data."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from tapelab.plots import compare_runs, learning_curves, moving_average, q_heatmap, q_snapshots
from tapelab.qstar import q_star
from tapelab.training import History
from tapelab.worlds import MultiArmedBandit2

matplotlib.use("Agg")
QSTAR = q_star(MultiArmedBandit2, 0.99)


def exact(states):
    return np.array([QSTAR(s) for s in states])


def history() -> History:
    rng = np.random.default_rng(0)
    h = History(returns=list(rng.normal(40, 3, 120)), losses=list(rng.uniform(0.5, 2, 120)))
    h.probe_states = np.array(QSTAR.states_at(1), np.float32)
    h.snapshots = [(g, exact(h.probe_states) * g / 120) for g in (40, 80, 120)]
    return h


def test_moving_average():
    """Is the moving average the mean of the last `window` values (fewer at the start)?"""
    np.testing.assert_allclose(moving_average([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5])
    assert moving_average([], 3).shape == (0,)


def test_learning_curves_figure():
    """Does learning_curves return a Figure with the returns, their average, the optimum and the loss?"""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = learning_curves(history(), window=10, optimal_return=48.0)
    assert isinstance(fig, Figure) and plt.get_fignums() == before  # not registered with pyplot: never shown
    ax_return, ax_loss = fig.axes
    assert ax_return.get_title() == "Return per game" and ax_loss.get_yscale() == "log"
    raw, average = ax_return.lines[:2]
    assert len(raw.get_xdata()) == 120
    np.testing.assert_allclose(average.get_ydata(), moving_average(history().returns, 10))
    assert any(np.allclose(line.get_ydata(), 48.0) for line in ax_return.lines[2:])


def test_q_heatmap_shows_learned_and_exact_values():
    """Does q_heatmap put the learned Q and Q* side by side, marking greedy and optimal actions?"""
    halved = lambda states: exact(states) / 2  # noqa: E731
    fig = q_heatmap(halved, QSTAR, step=1)
    learned_ax, exact_ax = fig.axes[:2]
    learned = learned_ax.images[0].get_array()
    np.testing.assert_allclose(exact_ax.images[0].get_array(), exact(QSTAR.states_at(1)))
    np.testing.assert_allclose(learned, exact(QSTAR.states_at(1)) / 2)
    assert [t.get_text() for t in learned_ax.get_yticklabels()] == ["s = 0", "s = 1", "s = 2", "s = 3"]
    assert len(learned_ax.patches) == 4  # one greedy box per state
    # ties get a box each: arms 1 and 3 are equally good from state 0 (within 0.1)
    assert len(exact_ax.patches) == sum(len(QSTAR.optimal_actions(s, tol=0.1)) for s in QSTAR.states_at(1)) == 5
    start = q_heatmap(exact, QSTAR, step=0)
    assert [t.get_text() for t in start.axes[0].get_yticklabels()] == ["s = 0"]
    with pytest.raises(ValueError, match="no reachable state after 12 actions"):
        q_heatmap(exact, QSTAR, step=12)


def test_q_snapshots_plot():
    """Does q_snapshots draw one line per action over the snapshot games, with Q* as references?"""
    h = history()
    fig = q_snapshots(h, QSTAR, state=h.probe_states[2])
    ax = fig.axes[0]
    lines = [line for line in ax.lines if len(line.get_xdata()) == 3]
    assert len(lines) == 4
    np.testing.assert_allclose(lines[0].get_ydata(), [QSTAR(h.probe_states[2])[0] * g / 120 for g in (40, 80, 120)])
    with pytest.raises(ValueError, match="train with probe_states"):
        q_snapshots(History(), QSTAR)


def test_q_snapshots_keeps_tied_q_star_lines_visible():
    """Do equal Q* lines (arms 1 and 3 in state 0 after one pull: 41.8) take turns dash by dash, each in the legend?"""
    h = history()
    state = h.probe_states[0]
    exact = QSTAR(state)
    assert abs(exact[1] - exact[3]) < 0.05
    ax = q_snapshots(h, QSTAR, state=state).axes[0]
    dashed = {line.get_label(): line for line in ax.lines if len(line.get_xdata()) == 2}
    assert sorted(dashed) == sorted(f"Q*(s, {a}) = {exact[a]:.1f}" for a in range(4))
    one, three = dashed[f"Q*(s, 1) = {exact[1]:.1f}"], dashed[f"Q*(s, 3) = {exact[3]:.1f}"]
    (offset_1, dashes_1), (offset_3, dashes_3) = one._unscaled_dash_pattern, three._unscaled_dash_pattern
    assert dashes_1 == dashes_3 == (4.0, 4.0) and offset_1 != offset_3  # same dashes, shifted: they alternate
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == [f"Q(s, {a})" for a in range(4)] and len(labels) == 8
    low, high = ax.get_ylim()
    assert high > max(exact) and low < min(np.min([q[0] for _, q in h.snapshots]), min(exact))


def test_compare_runs_puts_returns_and_distances_on_one_figure():
    """Does compare_runs draw one return curve per run and, from the snapshots, the mean |Q − Q*| on a log scale?"""
    good, bad = history(), history()
    bad.snapshots = [(g, q + 10.0) for g, q in bad.snapshots]
    fig = compare_runs({"good": good, "bad": bad}, QSTAR, window=10, optimal_return=48.0)
    ax_return, ax_error = fig.axes
    assert [line.get_label() for line in ax_error.lines] == ["good", "bad"] and ax_error.get_yscale() == "log"
    exact = np.array([QSTAR(s) for s in good.probe_states])
    np.testing.assert_allclose(ax_error.lines[1].get_ydata(),
                               [np.mean(np.abs(q - exact)) for _, q in bad.snapshots])
    np.testing.assert_allclose(ax_return.lines[0].get_ydata(), moving_average(good.returns, 10))
    assert any(np.allclose(line.get_ydata(), 48.0) for line in ax_return.lines)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["good", "bad", "optimal policy"]
    plain = History(returns=[1.0, 2.0, 3.0], losses=[1.0, 1.0, 1.0])
    assert len(compare_runs({"plain": plain}, QSTAR).axes) == 1
