"""Pictures of Q-learning: learning curves and the learned Q(s, a) next to the exact Q*.

Every function returns a ``matplotlib.figure.Figure`` and never shows it; in a notebook the
figure displays when it is the cell's last value.

- ``learning_curves(history)``: return and loss per game of one run;
- ``q_heatmap(q_values, qstar, step=1)``: the learned Q(s, a) beside Q*(s, a);
- ``q_snapshots(history, qstar)``: Q(s, ·) of one state while learning, with Q*(s, ·);
- ``compare_runs(histories, qstar)``: several runs on one plot: mean return and the mean
  error |Q − Q*| over the states of their snapshots.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from tapelab.qstar import QStar


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of each run of ``window`` consecutive values (shorter at the start)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return x
    cumulative = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (cumulative[idx] - cumulative[lo]) / (idx - lo)


def learning_curves(history: Any, *, window: int = 50, optimal_return: float | None = None) -> Figure:
    """Return per game (with a moving average) and mean loss per game (log scale).

    ``history`` is a :class:`tapelab.training.History`; ``optimal_return`` draws a reference
    line, e.g. the expected undiscounted return of the optimal policy.
    """
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax_return, ax_loss = fig.subplots(1, 2)
    games = np.arange(1, len(history.returns) + 1)
    ax_return.plot(games, history.returns, ".", ms=2, alpha=0.3, color="tab:blue", label="return of a game")
    ax_return.plot(games, moving_average(history.returns, window), color="tab:blue",
                   label=f"mean of {window} games")
    if optimal_return is not None:
        ax_return.axhline(optimal_return, color="black", ls="--", lw=1, label="optimal policy")
    ax_return.set(xlabel="game", ylabel="return Σ r", title="Return per game")
    ax_return.legend(loc="lower right", fontsize="small")
    losses = np.asarray(history.losses, dtype=np.float64)
    ax_loss.plot(games, losses, ".", ms=2, alpha=0.3, color="tab:red")
    ax_loss.plot(games, moving_average(losses, window), color="tab:red")
    ax_loss.set(xlabel="game", ylabel="mean loss", title="Loss (Q(s, a) − y)²", yscale="log")
    return fig


def _heatmap(ax: Any, values: np.ndarray, title: str, vmin: float, vmax: float, marks: list[list[int]]) -> Any:
    image = ax.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            bright = (values[i, j] - vmin) / (vmax - vmin + 1e-12) > 0.6
            weight = "bold" if j in marks[i] else "normal"
            ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="black" if bright else "white", fontweight=weight)
        for j in marks[i]:
            ax.add_patch(_box(j, i))
    ax.set_title(title)
    ax.set_xlabel("action a")
    ax.set_xticks(range(values.shape[1]))
    return image


def _box(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", lw=2)


def q_heatmap(q_values: Callable[[np.ndarray], np.ndarray], qstar: QStar, *, step: int = 1,
              state_names: Sequence[str] | None = None, tol: float = 0.1) -> Figure:
    """The learned Q(s, a) beside the exact Q*(s, a) for the reachable states after ``step`` actions.

    ``q_values`` maps a batch of states to Q values (``model.predict_q``). A red box marks
    the greedy action in the learned table and the optimal action(s) in Q* (every action
    within ``tol`` of the best, as :meth:`tapelab.qstar.QStar.disagreements` counts them).
    """
    states = qstar.states_at(step)
    if not states:
        raise ValueError(f"no reachable state after {step} actions; steps run from 0 to {max(qstar.step.values())}.")
    x = np.array(states, np.float32)
    learned = np.asarray(q_values(x), dtype=np.float64)
    exact = np.array([qstar.q[s] for s in states])
    names = list(state_names) if state_names else [_name(s, qstar.action_dim) for s in states]
    vmin = float(min(learned.min(), exact.min()))
    vmax = float(max(learned.max(), exact.max()))
    fig = Figure(figsize=(9, 0.6 * len(states) + 1.6), layout="constrained")
    ax_learned, ax_exact = fig.subplots(1, 2, sharey=True)
    _heatmap(ax_learned, learned, "learned Q(s, a)", vmin, vmax,
             [[int(np.argmax(row))] for row in learned])
    image = _heatmap(ax_exact, exact, f"exact Q*(s, a), γ = {qstar.discount:g}", vmin, vmax,
                     [qstar.optimal_actions(s, tol=tol) for s in states])
    ax_learned.set_yticks(range(len(states)), names)
    ax_learned.set_ylabel(f"state s after {step} action(s)")
    fig.colorbar(image, ax=[ax_learned, ax_exact], shrink=0.8)
    return fig


def _name(state: Sequence[float], action_dim: int) -> str:
    one_hot = list(state[:action_dim])
    return f"s = {one_hot.index(1.0)}" if 1.0 in one_hot else "s = start"


def q_snapshots(history: Any, qstar: QStar, *, state: Sequence[float] | None = None, tol: float = 0.05) -> Figure:
    """How Q(s, a) of one probe state moved during training, with Q*(s, a) as dashed lines.

    Uses the snapshots of a history trained with ``probe_states``; ``state`` picks the row
    (default: the first probe state). The legend gives each Q*(s, a); where several actions'
    Q* agree within ``tol`` their dashed lines take turns, dash by dash, so none hides another.
    """
    if not history.snapshots or history.probe_states is None:
        raise ValueError("the history has no Q snapshots: train with probe_states=... and snapshot_every=N.")
    row = 0
    if state is not None:
        matches = np.flatnonzero(np.all(np.isclose(history.probe_states, np.asarray(state)), axis=1))
        if not len(matches):
            raise ValueError(f"state {list(state)} is not one of the probe states.")
        row = int(matches[0])
    games = [g for g, _ in history.snapshots]
    values = np.array([q[row] for _, q in history.snapshots])
    exact = qstar(history.probe_states[row])
    fig = Figure(figsize=(6.6, 3.2), layout="constrained")
    ax = fig.subplots()
    colors = {}
    for a in range(values.shape[1]):
        line, = ax.plot(games, values[:, a], label=f"Q(s, {a})")
        colors[a] = line.get_color()
    for group in _ties(exact, tol):
        # Equal Q* values would hide each other: the lines of a group take turns, dash by dash.
        k = len(group)
        for j, a in enumerate(group):
            dashes = (4.0 * j, (4.0, 4.0 * (k - 1))) if k > 1 else (0.0, (4.0, 3.0))
            ax.axhline(exact[a], color=colors[a], lw=1.2, ls=dashes, label=f"Q*(s, {a}) = {exact[a]:.1f}")
    lo, hi = float(min(values.min(), exact.min())), float(max(values.max(), exact.max()))
    pad = 0.08 * (hi - lo) or 1.0
    ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="game", ylabel="Q value", title="Q(s, ·) while learning (dashed: Q*)")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i].startswith("Q*"), labels[i]))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize="small", ncol=2, loc="lower right")
    return fig


def _ties(values: np.ndarray, tol: float) -> list[list[int]]:
    """The actions grouped by equal value (within ``tol``), each group in action order."""
    groups: list[list[int]] = []
    for a in np.argsort(values, kind="stable"):
        if groups and values[a] - values[groups[-1][-1]] <= tol:
            groups[-1].append(int(a))
        else:
            groups.append([int(a)])
    return [sorted(g) for g in groups]


def compare_runs(histories: Mapping[str, Any], qstar: QStar, *, window: int = 50,
                 optimal_return: float | None = None) -> Figure:
    """Several training runs side by side: the mean return over ``window`` games, and mean |Q − Q*|.

    ``histories`` maps a label to a :class:`tapelab.training.History`; the right panel uses each
    history's snapshots (the mean over its probe states of |Q(s, a) − Q*(s, a)|, log scale) and
    is left out when no history has any.
    """
    with_q = any(h.snapshots and h.probe_states is not None for h in histories.values())
    fig = Figure(figsize=(10 if with_q else 6, 3.8), layout="constrained")
    axes = fig.subplots(1, 2 if with_q else 1)
    ax_return, ax_error = (axes if with_q else (axes, None))
    for label, history in histories.items():
        games = np.arange(1, len(history.returns) + 1)
        line, = ax_return.plot(games, moving_average(history.returns, window), label=label)
        if ax_error is not None and history.snapshots and history.probe_states is not None:
            exact = np.array([qstar(s) for s in history.probe_states])
            error = [float(np.mean(np.abs(np.asarray(q) - exact))) for _, q in history.snapshots]
            ax_error.plot([g for g, _ in history.snapshots], error, color=line.get_color(), marker=".", label=label)
    if optimal_return is not None:
        ax_return.axhline(optimal_return, color="black", ls="--", lw=1, label="optimal policy")
    ax_return.set(xlabel="game", ylabel="return Σ r", title=f"Return per game (mean of {window})")
    handles, labels = ax_return.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize="small", frameon=False)
    if ax_error is not None:
        ax_error.set(xlabel="game", ylabel="mean |Q(s, a) − Q*(s, a)|", yscale="log",
                     title="Distance to Q* over the probe states")
    return fig
