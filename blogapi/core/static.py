"""Static files (STATIC_ROOT, filled by collectstatic) served by WhiteNoise from the app itself."""

import logging
import os
from typing import Any, ClassVar

from whitenoise.middleware import WhiteNoiseMiddleware

logger = logging.getLogger(__name__)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware, reading each static directory once per process, not per instance.

    Django builds one middleware chain per handler, but the test client builds one per client:
    WhiteNoise would re-read collectstatic's few hundred files every time (~20 ms), or warn every
    time that STATIC_ROOT is missing. As with WhiteNoise, new files need a restart.
    """

    _indexes: ClassVar[dict[tuple[str, str | None], dict[str, Any]]] = {}

    def add_files(self, root: str, prefix: str | None = None) -> None:
        if self.autorefresh:
            super().add_files(root, prefix)
            return
        key = (os.path.abspath(root), prefix)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            if os.path.isdir(root):
                known = set(self.files)
                super().add_files(root, prefix)
                index = {url: file for url, file in self.files.items() if url not in known}
            else:
                logger.warning("no static files: %s is missing (run collectstatic)", root)
            self._indexes[key] = index
        self.files.update(index)
