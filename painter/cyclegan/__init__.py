"""CycleGAN: the objective (losses, shared by both backends), the model and its train_step, the
image pool and the learning-rate schedule. Imports Keras: load after
`painter.runtime.select_runtime()`."""
