"""`python -m painter serve`: a web page and an HTTP API that paint uploaded photos.

- `uploads`: upload bytes decoded as a viewer shows them, size-capped; UploadError (HTTP status).
- `worker`: a Painter, one generator painting one photo at a time, in order of arrival.
- `painters`: painter files (a workdir or a .keras generator) found, loaded, checked, chosen.
- `app`: the plain HTTP API (`POST /paint`, `GET /painters`) on a FastAPI app, with
- `page`: the Gradio page mounted at "/", and
- `server`: the uvicorn server that runs the app (`net`: its socket).
- `commands`: the `serve` verb.

Gradio, FastAPI and uvicorn (the optional extra `painter[serve]`) are imported only by `app`,
`page` and `server`, and Keras only after the runtime is selected, so the rest of painter never
needs them.
"""
