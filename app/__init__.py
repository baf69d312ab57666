"""gradserve's HTTP service: FastAPI routes over the `engine` autograd library."""

__version__ = "0.1.0"
