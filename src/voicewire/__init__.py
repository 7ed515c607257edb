"""voicewire."""
