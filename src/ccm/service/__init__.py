"""The risk service: a FastAPI shell over the CoverageEngine (``create_app(settings)``)."""

from ccm.service.app import create_app
from ccm.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
