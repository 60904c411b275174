"""cti: Asterisk computer-telephony integration."""

__version__ = "0.1.0"
