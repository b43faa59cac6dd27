"""The project's user model, custom from the first migration so it can grow without pain."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A blog author or reader; authentication data lives in allauth and the token tables."""
