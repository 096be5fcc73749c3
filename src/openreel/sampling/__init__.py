"""Sampling: noise schedule, ODE solvers, and the numbered sampling loop."""
