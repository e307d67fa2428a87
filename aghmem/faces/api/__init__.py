"""The native HTTP API, one module per area; the app is in faces/app.py."""
