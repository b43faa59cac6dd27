"""Password hashing: Argon2id at OWASP's recommended minimum cost."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id with m = 19 MiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet).

    Django's default (m = 100 MiB, p = 8) costs several times more CPU per login for no gain an
    offline attacker cannot buy back; these parameters keep login fast enough to serve while
    staying memory-hard. Hashes with other parameters (or PBKDF2) are upgraded at next login.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
