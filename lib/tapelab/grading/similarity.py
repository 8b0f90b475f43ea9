"""Similar submissions: the answer cells of every pair of students, compared with copydetect's fingerprints.

Only answer cells are compared (nbgrader solution cells, matched by ``grade_id``); the
rest of a notebook is the instructor's. A pair of students is listed for an assignment when

1. **their notebooks are byte-identical** and hold an answer (some answer cell is not
   the release's starter code). Identical files, outputs and execution counts included,
   do not come from two people working on their own; or
2. **the code they wrote themselves overlaps.** Each answer cell is tokenized and
   fingerprinted with copydetect (names become ``V``/``F``/``O``, strings ``S``, spaces
   and comments go, so renaming or reformatting hides nothing; a fingerprint is a hash
   of k = 25 consecutive characters of that text). Fingerprints of the release's
   starter code and of the instructor's solution of that cell are left out as
   boilerplate, and so are fingerprints that more than ``common`` students share (an
   idiom of the course, as MOSS's ``-m``). What remains is each student's *own code*:
   the runs of text their remaining fingerprints cover, less the k − 1 characters a
   fingerprint reaches into the starter or solution code on each side of a run. The pair
   is listed when they share at least ``min_shared`` characters of own code and that is
   at least ``threshold`` of either student's own code.

So two students who both write the instructor's solution, or who make the same
one-line slip in it, are not listed: a correct answer written alone is often the
solution itself, and common slips are common. What is listed is code beyond the
solution that two students have in common, and identical files. A listing is a reason
to look at the two notebooks side by side, not a finding of misconduct.

The tokenized answers come from :mod:`tapelab.grading.answer_cells`; the fingerprints
(k-gram hashes, winnowed) and the overlap of two cells are copydetect's fingerprinting
functions (``hashed_kgrams``, ``winnow``, ``find_fingerprint_overlap``,
``get_copied_slices``), and boilerplate is left out as its ``get_document_fingerprints``
does. Only students who share enough fingerprints that are no idiom are compared, so a
class of n students costs far less than n² comparisons.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import defaults
from copydetect.utils import find_fingerprint_overlap, get_copied_slices, hashed_kgrams, winnow

from tapelab.grading.answer_cells import Answer, Answers, code_cells, tokenize

#: characters of tokenized code per fingerprint (copydetect's noise threshold).
K = defaults.NOISE_THRESHOLD
#: copydetect's winnowing window for that guarantee (1: every fingerprint is kept).
WINDOW = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1
Slices = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Settings:
    """The rule's numbers (see the module docstring).

    threshold: shared own code over either student's own code.
    min_shared: characters of tokenized own code the two must share.
    common: a fingerprint more students than this share is an idiom, not evidence.
    """

    threshold: float = 0.5
    min_shared: int = 40
    common: int = 10


@dataclass(frozen=True)
class CellMatch:
    """One answer cell of a listed pair: both students' code and the spans they share (raw offsets)."""

    notebook: str
    grade_id: str
    left: str
    right: str
    left_spans: Slices
    right_spans: Slices
    shared: int


@dataclass
class Pair:
    """Two students whose answers to one assignment are listed, `a` < `b`."""

    assignment: str
    a: str
    b: str
    identical: bool
    similarity: float
    shared: int
    cells: list[CellMatch] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    """What every student gets or may write without copying: the starter code and the solution of a cell."""

    starter: str
    solution: str


@dataclass
class _Print:
    """copydetect's fingerprints of one answer cell: hash -> positions in the tokenized text, without boilerplate."""

    answer: Answer
    idx: dict[int, list[int]]

    @classmethod
    def of(cls, answer: Answer, boilerplate: set[int]) -> _Print:
        """copydetect's k-gram hashes of the tokenized cell, winnowed, those in `boilerplate` left out
        (as ``get_document_fingerprints`` does, every occurrence)."""
        idx: dict[int, list[int]] = {}
        if len(answer.filtered) >= K:
            hashes, positions = winnow(hashed_kgrams(answer.filtered, K), WINDOW, remove_duplicates=False)
            for h, i in zip(hashes.tolist(), positions.tolist()):
                if h not in boilerplate:
                    idx.setdefault(h, []).append(i)
        return cls(answer, idx)

    def own(self, leave_out: set[int]) -> int:
        """Characters of own code: the runs the fingerprints cover, each less 2(k − 1)."""
        positions = [i for h, where in self.idx.items() if h not in leave_out for i in where]
        return _own(get_copied_slices(np.array(positions, dtype=int), K)) if positions else 0

    def spans(self, runs: np.ndarray) -> Slices:
        """Runs in the tokenized text as spans of the student's code (as copydetect's compare_files maps them)."""
        if runs.size == 0:
            return ()
        offsets = np.array(self.answer.offsets)
        if offsets.size:
            runs = runs + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], runs), 0, len(offsets) - 1)]
        return tuple((int(s), int(e)) for s, e in zip(*runs))


def _hashes(code: str) -> set[int]:
    """Every fingerprint of `code` (window 1, as copydetect fingerprints its boilerplate)."""
    return set(hashed_kgrams(tokenize(code).filtered, K).astype(np.int64).tolist())


def _own(runs: np.ndarray) -> int:
    """Characters of own code in runs (2 × N starts, ends) of fingerprints: each run less 2(k − 1)."""
    if runs.size == 0:
        return 0
    return int(np.maximum(0, runs[1] - runs[0] - 2 * (K - 1)).sum())


def find_pairs(assignment: str, submissions: Mapping[str, Answers],
               references: Mapping[str, Mapping[str, Reference]], settings: Settings = Settings()) -> list[Pair]:
    """The listed pairs of one assignment, most similar first.

    `submissions`: student -> their tokenized answers (:func:`tapelab.grading.answer_cells.of_files`);
    `references`: notebook file name -> grade_id -> :class:`Reference`.
    """
    cells = {student: {w: a for w, a in found.cells.items() if w[1] in references.get(w[0], {})}
             for student, found in submissions.items()}
    boiler = {(name, gid): _hashes(ref.starter) | _hashes(ref.solution)
              for name, refs in references.items() for gid, ref in refs.items()}
    memo: dict[tuple[tuple[str, str], str], _Print] = {}
    by_cell: dict[tuple[str, str], dict[str, _Print]] = defaultdict(dict)
    for student, mine in cells.items():
        for where, answer in mine.items():
            if (where, answer.code) not in memo:
                memo[(where, answer.code)] = _Print.of(answer, boiler[where])
            by_cell[where][student] = memo[(where, answer.code)]
    pairs = _identical(assignment, submissions, cells, references)
    listed = {(p.a, p.b) for p in pairs}
    return sorted(pairs + [p for p in _overlapping(assignment, by_cell, settings) if (p.a, p.b) not in listed],
                  key=lambda p: (not p.identical, -p.similarity, p.a, p.b))


def _identical(assignment: str, submissions: Mapping[str, Answers], cells: dict[str, dict[tuple[str, str], Answer]],
               references) -> list[Pair]:
    groups: dict[str, list[str]] = defaultdict(list)
    for student, found in submissions.items():
        groups[found.digest].append(student)
    pairs = []
    for students in groups.values():
        students = sorted(students)
        answered = {w: a.code for w, a in cells[students[0]].items()
                    if a.code.strip() != references[w[0]][w[1]].starter.strip()}
        if len(students) < 2 or not answered:
            continue
        matches = [CellMatch(nb, gid, code, code, (), (), len(code)) for (nb, gid), code in sorted(answered.items())]
        for i, a in enumerate(students):
            for b in students[i + 1:]:
                pairs.append(Pair(assignment, a, b, True, 1.0, sum(m.shared for m in matches), matches))
    return pairs


def _overlapping(assignment: str, by_cell: dict[tuple[str, str], dict[str, _Print]],
                 settings: Settings) -> list[Pair]:
    """Pairs whose own code overlaps. Only pairs that share enough fingerprints that are no idiom are
    compared: a run of m fingerprints (k − 1 apart at most) covers at most (m − 1)(k − 1) − k + 2
    characters of own code, so a pair needs ``1 + ⌈(min_shared + k − 2) / (k − 1)⌉`` of them."""
    needed = 1 + math.ceil((settings.min_shared + K - 2) / (K - 1))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    cells: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    own: dict[str, int] = defaultdict(int)
    kept: dict[tuple[tuple[str, str], str], set[int]] = {}
    for where, prints in by_cell.items():
        common = _shared_fingerprints(prints, settings.common, counts, cells, where)
        mine: dict[int, tuple[int, set[int]]] = {}
        for student, fp in prints.items():
            if id(fp) not in mine:
                mine[id(fp)] = (fp.own(common), fp.idx.keys() - common)
            own[student] += mine[id(fp)][0]
            kept[(where, student)] = mine[id(fp)][1]
    pairs = []
    for (a, b), count in sorted(counts.items()):
        if count < needed or min(own[a], own[b]) == 0:
            continue
        matches = []
        for where in sorted(cells[(a, b)]):
            fa, fb = by_cell[where][a], by_cell[where][b]
            overlap_a, overlap_b = find_fingerprint_overlap(kept[(where, a)], kept[(where, b)], fa.idx, fb.idx)
            runs_a = get_copied_slices(overlap_a, K)
            shared = _own(runs_a)
            if shared:
                matches.append(CellMatch(where[0], where[1], fa.answer.code, fb.answer.code, fa.spans(runs_a),
                                         fb.spans(get_copied_slices(overlap_b, K)), shared))
        shared = sum(m.shared for m in matches)
        similarity = max(shared / own[a], shared / own[b])
        if shared >= settings.min_shared and similarity >= settings.threshold:
            pairs.append(Pair(assignment, a, b, False, min(1.0, similarity), shared, matches))
    return pairs


def _shared_fingerprints(prints: dict[str, _Print], most: int, counts: dict, cells: dict, where) -> set[int]:
    """The fingerprints of one cell more than `most` students share (returned), and for every pair of
    students who share others: `counts[pair]` += their positions, `cells[pair]` += [where]."""
    groups: dict[int, tuple[_Print, list[str]]] = {}
    for student, fp in prints.items():  # students who wrote the same code share one _Print
        groups.setdefault(id(fp), (fp, []))[1].append(student)
    fps = list(groups.values())
    sizes = [len(fp.idx) for fp, _ in fps]
    hashes = np.fromiter(itertools.chain.from_iterable(fp.idx for fp, _ in fps), dtype=np.int64, count=sum(sizes))
    positions = np.fromiter((len(w) for fp, _ in fps for w in fp.idx.values()), dtype=np.int64, count=sum(sizes))
    owner = np.repeat(np.arange(len(fps)), sizes)
    unique, inverse = np.unique(hashes, return_inverse=True)
    holders = np.bincount(inverse, weights=np.array([len(students) for _, students in fps])[owner])
    common = set(unique[holders > most].tolist())
    shared = np.flatnonzero((holders[inverse] > 1) & (holders[inverse] <= most))
    touched = set()
    for group in np.split(shared[np.argsort(inverse[shared], kind="stable")],
                          np.flatnonzero(np.diff(np.sort(inverse[shared]))) + 1) if shared.size else []:
        held = sorted((student, int(positions[i])) for i in group for student in fps[owner[i]][1])
        for (a, n), (b, m) in itertools.combinations(held, 2):
            counts[(a, b)] += max(n, m)
            touched.add((a, b))
    for pair in touched:
        cells[pair].append(where)
    return common


def references(source: Path, release: Path | None, config: dict | None = None) -> dict[str, Reference]:
    """grade_id -> :class:`Reference` of one notebook: the solution from `source` (its
    ``BEGIN/END SOLUTION`` marker lines removed), the starter code from `release`, or, where
    there is no release notebook, from the source with nbgrader's ClearSolutions (as
    ``nbgrader generate_assignment`` makes the release)."""
    solutions = {gid: "\n".join(line for line in code.splitlines()
                                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
                 for gid, code in (code_cells(Path(source).read_bytes()) or {}).items()}
    if release is not None and Path(release).is_file():
        starters = code_cells(Path(release).read_bytes()) or {}
    else:
        starters = _cleared(Path(source), config or {})
    return {gid: Reference(starters.get(gid, ""), code) for gid, code in solutions.items()}


def _cleared(source: Path, config: dict) -> dict[str, str]:
    import nbformat
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    nb = nbformat.read(source, as_version=4)
    nb, _ = ClearSolutions(config=Config({k: v for k, v in config.items() if isinstance(v, dict)})).preprocess(nb, {})
    return code_cells(nbformat.writes(nb).encode()) or {}
