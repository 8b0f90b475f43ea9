"""Grading a class: jobs, the sandbox around student kernels, input and tamper checks."""
