"""bimsim: a Brian2 simulator of Bio-Inspired Mamba (BIM).

Spiking neurons and plasticity rules are Brian2 equations, generated to C++ (Cython runtime or
``cpp_standalone``) and CUDA (``cuda_standalone``); every run saves a labelled
:class:`xarray.Dataset` with units and provenance.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
