"""Backend for fal.ai's model APIs (`POST https://fal.run/<app id>`): the catalogue's image and 3D
models that fal hosts, as the media family `image`."""
