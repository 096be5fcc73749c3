"""Provenance: every video OpenReel writes says, verifiably, that it is AI-generated.

- `watermark`: an invisible 48-bit mark in every frame (generator id + content id) that survives
  H.264 re-encoding, rescaling, cropping and trimming.
- `c2pa_sign`: a C2PA manifest (c2pa.created, trainedAlgorithmicMedia, generator assertion) signed
  with a local identity (`identity`) or the operator's own certificate chain.
- `stamp`: what `Video.save` calls: watermark the frames, sign the MP4, keep a local record.
- `verify`: `verify_file(path) -> VerifyReport`, behind `openreel verify` and `POST /v1/verify`.
- `policy`: the prompt policy checked before any generation.
- `transcode`: ffmpeg-like re-encoding through PyAV (scale, crop, trim, CRF) to test the mark.

Submodules are imported on use: `import openreel.provenance` pulls in neither c2pa nor numpy.
"""
