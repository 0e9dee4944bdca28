"""Backend for Deepgram's speech API: text-to-speech (`POST /v1/speak`) and speech-to-text
(`POST /v1/listen`), the service's `tts` and `stt` families."""
