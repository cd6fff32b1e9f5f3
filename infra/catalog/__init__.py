"""The app catalog: ``apps/<name>/app.yaml`` loaded into validated, typed models (pure)."""

from infra.catalog.loader import Catalog, load_catalog
from infra.catalog.models import App, AppDefinition

__all__ = ["App", "AppDefinition", "Catalog", "load_catalog"]
