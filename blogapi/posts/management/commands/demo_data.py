"""`manage.py demo_data --posts N --username U --password P`: exactly N posts by U (demo, bench)."""

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from blogapi.posts.services import demo_posts_ensure, demo_user_ensure


class Command(BaseCommand):
    help = "Leave exactly N posts by a user, creating the user (verified e-mail) if missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--posts", type=int, default=50, help="Posts the user ends up with.")
        parser.add_argument("--username", default="demo")
        parser.add_argument(
            "--password",
            help="Required to create the user; an existing user's password is never changed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["posts"] < 0:
            raise CommandError("--posts must be zero or more.")
        started = time.monotonic()
        try:
            user, created = demo_user_ensure(
                username=options["username"], password=options["password"]
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        change = demo_posts_ensure(user=user, count=options["posts"])
        self.stdout.write(
            f"{'Created' if created else 'Kept'} user {user.username!r}; "
            f"{options['posts']} post(s) ({change:+d}) in {time.monotonic() - started:.1f} s."
        )
