"""botapi_emulator package."""
