"""Tests of voicewire.testing: the fakes, scripted model, fault proxy and validators."""
