"""Training runs: `train(config, workdir)` (train.py), checkpoints (checkpoint.py), the Keras
callbacks of a run (callbacks.py), the session's time budget (budget.py), the demo (demo.py) and
its generated data (synthetic.py). Importing this package loads no Keras: `train()` selects the
runtime first."""
