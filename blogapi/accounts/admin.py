"""Admin for users (Django's stock user admin on our model)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from blogapi.accounts.models import User

admin.site.register(User, UserAdmin)
