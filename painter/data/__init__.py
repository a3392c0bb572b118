"""Training data: find sources (`sources`), read TFRecords and image folders with named errors
(`reader`, `images`), write the competition's TFRecords (`tfrecord`), augment (`augment`) and build
the `(real_photo, real_monet)` training dataset (`pipeline`); `inspect` and `preview` back the
`painter data` command line. Importing this package loads neither TensorFlow nor Keras.
"""
