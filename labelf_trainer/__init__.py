"""labelf-trainer: self-hosted active-learning labeling and training for text classification."""

from .config import ProjectConfig, load_config
from .exceptions import LabelfError
from .project import Project
from .registry import ModelRegistry
from .store import Workspace

__version__ = "0.1.0"
__all__ = ["ProjectConfig", "load_config", "LabelfError", "Project", "ModelRegistry", "Workspace", "__version__"]
