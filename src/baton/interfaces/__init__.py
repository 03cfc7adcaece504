"""The interfaces layer: doors into the board — today the command line. A door
translates between its medium and Board calls; it decides nothing.

May import: every layer below.
"""
