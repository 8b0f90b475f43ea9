"""`make demo` before grading exists: the chain-rule check and a Jacobian."""
