"""Post routes; pk is an integer so no other /api/v1/ route can ever be swallowed."""

from django.urls import path

from blogapi.posts import views

app_name = "posts"

urlpatterns = [
    path("", views.PostListCreateView.as_view(), name="post-list"),
    path("<int:pk>/", views.PostDetailView.as_view(), name="post-detail"),
]
