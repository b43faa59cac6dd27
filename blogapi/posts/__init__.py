"""The blog: posts, their selectors, permissions, serializers and views."""
