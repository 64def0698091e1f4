"""Public, non-guessable references such as EBZ-ORD-7K3Q-9XMP.

Crockford's base-32 alphabet (no I, L, O, U) keeps them easy to read aloud at
a counter. 8 random symbols give 40 bits: guessing one is hopeless, and the
unique constraint on each reference column catches the rare collision.
"""

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(kind: str, groups: int = 2, size: int = 4) -> str:
    body = "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))
    return f"EBZ-{kind}-{body}"
