"""Grading a class: jobs, the sandbox around student kernels, input and tamper checks.

The pipeline (``make grade``, ``make demo``), one idea per module:

- :mod:`~tapelab.grading.collect`  submissions from a folder or an LMS zip
- :mod:`~tapelab.grading.results`  what a job is given and gives back (JobSpec, JobResult, CellScore)
- :mod:`~tapelab.grading.jobs`     one (student, assignment) graded by nbgrader in private
- :mod:`~tapelab.grading.runner`   the grading process of one job; :mod:`~tapelab.grading.zygote` forks it;
  :mod:`~tapelab.grading.schema` stamps its gradebook, :mod:`~tapelab.grading.templates` renders its feedback
- :mod:`~tapelab.grading.cluster`  the jobs on dask.distributed (LocalCluster or a scheduler address)
- :mod:`~tapelab.grading.gradebook` results merged into the course gradebook, CSV export
- :mod:`~tapelab.grading.cache`    results by content hash, so a rerun grades only what changed
- :mod:`~tapelab.grading.driver`   :func:`~tapelab.grading.driver.grade_class`, all of the above in order
- :mod:`~tapelab.grading.summary`, :mod:`~tapelab.grading.cli`  the table and the command line
  (``python -m tapelab.grading --course DIR SUBMISSIONS``, any nbgrader course)
- :mod:`~tapelab.grading.lms`      the grades as Canvas and Moodle import CSVs
- :mod:`~tapelab.grading.report`   the class report (:mod:`~tapelab.grading.report_html` renders it), from
  the gradebook and :mod:`~tapelab.grading.findings` (what grading found beyond the points)
- :mod:`~tapelab.grading.similarity` similar submissions, from :mod:`~tapelab.grading.answer_cells`
- :mod:`~tapelab.grading.provenance` the kit's version and pins, compared on every worker
- :mod:`~tapelab.grading.containment` where jobs call :mod:`~tapelab.grading.sandbox` (the checks,
  the config; :mod:`~tapelab.grading.bwrap` builds the kernel's command line),
  :mod:`~tapelab.grading.intake` and :mod:`~tapelab.grading.integrity`
- :mod:`~tapelab.grading.limits`   what a kernel may use (CPU seconds, memory), the stop messages
- :mod:`~tapelab.grading.budget`   nbgrader's Execute with those budgets;
  :mod:`~tapelab.grading.kernel` the provisioner of its sandboxed kernels, watched by
  :mod:`~tapelab.grading.watchdog`; :mod:`~tapelab.grading.output_cap` cuts a flood of prints in the
  kernel; :mod:`~tapelab.grading.processes` finds and kills process trees
- :mod:`~tapelab.grading.trusted` (with :mod:`~tapelab.grading.exact`) the comparisons test cells use,
  safe from what a student cell rebinds; :mod:`~tapelab.grading.hidden_tests` keeps hidden tests out of
  the feedback

Importing this package imports nothing heavy; import the module you need.
"""
