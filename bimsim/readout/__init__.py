"""Readouts: the selective state-space model and its exact online gradients."""

from bimsim.readout.selective_ssm import SelectiveSSM, SSMParameters

__all__ = ["SSMParameters", "SelectiveSSM"]
