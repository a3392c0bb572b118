"""`python -m painter serve`: a web page and an HTTP API that paint uploaded photos.

- `painters`: painter files (a workdir or a .keras generator) loaded, checked and wrapped so that
  each paints one photo at a time, in order of arrival; uploads decoded and size-capped.
- `app`: the Gradio page and the plain HTTP API (`POST /paint`, `GET /painters`) on one FastAPI
  app, and the uvicorn server that runs it.
- `commands`: the `serve` verb.

Gradio, FastAPI and uvicorn (the optional extra `painter[serve]`) are imported only by `app`, and
Keras only after the runtime is selected, so the rest of painter never needs them.
"""
