"""Benchmark tasks: ``python -m bimsim.tasks.ecg``, ``.eeg``, ``.speech``, ``.lm``.

Each task module holds only its data adapter, split and scoring (a
:class:`~bimsim.tasks.runner.TaskData`) and its command
(:class:`~bimsim.tasks.command.TaskCommand`); the runner (:mod:`bimsim.tasks.runner`) trains and
scores the models asked for (:data:`bimsim.tasks.models.DEFAULT_MODELS`: BIM, the BPTT baselines,
the non-neural floor; BIM's ablation rows on request) on every fold and seed, with the settings
of :mod:`bimsim.tasks.config`.
"""
