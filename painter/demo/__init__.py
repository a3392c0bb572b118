"""The demo (`python -m painter demo`, `make demo`): the whole job in a few minutes on a CPU.

`run.run_demo(workdir, ...)`: generated data, a short training run under a time budget, a
validated images.zip. It sits above training and submission (it uses both); `commands` registers
the verb.
"""
