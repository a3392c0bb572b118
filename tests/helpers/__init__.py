"""Helpers shared by the tests (and their subprocesses)."""

# The tests' networks are tiny, so XLA:CPU spends far longer optimising each compiled kernel with
# LLVM than running it: at level 0 the JAX tests of test_recipes.py and test_keras_registration.py
# took 299 s instead of 435 s (building the smoke generator eagerly: 7.7 s instead of 38 s), with
# the same results (the equivalence test's tolerances hold). Never for benchmarks or training.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def xla_flags(host_devices: int) -> str:
    """XLA_FLAGS for a test process: `host_devices` CPU devices, quick compiles."""
    return f"--xla_force_host_platform_device_count={host_devices} {TEST_XLA_FLAGS}"
