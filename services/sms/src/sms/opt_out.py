"""Opt-out and opt-in keywords of an inbound reply (STOP, START...)."""

from __future__ import annotations

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})


def keyword_of(body: str) -> str | None:
    """The opt-out / opt-in keyword an inbound reply consists of, if any ("stop" -> "STOP")."""
    words = body.strip().split()
    if len(words) != 1:
        return None
    word = words[0].strip(".!").upper()
    return word if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS else None
