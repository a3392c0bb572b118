"""The submission: images.zip written fast and validated, and stylizing photos of any size.

- `writer.write_submission(generator, photos, out_path, ...)`: batched, replicated inference,
  parallel JPEG encoding, streamed into a zip written atomically; `estimate_submission_seconds`.
- `validate.validate_submission(path)`: the competition's rules (no Keras, no TensorFlow).
- `stylize.stylize(generator, image_paths, out_dir)`: any size, aspect, orientation and mode.
- `commands`: the `submit`, `validate` and `stylize` verbs.
"""
