"""The pure domain core: no I/O, no clock, stdlib and phonenumbers only."""
