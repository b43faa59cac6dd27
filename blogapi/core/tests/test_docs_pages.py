"""Swagger UI and Redoc: served from the app's own static files, every script loaded from here."""

from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

SWAGGER = "/api/schema/swagger-ui/"
REDOC = "/api/schema/redoc/"
DOCS_PAGES = [SWAGGER, REDOC]


class Resources(HTMLParser):
    """The URLs a page loads (scripts, stylesheets, icons) and its inline scripts' types."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.icons: list[str] = []
        self.inline_script_types: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and "src" in values:
            self.scripts.append(values["src"])
        elif tag == "script":
            self.inline_script_types.append(values.get("type", "text/javascript"))
        elif tag == "link" and "stylesheet" in values.get("rel", ""):
            self.styles.append(values["href"])
        elif tag == "link" and "icon" in values.get("rel", ""):
            self.icons.append(values["href"])


def resources_of(html: bytes) -> Resources:
    parser = Resources()
    parser.feed(html.decode())
    return parser


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """STATIC_ROOT filled by collectstatic, as `make serve` does before starting gunicorn."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=str(root)):
        call_command("collectstatic", "--noinput", "--no-post-process", verbosity=0)
    return root


@pytest.fixture(params=["make serve", "make run"])
def static_serving(request: pytest.FixtureRequest, settings: Any) -> str:
    """Static files as `make serve` (collected, DEBUG off) or `make run` (finders, DEBUG on)."""
    if request.param == "make serve":
        settings.STATIC_ROOT = str(request.getfixturevalue("collected_static"))
    else:
        settings.DEBUG = True
    return str(request.param)


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_pages_reference_no_other_origin(client: Client, path: str) -> None:
    page = client.get(path)

    assert page.status_code == 200
    found = resources_of(page.content)
    loaded = found.scripts + found.styles + found.icons
    assert found.scripts
    assert [url for url in loaded if urlsplit(url).scheme or urlsplit(url).netloc] == []
    assert b"https://" not in page.content
    assert b"http://" not in page.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_pages_run_no_inline_script(client: Client, path: str) -> None:
    # `script-src 'self'` would block an inline script: the page would stay blank.
    found = resources_of(client.get(path).content)

    assert found.inline_script_types == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS_PAGES)
def test_every_script_style_and_icon_of_the_docs_pages_is_served_by_the_app(
    static_serving: str, path: str
) -> None:
    client = Client()
    found = resources_of(client.get(path).content)

    expected_types = [
        *(("javascript", url) for url in found.scripts),
        *(("text/css", url) for url in found.styles),
        *(("image/png", url) for url in found.icons),
    ]
    assert expected_types
    for content_type, url in expected_types:
        response = client.get(url)
        assert response.status_code == 200, f"{url} under {static_serving}"
        assert content_type in response["Content-Type"], url


@pytest.mark.django_db
def test_swagger_ui_init_script_is_a_file_naming_our_schema(client: Client) -> None:
    scripts = resources_of(client.get(SWAGGER).content).scripts
    init = [url for url in scripts if url.startswith(SWAGGER)]

    assert len(init) == 1
    response = client.get(init[0])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert "SwaggerUIBundle(" in body
    assert 'url: "/api/schema/"' in body
