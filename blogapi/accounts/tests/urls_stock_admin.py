"""A URLconf with Django's stock admin only: the oracle for pages we route ahead of it."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
