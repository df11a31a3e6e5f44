"""Differentiable primitives: each op's forward and backward sit side by side."""
