"""The parts of :class:`~voicewire.testing.FakeRealtimeServer`, one concern per module.

``base`` (connection state, sending), ``handshake``, ``session``, ``items``, ``input_audio``
(buffer, energy VAD, commits) and ``responses``. The wire JSON here is written by hand, apart
from voicewire's codec, on purpose: the fake server is the oracle the codec is tested against.
"""
