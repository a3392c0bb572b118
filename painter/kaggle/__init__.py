"""The Kaggle notebook: painter embedded in it, kernel-metadata.json, build and check."""
