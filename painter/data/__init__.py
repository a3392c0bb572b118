"""Training data: find sources (`sources`), read TFRecords and image folders with named errors
(`records` checks every record, `reader` decodes; `images`), write the competition's TFRecords
(`tfrecord`), augment (`augment`) and build the `(real_photo, real_monet)` training dataset
(`pipeline`, over images decoded once into `cache`); `inspect` and `preview` back the
`painter data` command line. Importing this package loads neither TensorFlow nor Keras.
"""
