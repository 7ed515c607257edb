"""Tests of voicewire.channels.telephony: the sans-I/O telephony wire (marks, Twilio media)."""
