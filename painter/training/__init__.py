"""Training runs: `train(config, workdir)` (train.py; the `fit()` part in fit.py), checkpoints
(checkpoint.py), the Keras callbacks of a run (callbacks.py), the session's time budget
(budget.py) and the demo's generated data (synthetic.py; the demo itself is `painter.demo.run`,
above training and submission). Importing this package loads no Keras: `train()` selects the
runtime first."""
