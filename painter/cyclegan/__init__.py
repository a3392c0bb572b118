"""CycleGAN: the objective (losses, shared by both backends), the model (model.py) with its train
step (step.py, run by step_tensorflow.py or step_jax.py) and checkpoint state (state.py), the
image pool, DiffAugment, the running averages and the learning-rate schedule. Imports Keras: load
after `painter.runtime.select_runtime()`."""
