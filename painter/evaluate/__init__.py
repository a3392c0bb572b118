"""Evaluation as Kaggle scores "I'm Something of a Painter Myself": FID and MiFID.

- `mifid`: the formula from feature arrays (`mifid_from_features`, no Keras) and
`evaluate(generated,
  real)` from image paths.
- `features`: Inception-v3 pool features (Keras' ImageNet weights; never random ones) or any Keras
  model.
- `images`: reading images.zip, image folders and TFRecords one image at a time.
- `commands`: `python -m painter evaluate`.
"""
