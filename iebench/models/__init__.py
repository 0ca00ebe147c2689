"""Backbones shared by training, the harness and the baselines."""
